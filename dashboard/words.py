"""Findings in words, shared by the Patient and Report pages."""

from __future__ import annotations

from dash import html

from . import data


def change_words(change, mdc, unit: str, higher_is_better: bool) -> str:
    """Change since the first session compared with the minimal detectable change, in words."""
    spec = ".0f" if unit.strip() == "ms" else ".2f"
    if change is None:
        return "needs two analysed sessions"
    if mdc is None:
        return f"{change:+{spec}}{unit} since the first session (noise unknown: need sessions with ≥ 2 reps)"
    real = abs(change) > mdc
    direction = "better" if (change > 0) == higher_is_better else "worse"
    verdict = f"exceeds the session-to-session noise (MDC95 {mdc:{spec}}{unit}): a real change, {direction}" if real \
        else f"within the session-to-session noise (MDC95 {mdc:{spec}}{unit}): not yet a detectable change"
    return f"{change:+{spec}}{unit} since the first session — {verdict}"


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
