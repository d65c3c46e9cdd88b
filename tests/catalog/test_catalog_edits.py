"""Phase, pain and notes corrected after recording: validated, audited (who, when, old, new), and never undone by
re-registering or re-analysing the file."""

from __future__ import annotations

import re

import pytest
from test_catalog import analysis_dict

from reengage.catalog import Catalog
from reengage.errors import InputError
from reengage.io.recfile import read_recording

META = {"subject": "P020", "task": "bridge", "session_date": "2026-06-01", "phase": 1, "pain": 4, "notes": "as typed"}


@pytest.fixture
def catalogued(tmp_path, write_rgr):
    root = tmp_path / "data"
    p = write_rgr(root / "P020" / "s.rgr", META)
    cat = Catalog(root)
    cat.register(p, read_recording(p).info(), analysis_dict([10], [0.8]))
    yield cat, p, cat.session_of_file(p)
    cat.close()


def test_an_edit_changes_the_session_and_is_audited(catalogued):
    cat, _, sid = catalogued
    changes = cat.edit_session(sid, who="dr Ana", phase=2, pain=4, notes="left knee sore")
    assert changes == [{"field": "phase", "old": 1, "new": 2}, {"field": "notes", "old": "as typed",
                                                                 "new": "left knee sore"}]  # pain: unchanged
    s = cat.session(sid)
    assert (s["phase"], s["pain"], s["notes"]) == (2, 4.0, "left knee sore")
    trail = cat.session_edits(sid)
    assert [(e["field"], e["old"], e["new"], e["who"], e["subject_id"]) for e in trail] == [
        ("phase", 1, 2, "dr Ana", "P020"), ("notes", "as typed", "left knee sore", "dr Ana", "P020")]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", e["edited_utc"]) for e in trail)
    cat.edit_session(sid, who="dr Ben", pain=None, phase="3")  # None clears; the dashboard's text is accepted
    assert (cat.session(sid)["pain"], cat.session(sid)["phase"]) == (None, 3)
    assert [(e["field"], e["old"], e["new"], e["who"]) for e in cat.session_edits(sid)[2:]] == [
        ("phase", 2, 3, "dr Ben"), ("pain", 4.0, None, "dr Ben")]
    assert cat.edit_session(sid, who="dr Ben", phase=3) == [] and len(cat.session_edits(sid)) == 4


@pytest.mark.parametrize("kwargs, message", [
    ({"phase": 4}, "phase 4: must be 1, 2 or 3"),
    ({"phase": 0}, "phase 0: must be 1, 2 or 3"),
    ({"phase": 1.5}, "phase 1.5"),
    ({"phase": True}, "phase True"),
    ({"pain": 11}, "pain 11: must be a number from 0 to 10"),
    ({"pain": -1}, "pain -1"),
    ({"pain": float("nan")}, "pain nan"),
    ({"pain": "a lot"}, "pain 'a lot'"),
])
def test_bad_values_are_refused_and_nothing_is_written(catalogued, kwargs, message):
    cat, _, sid = catalogued
    with pytest.raises(InputError, match=re.escape(message)):
        cat.edit_session(sid, who="dr Ana", notes="changed too", **kwargs)
    s = cat.session(sid)
    assert (s["phase"], s["pain"], s["notes"]) == (1, 4.0, "as typed") and cat.session_edits(sid) == []


def test_who_is_required_and_the_session_must_exist(catalogued):
    cat, _, sid = catalogued
    with pytest.raises(InputError, match="who"):
        cat.edit_session(sid, who="  ", phase=2)
    with pytest.raises(InputError, match="session 999: no such session"):
        cat.edit_session(999, who="dr Ana", phase=2)
    assert cat.session(sid)["phase"] == 1


def test_re_registering_or_re_analysing_never_undoes_an_edit(catalogued, write_rgr):
    cat, p, sid = catalogued
    cat.edit_session(sid, who="dr Ana", phase=3, notes="corrected")
    cat.register(p, read_recording(p).info(), analysis_dict([12], [0.9]))  # re-analysed (new software, say)
    s = cat.session(sid)
    assert (s["phase"], s["notes"], s["median_glute_hamstring_ratio"]) == (3, "corrected", 0.9)
    # The file itself rewritten with other values: what was never edited follows it, what was edited stays.
    p.unlink()
    write_rgr(p, {**META, "phase": 2, "pain": 6, "notes": "from the file"}, seed=5)
    assert cat.needs_analysis(p)
    cat.register(p, read_recording(p).info(), analysis_dict([12], [0.9]))
    s = cat.session(sid)
    assert (s["phase"], s["pain"], s["notes"]) == (3, 6.0, "corrected")
    assert [e["field"] for e in cat.session_edits(sid)] == ["phase", "notes"]
