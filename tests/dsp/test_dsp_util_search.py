"""next_true / prev_true answer the same queries as the whole-record index arrays they replace."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from reengage.dsp._util import first_true_after, last_true_before, next_true, prev_true


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=200), st.data())
def test_match_the_index_arrays(bits, data):
    mask = np.array(bits, dtype=bool)
    at = np.array(data.draw(st.lists(st.integers(0, mask.size - 1), max_size=30)), dtype=np.int64)
    np.testing.assert_array_equal(next_true(mask, at), first_true_after(mask)[at])
    np.testing.assert_array_equal(prev_true(mask, at), last_true_before(mask)[at])


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 300), st.integers(1, 400), st.data())
def test_moving_mean_at_matches_the_whole_record(length, window, data):
    from reengage.dsp._util import cumsum0, moving_mean_at, moving_mean_from_cumsum

    x = np.random.default_rng(length * 7 + window).standard_normal(length)
    c = cumsum0(x)
    idx = np.array(data.draw(st.lists(st.integers(0, length - 1), min_size=1, max_size=20)))
    np.testing.assert_allclose(moving_mean_at(c, window, idx), moving_mean_from_cumsum(c, window)[idx], rtol=1e-12, atol=1e-12)
