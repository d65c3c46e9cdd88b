"""How the dashboard reads and writes a number: the one place for the finite check and the formatting.

Every number the pages show comes from a stored analysis (contracts/analysis.md) or the catalog, where a
missing value is ``null``. The pages never compute a median or a spread a second time: a session's
inter-quartile range is the analysis's own ``*_iqr*`` summary value, drawn from its stored quartiles
(``*_quartiles*``).
"""

from __future__ import annotations

from reengage.catalog import finite  # the one finite check, shared with the catalog and trend

MISSING = "—"




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


def iqr_error_bars(medians: list, quartiles: list) -> dict:
    """Plotly ``error_y`` drawing each session's stored first and third quartile around its median (no bar
    where the analysis has none: fewer than two reps)."""
    up, down = [], []
    for m, q in zip(medians, quartiles):
        m = finite(m)
        q1, q3 = (finite(q[0]), finite(q[1])) if isinstance(q, (list, tuple)) and len(q) == 2 else (None, None)
        ok = None not in (m, q1, q3)
        up.append(q3 - m if ok else None)
        down.append(m - q1 if ok else None)
    return dict(type="data", symmetric=False, array=up, arrayminus=down, thickness=1, width=3)
