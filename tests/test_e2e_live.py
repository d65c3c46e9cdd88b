"""`reengage record` feeds the dashboard's Live page while it records (dashboard/LIVE.md)."""

import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from reengage.dashboard.live import LiveReceiver


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_record_publishes_physical_units_and_reps_to_live_view(tmp_path):
    port = free_udp_port()
    rx = LiveReceiver(port)
    env = {**os.environ, "REENGAGE_LIVE_PORT": str(port)}
    r = subprocess.run(
        [sys.executable, "-m", "reengage.cli", "record", "--board", "simulated", "--duration", "10",
         "--sim-speed", "2", "--out", str(tmp_path), "--subject", "P007",
         "--sim", "onset_latency_ms=90"],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 3
    while rx.snapshot()["state"] != "stopped" and time.monotonic() < deadline:
        time.sleep(0.05)
    snap = rx.snapshot()
    assert snap["state"] == "stopped" and snap["subject"] == "P007"
    assert [c["role"] for c in snap["channels"]] == ["glute_max", "hamstrings"]
    raw = np.asarray(snap["raw"], dtype=float)
    # mV at the electrodes (MyoWare RAW gain 200), not ADC counts around 511
    assert np.nanmax(np.abs(raw)) < 10.0 and np.nanmax(np.abs(raw)) > 0.05
    assert snap["samples_lost"] == 0
    assert snap["t_end_s"] == pytest.approx(10.0, abs=0.05)
    # One rep at 4 s: hamstrings first, glutes about 90 ms later
    assert len(snap["reps"]) >= 1
    assert 40 < snap["reps"][0]["onset_latency_ms"] < 140
    assert snap["reps"][0]["glutes_first"] is False
