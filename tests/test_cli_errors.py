"""Every input error through the real command (a subprocess, as a user or a script meets it): one line on
stderr, nothing on stdout, exit status 2 — typer's framed multi-line boxes included."""

from __future__ import annotations

import subprocess
import sys

import pytest

REENGAGE = [sys.executable, "-m", "reengage.cli"]


def run(*args, **kw):
    return subprocess.run([*REENGAGE, *args], capture_output=True, text=True, timeout=120, **kw)


def one_line_error(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("reengage: error: "), lines[0]
    assert "╭" not in lines[0] and "│" not in lines[0]
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    "args, needles",
    [
        (["record", "--board", "simulated", "--duration", "abc"], ["record", "--duration", "abc"]),
        (["record", "--board", "simulated", "--phase", "4"], ["record", "--phase", "'4'"]),
        (["record", "--board", "simulated", "--pain", "11"], ["--pain"]),
        (["record", "--board", "simulated", "--durtion", "3"], ["No such option", "--durtion"]),
        (["import", "x.csv", "--subject", "P1", "--task", "bridge", "--phase", "0"], ["import", "--phase"]),
        (["session", "edit", "abc"], ["session edit", "session_id"]),
        (["info"], ["info", "Missing argument"]),
        (["no-such-command"], ["no-such-command"]),
        (["replay", "x.rgr", "--live", "maybe"], ["replay"]),
    ],
)
def test_bad_option_values_are_one_line_exit_2(args, needles):
    one_line_error(run(*args), *needles)


def test_help_is_not_an_error():
    r = run("--help")
    assert r.returncode == 0 and "record" in r.stdout
    assert run("trend", "--help").returncode == 0


def test_protocol_and_a_different_task_are_refused(tmp_path):
    line = one_line_error(run("record", "--board", "simulated", "--protocol", "bridge", "--task", "clamshell",
                              "--out", str(tmp_path)), "--task clamshell", "--protocol bridge")
    assert "bridge" in line
    assert not any(tmp_path.iterdir())  # refused before anything is recorded


def test_unknown_protocol_is_one_line():
    one_line_error(run("record", "--board", "simulated", "--protocol", "nope"), "--protocol", "nope")


def test_the_protocol_sets_the_task():
    from reengage.cli import session_task

    assert session_task(None, "bridge") == "bridge"
    assert session_task("bridge", "bridge") == "bridge"
    assert session_task(None, None) == "prone_hip_extension"
    assert session_task("clamshell", None) == "clamshell"


def test_analyze_all_exits_non_zero_listing_the_failed_files(tmp_path, write_rgr):
    root = tmp_path / "data"
    root.mkdir()
    write_rgr(root / "good.rgr", {"subject": "P1", "task": "bridge"}, seconds=3.0)
    (root / "broken.edf").write_bytes(b"0       this is not an EDF file at all")
    for _ in range(2):  # the second run does not retry the unchanged file, and still says it failed
        r = run("analyze", "--all", "--data", str(root))
        assert r.returncode == 1, r.stderr
        assert r.stdout == ""
        failed = [line for line in r.stderr.splitlines() if line.startswith("  ") and "broken.edf" in line]
        assert len(failed) == 1, r.stderr
    from reengage.catalog import Catalog

    with Catalog(root) as cat:  # the rest was still analysed and kept
        [good] = [s for s in cat.sessions() if s["path"] == "good.rgr"]
        assert good["analysis_id"] is not None
