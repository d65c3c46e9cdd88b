"""The Patient page and ``reengage trend --json`` give one verdict: the page's data (``dashboard.data.patient``)
comes from the same computation (``reengage.trend.task_courses``) with the patient's retest pairs and the
clinic's courses, so noise_source, mdc95 and verdict are identical for every patient and measure."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from reengage.catalog import Catalog
from reengage.dashboard import data
from trend_testdata import stored_analysis


def _catalog(root):
    sessions = [  # P001: three sessions, two with a test-retest block, a ratio rising 0.5 → 0.85
        ("P001", "2026-01-05", stored_analysis(0.5, 40.0, retest={"glute_hamstring_ratio": [0.5, 0.52],
                                                     "onset_latency_ms": [40.0, 44.0]})),
        ("P001", "2026-01-12", stored_analysis(0.65, 30.0, retest={"glute_hamstring_ratio": [0.66, 0.64],
                                                      "onset_latency_ms": [30.0, 29.0]})),
        ("P001", "2026-01-19", stored_analysis(0.85, 20.0)),
        # P002: no retest, four sessions: the clinic's figure
        *[("P002", f"2026-01-{5 + 7 * k:02d}", stored_analysis(v, 30.0 - 3 * k)) for k, v in enumerate((0.6, 0.7, 0.65, 0.9))]]
    rng = np.random.default_rng(13)
    for p in range(6):  # the clinic: six other patients with a noisy flat course each
        for k, v in enumerate(0.7 * np.exp(0.35 * rng.standard_normal(5))):
            sessions.append((f"C{p}", f"2026-02-{2 + 7 * k:02d}", stored_analysis(float(v), 10.0 + 8 * rng.standard_normal())))
    with Catalog(root) as cat:
        for k, (subject, date, analysis) in enumerate(sessions):
            f = root / f"r{k}.rgr"
            f.write_bytes(f"recording {k}".encode())
            cat.register(f, {"meta": {"subject": subject, "task": "prone_hip_extension", "session_date": date},
                             "samples": 1000}, analysis)


def test_the_patient_page_and_reengage_trend_agree_on_noise_and_verdict(tmp_path):
    _catalog(tmp_path)
    sources = set()
    for subject in ("P001", "P002", "C0"):
        r = subprocess.run([sys.executable, "-m", "reengage.cli", "trend", "--subject", subject, "--json",
                            "--data", str(tmp_path)], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        cli = json.loads(r.stdout)["measures"]
        [page] = data.patient(tmp_path, subject)
        for measure, mdc in (("glute_hamstring_ratio", page.mdc_ratio), ("onset_latency_ms", page.mdc_latency_ms)):
            want = cli[measure]
            got = {"noise_source": mdc.source, "mdc95": float(mdc), "verdict": page.measures[measure]["verdict"]}
            assert got == {k: want[k] for k in got}, (subject, measure)
            assert page.measures[measure] == want
            sources.add(want["noise_source"])
        change = page.change_ratio
        assert (abs(change) > page.mdc_ratio) == (cli["glute_hamstring_ratio"]["verdict"] == "improved")
    # The catalog exercises the hierarchy the page used to skip: the retest pairs and the clinic's figure.
    assert {"test-retest", "cohort"} <= sources


def test_the_patients_list_arrow_uses_the_same_noise(tmp_path):
    """P003's three sessions are the arrow's whole window, and their test-retest blocks disagree widely: the
    Patient page's MDC95 (from those pairs) calls the rise steady where the published figure alone would call it
    improving. The Patients list must judge with the page's figure, not one of its own."""
    from reengage.trend import trend_arrow

    _catalog(tmp_path)
    wide = {"glute_hamstring_ratio": [0.4, 0.9], "onset_latency_ms": [40.0, 44.0]}
    with Catalog(tmp_path) as cat:
        for k, (date, ratio) in enumerate((("2026-03-02", 0.5), ("2026-03-09", 0.7), ("2026-03-16", 0.85))):
            f = tmp_path / f"p3_{k}.rgr"
            f.write_bytes(f"P003 recording {k}".encode())
            cat.register(f, {"meta": {"subject": "P003", "task": "prone_hip_extension", "session_date": date},
                             "samples": 1000}, stored_analysis(ratio, 30.0, retest=wide))
    [page] = data.patient(tmp_path, "P003")
    assert page.mdc_ratio.source == "test-retest" and page.mdc_ratio > 0.35  # 0.85 - 0.5 stays within it
    row = next(r for r in data.patients(tmp_path) if r["subject_id"] == "P003")
    assert (row["trend"], row["trend_words"]) == trend_arrow([0.5, 0.7, 0.85], page.mdc_ratio)
    assert row["trend"] == "→"
