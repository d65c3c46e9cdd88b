"""``reengage import``: a recording made elsewhere (CSV, EDF+/BDF+, another data root's ``.rgr``) becomes a
session of a subject in this data root, stored, catalogued and analysed like a recorded one.

The file is stored as the project's own ``.rgr`` under ``<root>/<subject>/``, written by the same recorder
sink a board's samples go through (fed by :func:`reengage.replay.replay`, as ``replay --out`` does): the
subject, exercise, date and clinical context then travel inside the file, so the catalog reads them from it
like from any recording, and ``analyze --all`` finds nothing different about an imported session. The
original file is left where it was.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from rich.console import Console

from reengage.errors import InputError


def _date(given: str | None, meta: dict, console: Console) -> str:
    date = given or meta.get("session_date")
    if date is None:
        date = dt.date.today().isoformat()
        console.print(f"no recording date in the file: filed under today ({date}); give --date to correct it",
                      markup=False, highlight=False, soft_wrap=True)
    try:
        return dt.date.fromisoformat(str(date)).isoformat()
    except ValueError:
        raise InputError(f"--date {date!r}: expected YYYY-MM-DD") from None


def _started(date: str, meta: dict) -> dt.datetime:
    """The session's start for the file name: the file's own clock time on that date when it has one."""
    try:
        started = dt.datetime.strptime(str(meta.get("started_utc")), "%Y-%m-%dT%H:%M:%SZ")
        if started.date().isoformat() == date:
            return started
    except ValueError:
        pass
    return dt.datetime.combine(dt.date.fromisoformat(date), dt.time())


def session_meta(meta: dict, *, subject: str, task: str, date: str, phase: int | None, pain: float | None,
                 notes: str, source: Path, mvc: dict[str, float] | None) -> dict:
    """The stored file's metadata: the source's own, overridden by what the command line says."""
    out = {k: v for k, v in meta.items() if k not in ("phase", "pain", "notes")}
    out.update(subject=subject, task=task, session_date=date, notes=notes, imported_from=str(source),
               imported_utc=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    if phase is not None:
        out["phase"] = phase
    if pain is not None:
        out["pain"] = pain
    if mvc:
        out["mvc"] = dict(mvc)  # the references the stored analysis was normalised with
    return out


def store(rec, target: Path, meta: dict) -> Path:
    """Write ``rec`` to ``target`` (.rgr) through the recorder sink, with ``meta``; returns the path."""
    from reengage.acquisition.recorder import Recorder
    from reengage.replay import replay

    target.parent.mkdir(parents=True, exist_ok=True)
    recorder = Recorder.for_recording(target, rec, meta)
    replay(rec, [recorder], speed=None)
    return recorder.path


def check_outside(root: Path, source: Path) -> None:
    src, root = source.resolve(), root.resolve()
    if src.suffix.lower() == ".rgr" and root in src.parents:
        raise InputError(f"{source}: already in the data root {root}; `reengage session edit` corrects its session")


def import_recording(source: Path, root: Path, *, subject: str, task: str, date: str | None = None,
                     phase: int | None = None, pain: float | None = None, notes: str = "",
                     mvc: dict[str, float] | None = None, channel_map: dict[str, str] | None = None,
                     console: Console | None = None) -> Path:
    """Store ``source`` in ``root`` as a session of ``subject``, catalogue and analyse it; returns the stored
    path. Bad input (unreadable file, bad id or date, an empty recording) raises :class:`InputError` before
    anything is written."""
    from reengage.acquisition.recorder import recording_path, safe_component
    from reengage.io import load_recording

    console = console or Console(stderr=True)
    safe_component(subject, "--subject")
    safe_component(task, "--task")
    source, root = Path(source), Path(root)
    check_outside(root, source)
    rec = load_recording(source, channel_map or None)
    if rec.emg.n_samples == 0:
        raise InputError(f"{source}: no samples: nothing to import")
    date = _date(date, rec.meta, console)
    meta = session_meta(rec.meta, subject=subject, task=task, date=date, phase=phase, pain=pain, notes=notes,
                        source=source.resolve(), mvc=mvc)
    path = store(rec, recording_path(root, subject, task, _started(date, rec.meta)), meta)
    console.print(f"imported {source} → {path}", markup=False, highlight=False, soft_wrap=True)
    return path
