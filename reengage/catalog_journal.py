"""The catalog's journal and its repair: what lives only in the catalog survives the catalog.

Everything in ``catalog.sqlite`` can be rebuilt from the recordings in the data root except what a person
entered: session corrections (phase, pain, notes), a clinician's corrections of an analysis (onsets moved or
deleted, reps excluded or included), the patient register, renames and merges, prescriptions. Each of those is
also appended, before its transaction commits, to ``catalog.journal`` beside the catalog: one JSON object per
line, flushed and fsync'd. A catalog found damaged at open (``PRAGMA quick_check``, or SQLite calling the file
corrupt or not a database) is moved aside as ``catalog.sqlite.damaged-<UTC>``, a fresh one is built from the
recordings (their ``info``; the analyses are redone by the next ``analyze --all``) and the journal is replayed
in order. A catalog written before the journal existed seeds it from its audit table on first open.

Entries (``who`` and ``utc`` on each; sessions are named by their recording's path and SHA-256, since session ids
do not survive a rebuild)::

    {"op": "edit", "path", "sha256", "field", "new"}       a session correction
    {"op": "correct", "path", "sha256", "kind", "rep", "channel", "anchor", "anchor_s", "old", "new", "reason",
     "undoes"}                                            a correction of the analysis (reengage.corrections;
                                                          ``undoes``: the position of the undone one among the
                                                          session's corrections, ids do not survive a rebuild)
    {"op": "add_patient", "subject_id", "display_name", "note"}
    {"op": "rename", "old", "new"}
    {"op": "merge", "from", "into"}
    {"op": "prescribe", "subject_id", "exercise", "phase", "sets", "reps", "days_per_week", "load_kg",
     "start_date"}                                        a prescription set or replaced (reengage.prescriptions)
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reengage.errors import CatalogError, ReengageError

JOURNAL_NAME = "catalog.journal"
LOCK_NAME = ".catalog.lock"
_CORRUPT = (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB: the file, not the moment, is at fault


def damage_of(error: BaseException) -> str | None:
    """Why ``error`` says the catalog file is damaged, or None when it says something else (locked, busy,
    read-only: nothing to repair)."""
    if not isinstance(error, sqlite3.DatabaseError):
        return None
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in _CORRUPT:
        return str(error)
    text = str(error).lower()
    return str(error) if ("malformed" in text or "not a database" in text) else None


def quick_check(db: sqlite3.Connection) -> str | None:
    """None when ``PRAGMA quick_check`` finds the file sound, else its first complaint (or the error it raised)."""
    try:
        rows = db.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as e:
        if damage_of(e) is None:
            raise
        return str(e)
    first = str(rows[0][0]) if rows else "no answer"
    return None if first == "ok" else first


def root_writable(root: Path) -> bool:
    """Whether this process may create and replace files in the data root (the catalog needs both)."""
    return os.access(root, os.W_OK | os.X_OK)


@contextmanager
def repair_lock(root: Path) -> Iterator[None]:
    """Held while a catalog is checked and, if damaged, moved aside and rebuilt: two processes opening one
    damaged catalog at once rebuild it once."""
    with open(root / LOCK_NAME, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def move_aside(path: Path) -> Path:
    """Rename the damaged catalog (and its WAL and shared-memory files) to ``<name>.damaged-<UTC>``; returns
    the new path of the catalog itself."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        src = path.with_name(path.name + suffix)
        if src.exists():
            os.replace(src, target.with_name(target.name + suffix))
    return target


class Journal:
    """The append-only JSON-lines journal of a catalog (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def exists(self) -> bool:
        return self.path.exists()

    def append(self, entries: list[dict]) -> None:
        """Write ``entries`` and fsync them; raises :class:`CatalogError` when that fails, so the caller rolls
        its transaction back rather than commit a change no rebuild could restore."""
        if not entries:
            return
        new = not self.path.exists()
        text = "".join(json.dumps(e, separators=(",", ":"), sort_keys=True) + "\n" for e in entries)
        try:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            if new:
                _fsync_dir(self.path.parent)
        except OSError as e:
            raise CatalogError(f"{self.path}: cannot write the catalog journal ({e}); nothing was changed") from None

    def entries(self) -> tuple[list[dict], int]:
        """The entries in order and how many lines could not be read (a torn last line after a crash)."""
        out, bad = [], 0
        try:
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return [], 0
        for line in lines:
            try:
                e = json.loads(line)
            except ValueError:
                bad += bool(line.strip())
                continue
            if isinstance(e, dict) and isinstance(e.get("op"), str):
                out.append(e)
            else:
                bad += 1
        return out, bad


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def seed_entries(db: sqlite3.Connection) -> list[dict]:
    """The journal a catalog written before the journal existed would have: its audit trail, in order,
    as journal entries (a session's move to another patient is part of a rename or merge, not an entry)."""
    out = []
    rows = db.execute(
        "SELECT e.*, r.path, r.sha256, p.display_name, p.note FROM edits e "
        "LEFT JOIN recordings r ON r.session_id = e.session_id "
        "LEFT JOIN patients p ON p.subject_id = e.subject_id ORDER BY e.edit_id").fetchall()
    for r in rows:
        old = None if r["old_value"] is None else json.loads(r["old_value"])
        new = None if r["new_value"] is None else json.loads(r["new_value"])
        base = {"who": r["who"], "utc": r["edited_utc"]}
        if r["session_id"] is not None:
            if r["field"] != "subject_id" and r["path"] is not None:
                out.append({"op": "edit", "path": r["path"], "sha256": r["sha256"], "field": r["field"],
                            "new": new, **base})
        elif r["field"] in ("added", "registered"):
            sid = new if r["field"] == "added" else r["subject_id"]
            out.append({"op": "add_patient", "subject_id": sid, "display_name": r["display_name"],
                        "note": r["note"], **base})
        elif r["field"] == "subject_id":
            out.append({"op": "rename", "old": old, "new": new, **base})
        elif r["field"] == "merged":
            out.append({"op": "merge", "from": old, "into": new, **base})
    return out


def replay(cat, entries: list[dict]) -> tuple[int, int]:
    """Apply journal entries to a rebuilt catalog through its own audited methods, with their original
    authors and times; returns (applied, skipped). An entry that no longer applies (its recording is gone,
    its patient already registered) is skipped, never fatal."""
    applied = skipped = 0
    for e in entries:
        cat._clock = str(e.get("utc") or "") or None
        who = str(e.get("who") or "") or None
        try:
            if e["op"] == "edit":
                session_id = cat.session_of_journal_entry(e)
                if session_id is None or e.get("field") not in ("phase", "pain", "notes"):
                    skipped += 1
                    continue
                cat.edit_session(session_id, who=who or "unknown", **{e["field"]: e.get("new")})
            elif e["op"] == "correct":
                session_id = cat.session_of_journal_entry(e)
                if session_id is None:
                    skipped += 1
                    continue
                cat.replay_correction(session_id, e)
            elif e["op"] == "add_patient":
                cat.add_patient(e["subject_id"], display_name=e.get("display_name"), note=e.get("note"), who=who)
            elif e["op"] == "rename":
                cat.rename_patient(e["old"], e["new"], who=who)
            elif e["op"] == "merge":
                cat.merge_patients(e["from"], e["into"], who=who)
            elif e["op"] == "prescribe":
                from reengage.prescriptions import replay_prescription  # it builds on the catalog module

                replay_prescription(cat, e, who)
            else:
                skipped += 1
                continue
            applied += 1
        except (ReengageError, KeyError, TypeError, ValueError):
            skipped += 1
        finally:
            cat._clock = None
    return applied, skipped
