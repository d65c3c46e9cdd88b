"""Live view plumbing: the acquisition side publishes blocks over UDP on loopback; the dashboard keeps the
last seconds in fixed-size ring buffers and detects reps as they happen. See ``dashboard/LIVE.md``.

Why UDP on 127.0.0.1: the recorder must never block or slow down because nobody is watching (a datagram
to a closed port is simply dropped), nothing grows on disk, and a dashboard started mid-session picks up
at the next block. Losses are visible: every block carries its first sample index.
"""

from __future__ import annotations

import collections
import json
import math
import os
import socket
import threading
import time

import numpy as np

DEFAULT_PORT = 8051
PROTOCOL_VERSION = 1
MAX_DATAGRAM = 60_000
WINDOW_S = 10.0  # seconds of rolling traces kept per channel
BASELINE_S = 2.0  # rest at the start of a session: the onset threshold's baseline (Hodges & Bui 1996)
H_SD = 3.0  # threshold = baseline mean + h·SD (Hodges & Bui 1996)
MIN_ON_MS = 25.0  # above threshold this long to count as an onset
MIN_OFF_MS = 100.0  # below threshold this long to end a burst
RMS_MS = 100.0  # causal moving RMS for the envelope and the biofeedback gauge


def live_port() -> int:
    return int(os.environ.get("REENGAGE_LIVE_PORT") or DEFAULT_PORT)


# ------------------------------------------------------------------------------------- publisher

class LivePublisher:
    """Sends blocks, events and status to the dashboard. Never blocks, never raises on a missing listener.

    Also usable as a pipeline sink (``handle(item)`` / ``close()``) once ``channels`` is known.
    """

    def __init__(self, port: int | None = None, *, session: str = "", channels: list[dict] | None = None,
                 fs_hz: float | None = None) -> None:
        self.addr = ("127.0.0.1", port or live_port())
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.session = session
        self.channels = channels or []
        self.fs_hz = fs_hz
        self.sent = 0
        self.dropped = 0
        self._status: dict | None = None
        self._status_sent = 0.0

    def _send(self, msg: dict) -> None:
        msg["v"] = PROTOCOL_VERSION
        msg.setdefault("session", self.session)
        payload = json.dumps(msg, separators=(",", ":"), allow_nan=False).encode()
        try:
            self.sock.sendto(payload, self.addr)
            self.sent += 1
        except OSError:  # no listener (ECONNREFUSED on some kernels) or a full buffer: drop, never stall
            self.dropped += 1

    def status(self, state: str, **fields) -> None:
        """``state``: "recording", "replaying" or "stopped"; fields: subject, task, mvc {role: envelope units}."""
        self._status = {"type": "status", "state": state, "fs_hz": self.fs_hz, "channels": self.channels, **fields}
        self._status_sent = time.monotonic()
        self._send(dict(self._status))

    def block(self, start: int, data: np.ndarray, t_ns: int | None = None) -> None:
        """Samples (channels, n) in each channel's physical unit, first sample index ``start``; ``t_ns`` is
        ``time.time_ns()`` when the newest sample entered the pipeline (for the cue-latency measurement)."""
        data = np.asarray(data, dtype=np.float64)
        t_ns = t_ns or time.time_ns()
        if self._status and time.monotonic() - self._status_sent > 1.0:  # a dashboard opened mid-session
            self._status_sent = time.monotonic()
            self._send(dict(self._status))
        per = max(1, MAX_DATAGRAM // (12 * max(1, data.shape[0])))
        for a in range(0, data.shape[1], per):
            part = data[:, a : a + per]
            self._send({"type": "block", "stream": "emg", "fs_hz": self.fs_hz, "start": int(start + a),
                        "channels": self.channels, "t_ns": int(t_ns),
                        "data": [[round(float(v), 5) for v in row] for row in part]})

    def event(self, onset_s: float, duration_s: float, label: str) -> None:
        self._send({"type": "event", "onset_s": onset_s, "duration_s": duration_s, "label": label})

    # Sink protocol (reengage.acquisition.pipeline.Sink)
    def handle(self, item) -> None:
        from reengage.model import Block, Event

        if isinstance(item, Block) and item.stream == "emg":
            self.block(item.start, item.data, item.host_time_ns or None)
        elif isinstance(item, Event):
            self.event(item.onset_s, item.duration_s, item.label)

    def close(self) -> None:
        self.status("stopped")
        self.sock.close()


class LiveSink:
    """A pipeline sink (``reengage.acquisition.pipeline.Sink``) that publishes a stream's EMG blocks in
    physical units (each channel's scale and offset), its events, and a status; used by ``record``
    (state "recording") and ``replay`` (state "replaying"). Blocks are stamped with ``time.time_ns()`` as
    they leave the pipeline, the clock the dashboard measures sample-to-cue latency against."""

    def __init__(self, channels, fs_hz: float, *, session: str, state: str, subject=None, task=None,
                 port: int | None = None) -> None:
        self._scale = np.array([c.scale for c in channels], dtype=np.float64)[:, None]
        self._offset = np.array([c.offset for c in channels], dtype=np.float64)[:, None]
        self.pub = LivePublisher(port, session=session, fs_hz=fs_hz,
                                 channels=[{"name": c.name, "role": c.role, "unit": c.unit} for c in channels])
        self.pub.status(state, subject=subject, task=task)

    def handle(self, item) -> None:
        from reengage.model import Block, Event

        if isinstance(item, Block) and item.stream == "emg":
            self.pub.block(item.start, (item.data - self._offset) * self._scale, time.time_ns())
        elif isinstance(item, Event):
            self.pub.event(item.onset_s, item.duration_s, item.label)

    def close(self) -> None:
        self.pub.close()


def channels_for(stream) -> list[dict]:
    """The ``channels`` list of a :class:`reengage.model.Stream` as the live protocol describes them."""
    return [{"name": c.name, "role": c.role, "unit": c.unit} for c in stream.channels]


def replay_to_live(recording, *, port: int | None = None, speed: float = 1.0, block_ms: float = 50.0,
                   mvc: dict | None = None, stop: threading.Event | None = None) -> LivePublisher:
    """Stream a :class:`Recording`'s EMG to the dashboard in real time × ``speed`` (used by tests and by
    ``reengage replay`` when it has no pipeline of its own)."""
    emg = recording.emg
    pub = LivePublisher(port, session=str(recording.source), channels=channels_for(emg), fs_hz=emg.fs_hz)
    pub.status("replaying", subject=recording.meta.get("subject"), task=recording.meta.get("task"), mvc=mvc or {})
    phys = emg.physical()
    step = max(1, int(emg.fs_hz * block_ms / 1000.0))
    events = sorted(recording.events, key=lambda e: e.onset_s)
    t0 = time.monotonic()
    for a in range(0, phys.shape[1], step):
        if stop is not None and stop.is_set():
            break
        due = t0 + (a + step) / emg.fs_hz / speed
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        while events and events[0].onset_s * emg.fs_hz <= a + step:
            e = events.pop(0)
            pub.event(e.onset_s, e.duration_s, e.label)
        pub.block(a, phys[:, a : a + step])
    pub.close()
    return pub


# -------------------------------------------------------------------------------------- receiver

class _Channel:
    """One channel's fixed-size state: raw ring, envelope ring, causal high-pass and RMS state, onsets."""

    def __init__(self, name: str, role: str | None, fs: float, window_s: float) -> None:
        from scipy import signal

        self.name, self.role, self.fs = name, role, fs
        n = int(window_s * fs)
        self.raw = np.zeros(n, np.float32)
        self.env = np.zeros(n, np.float32)
        hi = min(450.0, 0.45 * fs)
        self.sos = signal.butter(4, [20.0, hi], btype="bandpass", fs=fs, output="sos")  # SENIAM band
        self.zi = signal.sosfilt_zi(self.sos) * 0.0
        self.dc = None
        self.rms_n = max(1, int(RMS_MS / 1000 * fs))
        self.sq_tail = np.zeros(0)
        self.base: list[float] = []
        self.thr = None
        self.active = False
        self.run = 0
        self.onset_index = None
        self.peak_env = 0.0

    def push(self, x: np.ndarray, start: int) -> list[tuple[str, int]]:
        """Filter, envelope and threshold new samples; returns ("onset"|"offset", sample index) events."""
        from scipy import signal

        if self.dc is None:
            self.dc = float(np.median(x))
        y, self.zi = signal.sosfilt(self.sos, x - self.dc, zi=self.zi)
        sq = np.concatenate([self.sq_tail, y * y])
        c = np.concatenate([[0.0], np.cumsum(sq)])
        k = len(self.sq_tail)
        idx = np.arange(k, len(sq))
        lo = np.maximum(idx + 1 - self.rms_n, 0)
        env = np.sqrt(np.maximum((c[idx + 1] - c[lo]) / (idx + 1 - lo), 0.0))
        self.sq_tail = sq[-(self.rms_n - 1):] if self.rms_n > 1 else np.zeros(0)
        n = len(x)
        for ring, v in ((self.raw, x - self.dc), (self.env, env)):
            if n >= ring.size:
                ring[:] = v[-ring.size:]
            else:
                ring[:-n] = ring[n:]
                ring[-n:] = v
        self.peak_env = max(self.peak_env, float(env.max(initial=0.0)))
        events = []
        if self.thr is None:
            self.base.extend(env[:: max(1, int(self.fs / 200))].tolist())  # 200 Hz is plenty for mean/SD
            if len(self.base) >= BASELINE_S * 200:
                b = np.asarray(self.base)
                self.thr = float(b.mean() + H_SD * b.std())
            return events
        above = env > self.thr
        need_on, need_off = int(MIN_ON_MS / 1000 * self.fs), int(MIN_OFF_MS / 1000 * self.fs)
        for i, a in enumerate(above):
            if a != self.active:
                self.run += 1
                if self.run == 1:
                    self.onset_index = start + i
                if (not self.active and self.run >= need_on) or (self.active and self.run >= need_off):
                    self.active = not self.active
                    events.append(("onset" if self.active else "offset", self.onset_index))
                    self.run = 0
            else:
                self.run = 0
        return events


class LiveReceiver:
    """Listens on 127.0.0.1:port in a daemon thread; bounded memory whatever the session length."""

    def __init__(self, port: int, window_s: float = WINDOW_S) -> None:
        self.port, self.window_s = port, window_s
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Room for a few seconds of blocks if this thread is briefly starved (the kernel caps the size).
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.5)
        self.reps: collections.deque = collections.deque(maxlen=50)
        self._reset(None)
        self.thread = threading.Thread(target=self._loop, name=f"reengage-live-{port}", daemon=True)
        self.thread.start()

    def _reset(self, msg: dict | None) -> None:
        self.session = msg.get("session") if msg else None
        self.status: dict = {"state": "waiting"}
        self.fs = None
        self.chans: list[_Channel] = []
        self.next_index = None
        self.samples_lost = 0
        self.last_index = 0
        self.last_t_ns = 0
        self.rep_count = 0
        self.open_rep: dict | None = None
        self.mvc: dict = {}
        self.mvc_windows: list[tuple[float, float]] = []  # MVC trials: no biofeedback cue there
        self.reps.clear()

    def _loop(self) -> None:
        while True:
            try:
                payload = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                msg = json.loads(payload)
            except ValueError:
                continue
            if not isinstance(msg, dict) or msg.get("v") != PROTOCOL_VERSION:
                continue
            with self.lock:
                self._handle(msg)

    def _ensure(self, msg: dict) -> None:
        if msg.get("session") != self.session or not self.chans:
            keep_status = self.status if msg.get("session") == self.session else None
            self._reset(msg)
            if keep_status:
                self.status = keep_status
            self.fs = float(msg["fs_hz"])
            self.chans = [_Channel(c["name"], c.get("role"), self.fs, self.window_s) for c in msg["channels"]]

    def _handle(self, msg: dict) -> None:
        kind = msg.get("type")
        if kind == "status":
            if msg.get("session") != self.session:
                self._reset(msg)
            # A later status (e.g. "stopped") updates only the fields it carries.
            self.status = {k: msg[k] if k in msg else self.status.get(k) for k in ("state", "subject", "task")}
            self.mvc = msg.get("mvc") or {}
            return
        if kind == "event":
            if str(msg.get("label", "")).startswith("mvc") and msg.get("session") == self.session:
                a = float(msg.get("onset_s") or 0.0)
                self.mvc_windows.append((a, a + float(msg.get("duration_s") or 0.0)))
                del self.mvc_windows[:-16]
            return
        if kind != "block" or not msg.get("channels") or not msg.get("fs_hz"):
            return
        self._ensure(msg)
        data = np.asarray(msg["data"], dtype=np.float64)
        start = int(msg["start"])
        if self.next_index is not None and start > self.next_index:
            self.samples_lost += start - self.next_index
        self.next_index = start + data.shape[1]
        self.last_index, self.last_t_ns = self.next_index, int(msg.get("t_ns") or 0)
        for ch, x in zip(self.chans, data):
            for what, index in ch.push(x, start):
                self._rep_logic(ch.role or ch.name, what, index)

    def _rep_logic(self, role: str, what: str, index: int) -> None:
        """A rep opens at the first hip-extensor onset; once both glute max and hamstrings have an onset the
        latency is known and the cue fires; the rep closes when every active muscle is off."""
        if role not in ("glute_max", "hamstrings"):
            return
        if what == "onset":
            if self.open_rep is None:
                self.open_rep = {"onset": {}, "active": set()}
            self.open_rep["onset"].setdefault(role, index)
            self.open_rep["active"].add(role)
            on = self.open_rep["onset"]
            first_s = min(on.values()) / self.fs
            in_mvc = any(a - 0.5 <= first_s <= b + 0.5 for a, b in self.mvc_windows)
            if len(on) == 2 and "cued" not in self.open_rep and not in_mvc:
                self.open_rep["cued"] = True
                lat = (on["glute_max"] - on["hamstrings"]) / self.fs * 1000.0
                self.rep_count += 1
                self.reps.append({"rep": self.rep_count, "onset_latency_ms": round(lat, 1),
                                  "glutes_first": lat < 0, "t_ns": self.last_t_ns,
                                  "glute_onset_s": on["glute_max"] / self.fs})
        elif self.open_rep is not None:
            self.open_rep["active"].discard(role)
            if not self.open_rep["active"]:
                self.open_rep = None

    def latest_rep(self) -> dict | None:
        with self.lock:
            return dict(self.reps[-1]) if self.reps else None

    def snapshot(self, n_px: int = 600) -> dict:
        """Rolling traces (min/max per pixel), gauge value, latest reps: what one 200 ms poll needs."""
        from reengage.dashboard.data import minmax_decimate

        with self.lock:
            if not self.chans:
                return {"state": self.status.get("state", "waiting"), "channels": [], "reps": list(self.reps)}
            fs, end = self.fs, self.last_index
            n = self.chans[0].raw.size
            t0 = (end - n) / fs
            raw = np.stack([c.raw for c in self.chans])
            env = np.stack([c.env for c in self.chans])
            gm = next((c for c in self.chans if c.role == "glute_max"), None)
            gauge, gauge_ref = None, None
            if gm is not None:
                now = float(gm.env[-1])
                ref = self.mvc.get("glute_max")
                if ref:
                    gauge, gauge_ref = 100.0 * now / float(ref), "%MVC"
                elif gm.peak_env > 0:
                    gauge, gauge_ref = 100.0 * now / gm.peak_env, "% of this session's peak (no MVC reference)"
            out = {
                "state": self.status.get("state", "streaming"), "subject": self.status.get("subject"),
                "task": self.status.get("task"), "session": self.session,
                "channels": [{"name": c.name, "role": c.role} for c in self.chans],
                "thresholds": [c.thr for c in self.chans], "samples_lost": self.samples_lost,
                "reps": list(self.reps), "gauge": gauge, "gauge_unit": gauge_ref, "t_end_s": end / fs,
            }
        t, r = minmax_decimate(raw, fs, t0, 0, n, n_px)
        _, e = minmax_decimate(env, fs, t0, 0, n, n_px)
        out["t"], out["raw"], out["env"] = t, r, e
        return out


_RECEIVERS: dict[int, LiveReceiver] = {}
_RECEIVERS_LOCK = threading.Lock()


def receiver(port: int) -> LiveReceiver:
    """The process's receiver on ``port``, started on first use (the live page's first poll)."""
    with _RECEIVERS_LOCK:
        r = _RECEIVERS.get(port)
        if r is None:
            r = _RECEIVERS[port] = LiveReceiver(port)
        return r


def finite_or_none(v):
    return v if v is not None and math.isfinite(v) else None
