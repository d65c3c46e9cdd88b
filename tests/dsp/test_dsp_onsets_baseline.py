"""power_backtrack's rest statistics as a value (DetectionBaseline): learned once, the same bursts as learning
them in the call, and reusable over many short windows that hold no rest (the live chain)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reengage.dsp.onsets as onsets
from reengage.dsp.filters import clean
from reengage.dsp.onsets import (DetectionBaseline, PowerBacktrackOptions, detect_bursts, power_backtrack,
                                 power_backtrack_baseline)
from reengage.synth import SubjectProfile, synthesize

FS = 1000.0


def _record(seed: int, n_ch: int, n: int) -> np.ndarray:
    """White noise with a few bursts of random strength (3–30 dB above it) and rise (10–150 ms)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_ch, n))
    t = np.arange(n)
    for c in range(n_ch):
        for _ in range(int(rng.integers(0, 1 + n // 1500))):
            a, rise, hold = int(rng.integers(0, n)), rng.uniform(10, 150), rng.uniform(200, 1500)
            u = np.clip((t - a) / rise, 0.0, 1.0) * (t < a + hold)
            x[c] *= 1.0 + 10 ** (rng.uniform(3, 30) / 20) * (0.5 - 0.5 * np.cos(np.pi * u))
    return x


def _span(n: int, lo_frac: float, len_frac: float) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    a = int(lo_frac * n)
    m[a:a + int(len_frac * n)] = True
    return m


def _same(a, b) -> None:
    assert len(a) == len(b)
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p.onsets, q.onsets)
        np.testing.assert_array_equal(p.offsets, q.offsets)


OPTIONS = [PowerBacktrackOptions(), PowerBacktrackOptions(onset_cutoff_hz=None),
           PowerBacktrackOptions(extrapolate=0.5, window_slope_ms_per_db=4.0),
           PowerBacktrackOptions(plateau_fraction=0.0, window_slope_ms_per_db=0.0),
           PowerBacktrackOptions(ramp_fit=True, h_detect=5.0, onset_window_ms=80.0)]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_ch=st.integers(1, 2), n=st.integers(1, 12_000),
       rest=st.sampled_from(["none", "marked", "short"]), gap=st.booleans(), opt=st.sampled_from(OPTIONS))
def test_a_learned_baseline_gives_the_bursts_of_learning_in_the_call(seed, n_ch, n, rest, gap, opt):
    x = _record(seed, n_ch, n)
    r = {"none": None, "marked": _span(n, 0.0, 0.3), "short": _span(n, 0.5, 0.0001)}[rest]
    ex = _span(n, 0.6, 0.05) if gap else None
    want = power_backtrack(x, fs=FS, rest=r, exclude=ex, options=opt)
    base = power_backtrack_baseline(x, fs=FS, rest=r, exclude=ex, options=opt)
    _same(power_backtrack(x, fs=FS, exclude=ex, baseline=base), want)
    _same(power_backtrack(x, fs=FS, exclude=ex, baseline=base, options=opt), want)


def test_a_learned_baseline_gives_the_same_bursts_on_a_long_session():
    """Records of 2 × 32768 samples and more take the blocked envelope path and the per-channel shared sums."""
    s = synthesize(SubjectProfile(snr_db=9.0), duration_s=150.0, fs_hz=FS, seed=11)
    y = clean(s.emg_mv, fs=FS)
    rest = np.zeros(y.shape[-1], dtype=bool)
    for e in s.events:
        if e.label == "rest":
            rest[int(e.onset_s * FS):int((e.onset_s + e.duration_s) * FS)] = True
    want = detect_bursts(y, fs=FS, rest=rest)
    assert sum(len(b) for b in want) > 20
    _same(power_backtrack(y, fs=FS, baseline=power_backtrack_baseline(y, fs=FS, rest=rest)), want)


def test_a_baseline_from_rest_alone_serves_short_windows_without_rest(monkeypatch):
    """The live chain: a baseline learned once on 30 s of cleaned rest, then 5 s windows of exercise. Bursts
    inside a window are dated as the whole record dates them, and the rest medians are computed once."""
    s = synthesize(SubjectProfile(snr_db=12.0), duration_s=95.0, fs_hz=FS, seed=2, with_mvc=False)
    y = clean(s.emg_mv, fs=FS)
    quiet = s.truth["reps"][0]["onset_s"]
    first_rep = int(min(quiet.values()) * FS) - 500
    assert first_rep > 2000
    rest = np.zeros(y.shape[-1], dtype=bool)
    rest[:first_rep] = True
    base = power_backtrack_baseline(y[:, :first_rep], fs=FS, rest=np.ones(first_rep, dtype=bool))
    assert isinstance(base, DetectionBaseline) and base.n_channels == 2
    whole = power_backtrack(y, fs=FS, rest=rest)
    calls = []
    real = onsets._window_stats
    monkeypatch.setattr(onsets, "_window_stats", lambda v: calls.append(v.size) or real(v))
    win = int(5 * FS)
    matched = 0
    for rnd in range(2):
        before = len(calls)
        for a in range(first_rep, y.shape[-1] - win, win):
            got = power_backtrack(y[:, a:a + win], fs=FS, baseline=base)
            for c in range(2):
                inner = (got[c].onsets > 500) & (got[c].offsets < win - 500)
                for on in got[c].onsets[inner] + a:
                    # The same rest statistics up to a few ms of rounding in the windows' running sums.
                    assert np.min(np.abs(whole[c].onsets - on)) <= 3
                    matched += 1
        if rnd == 1:
            assert len(calls) == before  # every window length's statistics were kept from the first round
    assert matched > 10
    assert 0 < len(calls) <= 2 * (int(onsets._ADAPTIVE_MAX_MS - onsets._ADAPTIVE_MIN_MS) + 1)


def test_a_baseline_must_match_the_call():
    x = _record(1, 2, 4000)
    base = power_backtrack_baseline(x, fs=FS)
    with pytest.raises(ValueError, match="rest or baseline"):
        power_backtrack(x, fs=FS, rest=np.ones(4000, dtype=bool), baseline=base)
    with pytest.raises(ValueError, match="Hz"):
        power_backtrack(x, fs=2 * FS, baseline=base)
    with pytest.raises(ValueError, match="channels"):
        power_backtrack(x[:1], fs=FS, baseline=base)
    with pytest.raises(ValueError, match="h_detect"):
        power_backtrack(x, fs=FS, baseline=base, options=PowerBacktrackOptions(h_detect=3.0))
    with pytest.raises(ValueError, match="DetectionBaseline"):
        power_backtrack(x, fs=FS, baseline={"detect_level": 1.0})
    # Settings the rest statistics do not depend on may differ.
    power_backtrack(x, fs=FS, baseline=base, options=PowerBacktrackOptions(min_gap_ms=50.0))
    one = base.channels(1)
    assert one.n_channels == 1 and one.detect_level[0] == base.detect_level[1]
    _same(power_backtrack(x[1:], fs=FS, baseline=one), power_backtrack(x, fs=FS, baseline=base)[1:])
