"""analyze's per-channel burst list (``channels.<key>.detected_bursts``) and the note on two channels of one role."""

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from reengage.acquisition.guided import get_protocol, total_s
from reengage.analysis import analyze
from reengage.io import load_recording
from reengage.session_plan import RETEST, RETEST_REAPPLY_S, retest_events, with_retest_gain
from reengage.synth import SubjectProfile, synthesize
from reengage.validation.real import analysis_onsets, burst_onsets, shared_data_dir
from reengage.validation.synthrec import session_recording

DATA = shared_data_dir()


@pytest.fixture(scope="module")
def session():
    """40 s with MVC trials and marked rest: glute max 60 ms after the hamstrings, 0.7 of their %MVC."""
    s = synthesize(SubjectProfile.from_latency_ratio(60.0, 0.7), 40.0, 1000.0, seed=3)
    return s, analyze(session_recording(s))


def test_bursts_are_those_the_reps_are_built_from(session):
    s, out = session
    assert out["normalization"] == "mvc"
    for key, ch in out["channels"].items():
        bursts = ch["detected_bursts"]
        # The list is what the count counts: every burst the detector found, MVC trials included.
        assert len(bursts) == ch["bursts"] > len(out["reps"]) > 0
        onsets = [b["onset_s"] for b in bursts]
        assert onsets == sorted(onsets)
        assert all(b["onset_s"] < b["offset_s"] for b in bursts)
        by_onset = {b["onset_s"]: b for b in bursts}
        for rep in out["reps"]:
            on = rep["onset_s"][key]
            assert on is not None
            # A rep's onset and offset are one of this channel's bursts, rounded the same way.
            assert on in by_onset, (key, on, onsets)
            b = by_onset[on]
            assert b["offset_s"] == rep["offset_s"][key]
            # The burst lies inside the rep window, so its envelope peak cannot exceed the rep's.
            assert 0 < b["peak_pct_mvc"] <= rep["peak_pct_mvc"][key] + 0.1
        # Each simulated activation of the muscle is one detected burst near its true start.
        for t in s.truth["reps"]:
            assert min(abs(o - t["onset_s"][key]) for o in onsets) < 0.1
        assert all(isinstance(b["peak_pct_mvc"], float) and math.isfinite(b["peak_pct_mvc"]) for b in bursts)


def test_without_mvc_peaks_are_null():
    s = synthesize(SubjectProfile.from_latency_ratio(60.0, 0.7), 30.0, 1000.0, seed=4, with_mvc=False)
    out = analyze(session_recording(s))
    assert out["normalization"] == "none"
    bursts = [b for ch in out["channels"].values() for b in ch["detected_bursts"]]
    assert bursts and all(b["peak_pct_mvc"] is None for b in bursts)
    json.dumps(out, allow_nan=False)


def test_a_retest_blocks_bursts_are_normalised_by_its_own_trials():
    """Re-applied electrodes (gain ×1.6 on the hamstrings, ×0.7 on the glutes): each burst's %MVC uses its own
    block's MVC trials, as its rep's does, so both blocks' rep bursts peak alike (one session reference would
    put them 1.6-fold and 0.7-fold apart)."""
    muscles = ["glute_max", "hamstrings"]
    profile = SubjectProfile.from_latency_ratio(-40.0, 0.8)
    length = total_s(get_protocol("prone_hip_extension").steps(muscles, reps=6)) + 2.0
    a = synthesize(profile, length, fs_hz=1000.0, seed=5)
    b = synthesize(profile, length, fs_hz=1000.0, seed=6)
    gap = np.zeros((len(muscles), int(RETEST_REAPPLY_S * 1000)))
    a.emg_mv = np.hstack([a.emg_mv, gap, with_retest_gain(b.emg_mv, 1000.0, 0.0, [0.7, 1.6])])
    a.events = list(a.events) + retest_events(list(b.events), length)
    a.imu = np.zeros((6, a.emg_mv.shape[1] // 10))
    out = analyze(session_recording(a))
    start = next(e.onset_s for e in a.events if e.label == RETEST)
    for key, ch in out["channels"].items():
        by_onset = {x["onset_s"]: x["peak_pct_mvc"] for x in ch["detected_bursts"]}
        blocks = [[], []]
        for rep in out["reps"]:
            peak = by_onset[rep["onset_s"][key]]
            assert peak <= rep["peak_pct_mvc"][key] + 0.1
            blocks[rep["onset_s"][key] >= start].append(peak)
        assert all(len(x) >= 5 for x in blocks)
        assert np.median(blocks[1]) / np.median(blocks[0]) == pytest.approx(1.0, abs=0.25), (key, blocks)


@pytest.mark.skipif(not (DATA / "uci_N03_knee_extension_seated.csv").exists(),
                    reason=f"no real recordings at {DATA} (set $REENGAGE_SHARED_DATA)")
def test_json_bursts_are_the_dsp_verbs_bursts_on_a_real_file():
    """The validation reads its onsets from the JSON now: they are the ones it derived from the dsp verbs
    before (every channel, the quadriceps too), on the file's clock."""
    # The Santuz file's time_s starts at 0.014 s; the UCI seated file has the quadriceps as prime movers.
    for path in (DATA / "santuz2020_ID0012_treadmill_walking.csv", DATA / "uci_N03_knee_extension_seated.csv"):
        rec = load_recording(path)
        from_json = analysis_onsets(analyze(rec), rec.meta["time_s_start"])
        derived = burst_onsets(path)
        assert from_json.keys() == derived.keys()
        for name, onsets in derived.items():
            np.testing.assert_array_equal(from_json[name], onsets, err_msg=f"{path.name} {name}")


@pytest.fixture(scope="module")
def two_hamstrings(tmp_path_factory):
    """A CSV with glute max and two hamstring columns (biceps femoris, then semitendinosus), as the UCI files."""
    s = synthesize(SubjectProfile.from_latency_ratio(60.0, 0.7), 30.0, 1000.0, seed=5, with_mvc=False)
    rows = dict(zip(s.muscles, s.emg_mv))
    df = pd.DataFrame({"time_s": np.arange(s.emg_mv.shape[1]) / 1000.0, "glute_max": rows["glute_max"],
                       "biceps_femoris": rows["hamstrings"], "semitendinosus": 0.5 * rows["hamstrings"]})
    path = tmp_path_factory.mktemp("csv") / "two_hamstrings.csv"
    df.to_csv(path, index=False)
    return path


def _analyze_cli(path, *args):
    done = subprocess.run([sys.executable, "-m", "reengage.cli", "analyze", str(path), "--json", *args],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_two_channels_of_one_role_are_named_in_a_note(two_hamstrings):
    out = _analyze_cli(two_hamstrings)
    chans = out["channels"]
    # The default is unchanged: the first column takes the role.
    assert chans["hamstrings"]["name"] == "biceps_femoris"
    assert chans["semitendinosus"]["role"] == "hamstrings"
    said = [n for n in out["notes"] if "channels have the role hamstrings" in n]
    assert len(said) == 1
    assert "biceps_femoris, the first in column order, is reported as hamstrings" in said[0]
    assert said[0].endswith("To use semitendinosus as hamstrings: --channel hamstrings=semitendinosus")


def test_the_note_s_option_chooses_the_other_column(two_hamstrings):
    out = _analyze_cli(two_hamstrings, "--channel", "hamstrings=semitendinosus")
    chans = out["channels"]
    assert chans["hamstrings"]["name"] == "semitendinosus"
    assert chans["biceps_femoris"]["role"] is None  # the given role is the column's alone
    assert not [n for n in out["notes"] if "channels have the role" in n]
    assert out["reps"] and all(r["onset_s"]["hamstrings"] is not None for r in out["reps"])
