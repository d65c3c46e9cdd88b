"""The session catalog: one SQLite file per data root (``<data_root>/catalog.sqlite``).

What it holds and why:

- ``subjects``: pseudonymous ids only (``P001``); no names, no birth dates.
- ``sessions``: one per (subject, session date, exercise), with the clinical context a clinician enters:
  rehab phase 1/2/3, pain 0–10, notes. Recording the same exercise twice on one day adds a second
  recording to the same session; the session's numbers come from its most recently analysed recording.
- ``recordings``: the file's path *relative to the data root* (so a data root can be moved or copied),
  its size, mtime and SHA-256 (change detection), and the ``info`` JSON (``reengage info --json``).
- ``analyses``: the ``analyze`` JSON (``../shared/contracts/analysis.md``) with the software version
  that produced it and the SHA-256 of the file it was computed from, so a changed file or a new
  software version is re-analysed and an old analysis is never shown as current.

The schema is versioned with ``PRAGMA user_version`` and an ordered list of migrations
(:data:`MIGRATIONS`); opening an older file upgrades it in one transaction. Every query is
parameterised: no user text is ever formatted into SQL.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import sqlite3
from collections.abc import Callable
from pathlib import Path

from reengage import __version__
from reengage.errors import CatalogError, InputError

CATALOG_NAME = "catalog.sqlite"


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


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_m1_initial, _m2_summary_columns]
"""Ordered schema migrations; the file's ``user_version`` is how many have been applied. Append only."""

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply the migrations from the file's version up to ``target`` in one transaction; returns the
    version the file had before."""
    (current,) = db.execute("PRAGMA user_version").fetchone()
    if current > SCHEMA_VERSION:
        raise CatalogError(
            f"catalog schema version {current} is newer than this reengage understands ({SCHEMA_VERSION}); "
            "upgrade reengage"
        )
    if current >= target:
        return current
    db.execute("BEGIN IMMEDIATE")
    try:
        for step in MIGRATIONS[current:target]:
            step(db)
        db.execute(f"PRAGMA user_version = {int(target)}")  # PRAGMA takes no parameters; int() is ours
        db.execute("COMMIT")
    except BaseException:
        _rollback(db)
        raise
    return current


def _rollback(db: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open: a Ctrl-C can land just after COMMIT took effect, and
    a ROLLBACK then would raise over the KeyboardInterrupt that the caller must see."""
    if db.in_transaction:
        db.execute("ROLLBACK")


# ------------------------------------------------------------------------------------------- helpers

def _finite(x) -> float | None:
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
        _finite(s.get("glute_first_fraction")),
        _finite(s.get("median_onset_latency_ms")),
        _finite(s.get("median_glute_hamstring_ratio")),
    )


def _utcnow() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _session_fields(info: dict, path: Path, mtime_ns: int) -> dict:
    """Subject, date, exercise and clinical context from a recording's ``info['meta']``."""
    meta = info.get("meta") or {}
    subject = str(meta.get("subject") or "").strip() or "unknown"
    task = str(meta.get("task") or "").strip() or "unspecified"
    date = meta.get("session_date") or meta.get("created_utc")
    try:
        session_date = _dt.date.fromisoformat(str(date)[:10]).isoformat()
    except ValueError:
        session_date = _dt.datetime.fromtimestamp(mtime_ns / 1e9, _dt.timezone.utc).date().isoformat()
    phase = meta.get("phase")
    try:
        phase = int(phase) if phase is not None else None
    except (TypeError, ValueError):
        phase = None
    if phase not in (1, 2, 3):
        phase = None
    pain = _finite(meta.get("pain"))
    if pain is not None and not 0 <= pain <= 10:
        pain = None
    return {
        "subject_id": subject,
        "task": task,
        "session_date": session_date,
        "phase": phase,
        "pain": pain,
        "notes": str(meta.get("notes") or ""),
    }


# ------------------------------------------------------------------------------------------- catalog

class Catalog:
    """The SQLite catalog of a data root. Use as a context manager; one instance per thread.

    >>> with Catalog(Path("recordings")) as cat:          # doctest: +SKIP
    ...     cat.register(path, rec.info(), analyze(rec))
    """

    def __init__(self, data_root: Path | str, *, readonly: bool = False) -> None:
        self.data_root = Path(data_root).resolve()
        self.path = self.data_root / CATALOG_NAME
        if readonly:
            if not self.path.exists():
                raise CatalogError(f"{self.path}: no catalog here; run `reengage analyze --all` first")
            uri = self.path.as_uri() + "?mode=ro"
            self.db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        else:
            self.data_root.mkdir(parents=True, exist_ok=True)
            try:
                self.db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
            except sqlite3.Error as e:
                raise CatalogError(f"{self.path}: cannot open the catalog ({e})") from None
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA foreign_keys = ON")
        if readonly:
            (v,) = self.db.execute("PRAGMA user_version").fetchone()
            if v != SCHEMA_VERSION:
                raise CatalogError(
                    f"{self.path}: catalog schema version {v}, this reengage needs {SCHEMA_VERSION}; "
                    "open it once with `reengage analyze --all` to migrate it"
                )
        else:
            self.db.execute("PRAGMA journal_mode = WAL")  # readers (the dashboard) never block the writer
            migrate(self.db)

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

    # -- writing
    def register(self, path: Path | str, info: dict, analysis: dict | None = None) -> int:
        """Add or update a recording (upsert by path) and its session; store ``analysis`` when given.
        Returns the recording id."""
        rel = self.relpath(path)
        f = self.abspath(rel)
        try:
            st = f.stat()
        except FileNotFoundError:
            raise InputError(f"{path}: no such file") from None
        sha = file_sha256(f)
        s = _session_fields(info, f, st.st_mtime_ns)
        info_text = json.dumps(info, separators=(",", ":"), allow_nan=False, default=str)
        now = _utcnow()
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT INTO subjects(subject_id, created_utc) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (s["subject_id"], now),
            )
            db.execute(
                "INSERT INTO sessions(subject_id, session_date, task, phase, pain, notes) VALUES (?,?,?,?,?,?) "
                "ON CONFLICT(subject_id, session_date, task) DO UPDATE SET "
                "phase=COALESCE(excluded.phase, phase), pain=COALESCE(excluded.pain, pain), "
                "notes=CASE WHEN excluded.notes != '' THEN excluded.notes ELSE notes END",
                (s["subject_id"], s["session_date"], s["task"], s["phase"], s["pain"], s["notes"]),
            )
            (session_id,) = db.execute(
                "SELECT session_id FROM sessions WHERE subject_id=? AND session_date=? AND task=?",
                (s["subject_id"], s["session_date"], s["task"]),
            ).fetchone()
            db.execute(
                "INSERT INTO recordings(session_id, path, size_bytes, mtime_ns, sha256, info_json, registered_utc) "
                "VALUES (?,?,?,?,?,?,?) ON CONFLICT(path) DO UPDATE SET session_id=excluded.session_id, "
                "size_bytes=excluded.size_bytes, mtime_ns=excluded.mtime_ns, sha256=excluded.sha256, "
                "info_json=excluded.info_json",
                (session_id, rel, st.st_size, st.st_mtime_ns, sha, info_text, now),
            )
            (recording_id,) = db.execute("SELECT recording_id FROM recordings WHERE path=?", (rel,)).fetchone()
            if analysis is not None:
                self._add_analysis(recording_id, sha, analysis, now)
            # A recording whose date or exercise was corrected leaves its old session empty.
            db.execute("DELETE FROM sessions WHERE session_id NOT IN (SELECT session_id FROM recordings)")
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
        return int(recording_id)

    def _add_analysis(self, recording_id: int, sha: str, analysis: dict, now: str) -> None:
        text = json.dumps(analysis, separators=(",", ":"), allow_nan=False)  # the contract: never NaN
        self.db.execute(
            "INSERT INTO analyses(recording_id, software_version, recording_sha256, analysis_json, created_utc, "
            "reps, glute_first_fraction, median_onset_latency_ms, median_glute_hamstring_ratio) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            (recording_id, __version__, sha, text, now, *_summary_values(analysis)),
        )

    def needs_analysis(self, path: Path | str) -> bool:
        """True when the file is not catalogued, has never been analysed, changed since its latest
        analysis (size/mtime first, then SHA-256 to ignore a mere ``touch``), or was analysed by another
        reengage version."""
        rel = self.relpath(path)
        row = self.db.execute(
            "SELECT r.recording_id, r.size_bytes, r.mtime_ns, r.sha256, a.recording_sha256, a.software_version "
            "FROM recordings r LEFT JOIN analyses a ON a.analysis_id = "
            "(SELECT MAX(analysis_id) FROM analyses WHERE recording_id = r.recording_id) WHERE r.path = ?",
            (rel,),
        ).fetchone()
        if row is None or row["recording_sha256"] is None:
            return True
        if row["software_version"] != __version__:
            return True
        f = self.abspath(rel)
        try:
            st = f.stat()
        except FileNotFoundError:
            return True
        if st.st_size == row["size_bytes"] and st.st_mtime_ns == row["mtime_ns"]:
            current = row["sha256"]
        else:
            current = file_sha256(f)
        return current != row["recording_sha256"]

    # -- reading (the dashboard's data module is the only other caller)
    _SESSION_SQL = (
        "SELECT s.session_id, s.subject_id, s.session_date, s.task, s.phase, s.pain, s.notes, "
        "r.recording_id, r.path, a.analysis_id, a.reps, a.glute_first_fraction, a.median_onset_latency_ms, "
        "a.median_glute_hamstring_ratio, a.software_version, a.created_utc AS analysed_utc "
        "FROM sessions s "
        "JOIN recordings r ON r.recording_id = ("
        "  SELECT r2.recording_id FROM recordings r2 LEFT JOIN analyses a2 ON a2.recording_id = r2.recording_id "
        "  WHERE r2.session_id = s.session_id ORDER BY a2.analysis_id IS NULL, a2.analysis_id DESC, "
        "  r2.recording_id DESC LIMIT 1) "
        "LEFT JOIN analyses a ON a.analysis_id = "
        "  (SELECT MAX(analysis_id) FROM analyses WHERE recording_id = r.recording_id) "
    )

    def subjects(self) -> list[dict]:
        """Every subject with their session count and first/last session dates."""
        rows = self.db.execute(
            "SELECT sub.subject_id, COUNT(s.session_id) AS sessions, MIN(s.session_date) AS first_date, "
            "MAX(s.session_date) AS last_date FROM subjects sub "
            "JOIN sessions s ON s.subject_id = sub.subject_id GROUP BY sub.subject_id ORDER BY sub.subject_id"
        ).fetchall()
        return [dict(r) for r in rows]

    def sessions(self, subject_id: str | None = None) -> list[dict]:
        """Sessions in date order with the summary of their current analysis (None where not analysed)."""
        if subject_id is None:
            rows = self.db.execute(self._SESSION_SQL + "ORDER BY s.subject_id, s.session_date, s.task").fetchall()
        else:
            rows = self.db.execute(
                self._SESSION_SQL + "WHERE s.subject_id = ? ORDER BY s.session_date, s.task", (subject_id,)
            ).fetchall()
        return [dict(r) for r in rows]

    def session(self, session_id: int) -> dict | None:
        row = self.db.execute(self._SESSION_SQL + "WHERE s.session_id = ?", (int(session_id),)).fetchone()
        return dict(row) if row else None

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
        """The latest analysis JSON of a recording, or None."""
        row = self.db.execute(
            "SELECT analysis_json FROM analyses WHERE recording_id=? ORDER BY analysis_id DESC LIMIT 1",
            (int(recording_id),),
        ).fetchone()
        return json.loads(row[0]) if row else None

    def analyses_for_subject(self, subject_id: str) -> dict[int, dict]:
        """session_id → current analysis JSON for every analysed session of a subject (for per-rep statistics)."""
        rows = self.db.execute(
            "SELECT x.session_id, an.analysis_json FROM (" + self._SESSION_SQL + "WHERE s.subject_id = ?) x "
            "JOIN analyses an ON an.analysis_id = x.analysis_id",
            (subject_id,),
        ).fetchall()
        return {int(r[0]): json.loads(r[1]) for r in rows}

