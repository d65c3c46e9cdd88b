"""A subject's course across sessions: each session's values, the change since the first and whether it
exceeds the noise **between** sessions (``reengage trend``; contract: ``docs/cli.md``).

Amplitude varies far more between days (electrodes re-applied, a fresh MVC) than within one session, so the
verdict is judged against a between-session MDC95 (:func:`between_session_mdc`), never the rep-to-rep spread
alone. Its SEM comes down a hierarchy (:func:`between_session_noise`): the patient's test-retest pairs, else the
published between-day figure, raised by the patient's own scatter in a stable stretch or, lacking one, by the
clinic's patients' when those are larger. The rep-to-rep MDC (:func:`minimal_detectable_change`) is kept as the
precision of one session and is a floor for the between-session one. ``noise_source`` and ``noise_basis`` say
which figure was used and what it rests on (``docs/validation.md``, "Between-session noise"). These functions are the single place for this arithmetic:
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

# The names are the contract's (shared/contracts/cli.md: test-retest|patient|cohort|published).
NOISE_RETEST = "test-retest"  # the patient's test-retest pairs (record --retest), pooled with the published figure
NOISE_PATIENT = "patient"  # the patient's own sessions in a stable stretch: scatter around their line
NOISE_CLINIC = "cohort"  # other patients' stable stretches in the same catalog, same exercise, pooled
NOISE_PUBLISHED = "published"  # the published between-day figure below
NOISE_SOURCES = (NOISE_RETEST, NOISE_PATIENT, NOISE_CLINIC, NOISE_PUBLISHED)  # in the order of preference

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
# One retest pair estimates an SD with one degree of freedom: its 95 % interval runs from 0.45× to 32× the value
# (chi-square), so one lucky pair could claim almost no noise. The pairs are therefore pooled with the published
# figure as if it were PRIOR_PAIRS pairs of its own (a conjugate prior on the variance): one pair moves the figure
# a third of the way towards what it saw, ten pairs five-sixths. The within-session MDC stays a floor.
PRIOR_PAIRS = 2
# The clinic's figure: other patients' stable stretches of at least CLINIC_MIN_SESSIONS sessions (two degrees of
# freedom each), from at least CLINIC_MIN_PATIENTS patients, so no single patient's course sets it.
CLINIC_MIN_SESSIONS = 4
CLINIC_MIN_PATIENTS = 5
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
    :data:`NOISE_SOURCES`), what that rests on (``basis``: the SEM, its unit and how many pairs, sessions or
    patients) and carries the within-session MDC95 (``within``, today's precision, or None)."""

    source: str
    within: float | None
    basis: dict

    def __new__(cls, value: float, source: str, within: float | None = None, basis: dict | None = None):
        obj = super().__new__(cls, value)
        obj.source, obj.within, obj.basis = source, within, dict(basis or {})
        return obj


@dataclass(frozen=True)
class Noise:
    """Between-session SEM of one measure (``sem``: a % of the level for the ratio, ms for the latency), the
    source it came from (one of :data:`NOISE_SOURCES`) and what it rests on (``basis``, for the JSON)."""

    sem: float
    source: str
    basis: dict


def _log_sd(sem: float, ratio: bool) -> float:
    return math.log1p(sem / 100.0) if ratio else sem  # the ratio's noise is handled as an SD of log values


def _from_log_sd(sd: float, ratio: bool) -> float:
    return 100.0 * math.expm1(sd) if ratio else sd


def _unit(ratio: bool) -> str:
    return "%" if ratio else "ms"


def published_noise(measure: str) -> Noise:
    """The published between-day figure for ``measure`` (``PUBLISHED_*`` above)."""
    ratio = measure == "glute_hamstring_ratio"
    sem = PUBLISHED_RATIO_SEM_PCT if ratio else PUBLISHED_LATENCY_SEM_MS
    return Noise(sem, NOISE_PUBLISHED, {"sem": sem, "unit": _unit(ratio)})


def _points(values: list, days: list, log: bool) -> tuple[np.ndarray, np.ndarray]:
    pairs = [(d, v) for d, v in zip(days, values) if d is not None and v is not None and (v > 0 or not log)]
    x = np.array([p[0] for p in pairs], dtype=float)
    y = np.array([p[1] for p in pairs], dtype=float)
    return x, (np.log(y) if log else y)


def stable_stretch(values: list[float | None], days: list[float | None], log: bool,
                   min_sessions: int = MIN_SESSIONS_OWN_NOISE) -> tuple[float, int, int] | None:
    """The longest run of consecutive sessions (at least ``min_sessions``; the earliest among equals) whose
    least-squares slope over time has a 95 % interval containing zero: a stretch where the patient did not
    measurably change. Returns (residual sum of squares around that stretch's line, its degrees of freedom
    n − 2, n), log values for the ratio; None when no such stretch exists. A straight line absorbs a slow drift
    the interval cannot see, so the residuals are the session-to-session noise."""
    from scipy import stats  # only with enough sessions for a stretch

    x, y = _points(values, days, log)
    if len(x) < min_sessions:
        return None
    t975 = stats.t.ppf(0.975, np.arange(1, len(x) - 1))  # by degrees of freedom, once: t975[n - 3] for n points
    for n in range(len(x), min_sessions - 1, -1):
        for i in range(len(x) - n + 1):
            xs, ys = x[i:i + n], y[i:i + n]
            sxx = float(((xs - xs.mean()) ** 2).sum())
            if sxx == 0:
                continue
            slope, intercept = np.polyfit(xs, ys, 1)
            ss = float(((ys - (intercept + slope * xs)) ** 2).sum())
            half = float(t975[n - 3]) * math.sqrt(ss / (n - 2) / sxx)
            if abs(slope) <= half:
                return ss, n - 2, n
    return None


def retest_noise(measure: str, pairs: list[tuple[float, float]]) -> Noise | None:
    """SEM from the patient's test-retest pairs (each a session's two blocks, ``summary.retest``): a pair's
    difference has variance 2·SEM², so SEM² = Σd²/(2n) (log values for the ratio), pooled with the published
    figure weighted as :data:`PRIOR_PAIRS` pairs. None without a usable pair."""
    ratio = measure == "glute_hamstring_ratio"
    good = [(a, b) for a, b in pairs if a is not None and b is not None and (not ratio or (a > 0 and b > 0))]
    if not good:
        return None
    d = np.array([math.log(b / a) if ratio else b - a for a, b in good])
    prior = _log_sd(published_noise(measure).sem, ratio)
    sd = math.sqrt((PRIOR_PAIRS * prior ** 2 + float(np.sum(d ** 2)) / 2.0) / (PRIOR_PAIRS + len(good)))
    sem = _from_log_sd(sd, ratio)
    return Noise(sem, NOISE_RETEST, {"sem": _rounded(sem), "unit": _unit(ratio), "pairs": len(good),
                                     "prior_pairs": PRIOR_PAIRS})


def patient_noise(measure: str, values: list[float | None], days: list[float | None]) -> Noise | None:
    """SEM from the patient's own stable stretch (:func:`stable_stretch`, at least
    :data:`MIN_SESSIONS_OWN_NOISE` sessions), or None."""
    ratio = measure == "glute_hamstring_ratio"
    if not values or not days:
        return None
    stretch = stable_stretch(values, days, log=ratio)
    if stretch is None:
        return None
    ss, dof, n = stretch
    sem = _from_log_sd(math.sqrt(ss / dof), ratio)
    return Noise(sem, NOISE_PATIENT, {"sem": _rounded(sem), "unit": _unit(ratio), "sessions": n})


def clinic_noise(measure: str, courses: list[tuple[list, list]]) -> Noise | None:
    """SEM pooled over other patients' stable stretches (``courses``: each patient's session values and day
    numbers for the same exercise): Σ residual SS / Σ degrees of freedom, from at least
    :data:`CLINIC_MIN_PATIENTS` patients with a stretch of :data:`CLINIC_MIN_SESSIONS` sessions, or None."""
    ratio = measure == "glute_hamstring_ratio"
    found = [st for v, d in courses if (st := stable_stretch(v, d, ratio, CLINIC_MIN_SESSIONS)) is not None]
    if len(found) < CLINIC_MIN_PATIENTS:
        return None
    sem = _from_log_sd(math.sqrt(sum(f[0] for f in found) / sum(f[1] for f in found)), ratio)
    return Noise(sem, NOISE_CLINIC, {"sem": _rounded(sem), "unit": _unit(ratio), "patients": len(found),
                                     "sessions": sum(f[2] for f in found)})


def between_session_noise(measure: str, values: list[float | None] | None = None,
                          days: list[float | None] | None = None, retest_pairs: list | None = None,
                          clinic: list[tuple[list, list]] | None = None) -> Noise:
    """The between-session SEM of ``measure`` and its source, down the hierarchy (docs/validation.md,
    "Between-session noise"): the patient's test-retest pairs (:func:`retest_noise`), else the published
    figure; then the patient's own stable stretch (:func:`patient_noise`) replaces it when larger, or, when the
    patient has neither pairs nor a stretch, the clinic's pooled figure (:func:`clinic_noise`) when larger. A
    stretch is picked *because* it looks flat, so its scatter understates the noise and may only raise the
    figure; retest pairs are a designed measurement and may lower it (pooled with the published figure)."""
    base = retest_noise(measure, retest_pairs or []) or published_noise(measure)
    own = patient_noise(measure, list(values or []), list(days or []))
    if own is not None:
        return own if own.sem > base.sem else base
    if base.source == NOISE_PUBLISHED and clinic:
        pooled = clinic_noise(measure, clinic)
        if pooled is not None and pooled.sem > base.sem:
            return pooled
    return base


def between_session_mdc(measure: str, first: float | None, latest: float | None,
                        per_session_reps: list[list[float]], values: list[float | None] | None = None,
                        days: list[float | None] | None = None, *, noise: Noise | None = None) -> MDC | None:
    """MDC95 for the change ``latest - first`` of ``measure`` (a key of :data:`MEASURES`) from between-session
    noise: ``noise`` (:func:`between_session_noise`; computed from ``values`` at ``days`` when not given), at
    least the within-session MDC (a session median cannot be steadier between days than within one). The
    ratio's noise is relative: its MDC95 is the %MDC times the mean of ``first`` and ``latest`` (symmetric for
    a rise and a fall). None without both values."""
    if first is None or latest is None:
        return None
    within = minimal_detectable_change(per_session_reps)
    ratio = measure == "glute_hamstring_ratio"
    noise = noise or between_session_noise(measure, values, days)
    mdc = Z95_DIFF * noise.sem * (abs(first + latest) / 2.0 / 100.0 if ratio else 1.0)
    if within is not None and within > mdc:
        mdc = within  # the between-session figure cannot be below the session's own precision
    return MDC(mdc, noise.source, within, noise.basis)


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
                  measure: str = "glute_hamstring_ratio", days: list[float | None] | None = None,
                  noise: Noise | None = None) -> dict:
    """First, latest, change, between-session MDC95 and where it came from (``noise_source``, and
    ``noise_basis``: the SEM, its unit and how many retest pairs, sessions or patients it rests on), the
    within-session MDC95 (today's precision), and the verdict, over sessions in date order (``days``: each
    session's day number, for the patient's own noise; ``noise``: :func:`between_session_noise` when the caller
    has retest pairs or the clinic's courses)."""
    v = [x for x in values if x is not None]
    first, latest = (v[0], v[-1]) if v else (None, None)
    change = _rounded(latest - first) if len(v) >= 2 else None
    mdc = between_session_mdc(measure, first, latest, per_session_reps, values, days, noise=noise) \
        if len(v) >= 2 else None
    within = mdc.within if mdc is not None else minimal_detectable_change(per_session_reps)
    return {"first": first, "latest": latest, "change": change, "mdc95": _rounded(mdc),
            "noise_source": mdc.source if mdc is not None else None,
            "noise_basis": mdc.basis if mdc is not None else None,
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
                     per_session_reps: list[list[float]], noise: Noise) -> tuple[int, float] | None:
    """Smallest k ≥ 1 such that the fitted value k sessions after the last differs from the first session
    by more than the between-session MDC95 for that pair (the ratio's MDC grows with its
    level), in the slope's direction, with that MDC95; None when not within MAX_SESSIONS_AHEAD or a ratio
    would pass 0."""
    for k in range(1, MAX_SESSIONS_AHEAD + 1):
        y = y_last + slope_per_session * k
        if measure == "glute_hamstring_ratio" and y <= 0:
            return None
        mdc = between_session_mdc(measure, first, y, per_session_reps, noise=noise)
        if mdc is not None and abs(y - first) > mdc and (y - first) * slope_per_session > 0:
            return k, float(mdc)
    return None


def project(dates: list[str], values: list[float | None], measure: str = "glute_hamstring_ratio",
            per_session_reps: list[list[float]] | None = None, noise: Noise | None = None) -> Projection | None:
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
    noise = noise or between_session_noise(measure, list(y), day_list)
    mdc = between_session_mdc(measure, first, latest, reps, noise=noise)
    more: int | None = None
    then: float | None = None
    if mdc is not None and abs(latest - first) > mdc:
        more = 0
    elif mdc is not None and abs(slope) > half:
        ahead = _sessions_to_mdc(measure, first, intercept + slope * x[-1], slope * interval, reps, noise)
        more, then = ahead if ahead is not None else (None, None)
    return Projection(
        metric=measure, slope_per_week=slope * 7, slope_ci95_per_week=half * 7, sessions=len(x),
        interval_days=interval, mdc=mdc, change=latest - first, sessions_more=more, mdc_then=then,
        fit_dates=[(d0 + dt.timedelta(days=float(v))).isoformat() for v in (x[0], x[-1])],
        fit_values=[intercept + slope * x[0], intercept + slope * x[-1]],
    )


def slope_fields(analysed: list[dict], column: str, reps: list[list[float]], measure: str,
                 noise: Noise | None = None, *, projection: Projection | None | bool = False) -> dict:
    """``reengage trend``'s slope of one measure over the analysed sessions, the same fit the Patient page draws
    (:func:`project` over the same sessions): ``slope_per_week``, ``slope_ci95_per_week`` (the 95 % half-width)
    and ``sessions_to_exceed_noise``: 0 when the change since the first session already exceeds the MDC95,
    else null when the interval spans zero (a flat course has no pace to count), as the Patient page says it;
    all null when the fit is impossible (fewer than three sessions with a value, or one date). ``projection``:
    that fit when the caller has it already (None: there is none)."""
    p = projection if projection is not False else \
        project([s["session_date"] for s in analysed], [finite(s[column]) for s in analysed], measure, reps, noise)
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


def _session_row(s: dict, analysis: dict | None) -> dict:
    return {
        "session_id": s["session_id"], "date": s["session_date"], "phase": s["phase"], "pain": s["pain"],
        "reps": s["reps"], "glute_hamstring_ratio": finite(s["median_glute_hamstring_ratio"]),
        "onset_latency_ms": finite(s["median_onset_latency_ms"]), "path": s["path"],
        "analysed": s["analysis_id"] is not None, "mvc_positions": (analysis or {}).get("mvc_positions"),
        "retest": ((analysis or {}).get("summary") or {}).get("retest"),
    }


def retest_pairs(analyses: list[dict | None], measure: str) -> list[tuple[float, float]]:
    """Each analysed session's two block values of ``measure`` (``summary.retest``), where it has both."""
    out = []
    for a in analyses:
        pair = (((a or {}).get("summary") or {}).get("retest") or {}).get(measure) or []
        if len(pair) == 2 and finite(pair[0]) is not None and finite(pair[1]) is not None:
            out.append((float(pair[0]), float(pair[1])))
    return out


def sessions_by_subject(cat: Catalog) -> dict[str, list[dict]]:
    """Every catalogued session row, grouped by subject: one catalog read for the cohort's courses."""
    by_subject: dict[str, list[dict]] = {}
    for s in cat.sessions():
        by_subject.setdefault(s["subject_id"], []).append(s)
    return by_subject


def cohort_courses(by_subject: dict[str, list[dict]], task: str, column: str) -> dict[str, tuple[list, list]]:
    """Each patient's course of ``column`` over their analysed sessions of ``task`` (``by_subject``: from
    :func:`sessions_by_subject`), in date order: subject → (values, day numbers)."""
    out = {}
    for subject, ss in by_subject.items():
        ss = sorted((s for s in ss if s["task"] == task and s["analysis_id"] is not None),
                    key=lambda s: str(s["session_date"]))
        if ss:
            out[subject] = ([finite(s[column]) for s in ss], day_numbers([s["session_date"] for s in ss]))
    return out


def clinic_courses(by_subject: dict[str, list[dict]], subject: str, task: str, column: str,
                   cohort: dict[str, tuple[list, list]] | None = None) -> list[tuple[list, list]]:
    """Every other patient's course of ``column`` over their sessions of ``task`` for :func:`clinic_noise`
    (``cohort``: :func:`cohort_courses` already computed, e.g. once for a page listing every patient)."""
    cohort = cohort_courses(by_subject, task, column) if cohort is None else cohort
    return [course for other, course in cohort.items() if other != subject]


def measure_noise(measure: str, sessions: list[dict], analyses: dict, by_subject: dict[str, list[dict]],
                  subject: str, task: str, cohort: dict[str, tuple[list, list]] | None = None) -> Noise:
    """The between-session noise of ``measure`` over ``sessions`` (the subject's sessions of ``task``, date
    order), down the whole hierarchy: their retest pairs, the subject's own stable stretch, the other patients'
    courses in ``by_subject`` (or ``cohort``, :func:`cohort_courses` of them), the published figure. The one place
    the CLI and every page get it from."""
    column = MEASURES[measure][0]
    analysed = [s for s in sessions if s["analysis_id"] is not None]
    return between_session_noise(measure, [finite(s[column]) for s in sessions],
                                 day_numbers([s["session_date"] for s in sessions]),
                                 retest_pairs([analyses.get(s["session_id"]) for s in analysed], measure),
                                 clinic_courses(by_subject, subject, task, column, cohort))


def recent_ratio_trend(subject: str, by_subject: dict[str, list[dict]], analyses: dict,
                       cohorts: dict[str, dict] | None = None) -> tuple[str, str]:
    """The Patients list's arrow and words: the glute:hamstring ratio over the last (up to) three sessions of the
    subject's latest exercise (:func:`trend_arrow`), judged against the between-session MDC95 from the same noise
    hierarchy as ``reengage trend`` and the Patient page (:func:`measure_noise`).
    ``by_subject``: every catalogued session row by subject, in date order; ``analyses``: the subject's by id;
    ``cohorts``: task → :func:`cohort_courses`, filled as needed, so a page listing N patients builds each
    exercise's cohort once rather than N times."""
    ss = by_subject[subject]
    task = ss[-1]["task"]
    column, rep_key, higher_is_better = MEASURES["glute_hamstring_ratio"]
    cohorts = {} if cohorts is None else cohorts
    if task not in cohorts:
        cohorts[task] = cohort_courses(by_subject, task, column)
    same = [s for s in ss if s["task"] == task]
    analysed = [s for s in same if s["analysis_id"] is not None]
    values = [finite(s[column]) for s in same]
    noise = measure_noise("glute_hamstring_ratio", same, analyses, by_subject, subject, task, cohorts[task])
    last3 = [v for v in values if v is not None][-3:]  # the arrow's window (trend_arrow)
    mdc = between_session_mdc("glute_hamstring_ratio", last3[0] if last3 else None, last3[-1] if last3 else None,
                              [rep_values(analyses.get(s["session_id"]), rep_key) for s in analysed], noise=noise)
    return trend_arrow(values, mdc, higher_is_better)


def position_notes(rows: list[dict]) -> list[str]:
    """A note per muscle whose recorded MVC test position differs between the sessions compared (their %MVC
    and ratio rest on different maximal references, so a change between them may be the position's)."""
    seen: dict[str, dict[str, list]] = {}
    for r in rows:
        for muscle, position in (r.get("mvc_positions") or {}).items():
            seen.setdefault(muscle, {}).setdefault(position, []).append(r["session_id"])
    notes = []
    for muscle, positions in sorted(seen.items()):
        if len(positions) > 1:
            which = "; ".join(f"{p} (session{'s' if len(ids) > 1 else ''} {', '.join(map(str, ids))})"
                              for p, ids in positions.items())
            notes.append(f"MVC test position for {muscle} differs between sessions: {which}: its %MVC and the "
                         "ratio are not comparable across them")
    return notes


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


def adherence_field(cat: Catalog, subject: str, task: str, sessions: list[dict]) -> dict:
    """``{"adherence": …}`` of the exercise's prescriptions (:func:`reengage.prescriptions.adherence`) over the
    sessions shown, or ``{}`` when the exercise has no prescription (the contract: present once one exists)."""
    from reengage.prescriptions import adherence

    found = adherence(cat, subject, task, [s["session_date"] for s in sessions])
    return {"adherence": found} if found is not None else {}


@dataclass
class MeasureCourse:
    """One measure's course over a subject's sessions of one exercise, as ``reengage trend`` and the Patient page
    both show it (:func:`task_courses`, one computation for both): ``fields`` is the ``reengage trend`` JSON entry
    (:func:`measure_trend` and :func:`slope_fields`), ``mdc`` its between-session MDC95 unrounded (an :class:`MDC`,
    None below two values), ``noise`` the SEM it came from and ``projection`` the slope fit (None below three
    sessions)."""

    fields: dict
    mdc: MDC | None
    noise: Noise
    projection: Projection | None


def task_courses(cat: Catalog, subject: str, task: str, sessions: list[dict],
                 analyses: dict) -> dict[str, MeasureCourse]:
    """Each measure of :data:`MEASURES` over ``sessions`` (the subject's catalogued sessions of ``task`` with
    samples, in date order; ``analyses``: their analyses by session id), its noise down the whole hierarchy: the
    subject's retest pairs, own stable stretch, and the other patients' courses of ``task`` in ``cat``."""
    days = day_numbers([s["session_date"] for s in sessions])
    analysed = [s for s in sessions if s["analysis_id"] is not None]
    by_subject = sessions_by_subject(cat)
    out = {}
    for name, (column, rep_key, higher_is_better) in MEASURES.items():
        reps = [rep_values(analyses.get(s["session_id"]), rep_key) for s in analysed]
        values = [finite(s[column]) for s in sessions]
        noise = measure_noise(name, sessions, analyses, by_subject, subject, task)
        fields = measure_trend(values, reps, higher_is_better, name, days, noise)
        known = [v for v in values if v is not None]
        mdc = between_session_mdc(name, known[0], known[-1], reps, noise=noise) if len(known) >= 2 else None
        p = project([s["session_date"] for s in analysed], [finite(s[column]) for s in analysed], name, reps, noise)
        fields.update(slope_fields(analysed, column, reps, name, noise, projection=p))
        out[name] = MeasureCourse(fields, mdc, noise, p)
    return out


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
        adherence = adherence_field(cat, subject, task, kept)
        measures = {name: c.fields for name, c in task_courses(cat, subject, task, kept, analyses).items()}
    rows = [_session_row(s, analyses.get(s["session_id"])) for s in kept]
    notes.extend(position_notes(rows))
    for s in kept:
        if s["analysis_id"] is None:
            notes.append(f"session {s['session_id']} ({s['session_date']}): no analysis (it failed); "
                         "`reengage analyze --all` retries it")
    return {"subject": subject, "task": task, "sessions": rows, "measures": measures, "notes": notes, **adherence}
