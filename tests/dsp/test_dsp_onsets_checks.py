"""The onset detectors' public API: clear errors on bad input, settings as option dataclasses, and the old
names kept working."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from reengage.dsp._util import moving_mean
from reengage.dsp.onsets import (METHODS, BonatoOptions, EnvelopeBurstOptions, HodgesBuiOptions, PowerBacktrackOptions,
                                 SolnikOptions, bonato, detect_bursts, envelope_bursts, hodges_bui,
                                 power_backtrack, power_backtrack_baseline, ramp_onsets,
                                 solnik)

FS = 1000.0
N = 3000

DETECTORS = {
    "detect_bursts": detect_bursts, "power_backtrack": power_backtrack, "hodges_bui": hodges_bui, "bonato": bonato,
    "solnik": solnik, "envelope_bursts": envelope_bursts, "power_backtrack_baseline": power_backtrack_baseline,
}
CASES = {
    "NaN": (lambda x: np.where(np.arange(N) == 1234, np.nan, x), {}, "NaN"),
    "3-D": (lambda x: x[None], {}, "3-D|2-D"),
    "fs=0": (lambda x: x, {"fs": 0.0}, "fs"),
    "short rest": (lambda x: x, {"rest": np.ones(N - 1, dtype=bool)}, "rest"),
    "long exclude": (lambda x: x, {"exclude": np.zeros(N + 5, dtype=bool)}, "exclude"),
    "2-D rest": (lambda x: x, {"rest": np.ones((2, N), dtype=bool)}, "rest"),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", DETECTORS)
def test_bad_input_is_a_clear_value_error(name, case):
    make, kw, match = CASES[case]
    x = make(np.random.default_rng(0).standard_normal((2, N)))
    with pytest.raises(ValueError, match=match):
        DETECTORS[name](x, **{"fs": FS, **kw})


def test_the_finite_check_can_be_skipped_by_a_caller_that_has_checked():
    x = np.random.default_rng(0).standard_normal((1, N))
    x[0, 5] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        detect_bursts(x, fs=FS)
    assert len(detect_bursts(x, fs=FS, method="hodges_bui", check_finite=False)) == 1


def test_ramp_onsets_checks_its_input():
    x = np.random.default_rng(0).standard_normal(N)
    args = dict(noise_power=1.0, plateau_power=4.0)
    with pytest.raises(ValueError, match="NaN"):
        ramp_onsets(np.where(np.arange(N) == 9, np.nan, x), [1000], fs=FS, **args)
    with pytest.raises(ValueError, match="1-D"):
        ramp_onsets(x[None], [1000], fs=FS, **args)
    with pytest.raises(ValueError, match="fs"):
        ramp_onsets(x, [1000], fs=0.0, **args)
    with pytest.raises(ValueError, match="RampFitOptions"):
        ramp_onsets(x, [1000], fs=FS, options=PowerBacktrackOptions(), **args)


OPTIONS = {"power_backtrack": PowerBacktrackOptions, "hodges_bui": HodgesBuiOptions, "bonato": BonatoOptions,
           "solnik": SolnikOptions}


@pytest.mark.parametrize("method", METHODS)
def test_detect_bursts_takes_the_methods_options_and_refuses_another(method):
    x = np.random.default_rng(2).standard_normal((1, N))
    x[0, 1000:2000] *= 30.0
    cls = OPTIONS[method]
    default = detect_bursts(x, fs=FS, method=method)
    same = detect_bursts(x, fs=FS, method=method, options=cls())
    np.testing.assert_array_equal(default[0].onsets, same[0].onsets)
    assert len(default[0]) == 1
    # A minimum burst longer than the one burst leaves none: the options reach the detector.
    assert len(detect_bursts(x, fs=FS, method=method, options=cls(min_burst_ms=1500.0))[0]) == 0
    other = next(c for m, c in OPTIONS.items() if m != method)
    with pytest.raises(ValueError, match=cls.__name__):
        detect_bursts(x, fs=FS, method=method, options=other())
    with pytest.raises(ValueError, match=cls.__name__):
        DETECTORS[method](x, fs=FS, options=other())


def test_options_are_frozen_and_default_to_the_documented_values():
    o = PowerBacktrackOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.h_detect = 1.0  # type: ignore[misc]
    assert (o.detect_window_ms, o.h_detect, o.onset_window_ms, o.h_mid, o.h_onset, o.onset_cutoff_hz) == \
        (100.0, 8.0, 45.0, 5.5, 2.5, 50.0)
    assert (o.min_gap_ms, o.min_burst_ms, EnvelopeBurstOptions().h_onset, BonatoOptions().h) == (150.0, 150.0, 2.0, 7.74)


def test_power_mean_given_finds_the_bursts_the_detector_finds_itself():
    """analyze passes its 100 ms mean power in (power_mean=): the detector must find the bursts it finds when it
    computes that envelope itself."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 20_000))
    for a in (2000, 7000, 12_000, 17_000):
        x[:, a:a + 1500] *= np.array([[20.0], [6.0]])
    rest = np.zeros(x.shape[-1], dtype=bool)
    rest[:1500] = True
    gap = np.zeros(x.shape[-1], dtype=bool)
    gap[9000:9200] = True
    pm = moving_mean(x * x, 100)
    for r, ex in ((rest, None), (None, gap)):
        want = power_backtrack(x, fs=FS, rest=r, exclude=ex)
        got = power_backtrack(x, fs=FS, rest=r, exclude=ex, power_mean=pm)
        assert [len(b) for b in want] == [4, 4]
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a.onsets, b.onsets)
            np.testing.assert_array_equal(a.offsets, b.offsets)
    with pytest.raises(ValueError, match="power_mean"):
        power_backtrack(x, fs=FS, power_mean=pm[:, :-1])
