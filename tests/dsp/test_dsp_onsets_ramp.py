"""ramp_onsets: the posterior-mean onset under a raised-cosine rise (dsp/onsets.py)."""

from __future__ import annotations

import numpy as np

from reengage.dsp.onsets import PowerBacktrackOptions, power_backtrack, ramp_onsets
from reengage.synth import burst_envelope


def _bursts(rng, k, fs, snr_db, seg_s=0.6):
    """k bursts laid end to end, each 0.3 s rest then a rise of 40–120 ms to a unit plateau."""
    seg = int(round(seg_s * fs))
    t = np.arange(seg) / fs
    rise = rng.uniform(0.04, 0.12, k)
    amp = np.vstack([burst_envelope(t, 0.3, r, 10.0, 1.0) for r in rise])
    noise_rms = 10 ** (-snr_db / 20)
    x = amp * rng.standard_normal((k, seg)) + noise_rms * rng.standard_normal((k, seg))
    true = int(round(0.3 * fs)) + seg * np.arange(k)
    return x.ravel(), true, rise, noise_rms ** 2


def test_onset_found_whatever_the_guess_and_the_rise_time():
    rng = np.random.default_rng(3)
    fs = 1000.0
    x, true, rise, s2 = _bursts(rng, 200, fs, snr_db=30.0)
    for shift in (-20, 0, 30):
        est, fitted = ramp_onsets(x, true + shift, fs=fs, noise_power=s2, plateau_power=1.0 + s2)
        assert fitted.all()
        err = est - true
        assert np.median(np.abs(err)) <= 4, shift
        # A fixed-fraction threshold would date a 120 ms rise ~30 ms later than a 40 ms one.
        slope_ms_per_ms = np.polyfit(1e3 * rise, err, 1)[0]
        assert abs(slope_ms_per_ms) < 0.1, shift


def test_bursts_whose_window_does_not_fit_keep_their_guess():
    rng = np.random.default_rng(4)
    fs = 1000.0
    x, true, _, s2 = _bursts(rng, 3, fs, snr_db=20.0)
    guess = np.array([10, true[1], x.size - 5])  # too close to the start and the end of the record
    lo = np.array([0, true[1] - 10, 0])  # the middle one is hemmed in by a previous burst
    est, fitted = ramp_onsets(x, guess, fs=fs, noise_power=s2, plateau_power=1.0 + s2, valid_lo=lo)
    assert not fitted.any()
    np.testing.assert_array_equal(est, guess)
    est, fitted = ramp_onsets(x, guess, fs=fs, noise_power=s2, plateau_power=s2)  # no burst above noise
    assert not fitted.any()


def test_power_backtrack_with_ramp_fit_dates_onsets():
    rng = np.random.default_rng(5)
    fs = 1000.0
    x, true, _, _ = _bursts(rng, 12, fs, snr_db=20.0, seg_s=1.5)
    # The bursts above have no fall; cut each one 0.8 s after its onset so they are separate.
    y = x.reshape(12, -1).copy()
    y[:, int(1.1 * fs):] = 0.1 * rng.standard_normal((12, y.shape[1] - int(1.1 * fs)))
    y = y.ravel()
    plain = power_backtrack(y, fs=fs)[0]
    fit = power_backtrack(y, fs=fs, options=PowerBacktrackOptions(ramp_fit=True))[0]
    assert len(fit) == len(plain) == 12
    np.testing.assert_array_equal(fit.offsets, plain.offsets)
    assert np.median(np.abs(fit.onsets - true)) <= 8
