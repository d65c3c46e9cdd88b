"""The dashboard's writes (session edits, the patient register) and what the pages read back: every write
goes through dashboard/data.py into the catalog's audited API; views never write."""

from __future__ import annotations

import pytest

from dash_testdata import build_root, write_empty
from reengage.catalog import Catalog
from reengage.dashboard import data, figures
from reengage.errors import InputError


@pytest.fixture()
def root(tmp_path):
    build_root(tmp_path, real=False)
    return tmp_path


def test_edit_session_stores_the_value_and_its_audit_entry(root):
    sid = data.patient(root, "P001")[0].sessions[-1]["session_id"]
    before = data.session(root, sid)["session"]
    changes = data.edit_session(root, sid, who="AB", phase=before["phase"], pain=4.5, notes="knee sore")
    assert {c["field"] for c in changes} == {"pain", "notes"}  # the phase did not change: no entry
    after = data.session(root, sid)["session"]
    assert after["pain"] == 4.5 and after["notes"] == "knee sore" and after["phase"] == before["phase"]
    history = data.session_edits(root, sid)
    assert [(e["field"], e["old"], e["new"], e["who"]) for e in history] == [
        ("notes", before["notes"], "knee sore", "AB"), ("pain", before["pain"], 4.5, "AB")]  # newest first
    assert all(e["edited_utc"] for e in history)
    # the Patient page's table shows the corrected value
    row = next(s for s in data.patient(root, "P001")[0].sessions if s["session_id"] == sid)
    assert row["pain"] == 4.5 and row["notes"] == "knee sore"


def test_bad_edits_are_refused_and_nothing_is_written(root):
    sid = data.patient(root, "P001")[0].sessions[0]["session_id"]
    with pytest.raises(InputError):
        data.edit_session(root, sid, who="AB", pain=11)
    with pytest.raises(InputError):
        data.edit_session(root, sid, who="", pain=3)
    with pytest.raises(InputError):
        data.edit_session(root, sid, who="AB", phase=4)
    assert data.session_edits(root, sid) == []


def test_views_open_the_catalog_read_only(root, monkeypatch):
    opened = []

    class Spy(Catalog):
        def __init__(self, data_root, *, readonly=False):
            opened.append(readonly)
            super().__init__(data_root, readonly=readonly)

    monkeypatch.setattr(data, "Catalog", Spy)
    sid = data.patient(root, "P001")[0].sessions[0]["session_id"]
    assert data.patients(root) and data.register(root) and data.session(root, sid)
    data.session_edits(root, sid), data.empty_recordings(root, "P001")
    assert opened and all(opened)  # every view: read-only
    opened.clear()
    data.edit_session(root, sid, who="AB", pain=1)
    assert opened == [False]  # the edit, and only it, opens read-write


def test_register_lists_registered_and_unregistered_ids_and_adds_renames_merges(root):
    rows = {r["subject_id"]: r for r in data.patients(root)}
    assert set(rows) == {"P001", "P002"} and not any(r["registered"] for r in rows.values())
    data.add_patient(root, "P001", who="AB", display_name="knee clinic 3")
    data.add_patient(root, "P004", who="AB")
    rows = {r["subject_id"]: r for r in data.patients(root)}
    assert rows["P001"]["registered"] and rows["P001"]["display_name"] == "knee clinic 3"
    assert rows["P004"]["registered"] and rows["P004"]["sessions"] == 0 and rows["P004"]["last_date"] is None
    assert not rows["P002"]["registered"]
    assert [r["subject_id"] for r in data.patients(root, sort="last_date")][-1] == "P004"  # no date sorts last
    with pytest.raises(InputError):
        data.add_patient(root, "P004", who="AB")
    assert data.rename_patient(root, "P002", "P005", who="AB") == 1
    assert data.merge_patients(root, "P005", "P004", who="CD") == 1
    rows = {r["subject_id"]: r for r in data.patients(root)}
    assert set(rows) == {"P001", "P004"} and rows["P004"]["sessions"] == 1
    [moved] = data.patient(root, "P004")[0].sessions
    history = data.session_edits(root, moved["session_id"])
    assert [(e["old"], e["new"], e["who"]) for e in history] == [("P005", "P004", "CD"), ("P002", "P005", "AB")]


def test_empty_recordings_are_left_out_of_the_trends_with_a_count(root):
    write_empty(root, "P001", "prone_hip_extension", "2024-06-02")
    write_empty(root, "P001", "prone_hip_extension", "2024-06-03")
    write_empty(root, "P006", "bridge", "2024-06-03")
    [t] = data.patient(root, "P001")
    assert t.empty == 2 and all(not s.get("empty") for s in t.sessions)
    fig = figures.trend_figure(t)
    ratio = next(tr for tr in fig["data"] if tr["name"] == figures.RATIO_TRACE)
    assert "2024-06-02" not in ratio["x"] and len(ratio["x"]) == len(t.sessions)
    rows = {r["subject_id"]: r for r in data.patients(root)}
    assert rows["P001"]["empty_sessions"] == 2 and rows["P006"]["sessions"] == 0
    assert rows["P006"]["empty_sessions"] == 1
    assert data.patient(root, "P006") == [] and len(data.empty_recordings(root, "P006")) == 1
    with Catalog(root) as cat:
        assert len(cat.sessions("P001", include_empty=True)) == len(t.sessions) + 2


def test_a_single_session_is_a_point_in_a_range_of_weeks(root):
    [t] = data.patient(root, "P002")
    fig = figures.trend_figure(t)
    ratio = next(tr for tr in fig["data"] if tr["name"] == figures.RATIO_TRACE)
    assert len(ratio["x"]) == 1 and "markers" in ratio["mode"]
    lo, hi = fig["layout"]["xaxis"]["range"]
    import datetime as dt

    # weeks, not hours: the session with a week before it, and after it the published points' column (a week
    # later) with room for their labels
    assert 28 <= (dt.date.fromisoformat(hi) - dt.date.fromisoformat(lo)).days <= 91
    assert (dt.date.fromisoformat(ratio["x"][0]) - dt.date.fromisoformat(lo)).days >= 7
    assert lo < figures.reference_x(t.sessions) < hi
    axes = [k for k in fig["layout"] if k.startswith("xaxis")]
    assert len(axes) == len(figures.TREND_ROWS) and all(fig["layout"][k]["range"] == [lo, hi] for k in axes)
    assert fig["layout"]["yaxis"]["rangemode"] == "tozero"  # the ratio axis starts at 0
