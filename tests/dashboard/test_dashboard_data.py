"""The dashboard's data-access module and app security, without a browser."""

from __future__ import annotations

import base64
import math
import re

import numpy as np
import pytest

from dash_testdata import build_root
from reengage.dashboard import data
from reengage import trend
from reengage.reference_values import PCT, reference_points
from reengage.errors import ReengageError


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    r = tmp_path_factory.mktemp("dataroot")
    build_root(r, real=False)  # truth-shaped analyses: these tests check data access, not the detector
    return r


def test_patients_rows_search_and_sort(root):
    rows = data.patients(root)
    assert [r["subject_id"] for r in rows] == ["P001", "P002"]
    p1 = rows[0]
    assert p1["sessions"] == 6 and p1["phase"] == 3 and p1["last_task"] == "prone_hip_extension"
    assert p1["ratio"] == pytest.approx(1.4, abs=0.1)  # the demo's last session: ratio 1.40, latency −40 ms
    assert p1["latency_ms"] == pytest.approx(-40, abs=15)
    # The last three demo sessions rise by less than the published between-day MDC95 (~47 % of their mean):
    # steady against between-session noise, though beyond the rep-to-rep spread.
    assert p1["trend"] == "→" and p1["trend_words"].startswith("steady")
    assert [r["subject_id"] for r in data.patients(root, search="bridge")] == ["P002"]
    assert [r["subject_id"] for r in data.patients(root, search="p00")] == ["P001", "P002"]
    assert data.patients(root, search="'; DROP TABLE subjects; --") == []
    assert [r["subject_id"] for r in data.patients(root, sort="phase")] == ["P002", "P001"]


def test_patient_trend_statistics(root):
    [t] = data.patient(root, "P001")
    assert t.task == "prone_hip_extension" and len(t.sessions) == 6
    assert [s["phase"] for s in t.sessions] == [1, 1, 2, 2, 3, 3]
    assert data.phase_bands(t.sessions)[0][2] == 1 and len(data.phase_bands(t.sessions)) == 3
    assert t.change_ratio == pytest.approx(1.4 - 0.45, abs=0.1)
    assert t.mdc_ratio is not None and 0 < t.mdc_ratio < t.change_ratio  # a real change, beyond the noise
    assert t.change_latency_ms < -t.mdc_latency_ms  # latency fell by more than the noise
    # the published values the page draws beside them (reengage.reference_values), for this exercise
    assert reference_points(t.task, PCT, "glute_max")
    assert data.patient(root, "P999") == []


def test_minimal_detectable_change_formula():
    from reengage.trend import minimal_detectable_change

    reps = [[1.0, 2.0, 3.0], [2.0, 3.0, 4.0]]  # pooled SD 1, 3 reps per session
    sem = 1.2533 * 1.0 / math.sqrt(3)
    assert minimal_detectable_change(reps) == pytest.approx(1.96 * math.sqrt(2) * sem)
    assert minimal_detectable_change([[1.0]]) is None


def test_minmax_decimation_keeps_the_extremes_of_an_hour():
    fs = 1000.0
    rng = np.random.default_rng(1)
    y = rng.standard_normal((2, int(3600 * fs))).astype(np.float32)
    y[0, 1_234_567] = 50.0
    y[1, 2_000_001] = -60.0
    t, v = data.minmax_decimate(y, fs, 0.0, 0, y.shape[1], 1000)
    assert v.shape[0] == 2 and v.shape[1] == t.size <= 2 * 1000
    assert v[0].max() == 50.0 and v[1].min() == -60.0
    assert np.all(np.diff(t) >= 0)
    t1, v1 = data.minmax_decimate(y[0], fs, 0.0, 1_234_000, 1_235_000, 1000)  # zoomed in: every sample
    assert t1.size == 1000 and v1.max() == 50.0


def test_traces_from_the_recording(root):
    [t] = data.patient(root, "P001")
    rid = t.sessions[0]["recording_id"]
    tr = data.traces(root, rid, n_px=500)
    assert sorted(tr["names"]) == ["glute_max", "hamstrings"] and tr["samples_total"] == 24000
    assert "clean" not in tr  # the dashboard filters nothing itself: raw as stored, envelope as analysed
    for kind in ("raw", "envelope"):
        assert tr[kind]["y"].shape[0] == 2 and tr[kind]["t"].size <= 1000
    zoom = data.traces(root, rid, (10.0, 10.5), n_px=500)
    assert zoom["samples_in_view"] == pytest.approx(501, abs=2)
    assert zoom["raw"]["t"][0] == pytest.approx(10.0, abs=0.002)
    assert data.traces(root, 10_000) is None


def _recording_path(root, recording_id):
    from reengage.catalog import Catalog

    with Catalog(root) as cat:
        return cat.recording_path(recording_id)


def test_the_envelope_drawn_is_the_one_analyze_detected_on(root):
    """Zoomed to fewer samples than pixels, the envelope row is channel_envelopes' samples, unchanged, and
    every onset marker sits on that envelope at its onset sample."""
    from reengage.analysis import channel_envelopes
    from reengage.io import load_recording

    [t] = data.patient(root, "P001")
    rid = t.sessions[-1]["recording_id"]
    env = channel_envelopes(load_recording(_recording_path(root, rid)))
    tr = data.traces(root, rid, (5.0, 5.4), n_px=1200)
    i0, i1 = round(5.0 * env.fs_hz), round(5.4 * env.fs_hz) + 1
    assert tr["keys"] == list(env.keys)
    np.testing.assert_array_equal(tr["envelope"]["y"], env.envelope[:, i0:i1])
    analysis = data.session_analysis_for_recording(root, rid)
    rep = analysis["reps"][0]
    for key, onset_s in rep["onset_s"].items():
        ts, ys = tr["marks"][key]["onset"]
        k = ts.index(onset_s)
        assert ys[k] == float(env.envelope[list(env.keys).index(key), round(onset_s * env.fs_hz)])


def test_session_detail(root):
    [t] = data.patient(root, "P001")
    d = data.session(root, t.sessions[-1]["session_id"])
    assert d["session"]["subject_id"] == "P001" and len(d["others"]) == 5
    assert len(d["reps"]) == d["analysis"]["summary"]["reps"]
    assert {q["channel"] for q in d["quality"]} == {"glute_max", "hamstrings"}
    assert all(re.search(r"(good|fair|weak) signal \(\d+ dB above rest\)", " ".join(x for _, x in q["lines"])) for q in d["quality"])
    assert {q["verdict"] for q in d["quality"]} == {"usable"}
    assert data.session(root, 10_000) is None


def test_serve_refuses_other_hosts_without_authentication(root, monkeypatch):
    from reengage.dashboard.app import serve

    monkeypatch.delenv("REENGAGE_DASH_USER", raising=False)
    monkeypatch.delenv("REENGAGE_DASH_PASSWORD", raising=False)
    with pytest.raises(ReengageError, match="REENGAGE_DASH_USER"):
        serve(root, host="0.0.0.0", port=1)


def test_basic_auth_when_configured(root, monkeypatch):
    from reengage.dashboard.app import create_app

    monkeypatch.setenv("REENGAGE_DASH_USER", "clinic")
    monkeypatch.setenv("REENGAGE_DASH_PASSWORD", "s3cret")
    client = create_app(root).server.test_client()
    assert client.get("/").status_code == 401
    bad = base64.b64encode(b"clinic:wrong").decode()
    assert client.get("/", headers={"Authorization": f"Basic {bad}"}).status_code == 401
    good = base64.b64encode(b"clinic:s3cret").decode()
    assert client.get("/", headers={"Authorization": f"Basic {good}"}).status_code == 200


def test_patients_list_judges_the_trend_by_the_patient_pages_mdc(tmp_path):
    """Ratio medians 1.00 → 1.04 → 1.08 rise by more than 5 % of their mean, but the reps scatter by ±0.3:
    within the minimal detectable change, so both pages call it steady."""
    from dash_testdata import demo_like_sessions, truth_analysis, write_session
    from reengage.catalog import Catalog
    from reengage.io.recfile import read_recording

    spread = [-0.3, -0.15, 0.0, 0.15, 0.3]
    with Catalog(tmp_path) as cat:
        for k, (s, median) in enumerate(zip(demo_like_sessions()[:3], (1.00, 1.04, 1.08))):
            p, truth = write_session(tmp_path, "P009", "bridge", dict(s, seed=300 + k), duration_s=30.0)
            rec = read_recording(p)
            a = truth_analysis(truth, rec.fs_hz, rec.duration_s)
            a["reps"] = a["reps"][:5]
            for rep, d in zip(a["reps"], spread):
                rep["glute_hamstring_ratio"] = median + d
            a["summary"]["median_glute_hamstring_ratio"] = median
            cat.register(p, rec.info(), a)
    [t] = data.patient(tmp_path, "P009")
    assert t.mdc_ratio > 0.08
    [row] = data.patients(tmp_path)
    assert (row["trend"], row["trend_words"]) == trend.trend_arrow([1.00, 1.04, 1.08], t.mdc_ratio)
    assert row["trend"] == "→"


def test_every_number_is_the_stored_analysis(tmp_path):
    """Summary values that cannot be recomputed from the reps (a tampered IQR and %MVC) are what the pages
    get: nothing is computed a second time in the dashboard."""
    from dash_testdata import demo_like_sessions, truth_analysis, write_session
    from reengage.catalog import Catalog
    from reengage.dashboard.words import session_cells
    from reengage.io.recfile import read_recording

    p, truth = write_session(tmp_path, "P010", "bridge", demo_like_sessions()[0], duration_s=20.0)
    rec = read_recording(p)
    a = truth_analysis(truth, rec.fs_hz, rec.duration_s)
    a["summary"].update(glute_hamstring_ratio_iqr=0.777, onset_latency_iqr_ms=66.0,
                        median_mean_pct_mvc={"glute_max": 42.5, "hamstrings": 20.0})
    with Catalog(tmp_path) as cat:
        cat.register(p, rec.info(), a)
    [t] = data.patient(tmp_path, "P010")
    [s] = t.sessions
    assert (s["ratio_iqr"], s["latency_iqr_ms"], s["glute_max_pct_mvc"]) == (0.777, 66.0, 42.5)
    assert s["hamstrings_pct_mvc"] == 20.0  # the stored median, not one recomputed from the reps
    cells = [c.children for c in session_cells(s)]
    assert "(IQR 0.78)" in cells[3] and "(IQR 66)" in cells[4]
    assert cells[-2:] == ["42.5", "20.0"]
    assert data.glute_max_pct_mvc(dict(a, normalization="none")) is None
    assert data.pct_mvc(dict(a, normalization="none"), "hamstrings") is None


def test_quality_words_know_exactly_what_analyze_emits(tmp_path):
    """Every measure of a real analyze quality block has its words, and the words name no other key; a
    channel analyze did not use is called so; the analysis's notes reach the page."""
    from dash_testdata import demo_like_sessions, write_session
    from reengage.analysis import analyze
    from reengage.io.recfile import read_recording

    p, _ = write_session(tmp_path, "P011", "bridge", demo_like_sessions()[0], duration_s=12.0)
    a = analyze(read_recording(p))
    for ch in a["channels"].values():
        assert set(ch["quality"]) == set(data.QUALITY_WORDS) | {"flags", "usable"}
    a["channels"]["hamstrings"]["quality"].update(flags=["electrode_off"], usable=False)
    words = {q["channel"]: q for q in data.quality_in_words(a)}
    assert words["glute_max"]["verdict"] == "usable"
    assert words["hamstrings"]["verdict"].startswith("not used")
    assert ("warning", "the electrode is probably off") in words["hamstrings"]["lines"]
    assert data.glute_max_pct_mvc(a) == (a["summary"]["median_mean_pct_mvc"]["glute_max"]
                                         if a["normalization"] == "mvc" else None)


def test_truth_analysis_has_the_shape_of_a_real_one(tmp_path):
    """The tests' stand-in analysis uses analyze's keys and no others, so a test cannot pass on a key the
    dashboard reads but analyze never writes."""
    from dash_testdata import demo_like_sessions, truth_analysis, write_session
    from reengage.analysis import analyze
    from reengage.io.recfile import read_recording

    p, truth = write_session(tmp_path, "P012", "bridge", demo_like_sessions()[0], duration_s=12.0)
    rec = read_recording(p)
    real, fake = analyze(rec), truth_analysis(truth, rec.fs_hz, rec.duration_s)
    assert set(fake) <= set(real)
    assert set(fake["summary"]) <= set(real["summary"])
    assert set(fake["reps"][0]) <= set(real["reps"][0])
    assert set(fake["channels"]["glute_max"]) == set(real["channels"]["glute_max"])
    assert set(fake["channels"]["glute_max"]["quality"]) == set(real["channels"]["glute_max"]["quality"])


@pytest.mark.parametrize("kind", ["edf", "csv"])
def test_imported_sessions_have_traces(root, tmp_path, kind):
    """EDF+ and CSV sessions open through load_recording, with the analysis's channel keys."""
    import shutil

    from dash_testdata import write_imported
    from reengage.catalog import Catalog

    source = sorted((root / "P001").glob("*.rgr"))[-1]
    local = tmp_path / "P001" / source.name
    local.parent.mkdir()
    shutil.copy(source, local)
    out = write_imported(tmp_path, local, kind)
    with Catalog(tmp_path) as cat:
        rid = next(s["recording_id"] for s in cat.sessions("P003"))
    tr = data.traces(tmp_path, rid, n_px=300)
    assert "error" not in tr and out.suffix == f".{kind}"
    assert sorted(tr["keys"]) == ["glute_max", "hamstrings"] and tr["samples_total"] == 24000
    assert tr["marks"] and all(y is not None for m in tr["marks"].values() for y in m["onset"][1])


def test_a_csv_analysed_with_a_channel_map_keeps_the_analysis_keys(root, tmp_path):
    """A CSV whose columns are EMG1/EMG2, analysed with --channel: the traces carry glute_max/hamstrings
    (the assignment read back from the stored analysis), so the onsets land on the right channel."""
    import pandas as pd

    from reengage.analysis import analyze
    from reengage.catalog import Catalog
    from reengage.io import load_recording
    from reengage.io.csvio import write_csv_recording
    from reengage.io.recfile import read_recording

    rec = read_recording(sorted((root / "P001").glob("*.rgr"))[-1])
    (tmp_path / "P004").mkdir()
    path = write_csv_recording(rec, tmp_path / "P004" / "import.csv")
    df = pd.read_csv(path).rename(columns={"glute_max": "EMG1", "hamstrings": "EMG2"})
    df.to_csv(path, index=False)
    mapping = {"glute_max": "EMG1", "hamstrings": "EMG2"}
    imported = load_recording(path, mapping)
    info = imported.info()
    info["meta"] = {"subject": "P004", "task": "bridge", "session_date": "2024-05-01"}
    with Catalog(tmp_path) as cat:
        rid = cat.register(path, info, analyze(imported))
    assert data.channel_map(data.session_analysis_for_recording(tmp_path, rid)) == mapping
    tr = data.traces(tmp_path, rid, n_px=300)
    assert dict(zip(tr["keys"], tr["names"])) == {"glute_max": "EMG1", "hamstrings": "EMG2"}
    assert set(tr["marks"]) == {"glute_max", "hamstrings"}


def test_a_missing_or_unreadable_file_is_an_error_not_a_crash(tmp_path):
    from dash_testdata import demo_like_sessions, truth_analysis, write_session
    from reengage.catalog import Catalog
    from reengage.io.recfile import read_recording

    p, truth = write_session(tmp_path, "P013", "bridge", demo_like_sessions()[0], duration_s=12.0)
    rec = read_recording(p)
    with Catalog(tmp_path) as cat:
        rid = cat.register(p, rec.info(), truth_analysis(truth, rec.fs_hz, rec.duration_s))
    p.write_bytes(b"not a recording")
    assert "cannot be read" in data.traces(tmp_path, rid)["error"]
    p.unlink()
    assert "missing" in data.traces(tmp_path, rid)["error"]


def test_quality_and_notes_in_a_clinicians_words():
    """The stored measures become phrases with their numbers ("good signal (21 dB above rest)", "some
    mains hum"), never key names or bare fractions."""
    q = {"snr_db": 21.0, "mains_hz": 50.0, "mains_db": -4.2, "clipping_fraction": 0.0, "flat_fraction": 0.0,
         "motion_fraction": 0.0, "motion_artifacts": 0, "flags": [], "usable": True}
    bad = dict(q, snr_db=2.0, mains_db=3.0, clipping_fraction=0.02, motion_artifacts=3, motion_fraction=0.06,
               flags=["clipping", "low_snr", "mains", "motion"], usable=False)
    words = {w["channel"]: w for w in data.quality_in_words({"channels": {"gm": {"quality": q}, "hs": {"quality": bad}}})}
    good = [t for _, t in words["gm"]["lines"]]
    assert good == ["good signal (21 dB above rest)",
                    "some mains hum (50 Hz, -4 dB against the muscle signal), removed by the analysis",
                    "no clipping, flat stretches or movement artefacts"]
    assert words["gm"]["verdict"] == "usable"
    text = " ".join(t for _, t in words["hs"]["lines"])
    assert "signal too weak to use (2 dB above rest)" in text and "strong mains hum (50 Hz, +3 dB" in text
    assert "clipped in 2.0 % of samples" in text and "3 movement artefacts (cable or skin), 6.0 % of the time" in text
    assert [lvl for lvl, _ in words["hs"]["lines"]].count("warning") == 4
    assert words["hs"]["verdict"].startswith("not used")
    assert "fraction" not in text + " ".join(good) and "_" not in text + " ".join(good)
