"""The SQLite session catalog against a real file: register/upsert, change detection, reads, migration."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from reengage import __version__
from reengage.catalog import MIGRATIONS, SCHEMA_VERSION, Catalog, migrate
from reengage.errors import CatalogError, InputError, ReengageError
from reengage.io.recfile import read_recording


def analysis_dict(latencies_ms, ratios):
    """An analysis shaped per contracts/analysis.md with the given per-rep latency and ratio."""
    reps = []
    for i, (lat, ratio) in enumerate(zip(latencies_ms, ratios)):
        t = 2.0 + 5.0 * i
        reps.append({
            "index": i, "start_s": t, "end_s": t + 2.5,
            "onset_s": {"glute_max": t + lat / 1000.0, "hamstrings": t},
            "offset_s": {"glute_max": t + 2.3, "hamstrings": t + 2.4},
            "onset_latency_ms": lat,
            "firing_order": ["glute_max", "hamstrings"] if lat < 0 else ["hamstrings", "glute_max"],
            "glute_hamstring_ratio": ratio,
        })
    lat_sorted, r_sorted = sorted(latencies_ms), sorted(ratios)
    return {
        "fs_hz": 1000.0, "duration_s": 60.0, "normalization": "mvc", "channels": {},
        "reps": reps,
        "summary": {
            "reps": len(reps),
            "glute_first_fraction": sum(1 for x in latencies_ms if x < 0) / len(reps),
            "median_onset_latency_ms": lat_sorted[len(reps) // 2],
            "median_glute_hamstring_ratio": r_sorted[len(reps) // 2],
        },
    }


@pytest.fixture
def root(tmp_path):
    return tmp_path / "data"


def test_register_and_read_back(root, write_rgr):
    p = write_rgr(root / "P001" / "s1.rgr", {"subject": "P001", "task": "prone_hip_extension",
                                              "session_date": "2024-03-01", "phase": 1, "pain": 6, "notes": "stiff"})
    rec = read_recording(p)
    with Catalog(root) as cat:
        rid = cat.register(p, rec.info(), analysis_dict([60, 40, 50], [0.5, 0.6, 0.55]))
        assert cat.schema_version == SCHEMA_VERSION
        [s] = cat.sessions("P001")
        assert s["recording_id"] == rid
        assert s["path"] == "P001/s1.rgr"  # relative to the data root
        assert (s["session_date"], s["task"], s["phase"], s["pain"], s["notes"]) == (
            "2024-03-01", "prone_hip_extension", 1, 6.0, "stiff")
        assert s["reps"] == 3 and s["median_onset_latency_ms"] == 50 and s["median_glute_hamstring_ratio"] == 0.55
        assert s["glute_first_fraction"] == 0.0 and s["software_version"] == __version__
        assert cat.analysis(rid)["summary"]["reps"] == 3
        assert cat.recording_info(rid)["meta"]["subject"] == "P001"
        assert cat.subjects() == [{"subject_id": "P001", "sessions": 1, "first_date": "2024-03-01",
                                   "last_date": "2024-03-01"}]
    assert (root / "catalog.sqlite").exists()


def test_register_is_an_upsert_by_path(root, write_rgr):
    meta = {"subject": "P002", "task": "bridge", "session_date": "2024-03-02"}
    p = write_rgr(root / "a.rgr", meta)
    info = read_recording(p).info()
    with Catalog(root) as cat:
        r1 = cat.register(p, info, None)
        r2 = cat.register(p, info, analysis_dict([-10], [1.2]))
        assert r1 == r2
        assert len(cat.sessions()) == 1
        assert cat.db.execute("SELECT COUNT(*) FROM recordings").fetchone()[0] == 1
        # A corrected date moves the recording to a new session and drops the empty old one.
        info["meta"]["session_date"] = "2024-03-09"
        cat.register(p, info, None)
        [s] = cat.sessions("P002")
        assert s["session_date"] == "2024-03-09"
        assert s["median_glute_hamstring_ratio"] == 1.2  # the analysis stays with its recording


def test_needs_analysis_tracks_content_and_version(root, write_rgr):
    p = write_rgr(root / "b.rgr", {"subject": "P003", "task": "bridge", "session_date": "2024-01-01"})
    info = read_recording(p).info()
    with Catalog(root) as cat:
        assert cat.needs_analysis(p)  # unknown file
        cat.register(p, info, None)
        assert cat.needs_analysis(p)  # catalogued, never analysed
        cat.register(p, info, analysis_dict([10], [0.9]))
        assert not cat.needs_analysis(p)
        os.utime(p, ns=(1, 1))  # touched, same bytes: SHA-256 says unchanged
        assert not cat.needs_analysis(p)
        with open(p, "ab") as f:
            f.write(b"\0")
        assert cat.needs_analysis(p)
        cat.register(p, info, analysis_dict([10], [0.9]))
        assert not cat.needs_analysis(p)
        cat.db.execute("UPDATE analyses SET software_version = '0.0.0-old'")
        assert cat.needs_analysis(p)  # analysed by another version of the software


def test_paths_must_stay_in_the_data_root(root, tmp_path, write_rgr):
    outside = write_rgr(tmp_path / "elsewhere.rgr", {"subject": "P004"})
    with Catalog(root) as cat:
        with pytest.raises(InputError, match="not inside the data root"):
            cat.register(outside, read_recording(outside).info(), None)
        with pytest.raises(InputError, match="outside the data root"):
            cat.abspath("../elsewhere.rgr")


def test_hostile_text_is_data_not_sql(root, write_rgr):
    evil = "P005'; DROP TABLE sessions; --"
    p = write_rgr(root / "c.rgr", {"subject": evil, "task": "x\" OR 1=1 --", "session_date": "2024-02-02"})
    with Catalog(root) as cat:
        cat.register(p, read_recording(p).info(), analysis_dict([1], [1.0]))
        assert [s["subject_id"] for s in cat.sessions(evil)] == [evil]
        assert cat.sessions("P005") == []
        assert cat.db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 1


def test_nan_in_an_analysis_is_refused(root, write_rgr):
    p = write_rgr(root / "d.rgr", {"subject": "P006", "session_date": "2024-02-02"})
    bad = analysis_dict([1], [1.0])
    bad["summary"]["median_glute_hamstring_ratio"] = float("nan")
    with Catalog(root) as cat:
        with pytest.raises(ValueError):
            cat.register(p, read_recording(p).info(), bad)
        assert cat.sessions() == []  # the transaction rolled back


def test_migration_from_schema_version_1(root, write_rgr):
    """A catalog written by the first schema (no summary columns) is upgraded on open and back-filled."""
    p = write_rgr(root / "P001" / "old.rgr", {"subject": "P001", "task": "prone_hip_extension",
                                                "session_date": "2023-12-24", "phase": 2})
    root.mkdir(exist_ok=True)
    db = sqlite3.connect(root / "catalog.sqlite", isolation_level=None)
    migrate(db, target=1)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    cols = {r[1] for r in db.execute("PRAGMA table_info(analyses)")}
    assert "median_glute_hamstring_ratio" not in cols
    db.execute("INSERT INTO subjects VALUES ('P001', '2023-12-24T00:00:00Z')")
    db.execute("INSERT INTO sessions(subject_id, session_date, task, phase) VALUES "
               "('P001', '2023-12-24', 'prone_hip_extension', 2)")
    st = p.stat()
    db.execute("INSERT INTO recordings(session_id, path, size_bytes, mtime_ns, sha256, info_json, registered_utc) "
               "VALUES (1, 'P001/old.rgr', ?, ?, 'abc', '{}', 'x')", (st.st_size, st.st_mtime_ns))
    db.execute("INSERT INTO analyses(recording_id, software_version, recording_sha256, analysis_json, created_utc) "
               "VALUES (1, ?, 'abc', ?, 'x')", (__version__, json.dumps(analysis_dict([-20, -30, 5], [1.1, 1.3, 1.2]))))
    db.close()

    with Catalog(root) as cat:
        assert cat.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
        [s] = cat.sessions("P001")
        assert s["reps"] == 3
        assert s["median_onset_latency_ms"] == -20
        assert s["median_glute_hamstring_ratio"] == 1.2
        assert s["glute_first_fraction"] == pytest.approx(2 / 3)
        assert s["phase"] == 2
    with Catalog(root) as cat:  # a second open is a no-op
        assert cat.schema_version == SCHEMA_VERSION


def test_newer_schema_is_refused(root):
    root.mkdir()
    db = sqlite3.connect(root / "catalog.sqlite")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(CatalogError, match="newer than this reengage"):
        Catalog(root)
    assert issubclass(CatalogError, ReengageError)


def test_readonly_open(root, write_rgr):
    with pytest.raises(CatalogError, match="no catalog"):
        Catalog(root, readonly=True)
    p = write_rgr(root / "e.rgr", {"subject": "P007", "session_date": "2024-05-05"})
    with Catalog(root) as cat:
        cat.register(p, read_recording(p).info(), None)
    with Catalog(root, readonly=True) as ro:
        assert [s["subject_id"] for s in ro.sessions()] == ["P007"]
        with pytest.raises(sqlite3.OperationalError):
            ro.db.execute("DELETE FROM sessions")
