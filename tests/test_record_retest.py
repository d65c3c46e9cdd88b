"""``reengage record --protocol NAME --retest --mvc-position MUSCLE=POSITION`` on the simulated board: the guide
writes the retest block's events and the recording's meta names each muscle's MVC test position."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from reengage.io.recfile import read_recording

REENGAGE = [sys.executable, "-m", "reengage.cli"]


def run(*args):
    return subprocess.run([*REENGAGE, *args], capture_output=True, text=True, timeout=300)


def test_retest_block_and_mvc_positions_reach_the_recording_and_its_analysis(tmp_path):
    r = run("record", "--board", "simulated", "--protocol", "bridge", "--reps", "2", "--retest",
            "--mvc-position", "glute_max=standing_squeeze", "--subject", "P7", "--sim-speed", "50",
            "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    rec = read_recording(Path(r.stdout.strip()))
    assert rec.meta["mvc_positions"] == {"glute_max": "standing_squeeze", "hamstrings": "prone_knee_flexion_45"}
    assert rec.meta["retest"] is True
    labels = [e.label for e in rec.events]
    assert labels.count("retest:reapply") == 1 and labels.count("mvc:glute_max") == 6
    block = next(e for e in rec.events if e.label == "retest")
    inside = [e.label for e in rec.events if block.onset_s <= e.onset_s < block.onset_s + block.duration_s]
    assert inside.count("mvc:hamstrings") == 3 and inside.count("rep") == 2
    doc = json.loads(run("analyze", r.stdout.strip(), "--json").stdout)
    assert doc["mvc_positions"] == rec.meta["mvc_positions"]
    assert len(doc["summary"]["retest"]["onset_latency_ms"]) == 2


def test_retest_needs_a_protocol_and_positions_name_recorded_muscles(tmp_path):
    r = run("record", "--board", "simulated", "--retest", "--duration", "1", "--out", str(tmp_path))
    assert r.returncode == 2 and "--protocol" in r.stderr and r.stdout == ""
    r = run("record", "--board", "simulated", "--protocol", "bridge", "--mvc-position", "glute_med=side_lying",
            "--duration", "1", "--out", str(tmp_path))
    assert r.returncode == 2 and "not among the recorded muscles" in r.stderr


def test_cued_reps_and_reference_holds_reach_the_recording_and_its_analysis(tmp_path):
    r = run("record", "--board", "simulated", "--protocol", "bridge", "--reps", "4", "--cue-reps", "2",
            "--reference", "--subject", "P8", "--sim-speed", "50", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    rec = read_recording(Path(r.stdout.strip()))
    labels = [e.label for e in rec.events]
    assert labels.count("cue:on") == 1 and labels.count("cue:off") == 1
    assert labels.count("ref:glute_max") == 1 and labels.count("ref:hamstrings") == 1
    cue_on = next(e for e in rec.events if e.label == "cue:on")
    cued = [e for e in rec.events if e.label == "rep" and cue_on.onset_s <= e.onset_s < cue_on.onset_s + cue_on.duration_s]
    assert len(cued) == 2  # the last two of four
    doc = json.loads(run("analyze", r.stdout.strip(), "--json").stdout)
    assert "cue_effect" in doc["summary"] and "median_mean_pct_ref" in doc["summary"]


def test_cue_and_reference_steps_need_a_protocol(tmp_path):
    for flag in (["--cue-reps", "2"], ["--reference"]):
        r = run("record", "--board", "simulated", *flag, "--duration", "1", "--out", str(tmp_path))
        assert r.returncode == 2 and "--protocol" in r.stderr and r.stdout == "", r.stderr
    r = run("record", "--board", "simulated", "--protocol", "bridge", "--reps", "2", "--cue-reps", "3",
            "--duration", "1", "--out", str(tmp_path))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
