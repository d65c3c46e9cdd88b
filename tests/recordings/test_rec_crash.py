"""``kill -9`` of a real ``reengage record`` process (simulated board behind a pty) at random moments:
``info`` and ``analyze`` recover everything up to the last second, marked ``"integrity": "recovered"``,
and the recovered samples are exactly the ones the board sent."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from reengage.acquisition.boards import load_board
from reengage.acquisition.simboard import board_samples, profile_from_board
from reengage.io import load_recording
from reengage.io.recfile import read_recording

REENGAGE = [sys.executable, "-m", "reengage.cli"]
DURATION_S = 10.0
WINDOWS = [(0.2, 0.6), (1.2, 2.2), (2.5, 4.0)]  # wall seconds after streaming began: early, middle, late


def _kill_recorder_at(tmp_path, after_s: float) -> tuple[str, float]:
    """Start a recording, SIGKILL the recorder ``after_s`` wall seconds after it started streaming.
    Returns the file and the wall seconds the board had been streaming when the recorder died."""
    out = tmp_path / f"kill{after_s:.2f}"
    proc = subprocess.Popen(
        [*REENGAGE, "record", "--board", "simulated", "--duration", str(DURATION_S), "--subject", "P077",
         "--out", str(out), "--sim-seed", "7"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # its own process group: the board process it starts can be ended with it
    )
    try:
        line = proc.stderr.readline()  # "recording simulated on /dev/pts/N → PATH": START was sent
        t_start = time.monotonic()
        assert "recording" in line, line + proc.stderr.read()
        time.sleep(after_s)
        os.kill(proc.pid, signal.SIGKILL)
        streamed_s = time.monotonic() - t_start
        proc.wait(5)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the simulated board this recorder started
        except ProcessLookupError:
            pass
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    files = list(out.rglob("*.rgr"))
    assert len(files) == 1
    return str(files[0]), streamed_s


@pytest.fixture(scope="module")
def truth():
    board = load_board("simulated")
    samples, _ = board_samples(board, profile_from_board(board), DURATION_S + 2.0 + 1.0, 7)
    return samples


@pytest.mark.slow
@pytest.mark.parametrize("window", WINDOWS)
def test_kill_9_keeps_all_but_the_last_second(tmp_path, truth, window):
    after = random.Random(hash(window)).uniform(*window)
    path, streamed_s = _kill_recorder_at(tmp_path, after)

    if window == WINDOWS[-1]:  # once through the command line itself; in process otherwise (same code)
        r = subprocess.run([*REENGAGE, "info", path, "--json"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        info = json.loads(r.stdout)
    else:
        info = json.loads(json.dumps(load_recording(path).info()))
    assert info["integrity"] == "recovered", info["problems"]
    assert any("END_" in p or "incomplete" in p for p in info["problems"])
    # The brief: everything up to the last second (the writer syncs every 0.5 s).
    assert info["duration_s"] >= streamed_s - 1.0, (info["duration_s"], streamed_s, after)
    assert info["duration_s"] <= streamed_s + 0.5
    assert info["gaps"] == []

    rec = read_recording(path)
    n = rec.emg.n_samples
    assert np.array_equal(rec.emg.data, truth["emg"][:, :n])  # exactly what the board sent, in place
    if rec.imu is not None and rec.imu.n_samples:
        k = rec.imu.first_sample
        assert np.array_equal(rec.imu.data, truth["imu"][:, k : k + rec.imu.n_samples])
    assert all(0 <= e.onset_s <= n / rec.fs_hz + 0.01 for e in rec.events)

    if n >= 2000:  # the analysis needs a couple of seconds of signal to say anything
        from reengage.analysis import analyze  # in process: the CLI path is the same load_recording

        result = analyze(load_recording(path))
        assert result["duration_s"] == pytest.approx(info["duration_s"], abs=1e-3)
        assert json.dumps(result, allow_nan=False)
