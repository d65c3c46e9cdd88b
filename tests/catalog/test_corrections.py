"""A clinician's corrections of an analysis (reengage.corrections, Catalog.correct): stored with who, when, old
and new value; the effective analysis is what the catalog's medians, `reengage trend` and the report read; they
survive re-analysis and a catalog rebuilt from its journal; a correction no rep matches is kept and reported."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from reengage import catalog as catalog_module
from reengage.analysis import summarize_reps
from reengage.batch import analyze_all
from reengage.catalog import Catalog
from reengage.cli import app
from reengage.corrections import apply_corrections, describe_unmatched
from reengage.errors import InputError
from reengage.io.recfile import RecordingWriter, StreamSpec
from reengage.model import Channel
from reengage.synth import SubjectProfile, synthesize

SESSIONS = [("2024-05-01", -20.0, 0.6, 11), ("2024-05-08", -30.0, 0.8, 12)]


def _write(root, date, latency, ratio, seed):
    profile = SubjectProfile.from_latency_ratio(latency, ratio)
    syn = synthesize(profile, duration_s=20.0, seed=seed, fs_hz=1000.0)
    path = root / "P001" / f"P001_{date.replace('-', '')}_prone_hip_extension.rgr"
    meta = {"subject": "P001", "task": "prone_hip_extension", "session_date": date, "phase": 1, "pain": 2.0}
    with RecordingWriter(path, [StreamSpec("emg", syn.fs_hz, [Channel(m, m, "mV", "raw") for m in syn.muscles],
                                           "<f4")], meta) as w:
        w.write_block("emg", 0, syn.emg_mv.astype("<f4"))
        for ev in syn.events:
            w.add_event(ev)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("corr")
    for s in SESSIONS:
        _write(root, *s)
    assert analyze_all(root, workers=1).exit_code == 0
    return root


@pytest.fixture()
def root(built, tmp_path):
    import shutil

    dst = tmp_path / "data"
    shutil.copytree(built, dst)
    return dst


def _first_session(cat):
    s = cat.sessions("P001")[-1]
    return s, cat.analysis(s["recording_id"])


def _both_onsets(a):
    return next(r for r in a["reps"] if not r["excluded"] and r["onset_s"]["glute_max"] is not None
                and r["onset_s"]["hamstrings"] is not None)


def _trend(root):
    res = CliRunner().invoke(app, ["trend", "--subject", "P001", "--data", str(root), "--json"],
                             standalone_mode=False)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout[res.stdout.index("{"):])


def test_moved_onset_changes_latency_medians_trend_and_report_with_who_when_old_new(root):
    from reengage.dashboard import data

    with Catalog(root) as cat:
        s, a = _first_session(cat)
        r = _both_onsets(a)
        g, h = r["onset_s"]["glute_max"], r["onset_s"]["hamstrings"]
        new_h = round(h - 0.2, 4)  # 200 ms earlier: the glutes now come later than the hamstrings
        c = cat.correct(s["session_id"], "move_onset", r["index"], channel="hamstrings", seconds=new_h, who="AB",
                        reason="onset on the artefact")
        after = cat.analysis(s["recording_id"])
        row = cat.session(s["session_id"])
        [stored] = cat.corrections(s["session_id"])
        machine = cat.machine_analysis(s["recording_id"])
    assert (stored["kind"], stored["who"], stored["old"], stored["new"]) == ("move_onset", "AB", h, new_h)
    assert stored["when_utc"] and stored["reason"] == "onset on the artefact" and c["correction_id"] == 1
    rep = after["reps"][r["index"]]
    assert rep["onset_s"]["hamstrings"] == new_h
    assert rep["onset_latency_ms"] == round(1000 * (g - new_h), 1) != r["onset_latency_ms"]
    assert machine == a  # analyze's own document is kept unchanged beside it
    # the summary is analyze's own, over the corrected reps; the catalog's median column follows it
    assert after["summary"] == summarize_reps(after["reps"], list(a["channels"]), a["onset_method"], None)
    assert after["summary"]["median_onset_latency_ms"] != a["summary"]["median_onset_latency_ms"]
    assert row["median_onset_latency_ms"] == after["summary"]["median_onset_latency_ms"]
    assert after["corrections"][0]["who"] == "AB"
    doc = _trend(root)
    shown = next(x for x in doc["sessions"] if x["session_id"] == s["session_id"])
    assert shown["onset_latency_ms"] == after["summary"]["median_onset_latency_ms"]
    # the report page (and the patient page) read their rows through data.patient
    [task] = data.patient(root, "P001")
    shown = next(x for x in task.sessions if x["session_id"] == s["session_id"])
    assert shown["median_onset_latency_ms"] == after["summary"]["median_onset_latency_ms"]


def test_excluded_rep_leaves_the_summary_and_undo_brings_it_back(root):
    with Catalog(root) as cat:
        s, a = _first_session(cat)
        r = _both_onsets(a)
        c = cat.correct(s["session_id"], "exclude_rep", r["index"], who="CD", reason="patient moved")
        after = cat.analysis(s["recording_id"])
        assert cat.correct(s["session_id"], "exclude_rep", r["index"], who="CD") is None  # already so
        undo = cat.undo_correction(s["session_id"], c["correction_id"], who="EF")
        back = cat.analysis(s["recording_id"])
        trail = cat.corrections(s["session_id"])
    assert after["summary"]["reps"] == a["summary"]["reps"] - 1
    assert after["reps"][r["index"]]["exclusion_reasons"][-1] == "excluded by clinician (CD): patient moved"
    assert {"index": r["index"], "reasons": ["excluded by clinician (CD): patient moved"]} in \
        after["summary"]["excluded_reps"]
    assert (undo["kind"], undo["old"], undo["new"], undo["who"], undo["undoes"]) == (
        "include_rep", True, False, "EF", c["correction_id"])
    assert [t["kind"] for t in trail] == ["exclude_rep", "include_rep"]
    assert back["summary"] == a["summary"]


def test_bad_corrections_are_refused_and_nothing_is_stored(root):
    with Catalog(root) as cat:
        s, a = _first_session(cat)
        r = _both_onsets(a)
        for kwargs in ({"channel": "quads", "seconds": 1.0}, {"channel": "glute_max", "seconds": -1},
                       {"channel": "glute_max", "seconds": a["duration_s"] + 5},
                       {"channel": "glute_max", "seconds": r["start_s"] - 1.5},  # far before its rep
                       {"channel": "glute_max", "seconds": r["offset_s"]["glute_max"] + 0.01}):  # after its offset
            with pytest.raises(InputError):
                cat.correct(s["session_id"], "move_onset", r["index"], who="AB", **kwargs)
        with pytest.raises(InputError):
            cat.correct(s["session_id"], "exclude_rep", len(a["reps"]), who="AB")
        with pytest.raises(InputError):
            cat.correct(s["session_id"], "exclude_rep", 0, who="")
        assert cat.corrections(s["session_id"]) == []
        assert cat.analysis(s["recording_id"]) == a


def test_corrections_survive_reanalysis_and_a_rebuild_from_the_journal(root, monkeypatch):
    with Catalog(root) as cat:
        s, a = _first_session(cat)
        r = _both_onsets(a)
        cat.correct(s["session_id"], "delete_onset", r["index"], channel="glute_max", who="AB")
        cat.correct(s["session_id"], "exclude_rep", 0, who="AB", reason="warm-up")
        want = cat.analysis(s["recording_id"])
        trail = cat.corrections(s["session_id"])
    assert want["reps"][r["index"]]["onset_latency_ms"] is None
    # a new software version re-analyses every file: the corrections are re-applied to the new analysis
    monkeypatch.setattr(catalog_module, "__version__", "9.9.9-test")
    assert analyze_all(root, workers=1).analysed
    with Catalog(root) as cat:
        again = cat.analysis(s["recording_id"])
        assert again["summary"] == want["summary"] and again["reps"] == want["reps"]
        assert cat.session(s["session_id"])["software_version"] == "9.9.9-test"
    # the catalog is lost: rebuilt from the recordings and its journal, then re-analysed
    for suffix in ("", "-wal", "-shm"):
        p = root / f"catalog.sqlite{suffix}"
        if p.exists():
            os.remove(p)
    with Catalog(root) as cat:
        assert cat.notice and "journalled corrections" in cat.notice
    analyze_all(root, workers=1)
    with Catalog(root) as cat:
        sid = cat.session_of_file(root / s["path"])
        rebuilt = cat.corrections(sid)
        final = cat.analysis(cat.session(sid)["recording_id"])
    strip = [{k: v for k, v in c.items() if k != "correction_id"} for c in trail]
    assert [{k: v for k, v in c.items() if k != "correction_id"} for c in rebuilt] == strip
    assert final["summary"] == want["summary"] and final["reps"] == want["reps"]


def test_unmatched_correction_is_kept_and_reported(root, monkeypatch):
    with Catalog(root) as cat:
        s, a = _first_session(cat)
        cat.correct(s["session_id"], "exclude_rep", 1, who="AB", reason="cough")
    # the file's new analysis has its reps 0.5 s later (beyond the 150 ms match): the correction cannot be placed
    shifted = json.loads(json.dumps(a))
    for rep in shifted["reps"]:
        rep["start_s"] += 0.5
    eff, unmatched = apply_corrections(shifted, [dict(c, correction_id=1) for c in [
        {"kind": "exclude_rep", "rep": 1, "channel": None, "anchor": "start", "anchor_s": a["reps"][1]["start_s"],
         "old": False, "new": True, "reason": "cough", "who": "AB", "when_utc": "2024-05-09T10:00:00Z",
         "undoes": None}]])
    assert len(unmatched) == 1 and eff["summary"] == a["summary"] and eff["unmatched_corrections"] == unmatched
    assert "no longer matches a rep" in describe_unmatched(unmatched[0])
    # a shift within 150 ms is the same rep
    for rep in shifted["reps"]:
        rep["start_s"] -= 0.4
    assert apply_corrections(shifted, eff["unmatched_corrections"])[1] == []
    # end to end: a re-analysis that cannot place it keeps it and says so
    with Catalog(root) as cat:
        cat.db.execute("UPDATE corrections SET anchor_s = 1000.0")
    monkeypatch.setattr(catalog_module, "__version__", "9.9.9-test")
    from io import StringIO

    from rich.console import Console

    out = StringIO()
    result = analyze_all(root, console=Console(file=out, width=300), workers=1)
    assert result.unmatched and "no longer match a rep" in out.getvalue()
    with Catalog(root) as cat:
        assert len(cat.corrections(s["session_id"])) == 1  # kept
        assert len(cat.unmatched_corrections(s["session_id"])) == 1
        assert cat.analysis(s["recording_id"])["summary"]["reps"] == a["summary"]["reps"]  # not applied
    res = CliRunner().invoke(app, ["corrections", str(s["session_id"]), "--data", str(root)], standalone_mode=False)
    assert res.exit_code == 0 and "no longer matches a rep" in res.output


def test_cli_correct_and_list(root):
    with Catalog(root) as cat:
        s, a = _first_session(cat)
        r = _both_onsets(a)
    h = r["onset_s"]["hamstrings"]
    run = CliRunner().invoke
    res = run(app, ["correct", str(s["session_id"]), "--move-onset", f"{r['index'] + 1}:hamstrings:{h - 0.1:.4f}",
                    "--by", "AB", "--data", str(root)], standalone_mode=False)
    assert res.exit_code == 0, res.output
    assert "hamstrings onset moved" in res.output and "by AB" in res.output
    res = run(app, ["correct", str(root / s["path"]), "--exclude-rep", "1", "--data", str(root)],
              standalone_mode=False)
    assert isinstance(res.exception, InputError) and "--reason" in str(res.exception)
    res = run(app, ["corrections", str(s["session_id"]), "--json", "--data", str(root)], standalone_mode=False)
    doc = json.loads(res.stdout)
    [c] = doc["corrections"]
    assert (c["kind"], c["who"], c["old"], c["new"], c["rep"]) == ("move_onset", "AB", h, round(h - 0.1, 4),
                                                                    r["index"])
    res = run(app, ["correct", str(s["session_id"]), "--undo", str(c["correction_id"]), "--data", str(root)],
              standalone_mode=False)
    assert res.exit_code == 0, res.output
    with Catalog(root) as cat:
        assert cat.analysis(s["recording_id"])["summary"] == a["summary"]
        assert len(cat.corrections(s["session_id"])) == 2
