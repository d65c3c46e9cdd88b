"""A patient's exercise prescriptions and the adherence to them (``reengage prescribe``; ``adherence`` in
``reengage trend --json``).

A prescription is one exercise for one patient: rehab phase, sets × reps, days per week, an optional load, from a
start date. Setting one for an exercise that already has one **replaces** it: the old one is kept with its
``end_date`` (the new one's start) and ``replaced_by``, so what was prescribed when stays on record. Each change
is journalled (:mod:`reengage.catalog_journal`, op ``prescribe``) so a rebuilt catalog keeps it.

**Adherence** (:func:`adherence`) over the exercise's prescriptions from the first one's start up to the latest
session of that exercise (``to``): ``prescribed_sessions`` = Σ days_per_week × weeks over each prescription's
stretch, a week being 7 days counted from that prescription's start and a **partial week counted pro rata**
(days/7, so 10 days at 3 per week prescribe 3 × 10/7 = 4.29, reported rounded to the nearest whole session);
both ends are inclusive. ``done_sessions`` = the distinct dates in the window with a (non-empty) session of the
exercise: two recordings on one day are one session done, as a prescription counts days.
"""

from __future__ import annotations

import datetime as dt

from reengage.catalog import Catalog, check_phase, check_subject_id
from reengage.errors import InputError

FIELDS = ("prescription_id", "subject_id", "exercise", "phase", "sets", "reps", "days_per_week", "load_kg",
          "start_date", "end_date", "who", "created_utc", "replaced_by")


def _count(value, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        span = f"{low}–{high}" if high is not None else f"≥ {low}"
        raise InputError(f"--{name.replace('_', '-')} {value!r}: must be a whole number {span}")
    return value


def _date(value: str | None) -> str:
    if value is None:
        return dt.date.today().isoformat()
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise InputError(f"--start {value!r}: expected a date YYYY-MM-DD") from None


def prescribe(cat: Catalog, subject_id: str, exercise: str, *, phase: int, sets: int, reps: int,
              days_per_week: int, load_kg: float | None = None, start_date: str | None = None,
              who: str | None = None) -> dict:
    """Set (or replace) ``subject_id``'s prescription for ``exercise`` from ``start_date`` (default today);
    returns the new row with ``"replaced"``: the row it replaced, or None. The patient must be known."""
    sid = check_subject_id(subject_id)
    exercise = str(exercise).strip()
    if not exercise:
        raise InputError("--exercise: give the exercise's name, e.g. glute_bridge")
    values = {"phase": check_phase(_count(phase, "phase", 1, 3)), "sets": _count(sets, "sets", 1),
              "reps": _count(reps, "reps", 1), "days_per_week": _count(days_per_week, "days_per_week", 1, 7)}
    if load_kg is not None and not (float(load_kg) >= 0 and float(load_kg) < float("inf")):
        raise InputError(f"--load-kg {load_kg!r}: must be a number ≥ 0")
    start = _date(start_date)
    who = who or "unknown"
    with cat._write() as db:
        cat._require_patient(sid)
        now = cat._now()
        old = db.execute("SELECT * FROM prescriptions WHERE subject_id=? AND exercise=? AND replaced_by IS NULL",
                         (sid, exercise)).fetchone()
        if old is not None and start < old["start_date"]:
            raise InputError(f"--start {start}: before the current {exercise} prescription's start "
                             f"({old['start_date']}); a replacement starts on or after it")
        cur = db.execute(
            "INSERT INTO prescriptions(subject_id, exercise, phase, sets, reps, days_per_week, load_kg, start_date, "
            "who, created_utc) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (sid, exercise, values["phase"], values["sets"], values["reps"], values["days_per_week"],
             None if load_kg is None else float(load_kg), start, who, now))
        new_id = int(cur.lastrowid)
        if old is not None:
            db.execute("UPDATE prescriptions SET end_date=?, replaced_by=? WHERE prescription_id=?",
                       (start, new_id, old["prescription_id"]))
        cat._journal("prescribe", who, now, subject_id=sid, exercise=exercise, **values,
                     load_kg=None if load_kg is None else float(load_kg), start_date=start)
    rows = {r["prescription_id"]: r for r in prescriptions(cat, sid)}
    return {**rows[new_id], "replaced": rows.get(old["prescription_id"]) if old is not None else None}


def replay_prescription(cat: Catalog, entry: dict, who: str | None) -> None:
    """Apply a journalled ``prescribe`` entry again (a rebuilt catalog)."""
    prescribe(cat, entry["subject_id"], entry["exercise"], phase=entry["phase"], sets=entry["sets"],
              reps=entry["reps"], days_per_week=entry["days_per_week"], load_kg=entry.get("load_kg"),
              start_date=entry["start_date"], who=who)


def prescriptions(cat: Catalog, subject_id: str, exercise: str | None = None) -> list[dict]:
    """Every prescription of the patient (of ``exercise`` when given), replaced ones included, oldest first."""
    sql = "SELECT * FROM prescriptions WHERE subject_id=?" + (" AND exercise=?" if exercise is not None else "")
    args = (subject_id,) if exercise is None else (subject_id, exercise)
    return [{k: r[k] for k in FIELDS} for r in cat.db.execute(sql + " ORDER BY start_date, prescription_id", args)]


def prescribed_sessions(rows: list[dict], to: str) -> float:
    """Σ days_per_week × weeks (partial weeks pro rata) of each prescription from its start to its end (the
    next one's start, exclusive) or to ``to`` (inclusive), whichever comes first."""
    end_all = dt.date.fromisoformat(to) + dt.timedelta(days=1)  # `to` is inclusive
    total = 0.0
    for r in rows:
        start = dt.date.fromisoformat(r["start_date"])
        stop = min(end_all, dt.date.fromisoformat(r["end_date"])) if r["end_date"] else end_all
        days = max((stop - start).days, 0)
        total += r["days_per_week"] * days / 7.0
    return total


def adherence(cat: Catalog, subject_id: str, exercise: str, session_dates: list[str]) -> dict | None:
    """``{"from", "to", "prescribed_sessions", "done_sessions", "exercise", "prescribed_exact"}`` of the
    exercise (module docstring), or None without a prescription or a session on or after its start."""
    rows = prescriptions(cat, subject_id, exercise)
    if not rows:
        return None
    start = rows[0]["start_date"]
    dates = sorted({str(d) for d in session_dates if d is not None and str(d) >= start})
    if not dates:
        return None
    to = dates[-1]
    exact = prescribed_sessions(rows, to)
    return {"from": start, "to": to, "prescribed_sessions": int(round(exact)), "done_sessions": len(dates),
            "exercise": exercise, "prescribed_exact": round(exact, 2)}
