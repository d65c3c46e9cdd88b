"""The human-readable output of `info` and `analyze`: what a clinician reads without --json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REENGAGE = [sys.executable, "-m", "reengage.cli"]
EXAMPLE = Path(__file__).resolve().parents[1] / "recordings/examples/arduino_prone_hip_extension.csv"


def run(*args):
    return subprocess.run([*REENGAGE, *args], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "COLUMNS": "200"})


def test_info_shows_the_session(tmp_path, write_rgr):
    meta = {"subject": "P001", "task": "bridge", "session_date": "2026-03-02", "phase": 2, "pain": 3.5}
    path = write_rgr(tmp_path / "s.rgr", meta)
    r = run("info", str(path))
    assert r.returncode == 0, r.stderr
    assert "subject P001  task bridge  date 2026-03-02  phase 2  pain 3.5/10" in r.stdout.splitlines()
    # A CSV carries no session: no empty line of labels.
    assert "subject" not in run("info", str(EXAMPLE)).stdout


def test_analyze_table_counts_reps_from_1_and_says_not_normalised():
    r = run("analyze", str(EXAMPLE))
    assert r.returncode == 0, r.stderr
    doc = json.loads(run("analyze", str(EXAMPLE), "--json").stdout)
    assert [rep["index"] for rep in doc["reps"]] == [0, 1] and doc["normalization"] == "none"
    rows = [line.split("│")[1].strip() for line in r.stdout.splitlines() if line.startswith("│")]
    assert rows == ["1", "2"]
    assert "not normalised" in r.stdout


def test_analyze_table_with_mvc_is_normalised():
    r = run("analyze", str(EXAMPLE), "--mvc", "glute_max=10", "--mvc", "hamstrings=10")
    assert r.returncode == 0, r.stderr
    assert "normalised to MVC" in r.stdout and "not normalised" not in r.stdout
