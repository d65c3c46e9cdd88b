"""The public dsp verbs chained by hand, as in a notebook, give analyze's numbers exactly: onsets, latency, ratio,
%MVC per rep and the movement onsets, on a session with MVC trials, marked rest, mains hum and an IMU.

The notebook uses the plain forms (``detect_bursts`` computes its own detection envelope, ``noise_corrected_rms``
and ``mvc_reference`` their own moving means, whole (channels, samples) arrays); analyze shares those passes
between steps and runs channels on threads. Any drift between the two shows here as a changed number."""

import numpy as np
import pytest

from reengage.analysis import analyze
from reengage.dsp import (DEFAULT_OPTIONS, AnalysisOptions, EnvelopeOptions, baseline_mask, clean_emg, detect_bursts, find_mains, group_reps,
                          intervals_mask, measure_reps, movement_onsets, movement_segments, mvc_reference,
                          noise_corrected_rms, percent_mvc, resting_power)
from reengage.dsp.onsets import HodgesBuiOptions, PowerBacktrackOptions
from reengage.synth import SubjectProfile, synthesize
from reengage.validation.synthrec import session_recording


@pytest.fixture(scope="module")
def recording():
    prof = SubjectProfile(snr_db=15.0, onset_ms={"hamstrings": 0.0, "glute_max": -30.0})
    return session_recording(synthesize(prof, duration_s=45.0, fs_hz=1000.0, imu_fs_hz=100.0, seed=11),
                             adc_bits=12)


def _events(rec, label, stream=None):
    """The mask of one event label over a stream's samples (a notebook's one-liner)."""
    s = stream or rec.emg
    return intervals_mask(s.n_samples, fs=s.fs_hz, t0_s=s.t0_s,
                          intervals_s=[(e.onset_s, e.duration_s) for e in rec.events if e.label == label])


def _notebook(rec, opts):
    """The chain by hand: clean → detect → baseline → envelope → normalise → group reps → measure reps."""
    fs, n = rec.emg.fs_hz, rec.emg.n_samples
    keys = [c.role for c in rec.emg.channels]
    x = rec.emg.physical()  # (channels, samples), mV
    rest = _events(rec, "rest")
    cleaned = clean_emg(x, fs=fs, lines_hz=find_mains(x, fs=fs).lines_hz)
    bursts = dict(zip(keys, detect_bursts(cleaned, fs=fs, method=opts.method, rest=rest, options=opts.detection)))
    base = baseline_mask(n, fs=fs, rest_mask=rest)[0]
    noise = np.array([resting_power(row, base) for row in cleaned])
    env = noise_corrected_rms(cleaned, fs=fs, window_ms=opts.envelope.window_ms, noise_power=noise).astype(np.float32)
    refs = {k: mvc_reference(cleaned[j], fs=fs, mask=_events(rec, f"mvc:{k}"), window_ms=500.0,
                             noise_power=noise[j]) for j, k in enumerate(keys)}
    mvc_trials = _events(rec, "mvc:glute_max") | _events(rec, "mvc:hamstrings")
    groups = group_reps({k: bursts[k] for k in ("glute_max", "hamstrings")}, _events(rec, "exercise") & ~mvc_trials)
    envs = dict(zip(keys, env))
    return measure_reps(groups, bursts, envs, fs=fs, references=refs), envs, refs


def _movements(rec):
    imu = rec.imu
    phys = imu.physical()
    names = [c.name.lower() for c in imu.channels]
    gyr = phys[[i for i, nm in enumerate(names) if nm.startswith("gyr")]]
    acc = phys[[i for i, nm in enumerate(names) if nm.startswith("acc")]]
    mv = movement_segments(gyr, fs=imu.fs_hz, acc=acc, rest=_events(rec, "rest", imu), axis=0)
    return mv.seconds(imu.fs_hz, imu.t0_s)


def _r(v, nd):
    if v is None or not np.isfinite(v):
        return None
    r = round(float(v), nd)
    return 0.0 if r == 0 else r


@pytest.mark.parametrize("opts", [
    DEFAULT_OPTIONS,
    AnalysisOptions(method="hodges_bui", detection=HodgesBuiOptions(h=4.0)),
    # An envelope window other than the detector's: the detector computes its own detection envelope.
    AnalysisOptions(envelope=EnvelopeOptions(window_ms=150.0), detection=PowerBacktrackOptions(h_onset=3.0)),
], ids=["default", "hodges_bui", "options"])
def test_verbs_by_hand_give_analyzes_numbers(recording, opts):
    out = analyze(recording, options=opts)
    m, envs, refs = _notebook(recording, opts)
    assert len(out["reps"]) == len(m) >= 5
    assert out["normalization"] == "mvc"
    for k, ref in refs.items():
        assert out["channels"][k]["mvc_reference"] == _r(ref, 6)
    movement, _ = movement_onsets(m.start_s, m.end_s, _movements(recording), options=DEFAULT_OPTIONS.reps)
    for r, rep in enumerate(out["reps"]):
        for k in m.keys:
            assert rep["onset_s"][k] == _r(m.onset_s[k][r], 4)
            assert rep["offset_s"][k] == _r(m.offset_s[k][r], 4)
            assert rep["mean_pct_mvc"][k] == _r(m.mean_pct_mvc[k][r], 1)
            assert rep["peak_pct_mvc"][k] == _r(m.peak_pct_mvc[k][r], 1)
        assert rep["onset_latency_ms"] == _r(m.latency_ms[r], 1)
        assert rep["glute_hamstring_ratio"] == _r(m.ratio[r], 3)
        assert rep["coactivation_index"] == _r(m.coactivation_index[r], 1)
        assert rep["movement_onset_s"] == _r(movement[r], 4)
    # percent_mvc of a rep's mean envelope is the rep's mean %MVC.
    a, b = int(m.start[0]), int(m.end[0]) + 1
    mean = float(np.add.reduce(envs["glute_max"][a:b], dtype=np.float64)) / (b - a)
    assert out["reps"][0]["mean_pct_mvc"]["glute_max"] == _r(percent_mvc(mean, refs["glute_max"]), 1)
    assert out["summary"]["median_onset_latency_ms"] == _r(np.nanmedian(m.latency_ms), 1)
