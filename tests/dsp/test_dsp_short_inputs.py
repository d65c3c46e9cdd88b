"""Records exactly as long as a zero-phase filter's padding (the boundary hypothesis once found: 9 samples of a
2nd-order low-pass) must pass through every step, never raise."""

import numpy as np
import pytest

from reengage.dsp.envelope import linear_envelope
from reengage.dsp.filters import bandpass
from reengage.dsp.imu import gyro_magnitude, tilt_deg
from reengage.dsp.onsets import METHODS, detect_bursts


@pytest.mark.parametrize("n", [0, 1, 8, 9, 10, 25, 26, 27, 60])
def test_steps_accept_records_at_the_filter_padding_length(n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal((2, n))
    assert linear_envelope(x, fs=1000.0).shape == x.shape
    assert bandpass(x, fs=1000.0).shape == x.shape
    assert gyro_magnitude(rng.standard_normal((3, n)), fs=100.0).shape == (n,)
    assert tilt_deg(rng.standard_normal((3, n)), fs=100.0).shape == (n,)
    for method in METHODS:
        detect_bursts(np.zeros((1, n)), fs=1000.0, method=method)
        detect_bursts(x, fs=1000.0, method=method)
