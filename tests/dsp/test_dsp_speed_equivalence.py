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


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3), st.integers(0, 5000), st.integers(1, 700), st.integers(0, 2**32 - 1))
def test_power_cumsum_is_cumsum0_of_the_square_bit_for_bit(rows, n, block, seed):
    from reengage.dsp._util import cumsum0, power_cumsum

    x = np.random.default_rng(seed).standard_normal((rows, n)) * 50.0
    assert np.array_equal(power_cumsum(x, block=block), cumsum0(x * x))
    assert np.array_equal(power_cumsum(x[0], block=block), cumsum0(x[0] * x[0]))


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 3000), st.integers(1, 400), st.integers(1, 500), st.floats(0.0, 3.0), st.integers(0, 2**32 - 1))
def test_moving_mean_exceeds_is_the_whole_record_comparison(length, window, block, level, seed):
    from reengage.dsp._util import cumsum0, moving_mean_exceeds, moving_mean_from_cumsum

    x = np.random.default_rng(seed).standard_normal(length) ** 2
    c = cumsum0(x)
    level = float(np.quantile(moving_mean_from_cumsum(c, window), min(level / 3.0, 1.0)))  # near real values
    want = moving_mean_from_cumsum(c, window) > level
    np.testing.assert_array_equal(moving_mean_exceeds(c, window, level, block=block), want)
    np.testing.assert_array_equal(moving_mean_exceeds(c, window, level, nonnegative=True), want)
    # Bursts on a quiet floor (long runs far above and below the level), with an exact zero stretch.
    y = x * np.repeat(np.random.default_rng(seed + 1).uniform(0, 30, -(-length // 97)) ** 2, 97)[:length]
    y[: length // 5] = 0.0
    cy = cumsum0(y)
    for lv in (0.0, float(np.median(moving_mean_from_cumsum(cy, window))), level):
        np.testing.assert_array_equal(moving_mean_exceeds(cy, window, lv, nonnegative=True),
                                      moving_mean_from_cumsum(cy, window) > lv)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 2), st.integers(300, 12_000), st.sampled_from([256, 512, 1024]), st.integers(0, 2**32 - 1))
def test_linear_envelope_cumsum_is_cumsum0_of_the_envelope_bit_for_bit(rows, n, block, seed):
    from reengage.dsp._util import cumsum0
    from reengage.dsp.envelope import linear_envelope_cumsum, lowpass_sos
    from reengage.dsp.filters import filtfilt_fft

    x = np.random.default_rng(seed).standard_normal((rows, n))
    want = cumsum0(np.maximum(filtfilt_fft(x, lowpass_sos(1000.0, 50.0), rectify=True, block=block), 0.0))
    assert np.array_equal(linear_envelope_cumsum(x, fs=1000.0, cutoff_hz=50.0, block=block), want)
    c_sq, c_env = linear_envelope_cumsum(x, fs=1000.0, cutoff_hz=50.0, block=block, with_power=True)
    assert np.array_equal(c_env, want)
    assert np.array_equal(c_sq, cumsum0(x * x))


def test_linear_envelope_cumsum_matches_on_a_long_record():
    from reengage.dsp._util import cumsum0
    from reengage.dsp.envelope import linear_envelope, linear_envelope_cumsum

    x = np.random.default_rng(5).standard_normal((2, 100_003)) * np.linspace(0.1, 3.0, 100_003)
    assert np.array_equal(linear_envelope_cumsum(x, fs=1000.0, cutoff_hz=50.0),
                          cumsum0(linear_envelope(x, fs=1000.0, cutoff_hz=50.0)))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 2), st.integers(2, 9000), st.sampled_from([128, 256, 1024]), st.booleans(), st.integers(0, 2**32 - 1))
def test_filtering_in_place_gives_the_same_output(rows, n, block, rectify, seed):
    from reengage.dsp.filters import _filtfilt_fft, bandpass_sos, filtfilt_fft

    x = np.random.default_rng(seed).standard_normal((rows, n))
    sos = bandpass_sos(1000.0)
    want = filtfilt_fft(x, sos, block=block, rectify=rectify)
    got = _filtfilt_fft(x.copy(), sos, block=block, rectify=rectify, in_place=True)
    assert np.array_equal(got, want)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=800), st.sampled_from([0.0, 1.0, 5.0, 15.0]),
       st.sampled_from([0.0, 1.0, 4.0, 9.0]), st.sampled_from([0.0, 3.0, 12.0]))
def test_finishing_on_runs_gives_the_mask_version(bits, gap_ms, burst_ms, run_ms):
    from reengage.dsp._util import drop_short_runs, fill_short_gaps, runs, window_samples
    from reengage.dsp.onsets import _finish_runs

    active = np.array(bits, dtype=bool)
    mask = drop_short_runs(active, window_samples(run_ms, 1000.0, minimum=0))
    mask = drop_short_runs(fill_short_gaps(mask, window_samples(gap_ms, 1000.0, minimum=0)),
                           window_samples(burst_ms, 1000.0))
    a, b = runs(mask)
    got = _finish_runs(*runs(active), 1000.0, gap_ms, burst_ms, min_run_ms=run_ms)
    np.testing.assert_array_equal(got.onsets, a)
    np.testing.assert_array_equal(got.offsets, b - 1)


def test_power_backtrack_reading_its_envelope_from_the_cumsum_agrees_with_a_given_envelope():
    """detect_bursts computes the 100 ms power from its cumulative sum block by block; analyze hands the
    same envelope in as an array (power_backtrack(power_mean=)): the two paths must find the same bursts."""
    from reengage.dsp._util import moving_mean
    from reengage.dsp.filters import clean
    from reengage.dsp.onsets import detect_bursts, power_backtrack
    from reengage.synth import SubjectProfile, synthesize

    s = synthesize(SubjectProfile.from_latency_ratio(60.0, 0.6, snr_db=9.0), duration_s=90.0, fs_hz=1000.0, seed=3,
                   with_mvc=False)
    y = clean(s.emg_mv, fs=1000.0)
    rest = np.zeros(y.shape[-1], dtype=bool)
    rest[500:2900] = True
    gap = np.zeros(y.shape[-1], dtype=bool)
    gap[40_000:40_700] = True
    short_rest = np.zeros(y.shape[-1], dtype=bool)
    short_rest[500:700] = True  # too little marked rest: the quietest window of the envelope instead
    for r, ex in ((rest, None), (None, None), (rest, gap), (short_rest, None)):
        got = detect_bursts(y, fs=1000.0, rest=r, exclude=ex)
        want = power_backtrack(y, fs=1000.0, power_mean=moving_mean(y * y, 100), rest=r, exclude=ex)
        assert sum(len(b) for b in got) > 10
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a.onsets, b.onsets)
            np.testing.assert_array_equal(a.offsets, b.offsets)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4000), st.integers(1, 300), st.booleans(), st.sampled_from([0.0, 1e-12, 1.0]),
       st.integers(0, 2**32 - 1))
def test_running_mean_bound_bounds_the_subsample_mean(length, window, centered, quiet, seed):
    from reengage.dsp._util import cumsum0, forward_mean_at, moving_mean_at
    from reengage.dsp.onsets import _SCALE_STEP, _running_mean_bound

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, length)) ** 2 * rng.uniform(0, 10, (2, 1))
    x[:, : length // 2] *= quiet  # a quiet (or silent) half, a loud half
    c = cumsum0(x)
    at = (lambda ch, i: moving_mean_at(c[ch], window, i)) if centered else (lambda ch, i: forward_mean_at(c[ch], window, i))
    sub = np.arange(0, length, _SCALE_STEP)
    exact = np.array([np.mean(np.abs(at(ch, sub))) for ch in range(2)])
    assert np.all(_running_mean_bound(c, window, at, sub, centered=centered) >= exact)


@settings(max_examples=300, deadline=None)
@given(st.floats(-1e3, 1e3), st.floats(0, 1e3), st.floats(0, 1e6), st.floats(0, 1.0), st.sampled_from([2.5, 5.5, 8.0]))
def test_floor_scale_gives_the_threshold_of_the_exact_scale(mean, sd, bound, fraction, h):
    from reengage.dsp.baseline import Baseline
    from reengage.dsp.onsets import _floor_scale, _threshold

    base = Baseline(np.array([mean, mean * 1e-12]), np.array([sd, sd * 1e-14]))
    bound_arr = np.array([bound, bound])
    exact = bound_arr * fraction  # any scale the bound bounds
    got = _threshold(base, h, None, scale=_floor_scale(base, bound_arr, lambda: exact))
    assert np.array_equal(got, _threshold(base, h, None, scale=exact))


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 400), st.integers(1, 120), st.booleans(), st.data())
def test_running_means_at_indices_are_the_whole_record_values_bit_for_bit(length, window, interior, data):
    from reengage.dsp._util import (cumsum0, forward_mean_at, forward_mean_from_cumsum, moving_mean_at,
                                    moving_mean_from_cumsum)

    x = np.random.default_rng(length * 31 + window).standard_normal(length) ** 2
    c = cumsum0(x)
    lo, hi = (window, length - window - 1) if interior and length > 2 * window + 1 else (0, length - 1)
    idx = np.array(data.draw(st.lists(st.integers(lo, hi), min_size=1, max_size=30)))
    assert np.array_equal(moving_mean_at(c, window, idx), moving_mean_from_cumsum(c, window)[idx])
    assert np.array_equal(forward_mean_at(c, window, idx), forward_mean_from_cumsum(c, window)[idx])
    rows = idx.reshape(-1, 1)  # one window length per row, as the adaptive onset search passes them
    assert np.array_equal(forward_mean_at(c, np.full((idx.size, 1), window), rows),
                          forward_mean_from_cumsum(c, window)[rows])


def test_baseline_statistics_from_thinned_long_rests_date_the_same_onsets(monkeypatch):
    """Minutes of marked rest (a guided session's rests between MVC trials) feed the thresholds through an
    evenly thinned sample of at most MAX_BASELINE_SAMPLES; dating onsets from all of it gives the same
    bursts to within a sample."""
    import reengage.dsp.onsets as onsets
    from reengage.dsp import filters
    from reengage.synth import SubjectProfile, synthesize

    s = synthesize(SubjectProfile(snr_db=12.0), duration_s=170.0, fs_hz=2000.0, seed=4)
    x = filters.clean(s.emg_mv, fs=s.fs_hz)
    rest = np.zeros(x.shape[-1], dtype=bool)
    for e in s.events:
        if e.label == "rest":
            rest[int(e.onset_s * s.fs_hz):int((e.onset_s + e.duration_s) * s.fs_hz)] = True
    assert rest.sum() > 1.5 * onsets.MAX_BASELINE_SAMPLES  # thinned by a stride of 2 or more
    thinned = onsets.detect_bursts(x, fs=s.fs_hz, rest=rest)
    monkeypatch.setattr(onsets, "MAX_BASELINE_SAMPLES", rest.size)
    full = onsets.detect_bursts(x, fs=s.fs_hz, rest=rest)
    for a, b in zip(thinned, full):
        assert len(a) == len(b) > 10
        assert np.abs(a.onsets - b.onsets).max() <= 1 and np.abs(a.offsets - b.offsets).max() <= 1
