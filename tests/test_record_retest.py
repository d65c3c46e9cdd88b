"""``reengage record --protocol NAME --retest --mvc-position MUSCLE=POSITION`` on the simulated board: the guide
writes the retest block's events and the recording's meta names each muscle's MVC test position."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_the_simulated_person_performs_the_retest_block(tmp_path):
    """A simulated ``record --retest``: the second block's MVC trials and reps are really performed, through
    re-applied electrodes (sim seed 4: hamstrings ×1.24, glute max ×0.92, so a ratio normalised by the first
    block's MVC would be 26 % low), and each block normalised by its own trials gives the profile's ratio."""
    r = run("record", "--board", "simulated", "--protocol", "bridge", "--reps", "6", "--retest", "--subject", "P9",
            "--sim-speed", "50", "--sim-seed", "4", "--sim", "glute_hamstring_ratio=0.8", "--sim", "onset_latency_ms=-40",
            "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    rec = read_recording(Path(r.stdout.strip()))
    block = next(e for e in rec.events if e.label == "retest")
    reapply = next(e for e in rec.events if e.label == "retest:reapply")
    emg, fs = rec.streams["emg"], rec.streams["emg"].fs_hz
    quiet = emg.data[:, int((reapply.onset_s + 5) * fs):int((reapply.onset_s + reapply.duration_s - 5) * fs)]
    trial = next(e for e in rec.events if e.label == "mvc:hamstrings" and e.onset_s > block.onset_s)
    work = emg.data[:, int((trial.onset_s + 1) * fs):int((trial.onset_s + 4) * fs)]
    h = [c.role for c in emg.channels].index("hamstrings")
    assert work[h].std() > 8 * quiet[h].std()  # an MVC where the trial is, rest while the electrodes are re-applied
    doc = json.loads(run("analyze", r.stdout.strip(), "--json").stdout)
    ratio, latency = doc["summary"]["retest"]["glute_hamstring_ratio"], doc["summary"]["retest"]["onset_latency_ms"]
    assert ratio == pytest.approx([0.8, 0.8], rel=0.12)
    assert latency == pytest.approx([-40.0, -40.0], abs=20.0)
    assert doc["summary"]["reps"] == 12


def test_the_simulated_person_answers_the_cue_and_holds_the_reference(tmp_path):
    """Cued reps fire glute max earlier and stronger; a ref:<muscle> hold is a low steady level (15 %MVC), so a
    rep at 32 / 40 %MVC is about 2–3 times it."""
    r = run("record", "--board", "simulated", "--protocol", "bridge", "--reps", "8", "--cue-reps", "4",
            "--reference", "--subject", "P10", "--sim-speed", "50", "--sim", "glute_hamstring_ratio=0.8",
            "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    summary = json.loads(run("analyze", r.stdout.strip(), "--json").stdout)["summary"]
    cue = summary["cue_effect"]
    assert cue["cued_reps"] == cue["uncued_reps"] == 4
    assert cue["median_glute_hamstring_ratio_cued"] > 1.25 * cue["median_glute_hamstring_ratio_uncued"]
    assert cue["median_onset_latency_ms_cued"] < cue["median_onset_latency_ms_uncued"] - 20.0
    for muscle, pct in summary["median_mean_pct_ref"].items():
        assert 120.0 < pct < 400.0, (muscle, pct)
