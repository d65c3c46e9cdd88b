"""power_backtrack's last step on real muscle (``reengage.validation.local_baseline``, issue 14's fifth round): the
finding recorded in docs/validation.md holds. With the step the detector is better against every reference on both
splits, moves no onset of the synthetic suite, and still misses the examiner target on the held-back subjects."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reengage.dsp import LocalOnsetOptions
from reengage.validation.local_baseline import load_cleaned, onsets_s, references, score, synthetic_errors
from reengage.validation.real import shared_data_dir

DATA = shared_data_dir()
needs_data = pytest.mark.skipif(not DATA.is_dir() or not any(DATA.glob("*.csv")),
                                reason=f"no real recordings at {DATA} (set $REENGAGE_SHARED_DATA)")


@needs_data
def test_the_fifth_round_finding_holds():
    # Measured 2026-12-01 with the fifth round's detector (found / extra), marker 1: tune 85.1 / 10.6 % → 87.2 /
    # 8.5 %; holdout 78.2 / 20.0 % → 87.3 / 10.9 %. Consensus: tune 87.8 / 9.5 % → 90.5 / 6.8 %, holdout 78.7 /
    # 19.1 % → 87.2 / 10.6 %. Marker 3 (blind, marked after the step was built): tune 83.1 / 13.5 % → 86.5 / 10.1 %,
    # holdout 82.0 / 14.0 % → 90.0 / 6.0 %. Majority of the three: tune 85.2 / 10.2 % → 88.6 / 6.8 %, holdout 76.9
    # / 21.2 % → 86.5 / 11.5 %. With the sixth round's busy-rest level (the step alone, without lead_ins): marker 1
    # tune 86.2 / 10.6 % → 87.2 / 9.6 %, holdout 81.8 / 21.8 % → 90.9 / 12.7 %; the step adds at least 1 point on
    # every reference.
    data = load_cleaned()
    without, with_step = onsets_s(data, None), onsets_s(data, LocalOnsetOptions())
    met = set()
    for name, rows in references().items():
        base, new = score(without, rows), score(with_step, rows)
        for split in ("tune", "holdout"):
            assert new[split]["found_pct"] >= base[split]["found_pct"] + 1.0, (name, split)
            assert new[split]["extra_pct"] <= base[split]["extra_pct"] - 1.0, (name, split)
            assert new[split]["median_abs_error_ms"] <= 40.0, (name, split)
        holdout = new["holdout"]
        if holdout["found_pct"] >= 90.0 and holdout["extra_pct"] <= 10.0:
            met.add(name)
    assert met <= {"marker 3"}  # on holdout the target is met against marker 3 alone, not the primary or majority
    first = score(with_step, references()["marker 1"])
    assert first["holdout"]["found_pct"] >= 85.0 and first["holdout"]["extra_pct"] <= 13.0
    assert first["tune"]["found_pct"] >= 87.0 and first["tune"]["extra_pct"] <= 10.0


def test_the_step_changes_no_synthetic_error():
    """On smooth synthetic ramps from rest the step finds the detector's departure (no quiet stretch between the
    two, so no onset moves later): every cell's errors are unchanged, with or without ``keep_ms``."""
    for opts in (LocalOnsetOptions(), replace(LocalOnsetOptions(), keep_ms=50.0)):
        for snr, cell in synthetic_errors(opts, seeds=(0, 1), snr_db=(20.0, 6.0)).items():
            assert cell["with"] == cell["without"], snr
