"""The generator's real-world options (issue 14): each off by default, each doing what it says."""

import numpy as np
from scipy import signal

from reengage.synth import SubjectProfile, synthesize


def _session(seed=1, **kw):
    return synthesize(SubjectProfile(snr_db=20.0, **kw), duration_s=40.0, seed=seed, with_mvc=False)


def _band(x, lo, hi, fs=1000.0):
    return signal.sosfiltfilt(signal.butter(4, [lo, hi], btype="band", fs=fs, output="sos"), x, axis=-1)


def test_defaults_are_off():
    base = _session()
    same = _session(crosstalk=0.0, ecg_rel=0.0, motion_lf_rel=0.0, noise_scale=1.0)
    assert np.array_equal(base.emg_mv, same.emg_mv)


def test_crosstalk_correlates_the_channels():
    clean, mixed = _session(), _session(crosstalk=0.3)
    r0 = abs(np.corrcoef(clean.emg_mv)[0, 1])
    r1 = np.corrcoef(mixed.emg_mv)[0, 1]
    assert r0 < 0.05
    assert r1 > 0.2


def test_ecg_only_on_trunk_leads_and_above_20_hz():
    p = dict(onset_ms={"hamstrings": 0.0, "glute_max": 40.0, "erector_spinae": -20.0},
             pct_mvc={"hamstrings": 40.0, "glute_max": 30.0, "erector_spinae": 20.0})
    clean, ecg = _session(**p), _session(ecg_rel=2.0, **p)
    diff = _band(ecg.emg_mv - clean.emg_mv, 20.0, 450.0)
    es = ecg.muscles.index("erector_spinae")
    assert np.allclose(diff[[i for i in range(3) if i != es]], 0.0)
    # One R wave per beat survives the 20–450 Hz band: about 72 a minute.
    peaks, _ = signal.find_peaks(np.abs(diff[es]), height=0.5 * np.abs(diff[es]).max(), distance=400)
    assert 40 <= peaks.size <= 56


def test_low_frequency_motion_sits_below_20_hz_during_movement():
    clean, moved = _session(), _session(motion_lf_rel=1.5)
    d = moved.emg_mv - clean.emg_mv
    low = np.mean(_band(d, 1.0, 19.0) ** 2)
    assert low / np.mean(d ** 2) > 0.8
    # Before the first rep (the leg still) nothing is added.
    first = min(moved.truth["reps"][0]["onset_s"].values())
    assert np.allclose(d[:, : int((first - 0.2) * 1000)], 0.0)


def test_retest_changes_recording_not_physiology():
    p = SubjectProfile()
    q = p.retest(np.random.default_rng(0))
    assert q.onset_ms == p.onset_ms and q.pct_mvc == p.pct_mvc
    assert all(0.5 <= v <= 1.0 for v in q.mvc_effort.values())
    assert set(q.gain) == set(p.muscles) and q.noise_scale > 0
    a, b = synthesize(p, duration_s=40.0, seed=2), synthesize(q, duration_s=40.0, seed=2)
    # The truth (physiology) is the same; the recorded amplitudes differ by the electrode factors.
    assert [r["glute_hamstring_ratio"] for r in a.truth["reps"]] == [r["glute_hamstring_ratio"] for r in b.truth["reps"]]
    assert not np.allclose(a.emg_mv, b.emg_mv)
