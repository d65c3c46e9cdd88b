"""One session per recording file: same-day recordings and an EDF beside an .rgr stay apart, file ↔ session
both ways, and a version-2 catalog that merged them is split on open."""

from __future__ import annotations

import json
import sqlite3

import pytest
from rich.console import Console
from test_catalog import analysis_dict

from reengage import __version__
from reengage.batch import register_file
from reengage.catalog import SCHEMA_VERSION, Catalog, migrate
from reengage.io import load_recording
from reengage.io.export import export_recording
from reengage.io.recfile import read_recording

DAY = {"subject": "P001", "task": "bridge", "session_date": "2026-05-04"}


@pytest.fixture
def root(tmp_path):
    return tmp_path / "data"


def test_two_recordings_on_one_day_are_two_sessions_with_their_own_metadata(root, write_rgr):
    a = write_rgr(root / "P001" / "a.rgr", {**DAY, "phase": 1, "pain": 3, "notes": "left side"})
    b = write_rgr(root / "P001" / "b.rgr", {**DAY, "phase": 2, "pain": 7, "notes": "right side"}, seed=1)
    with Catalog(root) as cat:
        ra = cat.register(a, read_recording(a).info(), analysis_dict([10], [0.5]))
        rb = cat.register(b, read_recording(b).info(), analysis_dict([-20], [1.5]))
        cat.register(a, read_recording(a).info(), analysis_dict([10], [0.5]))  # again: touches only its own
        sa, sb = cat.sessions("P001")
        assert (sa["path"], sa["phase"], sa["pain"], sa["notes"], sa["median_glute_hamstring_ratio"]) == (
            "P001/a.rgr", 1, 3.0, "left side", 0.5)
        assert (sb["path"], sb["phase"], sb["pain"], sb["notes"], sb["median_glute_hamstring_ratio"]) == (
            "P001/b.rgr", 2, 7.0, "right side", 1.5)
        assert cat.visits("P001") == [{"session_date": "2026-05-04", "session_ids": [sa["session_id"], sb["session_id"]]}]
        for path, rid, s in ((a, ra, sa), (b, rb, sb)):
            assert cat.session_of_file(path) == s["session_id"] == cat.session_of_recording(rid)
            assert cat.file_of_session(s["session_id"]) == path.resolve() == cat.recording_path(rid)
        assert cat.session_of_file(root / "P001" / "never.rgr") is None and cat.file_of_session(999) is None
        assert set(cat.analyses_for_subject("P001")) == {sa["session_id"], sb["session_id"]}


def test_an_edf_beside_an_rgr_is_a_session_of_its_own_and_both_open(root, write_rgr):
    rgr = write_rgr(root / "P002" / "s1.rgr", {"subject": "P002", "task": "bridge", "session_date": "2026-05-05",
                                               "phase": 2, "notes": "the original"}, seconds=4.0)
    # Copied beside it, as a user would (with its metadata sidecar, NAME.json, which is not a recording).
    [edf] = [f for f in export_recording(rgr, "edf", rgr.parent) if f.suffix == ".edf"]
    console = Console(record=True, width=200)
    with Catalog(root) as cat:
        register_file(cat, rgr, console=console)
        register_file(cat, edf, console=console)
        sessions = cat.sessions(include_empty=True)
        assert sorted(s["path"] for s in sessions) == ["P002/s1.edf", "P002/s1.rgr"]
        by_path = {s["path"]: s for s in sessions}
        assert by_path["P002/s1.rgr"]["notes"] == "the original" and by_path["P002/s1.rgr"]["phase"] == 2
        for s in sessions:  # each page finds its own file and its own analysis
            f = cat.file_of_session(s["session_id"])
            assert f.name == s["path"].split("/")[-1] and load_recording(f).info()["samples"] == 4000
            assert s["analysis_id"] is not None and cat.analysis(s["recording_id"])["duration_s"] > 0
        assert by_path["P002/s1.rgr"]["session_id"] != by_path["P002/s1.edf"]["session_id"]


def test_a_file_that_states_no_subject_keeps_the_one_it_was_catalogued_with(root, write_rgr):
    """An imported CSV is registered with the subject given on the command line; `analyze --all` re-registers
    it later from the file alone, which states none: the session must not move to "unknown"."""
    p = write_rgr(root / "P010" / "imported.rgr", {})
    info = read_recording(p).info()
    with Catalog(root) as cat:
        cat.register(p, {**info, "meta": {**info["meta"], "subject": "P010", "task": "bridge",
                                           "session_date": "2026-01-02", "phase": 3}})
        cat.register(p, info, analysis_dict([1], [1.0]))
        [s] = cat.sessions()
        assert (s["subject_id"], s["task"], s["session_date"], s["phase"]) == ("P010", "bridge", "2026-01-02", 3)
        assert s["analysis_id"] is not None and [p["subject_id"] for p in cat.patients()] == ["P010"]


def test_a_moved_file_keeps_its_session_and_edits(root, write_rgr):
    p = write_rgr(root / "P011" / "s.rgr", {**DAY, "subject": "P011", "phase": 1})
    info = read_recording(p).info()
    with Catalog(root) as cat:
        cat.register(p, info, analysis_dict([1], [1.0]))
        sid = cat.session_of_file(p)
        cat.edit_session(sid, who="dr A", phase=2)
        moved = p.rename(root / "P011" / "renamed.rgr")
        cat.register(moved, info)
        [s] = cat.sessions()
        assert (s["session_id"], s["path"], s["phase"]) == (sid, "P011/renamed.rgr", 2)
        assert s["analysis_id"] is not None and not cat.needs_analysis(moved)


def _v2_register(db, rel, meta, info_meta, size, mtime, analysis):
    """What version 2's ``Catalog.register`` wrote (its upsert keyed by subject + date + exercise)."""
    db.execute("INSERT INTO subjects VALUES (?, 'x') ON CONFLICT DO NOTHING", (meta["subject"],))
    db.execute(
        "INSERT INTO sessions(subject_id, session_date, task, phase, pain, notes) VALUES (?,?,?,?,?,?) "
        "ON CONFLICT(subject_id, session_date, task) DO UPDATE SET phase=COALESCE(excluded.phase, phase), "
        "pain=COALESCE(excluded.pain, pain), notes=CASE WHEN excluded.notes != '' THEN excluded.notes ELSE notes END",
        (meta["subject"], meta["session_date"], meta["task"], meta.get("phase"), meta.get("pain"), meta["notes"]))
    (sid,) = db.execute("SELECT session_id FROM sessions WHERE subject_id=? AND session_date=? AND task=?",
                        (meta["subject"], meta["session_date"], meta["task"])).fetchone()
    cur = db.execute("INSERT INTO recordings(session_id, path, size_bytes, mtime_ns, sha256, info_json, "
                     "registered_utc) VALUES (?,?,?,?,?,?,'x')",
                     (sid, rel, size, mtime, "sha-" + rel, json.dumps({"samples": 10, "meta": info_meta})))
    db.execute("INSERT INTO analyses(recording_id, software_version, recording_sha256, analysis_json, created_utc, "
               "reps, glute_first_fraction, median_onset_latency_ms, median_glute_hamstring_ratio) "
               "VALUES (?,?,?,?, 'x', 1, 0, 1, ?)", (cur.lastrowid, __version__, "sha-" + rel, json.dumps(analysis),
                                                    analysis["summary"]["median_glute_hamstring_ratio"]))
    return sid


def test_a_version_2_catalog_that_merged_two_recordings_is_split_on_open(root):
    root.mkdir()
    db = sqlite3.connect(root / "catalog.sqlite", isolation_level=None)
    migrate(db, target=2)
    first = {**DAY, "phase": 1, "pain": 2, "notes": "morning"}
    second = {**DAY, "phase": 2, "pain": None, "notes": "afternoon"}
    sid = _v2_register(db, "P001/am.rgr", first, first, 1, 1, analysis_dict([5], [0.4]))
    assert _v2_register(db, "P001/pm.rgr", second, second, 2, 2, analysis_dict([-5], [1.4])) == sid
    alone = {"subject": "P002", "task": "bridge", "session_date": "2026-05-06", "phase": 3, "notes": "only"}
    sid_alone = _v2_register(db, "P002/x.rgr", alone, {}, 3, 3, analysis_dict([1], [1.0]))
    # Version 2 overwrote the morning's phase and notes with the afternoon's: the merge this issue is about.
    assert db.execute("SELECT phase, pain, notes FROM sessions WHERE session_id=?", (sid,)).fetchone() == (
        2, 2.0, "afternoon")
    db.close()

    with Catalog(root) as cat:
        assert cat.schema_version == SCHEMA_VERSION
        am, pm = cat.sessions("P001")
        assert pm["session_id"] == sid  # the recording v2's page showed (latest analysed) keeps the id
        assert (am["path"], am["phase"], am["pain"], am["notes"], am["median_glute_hamstring_ratio"]) == (
            "P001/am.rgr", 1, 2.0, "morning", 0.4)
        assert (pm["path"], pm["phase"], pm["pain"], pm["notes"], pm["median_glute_hamstring_ratio"]) == (
            "P001/pm.rgr", 2, None, "afternoon", 1.4)
        [x] = cat.sessions("P002")  # alone in its session: the values v2 held are kept
        assert (x["session_id"], x["phase"], x["notes"]) == (sid_alone, 3, "only")
        assert [p["subject_id"] for p in cat.patients()] == ["P001", "P002"]
        assert not any(p["registered"] for p in cat.patients())
        assert cat.db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert cat.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        with pytest.raises(sqlite3.IntegrityError):  # one recording per session from now on
            cat.db.execute("UPDATE recordings SET session_id=? WHERE path='P002/x.rgr'", (sid,))
