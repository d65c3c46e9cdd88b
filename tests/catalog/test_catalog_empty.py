"""A recording without samples (a wrong port, Ctrl-C at once) is kept and catalogued as an empty session: never
analysed, out of every trend, counted so a page can say how many are not shown."""

from __future__ import annotations

import numpy as np
from rich.console import Console
from test_catalog import analysis_dict

from reengage.batch import analyze_all, register_file
from reengage.catalog import Catalog
from reengage.io.recfile import RecordingWriter, StreamSpec, read_recording
from reengage.model import Channel


def empty_rgr(path, subject="P030"):
    ch = [Channel("glute_max", "glute_max", "adc", "raw", 1.0, 511.5)]
    with RecordingWriter(path, [StreamSpec("emg", 1000.0, ch)], {"subject": subject, "task": "bridge",
                                                                 "session_date": "2026-08-02", "phase": 1}):
        pass
    return path


def test_an_empty_recording_is_kept_flagged_and_left_out_of_trends(tmp_path, write_rgr, monkeypatch):
    root = tmp_path / "data"
    good = write_rgr(root / "P030" / "good.rgr", {"subject": "P030", "task": "bridge", "session_date": "2026-08-01"})
    empty = empty_rgr(root / "P030" / "empty.rgr")
    monkeypatch.setattr("reengage.analysis.analyze", lambda *a, **k: (_ for _ in ()).throw(
        AssertionError("an empty recording was analysed")))
    console = Console(record=True, width=40)
    with Catalog(root) as cat:
        cat.register(good, read_recording(good).info(), analysis_dict([5], [1.0]))
        result = register_file(cat, empty, console=console)
        assert result.empty and result.analysis is None
        [line] = console.export_text().splitlines()
        assert line == (f"0 samples recorded: {empty} is kept and catalogued as an empty session "
                        "(not analysed, not in trends)")
        assert [s["path"] for s in cat.sessions("P030")] == ["P030/good.rgr"]
        [e] = cat.empty_sessions("P030")
        assert (e["path"], e["empty"], e["analysis_id"], e["phase"]) == ("P030/empty.rgr", True, None, 1)
        assert cat.session(e["session_id"])["empty"] is True  # the page of the file itself still opens
        assert [s["path"] for s in cat.sessions(include_empty=True)] == ["P030/good.rgr", "P030/empty.rgr"]
        assert list(cat.analyses_for_subject("P030")) == [cat.session_of_file(good)]
        assert [(p["sessions"], p["empty_sessions"]) for p in cat.patients()] == [(1, 1)]
        assert cat.subjects()[0]["sessions"] == 1
        assert not cat.needs_analysis(empty)  # `analyze --all` leaves it alone


def test_analyze_all_catalogues_an_empty_recording_once(tmp_path):
    root = tmp_path / "data"
    empty_rgr(root / "P031" / "empty.rgr", subject="P031")
    first = analyze_all(root, workers=1)
    assert first.empty == ["P031/empty.rgr"] and first.failed == {} and first.exit_code == 0
    again = analyze_all(root, workers=1)
    assert again.empty == [] and again.unchanged == 1
    with Catalog(root) as cat:
        assert cat.sessions() == [] and [s["subject_id"] for s in cat.empty_sessions()] == ["P031"]
