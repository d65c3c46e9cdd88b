"""The live view's receiver against hostile and broken datagrams (issue 13): every malformed variant is dropped
and counted and the receiver keeps working; datagrams not signed with the shared key are ignored; another
process cannot take the port."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import stat
import time

import pytest

from reengage.acquisition import live_protocol as proto
from reengage.acquisition.live import LivePublisher, replay_to_live
from reengage.dashboard import live
from reengage.errors import ReengageError
from test_dashboard_live import free_udp_port

CHANNELS = [{"name": "glute_max", "role": "glute_max", "unit": "mV"},
            {"name": "hamstrings", "role": "hamstrings", "unit": "mV"}]
FS = 1000.0
WAIT_S = 10.0  # generous: only a bound on a wait for the receiver thread, never asserted


@pytest.fixture
def key_dir(tmp_path, monkeypatch):
    d = tmp_path / "run"
    monkeypatch.setenv("REENGAGE_LIVE_KEY_DIR", str(d))
    return d


@pytest.fixture
def rx(key_dir):
    port = free_udp_port()
    r = live.LiveReceiver(port)
    yield r
    r.close()


def _block(start: int, n: int = 50, **over) -> dict:
    msg = {"v": proto.PROTOCOL_VERSION, "session": "S1", "type": "block", "stream": "emg", "fs_hz": FS,
           "start": start, "channels": CHANNELS, "t_ns": 1, "data": [[0.1] * n, [0.2] * n]}
    return {**msg, **over}


def _signed(body: bytes, key: bytes) -> bytes:
    """Any bytes ending in "}" as a correctly signed datagram (what a buggy recorder holding the key could
    send; the signature takes the place of the closing brace, so a signed body always ends with one)."""
    assert body.endswith(b"}")
    return body[:-1] + b',"mac":"' + hmac.new(key, body, hashlib.sha256).hexdigest().encode() + b'"}'


def _send(rx, payload: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(payload, ("127.0.0.1", rx.port))


def _good_stream_gets_a_rep(rx, pub: LivePublisher, start: int) -> dict | None:
    """A well-formed block and rep after whatever came before: the rep must come through (the thread lives)."""
    serial = rx.rep_serial
    pub.block(start, [[0.1] * 50, [0.2] * 50], t_ns=5)
    pub.rep({"rep": 1, "onset_index": {"glute_max": start, "hamstrings": start + 10}, "onset_latency_ms": -10.0,
             "glutes_first": True, "confirmed_index": start + 50, "onset_s": {"glute_max": start / FS}}, 5, start + 50)
    return rx.wait_rep(serial, WAIT_S)


def _nested(depth: int) -> bytes:
    return b'{"v":3,"session":"S1","type":"event","onset_s":' + b"[" * depth + b"]" * depth + b"}"


def dumps(msg) -> str:
    return json.dumps(msg, separators=(",", ":"))


# Each: the datagram's JSON body (signed with the right key: it reaches the schema), a block unless noted.
MALFORMED = {
    "fs_hz a string": dumps(_block(50, fs_hz="1000")),
    "fs_hz zero": dumps(_block(50, fs_hz=0)),
    "fs_hz 1e-9": dumps(_block(50, fs_hz=1e-9)),
    "fs_hz 2e7": dumps(_block(50, fs_hz=2e7)),
    "ragged data": dumps(_block(50, data=[[0.1, 0.2], [0.3]])),
    "NaN in data": dumps(_block(50, data=[[float("nan")] * 3, [0.0] * 3])),
    "Infinity in data": dumps(_block(50, data=[[float("inf")] * 3, [0.0] * 3])),
    "huge start": dumps(_block(10 ** 300)),
    "float start 1e300": dumps(_block(1e300)),
    "negative start": dumps(_block(-5)),
    "strings as data": dumps(_block(50, data=[["a", "b"], ["c", "d"]])),
    "data not a list": dumps(_block(50, data="x")),
    "empty data": dumps(_block(50, data=[[], []])),
    "more samples than a datagram holds": dumps(_block(50, channels=CHANNELS[:1],
                                                            data=[[0] * (proto.MAX_VALUES + 1)])),
    "rows for other channels": dumps(_block(50, data=[[0.1] * 5] * 3)),
    "channels a string": dumps(_block(50, channels="glute")),
    "100 channels": dumps(_block(50, channels=[CHANNELS[0]] * 100, data=[[0.0]] * 100)),
    "unknown type": dumps({"v": 3, "session": "S1", "type": "shell", "cmd": "rm"}),
    "unknown field": dumps(_block(50, extra=1)),
    "no type": dumps({"v": 3, "session": "S1"}),
    "other version": dumps(_block(50, v=2)),
    "two objects in one": dumps({"v": 3}) + dumps({"v": 3}),
    "not JSON": "\x00\xff garbage }",
    "deeply nested": _nested(30_000).decode(),
    "huge integer text": '{"v":3,"session":"S1","type":"block","start":' + "9" * 5000 + "}",
    "rep a string": dumps({"v": 3, "session": "S1", "type": "rep", "rep": "x", "onset_index": {},
                                "confirmed_index": 0, "block_end_index": 0, "t_ns": 0}),
    "step with ragged env": dumps({"v": 3, "session": "S1", "type": "step", "end": 60, "env_start": 0,
                                        "env": [[1.0], [1.0, 2.0]], "t_ns": 0}),
    "step with thresholds for 5 channels": dumps({"v": 3, "session": "S1", "type": "step", "end": 60,
                                                       "env_start": 0, "env": [[1.0], [1.0]], "t_ns": 0,
                                                       "thresholds": [1.0] * 5, "detections": []}),
    "detection of a bogus kind": dumps({"v": 3, "session": "S1", "type": "step", "end": 60, "env_start": 0,
                                             "env": [[1.0], [1.0]], "t_ns": 0, "detections": [[0, "x", 1, 2]]}),
    "event with a text onset": dumps({"v": 3, "session": "S1", "type": "event", "onset_s": "x",
                                           "duration_s": 1, "label": "rest"}),
    "status of an unknown state": dumps({"v": 3, "session": "S1", "type": "status", "state": "owned"}),
    "a 10 kB subject": dumps({"v": 3, "session": "S1", "type": "status", "state": "recording",
                                   "subject": "x" * 10_000}),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_a_malformed_datagram_is_dropped_counted_and_the_stream_goes_on(rx, name):
    pub = LivePublisher(rx.port, session="S1", channels=CHANNELS, fs_hz=FS)
    pub.status("recording", subject="P001", task="t")
    assert _good_stream_gets_a_rep(rx, pub, 0) is not None
    ring = rx.raw.data.shape
    _send(rx, _signed(MALFORMED[name].encode("utf-8", "surrogateescape"), rx.key))
    rep = _good_stream_gets_a_rep(rx, pub, 100)
    assert rep is not None and rep["block_end_index"] == 150  # the receiver thread is alive and storing
    assert rx.thread.is_alive()
    assert rx.rejected["malformed"] == 1 and rx.rejected["failed"] == 0  # the schema caught it, not luck
    assert rx.raw.data.shape == ring and rx.session == "S1"  # nothing resized, nothing reset
    snap = rx.snapshot(n_px=50)
    assert snap["samples_lost"] == 50  # the good blocks [0, 50) and [100, 150)
    assert "1 datagrams dropped (1 malformed)" in live.status_note(snap)


def test_after_every_malformed_variant_a_replay_still_produces_reps(rx, tmp_path):
    from dash_testdata import demo_like_sessions, write_session
    from reengage.io.recfile import read_recording

    pub = LivePublisher(rx.port, session="S1", channels=CHANNELS, fs_hz=FS)
    pub.status("recording")
    assert _good_stream_gets_a_rep(rx, pub, 0) is not None  # a session the session-bound checks apply to
    for body in MALFORMED.values():
        _send(rx, _signed(body.encode("utf-8", "surrogateescape"), rx.key))
    path, truth = write_session(tmp_path, "P001", "prone_hip_extension", demo_like_sessions()[-1], duration_s=24.0)
    replay_to_live(read_recording(path), port=rx.port, speed=8.0)
    deadline = time.monotonic() + WAIT_S
    while rx.snapshot(n_px=50)["state"] != "stopped" and time.monotonic() < deadline:
        time.sleep(0.02)
    snap = rx.snapshot(n_px=50)
    assert rx.rejected["malformed"] == len(MALFORMED) and rx.rejected["failed"] == 0
    assert len([r for r in snap["reps"] if r["glute_onset_s"] > 12.5]) == len(truth["reps"])


def test_a_datagram_without_the_key_is_ignored(rx, tmp_path):
    pub = LivePublisher(rx.port, session="S1", channels=CHANNELS, fs_hz=FS)
    pub.status("recording", subject="P001", task="t")
    assert _good_stream_gets_a_rep(rx, pub, 0) is not None
    forged_rep = {"v": 3, "session": "S1", "type": "rep", "rep": 99, "onset_index": {}, "confirmed_index": 0,
                  "block_end_index": 0, "t_ns": 0}
    forged_status = {"v": 3, "session": "EVIL", "type": "status", "state": "recording", "subject": "forged"}
    other_key = b"k" * 32
    for payload in (json.dumps(forged_rep).encode(),                          # no HMAC at all
                    proto.seal(forged_rep, other_key),                          # signed with another key
                    proto.seal(forged_status, other_key),
                    proto.seal(forged_rep, rx.key)[:-10] + b'0000000"}',     # a tampered HMAC
                    proto.seal({**forged_rep, "rep": 1}, rx.key).replace(b'"rep":1', b'"rep":9')):  # tampered body
        _send(rx, payload)
    assert _good_stream_gets_a_rep(rx, pub, 50) is not None
    assert rx.rejected == {"unsigned": 5, "malformed": 0, "failed": 0}
    assert [r["rep"] for r in rx.reps] == [1, 1] and rx.session == "S1" and rx.status["subject"] == "P001"
    assert "5 datagrams dropped (5 unsigned)" in live.status_note(rx.snapshot(n_px=50))


def test_the_key_is_private_and_shared_by_whichever_starts_first(key_dir):
    port = free_udp_port()
    pub = LivePublisher(port)  # the recorder first: it makes the key
    path = key_dir / f"live-{port}.key"
    assert stat.S_IMODE(os.stat(key_dir).st_mode) == 0o700 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    rx = live.LiveReceiver(port)
    try:
        assert rx.key == pub.key and len(rx.key) == proto.KEY_BYTES
    finally:
        rx.close()
    assert proto.live_key(free_udp_port()) != pub.key  # one key per port


def test_a_key_others_can_read_is_refused_and_the_recorder_goes_on_without_the_view(key_dir):
    port = free_udp_port()
    path = key_dir / f"live-{port}.key"
    proto.live_key(port)
    os.chmod(path, 0o644)
    with pytest.raises(ReengageError, match="private"):
        proto.live_key(port)
    pub = LivePublisher(port, session="S", channels=CHANNELS, fs_hz=FS)
    pub.block(0, [[0.0], [0.0]])  # never raises: the recording must not depend on the view
    assert pub.key is None and pub.dropped == 1 and "private" in pub.error
    snap = live.receiver(port).snapshot()
    assert snap["channels"] == [] and "private" in snap["error"]


def test_no_other_process_can_take_the_port(rx):
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # what an eavesdropper would try
    try:
        with pytest.raises(OSError):
            other.bind(("127.0.0.1", rx.port))
    finally:
        other.close()


def test_a_port_already_taken_is_said_on_the_page_in_one_line(key_dir):
    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    squatter.bind(("127.0.0.1", 0))
    port = squatter.getsockname()[1]
    try:
        with pytest.raises(OSError):
            live.LiveReceiver(port)
        r = live.receiver(port)
        snap = r.snapshot()
        assert snap["channels"] == [] and snap["state"] == "unavailable"
        assert f"UDP port {port}" in snap["error"] and "in use by another program" in snap["error"]
        assert "\n" not in snap["error"]
        assert r.wait_rep(-1, 0.01) is None
    finally:
        squatter.close()


ODD_VALUES = [None, True, -1, 0, 1e-9, 2e7, 1e300, 2 ** 64, "1000", "", "x" * 300, [], {}, [[1.0]], [[]],
              [[1.0, 2.0], [3.0]], {"glute_max": "x"}, [[0, "onset", -1, 2]], [None] * 20]


def test_schema_aware_fuzz_never_reaches_the_last_resort(rx):
    """Valid messages of every type with one or two fields replaced by odd values, fed to the receiver:
    each is stored or dropped as malformed; none gets past the schema to fail later, and the page's snapshot
    still works."""
    import random

    rng = random.Random(13)
    base = {"v": proto.PROTOCOL_VERSION, "session": "S1"}
    good = [
        {**base, "type": "status", "state": "recording", "subject": "P1", "task": "t", "fs_hz": FS,
         "channels": CHANNELS},
        _block(0),
        {**base, "type": "event", "onset_s": 1.0, "duration_s": 2.0, "label": "rest"},
        {**base, "type": "step", "end": 50, "env_start": 0, "env": [[0.1] * 5, [0.2] * 5], "t_ns": 1, "gauge": 3.0,
         "gauge_unit": "%MVC", "thresholds": [0.1, 0.2], "baseline": "rest", "mains_hz": 50.0,
         "mvc_reference": {"glute_max": 1.0}, "samples_lost": 0, "display_dropped": 0, "detections": [[0, "onset", 3, 9]]},
        {**base, "type": "rep", "rep": 1, "onset_index": {"glute_max": 3}, "confirmed_index": 50, "block_end_index": 50,
         "t_ns": 1, "onset_s": {"glute_max": 0.003}, "onset_latency_ms": -4.0, "glutes_first": True},
    ]
    for m in good:
        rx.receive(proto.seal(m, rx.key))
    assert rx.rejected == {"unsigned": 0, "malformed": 0, "failed": 0} and len(rx.reps) == 1
    for i in range(3000):
        m = dict(rng.choice(good))
        for k in rng.sample(sorted(m), rng.choice((1, 2))):
            m[k] = rng.choice(ODD_VALUES)
        if rng.random() < 0.5 and m.get("type") == "block":
            m["start"] = 50 * (i + 1)  # also past the session's first block
        rx.receive(_signed(json.dumps(m, separators=(",", ":")).encode(), rx.key))
    assert rx.rejected["failed"] == 0 and rx.rejected["malformed"] > 1000
    rx.receive(proto.seal(good[0], rx.key))
    rx.receive(proto.seal(_block(10 ** 6), rx.key))
    snap = rx.snapshot(n_px=50)
    assert len(snap["thresholds"]) == len(snap["channels"]) == 2 and snap["t_end_s"] > 0
