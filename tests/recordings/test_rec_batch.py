"""`reengage analyze --all`: only what changed, in parallel processes, committed one by one (so Ctrl-C
keeps what finished)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from test_rec_interop import simulated_rgr

from reengage.batch import analyze_all
from reengage.catalog import Catalog

REENGAGE = [sys.executable, "-m", "reengage.cli"]


def _n_analyses(root) -> int:
    db = root / "catalog.sqlite"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as c:
            return c.execute("SELECT COUNT(*) FROM analyses").fetchone()[0]
    except sqlite3.OperationalError:  # schema not created yet
        return 0


def test_only_what_changed_is_analysed_again(tmp_path):
    root = tmp_path / "data"
    paths = [simulated_rgr(root / "P031" / f"s{k}.rgr", seconds=8.0, seed=k, gap=False) for k in range(3)]
    (root / "P031" / "broken.rgr").write_bytes(b"\x89RGREC\r\n\x1a\n" + b"\x00" * 40)
    first = analyze_all(root, workers=2)
    assert sorted(first.analysed) == ["P031/s0.rgr", "P031/s1.rgr", "P031/s2.rgr"]
    assert list(first.failed) == ["P031/broken.rgr"] and "broken.rgr" in first.failed["P031/broken.rgr"]
    with Catalog(root) as cat:
        assert all(not cat.needs_analysis(p) for p in paths)
        assert sorted(s["path"] for s in cat.sessions("P031")) == ["P031/s0.rgr", "P031/s1.rgr", "P031/s2.rgr"]
        assert "broken.rgr" in cat.failure(root / "P031" / "broken.rgr")
    assert first.exit_code == 1
    again = analyze_all(root, workers=2)
    assert again.analysed == [] and again.unchanged == 3 and again.failed == {}
    assert list(again.known_failures) == ["P031/broken.rgr"] and again.exit_code == 1  # reported, not retried
    os.utime(paths[0])  # a touch alone is not a change (same content)
    paths[1].unlink()
    simulated_rgr(paths[1], seconds=8.0, seed=42, gap=False)  # new content
    (root / "P031" / "broken.rgr").unlink()
    third = analyze_all(root, workers=2)
    assert third.analysed == ["P031/s1.rgr"] and third.unchanged == 2 and third.exit_code == 0


@pytest.mark.slow
def test_ctrl_c_keeps_the_finished_analyses(tmp_path):
    root = tmp_path / "data"
    n = 6
    for k in range(n):
        simulated_rgr(root / "P032" / f"s{k}.rgr", seconds=8.0, seed=k, gap=False)
    proc = subprocess.Popen([*REENGAGE, "analyze", "--all", "--data", str(root)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while _n_analyses(root) == 0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    done = _n_analyses(root)
    if proc.returncode == 0:
        pytest.skip("every analysis finished before the interrupt arrived (machine too fast to interrupt)")
    assert proc.returncode == 130, err
    assert "finished analyses are saved" in err
    assert 1 <= done < n
    with sqlite3.connect(root / "catalog.sqlite") as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rest = analyze_all(root, workers=2)
    assert len(rest.analysed) == n - done and rest.unchanged == done


def test_one_file_path_that_record_and_analyze_all_share(tmp_path):
    from rich.console import Console

    from reengage.batch import analyse_file, register_file

    root = tmp_path / "data"
    good = simulated_rgr(root / "P031" / "s0.rgr", seconds=8.0, seed=0, gap=False)
    broken = root / "P031" / "broken.rgr"
    broken.write_bytes(b"\x89RGREC\r\n\x1a\n" + b"\x00" * 40)
    one = analyse_file(good, threads=1)
    assert one.error is None and one.info["samples"] == 8000 and one.analysis["summary"]["reps"] >= 0
    bad = analyse_file(broken)
    assert bad.info is None and bad.analysis is None and "broken.rgr" in bad.error and "\n" not in bad.error
    console = Console(record=True, width=40)  # narrower than the messages: they must still be one line each
    with Catalog(root) as cat:
        assert register_file(cat, broken, console=console).info is None
        register_file(cat, good, console=console)
        assert [s["path"] for s in cat.sessions("P031")] == ["P031/s0.rgr"]
        assert not cat.needs_analysis(good)
    lines = console.export_text().splitlines()
    assert len(lines) == 2 and lines[0].startswith("not catalogued: ") and "broken.rgr" in lines[0]
    assert lines[1].startswith("analysed (") and lines[1].endswith("catalog.sqlite")


def test_a_catalog_that_cannot_be_written_costs_the_entry_not_the_recording(tmp_path):
    from rich.console import Console

    from reengage.batch import catalog_recording
    from reengage.catalog import SCHEMA_VERSION

    root = tmp_path / "data"
    good = simulated_rgr(root / "P031" / "s0.rgr", seconds=8.0, seed=0, gap=False)
    with sqlite3.connect(root / "catalog.sqlite") as db:  # written by a newer reengage
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    console = Console(record=True, width=40)
    assert catalog_recording(root, good, console=console) is None
    [line] = console.export_text().splitlines()
    assert line.startswith("not catalogued (catalog schema version") and line.endswith("will pick it up")
    assert good.is_file()


def test_a_batch_with_a_corrupt_file_a_bug_a_csv_and_a_symlink_out_of_the_root(tmp_path, monkeypatch):
    from rich.console import Console

    from reengage.io.csvio import write_csv_recording
    from reengage.io.recfile import read_recording

    root = tmp_path / "data"
    good = simulated_rgr(root / "P033" / "good.rgr", seconds=8.0, seed=1, gap=False)
    write_csv_recording(read_recording(good), root / "P033" / "excel.csv")
    simulated_rgr(root / "P033" / "bug.rgr", seconds=8.0, seed=2, gap=False)
    (root / "P033" / "corrupt.rgr").write_bytes(b"\x89RGREC\r\n\x1a\n" + b"\x00" * 40)
    outside = simulated_rgr(tmp_path / "elsewhere" / "secret.rgr", seconds=8.0, seed=3, gap=False)
    (root / "P033" / "link.rgr").symlink_to(outside)
    (root / "P033" / "inside.rgr").symlink_to(good)  # a second name of a file in the root: that file, once

    import reengage.analysis

    real = reengage.analysis.analyze

    def analyze(rec, *args, **kwargs):  # a bug that only one file meets (forked workers inherit the patch)
        if rec.source and rec.source.endswith("bug.rgr"):
            raise ZeroDivisionError("division by zero")
        return real(rec, *args, **kwargs)

    monkeypatch.setattr(reengage.analysis, "analyze", analyze)
    console = Console(record=True, width=60)
    result = analyze_all(root, console=console, workers=2)
    assert sorted(result.analysed) == ["P033/excel.csv", "P033/good.rgr"]
    assert sorted(result.failed) == ["P033/bug.rgr", "P033/corrupt.rgr"]
    assert "ZeroDivisionError: division by zero" in result.failed["P033/bug.rgr"]
    assert "bug.rgr" in result.failed["P033/bug.rgr"]
    assert result.skipped == {"P033/link.rgr": "a symlink leading outside the data root"}
    assert result.exit_code == 1
    text = console.export_text()
    assert "skipped P033/link.rgr: a symlink leading outside the data root" in text
    assert "2 files failed:" in text and all(any(f"{name}" in ln and ln.startswith("  ") for ln in text.splitlines())
                                             for name in ("bug.rgr", "corrupt.rgr"))
    with Catalog(root) as cat:
        paths = {s["path"]: s for s in cat.sessions()}
        assert sorted(paths) == ["P033/bug.rgr", "P033/excel.csv", "P033/good.rgr"]  # never the outside file
        assert paths["P033/bug.rgr"]["analysis_id"] is None and "ZeroDivisionError" in paths["P033/bug.rgr"]["error"]
        assert paths["P033/excel.csv"]["reps"] == paths["P033/good.rgr"]["reps"]
        assert sorted(f["path"] for f in cat.failures()) == ["P033/bug.rgr", "P033/corrupt.rgr"]
    again = analyze_all(root, console=Console(record=True), workers=2)  # failures are reported, not retried
    assert again.analysed == [] and again.failed == {} and again.unchanged == 2
    assert sorted(again.known_failures) == ["P033/bug.rgr", "P033/corrupt.rgr"] and again.exit_code == 1
    assert all(line.endswith("(unchanged since it failed; not retried)") for line in again.failure_lines())
    simulated_rgr(root / "P033" / "corrupt.rgr.new", seconds=8.0, seed=4, gap=False).replace(
        root / "P033" / "corrupt.rgr")  # the file is fixed: tried again, and its failure forgotten
    monkeypatch.setattr(reengage.analysis, "analyze", real)
    third = analyze_all(root, console=Console(record=True), workers=2)
    assert third.analysed == ["P033/corrupt.rgr"] and list(third.known_failures) == ["P033/bug.rgr"]


# A batch whose workers announce themselves (a file named by their pid in the folder argv[2]) and then wait
# until the file argv[3] exists (never, when argv[3] is "-") before analysing as usual.
_GATED_BATCH = """
import os, sys, time
from pathlib import Path
import reengage.batch as batch

real = batch._analyse_in_worker

def gated(path):
    Path(sys.argv[2], str(os.getpid())).touch()
    while not (sys.argv[3] != "-" and Path(sys.argv[3]).exists()):
        time.sleep(0.05)
    return real(path)

batch._analyse_in_worker = gated
raise SystemExit(batch.analyze_all(Path(sys.argv[1]), workers=2).exit_code)
"""


def _until(condition, what: str, limit_s: float = 60.0):
    # A bound on waiting for another process, not a timing assertion: only a hang reaches it.
    end = time.monotonic() + limit_s
    while not (result := condition()):
        if time.monotonic() > end:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)
    return result


def _gone(pid: int) -> bool:
    try:
        status = open(f"/proc/{pid}/status").read()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status  # dead, waiting to be reaped by whoever inherited it


def _gated(root, announce, release, **kw):
    script = announce.parent / "gated_batch.py"
    script.write_text(_GATED_BATCH)
    return subprocess.Popen([sys.executable, str(script), str(root), str(announce), str(release)], **kw)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and PR_SET_PDEATHSIG are Linux's")
def test_kill_9_of_the_batch_takes_its_workers_with_it(tmp_path):
    root = tmp_path / "data"
    for k in range(2):
        simulated_rgr(root / "P041" / f"s{k}.rgr", seconds=4.0, seed=k, gap=False)
    announce = tmp_path / "workers"
    announce.mkdir()
    proc = _gated(root, announce, "-", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        pids = _until(lambda: [int(p.name) for p in announce.iterdir()] if len(list(announce.iterdir())) == 2
                      else None, "both workers started")
        assert not any(_gone(pid) for pid in pids)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        _until(lambda: all(_gone(pid) for pid in pids), f"workers {pids} exited after their parent was killed")
    finally:
        proc.kill()
        _reap_workers(announce)


def _reap_workers(announce):
    for p in announce.iterdir():  # only the workers this test started, by their own pid
        if not _gone(int(p.name)):
            os.kill(int(p.name), signal.SIGKILL)


def test_a_second_concurrent_run_waits_and_repeats_nothing(tmp_path):
    root = tmp_path / "data"
    for k in range(2):
        simulated_rgr(root / "P042" / f"s{k}.rgr", seconds=4.0, seed=k, gap=False)
    announce, release = tmp_path / "workers", tmp_path / "go"
    announce.mkdir()
    first = _gated(root, announce, release, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err_path = tmp_path / "second.err"
    try:
        _until(lambda: len(list(announce.iterdir())) == 2, "the first run's workers started")
        with open(err_path, "w") as err:
            second = subprocess.Popen([*REENGAGE, "analyze", "--all", "--data", str(root)],
                                      stdout=subprocess.PIPE, stderr=err, text=True)
        _until(lambda: "waiting for it to finish" in err_path.read_text(), "the second run says it waits")
        assert second.poll() is None and _n_analyses(root) == 0
        release.touch()
        out1, err1 = first.communicate(timeout=120)
        second.communicate(timeout=120)
    finally:
        release.touch()
        first.kill()
        _reap_workers(announce)
    err2 = err_path.read_text()
    assert first.returncode == 0 and "2 analysed" in err1, err1
    assert second.returncode == 0 and "2 recordings, all analyses up to date" in err2, err2
    assert f"(pid {first.pid})" in err2
    assert _n_analyses(root) == 2  # each recording analysed once
