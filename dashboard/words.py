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


def projection_words(trend: data.TaskTrend) -> list:
    out = []
    for p in trend.projections:
        what = "glute:hamstring ratio" if p.metric == "glute_hamstring_ratio" else "glute max %MVC"
        ref = f"published lower bound {p.target:g} ({p.reference.source})"
        if p.already_reached:
            text = f"{what}: the latest session is already at or above the {ref}."
        elif p.reached_date is None:
            text = (f"{what}: at the current trend ({p.slope_per_week:+.3g} per week) the {ref} is not reached "
                    "within a year.")
        else:
            rng = f"{p.earliest_date or '?'} to {p.latest_date or 'not within a year'}"
            text = (f"{what}: reaches the {ref} around {p.reached_date} if the trend of "
                    f"{p.slope_per_week:+.3g} ± {1.96 * p.slope_se_per_week:.2g} per week holds (95 % range {rng}).")
        out.append(html.Li([html.Strong("ESTIMATE "), text]))
    if not out:
        refs = trend.references
        out.append(html.Li(
            "No projection: " + ("fewer than three analysed sessions." if refs else
                                 f"the reference list (MISSION.md) has no published range for "
                                 f"“{trend.task.replace('_', ' ')}”.")))
    return out


SESSION_COLUMNS = ("Phase", "Pain (0–10)", "Reps", "Ratio (IQR)", "Latency, ms (IQR)", "Glutes first (%)")


def session_cells(s: dict) -> list:
    """A session row's numbers as table cells (:data:`SESSION_COLUMNS`), each as the analysis stored it."""
    return [html.Td(v) for v in (
        fmt(s["phase"], "d"), fmt(s["pain"], "g"), fmt(s["reps"], "d"),
        with_iqr(s["median_glute_hamstring_ratio"], s["ratio_iqr"], ".2f"),
        with_iqr(s["median_onset_latency_ms"], s["latency_iqr_ms"], "+.0f"),
        fmt(s["glute_first_fraction"], ".0f", scale=100),
    )]
