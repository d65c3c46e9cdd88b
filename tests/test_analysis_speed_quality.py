"""The quality masks are built from runs in one pass (no slice per run, one comparison of neighbours shared
by the clipping and flat-line checks); they must equal their definitions, computed here sample by sample."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from reengage.dsp._util import cumsum0, moving_mean, runs, spans_mask, window_samples
from reengage.dsp.quality import channel_quality, clipped_mask, flat_mask


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(0, 200), count=st.integers(0, 12), inside=st.booleans())
def test_spans_mask_is_the_union_of_the_spans(seed, n, count, inside):
    rng = np.random.default_rng(seed)
    starts = rng.integers(-20, n + 20, count)  # unsorted, out of the record, overlapping, empty
    stops = starts + rng.integers(-5, 60, count)
    want = np.zeros(n, dtype=bool)
    for a, b in zip(starts, stops):
        want[max(a, 0):max(b, 0)] = True
    assert np.array_equal(spans_mask(n, starts, stops, inside=inside), want if inside else ~want)


def _signal(rng, n):
    """Few levels (long runs of equal values, rails hit often), NaN now and then."""
    s = rng.integers(0, rng.integers(1, 5), n).astype(float)
    s[rng.random(n) < rng.choice([0.0, 0.7])] = s[0] if n else 0.0
    if rng.random() < 0.2:
        s[rng.random(n) < 0.2] = np.nan
    return s


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(0, 120), min_run=st.integers(1, 5))
def test_clipped_mask_is_runs_at_the_rails(seed, n, min_run):
    s = _signal(np.random.default_rng(seed), n)
    want = np.zeros(n, dtype=bool)
    if n:
        for level in (s.max(), s.min()):
            i = 0
            while i < n:
                j = i
                while j < n and s[j] == level:
                    j += 1
                if j - i >= min_run:
                    want[i:j] = True
                i = max(j, i + 1)
    assert np.array_equal(clipped_mask(s, min_run=min_run), want)


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(0, 120), fs=st.sampled_from([10.0, 37.0, 100.0, 1000.0]),
       window_ms=st.sampled_from([1.0, 30.0, 100.0, 250.0]))
def test_flat_mask_is_constant_centered_windows(seed, n, fs, window_ms):
    s = _signal(np.random.default_rng(seed), n)
    w = min(window_samples(window_ms, fs), n)
    half = w // 2
    windows = [s[max(i - half, 0):min(i - half + w, n)] for i in range(n)]
    want = np.array([v.size == 1 or bool(np.all(v == v[0])) for v in windows], dtype=bool)
    assert np.array_equal(flat_mask(s, fs=fs, window_ms=window_ms), want)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(1, 3000), cumsum=st.booleans(), gaps=st.booleans(),
       max_artifact_ms=st.sampled_from([20.0, 150.0]))
def test_motion_mask_is_the_short_hot_runs_away_from_bursts_widened(seed, n, cumsum, gaps, max_artifact_ms):
    rng = np.random.default_rng(seed)
    fs = 1000.0
    c = rng.standard_normal(n) * (1.0 + 30.0 * (rng.random(n) < 0.01))

    def mask(count, longest):
        m = np.zeros(n, dtype=bool)
        for a in rng.integers(0, n, count):
            m[a:a + int(rng.integers(1, longest))] = True
        return m

    rest, bursts = mask(3, 500), mask(4, 400)
    gap = mask(2, 100) if gaps else None
    q = channel_quality(stored=c, raw_dc=c, cleaned=c, fs=fs, baseline_mask=rest, burst_mask=bursts, mains_hz=None,
                         gap_mask=gap, kind="raw", max_artifact_ms=max_artifact_ms,
                         power_cumsum=cumsum0(c * c) if cumsum else None)
    valid = np.ones(n, dtype=bool) if gap is None else ~gap
    want = np.zeros(n, dtype=bool)
    if (rest & valid).any():
        if cumsum:  # resting power as the quality step takes it: from the cumulative sum over its runs
            a, b = runs(rest & valid)
            csq = cumsum0(c * c)
            p_rest = float((csq[b] - csq[a]).sum() / (b - a).sum())
        else:
            p_rest = float(np.mean(np.square(c[rest & valid])))
        near = np.zeros(n, dtype=bool)
        for i in np.flatnonzero(bursts & valid):
            # Within 600 samples before a burst sample (its lead-in) or 300 after it (dilation of its runs).
            near[max(i - 300, 0):i + 301] = True
            near[max(i - 600, 0):i] = True
        hot = (moving_mean(c * c, window_samples(20, fs)) > 10.0 * p_rest) & ~near & valid
        a, b = runs(hot)
        for i, j in zip(a, b):
            if j - i <= window_samples(max_artifact_ms, fs):
                want[max(i - 50, 0):j + 50] = True
    assert np.array_equal(q["motion_mask"], want)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 400), st.sampled_from([100.0, 500.0, 1000.0]), st.floats(-1.0, 1.0),
       st.lists(st.tuples(st.floats(-1.0, 5.0), st.floats(0.0, 2.0)), max_size=6))
def test_intervals_mask_marks_every_sample_an_interval_touches(n, fs, t0_s, intervals):
    from reengage.dsp._util import intervals_mask

    want = np.zeros(n, dtype=bool)
    for onset_s, duration_s in intervals:  # floor of the start, ceil of the end, clipped to the record
        a = max(int(np.floor((onset_s - t0_s) * fs)), 0)
        b = min(int(np.ceil((onset_s + duration_s - t0_s) * fs)), n)
        want[a:max(a, b)] = True
    assert np.array_equal(intervals_mask(n, fs, intervals, t0_s=t0_s), want)
