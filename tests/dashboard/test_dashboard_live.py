"""The live interface: a replay runs the live chain and publishes over UDP loopback; the receiver keeps
bounded rolling buffers of what arrives and shows the reps with the right firing order."""

from __future__ import annotations

import socket
import time

import pytest

from dash_testdata import demo_like_sessions, write_session
from reengage.acquisition.live import replay_to_live
from reengage.dashboard import live
from reengage.io.recfile import read_recording


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("which,glutes_first", [(0, False), (-1, True)])
def test_replay_to_receiver_finds_reps_in_bounded_memory(tmp_path, which, glutes_first):
    s = demo_like_sessions()[which]  # first demo session: glutes late (+85 ms); last: glutes first (−40 ms)
    path, truth = write_session(tmp_path, "P001", "prone_hip_extension", s, duration_s=24.0)
    rec = read_recording(path)
    port = free_udp_port()
    rx = live.LiveReceiver(port)
    pub = replay_to_live(rec, port=port, speed=8.0)
    deadline = time.monotonic() + 3.0
    while rx.snapshot(n_px=50)["state"] != "stopped" and time.monotonic() < deadline:
        time.sleep(0.02)
    snap = rx.snapshot(n_px=300)
    assert pub.dropped == 0 and snap["samples_lost"] == 0
    assert snap["t_end_s"] == pytest.approx(rec.duration_s, abs=0.06)
    assert rx.raw.data.shape == rx.env.data.shape == (2, int(live.WINDOW_S * rec.fs_hz))  # the rings never grow
    assert snap["env"].shape[0] == 2 and snap["t"].size <= 600
    assert snap["baseline"] == "rest" and len(snap["thresholds"]) == 2
    exercise = [r for r in snap["reps"] if r["glute_onset_s"] > 12.5]  # after the MVC trials
    assert len(exercise) == len(truth["reps"])
    assert all(r["glutes_first"] is glutes_first for r in exercise)
    for r, t in zip(exercise, truth["reps"]):
        assert r["onset_latency_ms"] == pytest.approx(t["onset_latency_ms"], abs=40)
    rx.sock.close()
