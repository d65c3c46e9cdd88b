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
import socket
import threading
import time

import numpy as np

from reengage.acquisition.live import DEFAULT_PORT, MAX_DATAGRAM, PROTOCOL_VERSION, LivePublisher, live_port, replay_to_live  # noqa: F401

WINDOW_S = 10.0  # seconds of rolling traces kept per channel
BASELINE_S = 2.0  # no rest event announced by then: the first 2 s are the baseline (ask the person to rest)
SETTLE_S = 0.5  # the causal band-pass rings this long after the first sample: never baseline, never an onset
MIN_REST_S = 0.5  # a marked rest shorter than this is not used (as analyze)
POOL_S = 30.0  # at most this much rest is kept for the baseline statistics (bounded memory)
DETECT_RMS_MS = 50.0  # causal moving RMS the onset detector runs on (StreamingPipeline's default)
RMS_MS = 100.0  # causal moving RMS for the biofeedback gauge (analyze's amplitude envelope)
MVC_RMS_MS = 500.0  # MVC reference: peak of a 500 ms moving RMS over the trial (SENIAM; Burden 2010)


# -------------------------------------------------------------------------------------- receiver

class _Ring:
    """(channels, n) samples addressed by absolute sample index; writing past the end overwrites the
    oldest, so memory is fixed whatever the session length."""

    def __init__(self, n_channels: int, n: int, dtype=np.float32) -> None:
        self.data = np.zeros((n_channels, n), dtype)
        self.end = 0  # absolute index one past the newest sample written

    def write(self, x: np.ndarray, start: int) -> None:
        n = self.data.shape[1]
        m = x.shape[1]
        if m >= n:
            x, start, m = x[:, -n:], start + m - n, n
        i = start % n
        k = min(m, n - i)
        self.data[:, i:i + k] = x[:, :k]
        self.data[:, :m - k] = x[:, k:]
        self.end = start + m

    def get(self, a: int, b: int) -> np.ndarray:
        """Samples [a, b) clipped to what the ring still holds (float64, chronological)."""
        n = self.data.shape[1]
        a, b = max(a, self.end - n, 0), min(b, self.end)
        if b <= a:
            return np.zeros((self.data.shape[0], 0))
        idx = np.arange(a, b) % n
        return self.data[:, idx].astype(np.float64)

    def last(self) -> np.ndarray:
        """The whole ring, oldest first (zeros before the first sample)."""
        i = self.end % self.data.shape[1]
        return np.concatenate([self.data[:, i:], self.data[:, :i]], axis=1)


class _ChannelView:
    """Name, role and the raw ring row of one channel (the row is a view into the shared ring)."""

    def __init__(self, name: str, role: str | None, raw: np.ndarray) -> None:
        self.name, self.role, self.raw = name, role, raw


class LiveDSP:
    """The live view's signal chain, built from :mod:`reengage.dsp.streaming` so that live and offline
    share one implementation: :class:`StreamingCleaner` (DC, causal 20–450 Hz band-pass) →
    :class:`StreamingEnvelope` (``DETECT_RMS_MS`` RMS for onsets and traces, ``RMS_MS`` RMS for the gauge)
    → :class:`StreamingOnsetDetector` (its default thresholds and hold times, dated back by the envelope's
    group delay, as :class:`StreamingPipeline` configures it).

    Baseline (the detector's resting mean and SD, robust median and 1.4826·MAD of the detection envelope
    via :func:`reengage.dsp.baseline.baseline_stats`): the samples of every ``rest`` event received in the
    stream (each ≥ ``MIN_REST_S`` once the first ``SETTLE_S`` of the causal band-pass ringing is skipped),
    as analyze does; if no rest has been announced by ``BASELINE_S`` into the stream, the first
    ``BASELINE_S`` (ask the person to lie still) until a marked rest arrives and replaces it. No onset is
    reported before a baseline exists; the detector is then fed the envelope from ``SETTLE_S`` on, from
    the ring, so nothing since the start is missed.

    ``mvc:<role>`` events: the reference is computed as :func:`reengage.dsp.mvc_reference` does offline
    (peak of a 500 ms centred moving RMS, resting noise power removed, over the trial), once the trial
    and half a window after it are in the ring.
    """

    def __init__(self, fs: float, n_channels: int, first_index: int, window_s: float = WINDOW_S) -> None:
        from reengage.dsp.streaming import StreamingCleaner, StreamingEnvelope

        self.fs, self.nch = float(fs), int(n_channels)
        n = int(window_s * fs)
        self.raw, self.clean, self.gauge_env = (_Ring(self.nch, n) for _ in range(3))
        # float64: the detector re-reads it when its baseline arrives, and must see what it would have live.
        self.env = _Ring(self.nch, n, np.float64)
        self.cleaner = StreamingCleaner(self.fs, self.nch)
        self.det_env = StreamingEnvelope(self.fs, self.nch, window_ms=DETECT_RMS_MS)
        self.rms = StreamingEnvelope(self.fs, self.nch, window_ms=RMS_MS)
        self.first = int(first_index)
        self.settle = self.first + int(round(SETTLE_S * fs))
        self.detector = None
        self.baseline = None
        self.baseline_source: str | None = None  # "rest" | "first 2 s"
        self.noise_power = np.zeros(self.nch)  # mean square of the cleaned signal at rest (channel unit²)
        self.rests: list[tuple[int, int]] = []  # announced rest windows not yet used [a, b)
        self.mvc_trials: list[tuple[int, int, int]] = []  # (channel, a, b) not yet measured
        self.mvc_ref: dict[int, float] = {}
        self._pool_env = np.zeros((self.nch, 0))  # rest samples of the detection envelope (bounded)
        self._pool_sq = np.zeros((self.nch, 0))  # and of the squared cleaned signal
        self.peak_gauge = np.zeros(self.nch)

    @property
    def end(self) -> int:
        return self.raw.end

    def push(self, x: np.ndarray, start: int):
        """New samples (channels, n) from ``start``; returns the detector's OnsetEvents (sample indices
        absolute)."""
        y = self.cleaner.process(x)
        e = self.det_env.process(y)
        g = self.rms.process(y)
        self.raw.write(x - self.cleaner.dc, start)
        self.clean.write(y, start)
        self.env.write(e, start)
        self.gauge_env.write(g, start)
        self.peak_gauge = np.maximum(self.peak_gauge, g.max(axis=1, initial=0.0))
        events = self._update_baseline()
        self._measure_mvc()
        if self.detector is not None:
            if events is None:
                events = self.detector.process(e)
            return events
        return []

    def _update_baseline(self):
        """Use every rest window that is complete; fall back to the first 2 s. Returns the events of a
        freshly built detector (fed from the ring), else None."""
        from reengage.dsp.baseline import baseline_stats

        end = self.end
        done = [(a, b) for a, b in self.rests if b <= end]
        self.rests = [(a, b) for a, b in self.rests if b > end]
        new = []
        for a, b in done:
            a = max(a, self.settle, end - self.env.data.shape[1])
            if b - a >= MIN_REST_S * self.fs:
                new.append((a, b))
        fallback = (not new and self.baseline is None and not self.rests
                    and end >= self.first + int(round(BASELINE_S * self.fs)))
        if fallback:
            new = [(self.settle, self.first + int(round(BASELINE_S * self.fs)))]
        if not new:
            return None
        if self.baseline_source != "rest" and not fallback:  # a marked rest replaces the first-2-s guess
            self._pool_env, self._pool_sq = np.zeros((self.nch, 0)), np.zeros((self.nch, 0))
        cap = int(POOL_S * self.fs)
        for a, b in new:
            self._pool_env = np.concatenate([self._pool_env, self.env.get(a, b)], axis=1)[:, -cap:]
            self._pool_sq = np.concatenate([self._pool_sq, self.clean.get(a, b) ** 2], axis=1)[:, -cap:]
        self.baseline = baseline_stats(self._pool_env, np.ones(self._pool_env.shape, bool))
        # Mean power, not median: noise power adds to EMG power as a mean (as analyze does).
        self.noise_power = self._pool_sq.mean(axis=1)
        self.baseline_source = "first 2 s" if fallback else "rest"
        if self.detector is not None:
            self.detector.set_baseline(self.baseline)
            return None
        from reengage.dsp.streaming import StreamingOnsetDetector

        self.detector = StreamingOnsetDetector(self.fs, self.baseline, delay_samples=self.det_env.group_delay_samples)
        a = max(self.settle, end - self.env.data.shape[1])
        self.detector.pos = a  # absolute sample indices from here on
        return self.detector.process(self.env.get(a, end))

    def _measure_mvc(self) -> None:
        from reengage.dsp.normalize import mvc_reference

        half = int(round(MVC_RMS_MS / 2000.0 * self.fs))
        left = []
        for c, a, b in self.mvc_trials:
            if self.end < b + half:
                left.append((c, a, b))
                continue
            lo = max(a - half, self.end - self.clean.data.shape[1])
            seg = self.clean.get(lo, b + half)[c]
            mask = np.zeros(seg.size, bool)
            mask[max(a - lo, 0):b - lo] = True
            ref = mvc_reference(seg, fs=self.fs, mask=mask, window_ms=MVC_RMS_MS,
                                noise_power=float(self.noise_power[c]))
            if ref is not None:  # several trials of one muscle: the highest peak (as analyze)
                self.mvc_ref[c] = max(ref, self.mvc_ref.get(c, 0.0))
        self.mvc_trials = left

    def gauge_now(self, c: int) -> float:
        """The latest ``RMS_MS`` RMS of channel ``c`` with the resting noise power removed (as analyze's
        amplitude envelope)."""
        g = float(self.gauge_env.data[c, (self.end - 1) % self.gauge_env.data.shape[1]])
        return math.sqrt(max(g * g - float(self.noise_power[c]), 0.0))

    def thresholds(self) -> list:
        if self.detector is None:
            return [None] * self.nch
        return [float(v) for v in self.detector.on_thr]


class LiveReceiver:
    """Listens on 127.0.0.1:port in a daemon thread; bounded memory whatever the session length."""

    def __init__(self, port: int, window_s: float = WINDOW_S) -> None:
        self.port, self.window_s = port, window_s
        self.lock = threading.Lock()
        self.new_rep = threading.Condition(self.lock)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Room for a few seconds of blocks if this thread is briefly starved (the kernel caps the size).
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.5)
        self.reps: collections.deque = collections.deque(maxlen=50)
        self.rep_serial = 0  # never reset: a page's long poll asks for "after serial N" across sessions
        # The detector's recent events (channel, "onset"|"offset", sample, confirmed_at), for tests and traces.
        self.detections: collections.deque = collections.deque(maxlen=400)
        self._reset(None)
        self.thread = threading.Thread(target=self._loop, name=f"reengage-live-{port}", daemon=True)
        self.thread.start()

    def _reset(self, msg: dict | None) -> None:
        self.session = msg.get("session") if msg else None
        self.status: dict = {"state": "waiting"}
        self.fs = None
        self.chans: list[_ChannelView] = []
        self.dsp: LiveDSP | None = None
        self.next_index = None
        self.samples_lost = 0
        self.last_index = 0
        self.last_t_ns = 0
        self.rep_count = 0
        self.open_rep: dict | None = None
        self.mvc: dict = {}
        self.mvc_windows: list[tuple[float, float]] = []  # MVC trials: no biofeedback cue there
        self.events: list[dict] = []  # rest / mvc events that arrived before the first block
        self.reps.clear()
        self.detections.clear()

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
            same = msg.get("session") == self.session
            keep = (self.status, self.mvc, self.mvc_windows, self.events) if same else None
            self._reset(msg)
            if keep:
                self.status, self.mvc, self.mvc_windows, self.events = keep
            self.fs = float(msg["fs_hz"])
            self.dsp = LiveDSP(self.fs, len(msg["channels"]), int(msg["start"]), self.window_s)
            self.chans = [_ChannelView(c["name"], c.get("role"), self.dsp.raw.data[i])
                          for i, c in enumerate(msg["channels"])]
            for ev in self.events:
                self._event(ev)
            self.events = []

    def _event(self, msg: dict) -> None:
        label = str(msg.get("label", ""))
        a = float(msg.get("onset_s") or 0.0)
        d = float(msg.get("duration_s") or 0.0)
        if label.startswith("mvc") and (a, a + d) not in self.mvc_windows:
            self.mvc_windows.append((a, a + d))
            del self.mvc_windows[:-16]
        if self.dsp is None:  # no block yet: the sampling rate and channels are not known
            if label == "rest" or label.startswith("mvc:"):
                self.events = (self.events + [msg])[-32:]
            return
        ia, ib = int(round(a * self.fs)), int(round((a + d) * self.fs))
        if label == "rest":
            self.dsp.rests = (self.dsp.rests + [(ia, ib)])[-16:]
        elif label.startswith("mvc:"):
            role = label[4:]
            for c, ch in enumerate(self.chans):
                if role in (ch.role, ch.name):
                    self.dsp.mvc_trials = (self.dsp.mvc_trials + [(c, ia, ib)])[-16:]

    def _handle(self, msg: dict) -> None:
        kind = msg.get("type")
        if kind == "status":
            if msg.get("session") != self.session:
                self._reset(msg)
            # A later status (e.g. "stopped") updates only the fields it carries.
            self.status = {k: msg[k] if k in msg else self.status.get(k) for k in ("state", "subject", "task")}
            if "mvc" in msg:
                self.mvc = msg.get("mvc") or {}
            return
        if kind == "event":
            if msg.get("session") == self.session:
                self._event(msg)
            return
        if kind != "block" or not msg.get("channels") or not msg.get("fs_hz"):
            return
        self._ensure(msg)
        data = np.asarray(msg["data"], dtype=np.float64)
        start = int(msg["start"])
        if self.next_index is not None and start < self.next_index:
            return  # a late or duplicated datagram: its samples are already in
        if self.next_index is not None and start > self.next_index:
            gap = start - self.next_index
            self.samples_lost += gap
            if gap > self.dsp.raw.data.shape[1]:  # longer than the window: start the chain afresh
                dsp = LiveDSP(self.fs, len(self.chans), start, self.window_s)
                dsp.rests, dsp.mvc_trials, dsp.mvc_ref = self.dsp.rests, self.dsp.mvc_trials, self.dsp.mvc_ref
                self.dsp = dsp
                for ch, row in zip(self.chans, dsp.raw.data):
                    ch.raw = row
                self.open_rep = None
            else:  # zeros keep sample indices and filter states continuous across the loss
                for ev in self.dsp.push(np.zeros((len(self.chans), gap)), self.next_index):
                    self._rep_logic(ev)
        self.next_index = start + data.shape[1]
        self.last_index, self.last_t_ns = self.next_index, int(msg.get("t_ns") or 0)
        for ev in self.dsp.push(data, start):
            self._rep_logic(ev)

    def _rep_logic(self, ev) -> None:
        """A rep opens at the first hip-extensor onset; once both glute max and hamstrings have an onset the
        latency is known and the cue fires; the rep closes when every active muscle is off."""
        self.detections.append((ev.channel, ev.kind, int(ev.sample), int(ev.confirmed_at)))
        ch = self.chans[ev.channel]
        role = ch.role or ch.name
        if role not in ("glute_max", "hamstrings"):
            return
        if ev.kind == "onset":
            if self.open_rep is None:
                self.open_rep = {"onset": {}, "active": set()}
            self.open_rep["onset"].setdefault(role, ev.sample)
            self.open_rep["active"].add(role)
            on = self.open_rep["onset"]
            first_s = min(on.values()) / self.fs
            in_mvc = any(a - 0.5 <= first_s <= b + 0.5 for a, b in self.mvc_windows)
            if len(on) == 2 and "cued" not in self.open_rep and not in_mvc:
                self.open_rep["cued"] = True
                lat = (on["glute_max"] - on["hamstrings"]) / self.fs * 1000.0
                self.rep_count += 1
                self.rep_serial += 1
                # t_ns: when the newest sample of the block that confirmed the onset entered the pipeline;
                # confirmed_index lets a benchmark date the confirming sample itself.
                self.reps.append({"rep": self.rep_count, "serial": self.rep_serial, "onset_latency_ms": round(lat, 1),
                                  "glutes_first": lat < 0, "t_ns": self.last_t_ns,
                                  "glute_onset_s": on["glute_max"] / self.fs,
                                  "confirmed_index": int(ev.confirmed_at), "block_end_index": int(self.last_index),
                                  "onset_index": {k: int(v) for k, v in on.items()},
                                  "rx_ns": time.time_ns()})
                self.new_rep.notify_all()
        elif self.open_rep is not None:
            self.open_rep["active"].discard(role)
            if not self.open_rep["active"]:
                self.open_rep = None

    def latest_rep(self) -> dict | None:
        with self.lock:
            return dict(self.reps[-1]) if self.reps else None

    def wait_rep(self, after: int, timeout_s: float) -> dict | None:
        """The latest rep once its ``serial`` differs from ``after`` (blocks at most ``timeout_s``): a long
        poll, so the cue reaches the page as soon as the rep is known instead of at the next poll tick."""
        def fresh():
            return bool(self.reps) and self.reps[-1]["serial"] != after

        with self.lock:
            self.new_rep.wait_for(fresh, timeout=timeout_s)
            return dict(self.reps[-1]) if fresh() else None

    def gauge(self) -> tuple[float | None, str | None]:
        """Glute max amplitude now and what it is relative to: the MVC reference from the stream's
        ``mvc:glute_max`` trials, else one given in the status, else this session's peak (and it says so)."""
        d = self.dsp
        c = next((i for i, ch in enumerate(self.chans) if ch.role == "glute_max"), None)
        if d is None or c is None:
            return None, None
        now = d.gauge_now(c)
        if c in d.mvc_ref:
            return 100.0 * now / d.mvc_ref[c], "%MVC"
        ref = self.mvc.get("glute_max")
        if ref:
            return 100.0 * now / float(ref), "%MVC (given reference)"
        peak = math.sqrt(max(float(d.peak_gauge[c]) ** 2 - float(d.noise_power[c]), 0.0))
        if peak > 0:
            return 100.0 * now / peak, "% of this session's peak (no MVC trial)"
        return None, None

    def snapshot(self, n_px: int = 600) -> dict:
        """Rolling traces (min/max per pixel), gauge value, latest reps: what one 200 ms poll needs."""
        from reengage.dashboard.data import minmax_decimate

        with self.lock:
            if not self.chans:
                return {"state": self.status.get("state", "waiting"), "channels": [], "reps": list(self.reps)}
            fs, end = self.fs, self.last_index
            d = self.dsp
            n = d.raw.data.shape[1]
            t0 = (end - n) / fs
            raw, env = d.raw.last(), d.env.last()
            gauge, gauge_ref = self.gauge()
            out = {
                "state": self.status.get("state", "streaming"), "subject": self.status.get("subject"),
                "task": self.status.get("task"), "session": self.session,
                "channels": [{"name": c.name, "role": c.role} for c in self.chans],
                "thresholds": d.thresholds(), "baseline": d.baseline_source, "samples_lost": self.samples_lost,
                "mvc_reference": {self.chans[c].role or self.chans[c].name: v for c, v in d.mvc_ref.items()},
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


CUE_PATH = "/_reengage/live/cue"
CUE_WAIT_S = 1.0  # a long poll returns empty after this long; the page asks again at once


def install_routes(server, port_of) -> None:
    """``GET CUE_PATH?after=<serial>``: the live cue's long poll (JSON rep, or 204 when none came within
    ``CUE_WAIT_S``). The cue bypasses Dash's callback queue, where it waited behind the traces' 200 ms
    figure updates (see docs/dashboard.md, "Cue latency"). ``port_of()`` gives the live UDP port."""
    import flask

    def cue():
        try:
            after = int(flask.request.args.get("after", "-1"))
        except ValueError:
            after = -1
        rep = receiver(port_of()).wait_rep(after, CUE_WAIT_S)
        if rep is None:
            return flask.Response(status=204, headers={"Cache-Control": "no-store"})
        rep["sent_ns"] = time.time_ns()  # for bench/bench_live.py's split of the latency
        return flask.Response(json.dumps(rep), mimetype="application/json", headers={"Cache-Control": "no-store"})

    server.add_url_rule(CUE_PATH, "reengage_live_cue", cue)


def finite_or_none(v):
    return v if v is not None and math.isfinite(v) else None
