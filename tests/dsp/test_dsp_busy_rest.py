"""power_backtrack without marked rest in walking (issue 14, sixth round): when every second holds a burst, the
quietest second is not rest, and the detection level learnt from it sat among the bursts; the busy-rest level
(``PowerBacktrackOptions.busy_rest_ratio``) finds them again, and a record with a quiet second or marked rest is
not touched. The walking case is a real recording (``../shared/data``; skipped where absent)."""

from __future__ import annotations

import numpy as np
import pytest

from reengage.dsp import PowerBacktrackOptions, power_backtrack, power_backtrack_baseline
from reengage.validation.real import read_cleaned, shared_data_dir

FS = 1000.0
WALK = shared_data_dir() / "uci_A07_gait.csv"
needs_walk = pytest.mark.skipif(not WALK.exists(), reason=f"no real recording at {WALK} (set $REENGAGE_SHARED_DATA)")
OFF = PowerBacktrackOptions(busy_rest_ratio=0.0)


@pytest.fixture(scope="module")
def semitendinosus():
    """A07's semitendinosus while walking, cleaned as analyze cleans it: a clear burst about every 0.6 s."""
    t, names, fs, _, x = read_cleaned(WALK)
    return x[names.index("semitendinosus")], fs


@needs_walk
def test_walking_bursts_are_found_without_marked_rest(semitendinosus):
    x, fs = semitendinosus
    # Measured: 5 bursts with the quietest second's level (it stood at the 90th percentile of P_d), 13 with the
    # busy-rest level (some strides' two bursts are one), in 15.7 s of walking.
    assert len(power_backtrack(x, fs=fs, options=OFF)[0]) <= 6
    assert len(power_backtrack(x, fs=fs)[0]) >= 11
    lvl = power_backtrack_baseline(x, fs=fs).detect_level[0]
    assert lvl < power_backtrack_baseline(x, fs=fs, options=OFF).detect_level[0]


@needs_walk
def test_the_quietest_pieces_never_lie_in_a_data_gap(semitendinosus):
    x, fs = semitendinosus
    gap = np.zeros(x.size, dtype=bool)
    gap[4000:6000] = True  # a gap's zero fill is the quietest signal there is
    y = np.where(gap, 0.0, x)
    b = power_backtrack(y, fs=fs, exclude=gap)[0]
    assert not np.any(gap[b.onsets]) and len(b) >= 8  # measured 9: the 2 s gap held 3–4 of the 13
    assert power_backtrack_baseline(y, fs=fs, exclude=gap).detect_level[0] > 0.1 * \
        power_backtrack_baseline(x, fs=fs).detect_level[0]


def test_a_record_with_a_quiet_second_or_marked_rest_is_untouched():
    rng = np.random.default_rng(9)
    x = rng.standard_normal(int(12 * FS))
    for a in range(2000, 11000, 600):  # bursts every 0.6 s after 2 s of rest
        x[a:a + 300] *= 8.0
    a = power_backtrack_baseline(x, fs=FS).detect_level
    np.testing.assert_array_equal(a, power_backtrack_baseline(x, fs=FS, options=OFF).detect_level)
    rest = np.zeros(x.size, dtype=bool)
    rest[4000:5000] = True  # marked rest is used as given, even over bursts
    a = power_backtrack_baseline(x, fs=FS, rest=rest).detect_level
    np.testing.assert_array_equal(a, power_backtrack_baseline(x, fs=FS, rest=rest, options=OFF).detect_level)
