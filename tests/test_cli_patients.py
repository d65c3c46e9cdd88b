"""The patient register and audited session edits on the command line, and the unknown-subject warning of
`record` and `import` (a typo must not silently make a new patient, and must not lose the recording)."""

from __future__ import annotations

import getpass
import json
import subprocess
import sys
from pathlib import Path

import pytest

from reengage.catalog import Catalog

REENGAGE = [sys.executable, "-m", "reengage.cli"]
EXAMPLE = Path(__file__).resolve().parents[1] / "recordings/examples/arduino_prone_hip_extension.csv"


def run(*args):
    return subprocess.run([*REENGAGE, *args], capture_output=True, text=True, timeout=180)


def ok(*args):
    r = run(*args)
    assert r.returncode == 0, r.stderr
    return r


def patients(root):
    return {p["subject_id"]: p for p in json.loads(ok("patients", "list", "--json", "--data", str(root)).stdout)["patients"]}


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "data"
    ok("patients", "add", "P001", "--name", "bed 4", "--note", "left knee", "--data", str(root))
    return root


def test_add_and_list(root):
    p = patients(root)["P001"]
    assert (p["display_name"], p["note"], p["registered"], p["sessions"]) == ("bed 4", "left knee", True, 0)
    r = run("patients", "add", "P001", "--data", str(root))
    assert r.returncode == 2 and "already registered" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run("patients", "add", "../etc", "--data", str(root))
    assert r.returncode == 2 and "patient id" in r.stderr
    assert "bed 4" in ok("patients", "list", "--data", str(root)).stdout


def test_import_of_an_unknown_subject_warns_with_the_closest_ids_and_keeps_the_session(root):
    r = ok("import", str(EXAMPLE), "--subject", "P01", "--task", "bridge", "--date", "2026-02-03",
           "--data", str(root))
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "P01" in warnings[0] and "did you mean P001" in warnings[0], r.stderr
    assert Path(r.stdout.strip()).is_file()
    assert patients(root)["P01"]["registered"] is False and patients(root)["P01"]["sessions"] == 1
    # A registered id: no warning.
    r = ok("import", str(EXAMPLE), "--subject", "P001", "--task", "bridge", "--date", "2026-02-03",
           "--data", str(root))
    assert "warning" not in r.stderr


def test_record_of_an_unknown_subject_warns_and_still_records(root):
    r = ok("record", "--board", "simulated", "--subject", "P0O1", "--duration", "1", "--sim-speed", "4",
           "--out", str(root))
    assert sum("did you mean P001" in line for line in r.stderr.splitlines()) == 1, r.stderr
    with Catalog(root) as cat:
        [s] = cat.sessions("P0O1")
    assert s["path"] == Path(r.stdout.strip()).resolve().relative_to(root.resolve()).as_posix()


def test_merge_and_rename_move_every_session(root):
    ok("import", str(EXAMPLE), "--subject", "P01", "--task", "bridge", "--date", "2026-02-03", "--data", str(root))
    ok("patients", "merge", "P01", "P001", "--data", str(root))
    p = patients(root)
    assert "P01" not in p and p["P001"]["sessions"] == 1 and p["P001"]["display_name"] == "bed 4"
    ok("patients", "rename", "P001", "P100", "--by", "dr x", "--data", str(root))
    p = patients(root)
    assert set(p) == {"P100"} and p["P100"]["sessions"] == 1
    with Catalog(root) as cat:
        [s] = cat.sessions("P100")
        moves = [(e["old"], e["new"], e["who"]) for e in cat.session_edits(s["session_id"]) if e["field"] == "subject_id"]
    assert moves == [("P01", "P001", getpass.getuser()), ("P001", "P100", "dr x")]
    r = run("patients", "rename", "P404", "P5", "--data", str(root))
    assert r.returncode == 2 and "P404" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run("patients", "merge", "P100", "P100", "--data", str(root))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1


def test_session_edit_is_audited(root):
    ok("import", str(EXAMPLE), "--subject", "P001", "--task", "bridge", "--date", "2026-02-03", "--phase", "1",
       "--data", str(root))
    with Catalog(root) as cat:
        [s] = cat.sessions("P001")
    sid = str(s["session_id"])
    r = ok("session", "edit", sid, "--phase", "2", "--pain", "3.5", "--notes", "left side", "--data", str(root))
    assert "phase 1 → 2" in r.stderr
    doc = json.loads(ok("session", "edit", sid, "--notes", "right side", "--by", "alice", "--json",
                        "--data", str(root)).stdout)
    assert doc["changes"] == [{"field": "notes", "old": "left side", "new": "right side"}]
    trail = [(e["field"], e["old"], e["new"], e["who"]) for e in doc["edits"]]
    me = getpass.getuser()
    assert trail == [("phase", 1, 2, me), ("pain", None, 3.5, me), ("notes", "", "left side", me),
                     ("notes", "left side", "right side", "alice")]
    with Catalog(root) as cat:
        s = cat.session(int(sid))
    assert (s["phase"], s["pain"], s["notes"]) == (2, 3.5, "right side")
    # The trend reads the corrected values.
    t = json.loads(ok("trend", "--subject", "P001", "--json", "--data", str(root)).stdout)
    assert (t["sessions"][0]["phase"], t["sessions"][0]["pain"]) == (2, 3.5)


@pytest.mark.parametrize("args, needle", [
    (["--phase", "4"], "--phase"), (["--pain", "-1"], "--pain"), ([], "nothing to change"),
])
def test_session_edit_bad_values_are_one_line(root, args, needle):
    r = run("session", "edit", "1", *args, "--data", str(root))
    assert r.returncode == 2 and r.stdout == "" and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert needle in r.stderr


def test_session_edit_of_an_unknown_session(root):
    r = run("session", "edit", "99", "--phase", "1", "--data", str(root))
    assert r.returncode == 2 and "session 99" in r.stderr


def test_protocol_files_the_session_under_its_exercise(tmp_path):
    out = tmp_path / "data"
    ok("record", "--board", "simulated", "--protocol", "bridge", "--subject", "P9", "--duration", "1",
       "--sim-speed", "4", "--out", str(out))
    with Catalog(out) as cat:
        [s] = cat.sessions("P9")
    assert s["task"] == "bridge"
