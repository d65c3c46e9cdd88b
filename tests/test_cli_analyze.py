"""`reengage analyze` as other tools call it: the analysis.md JSON on stdout, exit 2 and one line on bad input."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from reengage.synth import SubjectProfile, synthesize

REENGAGE = [sys.executable, "-m", "reengage.cli"]


def run(*args):
    return subprocess.run([*REENGAGE, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def known_csv(tmp_path_factory):
    """60 s at 1 kHz: glute max fires 70 ms after the hamstrings at 0.6 of their %MVC, as an Arduino
    would log it (10-bit ADC counts around mid-rail), plus the truth."""
    profile = SubjectProfile.from_latency_ratio(70.0, 0.6, snr_db=20.0)
    s = synthesize(profile, duration_s=60.0, fs_hz=1000.0, seed=7, with_mvc=False)
    counts = np.round(511.5 + s.emg_mv / 0.0244).clip(0, 1023)
    path = tmp_path_factory.mktemp("csv") / "session.csv"
    df = pd.DataFrame({"time_s": np.arange(counts.shape[1]) / 1000.0})
    for m, row in zip(s.muscles, counts):
        df["biceps_femoris" if m == "hamstrings" else m] = row.astype(int)
    df.to_csv(path, index=False)
    return path, s.truth


def test_analyze_csv_matches_truth(known_csv):
    path, truth = known_csv
    r = run("analyze", str(path), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["fs_hz"] == 1000.0
    assert abs(out["duration_s"] - 60.0) < 0.01
    assert out["normalization"] == "none"
    # Channels are reported under their muscle role; the column's own name is kept inside.
    assert set(out["channels"]) == {"glute_max", "hamstrings"}
    assert out["channels"]["hamstrings"]["name"] == "biceps_femoris"
    assert out["channels"]["hamstrings"]["role"] == "hamstrings"
    # A clean 20 dB recording with no artefacts: every rep is found and none is excluded.
    assert len(out["reps"]) == len(truth["reps"])
    assert out["summary"]["reps"] == len(truth["reps"])
    onset_err, lat_err = [], []
    for rep, true in zip(out["reps"], truth["reps"]):
        for m in ("glute_max", "hamstrings"):
            onset_err.append(abs(rep["onset_s"][m] - true["onset_s"][m]) * 1000)
        lat_err.append(abs(rep["onset_latency_ms"] - true["onset_latency_ms"]))
        assert rep["firing_order"][0] == "hamstrings"
    # The targets for SNR >= 12 dB: median |onset error| <= 10 ms, p90 <= 25 ms.
    assert np.median(onset_err) <= 10 and np.percentile(onset_err, 90) <= 25, onset_err
    assert max(lat_err) <= 30, lat_err
    true_median = np.median([t["onset_latency_ms"] for t in truth["reps"]])
    assert abs(out["summary"]["median_onset_latency_ms"] - true_median) < 10
    assert out["summary"]["glute_first_fraction"] == 0.0


def test_latency_error_over_several_sessions():
    """Latency accuracy pooled over three simulated Arduino sessions (33 reps), scored as the validation
    suite scores it. The issue's goal is a 5 ms median; measured 6-8 ms at 1 kHz (see the DSP closing
    note), so this guards against regressions beyond 10 ms."""
    from reengage.analysis import analyze
    from reengage.validation.synthrec import session_recording

    errors = []
    for seed in (7, 8, 9):
        profile = SubjectProfile.from_latency_ratio(70.0, 0.6, snr_db=20.0)
        session = synthesize(profile, duration_s=60.0, fs_hz=1000.0, seed=seed, with_mvc=False)
        out = analyze(session_recording(session, adc_bits=10))
        assert len(out["reps"]) == len(session.truth["reps"])
        for rep, true in zip(out["reps"], session.truth["reps"]):
            errors.append(abs(rep["onset_latency_ms"] - true["onset_latency_ms"]))
    assert len(errors) == 33
    assert np.median(errors) <= 10, sorted(errors)


def test_ratio_uses_mvc_values(known_csv):
    """With equal MVC references the %MVC ratio is the raw amplitude ratio; halving glute max's MVC
    doubles it (the ratio is each muscle over its own MVC)."""
    path, truth = known_csv
    a = json.loads(run("analyze", str(path), "--json", "--mvc", "glute_max=10", "--mvc", "hamstrings=10").stdout)
    b = json.loads(run("analyze", str(path), "--json", "--mvc", "glute_max=5", "--mvc", "hamstrings=10").stdout)
    assert a["normalization"] == "mvc" and a["normalization_source"] == "given"
    ra = a["summary"]["median_glute_hamstring_ratio"]
    rb = b["summary"]["median_glute_hamstring_ratio"]
    assert rb == pytest.approx(2 * ra, rel=0.01)
    # Raw amplitudes: glute plateau 0.6 x 24 %MVC of 0.6 mV vs hamstrings 40 % of 0.8 mV.
    true_amp_ratio = np.median([t["glute_hamstring_ratio"] for t in truth["reps"]]) * 0.6 / 0.8
    assert ra == pytest.approx(true_amp_ratio, rel=0.12)


def one_line_error(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_missing_file(tmp_path):
    one_line_error(run("analyze", str(tmp_path / "nope.csv"), "--json"), "nope.csv", "no such file")


def test_empty_csv(tmp_path):
    p = tmp_path / "empty.csv"
    p.write_text("")
    one_line_error(run("analyze", str(p), "--json"), "empty.csv", "empty")


def test_no_time_column(tmp_path):
    p = tmp_path / "notime.csv"
    p.write_text("t,glute_max,hamstrings\n0,1,2\n0.001,1,2\n")
    one_line_error(run("analyze", str(p), "--json"), "notime.csv", "time_s")


def test_non_monotonic_time_names_the_line(tmp_path):
    p = tmp_path / "back.csv"
    p.write_text("time_s,glute_max,hamstrings\n0,1,2\n0.001,1,2\n0.0005,1,2\n")
    one_line_error(run("analyze", str(p), "--json"), "back.csv", "line 4", "time_s")


def test_no_emg_channel(tmp_path):
    p = tmp_path / "imu_only.csv"
    p.write_text("time_s,acc_x\n0,1\n0.01,1\n")
    one_line_error(run("analyze", str(p), "--json"), "imu_only.csv", "no EMG channel")


def test_bad_channel_mapping(tmp_path, known_csv):
    path, _ = known_csv
    one_line_error(run("analyze", str(path), "--channel", "glute_max=EMG9"), "EMG9")


def test_shipped_example_csv_analyses_as_documented():
    """The example in recordings/examples (README) says glute max fires ~75 ms after the hamstrings."""
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "recordings/examples/arduino_prone_hip_extension.csv"
    out = json.loads(run("analyze", str(example), "--json").stdout)
    assert out["summary"]["reps"] == 2
    assert 45 <= out["summary"]["median_onset_latency_ms"] <= 95
    assert out["summary"]["glute_first_fraction"] == 0.0
