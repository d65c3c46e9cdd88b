"""The validation suite's targets for the default detector (issue 3), on a fast slice of the grid.

The full grid runs with ``python -m reengage.validation``. Targets the default detector does not
reach on this synthetic carrier (median |latency error| ≤ 5 ms) are asserted at the level it does
reach, named as such, so a regression still fails.
"""

from __future__ import annotations

import pytest

from reengage.dsp.onsets import DEFAULT_METHOD
from reengage.validation.validate import DURATION_S, Scenario, oracle_latency_error_ms, run

SEEDS = (0, 1)


@pytest.fixture(scope="module")
def scores():
    cells = [Scenario(20.0), Scenario(12.0, mains_hz=60.0), Scenario(6.0),
             Scenario(12.0, adc_bits=10, label="10-bit ADC"),
             Scenario(6.0, transients_per_min=6.0, label="motion transients"),
             Scenario(12.0, fs_hz=2000.0), Scenario(12.0, fs_hz=500.0)]
    # Sessions follow the full guided layout (3 rounds of 5 s MVC trials) that the ratio's accuracy rests on.
    res = run(cells, (DEFAULT_METHOD,), seeds=SEEDS, duration_s=DURATION_S)[DEFAULT_METHOD]
    return {c.name(): (c, res[c.name()]) for c in cells}


def test_high_snr_targets(scores):
    for name, (cell, s) in scores.items():
        if cell.snr_db < 12:
            continue
        assert s["hits"] >= 0.98, name
        assert s["fp_per_min"] <= 0.5, name
        assert s["extra_reps"] == 0, name
        assert s["p90_abs_onset_error_ms"] <= 25.0, name
        assert s["order_accuracy"] >= 0.97, name
        assert s["median_abs_onset_error_ms"] <= 10.0, name
        # Per-cell medians of 2 seeds spread by about ±2 points: these bounds catch a regression; the 5 %
        # target itself is checked on 12 seeds by `python -m reengage.validation --seeds 12`, where the
        # full MVC layout gives 2.9–4.0 % in every cell (docs/validation.md). On these 2 seeds: 3.1–6.1 %.
        assert s["median_ratio_error"] <= 0.07, name
        # Issue target is 5 ms; reached levels on 12 seeds are 9–12 ms at 12 dB (8–12 ms on these 2), and an
        # oracle does not reach 5 ms either (test_oracle_latency_error_is_above_the_5_ms_target_at_12_db);
        # these bounds keep a regression from passing unnoticed.
        assert s["median_abs_latency_error_ms"] <= (13.0 if cell.fs_hz >= 1000 else 16.0), name


def test_low_snr_targets(scores):
    for name, (cell, s) in scores.items():
        if cell.snr_db >= 12:
            continue
        assert s["hits"] >= 0.95, name
        assert s["fp_per_min"] <= 1.0, name
        assert s["median_abs_onset_error_ms"] <= 20.0, name
        assert s["order_accuracy"] >= 0.90, name


def test_no_extra_reps_from_motion_transients(scores):
    for name, (cell, s) in scores.items():
        assert s["extra_reps"] == 0, name


def test_oracle_latency_error_is_above_the_5_ms_target_at_12_db():
    # Why the 5 ms latency target is not asserted above: an oracle that knows the generator's noise,
    # plateau and rise-time distribution does not reach it at 12 dB (see oracle_latency_error_ms).
    at = {snr: oracle_latency_error_ms(snr, pairs=300) for snr in (20.0, 12.0, 6.0)}
    assert at[12.0] > 5.0
    assert at[20.0] < at[12.0] < at[6.0]
