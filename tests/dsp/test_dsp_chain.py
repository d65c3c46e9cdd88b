"""The chain's per-channel verbs (dsp/channel.py) equal the plain public forms a notebook would use, bit for bit,
and every public verb of the chain rejects bad input with a clear ValueError."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reengage.dsp import (Bursts, EnvelopeOptions, bursts_mask, check_reps, clean, clean_emg, emg_power,
                          envelope_mvc_peak, find_mains, intervals_mask, measure_reps, mvc_peak,
                          mvc_reference, noise_corrected_rms, resting_power, rms_envelope, stored_envelope)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(1, 4000), window_ms=st.sampled_from([20.0, 100.0, 500.0]),
       fs=st.sampled_from([250.0, 1000.0, 2048.0]), rest_fraction=st.floats(0.0, 1.0))
def test_envelope_and_mvc_peak_equal_noise_corrected_rms_and_mvc_reference(seed, n, window_ms, fs, rest_fraction):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n) * np.exp(rng.uniform(-3, 3, n))
    rest = rng.random(n) < rest_fraction
    opts = EnvelopeOptions(window_ms=window_ms, mvc_window_ms=window_ms * 2)
    power = emg_power(x, fs=fs, options=opts)
    noise = resting_power(x, rest)
    assert noise == (float(np.mean(x[rest] ** 2)) if rest.any() else 0.0)
    want = noise_corrected_rms(x, fs=fs, window_ms=window_ms, noise_power=noise).astype(np.float32)
    assert rms_envelope(power, noise).tobytes() == want.tobytes()
    trial = rng.random(n) < 0.3
    assert mvc_peak(power, fs=fs, mask=trial, noise_power=noise, options=opts) == \
        mvc_reference(x, fs=fs, mask=trial, window_ms=window_ms * 2, noise_power=noise)
    # overwrite=True gives the same envelope from the same power, in place.
    assert rms_envelope(power, noise, overwrite=True).tobytes() == want.tobytes()


def test_clean_emg_is_clean_with_the_lines_and_gaps_zeroed():
    rng = np.random.default_rng(1)
    fs, n = 1000.0, 20000
    t = np.arange(n) / fs
    x = rng.standard_normal((2, n)) + 2.0 * np.sin(2 * np.pi * 50.02 * t) + 5.0
    mains = find_mains(x, fs=fs)
    assert mains.mains_hz == 50.0 and abs(mains.lines_hz[0] - 50.02) < 0.01
    assert mains.probe.shape == (2, n) and abs(np.median(mains.probe)) < 0.1
    gap = intervals_mask(n, fs=fs, intervals_s=[(3.0, 0.5)])
    assert gap.sum() == 500 and gap[3000] and not gap[2999]
    got = clean_emg(x, fs=fs, lines_hz=mains.lines_hz, exclude=gap)
    want = clean(x, fs=fs, lines_hz=mains.lines_hz)
    want[:, gap] = 0.0
    assert got.tobytes() == want.tobytes()
    assert find_mains(x[0], fs=fs).mains_hz == 50.0  # one lead, 1-D


def test_stored_envelope_and_its_mvc_peak():
    env = np.r_[np.full(1000, 0.2), np.full(1000, 1.2)]
    rest = np.r_[np.ones(1000, bool), np.zeros(1000, bool)]
    out, level = stored_envelope(env, rest)
    assert level == pytest.approx(0.2) and out.min() == 0.0 and out.max() == pytest.approx(1.0)
    assert envelope_mvc_peak(out, fs=1000.0, mask=~rest) == pytest.approx(1.0)
    assert envelope_mvc_peak(out, fs=1000.0, mask=np.zeros(2000, bool)) is None


def test_bursts_mask():
    m = bursts_mask(10, Bursts(np.array([1, 6]), np.array([2, 9])))
    assert m.tolist() == [False, True, True, False, False, False, True, True, True, True]


def test_bad_input_is_a_clear_value_error():
    x = np.zeros(1000)
    with pytest.raises(ValueError, match="fs"):
        emg_power(x, fs=0.0)
    with pytest.raises(ValueError, match="NaN"):
        emg_power(np.r_[x, np.nan], fs=1000.0)
    with pytest.raises(ValueError, match="exclude"):
        clean_emg(x, fs=1000.0, exclude=np.zeros(999, bool))
    with pytest.raises(ValueError, match="NaN"):
        find_mains(np.r_[x, np.inf][None, :], fs=1000.0)
    with pytest.raises(ValueError, match="baseline"):
        resting_power(x, np.zeros(10, bool))
    with pytest.raises(ValueError, match="mask"):
        mvc_peak(emg_power(x, fs=1000.0), fs=1000.0, mask=np.ones(5, bool))
    with pytest.raises(ValueError, match="intervals_s"):
        intervals_mask(100, fs=1000.0, intervals_s=[(np.nan, 1.0)])
    groups = [{"glute_max": (10, 20)}]
    with pytest.raises(ValueError, match="same length"):
        measure_reps(groups, {}, {"glute_max": np.zeros(100), "hamstrings": np.zeros(99)}, fs=1000.0)
    with pytest.raises(ValueError, match="NaN"):
        measure_reps(groups, {}, {"glute_max": np.full(100, np.nan)}, fs=1000.0)
    with pytest.raises(ValueError, match="clip_masks"):
        check_reps(np.array([10]), np.array([20]), n=100, fs=1000.0, clip_masks={"glute_max": np.zeros(5, bool)})
