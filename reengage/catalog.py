"""The session catalog: one SQLite file per data root (``<data_root>/catalog.sqlite``).

What it holds and why:

- ``patients``: the patient register. Pseudonymous ids (``P001``) with an optional display label and note;
  ``registered`` says whether a person added the id (``add_patient``) or a recording brought it in (an unknown
  ``--subject`` still gets its recording catalogued, so nothing is lost, and :meth:`Catalog.unknown_subject_warning`
  words the "did you mean …" warning). Renames and merges move every session and are audited.
- ``sessions``: **one per recording file**, with the clinical context a clinician enters: rehab phase 1/2/3,
  pain 0–10, notes, and the ``empty`` flag of a recording without samples (kept, never analysed, left out of
  trends). A *visit* is a subject's sessions on one date (:meth:`Catalog.visits`); it groups, never merges:
  no recording's registration ever writes another session's metadata.
- ``recordings``: the file's path *relative to the data root* (so a data root can be moved or copied),
  its size, mtime and SHA-256 (change detection), and the ``info`` JSON (``reengage info --json``); exactly
  one per session (``recordings.session_id`` is unique), so file ↔ session is a one-to-one map.
- ``analyses``: the ``analyze`` JSON (``../shared/contracts/analysis.md``) with the software version
  that produced it and the SHA-256 of the file it was computed from, so a changed file or a new
  software version is re-analysed and an old analysis is never shown as current.
- ``edits``: the audit trail: who changed which field of a session or patient, when (UTC), old and new value.
  A field edited here is the catalog's from then on: re-registering or re-analysing the file never undoes it.
- ``corrections``: a clinician's corrections of an analysis (an onset moved or deleted, a rep excluded or
  included; :mod:`reengage.corrections`) with who, when, old and new value. The analysis every reader gets
  (:meth:`Catalog.analysis`, the summary columns, hence trends and reports) is the *effective* one, computed
  here once when a correction is made or the recording re-analysed; analyze's own document is kept beside it.
- ``prescriptions``: a patient's exercise prescription (phase, sets, reps, days per week, load) from a start
  date; replacing one ends the old (kept, with ``replaced_by``) so adherence is judged against what was
  prescribed at the time (:mod:`reengage.prescriptions`). Journalled like the other edits.
- ``failures``: files that could not be read or analysed, with the error, the file's SHA-256 and the software
  version, so ``analyze --all`` reports them every time but retries only when the file or reengage changed.

The schema is versioned with ``PRAGMA user_version`` and an ordered list of migrations
(:data:`MIGRATIONS`); opening an older file upgrades it in one transaction. Every query is
parameterised: no user text is ever formatted into SQL.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import getpass
import hashlib
import json
import logging
import math
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from reengage import __version__
from reengage.catalog_journal import (
    JOURNAL_NAME, Journal, damage_of, move_aside, quick_check, repair_lock, replay, root_writable, seed_entries,
)
from reengage.errors import CatalogError, InputError

CATALOG_NAME = "catalog.sqlite"
_log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------- schema

def _m1_initial(db: sqlite3.Connection) -> None:
    # Statement by statement: ``executescript`` would commit the migration transaction half-way.
    _execute_all(
        db,
        """
        CREATE TABLE subjects (
            subject_id   TEXT PRIMARY KEY,
            created_utc  TEXT NOT NULL
        );
        CREATE TABLE sessions (
            session_id   INTEGER PRIMARY KEY,
            subject_id   TEXT NOT NULL REFERENCES subjects(subject_id),
            session_date TEXT NOT NULL,
            task         TEXT NOT NULL,
            phase        INTEGER CHECK (phase IN (1, 2, 3)),
            pain         REAL CHECK (pain BETWEEN 0 AND 10),
            notes        TEXT NOT NULL DEFAULT '',
            UNIQUE (subject_id, session_date, task)
        );
        CREATE TABLE recordings (
            recording_id  INTEGER PRIMARY KEY,
            session_id    INTEGER NOT NULL REFERENCES sessions(session_id),
            path          TEXT NOT NULL UNIQUE,
            size_bytes    INTEGER NOT NULL,
            mtime_ns      INTEGER NOT NULL,
            sha256        TEXT NOT NULL,
            info_json     TEXT NOT NULL,
            registered_utc TEXT NOT NULL
        );
        CREATE TABLE analyses (
            analysis_id      INTEGER PRIMARY KEY,
            recording_id     INTEGER NOT NULL REFERENCES recordings(recording_id) ON DELETE CASCADE,
            software_version TEXT NOT NULL,
            recording_sha256 TEXT NOT NULL,
            analysis_json    TEXT NOT NULL,
            created_utc      TEXT NOT NULL
        );
        """,
    )


def _execute_all(db: sqlite3.Connection, script: str) -> None:
    for stmt in script.split(";"):
        if stmt.strip():
            db.execute(stmt)


def _m2_summary_columns(db: sqlite3.Connection) -> None:
    """Version 2: the summary numbers the trend charts need become columns, so a patient with hundreds
    of sessions is charted without decoding hundreds of analysis JSON documents; indexes for the
    per-subject and per-recording look-ups. Existing analyses are back-filled from their JSON."""
    for col, typ in (
        ("reps", "INTEGER"),
        ("glute_first_fraction", "REAL"),
        ("median_onset_latency_ms", "REAL"),
        ("median_glute_hamstring_ratio", "REAL"),
    ):
        db.execute(f"ALTER TABLE analyses ADD COLUMN {col} {typ}")  # constant names, not user text
    db.execute("CREATE INDEX IF NOT EXISTS sessions_subject ON sessions(subject_id, session_date)")
    db.execute("CREATE INDEX IF NOT EXISTS recordings_session ON recordings(session_id)")
    db.execute("CREATE INDEX IF NOT EXISTS analyses_recording ON analyses(recording_id, analysis_id)")
    rows = db.execute("SELECT analysis_id, analysis_json FROM analyses").fetchall()
    for analysis_id, text in rows:
        s = _summary_values(json.loads(text))
        db.execute(
            "UPDATE analyses SET reps=?, glute_first_fraction=?, median_onset_latency_ms=?, "
            "median_glute_hamstring_ratio=? WHERE analysis_id=?",
            (*s, analysis_id),
        )


def _m3_one_session_per_recording(db: sqlite3.Connection) -> None:
    """Version 3: every recording is a session of its own (version 2 keyed a session by subject + date +
    exercise, so a second recording that day merged into the first and overwrote its phase, pain and
    notes); the patient register, the audit trail of edits and the record of failed files.

    A version-2 session holding several recordings is split: the recording its page showed keeps the
    session id (links stay valid), each other one gets a new session with the phase, pain and notes of
    its own file."""
    _execute_all(
        db,
        """
        CREATE TABLE patients (
            subject_id   TEXT PRIMARY KEY,
            display_name TEXT,
            note         TEXT,
            registered   INTEGER NOT NULL DEFAULT 0 CHECK (registered IN (0, 1)),
            created_utc  TEXT NOT NULL
        );
        INSERT INTO patients(subject_id, created_utc) SELECT subject_id, created_utc FROM subjects;
        CREATE TABLE sessions_v3 (
            session_id   INTEGER PRIMARY KEY,
            subject_id   TEXT NOT NULL REFERENCES patients(subject_id),
            session_date TEXT NOT NULL,
            task         TEXT NOT NULL,
            phase        INTEGER CHECK (phase IN (1, 2, 3)),
            pain         REAL CHECK (pain BETWEEN 0 AND 10),
            notes        TEXT NOT NULL DEFAULT '',
            empty        INTEGER NOT NULL DEFAULT 0 CHECK (empty IN (0, 1)),
            recorded_utc TEXT
        );
        CREATE TABLE edits (
            edit_id     INTEGER PRIMARY KEY,
            session_id  INTEGER REFERENCES sessions(session_id),
            subject_id  TEXT NOT NULL,
            field       TEXT NOT NULL,
            old_value   TEXT,
            new_value   TEXT,
            who         TEXT NOT NULL,
            edited_utc  TEXT NOT NULL
        );
        CREATE TABLE failures (
            path             TEXT PRIMARY KEY,
            size_bytes       INTEGER NOT NULL,
            mtime_ns         INTEGER NOT NULL,
            sha256           TEXT NOT NULL,
            software_version TEXT NOT NULL,
            error            TEXT NOT NULL,
            failed_utc       TEXT NOT NULL
        )
        """,
    )
    _split_merged_sessions(db)
    _execute_all(
        db,
        """
        DROP TABLE sessions;
        ALTER TABLE sessions_v3 RENAME TO sessions;
        DROP TABLE subjects;
        CREATE INDEX sessions_subject ON sessions(subject_id, session_date);
        DROP INDEX IF EXISTS recordings_session;
        CREATE UNIQUE INDEX recordings_session ON recordings(session_id);
        CREATE INDEX edits_session ON edits(session_id, edit_id);
        CREATE INDEX edits_subject ON edits(subject_id, edit_id)
        """,
    )


def _split_merged_sessions(db: sqlite3.Connection) -> None:
    old = {r[0]: r[1:] for r in db.execute(
        "SELECT session_id, subject_id, session_date, task, phase, pain, notes FROM sessions")}
    groups: dict[int, list[tuple]] = {}
    for r in db.execute(
        "SELECT r.recording_id, r.session_id, r.info_json, "
        "(SELECT MAX(analysis_id) FROM analyses a WHERE a.recording_id = r.recording_id) FROM recordings r"
    ):
        groups.setdefault(r[1], []).append(r)
    next_id = max(old, default=0) + 1
    for session_id, recs in groups.items():
        # The one version 2 showed: the latest analysed recording, else the latest registered.
        recs.sort(key=lambda r: (r[3] is None, -(r[3] or 0), -r[0]))
        subject, date, task, phase, pain, notes = old[session_id]
        for k, (recording_id, _, info_text, _) in enumerate(recs):
            try:
                info = json.loads(info_text)
            except ValueError:
                info = {}
            own = _file_fields(info if isinstance(info, dict) else {})
            if len(recs) > 1 and isinstance(info, dict) and info.get("meta"):
                values = (own["phase"], own["pain"], own["notes"])
            else:  # alone in its session, the session's values were its own (or the only ones there are)
                values = (phase, pain, notes)
            new_id = session_id if k == 0 else next_id
            next_id += k > 0
            db.execute(
                "INSERT INTO sessions_v3(session_id, subject_id, session_date, task, phase, pain, notes, empty, "
                "recorded_utc) VALUES (?,?,?,?,?,?,?,?,?)",
                (new_id, subject, date, task, *values, int(own["empty"]), own["recorded_utc"]),
            )
            if new_id != session_id:
                db.execute("UPDATE recordings SET session_id=? WHERE recording_id=?", (new_id, recording_id))


def _m4_corrections(db: sqlite3.Connection) -> None:
    """Version 4: a clinician's corrections of an analysis (:mod:`reengage.corrections`). ``analyses.analysis_json``
    becomes the *effective* analysis every reader shows (corrections applied); ``machine_json`` keeps analyze's
    own document when the two differ (NULL: no correction, the two are one)."""
    _execute_all(
        db,
        """
        ALTER TABLE analyses ADD COLUMN machine_json TEXT;
        CREATE TABLE corrections (
            correction_id INTEGER PRIMARY KEY,
            session_id    INTEGER NOT NULL REFERENCES sessions(session_id),
            kind          TEXT NOT NULL CHECK (kind IN ('move_onset', 'delete_onset', 'exclude_rep', 'include_rep')),
            rep           INTEGER NOT NULL,
            channel       TEXT,
            anchor        TEXT NOT NULL CHECK (anchor IN ('onset', 'start')),
            anchor_s      REAL NOT NULL,
            old_value     TEXT,
            new_value     TEXT,
            reason        TEXT NOT NULL DEFAULT '',
            who           TEXT NOT NULL,
            created_utc   TEXT NOT NULL,
            undoes        INTEGER REFERENCES corrections(correction_id)
        );
        CREATE INDEX corrections_session ON corrections(session_id, correction_id)
        """,
    )


def _m5_prescriptions(db: sqlite3.Connection) -> None:
    """Version 5: a patient's prescription per exercise (:mod:`reengage.prescriptions`). A replaced one stays
    (``replaced_by``, ``end_date``): the history of what was prescribed when is what adherence is judged on."""
    _execute_all(
        db,
        """
        CREATE TABLE prescriptions (
            prescription_id INTEGER PRIMARY KEY,
            subject_id    TEXT NOT NULL REFERENCES patients(subject_id),
            exercise      TEXT NOT NULL,
            phase         INTEGER NOT NULL CHECK (phase BETWEEN 1 AND 3),
            sets          INTEGER NOT NULL CHECK (sets >= 1),
            reps          INTEGER NOT NULL CHECK (reps >= 1),
            days_per_week INTEGER NOT NULL CHECK (days_per_week BETWEEN 1 AND 7),
            load_kg       REAL CHECK (load_kg IS NULL OR load_kg >= 0),
            start_date    TEXT NOT NULL,
            end_date      TEXT,
            who           TEXT NOT NULL,
            created_utc   TEXT NOT NULL,
            replaced_by   INTEGER REFERENCES prescriptions(prescription_id)
        );
        CREATE INDEX prescriptions_subject ON prescriptions(subject_id, exercise, prescription_id)
        """,
    )


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _m1_initial, _m2_summary_columns, _m3_one_session_per_recording, _m4_corrections, _m5_prescriptions,
]
"""Ordered schema migrations; the file's ``user_version`` is how many have been applied. Append only."""

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply the migrations from the file's version up to ``target`` in one transaction; returns the
    version the file had before.

    Foreign keys are off while a migration rebuilds a table (SQLite's documented procedure: a table dropped
    under its children's feet would otherwise fail or cascade) and checked in full before the commit."""
    (current,) = db.execute("PRAGMA user_version").fetchone()
    if current > SCHEMA_VERSION:
        raise CatalogError(
            f"catalog schema version {current} is newer than this reengage understands ({SCHEMA_VERSION}); "
            "upgrade reengage"
        )
    if current >= target:
        return current
    (fk,) = db.execute("PRAGMA foreign_keys").fetchone()
    db.execute("PRAGMA foreign_keys = OFF")  # a no-op inside a transaction, so before BEGIN
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            for step in MIGRATIONS[current:target]:
                step(db)
            broken = db.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise CatalogError(f"catalog migration left {len(broken)} dangling references; nothing was changed")
            db.execute(f"PRAGMA user_version = {int(target)}")  # PRAGMA takes no parameters; int() is ours
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
    finally:
        db.execute(f"PRAGMA foreign_keys = {'ON' if fk else 'OFF'}")
    return current


def _rollback(db: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open: a Ctrl-C can land just after COMMIT took effect, and
    a ROLLBACK then would raise over the KeyboardInterrupt that the caller must see."""
    if db.in_transaction:
        db.execute("ROLLBACK")


# ------------------------------------------------------------------------------------------- helpers

def finite(x) -> float | None:
    """``x`` as a float, or None when it is missing, not a number, a bool, NaN or infinite: how a stored
    number is read everywhere above the catalog (the trend, the dashboard)."""
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _summary_values(analysis: dict) -> tuple:
    s = analysis.get("summary") or {}
    reps = s.get("reps")
    return (
        int(reps) if isinstance(reps, (int, float)) and not isinstance(reps, bool) else None,
        finite(s.get("glute_first_fraction")),
        finite(s.get("median_onset_latency_ms")),
        finite(s.get("median_glute_hamstring_ratio")),
    )


def _utcnow() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _file_fields(info: dict) -> dict:
    """What a recording's own ``info`` says about its session; None where it says nothing (or nothing valid),
    so a file without a subject or phase never blanks what the catalog already knows."""
    meta = info.get("meta")
    meta = meta if isinstance(meta, dict) else {}
    stamp = meta.get("started_utc") or meta.get("created_utc")  # the recorder's start, else the file's creation
    phase = meta.get("phase")
    try:
        phase = int(phase) if phase is not None and not isinstance(phase, bool) else None
    except (TypeError, ValueError):
        phase = None
    pain = finite(meta.get("pain"))
    samples = info.get("samples")
    return {
        "subject_id": str(meta.get("subject") or "").strip() or None,
        "task": str(meta.get("task") or "").strip() or None,
        "session_date": _iso_date(meta.get("session_date")),  # stated: a re-registration follows it
        "date_from_clock": _iso_date(stamp),  # guessed: only for a new session that states no date
        "phase": phase if phase in (1, 2, 3) else None,
        "pain": pain if pain is not None and 0 <= pain <= 10 else None,
        "notes": str(meta.get("notes") or ""),
        "recorded_utc": str(stamp) if stamp else None,
        "empty": isinstance(samples, int) and not isinstance(samples, bool) and samples == 0,
    }


def _iso_date(value) -> str | None:
    try:
        return _dt.date.fromisoformat(str(value)[:10]).isoformat() if value else None
    except ValueError:
        return None


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()
"""The default of :meth:`Catalog.edit_session`'s fields: leave this field as it is (None clears it)."""


def check_phase(value) -> int | None:
    """A rehab phase as the catalog stores it: None, or 1, 2 or 3 (an int or its text); else InputError."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise InputError(f"phase {value!r}: must be 1, 2 or 3")
    try:
        v = int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise InputError(f"phase {value!r}: must be 1, 2 or 3") from None
    if (not isinstance(value, str) and v != value) or v not in (1, 2, 3):  # 2.5 is not phase 2
        raise InputError(f"phase {value!r}: must be 1, 2 or 3")
    return v


def check_pain(value) -> float | None:
    """A pain score as the catalog stores it: None, or a number from 0 to 10; else InputError."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    v = None if isinstance(value, bool) else finite(str(value).strip().replace(",", ".") if isinstance(value, str)
                                                      else value)
    if v is None or not 0 <= v <= 10:
        raise InputError(f"pain {value!r}: must be a number from 0 to 10")
    return v


def check_subject_id(subject_id) -> str:
    """A patient id as the catalog stores it: stripped, 1–64 printable characters; else InputError."""
    s = str(subject_id if subject_id is not None else "").strip()
    if not s or len(s) > 64 or not s.isprintable():
        raise InputError(f"patient id {subject_id!r}: must be 1-64 printable characters")
    return s


def _who(who: str | None) -> str:
    """The person an audited change is attributed to: as given, else the login name of this process."""
    if who is not None and str(who).strip():
        return str(who).strip()
    if who is not None:
        raise InputError("who: give the name of the person making the change")
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _json(value) -> str | None:
    return None if value is None else json.dumps(value)


EDITABLE = ("phase", "pain", "notes")
"""The session fields :meth:`Catalog.edit_session` changes."""


# ------------------------------------------------------------------------------------------- catalog

_SOUND: dict[str, tuple] = {}  # catalog path → stat of the files a quick_check last found sound


def _stat_key(path: Path) -> tuple | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns

class Catalog:
    """The SQLite catalog of a data root. Use as a context manager; one instance per thread.

    >>> with Catalog(Path("recordings")) as cat:          # doctest: +SKIP
    ...     cat.register(path, rec.info(), analyze(rec))
    """

    def __init__(self, data_root: Path | str, *, readonly: bool = False) -> None:
        """Open (creating or migrating when writable) the catalog of ``data_root``.

        A damaged catalog opened for writing is moved aside and rebuilt from the recordings, the journal of
        corrections replayed (:mod:`reengage.catalog_journal`); opened read-only it raises
        :class:`CatalogError` saying how to repair it. A data root this process cannot write is opened
        read-only. Either event is one line in :attr:`notice` (also logged as a warning), else None."""
        self.data_root = Path(data_root).resolve()
        self.path = self.data_root / CATALOG_NAME
        self.journal = Journal(self.data_root / JOURNAL_NAME)
        self.notice: str | None = None
        self._clock: str | None = None  # a replayed entry's time, stamped on its audit rows
        self._journal_pending: list[dict] = []
        self._replaying = False
        if not readonly and self.data_root.is_dir() and not (
                root_writable(self.data_root) and (not self.path.exists() or os.access(self.path, os.W_OK))):
            if not self.path.exists():
                raise CatalogError(f"{self.data_root}: read-only data root and no catalog in it")
            readonly = True
            self.notice = (f"{self.path} cannot be written: the catalog is opened read-only "
                           "(no changes, no repair)")
        self.readonly = readonly
        if readonly:
            self._open_readonly()
        else:
            self.data_root.mkdir(parents=True, exist_ok=True)
            with repair_lock(self.data_root):
                self._open_writable()
        if self.notice:
            _log.warning(self.notice)

    def _connect(self, readonly: bool) -> sqlite3.Connection:
        if readonly:
            # A data root nobody may write has no -shm to share: immutable, or SQLite cannot open it at all.
            flags = "?mode=ro" + ("&immutable=1" if not root_writable(self.data_root) else "")
            db = sqlite3.connect(self.path.as_uri() + flags, uri=True, isolation_level=None,
                                 check_same_thread=False)
        else:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
        db.row_factory = sqlite3.Row
        return db

    def _open_readonly(self) -> None:
        if not self.path.exists():
            raise CatalogError(f"{self.path}: no catalog here; run `reengage analyze --all` first")
        try:
            self.db = self._connect(readonly=True)
            damage = self._checked_quick()
            (v,) = self.db.execute("PRAGMA user_version").fetchone()
        except sqlite3.DatabaseError as e:
            damage = damage_of(e)
            if damage is None:
                raise CatalogError(f"{self.path}: cannot open the catalog ({e})") from None
        if damage is not None:
            self.db.close()
            fix = ("`reengage analyze --all` moves it aside and rebuilds it from the recordings"
                   if root_writable(self.data_root) else "the data root is read-only, so it cannot be repaired here")
            raise CatalogError(f"{self.path}: the catalog is damaged ({damage}); {fix}")
        self.db.execute("PRAGMA foreign_keys = ON")
        if v != SCHEMA_VERSION:
            raise CatalogError(
                f"{self.path}: catalog schema version {v}, this reengage needs {SCHEMA_VERSION}; "
                "open it once with `reengage analyze --all` to migrate it"
            )

    def _checked_quick(self) -> str | None:
        """:func:`quick_check`, skipped when this process already found these very files sound: a page view
        opens the catalog each time, and the check reads all of it."""
        key = tuple(_stat_key(self.path.with_name(self.path.name + s)) for s in ("", "-wal"))
        if _SOUND.get(str(self.path)) == key:
            return None
        damage = quick_check(self.db)
        if damage is None:
            _SOUND[str(self.path)] = key
        return damage

    def _open_writable(self) -> None:
        existed = self.path.exists() and self.path.stat().st_size > 0
        try:
            self.db = self._connect(readonly=False)
            damage = quick_check(self.db)
            if damage is None:
                (fresh,) = self.db.execute("SELECT COUNT(*) = 0 FROM sqlite_master").fetchone()
                self._setup()
        except sqlite3.DatabaseError as e:
            damage = damage_of(e)
            if damage is None:
                raise CatalogError(f"{self.path}: cannot open the catalog ({e})") from None
        if damage is None and fresh and (existed or self.journal.exists()):
            damage = "no tables in it" if existed else "empty or missing while its journal holds corrections"
        if damage is not None:
            self._rebuild(damage)
        elif not self.journal.exists():
            try:
                self.journal.append(seed_entries(self.db))
            except CatalogError as e:  # the catalog itself is sound: seeding is tried again at the next open
                _log.warning("%s", e)

    def _setup(self) -> None:
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute("PRAGMA journal_mode = WAL")  # readers (the dashboard) never block the writer
        migrate(self.db)

    def _rebuild(self, damage: str) -> None:
        """Move the damaged catalog aside, build a fresh one from the recordings, replay the journal."""
        from reengage.batch import find_recordings
        from reengage.io import load_recording

        try:
            self.db.close()
        except Exception:  # noqa: BLE001 (a connection to a damaged file may fail to close; it is moved anyway)
            pass
        aside = move_aside(self.path) if self.path.exists() else None
        self.db = self._connect(readonly=False)
        self._setup()
        n = 0
        for p in find_recordings(self.data_root):
            try:
                self.register(p, load_recording(p).info())
                n += 1
            except Exception:  # noqa: BLE001 (an unreadable file: `analyze --all` reports it by name)
                continue
        entries, torn = self.journal.entries()
        self._replaying = True
        try:
            applied, skipped = replay(self, entries)
        finally:
            self._replaying = False
        where = f"moved aside to {aside.name}; " if aside else ""
        lost = f", {skipped + torn} not applicable" if skipped + torn else ""
        self.notice = (f"{self.path.name} was damaged ({damage}): {where}rebuilt from {n} recordings and "
                       f"{applied} journalled corrections{lost}; `reengage analyze --all` redoes the analyses")

    # context manager
    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed whole, or rolled back whole (Ctrl-C included)."""
        if self.readonly:
            raise CatalogError(f"{self.path}: opened read-only (read-only data root); nothing can be changed")
        db = self.db
        self._journal_pending = []
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            if not self._replaying:  # a replayed change is in the journal already
                self.journal.append(self._journal_pending)  # before COMMIT: no change the journal cannot restore
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
        finally:
            self._journal_pending = []

    def _journal(self, op: str, who: str, now: str, **fields) -> None:
        self._journal_pending.append({"op": op, "who": who, "utc": now, **fields})

    def _now(self) -> str:
        return self._clock or _utcnow()

    def session_of_journal_entry(self, entry: dict) -> int | None:
        """The session a journal entry names: by its recording's path, else (the file moved) by its SHA-256."""
        row = self.db.execute("SELECT session_id FROM recordings WHERE path=?", (str(entry.get("path")),)).fetchone()
        if row is None and entry.get("sha256"):
            row = self.db.execute("SELECT session_id FROM recordings WHERE sha256=? ORDER BY recording_id",
                                  (str(entry["sha256"]),)).fetchone()
        return int(row[0]) if row else None

    # -- paths
    def relpath(self, path: Path | str) -> str:
        """The catalog key of a recording: its path relative to the data root, with '/' separators."""
        p = Path(path)
        if not p.is_absolute():
            p = Path.cwd() / p
        p = p.resolve()
        try:
            return p.relative_to(self.data_root).as_posix()
        except ValueError:
            raise InputError(f"{path}: not inside the data root {self.data_root}") from None

    def abspath(self, rel: str) -> Path:
        """The file of a catalog path, refusing anything that would leave the data root."""
        p = (self.data_root / rel).resolve()
        if p != self.data_root and self.data_root not in p.parents:
            raise InputError(f"{rel}: outside the data root")
        return p

    def _stat(self, path: Path | str) -> tuple[str, Path, os.stat_result]:
        rel = self.relpath(path)
        f = self.abspath(rel)
        try:
            return rel, f, f.stat()
        except FileNotFoundError:
            raise InputError(f"{path}: no such file") from None

    # -- writing recordings
    def register(self, path: Path | str, info: dict, analysis: dict | None = None, *,
                 error: str | None = None) -> int:
        """Add or update the recording at ``path`` (upsert by path) and its own session; store ``analysis``
        when given, else ``error`` (why there is none) when given. Returns the recording id.

        The first registration creates the session (and the patient, unregistered, if the subject is
        new) from the file's metadata. A later one (the file changed, or was re-analysed) takes from the
        file only what it states and was never edited in the catalog: an edit, a rename or a merge is
        never undone, and a file that states no subject never moves its session to "unknown". A
        recording with 0 samples is flagged ``empty``. A file moved within the data root (same content,
        old path gone) keeps its session, edits and analyses."""
        rel, f, st = self._stat(path)
        sha = file_sha256(f)
        fields = _file_fields(info if isinstance(info, dict) else {})
        info_text = json.dumps(info, separators=(",", ":"), allow_nan=False, default=str)
        now = _utcnow()
        with self._write() as db:
            recording_id = self._upsert_recording(rel, st, sha, fields, info_text, now)
            if analysis is not None:
                self._add_analysis(recording_id, sha, analysis, now)
                db.execute("DELETE FROM failures WHERE path=?", (rel,))
            elif error:
                self._put_failure(rel, st, sha, error, now)
        return int(recording_id)

    def _upsert_recording(self, rel: str, st, sha: str, fields: dict, info_text: str, now: str) -> int:
        db = self.db
        row = db.execute("SELECT recording_id, session_id FROM recordings WHERE path=?", (rel,)).fetchone()
        if row is None:
            row = self._moved_recording(sha)
            if row is not None:
                db.execute("UPDATE recordings SET path=? WHERE recording_id=?", (rel, row[0]))
        if row is None:
            session_id = self._new_session(fields, st.st_mtime_ns, now)
            cur = db.execute(
                "INSERT INTO recordings(session_id, path, size_bytes, mtime_ns, sha256, info_json, registered_utc) "
                "VALUES (?,?,?,?,?,?,?)",
                (session_id, rel, st.st_size, st.st_mtime_ns, sha, info_text, now),
            )
            return int(cur.lastrowid)
        recording_id, session_id = row
        self._update_session(session_id, fields, now)
        db.execute(
            "UPDATE recordings SET size_bytes=?, mtime_ns=?, sha256=?, info_json=? WHERE recording_id=?",
            (st.st_size, st.st_mtime_ns, sha, info_text, recording_id),
        )
        return int(recording_id)

    def _moved_recording(self, sha: str):
        for row in self.db.execute("SELECT recording_id, session_id, path FROM recordings WHERE sha256=?", (sha,)):
            try:
                gone = not self.abspath(row["path"]).exists()
            except InputError:
                gone = True
            if gone:
                return row[0], row[1]
        return None

    def _ensure_patient(self, subject_id: str, now: str) -> None:
        self.db.execute(
            "INSERT INTO patients(subject_id, registered, created_utc) VALUES (?, 0, ?) ON CONFLICT DO NOTHING",
            (subject_id, now),
        )

    def _new_session(self, fields: dict, mtime_ns: int, now: str) -> int:
        subject = fields["subject_id"] or "unknown"
        date = fields["session_date"] or fields["date_from_clock"] or _dt.datetime.fromtimestamp(mtime_ns / 1e9, _dt.timezone.utc).date().isoformat()
        self._ensure_patient(subject, now)
        cur = self.db.execute(
            "INSERT INTO sessions(subject_id, session_date, task, phase, pain, notes, empty, recorded_utc) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (subject, date, fields["task"] or "unspecified", fields["phase"], fields["pain"], fields["notes"],
             int(fields["empty"]), fields["recorded_utc"]),
        )
        return int(cur.lastrowid)

    def _update_session(self, session_id: int, fields: dict, now: str) -> None:
        edited = {r[0] for r in self.db.execute("SELECT DISTINCT field FROM edits WHERE session_id=?", (session_id,))}
        new = {"empty": int(fields["empty"])}
        for key in ("subject_id", "session_date", "task", "phase", "pain", "notes", "recorded_utc"):
            if key not in edited and fields[key] not in (None, ""):
                new[key] = fields[key]
        if "subject_id" in new:
            self._ensure_patient(new["subject_id"], now)
        cols = ", ".join(f"{k}=?" for k in new)  # keys from the constant tuple above, never user text
        self.db.execute(f"UPDATE sessions SET {cols} WHERE session_id=?", (*new.values(), session_id))

    def _add_analysis(self, recording_id: int, sha: str, analysis: dict, now: str) -> None:
        """Store a new analysis of a recording with the session's corrections re-applied to it (matched by time:
        a re-analysis may find the reps at other indices), so no correction is lost to a re-analysis."""
        text = json.dumps(analysis, separators=(",", ":"), allow_nan=False)  # the contract: never NaN
        effective, machine = analysis, None
        session_id = self.session_of_recording(recording_id)
        corrections = self.corrections(session_id) if session_id is not None else []
        if corrections:
            from reengage.corrections import apply_corrections

            effective, _ = apply_corrections(analysis, corrections)
            machine = text
            text = json.dumps(effective, separators=(",", ":"), allow_nan=False)
        self.db.execute(
            "INSERT INTO analyses(recording_id, software_version, recording_sha256, analysis_json, machine_json, "
            "created_utc, reps, glute_first_fraction, median_onset_latency_ms, median_glute_hamstring_ratio) "
            "VALUES (?,?,?,?,?,?,?,?,?,?)",
            (recording_id, __version__, sha, text, machine, now, *_summary_values(effective)),
        )

    def _put_failure(self, rel: str, st, sha: str, error: str, now: str) -> None:
        self.db.execute(
            "INSERT INTO failures(path, size_bytes, mtime_ns, sha256, software_version, error, failed_utc) "
            "VALUES (?,?,?,?,?,?,?) ON CONFLICT(path) DO UPDATE SET size_bytes=excluded.size_bytes, "
            "mtime_ns=excluded.mtime_ns, sha256=excluded.sha256, software_version=excluded.software_version, "
            "error=excluded.error, failed_utc=excluded.failed_utc",
            (rel, st.st_size, st.st_mtime_ns, sha, __version__, str(error), now),
        )

    def record_failure(self, path: Path | str, error: str) -> None:
        """Remember that the file at ``path`` could not be read or analysed, and why: ``analyze --all``
        reports it on every run but tries it again only once the file (or reengage's version) changed."""
        rel, f, st = self._stat(path)
        sha = file_sha256(f)
        with self._write():
            self._put_failure(rel, st, sha, error, _utcnow())

    def _current_sha(self, f: Path, st, known: list) -> str:
        """The file's SHA-256, from a stored one when size and mtime match (a ``touch`` alone costs a hash)."""
        for row in known:
            if row is not None and st.st_size == row["size_bytes"] and st.st_mtime_ns == row["mtime_ns"]:
                return row["sha256"]
        return file_sha256(f)

    def failure(self, path: Path | str) -> str | None:
        """The recorded error of the file at ``path`` if it still applies (same content, same reengage), else None."""
        try:
            rel, f, st = self._stat(path)
        except InputError:
            return None
        row = self.db.execute("SELECT * FROM failures WHERE path=?", (rel,)).fetchone()
        if row is None or row["software_version"] != __version__:
            return None
        return row["error"] if self._current_sha(f, st, [row]) == row["sha256"] else None

    def failures(self) -> list[dict]:
        """Every recorded failure of a file still in the data root: path (relative to the data root), error,
        failed_utc, software_version."""
        rows = self.db.execute(
            "SELECT path, error, failed_utc, software_version FROM failures ORDER BY path").fetchall()
        return [dict(r) for r in rows if self.abspath(r["path"]).is_file()]

    def needs_analysis(self, path: Path | str) -> bool:
        """True when the file is not catalogued, has never been analysed, changed since its latest
        analysis (size/mtime first, then SHA-256 to ignore a mere ``touch``), or was analysed by another
        reengage version. False for an empty recording already catalogued and for a file whose failure is
        recorded, until the file or the version changes."""
        rel = self.relpath(path)
        f = self.abspath(rel)
        try:
            st = f.stat()
        except FileNotFoundError:
            return True
        row = self.db.execute(
            "SELECT r.recording_id, r.size_bytes, r.mtime_ns, r.sha256, s.empty, a.recording_sha256, "
            "a.software_version FROM recordings r JOIN sessions s ON s.session_id = r.session_id "
            "LEFT JOIN analyses a ON a.analysis_id = "
            "(SELECT MAX(analysis_id) FROM analyses WHERE recording_id = r.recording_id) WHERE r.path = ?",
            (rel,),
        ).fetchone()
        fail = self.db.execute("SELECT * FROM failures WHERE path=?", (rel,)).fetchone()
        current = self._current_sha(f, st, [row, fail])
        if fail is not None and fail["software_version"] == __version__ and fail["sha256"] == current:
            return False
        if row is None:
            return True
        if row["empty"] and row["sha256"] == current:
            return False
        if row["recording_sha256"] is None or row["software_version"] != __version__:
            return True
        return current != row["recording_sha256"]

    # -- reading sessions (the dashboard's data module, the CLI and batch are the callers)
    _SESSION_SQL = (
        "SELECT s.session_id, s.subject_id, s.session_date, s.task, s.phase, s.pain, s.notes, s.empty, "
        "s.recorded_utc, r.recording_id, r.path, a.analysis_id, a.reps, a.glute_first_fraction, "
        "a.median_onset_latency_ms, a.median_glute_hamstring_ratio, a.software_version, "
        "a.created_utc AS analysed_utc, f.error "
        "FROM sessions s JOIN recordings r ON r.session_id = s.session_id "
        "LEFT JOIN analyses a ON a.analysis_id = "
        "  (SELECT MAX(analysis_id) FROM analyses WHERE recording_id = r.recording_id) "
        "LEFT JOIN failures f ON f.path = r.path "
    )
    _SESSION_ORDER = "ORDER BY s.subject_id, s.session_date, COALESCE(s.recorded_utc, ''), r.recording_id"

    @staticmethod
    def _row(r: sqlite3.Row) -> dict:
        d = dict(r)
        d["empty"] = bool(d["empty"])
        return d

    def _select_sessions(self, where: str, args: tuple) -> list[dict]:
        rows = self.db.execute(self._SESSION_SQL + where + " " + self._SESSION_ORDER, args).fetchall()
        return [self._row(r) for r in rows]

    def subjects(self) -> list[dict]:
        """Every subject with sessions to show, with their session count and first/last session dates
        (empty recordings not counted; :meth:`patients` lists the register itself)."""
        rows = self.db.execute(
            "SELECT p.subject_id, COUNT(s.session_id) AS sessions, MIN(s.session_date) AS first_date, "
            "MAX(s.session_date) AS last_date FROM patients p "
            "JOIN sessions s ON s.subject_id = p.subject_id AND s.empty = 0 "
            "GROUP BY p.subject_id ORDER BY p.subject_id"
        ).fetchall()
        return [dict(r) for r in rows]

    def sessions(self, subject_id: str | None = None, *, include_empty: bool = False) -> list[dict]:
        """Sessions (one per recording) in date and recording-time order with the summary of their current
        analysis (None where not analysed; ``error`` says why when a failure is recorded). Empty recordings
        (``empty`` True) are left out unless ``include_empty``: they have nothing to chart."""
        cond = "" if include_empty else "s.empty = 0"
        if subject_id is not None:
            cond = " AND ".join(c for c in (cond, "s.subject_id = ?") if c)
        return self._select_sessions(f"WHERE {cond}" if cond else "", () if subject_id is None else (subject_id,))

    def empty_sessions(self, subject_id: str | None = None) -> list[dict]:
        """The sessions of recordings without samples (kept, never analysed, not in :meth:`sessions`), so a
        page can say "n empty recordings not shown"."""
        if subject_id is None:
            return self._select_sessions("WHERE s.empty = 1", ())
        return self._select_sessions("WHERE s.empty = 1 AND s.subject_id = ?", (subject_id,))

    def session(self, session_id: int) -> dict | None:
        """One session (empty or not), or None for an unknown id."""
        rows = self._select_sessions("WHERE s.session_id = ?", (int(session_id),))
        return rows[0] if rows else None

    def visits(self, subject_id: str) -> list[dict]:
        """A subject's visits in date order: ``{"session_date", "session_ids"}``, the sessions of one date
        (empty ones included) in recording order. A visit groups sessions; each keeps its own metadata."""
        out: list[dict] = []
        for s in self.sessions(subject_id, include_empty=True):
            if not out or out[-1]["session_date"] != s["session_date"]:
                out.append({"session_date": s["session_date"], "session_ids": []})
            out[-1]["session_ids"].append(s["session_id"])
        return out

    def session_of_file(self, path: Path | str) -> int | None:
        """The session of the recording file at ``path``, or None when it is not catalogued."""
        row = self.db.execute(
            "SELECT session_id FROM recordings WHERE path=?", (self.relpath(path),)).fetchone()
        return int(row[0]) if row else None

    def file_of_session(self, session_id: int) -> Path | None:
        """The recording file of a session (inside the data root), or None for an unknown id."""
        row = self.db.execute("SELECT path FROM recordings WHERE session_id=?", (int(session_id),)).fetchone()
        return self.abspath(row[0]) if row else None

    def recording_path(self, recording_id: int) -> Path | None:
        """The file of a catalogued recording (inside the data root), or None for an unknown id."""
        row = self.db.execute("SELECT path FROM recordings WHERE recording_id=?", (int(recording_id),)).fetchone()
        return self.abspath(row[0]) if row else None

    def session_of_recording(self, recording_id: int) -> int | None:
        row = self.db.execute("SELECT session_id FROM recordings WHERE recording_id=?", (int(recording_id),)).fetchone()
        return int(row[0]) if row else None

    def recording_info(self, recording_id: int) -> dict | None:
        row = self.db.execute("SELECT info_json FROM recordings WHERE recording_id=?", (int(recording_id),)).fetchone()
        return json.loads(row[0]) if row else None

    def analysis(self, recording_id: int) -> dict | None:
        """The latest analysis JSON of a recording with the clinician's corrections applied (what every reader
        shows; ``corrections`` in it lists them), or None."""
        row = self.db.execute(
            "SELECT analysis_json FROM analyses WHERE recording_id=? ORDER BY analysis_id DESC LIMIT 1",
            (int(recording_id),),
        ).fetchone()
        return json.loads(row[0]) if row else None

    def machine_analysis(self, recording_id: int) -> dict | None:
        """analyze's own document behind :meth:`analysis` (the two are one when nothing was corrected), or None."""
        row = self.db.execute(
            "SELECT COALESCE(machine_json, analysis_json) FROM analyses WHERE recording_id=? "
            "ORDER BY analysis_id DESC LIMIT 1", (int(recording_id),)).fetchone()
        return json.loads(row[0]) if row else None

    def analyses_for_subject(self, subject_id: str) -> dict[int, dict]:
        """session_id → current analysis JSON for every analysed session of a subject (for per-rep statistics)."""
        rows = self.db.execute(
            "SELECT x.session_id, an.analysis_json FROM (" + self._SESSION_SQL + "WHERE s.subject_id = ? "
            "AND s.empty = 0) x JOIN analyses an ON an.analysis_id = x.analysis_id",
            (subject_id,),
        ).fetchall()
        return {int(r[0]): json.loads(r[1]) for r in rows}

    # -- editing sessions, audited
    def edit_session(self, session_id: int, *, who: str, phase=UNSET, pain=UNSET, notes=UNSET) -> list[dict]:
        """Correct a session's phase (1–3 or None), pain (0–10 or None) and/or notes after recording.

        Each field that really changes is written with an audit row (who, when in UTC, old and new value,
        :meth:`session_edits`); from then on re-registering or re-analysing the file never undoes it.
        Values are checked first (:class:`InputError`, nothing written); an unknown session is an
        InputError. Returns the changes made: ``[{"field", "old", "new"}]`` (empty when nothing changed)."""
        who = _who(who if who is not None else "")
        wanted = {}
        if phase is not UNSET:
            wanted["phase"] = check_phase(phase)
        if pain is not UNSET:
            wanted["pain"] = check_pain(pain)
        if notes is not UNSET:
            wanted["notes"] = "" if notes is None else str(notes)
        changes = []
        with self._write() as db:
            row = db.execute("SELECT subject_id, phase, pain, notes FROM sessions WHERE session_id=?",
                             (int(session_id),)).fetchone()
            if row is None:
                raise InputError(f"session {session_id}: no such session")
            rec = db.execute("SELECT path, sha256 FROM recordings WHERE session_id=?", (int(session_id),)).fetchone()
            now = self._now()
            for field, new in wanted.items():
                old = row[field]
                if old == new:
                    continue
                db.execute(f"UPDATE sessions SET {field}=? WHERE session_id=?",  # field: one of EDITABLE
                           (new, int(session_id)))
                self._audit(int(session_id), row["subject_id"], field, old, new, who, now)
                self._journal("edit", who, now, path=rec["path"] if rec else None,
                              sha256=rec["sha256"] if rec else None, field=field, new=new)
                changes.append({"field": field, "old": old, "new": new})
        return changes

    # -- a clinician's corrections of an analysis, audited (reengage.corrections)
    def correct(self, session_id: int, kind: str, rep: int, *, who: str | None, channel: str | None = None,
                seconds=None, reason: str = "") -> dict | None:
        """Correct the session's current analysis: ``kind`` one of ``move_onset`` (``channel``, ``seconds``),
        ``delete_onset`` (``channel``), ``exclude_rep``, ``include_rep``, of rep index ``rep`` (0-based).

        The correction is stored with who made it, when (UTC), the old and the new value, and journalled; the
        effective analysis is recomputed at once and stored as the session's current analysis, so every trend,
        report and page reads the corrected numbers. Returns the correction (with its ``correction_id``), or
        None when the value is already so. Bad input, an unknown session or one without analysis: InputError."""
        from reengage.corrections import make_correction

        who = _who(who)
        with self._write():
            recording_id = self._analysed_recording(session_id)
            c = make_correction(self.machine_analysis(recording_id), self.analysis(recording_id), kind, rep,
                                channel=channel, seconds=seconds, reason=reason, who=who)
            if c is None:
                return None
            return self._store_correction(int(session_id), recording_id, c)

    def undo_correction(self, session_id: int, correction_id: int, *, who: str | None, reason: str = "") -> dict:
        """Reverse a correction: a new correction (``undoes`` names the old one) that sets the old value back."""
        from reengage.corrections import inverse

        who = _who(who)
        with self._write():
            recording_id = self._analysed_recording(session_id)
            c = next((x for x in self.corrections(session_id) if x["correction_id"] == int(correction_id)), None)
            if c is None:
                raise InputError(f"session {session_id}: no correction {correction_id}")
            return self._store_correction(int(session_id), recording_id, inverse(c, who=who, reason=reason))

    def _analysed_recording(self, session_id: int) -> int:
        s = self.session(int(session_id))
        if s is None:
            raise InputError(f"session {session_id}: no such session")
        if s["analysis_id"] is None:
            raise InputError(f"session {session_id}: not analysed yet, nothing to correct "
                             "(`reengage analyze --all` first)")
        return int(s["recording_id"])

    def _store_correction(self, session_id: int, recording_id: int | None, c: dict) -> dict:
        now = self._now()
        cur = self.db.execute(
            "INSERT INTO corrections(session_id, kind, rep, channel, anchor, anchor_s, old_value, new_value, reason, "
            "who, created_utc, undoes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (session_id, c["kind"], int(c["rep"]), c["channel"], c["anchor"], float(c["anchor_s"]), _json(c["old"]),
             _json(c["new"]), c["reason"], c["who"], now, c["undoes"]),
        )
        ids = [x["correction_id"] for x in self.corrections(session_id)]
        rec = self.db.execute("SELECT path, sha256 FROM recordings WHERE session_id=?", (session_id,)).fetchone()
        # A session's correction is named in the journal by its position, since ids do not survive a rebuild.
        undoes = ids.index(c["undoes"]) if c["undoes"] in ids else None
        self._journal("correct", c["who"], now, path=rec["path"] if rec else None,
                      sha256=rec["sha256"] if rec else None, undoes=undoes,
                      **{k: c[k] for k in ("kind", "rep", "channel", "anchor", "anchor_s", "old", "new", "reason")})
        if recording_id is not None:
            self._reapply(recording_id)
        return {**c, "correction_id": int(cur.lastrowid), "when_utc": now}

    def replay_correction(self, session_id: int, entry: dict) -> None:
        """Store a journalled correction again (a rebuilt catalog): as it was, without an analysis to check it
        against (the next ``analyze --all`` applies it, matched by time)."""
        from reengage.corrections import KINDS

        if entry.get("kind") not in KINDS or entry.get("anchor") not in ("onset", "start"):
            raise InputError(f"journalled correction {entry.get('kind')!r}: not understood")
        ids = [x["correction_id"] for x in self.corrections(session_id)]
        k = entry.get("undoes")
        c = {key: entry.get(key) for key in ("kind", "rep", "channel", "anchor", "anchor_s", "old", "new")}
        c.update(reason=str(entry.get("reason") or ""), who=_who(entry.get("who") or "unknown"),
                 undoes=ids[k] if isinstance(k, int) and 0 <= k < len(ids) else None)
        with self._write():
            s = self.session(int(session_id))
            self._store_correction(int(session_id), s["recording_id"] if s and s["analysis_id"] else None, c)

    def _reapply(self, recording_id: int) -> None:
        """Recompute the effective analysis of the recording's latest analysis from analyze's own document and
        every correction of its session, and store it (with its summary columns) as the current analysis."""
        from reengage.corrections import apply_corrections

        row = self.db.execute(
            "SELECT analysis_id, COALESCE(machine_json, analysis_json) AS machine FROM analyses WHERE recording_id=? "
            "ORDER BY analysis_id DESC LIMIT 1", (recording_id,)).fetchone()
        if row is None:
            return
        machine = json.loads(row["machine"])
        effective, _ = apply_corrections(machine, self.corrections(self.session_of_recording(recording_id)))
        self.db.execute(
            "UPDATE analyses SET analysis_json=?, machine_json=?, reps=?, glute_first_fraction=?, "
            "median_onset_latency_ms=?, median_glute_hamstring_ratio=? WHERE analysis_id=?",
            (json.dumps(effective, separators=(",", ":"), allow_nan=False),
             None if effective is machine else row["machine"], *_summary_values(effective), row["analysis_id"]),
        )

    def corrections(self, session_id: int) -> list[dict]:
        """A session's corrections, oldest first: ``{"correction_id", "kind", "rep", "channel", "anchor",
        "anchor_s", "old", "new", "reason", "who", "when_utc", "undoes"}`` (``rep`` the index when made)."""
        rows = self.db.execute("SELECT * FROM corrections WHERE session_id=? ORDER BY correction_id",
                               (int(session_id),)).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["old"] = None if d.pop("old_value") is None else json.loads(r["old_value"])
            d["new"] = None if d.pop("new_value") is None else json.loads(r["new_value"])
            d["when_utc"] = d.pop("created_utc")
            d.pop("session_id")
            out.append(d)
        return out

    def unmatched_corrections(self, session_id: int) -> list[dict]:
        """The session's corrections that no rep of its current analysis matches (kept, not applied), as stored
        in that analysis when it was computed."""
        s = self.session(int(session_id))
        a = self.analysis(s["recording_id"]) if s and s["analysis_id"] is not None else None
        return list((a or {}).get("unmatched_corrections") or [])

    def _audit(self, session_id: int | None, subject_id: str, field: str, old, new, who: str, now: str) -> None:
        self.db.execute(
            "INSERT INTO edits(session_id, subject_id, field, old_value, new_value, who, edited_utc) "
            "VALUES (?,?,?,?,?,?,?)",
            (session_id, subject_id, field, _json(old), _json(new), who, now),
        )

    @staticmethod
    def _edit_row(r: sqlite3.Row) -> dict:
        d = dict(r)
        d["old"] = None if d.pop("old_value") is None else json.loads(r["old_value"])
        d["new"] = None if d.pop("new_value") is None else json.loads(r["new_value"])
        return d

    def session_edits(self, session_id: int) -> list[dict]:
        """A session's audit trail, oldest first: ``{"edit_id", "session_id", "subject_id", "field", "old",
        "new", "who", "edited_utc"}`` (``field`` is phase, pain, notes, or subject_id for a rename/merge)."""
        rows = self.db.execute("SELECT * FROM edits WHERE session_id=? ORDER BY edit_id", (int(session_id),))
        return [self._edit_row(r) for r in rows]

    def patient_edits(self, subject_id: str) -> list[dict]:
        """A patient's own audit trail (added, registered, renamed, merged), oldest first, same shape as
        :meth:`session_edits` with ``session_id`` None."""
        rows = self.db.execute("SELECT * FROM edits WHERE session_id IS NULL AND subject_id=? ORDER BY edit_id",
                               (subject_id,))
        return [self._edit_row(r) for r in rows]

    # -- the patient register
    def has_patient(self, subject_id: str, *, registered_only: bool = False) -> bool:
        """Whether the id is in the register (``registered_only``: added by a person, not only brought in by
        a recording)."""
        row = self.db.execute("SELECT registered FROM patients WHERE subject_id=?", (str(subject_id),)).fetchone()
        return row is not None and (bool(row[0]) or not registered_only)

    def patients(self) -> list[dict]:
        """The register in id order: ``{"subject_id", "display_name", "note", "registered", "created_utc",
        "sessions", "empty_sessions", "first_date", "last_date"}`` (``registered`` False: created by a
        recording of an id nobody added; the counts and dates are over non-empty sessions)."""
        rows = self.db.execute(
            "SELECT p.subject_id, p.display_name, p.note, p.registered, p.created_utc, "
            "COALESCE(SUM(s.empty = 0), 0) AS sessions, COALESCE(SUM(s.empty = 1), 0) AS empty_sessions, "
            "MIN(CASE WHEN s.empty = 0 THEN s.session_date END) AS first_date, "
            "MAX(CASE WHEN s.empty = 0 THEN s.session_date END) AS last_date "
            "FROM patients p LEFT JOIN sessions s ON s.subject_id = p.subject_id "
            "GROUP BY p.subject_id ORDER BY p.subject_id"
        ).fetchall()
        return [{**dict(r), "registered": bool(r["registered"])} for r in rows]

    def patient(self, subject_id: str) -> dict | None:
        """One row of :meth:`patients`, or None."""
        return next((p for p in self.patients() if p["subject_id"] == subject_id), None)

    def add_patient(self, subject_id: str, *, display_name: str | None = None, note: str | None = None,
                    who: str | None = None) -> dict:
        """Add a patient id to the register (audited). An id a recording already brought in becomes
        registered (its sessions stay); an id already registered is an :class:`InputError`. ``display_name``
        is a label the clinic chooses, stored as given: keep it pseudonymous. Returns the patient row."""
        sid = check_subject_id(subject_id)
        who = _who(who)
        with self._write() as db:
            row = db.execute("SELECT registered FROM patients WHERE subject_id=?", (sid,)).fetchone()
            if row is not None and row[0]:
                raise InputError(f"patient {sid}: already registered")
            now = self._now()
            if row is None:
                db.execute("INSERT INTO patients(subject_id, display_name, note, registered, created_utc) "
                           "VALUES (?,?,?,1,?)", (sid, display_name, note, now))
                self._audit(None, sid, "added", None, sid, who, now)
            else:
                db.execute("UPDATE patients SET registered=1, display_name=?, note=? WHERE subject_id=?",
                           (display_name, note, sid))
                self._audit(None, sid, "registered", False, True, who, now)
            self._journal("add_patient", who, now, subject_id=sid, display_name=display_name, note=note)
        return self.patient(sid)

    def _require_patient(self, subject_id: str) -> sqlite3.Row:
        row = self.db.execute("SELECT * FROM patients WHERE subject_id=?", (subject_id,)).fetchone()
        if row is None:
            near = self.closest_patients(subject_id)
            hint = f" (did you mean {', '.join(near)}?)" if near else ""
            raise InputError(f"patient {subject_id}: not in the register{hint}")
        return row

    def _move_sessions(self, from_id: str, into_id: str, who: str, now: str) -> int:
        ids = [r[0] for r in self.db.execute("SELECT session_id FROM sessions WHERE subject_id=?", (from_id,))]
        for session_id in ids:
            self.db.execute("UPDATE sessions SET subject_id=? WHERE session_id=?", (into_id, session_id))
            self._audit(session_id, into_id, "subject_id", from_id, into_id, who, now)
        # The patient's own history follows it; the old id stays in each row's old value.
        self.db.execute("UPDATE edits SET subject_id=? WHERE session_id IS NULL AND subject_id=?", (into_id, from_id))
        self.db.execute("UPDATE prescriptions SET subject_id=? WHERE subject_id=?", (into_id, from_id))
        return len(ids)

    def rename_patient(self, old: str, new: str, *, who: str | None = None) -> int:
        """Give a patient a new id: the register entry and every session follow, each move audited; re-analysis
        never moves them back. ``new`` must not exist yet (two ids of one person: :meth:`merge_patients`).
        Returns the number of sessions moved."""
        new = check_subject_id(new)
        who = _who(who)
        with self._write() as db:
            row = self._require_patient(old)
            if new == old:
                return 0
            if self.has_patient(new):
                raise InputError(f"patient {new}: already exists; merge {old} into {new} instead of renaming")
            now = self._now()
            db.execute("INSERT INTO patients(subject_id, display_name, note, registered, created_utc) "
                       "VALUES (?,?,?,?,?)", (new, row["display_name"], row["note"], row["registered"],
                                              row["created_utc"]))
            moved = self._move_sessions(old, new, who, now)
            db.execute("DELETE FROM patients WHERE subject_id=?", (old,))
            self._audit(None, new, "subject_id", old, new, who, now)
            self._journal("rename", who, now, old=old, new=new)
        return moved

    def merge_patients(self, from_id: str, into_id: str, *, who: str | None = None) -> int:
        """Put every session of ``from_id`` under ``into_id`` (two ids of one person, e.g. a typo) and remove
        ``from_id`` from the register; each move and the merge are audited. ``into_id`` keeps its label and
        note (taking ``from_id``'s where it has none) and is registered if either was. Returns the number of
        sessions moved."""
        who = _who(who)
        with self._write() as db:
            src = self._require_patient(from_id)
            dst = self._require_patient(into_id)
            if from_id == into_id:
                raise InputError(f"patient {from_id}: cannot be merged into itself")
            now = self._now()
            moved = self._move_sessions(from_id, into_id, who, now)
            db.execute(
                "UPDATE patients SET display_name=?, note=?, registered=? WHERE subject_id=?",
                (dst["display_name"] or src["display_name"], dst["note"] or src["note"],
                 max(dst["registered"], src["registered"]), into_id),
            )
            db.execute("DELETE FROM patients WHERE subject_id=?", (from_id,))
            self._audit(None, into_id, "merged", from_id, into_id, who, now)
            self._journal("merge", who, now, **{"from": from_id, "into": into_id})
        return moved

    def closest_patients(self, subject_id: str, n: int = 3) -> list[str]:
        """Up to ``n`` known ids that look like ``subject_id`` (difflib, case-insensitive), best first,
        registered ones before those only recordings brought in; never ``subject_id`` itself."""
        want = str(subject_id).lower()
        rows = self.db.execute("SELECT subject_id, registered FROM patients WHERE subject_id != ?",
                               (str(subject_id),)).fetchall()
        scored = []
        for sid, registered in rows:
            m = difflib.SequenceMatcher(None, want, sid.lower())
            if m.real_quick_ratio() >= 0.6 and m.quick_ratio() >= 0.6 and (ratio := m.ratio()) >= 0.6:
                scored.append((not registered, -ratio, sid))
        return [sid for *_, sid in sorted(scored)[:max(n, 0)]]

    def unknown_subject_warning(self, subject_id: str) -> str | None:
        """The one line to show before recording or importing for ``subject_id``, or None when the id is
        registered: the CLI and the dashboard warn in the same words (the recording is still catalogued)."""
        if self.has_patient(subject_id, registered_only=True):
            return None
        near = self.closest_patients(subject_id)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        return (f"subject {subject_id} is not in the patient register{hint} "
                f"(`reengage patients add {subject_id}` registers it)")
