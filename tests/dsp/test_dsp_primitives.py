"""Invariants of the pure DSP steps: filters, envelopes, baseline, detectors, quality."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from reengage.analysis import analyze
from reengage.dsp import filters
from reengage.dsp.baseline import quietest_window
from reengage.dsp.envelope import linear_envelope, moving_rms, tkeo
from reengage.dsp.onsets import METHODS, detect_bursts
from reengage.dsp.quality import clipped_mask
from reengage.validation.synthrec import session_recording
from reengage.synth import SubjectProfile, synthesize


def _noise(n=4000, fs=1000.0, seed=0):
    return np.random.default_rng(seed).standard_normal(n)


def test_band_clamped_below_nyquist():
    assert filters.clamp_band(500.0) == (20.0, 225.0)
    assert filters.clamp_band(2000.0) == (20.0, 450.0)
    low, high = filters.clamp_band(40.0)
    assert high is None  # too slow for a band: high-pass only
    y = filters.bandpass(_noise(), fs=500.0)
    assert np.all(np.isfinite(y))


@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_mains_detected_and_removed(mains):
    fs = 1000.0
    t = np.arange(20000) / fs
    x = 0.1 * _noise(t.size) + 1.0 * np.sin(2 * np.pi * mains * t) + 0.3 * np.sin(2 * np.pi * 3 * mains * t) + 512
    assert filters.detect_mains_hz(x, fs=fs) == mains
    y = filters.clean(x, fs=fs)
    assert abs(np.median(y)) < 0.05  # DC (ADC mid-rail) gone
    from scipy import signal
    f, p_before = signal.welch((x - 512)[None, :], fs=fs, nperseg=2000)
    _, p_after = signal.welch(y[None, :], fs=fs, nperseg=2000)
    for line in (mains, 3 * mains):
        k = np.argmin(np.abs(f - line))
        assert p_after[0, k] < p_before[0, k] / 100  # > 20 dB down


def test_no_mains_on_clean_signal():
    assert filters.detect_mains_hz(_noise(20000), fs=1000.0) is None


def test_envelopes_of_a_sine():
    fs = 1000.0
    t = np.arange(5000) / fs
    x = 2.0 * np.sin(2 * np.pi * 80 * t)
    rms = moving_rms(x, fs=fs, window_ms=100)
    assert np.allclose(rms[200:-200], 2.0 / np.sqrt(2), rtol=1e-3)
    lin = linear_envelope(x, fs=fs, cutoff_hz=6.0)
    assert np.allclose(lin[1000:-1000], 2.0 * 2 / np.pi, rtol=0.02)  # mean of |sin| = 2/π
    omega = 2 * np.pi * 80 / fs
    assert np.allclose(tkeo(x)[1:-1], 4.0 * np.sin(omega) ** 2, rtol=1e-9)


def test_quietest_window_skips_gaps():
    x = np.abs(_noise(10000))
    x[6000:7000] *= 0.1
    x[2000:3500] = 0.0  # a zero-filled data gap
    gap = np.zeros(10000, dtype=bool)
    gap[2000:3500] = True
    start = quietest_window(x, fs=1000.0, window_s=1.0, exclude=gap)[0]
    assert 5900 <= start <= 6100


@settings(max_examples=30, deadline=None)
@given(x=arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(0, 3000)),
                elements=st.one_of(st.floats(-1e3, 1e3), st.just(0.0))),
       method=st.sampled_from(METHODS))
def test_detectors_never_raise(x, method):
    bursts = detect_bursts(x, fs=1000.0, method=method)
    assert len(bursts) == x.shape[0]
    for b in bursts:
        assert np.all(b.onsets <= b.offsets)
        assert np.all(b.offsets < max(x.shape[-1], 1))
        assert np.all(b.onsets[1:] > b.offsets[:-1])


@pytest.mark.parametrize("method", METHODS)
def test_each_detector_finds_the_reps(method):
    s = synthesize(SubjectProfile(snr_db=20.0), duration_s=40.0, seed=5)
    x = filters.clean(s.emg_mv, fs=1000.0)
    bursts = detect_bursts(x, fs=1000.0, method=method)
    for c, m in enumerate(s.muscles):
        on = bursts[c].onsets / 1000.0
        for rep in s.truth["reps"]:
            assert np.min(np.abs(on - rep["onset_s"][m])) < 0.1, (method, m)


def test_unknown_method_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown onset method"):
        detect_bursts(np.zeros((1, 100)), fs=1000.0, method="magic")


def test_clipping_runs_only():
    x = np.array([0, 5, 1023, 1023, 1023, 7, 1023, 3, 0, 0, 0, 0], dtype=float)
    m = clipped_mask(x)
    assert m.tolist() == [False, False, True, True, True, False, False, False, True, True, True, True]


@settings(max_examples=5, deadline=None)
@given(g1=st.floats(0.05, 50.0), g2=st.floats(0.05, 50.0))
def test_ratio_is_gain_invariant_with_mvc_trials(g1, g2):
    s = _session()
    base = analyze(session_recording(s))
    s2 = synthesize(SubjectProfile(snr_db=20.0), duration_s=40.0, seed=2)
    s2.emg_mv = s.emg_mv * np.array([[g1], [g2]]) if s.muscles[0] == "hamstrings" else s.emg_mv
    scaled = analyze(session_recording(s2))
    a = [r["glute_hamstring_ratio"] for r in base["reps"]]
    b = [r["glute_hamstring_ratio"] for r in scaled["reps"]]
    assert a == pytest.approx(b, abs=2e-3)


_CACHE = {}


def _session():
    if "s" not in _CACHE:
        _CACHE["s"] = synthesize(SubjectProfile(snr_db=20.0), duration_s=40.0, seed=2)
    return _CACHE["s"]
