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
