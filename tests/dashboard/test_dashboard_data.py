"""The dashboard's data-access module and app security, without a browser."""

from __future__ import annotations

import base64
import math

import numpy as np
import pytest

from dash_testdata import build_root
from reengage.dashboard import data
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
    assert p1["trend"] == "↗" and p1["trend_words"] == "improving"
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
    assert t.references and t.references[0].metric == "glute_max_pct_mvc"
    assert data.patient(root, "P999") == []


def test_minimal_detectable_change_formula():
    reps = [[1.0, 2.0, 3.0], [2.0, 3.0, 4.0]]  # pooled SD 1, 3 reps per session
    sem = 1.2533 * 1.0 / math.sqrt(3)
    assert data.minimal_detectable_change(reps) == pytest.approx(1.96 * math.sqrt(2) * sem)
    assert data.minimal_detectable_change([[1.0]]) is None


def test_projection_of_a_linear_trend():
    ref = data.Reference("glute_hamstring_ratio", 1.7, 2.1, "test source")
    dates = ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22"]
    p = data.project(dates, [1.0, 1.1, 1.2, 1.3], ref)  # +0.1 per week, exact
    assert p.slope_per_week == pytest.approx(0.1)
    assert p.reached_date == "2024-02-19"  # 0.4 to go at 0.1 per week: 4 weeks after the last session
    assert p.earliest_date == p.latest_date == p.reached_date  # a perfect fit has no spread
    assert data.project(dates, [1.3, 1.2, 1.1, 1.0], ref).reached_date is None  # going the wrong way
    assert data.project(dates[:2], [1.0, 1.1], ref) is None  # too few sessions
    assert data.project(dates, [1.0, 1.2, 1.5, 1.8], ref).already_reached


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
    for kind in ("raw", "clean", "envelope"):
        assert tr[kind]["y"].shape[0] == 2 and tr[kind]["t"].size <= 1000
    zoom = data.traces(root, rid, (10.0, 10.5), n_px=500)
    assert zoom["samples_in_view"] == pytest.approx(501, abs=2)
    assert zoom["raw"]["t"][0] == pytest.approx(10.0, abs=0.002)
    assert data.traces(root, 10_000) is None


def test_session_detail(root):
    [t] = data.patient(root, "P001")
    d = data.session(root, t.sessions[-1]["session_id"])
    assert d["session"]["subject_id"] == "P001" and len(d["others"]) == 5
    assert len(d["reps"]) == d["analysis"]["summary"]["reps"]
    assert {q["channel"] for q in d["quality"]} == {"glute_max", "hamstrings"}
    assert all("signal-to-noise ratio" in " ".join(x for _, x in q["lines"]) for q in d["quality"])
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
    assert (row["trend"], row["trend_words"]) == data.trend_arrow([1.00, 1.04, 1.08], t.mdc_ratio)
    assert row["trend"] == "→"
