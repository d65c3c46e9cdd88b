"""Fast paths of the DSP core must compute what the simple formulas compute (bit for bit where the
code says so): each is checked here against the plain version on arbitrary inputs."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=1500), st.data(), st.booleans(),
       st.sampled_from([1, 7, 512]), st.sampled_from([1, 3, 64, 600]))
def test_burst_search_with_a_short_first_slice_finds_what_a_loop_finds(bits, data, forward, step, first):
    from reengage.dsp.onsets import _search

    mask = np.array(bits, dtype=bool)
    n = mask.size
    pairs = data.draw(st.lists(st.tuples(st.integers(-5, n + 5), st.integers(-5, n + 5)), min_size=1, max_size=12))
    start = np.array([a for a, _ in pairs])
    stop = np.array([b for _, b in pairs])
    got = _search(lambda rows, idx: mask[idx], start, stop, n=n, forward=forward, step=step, first=first)
    for k, (a, b) in enumerate(pairs):
        cand = [i for i in range(max(a, 0), min(b, n - 1) + 1) if mask[i]]
        want = (cand[0] if forward else cand[-1]) if cand else -1
        assert got[k] == want


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3), st.integers(1, 300_000), st.floats(-1e3, 1e3), st.integers(0, 2**32 - 1))
def test_std_rows_is_numpys_std_bit_for_bit(rows, n, offset, seed):
    from reengage.dsp._util import std_rows

    x = np.random.default_rng(seed).standard_normal((rows, n)) * 3.0 + offset
    assert np.array_equal(std_rows(x), np.std(x, axis=-1))
    assert np.array_equal(std_rows(x[:, ::2]), np.std(x[:, ::2], axis=-1))  # strided rows: numpy's own
