"""Helpers that compute a windowed quantity at a few indices must agree with the whole-record version."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 300), st.integers(1, 400), st.data())
def test_moving_mean_at_matches_the_whole_record(length, window, data):
    from reengage.dsp._util import cumsum0, moving_mean_at, moving_mean_from_cumsum

    x = np.random.default_rng(length * 7 + window).standard_normal(length)
    c = cumsum0(x)
    idx = np.array(data.draw(st.lists(st.integers(0, length - 1), min_size=1, max_size=20)))
    np.testing.assert_allclose(moving_mean_at(c, window, idx), moving_mean_from_cumsum(c, window)[idx], rtol=1e-12, atol=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=1500), st.data(), st.booleans(), st.sampled_from([1, 7, 512]))
def test_burst_search_finds_what_a_loop_finds(bits, data, forward, step):
    from reengage.dsp.onsets import _search

    mask = np.array(bits, dtype=bool)
    n = mask.size
    pairs = data.draw(st.lists(st.tuples(st.integers(-5, n + 5), st.integers(-5, n + 5)), min_size=1, max_size=12))
    start = np.array([a for a, _ in pairs])
    stop = np.array([b for _, b in pairs])
    got = _search(lambda rows, idx: mask[idx], start, stop, n=n, forward=forward, step=step)
    for k, (a, b) in enumerate(pairs):
        cand = [i for i in range(max(a, 0), min(b, n - 1) + 1) if mask[i]]
        want = (cand[0] if forward else cand[-1]) if cand else -1
        assert got[k] == want
