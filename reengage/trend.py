"""A subject's course across sessions: each session's values, the change since the first and whether it
exceeds the noise (``reengage trend``; contract: ``docs/cli.md``).

The verdict is the one the dashboard's Patient page gives (``dashboard/words.py``: change since the first
analysed session against the minimal detectable change from the rep-to-rep spread). That noise is measured
*within* sessions: it leaves out what changes *between* sessions (electrodes re-applied, a new MVC), so it
can call a change real that a test-retest MDC would not. ``noise_source`` says which noise was used, so a
reader never takes it for a between-session figure. The functions here are the single place for this
arithmetic: the dashboard's data module can call :func:`minimal_detectable_change`, :func:`trend_arrow`
and :func:`verdict` instead of keeping its own copies.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from reengage.catalog import CATALOG_NAME, Catalog, finite
from reengage.errors import InputError

NOISE_WITHIN_SESSION = "within-session rep spread"
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


def measure_trend(values: list[float | None], per_session_reps: list[list[float]], higher_is_better: bool) -> dict:
    """First, latest, change, MDC95, where the noise came from, and the verdict, over sessions in date order."""
    v = [x for x in values if x is not None]
    first, latest = (v[0], v[-1]) if v else (None, None)
    change = round(latest - first, 6) if len(v) >= 2 else None  # no float dust (0.34000000000000002) in the JSON
    mdc = minimal_detectable_change(per_session_reps)
    mdc = None if mdc is None else round(mdc, 6)
    return {"first": first, "latest": latest, "change": change, "mdc95": mdc,
            "noise_source": NOISE_WITHIN_SESSION, "verdict": verdict(change, mdc, higher_is_better)}


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
    for name, (column, rep_key, higher_is_better) in MEASURES.items():
        reps = [rep_values(analyses.get(s["session_id"]), rep_key) for s in kept if s["analysis_id"] is not None]
        measures[name] = measure_trend([s[column] for s in kept], reps, higher_is_better)
    for s in kept:
        if s["analysis_id"] is None:
            notes.append(f"session {s['session_id']} ({s['session_date']}): no analysis (it failed); "
                         "`reengage analyze --all` retries it")
    return {"subject": subject, "task": task, "sessions": [_session_row(s) for s in kept], "measures": measures,
            "notes": notes}
