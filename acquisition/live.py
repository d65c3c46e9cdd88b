"""Live sinks and publishers: the acquisition side (``record``, ``replay``) runs the live chain
(:class:`reengage.dsp.streaming.LiveChain`, analyze's own steps) and publishes what the dashboard's Live page
shows as UDP datagrams on loopback; the page only subscribes (``reengage.dashboard.live``). Protocol:
``dashboard/LIVE.md``.

Why UDP on 127.0.0.1: the recorder must never block or slow down because nobody is watching (a datagram
to a closed port is simply dropped), nothing grows on disk, and a dashboard started mid-session picks up
at the next block. Losses are visible: every block carries its first sample index.
"""

from __future__ import annotations

import collections
import logging
import os
import queue
import socket
import threading
import time

import numpy as np

from reengage.acquisition.live_protocol import MAX_DATAGRAM, PROTOCOL_VERSION, live_key, seal
from reengage.dsp.options import DEFAULT_OPTIONS, AnalysisOptions, LiveOptions
from reengage.dsp.streaming import LiveChain, LiveStep
from reengage.errors import ReengageError
from reengage.model import Block, Event, ToPhysical

DEFAULT_PORT = 8051
QUEUE_ITEMS = 400  # items waiting for the live worker (≈ 20 s of 50 ms blocks); more are dropped from the view


def live_port() -> int:
    return int(os.environ.get("REENGAGE_LIVE_PORT") or DEFAULT_PORT)


def channels_for(stream) -> list[dict]:
    """The ``channels`` list of a :class:`reengage.model.Stream` as the live protocol describes them."""
    return [{"name": c.name, "role": c.role, "unit": c.unit} for c in stream.channels]


def _rounded(a: np.ndarray) -> list:
    return [[round(float(v), 5) for v in row] for row in np.asarray(a, dtype=np.float64)]


class LivePublisher:
    """Sends the live protocol's datagrams to the dashboard, each signed with the key the dashboard shares
    (``key``, default :func:`live_key` of the port). Never blocks, never raises on a missing listener; without
    a key (its file not private, say) it sends nothing, counts every message in ``dropped`` and says why in
    ``error``: the live view is lost, never the recording."""

    def __init__(self, port: int | None = None, *, session: str = "", channels: list[dict] | None = None,
                 fs_hz: float | None = None, key: bytes | None = None) -> None:
        self.addr = ("127.0.0.1", port or live_port())
        self.error: str | None = None
        if key is None:
            try:
                key = live_key(self.addr[1])
            except (ReengageError, OSError) as e:
                self.error = f"live view off: {e}"
                logging.getLogger(__name__).warning(self.error)
        self.key = key
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
        if self.key is None:
            self.dropped += 1
            return
        payload = seal(msg, self.key)
        try:
            self.sock.sendto(payload, self.addr)
            self.sent += 1
        except OSError:  # no listener (ECONNREFUSED on some kernels) or a full buffer: drop, never stall
            self.dropped += 1

    def status(self, state: str, **fields) -> None:
        """``state``: "recording", "replaying" or "stopped"; fields: subject, task."""
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
            self._send({"type": "block", "stream": "emg", "fs_hz": self.fs_hz, "start": int(start + a),
                        "channels": self.channels, "t_ns": int(t_ns), "data": _rounded(data[:, a:a + per])})

    def event(self, onset_s: float, duration_s: float, label: str) -> None:
        self._send({"type": "event", "onset_s": onset_s, "duration_s": duration_s, "label": label})

    def step(self, step: LiveStep, fields: dict, t_ns: int) -> None:
        """One step of the live chain: the newly settled envelope, new detections and the chain's state."""
        per = max(1, MAX_DATAGRAM // (12 * max(1, step.env.shape[0])))
        n = step.env.shape[-1]
        for a in range(0, max(n, 1), per):
            last = a + per >= n
            msg = {"type": "step", "end": int(step.end), "env_start": int(step.env_start + a),
                   "env": _rounded(step.env[:, a:a + per]), "t_ns": int(t_ns)}
            if last:  # the state rides on the step's last datagram
                msg.update(fields, detections=[[int(c), k, int(s), int(w)] for c, k, s, w in step.detections])
            self._send(msg)

    def rep(self, rep: dict, t_ns: int, block_end: int) -> None:
        """A rep the chain just found (the cue), with the times the page's latency figures need."""
        self._send({"type": "rep", **rep, "t_ns": int(t_ns), "block_end_index": int(block_end)})

    def close(self) -> None:
        self.status("stopped")
        self.sock.close()


class LiveSink:
    """A pipeline sink (:class:`reengage.model.Sink`) for ``record`` (state "recording") and ``replay``
    ("replaying"): runs the live chain on a stream's EMG in physical units and publishes the raw blocks, the
    events and every step's results (envelope, onsets, reps and the cue, gauge, baseline, thresholds).

    It never blocks nor slows the recorder: :meth:`handle` only stamps the item (``time.time_ns()``, the clock
    the page's sample-to-cue latency is measured against) and puts it on a bounded queue; a worker thread runs
    the chain. When the worker falls behind, it stores the whole backlog and runs one step on the newest window
    (display work skipped, nothing missed that is still in the window); when the queue is full, items are
    dropped from the view (``display_dropped``) — never from the recording, which another sink writes."""

    def __init__(self, channels, fs_hz: float, *, session: str, state: str, subject=None, task=None,
                 port: int | None = None, mvc: dict | None = None, options: AnalysisOptions = DEFAULT_OPTIONS,
                 live: LiveOptions = LiveOptions()) -> None:
        self._physical = ToPhysical(channels)
        self.fs_hz = float(fs_hz)
        self.pub = LivePublisher(port, session=session, fs_hz=fs_hz,
                                 channels=[{"name": c.name, "role": c.role, "unit": c.unit} for c in channels])
        self.pub.status(state, subject=subject, task=task)
        self.roles = [c.role or c.name for c in channels]
        self.chain = LiveChain(fs_hz, self.roles, options=options, live=live)
        self.mvc = {str(k): float(v) for k, v in (mvc or {}).items()}
        self.display_dropped = 0
        self.errors = 0
        self.detections: collections.deque = collections.deque(maxlen=400)  # the latest published, for tests
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_ITEMS)
        self._worker = threading.Thread(target=self._work, name="reengage-live-sink", daemon=True)
        self._worker.start()

    @property
    def dropped(self) -> int:
        """Datagrams that could not be sent plus items the view dropped."""
        return self.pub.dropped + self.display_dropped

    def handle(self, item) -> None:
        if isinstance(item, Block) and item.stream == "emg":
            entry = (item, time.time_ns())
        elif isinstance(item, Event):
            entry = (item, 0)
        else:
            return
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
            self.display_dropped += 1

    def close(self) -> None:
        self._queue.put(None)  # after everything queued: the worker publishes it all, then stops
        self._worker.join(timeout=30.0)
        self.pub.close()

    def _work(self) -> None:
        while True:
            batch = [self._queue.get()]
            while batch[-1] is not None:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = batch[-1] is None
            try:
                self._process([e for e in batch if e is not None])
            except Exception:  # noqa: BLE001 — a bug in the view must never take the recording down with it
                self.errors += 1
            if stop:
                return

    def _process(self, batch: list) -> None:
        blocks = [(b, t) for b, t in batch if isinstance(b, Block)]
        for ev, _ in batch:
            if isinstance(ev, Event):
                self.chain.event(ev.onset_s, ev.duration_s, ev.label)
                self.pub.event(ev.onset_s, ev.duration_s, ev.label)
        for i, (b, t_ns) in enumerate(blocks):
            data = self._physical(b.data)
            self.pub.block(b.start, data, t_ns)
            # Behind (more than one block waiting): store the backlog, one step on the newest window.
            mode = "all" if len(blocks) == 1 else ("last" if i == len(blocks) - 1 else "none")
            for step in self.chain.feed(data, b.start, steps=mode):
                self._publish(step, t_ns, b.start + b.n_samples)

    def _publish(self, step: LiveStep, t_ns: int, block_end: int) -> None:
        chain = self.chain
        for rep in step.reps:  # the cue first: it is what the page waits for
            onset_s = {k: (v - chain.origin) / chain.fs for k, v in rep["onset_index"].items()}
            self.pub.rep({**rep, "onset_s": onset_s}, t_ns, block_end)
        self.detections.extend(step.detections)
        gauge, unit = chain.gauge("glute_max", self.mvc.get("glute_max"))
        self.pub.step(step, {
            "gauge": gauge, "gauge_unit": unit, "thresholds": chain.thresholds,
            "baseline": chain.baseline_source, "mains_hz": chain.mains_hz,
            "mvc_reference": {self.roles[c]: v for c, v in chain.mvc_ref.items()},
            "samples_lost": chain.samples_lost, "display_dropped": self.display_dropped}, t_ns)


def replay_to_live(recording, *, port: int | None = None, speed: float = 1.0, block_ms: float = 50.0,
                   mvc: dict | None = None, stop: threading.Event | None = None) -> LiveSink:
    """Stream a :class:`Recording`'s EMG and events through a :class:`LiveSink` in real time × ``speed`` (the
    tests, the benchmark and the screenshots use it; ``reengage replay`` feeds the same sink from
    :func:`reengage.replay.replay`). Returns the closed sink."""
    emg = recording.emg
    sink = LiveSink(emg.channels, emg.fs_hz, session=str(recording.source), state="replaying", port=port,
                    subject=recording.meta.get("subject"), task=recording.meta.get("task"), mvc=mvc)
    step = max(1, int(emg.fs_hz * block_ms / 1000.0))
    events = sorted(recording.events, key=lambda e: e.onset_s)
    t0 = time.monotonic()
    for a in range(0, emg.n_samples, step):
        if stop is not None and stop.is_set():
            break
        delay = t0 + (a + step) / emg.fs_hz / speed - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        while events and events[0].onset_s * emg.fs_hz <= a + step:
            sink.handle(events.pop(0))
        sink.handle(Block("emg", emg.first_sample + a, emg.data[:, a:a + step]))
    sink.close()
    return sink
