"""The patient register: add, list, rename and merge (every session follows, audited), "did you mean" for an
unknown id, and a recording of an unknown subject still catalogued."""

from __future__ import annotations

import pytest
from test_catalog import analysis_dict

from reengage.catalog import Catalog
from reengage.errors import InputError
from reengage.io.recfile import read_recording


@pytest.fixture
def cat(tmp_path):
    with Catalog(tmp_path / "data") as c:
        yield c


def _record(cat, write_rgr, name, subject, date="2026-07-01", **meta):
    p = write_rgr(cat.data_root / subject / name, {"subject": subject, "task": "bridge", "session_date": date,
                                                   **meta})
    cat.register(p, read_recording(p).info(), analysis_dict([5], [1.0]))
    return p


def test_add_and_list(cat, write_rgr):
    row = cat.add_patient("P001", display_name="knee, left", note="referred by Dr X", who="reception")
    assert row == {"subject_id": "P001", "display_name": "knee, left", "note": "referred by Dr X",
                   "registered": True, "created_utc": row["created_utc"], "sessions": 0, "empty_sessions": 0,
                   "first_date": None, "last_date": None}
    assert cat.has_patient("P001", registered_only=True) and not cat.has_patient("P002")
    with pytest.raises(InputError, match="patient P001: already registered"):
        cat.add_patient("P001")
    with pytest.raises(InputError, match="patient id"):
        cat.add_patient("  ")
    _record(cat, write_rgr, "a.rgr", "P002")  # unknown subject: catalogued all the same, flagged
    assert cat.has_patient("P002") and not cat.has_patient("P002", registered_only=True)
    assert [(p["subject_id"], p["registered"], p["sessions"]) for p in cat.patients()] == [
        ("P001", True, 0), ("P002", False, 1)]
    cat.add_patient("P002", who="dr Ana")  # a person confirms it: its session stays
    assert cat.patient("P002")["registered"] and cat.patient("P002")["sessions"] == 1
    assert [(e["field"], e["who"]) for e in cat.patient_edits("P002")] == [("registered", "dr Ana")]
    assert [(e["field"], e["new"]) for e in cat.patient_edits("P001")] == [("added", "P001")]


def test_unknown_subject_gets_the_closest_ids(cat, write_rgr):
    for sid in ("P001", "P010", "Q777"):
        cat.add_patient(sid)
    _record(cat, write_rgr, "typo.rgr", "P0O1")
    assert cat.closest_patients("P0O1") == ["P001", "P010"]
    assert cat.closest_patients("p001", n=1) == ["P001"]  # case does not hide a match
    assert cat.closest_patients("ZZZZZZ") == []
    assert cat.unknown_subject_warning("P001") is None
    assert cat.unknown_subject_warning("P0O1") == (
        "subject P0O1 is not in the patient register; did you mean P001, P010? "
        "(`reengage patients add P0O1` registers it)")


def test_rename_moves_every_session_and_re_analysis_does_not_move_them_back(cat, write_rgr):
    cat.add_patient("P100", display_name="label")
    a = _record(cat, write_rgr, "a.rgr", "P100")
    _record(cat, write_rgr, "b.rgr", "P100", date="2026-07-08")
    _record(cat, write_rgr, "c.rgr", "P200")
    assert cat.rename_patient("P100", "P101", who="dr Ana") == 2
    assert not cat.has_patient("P100") and cat.patient("P101")["display_name"] == "label"
    assert [s["subject_id"] for s in cat.sessions()] == ["P101", "P101", "P200"]
    sid = cat.session_of_file(a)
    assert [(e["field"], e["old"], e["new"], e["who"]) for e in cat.session_edits(sid)] == [
        ("subject_id", "P100", "P101", "dr Ana")]
    assert [(e["field"], e["old"], e["new"]) for e in cat.patient_edits("P101")] == [
        ("added", None, "P100"), ("subject_id", "P100", "P101")]
    cat.register(a, read_recording(a).info(), analysis_dict([5], [1.0]))  # the file still says P100
    assert cat.session(sid)["subject_id"] == "P101" and not cat.has_patient("P100")
    with pytest.raises(InputError, match="patient P200: already exists; merge P101 into P200"):
        cat.rename_patient("P101", "P200")
    with pytest.raises(InputError, match="patient P999: not in the register"):
        cat.rename_patient("P999", "P998")


def test_merge_moves_sessions_audited_and_removes_the_duplicate_id(cat, write_rgr):
    cat.add_patient("P001", note="the real one")
    _record(cat, write_rgr, "a.rgr", "P001")
    typo = _record(cat, write_rgr, "b.rgr", "P0O1", phase=2, notes="typo day")
    assert cat.merge_patients("P0O1", "P001", who="dr Ana") == 1
    assert [p["subject_id"] for p in cat.patients()] == ["P001"]
    assert cat.patient("P001")["note"] == "the real one" and cat.patient("P001")["sessions"] == 2
    s = cat.session(cat.session_of_file(typo))
    assert (s["subject_id"], s["phase"], s["notes"]) == ("P001", 2, "typo day")  # its own metadata kept
    assert [(e["field"], e["old"], e["new"], e["who"]) for e in cat.session_edits(s["session_id"])] == [
        ("subject_id", "P0O1", "P001", "dr Ana")]
    assert ("merged", "P0O1", "P001") in [(e["field"], e["old"], e["new"]) for e in cat.patient_edits("P001")]
    with pytest.raises(InputError, match="cannot be merged into itself"):
        cat.merge_patients("P001", "P001")
    with pytest.raises(InputError, match=r"patient P0O1: not in the register \(did you mean P001\?\)"):
        cat.merge_patients("P0O1", "P001")


def test_hostile_ids_are_data(cat):
    evil = "P1'); DROP TABLE patients; --"
    cat.add_patient(evil)
    cat.rename_patient(evil, evil + "x")
    assert [p["subject_id"] for p in cat.patients()] == [evil + "x"]
