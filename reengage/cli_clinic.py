"""``reengage patients …`` (the patient register) and ``reengage session edit`` (audited corrections of a
session's phase, pain and notes): the catalog's register and audit trail (:mod:`reengage.catalog`) on the
command line. Every change is attributed to ``--by`` or, by default, the login name of the process."""

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


def warn_unknown_subject(root: Path, subject: str) -> None:
    """``record``/``import`` of an id nobody registered: one warning line with the closest known ids. The
    recording is still made and catalogued (nothing is lost); the id can be merged later."""
    if not (Path(root) / "catalog.sqlite").exists():
        return
    with Catalog(root) as cat:
        line = cat.unknown_subject_warning(subject)
    if line:
        say(f"warning: {line}", "yellow")
