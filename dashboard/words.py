"""Findings in words and the session table cells, shared by the Patient and Report pages."""

from __future__ import annotations

from dash import html

from . import data
from .numbers import finite, fmt, with_iqr


# How the page names each between-session noise source (reengage.trend.NOISE_SOURCES).
NOISE_WORDS = {
    "published": "the published between-day noise (re-applied electrodes, a new MVC)",
    "patient": "this patient's own session-to-session scatter",
}


def change_words(change, mdc, unit: str, higher_is_better: bool) -> str:
    """Change since the first session compared with the between-session MDC95, in words, naming where that
    noise came from (``mdc.source``) and today's within-session precision (``mdc.within``) beside it."""
    spec = ".0f" if unit.strip() == "ms" else ".2f"
    if finite(change) is None:
        return "needs two analysed sessions"
    since = f"{fmt(change, '+' + spec, unit)} since the first session"
    if finite(mdc) is None:
        return f"{since} (noise unknown)"
    source = NOISE_WORDS.get(getattr(mdc, "source", None), "the session-to-session noise")
    noise = f"{source} (MDC95 {fmt(mdc, spec, unit)})"
    within = finite(getattr(mdc, "within", None))
    precision = (f"; within-session precision today: MDC95 {fmt(within, spec, unit)} from the rep-to-rep spread"
                 if within is not None else "")
    if abs(change) > mdc:
        direction = "better" if (change > 0) == higher_is_better else "worse"
        return f"{since} — exceeds {noise}: a real change, {direction}{precision}"
    return f"{since} — within {noise}: not yet a detectable change{precision}"


def _cadence(days: float, n: int) -> str:
    noun = "session" if n == 1 else "sessions"
    return f"weekly {noun}" if 6 <= days <= 8 else f"{noun} {days:.0f} days apart (the usual spacing so far)"


def projection_text(p: data.Projection) -> str:
    """One measure's slope per week with its 95 % interval and, when it differs from zero, how many more
    sessions at that slope before the change since the first session would exceed the between-session MDC95.
    No date and no target: no multi-week study gives a course for the ratio or the onset order."""
    ratio = p.metric == "glute_hamstring_ratio"
    what, unit = ("Glute:hamstring ratio", "") if ratio else ("Onset latency", " ms")
    slope = f"{p.slope_per_week:+.2f} ± {p.slope_ci95_per_week:.2f}" if ratio else \
        f"{p.slope_per_week:+.1f} ± {p.slope_ci95_per_week:.1f}"
    at = f"at {slope}{unit} per week (least-squares slope of {p.sessions} session medians, 95 % interval)"
    if p.mdc is None:
        return f"{what}: {at}; the between-session noise is unknown."
    noise = f"the between-session noise (MDC95 {fmt(p.mdc, '.2f' if ratio else '.0f', unit)})"
    if p.sessions_more == 0:
        return f"{what}: {at}; the change since the first session already exceeds {noise}."
    if p.flat:
        return f"{what}: {at}, the slope is not different from zero: no number of sessions can be given."
    if p.sessions_more is None:
        return (f"{what}: {at}, a change beyond {noise} would not come within {data.MAX_SESSIONS_AHEAD} "
                f"further {_cadence(p.interval_days, 2)}.")
    n, spec = p.sessions_more, ".2f" if ratio else ".0f"
    if ratio and p.mdc_then is not None and fmt(p.mdc_then, spec) != fmt(p.mdc, spec):
        # The ratio's noise is relative: the count is against the MDC95 at the level it would then have.
        noise = (f"the between-session noise (MDC95 {fmt(p.mdc, spec)} now, {fmt(p.mdc_then, spec)} at that "
                 "level)")
    return f"{what}: {at}, a change beyond {noise} would take about {n} more {_cadence(p.interval_days, n)}."


def projection_words(trend: data.TaskTrend) -> list:
    """The slope lines (:func:`projection_text`), each marked ESTIMATE; nothing below three analysed sessions."""
    return [html.Li([html.Strong("ESTIMATE "), projection_text(p)], className="projection") for p in trend.projections]


SESSION_COLUMNS = ("Phase", "Pain (0–10)", "Reps", "Ratio (IQR)", "Latency, ms (IQR)", "Glutes first (%)",
                   "Glute max %MVC", "Hamstrings %MVC")


def session_cells(s: dict) -> list:
    """A session row's numbers as table cells (:data:`SESSION_COLUMNS`), each as the analysis stored it."""
    return [html.Td(v) for v in (
        fmt(s["phase"], "d"), fmt(s["pain"], "g"), fmt(s["reps"], "d"),
        with_iqr(s["median_glute_hamstring_ratio"], s["ratio_iqr"], ".2f"),
        with_iqr(s["median_onset_latency_ms"], s["latency_iqr_ms"], "+.0f"),
        fmt(s["glute_first_fraction"], ".0f", scale=100),
        fmt(s.get("glute_max_pct_mvc"), ".1f"), fmt(s.get("hamstrings_pct_mvc"), ".1f"),
    )]
