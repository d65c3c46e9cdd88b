"""A subject's course across sessions: each session's values, the change since the first and whether it
exceeds the noise **between** sessions (``reengage trend``; contract: ``docs/cli.md``).

Amplitude varies far more between days (electrodes re-applied, a fresh MVC) than within one session, so the
verdict is judged against a between-session MDC95 (:func:`between_session_mdc`), never the rep-to-rep spread
alone: the published between-day figure, or the patient's own scatter around their trend when they have enough
sessions and it is larger. The rep-to-rep MDC (:func:`minimal_detectable_change`) is kept as the precision of
one session and is a floor for the between-session one. ``noise_source`` says which figure was used
(``docs/validation.md``, "Between-session noise"). These functions are the single place for this arithmetic:
the dashboard calls them too, so the CLI and the pages never disagree.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reengage.catalog import CATALOG_NAME, Catalog, finite
from reengage.errors import InputError

NOISE_PUBLISHED = "published"  # the published between-day figure below
NOISE_PATIENT = "patient"  # the patient's own sessions: scatter around their trend
NOISE_SOURCES = (NOISE_PUBLISHED, NOISE_PATIENT)

# Between-day %SEM of MVC-normalised surface-EMG amplitude with electrodes re-applied and a fresh MVC: ≈ 17 %
# (five studies agree; shared/MISSION.md "Between-session noise", shared/research/clinical-references.md).
# MDC95 = 1.96·√2·SEM ≈ 47 % (Weir 2005, J Strength Cond Res 19:231–240). No study gives it for the
# glute:hamstring ratio itself; an MVC reference off by ~12 % per muscle moves the ratio by ~17 % (√2·12), the
# same size, so the amplitude figure is used for the ratio, relative to the mean of the two compared sessions.
PUBLISHED_RATIO_SEM_PCT = 17.0
# Onset difference between two muscles: the best lab figure is SEM ≈ 6 ms (MDC95 ≈ 16–17 ms; knee muscles, a
# stair task; MISSION.md). Prone hip extension onsets vary far more, so this is a floor: the within-session
# rep spread, usually larger, replaces it when it is.
PUBLISHED_LATENCY_SEM_MS = 6.0
# The patient's own scatter (residuals around a straight line over time) is used from this many sessions (four
# degrees of freedom), and only when it exceeds the published figure: a small-sample SD can easily understate.
MIN_SESSIONS_OWN_NOISE = 6
Z95_DIFF = 1.96 * math.sqrt(2.0)  # MDC95 = 1.96·√2·SEM: the difference of two sessions, 95 %
VERDICTS = ("improved", "worsened", "no detectable change", "insufficient data")

# measure → (catalog column of the session median, per-rep key in the analysis, higher is better)
MEASURES = {
    "glute_hamstring_ratio": ("median_glute_hamstring_ratio", "glute_hamstring_ratio", True),
    # Glute max firing earlier relative to the hamstrings (more negative) is the rehab goal.
    "onset_latency_ms": ("median_onset_latency_ms", "onset_latency_ms", False),
}


def rep_values(analysis: dict | None, key: str) -> list[float]:
    """A measure of each rep the analysis kept (not excluded), as stored."""
    if not analysis:
        return []
    out = [finite(r.get(key)) for r in analysis.get("reps") or [] if not r.get("excluded")]
    return [v for v in out if v is not None]


def minimal_detectable_change(per_session_reps: list[list[float]]) -> float | None:
    """MDC95 of a session's median from within-session (rep-to-rep) variability.

    SEM of one session's median ≈ 1.2533 · SD_within / √n (the median's efficiency for normal data),
    with SD_within pooled over sessions and n the median number of reps; MDC95 = 1.96 · √2 · SEM
    (Weir 2005, J Strength Cond Res 19:231–240). Needs at least one session with 2 reps."""
    groups = [np.asarray(g, dtype=float) for g in per_session_reps if len(g) >= 2]
    if not groups:
        return None
    dof = sum(len(g) - 1 for g in groups)
    pooled_sd = math.sqrt(sum(float(np.var(g, ddof=1)) * (len(g) - 1) for g in groups) / dof)
    n = float(np.median([len(g) for g in per_session_reps if len(g) > 0]))
    sem = 1.2533 * pooled_sd / math.sqrt(n)
    return 1.96 * math.sqrt(2.0) * sem


class MDC(float):
    """A between-session MDC95 in the measure's units that also says where it came from (``source``, one of
    :data:`NOISE_SOURCES`) and carries the within-session MDC95 (``within``, today's precision, or None)."""

    source: str
    within: float | None

    def __new__(cls, value: float, source: str, within: float | None = None):
        obj = super().__new__(cls, value)
        obj.source, obj.within = source, within
        return obj


def _own_sem(values: list[float], days: list[float], log: bool) -> float | None:
    """SD of the residuals around a least-squares line over time (log values for the ratio), or None with too
    few sessions. A straight line absorbs a steady course, so the residuals are the session-to-session noise."""
    pairs = [(d, v) for d, v in zip(days, values) if d is not None and v is not None and (v > 0 or not log)]
    if len(pairs) < MIN_SESSIONS_OWN_NOISE:
        return None
    x = np.array([p[0] for p in pairs], dtype=float)
    y = np.array([p[1] for p in pairs], dtype=float)
    if log:
        y = np.log(y)
    if np.ptp(x) == 0:
        return None
    resid = y - np.polyval(np.polyfit(x, y, 1), x)
    sd = math.sqrt(float(np.sum(resid ** 2)) / (len(y) - 2))
    return 100.0 * math.expm1(sd) if log else sd  # the ratio's as a %SEM


def between_session_mdc(measure: str, first: float | None, latest: float | None,
                        per_session_reps: list[list[float]], values: list[float | None] | None = None,
                        days: list[float | None] | None = None) -> MDC | None:
    """MDC95 for the change ``latest - first`` of ``measure`` (a key of :data:`MEASURES`) from between-session
    noise: the largest of the published between-day figure, the patient's own scatter around their trend
    (``values`` at ``days``, from :data:`MIN_SESSIONS_OWN_NOISE` sessions) and the within-session MDC (a session
    median cannot be steadier between days than within one). The ratio's noise is relative: its MDC95 is the
    %MDC times the mean of ``first`` and ``latest`` (symmetric for a rise and a fall). None without both values."""
    if first is None or latest is None:
        return None
    within = minimal_detectable_change(per_session_reps)
    ratio = measure == "glute_hamstring_ratio"
    own = _own_sem(list(values or []), list(days or []), log=ratio) if values and days else None
    sem, source = (PUBLISHED_RATIO_SEM_PCT if ratio else PUBLISHED_LATENCY_SEM_MS), NOISE_PUBLISHED
    if own is not None and own > sem:
        sem, source = own, NOISE_PATIENT
    mdc = Z95_DIFF * sem * (abs(first + latest) / 2.0 / 100.0 if ratio else 1.0)
    if within is not None and within > mdc:
        mdc = within  # the between-session figure cannot be below the session's own precision
    return MDC(mdc, source, within)


def trend_arrow(values: list[float | None], mdc: float | None, higher_is_better: bool = True) -> tuple[str, str]:
    """Arrow and words for the change over the last (up to) three sessions: within the minimal detectable
    change (or 5 % of the mean when it is unknown) counts as flat."""
    v = [x for x in values if x is not None][-3:]
    if len(v) < 2:
        return "·", "not enough sessions for a trend"
    change = v[-1] - v[0]
    noise = mdc if mdc is not None else 0.05 * abs(float(np.mean(v)))
    if abs(change) <= noise:
        return "→", "steady (change within the session-to-session noise)"
    better = (change > 0) == higher_is_better
    return ("↗" if change > 0 else "↘"), ("improving" if better else "worsening")


def verdict(change: float | None, mdc: float | None, higher_is_better: bool) -> str:
    """One of :data:`VERDICTS`: a change counts only when it exceeds the MDC; without two values or without a
    noise estimate there is nothing to judge."""
    if change is None or mdc is None:
        return "insufficient data"
    if abs(change) <= mdc:
        return "no detectable change"
    return "improved" if (change > 0) == higher_is_better else "worsened"


def _rounded(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)  # no float dust (0.34000000000000002) in the JSON


def measure_trend(values: list[float | None], per_session_reps: list[list[float]], higher_is_better: bool,
                  measure: str = "glute_hamstring_ratio", days: list[float | None] | None = None) -> dict:
    """First, latest, change, between-session MDC95 and where it came from, the within-session MDC95 (today's
    precision), and the verdict, over sessions in date order (``days``: each session's day number, for the
    patient's own noise)."""
    v = [x for x in values if x is not None]
    first, latest = (v[0], v[-1]) if v else (None, None)
    change = _rounded(latest - first) if len(v) >= 2 else None
    mdc = between_session_mdc(measure, first, latest, per_session_reps, values, days) if len(v) >= 2 else None
    within = mdc.within if mdc is not None else minimal_detectable_change(per_session_reps)
    return {"first": first, "latest": latest, "change": change, "mdc95": _rounded(mdc),
            "noise_source": mdc.source if mdc is not None else None,
            "within_session_mdc95": _rounded(within),
            "verdict": verdict(change, _rounded(mdc), higher_is_better)}


@dataclass
class Projection:
    """The least-squares slope of one measure's session medians over time, with its 95 % interval, and how
    many more sessions at that slope before the change since the first session would exceed the
    between-session MDC95. No multi-week study gives a course for the ratio or the onset order, so this is
    arithmetic on the patient's own sessions, never a date or a target."""

    metric: str  # a key of MEASURES
    slope_per_week: float
    slope_ci95_per_week: float  # half-width of the 95 % interval (Student t, n − 2 degrees of freedom)
    sessions: int  # sessions in the fit
    interval_days: float  # median spacing of the sessions so far: the cadence "more sessions" assumes
    mdc: float | None  # between-session MDC95 of the change since the first session, as it stands now
    change: float  # latest − first session median (the verdict's change)
    sessions_more: int | None  # 0: already beyond the noise; None: not different from zero / not within the cap
    mdc_then: float | None  # the MDC95 at that projected session (the ratio's grows with its level), else None
    fit_dates: list[str]
    fit_values: list[float]

    @property
    def flat(self) -> bool:
        """The slope's 95 % interval spans zero: not different from no change."""
        return abs(self.slope_per_week) <= self.slope_ci95_per_week


MAX_SESSIONS_AHEAD = 52  # a year of weekly sessions: beyond it the count says nothing a clinician can use


def _sessions_to_mdc(measure: str, first: float, y_last: float, slope_per_session: float,
                     per_session_reps: list[list[float]], values: list, days: list) -> tuple[int, float] | None:
    """Smallest k ≥ 1 such that the fitted value k sessions after the last differs from the first session
    by more than the between-session MDC95 for that pair (the ratio's MDC grows with its
    level), in the slope's direction, with that MDC95; None when not within MAX_SESSIONS_AHEAD or a ratio
    would pass 0."""
    for k in range(1, MAX_SESSIONS_AHEAD + 1):
        y = y_last + slope_per_session * k
        if measure == "glute_hamstring_ratio" and y <= 0:
            return None
        mdc = between_session_mdc(measure, first, y, per_session_reps, values, days)
        if mdc is not None and abs(y - first) > mdc and (y - first) * slope_per_session > 0:
            return k, float(mdc)
    return None


def project(dates: list[str], values: list[float | None], measure: str = "glute_hamstring_ratio",
            per_session_reps: list[list[float]] | None = None) -> Projection | None:
    """Least-squares line of the session medians (``values``) against the date: slope per week with its
    95 % interval, and the number of further sessions, at the usual spacing, before the change since the
    first session would exceed the between-session MDC95 (:func:`between_session_mdc`, the verdicts' own
    figure). Needs ≥ 3 sessions on ≥ 2 dates, else None."""
    from scipy import stats  # imported here: `reengage trend` without a fit never pays for scipy

    reps = per_session_reps or []
    pts = [(dt.date.fromisoformat(str(d)[:10]), float(v)) for d, v in zip(dates, values) if finite(v) is not None]
    if len(pts) < 3 or len({p[0] for p in pts}) < 2:
        return None
    d0 = pts[0][0]
    x = np.array([(d - d0).days for d, _ in pts], dtype=float)
    y = np.array([v for _, v in pts], dtype=float)
    slope, intercept = (float(c) for c in np.polyfit(x, y, 1))
    resid = y - (intercept + slope * x)
    sxx = float(((x - x.mean()) ** 2).sum())
    se = math.sqrt(float((resid ** 2).sum()) / (len(x) - 2) / sxx)
    half = float(stats.t.ppf(0.975, len(x) - 2)) * se
    steps = np.diff(np.unique(x))
    interval = float(np.median(steps))
    first, latest = float(y[0]), float(y[-1])
    day_list = [float(v) for v in x]
    mdc = between_session_mdc(measure, first, latest, reps, list(y), day_list)
    more: int | None = None
    then: float | None = None
    if mdc is not None and abs(latest - first) > mdc:
        more = 0
    elif mdc is not None and abs(slope) > half:
        ahead = _sessions_to_mdc(measure, first, intercept + slope * x[-1], slope * interval, reps, list(y), day_list)
        more, then = ahead if ahead is not None else (None, None)
    return Projection(
        metric=measure, slope_per_week=slope * 7, slope_ci95_per_week=half * 7, sessions=len(x),
        interval_days=interval, mdc=mdc, change=latest - first, sessions_more=more, mdc_then=then,
        fit_dates=[(d0 + dt.timedelta(days=float(v))).isoformat() for v in (x[0], x[-1])],
        fit_values=[intercept + slope * x[0], intercept + slope * x[-1]],
    )


def slope_fields(analysed: list[dict], column: str, reps: list[list[float]], measure: str) -> dict:
    """``reengage trend``'s slope of one measure over the analysed sessions, the same fit the Patient page draws
    (:func:`project` over the same sessions): ``slope_per_week``, ``slope_ci95_per_week`` (the 95 % half-width)
    and ``sessions_to_exceed_noise``: 0 when the change since the first session already exceeds the MDC95,
    else null when the interval spans zero (a flat course has no pace to count), as the Patient page says it;
    all null when the fit is impossible (fewer than three sessions with a value, or one date)."""
    p = project([s["session_date"] for s in analysed], [finite(s[column]) for s in analysed], measure, reps)
    if p is None:
        return {"slope_per_week": None, "slope_ci95_per_week": None, "sessions_to_exceed_noise": None}
    return {"slope_per_week": _rounded(p.slope_per_week), "slope_ci95_per_week": _rounded(p.slope_ci95_per_week),
            "sessions_to_exceed_noise": p.sessions_more}


def day_numbers(dates: list) -> list[float | None]:
    """Days since the first parseable ISO date (``YYYY-MM-DD`` or a timestamp); None where unreadable."""
    parsed = []
    for d in dates:
        try:
            parsed.append(dt.date.fromisoformat(str(d)[:10]))
        except ValueError:
            parsed.append(None)
    known = [p for p in parsed if p is not None]
    if not known:
        return [None] * len(parsed)
    return [None if p is None else float((p - known[0]).days) for p in parsed]


def _session_row(s: dict) -> dict:
    return {
        "session_id": s["session_id"], "date": s["session_date"], "phase": s["phase"], "pain": s["pain"],
        "reps": s["reps"], "glute_hamstring_ratio": finite(s["median_glute_hamstring_ratio"]),
        "onset_latency_ms": finite(s["median_onset_latency_ms"]), "path": s["path"],
        "analysed": s["analysis_id"] is not None,
    }


def _pick_task(subject: str, sessions: list[dict], task: str | None, notes: list[str]) -> str:
    counts: dict[str, int] = {}
    for s in sessions:
        counts[s["task"]] = counts.get(s["task"], 0) + 1
    if task is not None:
        if task not in counts:
            have = ", ".join(sorted(counts)) or "none"
            raise InputError(f"--task {task}: {subject} has no sessions of it (has: {have})")
        return task
    chosen = max(sorted(counts), key=lambda t: counts[t])  # the dashboard's order: most sessions first
    others = [f"{t} ({n})" for t, n in sorted(counts.items()) if t != chosen]
    if others:
        notes.append(f"showing {chosen}; {subject} also has sessions of {', '.join(others)}: choose with --task")
    return chosen


def no_sessions_message(cat: Catalog, subject: str, root: Path) -> str:
    if cat.has_patient(subject):
        empty = len(cat.empty_sessions(subject))
        why = f"only {empty} empty recording(s)" if empty else "no sessions yet"
        return f"--subject {subject}: {why} in {root}"
    near = cat.closest_patients(subject)
    hint = f"; did you mean {', '.join(near)}?" if near else ""
    return f"--subject {subject}: not in the patient register of {root}{hint}"


def subject_trend(root: Path, subject: str, task: str | None = None) -> dict:
    """The ``reengage trend`` document of a subject's sessions of one exercise (the one with the most sessions
    when ``task`` is None). Recordings without samples are left out, each with a note."""
    root = Path(root)
    if not (root / CATALOG_NAME).exists():
        raise InputError(f"{root}: no catalog here (record, import or `reengage analyze --all` first)")
    with Catalog(root) as cat:
        everything = cat.sessions(subject)  # empty recordings are not among them
        if not everything:
            raise InputError(no_sessions_message(cat, subject, root))
        notes: list[str] = []
        task = _pick_task(subject, everything, task, notes)
        analyses = cat.analyses_for_subject(subject)
        kept = [s for s in everything if s["task"] == task]
        for s in cat.empty_sessions(subject):
            if s["task"] == task:
                notes.append(f"session {s['session_id']} ({s['session_date']}, {s['path']}): empty recording "
                             "(0 samples), left out")
    measures = {}
    days = day_numbers([s["session_date"] for s in kept])
    for name, (column, rep_key, higher_is_better) in MEASURES.items():
        reps = [rep_values(analyses.get(s["session_id"]), rep_key) for s in kept if s["analysis_id"] is not None]
        measures[name] = measure_trend([finite(s[column]) for s in kept], reps, higher_is_better, name, days)
        measures[name].update(slope_fields([s for s in kept if s["analysis_id"] is not None], column, reps, name))
    for s in kept:
        if s["analysis_id"] is None:
            notes.append(f"session {s['session_id']} ({s['session_date']}): no analysis (it failed); "
                         "`reengage analyze --all` retries it")
    return {"subject": subject, "task": task, "sessions": [_session_row(s) for s in kept], "measures": measures,
            "notes": notes}
