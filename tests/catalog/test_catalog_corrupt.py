"""A damaged catalog (garbage, truncated, a zeroed page) is detected at open, moved aside and rebuilt from the
recordings, and what a person entered (a session correction, a registered patient, a merge) survives through
the journal; opened read-only it is one clear error; a read-only data root is served read-only."""

from __future__ import annotations

import json
import os

import pytest
from test_catalog import analysis_dict

import reengage.catalog as catalog_module
from reengage.batch import analyze_all
from reengage.catalog import CATALOG_NAME, Catalog
from reengage.catalog_journal import JOURNAL_NAME
from reengage.errors import CatalogError
from reengage.io.recfile import read_recording


def _garbage(path):
    path.write_bytes(os.urandom(path.stat().st_size))


def _truncated(path):
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2 + 100)


def _zeroed_page(path):
    size = path.stat().st_size
    with open(path, "r+b") as f:
        for page in range(1, size // 4096):  # every page but the header: the tables' b-trees are gone
            f.seek(page * 4096)
            f.write(b"\x00" * 4096)


def _empty(path):
    path.write_bytes(b"")


def _deleted(path):
    path.unlink()


DAMAGE = [_garbage, _truncated, _zeroed_page, _empty, _deleted]


def _clinic(root, write_rgr) -> dict:
    """Three recordings, one of them under a mistyped id; a correction, a registered patient, a merge."""
    meta = {"task": "bridge", "session_date": "2026-07-01"}
    a = write_rgr(root / "P001" / "a.rgr", {"subject": "P001", "phase": 1, **meta})
    b = write_rgr(root / "P01" / "b.rgr", {"subject": "P01", **meta}, seed=1)
    c = write_rgr(root / "P002" / "c.rgr", {"subject": "P002", **meta}, seed=2)
    with Catalog(root) as cat:
        for p in (a, b, c):
            cat.register(p, read_recording(p).info(), analysis_dict([5], [1.0]))
        cat.edit_session(cat.session_of_file(a), who="dr.k", phase=2, pain=3.5, notes="knee sore")
        cat.add_patient("P100", display_name="new referral", who="reception")
        cat.merge_patients("P01", "P001", who="dr.k")
        assert cat.notice is None
    return {"a": a, "b": b, "c": c}


def _assert_kept(cat, files) -> None:
    a = cat.session(cat.session_of_file(files["a"]))
    assert (a["phase"], a["pain"], a["notes"]) == (2, 3.5, "knee sore")
    assert [(e["field"], e["new"], e["who"]) for e in cat.session_edits(a["session_id"])] == [
        ("phase", 2, "dr.k"), ("pain", 3.5, "dr.k"), ("notes", "knee sore", "dr.k")]
    assert cat.session(cat.session_of_file(files["b"]))["subject_id"] == "P001"
    assert cat.patient("P100")["registered"] and cat.patient("P100")["display_name"] == "new referral"
    assert [p["subject_id"] for p in cat.patients()] == ["P001", "P002", "P100"]


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda f: f.__name__.strip("_"))
def test_a_damaged_catalog_is_moved_aside_and_rebuilt_keeping_what_people_entered(tmp_path, write_rgr, damage):
    root = tmp_path / "data"
    files = _clinic(root, write_rgr)
    before = (root / CATALOG_NAME).read_bytes()
    damage(root / CATALOG_NAME)
    with Catalog(root) as cat:
        assert cat.notice is not None and "\n" not in cat.notice
        assert "was damaged" in cat.notice and "rebuilt from 3 recordings" in cat.notice
        _assert_kept(cat, files)
        assert all(cat.needs_analysis(p) for p in files.values())  # the analyses are redone, not trusted
    aside = sorted(root.glob(CATALOG_NAME + ".damaged-*"))
    if damage in (_garbage, _truncated, _zeroed_page):
        assert len(aside) == 1 and aside[0].read_bytes() != before  # kept for a look, not overwritten
    with Catalog(root) as cat:  # the rebuilt catalog is sound: no second repair
        assert cat.notice is None
        _assert_kept(cat, files)


def test_analyze_all_on_a_damaged_catalog_rebuilds_and_analyses_everything(tmp_path, write_rgr, caplog):
    root = tmp_path / "data"
    files = _clinic(root, write_rgr)
    _garbage(root / CATALOG_NAME)
    result = analyze_all(root, workers=1)
    assert result.exit_code == 0 and sorted(result.analysed) == ["P001/a.rgr", "P002/c.rgr", "P01/b.rgr"]
    assert any("was damaged" in r.getMessage() for r in caplog.records)
    with Catalog(root) as cat:
        _assert_kept(cat, files)
        assert all(s["analysis_id"] is not None for s in cat.sessions())


def test_a_damaged_catalog_opened_read_only_is_one_clear_error_and_left_alone(tmp_path, write_rgr):
    root = tmp_path / "data"
    _clinic(root, write_rgr)
    Catalog(root, readonly=True).close()  # found sound once: a later damage is still seen
    _garbage(root / CATALOG_NAME)
    damaged = (root / CATALOG_NAME).read_bytes()
    with pytest.raises(CatalogError, match="damaged .*`reengage analyze --all` moves it aside") as e:
        Catalog(root, readonly=True)
    assert "\n" not in str(e.value)
    assert (root / CATALOG_NAME).read_bytes() == damaged and not list(root.glob("*.damaged-*"))


def test_a_catalog_from_before_the_journal_seeds_it_from_its_audit_trail(tmp_path, write_rgr):
    root = tmp_path / "data"
    files = _clinic(root, write_rgr)
    (root / JOURNAL_NAME).unlink()
    with Catalog(root) as cat:
        assert cat.notice is None
    ops = [json.loads(line)["op"] for line in (root / JOURNAL_NAME).read_text().splitlines()]
    assert ops == ["edit", "edit", "edit", "add_patient", "merge"]
    _truncated(root / CATALOG_NAME)
    with Catalog(root) as cat:
        _assert_kept(cat, files)


def test_a_change_the_journal_cannot_hold_is_not_made(tmp_path, write_rgr, monkeypatch):
    root = tmp_path / "data"
    files = _clinic(root, write_rgr)

    def fail(self, entries):
        if entries:
            raise CatalogError("cannot write the catalog journal (disk full)")

    monkeypatch.setattr(catalog_module.Journal, "append", fail)
    with Catalog(root) as cat:
        sid = cat.session_of_file(files["c"])
        with pytest.raises(CatalogError, match="journal"):
            cat.edit_session(sid, who="dr.k", pain=9)
        assert cat.session(sid)["pain"] is None and cat.session_edits(sid) == []


def test_a_torn_last_journal_line_costs_only_that_line(tmp_path, write_rgr):
    root = tmp_path / "data"
    files = _clinic(root, write_rgr)
    with open(root / JOURNAL_NAME, "a") as f:
        f.write('{"op": "edit", "path": "P002/c.rgr", "fie')  # a crash in the middle of a write
    _garbage(root / CATALOG_NAME)
    with Catalog(root) as cat:
        assert "1 not applicable" in cat.notice
        _assert_kept(cat, files)


def test_a_read_only_data_root_is_served_read_only(tmp_path, write_rgr, monkeypatch):
    root = tmp_path / "data"
    files = _clinic(root, write_rgr)
    monkeypatch.setattr(catalog_module, "root_writable", lambda root: False)
    with Catalog(root) as cat:
        assert cat.readonly and "read-only" in cat.notice and "\n" not in cat.notice
        _assert_kept(cat, files)
        with pytest.raises(CatalogError, match="opened read-only"):
            cat.add_patient("P200")
    _garbage(root / CATALOG_NAME)
    with pytest.raises(CatalogError, match="damaged .*read-only, so it cannot be repaired"):
        Catalog(root)  # no repair attempted where nothing may be written
    assert not list(root.glob("*.damaged-*"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through any permission")
def test_a_really_read_only_data_root_is_served_read_only(tmp_path, write_rgr):
    root = tmp_path / "data"
    files = _clinic(root, write_rgr)
    root.chmod(0o555)
    try:
        with Catalog(root) as cat:
            assert cat.readonly and "read-only" in cat.notice
            _assert_kept(cat, files)
    finally:
        root.chmod(0o755)


def test_analyze_all_on_a_read_only_data_root_says_so_in_one_line(tmp_path, write_rgr, monkeypatch):
    root = tmp_path / "data"
    _clinic(root, write_rgr)
    write_rgr(root / "P002" / "new.rgr", {"subject": "P002", "task": "bridge"}, seed=5)
    monkeypatch.setattr(catalog_module, "root_writable", lambda root: False)
    with pytest.raises(CatalogError, match=r"recordings need analysing but the data root .* is read-only") as e:
        analyze_all(root, workers=1)
    assert "\n" not in str(e.value)
