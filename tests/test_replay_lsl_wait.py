"""``replay --lsl --lsl-wait 0`` starts at once when nothing listens (a script that does not want the wait)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

pytest.importorskip("pylsl")

REENGAGE = [sys.executable, "-m", "reengage.cli"]


def test_lsl_wait_zero_does_not_wait_for_an_inlet(tmp_path):
    rec = subprocess.run([*REENGAGE, "record", "--board", "simulated", "--duration", "2", "--sim-speed", "20",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert rec.returncode == 0, rec.stderr
    t0 = time.monotonic()
    r = subprocess.run([*REENGAGE, "replay", rec.stdout.strip(), "--speed", "max", "--lsl", "--lsl-wait", "0",
                        "--no-live"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    said = " ".join(r.stderr.split())  # rich wraps long lines
    assert "starting without waiting for an inlet" in said and "no inlet connected" not in said
    assert time.monotonic() - t0 < 9.0  # the default would have waited 10 s for an inlet that never comes
