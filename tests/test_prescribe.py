"""``reengage prescribe``: a patient's prescription per exercise in the catalog (migration 5), replaced ones kept
as history, journalled so a rebuilt catalog keeps them, following renames; ``adherence`` in ``reengage trend``."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from reengage.catalog import SCHEMA_VERSION, Catalog, migrate
from reengage.io import load_recording
from reengage.prescriptions import prescribed_sessions, prescriptions

DATES = ["2026-01-01", "2026-01-05", "2026-01-07", "2026-01-07", "2026-01-12", "2026-01-19"]


def run(*args):
    return subprocess.run([sys.executable, "-m", "reengage.cli", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def root(tmp_path, write_rgr):
    """P1's bridge sessions on DATES (two on 2026-01-07) and one clamshell session."""
    root = tmp_path / "data"
    (root / "P1").mkdir(parents=True)
    for k, d in enumerate(DATES):
        write_rgr(root / "P1" / f"{k}.rgr", {"subject": "P1", "task": "bridge", "session_date": d}, seconds=1.0)
    write_rgr(root / "P1" / "c.rgr", {"subject": "P1", "task": "clamshell", "session_date": "2026-01-08"})
    with Catalog(root) as cat:
        for p in sorted((root / "P1").glob("*.rgr")):
            cat.register(p, load_recording(p).info())
    return root


def prescribe(root, *extra, days="3", start="2026-01-05"):
    return run("prescribe", "--subject", "P1", "--phase", "1", "--exercise", "bridge", "--sets", "3", "--reps",
               "10", "--days-per-week", days, "--start", start, "--data", str(root), "--by", "LM", *extra)


def test_prescribe_and_adherence_in_trend(root):
    r = run("trend", "--subject", "P1", "--task", "bridge", "--data", str(root), "--json")
    assert r.returncode == 0, r.stderr
    assert "adherence" not in json.loads(r.stdout)  # no prescription yet: no field
    r = prescribe(root, "--json", "--load-kg", "0")
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)
    assert (row["sets"], row["reps"], row["days_per_week"], row["who"], row["replaced"]) == (3, 10, 3, "LM", None)
    r = run("trend", "--subject", "P1", "--task", "bridge", "--data", str(root), "--json")
    adh = json.loads(r.stdout)["adherence"]
    # 2026-01-05 .. 2026-01-19 inclusive = 15 days at 3/week = 6.43 → 6; done: 4 distinct days from the start
    # (the 2026-01-01 session is before it; two recordings on 2026-01-07 are one day's session).
    assert {k: adh[k] for k in ("from", "to", "prescribed_sessions", "done_sessions")} == {
        "from": "2026-01-05", "to": "2026-01-19", "prescribed_sessions": 6, "done_sessions": 4}
    table = run("trend", "--subject", "P1", "--task", "bridge", "--data", str(root))
    assert "4 of 6 prescribed sessions done" in table.stdout


def test_replacing_keeps_the_history_and_each_counts_for_its_weeks(root):
    assert prescribe(root).returncode == 0
    r = prescribe(root, "--json", days="5", start="2026-01-12")
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)
    assert row["replaced"]["days_per_week"] == 3 and row["replaced"]["end_date"] == "2026-01-12"
    with Catalog(root) as cat:
        rows = prescriptions(cat, "P1", "bridge")
    assert [(r["days_per_week"], r["replaced_by"] is not None) for r in rows] == [(3, True), (5, False)]
    # 3/week over 7 days (01-05..01-11) + 5/week over 8 days (01-12..01-19) = 3 + 5.71 = 8.71 → 9
    assert prescribed_sessions(rows, "2026-01-19") == pytest.approx(3 + 5 * 8 / 7)
    adh = json.loads(run("trend", "--subject", "P1", "--task", "bridge", "--data", str(root), "--json").stdout)
    assert adh["adherence"]["prescribed_sessions"] == 9
    r = prescribe(root, start="2026-01-01")
    assert r.returncode == 2 and "before the current bridge prescription's start" in r.stderr


def test_a_rebuilt_catalog_keeps_the_prescriptions(root):
    assert prescribe(root).returncode == 0
    assert prescribe(root, days="5", start="2026-01-12").returncode == 0
    for suffix in ("", "-wal", "-shm"):
        (root / f"catalog.sqlite{suffix}").unlink(missing_ok=True)  # lost; the journal beside it holds the edits
    with Catalog(root) as cat:
        rows = prescriptions(cat, "P1", "bridge")
    assert [(r["days_per_week"], r["start_date"], r["end_date"], r["who"]) for r in rows] == [
        (3, "2026-01-05", "2026-01-12", "LM"), (5, "2026-01-12", None, "LM")]


def test_prescriptions_follow_a_rename(root):
    assert prescribe(root).returncode == 0
    r = run("patients", "rename", "P1", "P9", "--data", str(root))
    assert r.returncode == 0, r.stderr  # the prescription's reference to P1 moves with it
    with Catalog(root) as cat:
        assert len(prescriptions(cat, "P9")) == 1 and not prescriptions(cat, "P1")


@pytest.mark.parametrize("args, message", [
    (("--subject", "P2"), "patient P2: not in the register"),
    (("--days-per-week", "8"), "--days-per-week"),
    (("--start", "12/01/2026"), "expected a date YYYY-MM-DD"),
    (("--exercise", " "), "--exercise: give the exercise's name"),
])
def test_bad_prescriptions_are_one_line(root, args, message):
    base = {"--subject": "P1", "--phase": "1", "--exercise": "bridge", "--sets": "3", "--reps": "10",
            "--days-per-week": "3", "--data": str(root)}
    base.update(dict(zip(args[::2], args[1::2])))
    r = run("prescribe", *[x for kv in base.items() for x in kv])
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and message in r.stderr, r.stderr


def test_an_older_catalog_gains_the_table(tmp_path):
    root = tmp_path / "old"
    root.mkdir()
    db = sqlite3.connect(root / "catalog.sqlite")
    migrate(db, target=4)
    db.close()
    with Catalog(root) as cat:
        assert cat.schema_version == SCHEMA_VERSION == 5
        assert prescriptions(cat, "P1") == []
