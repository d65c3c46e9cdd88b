"""How the dashboard reads and writes a number: the one place for the finite check and the formatting.

Every number the pages show comes from a stored analysis (contracts/analysis.md) or the catalog, where a
missing value is ``null``. The pages never compute a median or a spread a second time: a session's
inter-quartile range is the analysis's own ``*_iqr*`` summary value, shown as a width around the median
(the analysis stores the width, not the quartiles).
"""

from __future__ import annotations

import math

MISSING = "—"


def finite(x) -> float | None:
    """``x`` as a float, or None when it is missing, not a number, a bool, NaN or infinite."""
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def fmt(x, spec: str, unit: str = "", *, scale: float = 1.0) -> str:
    """``x · scale`` formatted with ``spec`` (``"d"`` rounds to an integer) and ``unit``, or "—"."""
    v = finite(x)
    if v is None:
        return MISSING
    v *= scale
    return f"{round(v):{spec}}{unit}" if spec.endswith("d") else f"{v:{spec}}{unit}"


def with_iqr(median, iqr, spec: str, unit: str = "") -> str:
    """A session median with its inter-quartile range: ``"0.45 (IQR 0.024)"``, ``"+87 ms (IQR 12 ms)"``."""
    text = fmt(median, spec, unit)
    width = finite(iqr)
    if text == MISSING or width is None:
        return text
    return f"{text} (IQR {fmt(width, spec.lstrip('+'), unit)})"


def iqr_error_bars(iqrs: list) -> dict:
    """Plotly ``error_y`` drawing each stored IQR as a bar of that width centred on the median (no bar
    where the analysis has none: fewer than two reps)."""
    half = [None if finite(w) is None else finite(w) / 2 for w in iqrs]
    return dict(type="data", symmetric=True, array=half, thickness=1, width=3)
