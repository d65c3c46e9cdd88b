"""``reengage patients …`` (the patient register), ``reengage session edit`` (audited corrections of a
session's phase, pain and notes) and ``reengage correct`` / ``reengage corrections`` (a clinician's corrections
of the analysis: onsets moved or deleted, reps excluded or included; :mod:`reengage.corrections`),
``reengage prescribe`` (a patient's exercise prescription, :mod:`reengage.prescriptions`): the catalog's
register and audit trail (:mod:`reengage.catalog`) on the command line; and ``reengage posture`` (posture and
sitting from an accelerometer, :mod:`reengage.posture`). Every change is attributed
to ``--by`` or, by default, the login name of the process."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from reengage.catalog import UNSET, Catalog
from reengage.cli_common import data_root, emit_json, say
from reengage.errors import InputError

DATA_HELP = "data root (default recordings/ or $REENGAGE_DATA)"
BY_HELP = "who makes the change (default: your login name)"

patients_app = typer.Typer(no_args_is_help=True, help="The patient register: add, list, rename, merge ids.")
session_app = typer.Typer(no_args_is_help=True, help="Correct a recorded session (audited).")


def login_name() -> str:
    """The person a change is attributed to when ``--by`` is not given: the login name of this process."""
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user database entry (some containers)
        return "unknown"


def _catalog(data: Optional[Path], *, must_exist: bool = True) -> Catalog:
    root = data_root(data)
    if must_exist and not (root / "catalog.sqlite").exists():
        raise InputError(f"{root}: no catalog here (record, import or `reengage patients add` first)")
    return Catalog(root)


@patients_app.command("add")
def patients_add(
    subject: str = typer.Argument(..., help="pseudonymous id, e.g. P001"),
    name: Optional[str] = typer.Option(None, "--name", help="a label the clinic chooses (keep it pseudonymous)"),
    note: Optional[str] = typer.Option(None, "--note", help="free text kept with the patient"),
    by: Optional[str] = typer.Option(None, "--by", help=BY_HELP),
    data: Optional[Path] = typer.Option(None, "--data", help=DATA_HELP),
) -> None:
    """Add a patient id to the register (an id recordings already brought in becomes registered)."""
    from reengage.acquisition.recorder import safe_component

    safe_component(subject, "patient id")  # it becomes a folder name when recorded
    with _catalog(data, must_exist=False) as cat:
        row = cat.add_patient(subject, display_name=name, note=note, who=by)
    say(f"patient {row['subject_id']} registered ({row['sessions']} sessions)")


@patients_app.command("list")
def patients_list(
    as_json: bool = typer.Option(False, "--json", help="print JSON on stdout"),
    data: Optional[Path] = typer.Option(None, "--data", help=DATA_HELP),
) -> None:
    """Every patient id with its sessions; ids that only recordings brought in are marked."""
    root = data_root(data)
    rows = []
    if (root / "catalog.sqlite").exists():
        with Catalog(root) as cat:
            rows = cat.patients()
    if as_json:
        emit_json({"patients": rows})
        return
    t = Table(title=f"patients in {root}")
    for col in ("id", "name", "sessions", "first", "last", "registered", "note"):
        t.add_column(col)
    for p in rows:
        sessions = str(p["sessions"]) + (f" (+{p['empty_sessions']} empty)" if p["empty_sessions"] else "")
        t.add_row(p["subject_id"], p["display_name"] or "", sessions, p["first_date"] or "-", p["last_date"] or "-",
                  "yes" if p["registered"] else "no: from a recording", p["note"] or "")
    Console().print(t)


@patients_app.command("rename")
def patients_rename(
    old: str = typer.Argument(..., help="the current id"),
    new: str = typer.Argument(..., help="the new id (must not exist; else merge)"),
    by: Optional[str] = typer.Option(None, "--by", help=BY_HELP),
    data: Optional[Path] = typer.Option(None, "--data", help=DATA_HELP),
) -> None:
    """Give a patient a new id; every session follows (audited)."""
    from reengage.acquisition.recorder import safe_component

    safe_component(new, "patient id")
    with _catalog(data) as cat:
        moved = cat.rename_patient(old, new, who=by)
    say(f"patient {old} is now {new} ({moved} sessions moved)")


@patients_app.command("merge")
def patients_merge(
    from_id: str = typer.Argument(..., help="the id to remove (e.g. a typo)"),
    into_id: str = typer.Argument(..., help="the id that keeps every session"),
    by: Optional[str] = typer.Option(None, "--by", help=BY_HELP),
    data: Optional[Path] = typer.Option(None, "--data", help=DATA_HELP),
) -> None:
    """Move every session of FROM to INTO and remove FROM from the register (audited)."""
    with _catalog(data) as cat:
        moved = cat.merge_patients(from_id, into_id, who=by)
    say(f"patient {from_id} merged into {into_id} ({moved} sessions moved)")


@session_app.command("edit")
def session_edit(
    session_id: int = typer.Argument(..., help="the session's id (`reengage trend`, the dashboard)"),
    phase: Optional[int] = typer.Option(None, "--phase", min=1, max=3, help="rehab phase 1/2/3"),
    pain: Optional[float] = typer.Option(None, "--pain", min=0, max=10, help="pain score 0-10"),
    notes: Optional[str] = typer.Option(None, "--notes", help="free text (replaces the notes)"),
    by: Optional[str] = typer.Option(None, "--by", help=BY_HELP),
    as_json: bool = typer.Option(False, "--json", help="print the changes and the session's audit trail"),
    data: Optional[Path] = typer.Option(None, "--data", help=DATA_HELP),
) -> None:
    """Correct a session's phase, pain or notes; each change is kept with who made it, when, and the old value."""
    if phase is None and pain is None and notes is None:
        raise InputError(f"session edit {session_id}: nothing to change (give --phase, --pain or --notes)")
    with _catalog(data) as cat:
        changes = cat.edit_session(session_id, who=by or login_name(), phase=UNSET if phase is None else phase,
                                   pain=UNSET if pain is None else pain, notes=UNSET if notes is None else notes)
        trail = cat.session_edits(session_id)
    if as_json:
        emit_json({"session_id": session_id, "changes": changes, "edits": trail})
    if not changes:
        say(f"session {session_id}: already so, nothing changed")
    for c in changes:
        say(f"session {session_id}: {c['field']} {c['old']!r} → {c['new']!r} (by {trail[-1]['who']})")


def _session_of(cat: Catalog, which: str) -> int:
    """SESSION_OR_FILE: a session id (digits) or a recording file in the data root."""
    if which.isascii() and which.isdigit():
        if cat.session(int(which)) is None:
            raise InputError(f"session {which}: no such session")
        return int(which)
    session_id = cat.session_of_file(Path(which))
    if session_id is None:
        raise InputError(f"{which}: not a catalogued recording (`reengage analyze --all` first)")
    return session_id


def _parts(value: str, option: str, n: int) -> list[str]:
    parts = value.rsplit(":", n - 1) if n > 2 else value.split(":", 1)
    if len(parts) != n or not all(p.strip() for p in parts):
        shape = "REP:CHANNEL:SECONDS" if n == 3 else "REP:CHANNEL"
        raise InputError(f"{option} {value!r}: expected {shape}, e.g. {'3:hamstrings:12.48' if n == 3 else '3:glute_max'}")
    return [p.strip() for p in parts]


def _rep_index(text: str, option: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise InputError(f"{option}: rep {text!r} must be the rep's number as shown, counting from 1")
    return int(text) - 1


def _requested(move_onset, delete_onset, exclude_rep, include_rep) -> dict:
    given = [o for o in (move_onset, delete_onset, exclude_rep, include_rep) if o is not None]
    if len(given) != 1:
        raise InputError("correct: give exactly one of --move-onset, --delete-onset, --exclude-rep, --include-rep, "
                         "--undo")
    if move_onset is not None:
        rep, channel, seconds = _parts(move_onset, "--move-onset", 3)
        try:
            t = float(seconds)
        except ValueError:
            raise InputError(f"--move-onset: {seconds!r} is not a time in seconds") from None
        return {"kind": "move_onset", "rep": _rep_index(rep, "--move-onset"), "channel": channel, "seconds": t}
    if delete_onset is not None:
        rep, channel = _parts(delete_onset, "--delete-onset", 2)
        return {"kind": "delete_onset", "rep": _rep_index(rep, "--delete-onset"), "channel": channel}
    if exclude_rep is not None:
        return {"kind": "exclude_rep", "rep": _rep_index(str(exclude_rep), "--exclude-rep")}
    return {"kind": "include_rep", "rep": _rep_index(str(include_rep), "--include-rep")}


def correct(
    which: str = typer.Argument(..., metavar="SESSION_OR_FILE", help="a session id or a recording file"),
    move_onset: Optional[str] = typer.Option(None, "--move-onset", help="REP:CHANNEL:SECONDS, the onset's new time"),
    delete_onset: Optional[str] = typer.Option(None, "--delete-onset", help="REP:CHANNEL, an onset that is not one"),
    exclude_rep: Optional[int] = typer.Option(None, "--exclude-rep", help="REP, leave it out (give --reason)"),
    include_rep: Optional[int] = typer.Option(None, "--include-rep", help="REP, take it in again"),
    undo: Optional[int] = typer.Option(None, "--undo", help="ID, reverse a correction (`reengage corrections`)"),
    reason: str = typer.Option("", "--reason", help="why (required with --exclude-rep)"),
    by: Optional[str] = typer.Option(None, "--by", help=BY_HELP),
    as_json: bool = typer.Option(False, "--json", help="print the correction and the session's new summary"),
    data: Optional[Path] = typer.Option(None, "--data", help=DATA_HELP),
) -> None:
    """Correct the analysis of a session: move or delete an onset, exclude or include a rep (REP counts from 1,
    as the session page shows it). Kept with who, when, old and new value; every trend and report uses it, and
    it survives re-analysis."""
    from reengage.corrections import describe

    edits = (move_onset, delete_onset, exclude_rep, include_rep)
    if undo is not None and any(o is not None for o in edits):
        raise InputError("correct: --undo goes alone (it reverses one correction)")
    req = None if undo is not None else _requested(*edits)
    if req and req["kind"] == "exclude_rep" and not reason.strip():
        raise InputError("--exclude-rep: give --reason (it is kept with the correction)")
    with _catalog(data) as cat:
        session_id = _session_of(cat, which)
        if req is None:
            c = cat.undo_correction(session_id, undo, who=by or login_name(), reason=reason)
        else:
            c = cat.correct(session_id, who=by or login_name(), reason=reason, **req)
        s = cat.session(session_id)
        summary = (cat.analysis(s["recording_id"]) or {}).get("summary")
    if as_json:
        emit_json({"session_id": session_id, "correction": c, "summary": summary})
    if c is None:
        say(f"session {session_id}: already so, nothing changed")
        return
    say(f"session {session_id}: correction {c['correction_id']}: {describe(c)}")
    say(f"session {session_id}: median latency {s['median_onset_latency_ms']} ms, median ratio "
        f"{s['median_glute_hamstring_ratio']}, {s['reps']} reps")


def corrections(
    which: str = typer.Argument(..., metavar="SESSION_OR_FILE", help="a session id or a recording file"),
    as_json: bool = typer.Option(False, "--json", help="print JSON on stdout"),
    data: Optional[Path] = typer.Option(None, "--data", help=DATA_HELP),
) -> None:
    """List a session's corrections of its analysis (who, when, old → new), and those a re-analysis could not
    place (kept, not applied)."""
    from reengage.corrections import change, describe_unmatched

    with _catalog(data) as cat:
        session_id = _session_of(cat, which)
        rows = cat.corrections(session_id)
        unmatched = cat.unmatched_corrections(session_id)
    if as_json:
        emit_json({"session_id": session_id, "corrections": rows, "unmatched": unmatched})
        return
    if not rows:
        say(f"session {session_id}: no corrections")
    t = Table(title=f"corrections of session {session_id}")
    for col in ("id", "when (UTC)", "who", "rep", "change", "reason"):
        t.add_column(col)
    for c in rows:
        t.add_row(str(c["correction_id"]), str(c["when_utc"]), c["who"], str(c["rep"] + 1), change(c, with_rep=False),
                  c["reason"] or "")
    if rows:
        Console().print(t)
    for c in unmatched:
        say(f"warning: {describe_unmatched(c)}", "yellow")


def prescribe(
    subject: str = typer.Option(..., "--subject", help="patient id, e.g. P001"),
    phase: int = typer.Option(..., "--phase", min=1, max=3, help="rehab phase 1/2/3"),
    exercise: str = typer.Option(..., "--exercise", help="the exercise as sessions name it, e.g. glute_bridge"),
    sets: int = typer.Option(..., "--sets", min=1, help="sets per session"),
    reps: int = typer.Option(..., "--reps", min=1, help="reps per set"),
    days_per_week: int = typer.Option(..., "--days-per-week", min=1, max=7, help="sessions prescribed per week"),
    load_kg: Optional[float] = typer.Option(None, "--load-kg", min=0, help="external load in kg"),
    start: Optional[str] = typer.Option(None, "--start", help="first day YYYY-MM-DD (default today)"),
    by: Optional[str] = typer.Option(None, "--by", help=BY_HELP),
    as_json: bool = typer.Option(False, "--json", help="print the prescription (and the one it replaced)"),
    data: Optional[Path] = typer.Option(None, "--data", help=DATA_HELP),
) -> None:
    """Set (or replace) a patient's prescription for one exercise; a replaced one is kept as history and
    `reengage trend` reports adherence against it."""
    from reengage.prescriptions import prescribe as set_prescription

    with _catalog(data) as cat:
        row = set_prescription(cat, subject, exercise, phase=phase, sets=sets, reps=reps,
                               days_per_week=days_per_week, load_kg=load_kg, start_date=start,
                               who=by or login_name())
    if as_json:
        emit_json(row)
    load = f" at {row['load_kg']:g} kg" if row["load_kg"] is not None else ""
    say(f"{row['subject_id']}: {row['exercise']} phase {row['phase']}, {row['sets']} × {row['reps']}{load}, "
        f"{row['days_per_week']} days/week from {row['start_date']}"
        + (f" (replaces {row['replaced']['sets']} × {row['replaced']['reps']}, {row['replaced']['days_per_week']} "
           f"days/week from {row['replaced']['start_date']})" if row["replaced"] else ""))


def posture(
    path: Path = typer.Argument(..., help="accelerometer CSV (time_s,acc_x,acc_y,acc_z in g) or a recording"),
    placement: str = typer.Option("thigh", "--placement", help="where the sensor was worn: thigh | waist"),
    as_json: bool = typer.Option(False, "--json", help="print JSON on stdout"),
) -> None:
    """Posture and activity from an accelerometer: seconds lying, sitting, standing, stepping and not worn;
    transitions; sitting bouts and breaks in sitting (contract: docs/cli.md)."""
    from reengage.posture import posture_of_file

    if placement not in ("thigh", "waist"):
        raise InputError(f"--placement {placement!r}: expected thigh or waist")
    doc = posture_of_file(path, placement)
    if as_json:
        emit_json(doc)
        return
    print_posture(doc)


def print_posture(doc: dict, out: Console | None = None) -> None:
    """``reengage posture`` without ``--json``: time per posture, then transitions and sitting bouts."""
    out = out or Console()
    total = doc["duration_s"] or 1.0
    out.print(f"{doc.get('path', '')}: {doc['placement']} accelerometer, {doc['duration_s']:g} s in "
              f"{doc['epoch_s']:g} s epochs", markup=False, highlight=False, soft_wrap=True)
    t = Table()
    for col in ("posture", "seconds", "%"):
        t.add_column(col, justify="left" if col == "posture" else "right")
    for name, secs in doc["seconds"].items():
        t.add_row(name.replace("_", " "), f"{secs:.0f}", f"{100 * secs / total:.1f}")
    out.print(t)
    out.print(f"sitting bouts: {len(doc['sitting_bouts'])}, longest {doc['longest_sitting_bout_s']:.0f} s, "
              f"breaks in sitting: {doc['breaks_in_sitting']}", markup=False, highlight=False)
    for tr in doc["transitions"]:
        out.print(f"  {tr['t_s']:9.1f} s  {tr['kind'].replace('_', ' ')}", markup=False, highlight=False)
    if doc["placement"] == "waist":
        out.print("waist: sitting and standing differ by the pelvis tilt only; less reliable than a thigh sensor "
                  "(docs/validation.md)", markup=False, highlight=False, style="yellow")


def print_adherence(doc: dict, out: Console | None = None) -> None:
    """The ``adherence`` line of ``reengage trend`` without ``--json`` (nothing when there is none)."""
    a = doc.get("adherence")
    if a:
        (out or Console()).print(
            f"adherence to the prescription, {a['from']} to {a['to']}: {a['done_sessions']} of "
            f"{a['prescribed_sessions']} prescribed sessions done", markup=False, highlight=False, soft_wrap=True)


def register_commands(app: typer.Typer) -> None:
    """Add ``correct``, ``corrections``, ``prescribe`` and ``posture`` to the top-level command line."""
    app.command("correct")(correct)
    app.command("corrections")(corrections)
    app.command("prescribe")(prescribe)
    app.command("posture")(posture)


def warn_unknown_subject(root: Path, subject: str) -> None:
    """``record``/``import`` of an id nobody registered: one warning line with the closest known ids. The
    recording is still made and catalogued (nothing is lost); the id can be merged later."""
    if not (Path(root) / "catalog.sqlite").exists():
        return
    with Catalog(root) as cat:
        line = cat.unknown_subject_warning(subject)
    if line:
        say(f"warning: {line}", "yellow")
