"""The dashboard's one finite check and number formatting (reengage.dashboard.numbers)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reengage.dashboard.numbers import MISSING, finite, fmt, iqr_error_bars, with_iqr


@pytest.mark.parametrize("x", [None, True, False, "abc", float("nan"), float("inf"), -math.inf, [1.0], {}])
def test_finite_refuses_what_is_not_a_finite_number(x):
    assert finite(x) is None


@pytest.mark.parametrize("x, v", [(0, 0.0), (-3, -3.0), ("2.5", 2.5), (np.float32(1.5), 1.5), (np.int64(7), 7.0)])
def test_finite_reads_numbers(x, v):
    assert finite(x) == v and isinstance(finite(x), float)


def test_fmt():
    assert fmt(None, ".2f") == fmt(float("nan"), ".2f") == MISSING
    assert fmt(0.4449, ".2f") == "0.44"
    assert fmt(-40.4, "+.0f", " ms") == "-40 ms"
    assert fmt(3.0, "d") == fmt(3, "d") == "3"  # integers stored as floats (phase, reps) still print
    assert fmt(0.6, ".0f", " %", scale=100) == "60 %"
    assert fmt(True, "d") == MISSING


def test_with_iqr():
    assert with_iqr(0.45, 0.024, ".2f") == "0.45 (IQR 0.02)"
    assert with_iqr(87.0, 12.0, "+.0f", " ms") == "+87 ms (IQR 12 ms)"  # a width carries no sign
    assert with_iqr(0.45, None, ".2f") == "0.45"  # one rep: no spread
    assert with_iqr(None, 0.1, ".2f") == MISSING


def test_iqr_error_bars_reach_the_stored_quartiles():
    bars = iqr_error_bars([0.5, 0.5, 0.5, 40.0, None], [[0.4, 0.8], None, [0.4, float("nan")], [30.0, 45.0], [1, 2]])
    assert bars["symmetric"] is False
    # The bar runs from the first to the third quartile, wherever the median lies between them.
    assert bars["array"] == pytest.approx([0.3, None, None, 5.0, None], nan_ok=True)
    assert bars["arrayminus"] == pytest.approx([0.1, None, None, 10.0, None], nan_ok=True)
