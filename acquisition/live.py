"""Live publishing: the acquisition side (``record``, ``replay``) sends blocks, events and status as UDP
datagrams on loopback, where the dashboard's Live page subscribes (``reengage.dashboard.live``).

Why UDP on 127.0.0.1: the recorder must never block or slow down because nobody is watching (a datagram
to a closed port is simply dropped), nothing grows on disk, and a dashboard started mid-session picks up
at the next block. Losses are visible: every block carries its first sample index.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time

import numpy as np

from reengage.model import Block, Event, ToPhysical

DEFAULT_PORT = 8051
PROTOCOL_VERSION = 1
MAX_DATAGRAM = 60_000


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
        self._physical = ToPhysical(channels)
        self.pub = LivePublisher(port, session=session, fs_hz=fs_hz,
                                 channels=[{"name": c.name, "role": c.role, "unit": c.unit} for c in channels])
        self.pub.status(state, subject=subject, task=task)

    def handle(self, item) -> None:
        if isinstance(item, Block) and item.stream == "emg":
            self.pub.block(item.start, self._physical(item.data), time.time_ns())
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
