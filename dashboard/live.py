"""The Live page's receiver: it subscribes to what ``record`` / ``replay`` publish over UDP on loopback
(``reengage.acquisition.live``, which runs the live chain) and keeps the last seconds in fixed-size rings for
the page and the cue's long poll. No signal processing here: the envelope, onsets, reps, gauge and thresholds
all arrive computed. See ``dashboard/LIVE.md``.
"""

from __future__ import annotations

import collections
import errno
import json
import socket
import threading
import time

import numpy as np

from reengage.acquisition.live import live_port
from reengage.acquisition.live_protocol import live_key, open_datagram
from reengage.errors import InputError, ReengageError
from reengage.dsp.options import DEFAULT_OPTIONS

WINDOW_S = 10.0  # seconds of rolling traces kept per channel
ENVELOPE_MS = DEFAULT_OPTIONS.envelope.window_ms  # the envelope the live chain publishes (analyze's)


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


class LiveReceiver:
    """Listens on 127.0.0.1:port in a daemon thread and stores what arrives; bounded memory whatever the
    session length (fixed rings, capped lists), and defensive: a datagram without the shared key's HMAC, or
    not a message of the protocol within its bounds (``reengage.acquisition.live_protocol``), is dropped and
    counted in ``rejected``; late or duplicated ones are ignored; a new session resets the state; a loss
    longer than the window restarts the rings. Nothing a datagram holds stops the thread.

    The socket is bound without ``SO_REUSEADDR``: with it another local process could bind the same port and
    take the stream; without it, whichever binds second fails (``OSError``, see :func:`receiver`)."""

    def __init__(self, port: int, window_s: float = WINDOW_S, *, key: bytes | None = None) -> None:
        self.port, self.window_s = port, window_s
        self.key = key if key is not None else live_key(port)
        self.lock = threading.Lock()
        self.new_rep = threading.Condition(self.lock)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            # Room for a few seconds of blocks if this thread is briefly starved (the kernel caps the size).
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            self.sock.bind(("127.0.0.1", port))
        except OSError:
            self.sock.close()
            raise
        self.sock.settimeout(0.5)
        # Dropped datagrams by cause: no valid HMAC, outside the schema, and a last-resort count of any other
        # failure while storing one (a bug: counted, the thread carries on).
        self.rejected = {"unsigned": 0, "malformed": 0, "failed": 0}
        self.reps: collections.deque = collections.deque(maxlen=50)
        self.rep_serial = 0  # never reset: a page's long poll asks for "after serial N" across sessions
        # The chain's recent detections [channel, "onset"|"offset", sample, confirmed_at], for tests and traces.
        self.detections: collections.deque = collections.deque(maxlen=400)
        self._reset(None)
        self.thread = threading.Thread(target=self._loop, name=f"reengage-live-{port}", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.sock.close()

    def _reset(self, msg: dict | None) -> None:
        self.session = msg.get("session") if msg else None
        self.status: dict = {"state": "waiting"}
        self.fs = None
        self.chans: list[dict] = []
        self.raw: _Ring | None = None
        self.env: _Ring | None = None
        self.next_index = None
        self.samples_lost = 0
        self.last_index = 0
        self.last_t_ns = 0
        self.state: dict = {}  # the live chain's latest state (gauge, thresholds, baseline, MVC references …)
        self.reps.clear()
        self.detections.clear()

    def _loop(self) -> None:
        while True:
            try:
                payload = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return  # closed
            self.receive(payload)

    def receive(self, payload: bytes) -> None:
        """One datagram: checked, then stored, or dropped and counted. Never raises."""
        msg, dropped, _why = open_datagram(payload, self.key)
        if dropped:
            self.rejected[dropped] += 1
            return
        try:
            with self.lock:
                self._handle(msg)
        except InputError:  # well-formed, but not for the session it names
            self.rejected["malformed"] += 1
        except Exception:  # noqa: BLE001 — last resort: one datagram must never stop the live view
            self.rejected["failed"] += 1

    def _handle(self, msg: dict) -> None:
        kind = msg.get("type")
        if kind == "status":
            if msg.get("session") != self.session:
                self._reset(msg)
            # A later status (e.g. "stopped") updates only the fields it carries.
            self.status = {k: msg[k] if k in msg else self.status.get(k) for k in ("state", "subject", "task")}
            return
        if msg.get("session") != self.session and kind != "block":
            return
        if kind == "block":
            self._block(msg)
        elif kind == "step" and self.env is not None:
            self._step(msg)
        elif kind == "rep":
            self._rep(msg)

    def _block(self, msg: dict) -> None:
        if msg.get("session") != self.session or not self.chans:
            keep = self.status if msg.get("session") == self.session else None
            self._reset(msg)
            self.status = keep or self.status
            self.fs = float(msg["fs_hz"])  # bounded by the schema, so are the rings
            self.chans = [{"name": c["name"], "role": c.get("role")} for c in msg["channels"]]
            n = max(1, int(self.window_s * self.fs))
            self.raw, self.env = _Ring(len(self.chans), n), _Ring(len(self.chans), n)
        data, start = msg["data"], msg["start"]
        if data.shape[0] != len(self.chans) or msg["fs_hz"] != self.fs:
            raise InputError("a block that does not match its session's channels or rate")
        if self.next_index is not None and start < self.next_index:
            return  # a late or duplicated datagram: its samples are already in
        if self.next_index is not None and start > self.next_index:
            self.samples_lost += start - self.next_index
        self.raw.write(data, start)
        self.next_index = start + data.shape[1]
        self.last_index, self.last_t_ns = self.next_index, int(msg.get("t_ns") or 0)

    def _step(self, msg: dict) -> None:
        env, start = msg["env"], msg["env_start"]
        if env.shape[0] != len(self.chans) or len(msg.get("thresholds") or self.chans) != len(self.chans):
            raise InputError("a step that does not match its session's channels")
        if start + env.shape[1] > self.env.end:
            if start < self.env.end:  # a duplicated or late datagram: only what is new
                env, start = env[:, self.env.end - start:], self.env.end
            self.env.write(env, start)
        if "detections" in msg:
            self.state = {k: msg.get(k) for k in ("gauge", "gauge_unit", "thresholds", "baseline", "mains_hz",
                                                  "mvc_reference", "samples_lost", "display_dropped")}
            for d in msg["detections"]:
                self.detections.append(tuple(d))

    def _rep(self, msg: dict) -> None:
        self.rep_serial += 1
        onset_s = msg.get("onset_s") or {}
        self.reps.append({"rep": int(msg["rep"]), "serial": self.rep_serial,
                          "onset_latency_ms": msg.get("onset_latency_ms"), "glutes_first": msg.get("glutes_first"),
                          "t_ns": int(msg.get("t_ns") or 0), "glute_onset_s": onset_s.get("glute_max"),
                          "onset_s": onset_s, "confirmed_index": int(msg.get("confirmed_index") or 0),
                          "block_end_index": int(msg.get("block_end_index") or 0),
                          "onset_index": {str(k): int(v) for k, v in (msg.get("onset_index") or {}).items()},
                          "rx_ns": time.time_ns()})
        self.new_rep.notify_all()

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

    def snapshot(self, n_px: int = 600) -> dict:
        """Rolling traces (min/max per pixel), gauge value, latest reps: what one 200 ms poll needs."""
        from reengage.dashboard.data import minmax_decimate

        with self.lock:
            if not self.chans:
                return {"state": self.status.get("state", "waiting"), "channels": [], "reps": list(self.reps),
                        "rejected": dict(self.rejected), "error": None}
            fs, end = self.fs, self.last_index
            n = self.raw.data.shape[1]
            raw, env, env_end = self.raw.last(), self.env.last(), self.env.end
            st = self.state
            out = {
                "state": self.status.get("state", "streaming"), "subject": self.status.get("subject"),
                "task": self.status.get("task"), "session": self.session,
                "channels": [dict(c) for c in self.chans],
                "thresholds": st.get("thresholds") or [None] * len(self.chans), "baseline": st.get("baseline"),
                "samples_lost": self.samples_lost + int(st.get("samples_lost") or 0),
                "mvc_reference": st.get("mvc_reference") or {}, "mains_hz": st.get("mains_hz"),
                "reps": list(self.reps), "gauge": st.get("gauge"), "gauge_unit": st.get("gauge_unit"),
                "t_end_s": end / fs, "rejected": dict(self.rejected), "error": None,
            }
        out["t_raw"], out["raw"] = minmax_decimate(raw, fs, (end - n) / fs, 0, n, n_px)
        # The envelope is final up to the chain's settled edge, a little behind the newest raw sample.
        out["t"], out["env"] = minmax_decimate(env, fs, (env_end - n) / fs, 0, n, n_px)
        return out


class Unavailable:
    """Stands in for a receiver that could not start (the port taken by another program, the key file not
    private): the page shows ``error`` in one line and the cue's long poll waits as usual instead of spinning."""

    def __init__(self, port: int, error: str) -> None:
        self.port, self.error = port, error
        self.since = time.monotonic()
        self._idle = threading.Event()

    def snapshot(self, n_px: int = 600) -> dict:
        return {"state": "unavailable", "channels": [], "reps": [], "rejected": {}, "error": self.error}

    def latest_rep(self) -> None:
        return None

    def wait_rep(self, after: int, timeout_s: float) -> None:
        self._idle.wait(timeout_s)
        return None


_RECEIVERS: dict[int, LiveReceiver | Unavailable] = {}
_RECEIVERS_LOCK = threading.Lock()
RETRY_S = 2.0  # a port taken by another program may be freed: bind again at most this often


def receiver(port: int) -> LiveReceiver | Unavailable:
    """The process's receiver on ``port``, started on first use (the live page's first poll); if it cannot
    start, an :class:`Unavailable` that says why (tried again every ``RETRY_S``)."""
    with _RECEIVERS_LOCK:
        r = _RECEIVERS.get(port)
        if r is None or (isinstance(r, Unavailable) and time.monotonic() - r.since > RETRY_S):
            try:
                r = LiveReceiver(port)
            except OSError as e:
                why = ("is in use by another program" if e.errno == errno.EADDRINUSE else f"cannot be opened ({e})")
                r = Unavailable(port, f"Live view unavailable: UDP port {port} on 127.0.0.1 {why}; stop that "
                                      "program or start the dashboard and the recorder with another "
                                      "REENGAGE_LIVE_PORT.")
            except ReengageError as e:
                r = Unavailable(port, f"Live view unavailable: {e}")
            _RECEIVERS[port] = r
        return r


def status_note(snap: dict) -> str:
    """What the page adds to its status line about the stream's health: the datagrams dropped and why
    ("" when none were). ``snap["error"]``, when set, replaces the whole status line."""
    rej = snap.get("rejected") or {}
    total = sum(rej.values())
    if not total:
        return ""
    parts = [f"{n} {label}" for n, label in ((rej.get("unsigned", 0), "unsigned"),
                                              (rej.get("malformed", 0), "malformed"),
                                              (rej.get("failed", 0), "failed")) if n]
    return f" · {total} datagrams dropped ({', '.join(parts)})"


CUE_PATH = "/_reengage/live/cue"
CUE_WAIT_S = 1.0  # a long poll returns empty after this long; the page asks again at once


def port_for(server) -> int:
    """The live UDP port of a dashboard server: ``create_app(live_port=…)``, else ``$REENGAGE_LIVE_PORT`` or 8051."""
    return int(server.config.get("REENGAGE_LIVE_PORT") or live_port())


def install_routes(server, port_of=None) -> None:
    """``GET CUE_PATH?after=<serial>``: the live cue's long poll (JSON rep, or 204 when none came within
    ``CUE_WAIT_S``). The cue bypasses Dash's callback queue, where it waited behind the traces' 200 ms
    figure updates (see docs/dashboard.md, "Cue latency"). ``port_of()`` gives the live UDP port (default:
    :func:`port_for` the server)."""
    import flask

    port_of = port_of or (lambda: port_for(server))

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
