"""``reengage analyze --all``: catalog and analyse every recording in the data root that changed; and the one path
from a recording file to its catalog entry (:func:`register_file`), which ``record``, ``import``, ``replay --out``
and the demo use too.

- What changed is the catalog's call (``Catalog.needs_analysis``: new file, new content, or analysed by another
  reengage version); unchanged recordings cost one ``stat``.
- Every file is its own session; a file without samples is catalogued as an *empty* session (never analysed);
  a file that cannot be read or analysed is recorded in the catalog with its error, reported by name on every
  run, and tried again only when it (or reengage) changes. One file's failure, whatever its kind, never stops
  the others: :attr:`BatchResult.exit_code` tells the command line to exit non-zero with the list.
- The analyses run in parallel in a ``ProcessPoolExecutor`` over the cores (the DSP is CPU-bound numpy/scipy
  and holds the GIL in places); only the parent process writes the catalog.
- Safe to interrupt: each result is committed in its own transaction as soon as it arrives, so Ctrl-C keeps
  everything finished; workers ignore SIGINT so the parent decides, and pending work is cancelled. A parent
  killed outright (SIGKILL) takes its workers with it (``PR_SET_PDEATHSIG`` and a watch on the parent).
- One run per data root at a time (``flock`` on ``.analyze.lock``): a second run waits, says so, and then
  finds the first one's work done.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from reengage.catalog import Catalog
from reengage.errors import CatalogError, InputError, ReengageError

SUFFIXES = (".rgr", ".edf", ".bdf", ".csv")
SKIP_DIRS = {"exports", "bids", "derivatives"}  # interchange copies of recordings already catalogued
SIDECARS = (".events.csv",)  # beside a CSV recording (its events), not a recording of its own
OUTSIDE = "a symlink leading outside the data root"


@dataclass
class BatchResult:
    """What ``analyze --all`` did; names are paths relative to the data root."""

    analysed: list[str] = field(default_factory=list)
    unchanged: int = 0
    empty: list[str] = field(default_factory=list)  # newly catalogued recordings without samples
    failed: dict[str, str] = field(default_factory=dict)  # failed in this run: name → one-line error
    known_failures: dict[str, str] = field(default_factory=dict)  # failed before, unchanged since, not retried
    skipped: dict[str, str] = field(default_factory=dict)  # not looked at (a symlink out of the root): name → why
    # A clinician's corrections no rep of the new analysis matches (kept, not applied): name → one line each
    unmatched: dict[str, list[str]] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        """1 when any file failed (in this run or, unchanged, in an earlier one), else 0."""
        return 1 if self.failed or self.known_failures else 0

    def unmatched_lines(self) -> list[str]:
        """One line per correction the re-analysis of its file could not place, each naming the file."""
        return [f"{rel}: {line}" for rel, lines in sorted(self.unmatched.items()) for line in lines]

    def failure_lines(self) -> list[str]:
        """One line per failed file, this run's first, each naming the file."""
        lines = [_named(rel, err) for rel, err in sorted(self.failed.items())]
        lines += [_named(rel, err) + " (unchanged since it failed; not retried)"
                  for rel, err in sorted(self.known_failures.items())]
        return lines


def _named(rel: str, err: str) -> str:
    return err if Path(rel).name in err else f"{rel}: {err}"


def find_recordings(root: Path, *, outside: list[Path] | None = None) -> list[Path]:
    """The recording files under ``root`` (``SUFFIXES``, any case), sorted, each once; interchange folders
    (``SKIP_DIRS``) and hidden ones are not searched. A symlink (file or folder) leading outside ``root`` is
    not followed: it is appended to ``outside`` for the caller to warn about."""
    root = Path(root)
    real_root = root.resolve()
    found: dict[Path, Path] = {}
    for dirpath, dirnames, filenames in os.walk(root):  # followlinks=False: a symlinked folder is checked below
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for d in dirnames:
            if (here / d).is_symlink() and not _inside(here / d, real_root) and outside is not None:
                outside.append(here / d)
        for name in sorted(filenames):
            p = here / name
            if p.suffix.lower() not in SUFFIXES or name.startswith(".") or name.lower().endswith(SIDECARS):
                continue
            if not _inside(p, real_root):
                if outside is not None:
                    outside.append(p)
                continue
            found.setdefault(p.resolve(), p)  # a link to a file already in the root is that file
    return sorted(found.values())


def _inside(p: Path, real_root: Path) -> bool:
    r = p.resolve()
    return r == real_root or real_root in r.parents


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
LOCK_NAME = ".analyze.lock"


def _worker_init(parent: int) -> None:
    """A worker's start: SIGINT is the parent's to handle, and the worker dies with the parent. A parent
    killed with SIGKILL runs no cleanup, and a worker left behind would compute for nobody, holding a core."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl here: the watch below still ends the worker
            pass
    ppid = os.getppid()
    if ppid != parent and not _alive(parent):  # the parent died before prctl took effect
        os._exit(1)
    # The death signal follows the process that forked this one (a fork server, with some start methods)
    # and a parent's thread: a watch on the parent itself covers those.
    threading.Thread(target=_watch_parent, args=(parent, ppid), name="watch-parent", daemon=True).start()


def _watch_parent(parent: int, ppid: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != ppid or not _alive(parent):
            os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def _batch_lock(root: Path, console: Console) -> Iterator[None]:
    """One ``analyze --all`` per data root at a time: a second run waits for the first, says so, and then
    finds the first one's work done instead of repeating it. A data root that cannot hold the lock file
    (read-only) is not locked: nothing can be written there anyway."""
    try:
        f = open(root / LOCK_NAME, "a+")
    except OSError:
        yield
        return
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "?"
            _say(console, f"another `reengage analyze --all` (pid {holder}) is running on {root}: waiting for it "
                          "to finish, then analysing only what it left", "yellow")
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            f.truncate(0)
            f.write(str(os.getpid()))
            f.flush()
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@dataclass
class FileAnalysis:
    """What :func:`analyse_file` made of one recording; picklable, so it comes back from a worker process."""

    path: str
    info: dict | None = None  # None: the file could not be read
    analysis: dict | None = None  # None: unreadable, empty (when asked to skip those) or the analysis failed
    error: str | None = None  # one line: why ``analysis`` is None

    @property
    def empty(self) -> bool:
        return self.info is not None and self.info.get("samples") == 0


def _first_line(e: BaseException) -> str:
    return str(e).splitlines()[0] if str(e).strip() else type(e).__name__


def analyse_file(path: Path | str, *, threads: int | None = None, analyse_empty: bool = True) -> FileAnalysis:
    """Read one recording and analyse it: the single path from a file to its catalog entry that
    ``analyze --all``, ``record``, ``import`` and the demo share. Any failure comes back as ``error``, one
    line: a user-caused one (:class:`ReengageError`) as its message, anything else (a bug met by this file)
    with its type and the file's name, so one file never stops a batch or costs a recording its entry."""
    from reengage.analysis import analyze
    from reengage.io import load_recording

    result = FileAnalysis(str(path))
    try:
        rec = load_recording(path)
        result.info = rec.info()
        if result.empty and not analyse_empty:
            result.error = "0 samples"
            return result
        # References given at import (`import --mvc`) live in the file's meta: every re-analysis uses them.
        given = rec.meta.get("mvc") if isinstance(rec.meta.get("mvc"), dict) else None
        result.analysis = analyze(rec, mvc=given, threads=threads)
    except ReengageError as e:
        result.error = _first_line(e)
    except Exception as e:  # noqa: BLE001 (contained per file: reported with its type, never swallowed)
        result.error = f"{path}: {type(e).__name__}: {_first_line(e)} (unexpected; please report it)"
    return result


def _analyse_in_worker(path: str) -> FileAnalysis:
    # The pool already runs one recording per core: channels one after another inside each.
    return analyse_file(path, threads=1)


def store(cat: Catalog, one: FileAnalysis) -> str | None:
    """Put what :func:`analyse_file` found into the catalog: a session with its analysis; an empty session for
    a recording without samples; a session without analysis, with the error recorded, when the analysis failed;
    only the recorded error when the file could not be read. Returns the error to report (None: nothing
    failed). A catalog write that fails is contained too and reported the same way."""
    try:
        if one.info is None:
            cat.record_failure(one.path, one.error or "unreadable")
            return one.error
        failed = one.analysis is None and not one.empty
        cat.register(one.path, one.info, one.analysis, error=one.error if failed else None)
        return one.error if failed else None
    except Exception as e:  # noqa: BLE001 (e.g. a NaN the JSON contract refuses, or a locked catalog)
        msg = f"{one.path}: not catalogued: {type(e).__name__}: {_first_line(e)}"
        try:
            cat.record_failure(one.path, msg)
        except Exception:  # noqa: BLE001 (the catalog itself is what fails: the message still names the file)
            pass
        return msg


def unmatched_corrections(cat: Catalog, path: Path | str) -> list[str]:
    """The corrections of the file's session that its current analysis could not place, in words (kept in the
    catalog, reported, never silently dropped)."""
    from reengage.corrections import describe_unmatched

    session_id = cat.session_of_file(path)
    return [describe_unmatched(c) for c in cat.unmatched_corrections(session_id)] if session_id is not None else []


def register_file(cat: Catalog, path: Path, *, console: Console) -> FileAnalysis:
    """``record``'s, ``import``'s and ``replay --out``'s last step: analyse a new recording and register it with
    its analysis, as ``analyze --all`` would (:func:`store`). A failed analysis still registers the recording
    (analysis null, error recorded) so the session is listed; a recording without samples is kept and
    catalogued as an empty session, not analysed. Each outcome is one line."""
    result = analyse_file(path, analyse_empty=False)
    error = store(cat, result)
    if result.info is None or (error and error != result.error):  # unreadable, or the catalog write failed
        _say(console, f"not catalogued: {error}", "yellow")
    elif result.empty:
        _say(console, f"0 samples recorded: {path} is kept and catalogued as an empty session "
                      "(not analysed, not in trends)", "yellow")
    elif result.analysis is None:
        _say(console, f"analysis failed ({error}); catalogued without an analysis", "yellow")
    else:
        reps = result.analysis["summary"]["reps"]
        _say(console, f"analysed ({reps} reps) and catalogued in {cat.path}")
        for line in unmatched_corrections(cat, path):
            _say(console, f"warning: {line}", "yellow")
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
    """Catalog and analyse every recording under ``root`` that changed (see the module docstring); prints a
    progress bar, one line per failure and a summary on ``console``. Raises KeyboardInterrupt after saving
    what finished when interrupted; otherwise returns the result, whose ``exit_code`` is the command's."""
    console = console or Console(stderr=True)
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: no such data directory")
    result = BatchResult()
    outside: list[Path] = []
    files = find_recordings(root, outside=outside)
    for p in outside:
        rel = os.path.relpath(p, root)
        result.skipped[rel] = OUTSIDE
        _say(console, f"skipped {rel}: {OUTSIDE} ({root.resolve()})", "yellow")
    with _batch_lock(root, console), Catalog(root) as cat:
        todo = _triage(cat, root, files, result)
        if todo and cat.readonly:
            raise CatalogError(f"{len(todo)} recordings need analysing but the data root {root} is read-only; "
                               "nothing was analysed")
        if todo:
            _run(cat, root, todo, result, console, workers)
    _report(console, result)
    return result


def _triage(cat: Catalog, root: Path, files: list[Path], result: BatchResult) -> list[Path]:
    todo = []
    for p in files:
        rel = os.path.relpath(p, root)
        try:
            if cat.needs_analysis(p):
                todo.append(p)
            elif (err := cat.failure(p)) is not None:
                result.known_failures[rel] = err
            else:
                result.unchanged += 1
        except Exception as e:  # noqa: BLE001 (an unreadable file, e.g. permissions: reported, the rest go on)
            result.failed[rel] = f"{rel}: {type(e).__name__}: {_first_line(e)}"
    return todo


def _run(cat: Catalog, root: Path, todo: list[Path], result: BatchResult, console: Console,
         workers: int | None) -> None:
    import reengage.analysis  # noqa: F401  (imported once here; forked workers inherit it)

    workers = workers or min(len(todo), os.cpu_count() or 1)
    total = len(todo) + result.unchanged + len(result.known_failures)
    console.print(f"analysing {len(todo)} of {total} recordings on {workers} processes")
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as progress:
        bar = progress.add_task("analyse", total=len(todo))
        pool = ProcessPoolExecutor(max_workers=workers, initializer=_worker_init, initargs=(os.getpid(),))
        pending: set[Future] = set()
        try:
            paths = {pool.submit(_analyse_in_worker, str(p)): p for p in todo}
            pending = set(paths)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    _collect(cat, root, paths[fut], fut, result, progress.console)
                    progress.advance(bar)
        except KeyboardInterrupt:
            result.interrupted = True
            for fut in pending:
                fut.cancel()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _collect(cat: Catalog, root: Path, path: Path, fut: Future, result: BatchResult, console: Console) -> None:
    rel = os.path.relpath(path, root)
    try:
        one = fut.result()
    except Exception as e:  # noqa: BLE001
        # The worker died (a crash in one file breaks the whole pool): reported, not recorded, since this file
        # may be innocent; the next run tries it again.
        result.failed[rel] = f"{rel}: {type(e).__name__}: {_first_line(e)}"
        _say(console, result.failed[rel], "yellow")
        return
    error = store(cat, one)  # one transaction per recording
    if error is not None:
        result.failed[rel] = error
        _say(console, _named(rel, error), "yellow")
    elif one.empty:
        result.empty.append(rel)
    else:
        result.analysed.append(rel)
        lines = unmatched_corrections(cat, path)
        if lines:
            result.unmatched[rel] = lines


def _report(console: Console, result: BatchResult) -> None:
    msg = f"{len(result.analysed)} analysed, {result.unchanged} unchanged, {len(result.failed)} failed"
    extras = [(len(result.empty), "empty (catalogued, not analysed)"),
              (len(result.known_failures), "failed before and unchanged"), (len(result.skipped), "skipped")]
    msg += "".join(f", {n} {what}" for n, what in extras if n)
    if result.interrupted:
        console.print(f"interrupted: {msg}; finished analyses are saved, run again to continue")
        raise KeyboardInterrupt
    if not (result.analysed or result.failed or result.empty or result.known_failures):
        msg = f"{result.unchanged} recordings, all analyses up to date" + (
            f", {len(result.skipped)} skipped" if result.skipped else "")
    _say(console, msg)
    if result.unmatched:
        _say(console, f"{sum(map(len, result.unmatched.values()))} clinician corrections no longer match a rep "
                      "(kept, not applied; check them on the session page or with `reengage corrections`):", "yellow")
        for line in result.unmatched_lines():
            _say(console, f"  {line}", "yellow")
    if result.exit_code:
        _say(console, f"{len(result.failed) + len(result.known_failures)} files failed:", "red")
        for line in result.failure_lines():
            _say(console, f"  {line}", "red")
