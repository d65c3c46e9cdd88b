"""Guided sessions through the real simulated board: every step is an event at its sample time, cues and
countdowns go to stderr, the timing follows the board's clock at any --sim-speed, and Ctrl-C keeps all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from reengage.acquisition.guided import PROTOCOLS, GuidedSession, get_protocol, total_s
from reengage.analysis import analyze
from reengage.errors import InputError
from reengage.io.recfile import read_recording
from reengage.model import Block, Event

REENGAGE = [sys.executable, "-m", "reengage.cli"]
# rest, then three rounds of 5 s MVC trials with 10 s rests (glute max, hamstrings, glute max, …), then reps.
EXPECTED = [(0.0, "rest")] + [
    (3.0 + 15.0 * k + dt, label)
    for k, m in enumerate(["glute_max", "hamstrings"] * 3)
    for dt, label in ((0.0, f"mvc:{m}"), (5.0, "rest"))
] + [(93.0, "exercise"), (94.0, "rep"), (99.0, "rep")]


class Collect:
    def __init__(self):
        self.items = []

    def handle(self, item):
        self.items.append(item)

    def close(self):
        pass


def test_all_six_protocols_exist_and_unknown_is_refused():
    assert set(PROTOCOLS) == {"prone_hip_extension", "bridge", "clamshell", "side_lying_abduction",
                              "hip_thrust", "single_leg_deadlift"}
    with pytest.raises(InputError, match="--protocol 'plank': unknown"):
        get_protocol("plank")


@pytest.mark.parametrize("block", [1, 8, 37, 250])
def test_steps_follow_the_sample_clock_whatever_the_block_size(block):
    steps = get_protocol("hip_thrust").steps(["glute_max", "hamstrings"], reps=2)
    sink = Collect()
    guide = GuidedSession(steps, 1000.0, [sink], console=_quiet())
    n = int(total_s(steps) * 1000)
    for i in range(0, n, block):
        guide.handle(Block("emg", 500_000 + i, np.zeros((2, min(block, n - i)), np.int16)))
    guide.handle(Event(5.0, 1.0, "rest"))  # a board's own step announcement: the guide's schedule wins
    guide.handle(Event(5.0, 0.0, "cue"))  # anything else passes
    events = [(e.onset_s, e.label) for e in sink.items if isinstance(e, Event)]
    assert events == EXPECTED + [(5.0, "cue")]
    assert guide.done and guide.swallowed == 1
    assert sum(b.n_samples for b in sink.items if isinstance(b, Block)) == n  # every block passed on


def _quiet():
    from rich.console import Console

    return Console(file=open(os.devnull, "w"))


@pytest.mark.slow
def test_guided_clamshell_on_the_simulated_board_at_16x(tmp_path):
    r = subprocess.run(
        [*REENGAGE, "record", "--board", "simulated", "--protocol", "clamshell", "--reps", "2", "--sim-speed", "16",
         "--subject", "P050", "--task", "clamshell", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=90,
    )
    assert r.returncode == 0, r.stderr
    assert "Rest baseline" in r.stderr and "in 3…" in r.stderr and "Rep 2/2" in r.stderr
    assert "protocol complete" in r.stderr
    rec = read_recording(r.stdout.strip())
    assert rec.integrity == "ok" and rec.duration_s == 104.0 and rec.meta["protocol"] == "clamshell"
    assert [(e.onset_s, e.label) for e in rec.events] == EXPECTED
    # The simulated person follows the same schedule on the board's clock: at 16× the guide stays on it.
    result = analyze(rec)
    assert result["normalization"] == "mvc"
    assert len(result["reps"]) == 2
    for rep, start in zip(result["reps"], (94.0, 99.0)):
        for onset in rep["onset_s"].values():
            assert start - 0.2 <= onset <= start + 0.5


@pytest.mark.slow
def test_ctrl_c_ends_a_guided_session_cleanly_and_keeps_everything(tmp_path):
    proc = subprocess.Popen(
        [*REENGAGE, "record", "--board", "simulated", "--protocol", "bridge", "--sim-speed", "20",
         "--out", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if "Rep 1/10" in line:
                os.kill(proc.pid, signal.SIGINT)
                break
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, "".join(seen) + err
    assert "stopped" in err
    rec = read_recording(out.strip())
    assert rec.integrity == "ok"
    labels = [e.label for e in rec.events]
    assert labels[:16] == [lb for _, lb in EXPECTED[:15]] + [labels[15]] and labels[-1] == "stopped"
    assert 94.0 <= rec.duration_s < 144.0  # stopped after the first rep, before the tenth
    assert rec.events[-1].onset_s == pytest.approx(rec.duration_s, abs=0.3)
