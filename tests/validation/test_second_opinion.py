"""The TKEO second opinion on ``power_backtrack``'s onsets (``reengage.validation.second_opinion``): its rules do what
docs/validation.md says, and the finding recorded there holds on the visual reference (none of the rules reaches the
examiner target on the tune split; every rule that finds more onsets there adds extra onsets too)."""

from __future__ import annotations

import numpy as np
import pytest

from reengage.validation.real import shared_data_dir
from reengage.validation.second_opinion import combine, run_grid

DATA = shared_data_dir()
needs_data = pytest.mark.skipif(not DATA.is_dir() or not any(DATA.glob("*.csv")),
                                reason=f"no real recordings at {DATA} (set $REENGAGE_SHARED_DATA)")


def spans(on, off):
    return np.array(on, dtype=float), np.array(off, dtype=float)


def test_split_starts_a_burst_after_a_tkeo_rest_and_lead_in_moves_the_onset():
    # One power burst 1.0–9.0 s; TKEO sees a 0.1 s lead-in at 1.0, rest, a contraction 1.4–4.0, 1 s of rest, 5.0–9.0.
    pb = {"f": {"m": spans([1.0], [9.0])}}
    tk = {"f": {"m": spans([1.0, 1.4, 5.0], [1.1, 4.0, 9.0])}}
    assert list(combine(pb, tk)["f"]["m"]) == [1.0]  # no rule: power_backtrack's onsets
    assert list(combine(pb, tk, gap_s=0.5)["f"]["m"]) == [1.0, 5.0]  # the 0.3 s rest is too short to split on
    # Without ``lead`` the contraction after the lead-in starts a burst of its own; with it, the onset moves there.
    assert list(combine(pb, tk, gap_s=0.2)["f"]["m"]) == [1.0, 1.4, 5.0]
    assert list(combine(pb, tk, gap_s=0.2, lead=True)["f"]["m"]) == [1.4, 5.0]


def test_relocate_and_add():
    pb = {"f": {"m": spans([1.0, 6.0], [3.0, 7.0])}}
    # TKEO silent for 0.4 s after the first power onset; a 0.3 s TKEO burst at 4.0 the power missed; one of 0.05 s.
    tk = {"f": {"m": spans([1.4, 4.0, 5.0, 6.0], [3.0, 4.3, 5.05, 7.0])}}
    assert list(combine(pb, tk, late_s=0.5)["f"]["m"]) == [1.0, 6.0]
    assert list(combine(pb, tk, late_s=0.2)["f"]["m"]) == [1.4, 6.0]
    assert list(combine(pb, tk, add_s=0.15)["f"]["m"]) == [1.0, 4.0, 6.0]


@needs_data
def test_no_tkeo_revision_reaches_the_target_on_tune():
    # Measured 2026-12-01, on power_backtrack with its last step (fifth round): power_backtrack tune 87.2 % found /
    # 8.5 % extra (holdout 87.3 / 10.9 %); split with gap_s ≥ 0.2 s tune 90.4 % / 10.6 % (holdout 87.3 / 10.9 %, the
    # same); add (TKEO bursts of ≥ 0.15 s the power missed) tune 88.3 / 10.6 %, holdout 90.9 / 10.9 %. Every rule
    # that finds more on tune adds extra onsets there.
    results = run_grid()
    base = next(s for fam, _, s in results if fam == "power_backtrack")["tune"]
    revised = [s for fam, _, s in results if fam not in ("power_backtrack", "solnik", "power_backtrack ramp_fit")]
    assert not any(s["tune"]["found_pct"] >= 90.0 and s["tune"]["extra_pct"] <= 10.0 for s in revised)
    assert max(s["tune"]["found_pct"] for s in revised) >= 90.0
    assert all(s["tune"]["extra_pct"] > base["extra_pct"] for s in revised if s["tune"]["found_pct"] > base["found_pct"])
