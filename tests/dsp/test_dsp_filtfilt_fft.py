"""filtfilt_fft is the offline zero-phase filter of clean() and linear_envelope(): it must compute what
scipy.signal.sosfiltfilt computes (same magnitude, zero phase), across block boundaries, rates and axes."""

import numpy as np
import pytest
from scipy import signal

from reengage.dsp.envelope import lowpass_sos
from reengage.dsp.filters import bandpass_sos, filtfilt_fft


@pytest.mark.parametrize("fs", [500.0, 1000.0, 2000.0])
@pytest.mark.parametrize("kind", ["bandpass", "lowpass"])
def test_equals_sosfiltfilt_away_from_the_ends(fs, kind):
    rng = np.random.default_rng(int(fs))
    n = 3 * 32768 + 1234  # several blocks and a ragged last one
    x = rng.standard_normal((3, n)).cumsum(axis=-1) * 0.01 + rng.standard_normal((3, n))
    sos = bandpass_sos(fs) if kind == "bandpass" else lowpass_sos(fs, 50.0)
    ref = signal.sosfiltfilt(sos, x, axis=-1)
    got = filtfilt_fft(x, sos)
    edge = int(fs)  # the two differ only in how the ends are padded
    scale = np.max(np.abs(ref))
    # single-precision FFTs: far below a 16-bit ADC step (1.5e-5 of full scale)
    assert np.max(np.abs(got - ref)[:, edge:-edge]) < 2e-6 * scale
    # and the ends stay the same size (odd reflection, like sosfiltfilt's padding)
    assert np.max(np.abs(got)) < 2 * scale


def test_axis_and_short_records():
    rng = np.random.default_rng(0)
    sos = bandpass_sos(1000.0)
    x = rng.standard_normal((20000, 2))
    np.testing.assert_allclose(filtfilt_fft(x, sos, axis=0), filtfilt_fft(x.T, sos).T, rtol=0, atol=1e-6)
    for n in (0, 1, 5, 40, 300):  # shorter than the kernel: sosfiltfilt where it accepts the length
        y = filtfilt_fft(rng.standard_normal((2, n)), sos)
        assert y.shape == (2, n) and np.all(np.isfinite(y))


def test_zero_phase_keeps_a_burst_in_place():
    fs = 1000.0
    t = np.arange(100_000) / fs
    burst = np.exp(-0.5 * ((t - 50.0) / 0.05) ** 2) * np.sin(2 * np.pi * 100 * t)
    y = filtfilt_fft(burst, bandpass_sos(fs))
    env = np.abs(signal.hilbert(y))
    assert abs(t[np.argmax(env)] - 50.0) < 0.002


def test_rectify_equals_filtering_the_rectified_record():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3 * 32768 + 77)) * np.linspace(0.1, 2.0, 3 * 32768 + 77)
    sos = lowpass_sos(1000.0, 50.0)
    np.testing.assert_allclose(filtfilt_fft(x, sos, rectify=True), filtfilt_fft(np.abs(x), sos), rtol=0, atol=1e-9)
    short = x[:, :5000]
    np.testing.assert_allclose(filtfilt_fft(short, sos, rectify=True), filtfilt_fft(np.abs(short), sos), rtol=0, atol=1e-9)
