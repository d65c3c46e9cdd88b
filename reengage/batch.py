"""``reengage analyze --all``: re-analyse every recording in the data root that changed; and the one path from a
recording file to its catalog entry (:func:`analyse_file`), which ``record`` and the demo use too.

- What changed is the catalog's call (``Catalog.needs_analysis``: new file, new content, or analysed by another
  reengage version); unchanged recordings cost one ``stat``.
- The analyses run in parallel in a ``ProcessPoolExecutor`` over the cores (the DSP is CPU-bound numpy/scipy
  and holds the GIL in places); only the parent process writes the catalog.
- Safe to interrupt: each result is committed in its own transaction as soon as it arrives, so Ctrl-C keeps
  everything finished; workers ignore SIGINT so the parent decides, and pending work is cancelled.
"""

from __future__ import annotations

import os
import signal
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from reengage.catalog import Catalog
from reengage.errors import InputError, ReengageError

PATTERNS = ("*.rgr", "*.edf", "*.bdf")
SKIP_DIRS = {"exports", "bids", "derivatives"}  # interchange copies of recordings already catalogued


@dataclass
class BatchResult:
    analysed: list[str] = field(default_factory=list)
    unchanged: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False


def find_recordings(root: Path) -> list[Path]:
    out = []
    for pattern in PATTERNS:
        for p in root.rglob(pattern):
            rel = p.relative_to(root).parts
            if not any(part in SKIP_DIRS or part.startswith(".") for part in rel[:-1]):
                out.append(p)
    return sorted(out)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@dataclass
class FileAnalysis:
    """What :func:`analyse_file` made of one recording; picklable, so it comes back from a worker process."""

    path: str
    info: dict | None = None  # None: the file could not be read
    analysis: dict | None = None  # None: unreadable, empty (when asked to skip those) or the analysis failed
    error: str | None = None  # one line: why ``analysis`` is None

    @property
    def empty(self) -> bool:
        return self.info is not None and self.info["samples"] == 0


def _first_line(e: Exception) -> str:
    return str(e).splitlines()[0] if str(e) else type(e).__name__


def analyse_file(path: Path | str, *, threads: int | None = None, analyse_empty: bool = True) -> FileAnalysis:
    """Read one recording and analyse it: the single path from a file to its catalog entry that
    ``analyze --all``, ``record`` and the demo share. A user-caused failure (:class:`ReengageError`) comes
    back as ``error``; anything else is a bug and raises."""
    from reengage.analysis import analyze
    from reengage.io import load_recording

    result = FileAnalysis(str(path))
    try:
        rec = load_recording(path)
        result.info = rec.info()
        if result.empty and not analyse_empty:
            result.error = "0 samples"
            return result
        result.analysis = analyze(rec, threads=threads)
    except ReengageError as e:
        result.error = _first_line(e)
    return result


def _analyse_in_worker(path: str) -> FileAnalysis:
    # The pool already runs one recording per core: channels one after another inside each.
    return analyse_file(path, threads=1)


def register_file(cat: Catalog, path: Path, *, console: Console) -> FileAnalysis:
    """``record``'s last step: analyse a new recording and register it with its analysis, as ``analyze --all``
    would. A failed analysis still registers the recording (analysis null) so the session is listed; a
    recording without samples is kept but neither analysed nor catalogued. Each outcome is one line."""
    result = analyse_file(path, analyse_empty=False)
    if result.info is None:
        _say(console, f"not catalogued: {result.error}", "yellow")
    elif result.empty:
        _say(console, f"0 samples recorded: {path} is kept but not analysed or catalogued", "yellow")
    else:
        if result.analysis is None:
            _say(console, f"analysis failed ({result.error}); catalogued without an analysis", "yellow")
        cat.register(path, result.info, result.analysis)
        if result.analysis is not None:
            reps = result.analysis["summary"]["reps"]
            _say(console, f"analysed ({reps} reps) and catalogued in {cat.path}")
    return result


def catalog_recording(root: Path, path: Path, *, console: Console) -> FileAnalysis | None:
    """:func:`register_file` in the catalog of ``root``. A catalog that cannot be written costs the session
    its catalog entry, never the recording: a warning, and ``analyze --all`` catches up later."""
    try:
        with Catalog(root) as cat:
            return register_file(cat, path, console=console)
    except ReengageError as e:
        _say(console, f"not catalogued ({_first_line(e)}); `reengage analyze --all` will pick it up", "yellow")
        return None


def _say(console: Console, msg: str, style: str | None = None) -> None:
    # One line however long: a file's name or an error is not markup, and a pipe's 80 columns must not wrap it.
    console.print(msg, style=style, markup=False, highlight=False, soft_wrap=True)


def analyze_all(root: Path, *, console: Console | None = None, workers: int | None = None) -> BatchResult:
    console = console or Console(stderr=True)
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: no such data directory")
    result = BatchResult()
    with Catalog(root) as cat:
        todo = []
        for p in find_recordings(root):
            if cat.needs_analysis(p):
                todo.append(p)
            else:
                result.unchanged += 1
        if not todo:
            console.print(f"{result.unchanged} recordings, all analyses up to date")
            return result
        import reengage.analysis  # noqa: F401  (imported once here; forked workers inherit it)

        workers = workers or min(len(todo), os.cpu_count() or 1)
        console.print(f"analysing {len(todo)} of {len(todo) + result.unchanged} recordings on {workers} processes")
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=False) as progress:
            bar = progress.add_task("analyse", total=len(todo))
            pool = ProcessPoolExecutor(max_workers=workers, initializer=_ignore_sigint)
            pending: set[Future] = set()
            try:
                pending = {pool.submit(_analyse_in_worker, str(p)) for p in todo}
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        one = fut.result()
                        rel = os.path.relpath(one.path, root)
                        if one.analysis is None:
                            result.failed[rel] = one.error
                            progress.console.print(f"[yellow]{one.error}[/yellow]")
                        else:
                            cat.register(one.path, one.info, one.analysis)  # one transaction per recording
                            result.analysed.append(rel)
                        progress.advance(bar)
            except KeyboardInterrupt:
                result.interrupted = True
                for fut in pending:
                    fut.cancel()
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
    msg = f"{len(result.analysed)} analysed, {result.unchanged} unchanged, {len(result.failed)} failed"
    if result.interrupted:
        console.print(f"interrupted: {msg}; finished analyses are saved, run again to continue")
        raise KeyboardInterrupt
    console.print(msg)
    return result
