"""``reengage analyze --all``: re-analyse every recording in the data root that changed.

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

from reengage.errors import ReengageError

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


def _analyse_one(path: str) -> tuple[str, dict | None, dict | None, str | None]:
    """In a worker: (path, info, analysis, error line)."""
    from reengage.analysis import analyze
    from reengage.io import load_recording

    try:
        rec = load_recording(path)
        info = rec.info()
        # The pool already runs one recording per core: channels one after another inside each.
        return path, info, analyze(rec, threads=1), None
    except ReengageError as e:
        return path, None, None, str(e).splitlines()[0]


def analyze_all(root: Path, *, console: Console | None = None, workers: int | None = None) -> BatchResult:
    from reengage.catalog import Catalog

    console = console or Console(stderr=True)
    root = Path(root)
    if not root.is_dir():
        from reengage.errors import InputError

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
                pending = {pool.submit(_analyse_one, str(p)) for p in todo}
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        path, info, analysis, error = fut.result()
                        rel = os.path.relpath(path, root)
                        if error is not None:
                            result.failed[rel] = error
                            progress.console.print(f"[yellow]{error}[/yellow]")
                        else:
                            cat.register(path, info, analysis)  # one transaction per recording
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
