"""Dashboard server time for a patient with 200 sessions (issue 6: ≤ 300 ms), as ratios to a bare SQL query.

Builds a temporary data root with 200 catalogued sessions of one patient (tiny real ``.rgr`` files, analyses
shaped per contracts/analysis.md with 10 reps each), then times, in one process:

- baseline: one bare SQL query of the patient's session rows (``Catalog.sessions``);
- the Patients page (list + trend arrows), the Patient page and the Report page: the page's layout function
  plus its JSON serialisation, i.e. the server's whole share of rendering that page;
- one Session page (reads its recording, computes analyze's envelope, decimates; cached after the first).

Usage: ``.venv/bin/python bench/bench_dashboard.py [--sessions 200] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def build(root: Path, n_sessions: int, reps: int = 10) -> None:
    from reengage.catalog import Catalog
    from reengage.io.recfile import RecordingWriter, StreamSpec, read_recording
    from reengage.model import Channel

    rng = np.random.default_rng(0)
    chans = [Channel("glute_max", "glute_max", "mV", "raw"), Channel("hamstrings", "hamstrings", "mV", "raw")]
    first = dt.date(2023, 1, 2)
    with Catalog(root) as cat:
        for k in range(n_sessions):
            date = (first + dt.timedelta(days=k)).isoformat()
            phase = 1 + min(2, 3 * k // n_sessions)
            p = root / "P200" / f"P200_{date}.rgr"
            with RecordingWriter(p, [StreamSpec("emg", 1000.0, chans, "<f4")],
                                 {"subject": "P200", "task": "prone_hip_extension", "session_date": date,
                                  "phase": phase, "pain": round(6 - 5 * k / n_sessions, 1)}) as w:
                w.write_block("emg", 0, (0.01 * rng.standard_normal((2, 2000))).astype("<f4"))
            lat = 80 - 120 * k / n_sessions + rng.normal(0, 15, reps)
            ratio = 0.45 + 1.0 * k / n_sessions + rng.normal(0, 0.08, reps)
            a = {"fs_hz": 1000.0, "duration_s": 2.0, "normalization": "mvc", "channels": {},
                 "reps": [{"index": i, "start_s": 0.1 * i, "end_s": 0.1 * i + 0.05,
                           "onset_s": {"glute_max": 0.1 * i, "hamstrings": 0.1 * i},
                           "offset_s": {"glute_max": 0.1 * i + 0.05, "hamstrings": 0.1 * i + 0.05},
                           "onset_latency_ms": float(lat[i]), "firing_order": ["glute_max", "hamstrings"],
                           "glute_hamstring_ratio": float(ratio[i]),
                           "mean_pct_mvc": {"glute_max": 30.0 + 30 * k / n_sessions, "hamstrings": 40.0}}
                          for i in range(reps)],
                 "summary": {"reps": reps, "reps_detected": reps, "reps_excluded": 0,
                             "glute_first_fraction": float(np.mean(lat < 0)),
                             "median_onset_latency_ms": float(np.median(lat)),
                             "onset_latency_iqr_ms": float(np.subtract(*np.percentile(lat, [75, 25]))),
                             "median_glute_hamstring_ratio": float(np.median(ratio)),
                             "glute_hamstring_ratio_iqr": float(np.subtract(*np.percentile(ratio, [75, 25]))),
                             "onset_latency_quartiles_ms": [float(q) for q in np.percentile(lat, [25, 75])],
                             "glute_hamstring_ratio_quartiles": [float(q) for q in np.percentile(ratio, [25, 75])],
                             "median_mean_pct_mvc": {"glute_max": 30.0 + 30 * k / n_sessions, "hamstrings": 40.0}}}
            cat.register(p, read_recording(p).info(), a)


def timed(fn, repeat: int) -> float:
    fn()  # warm-up: imports, plotly validators, caches
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)

    from plotly.io.json import to_json_plotly
    from dash import page_registry

    from reengage.catalog import Catalog
    from reengage.dashboard.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        build(root, args.sessions)
        print(f"built {args.sessions} sessions in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        app = create_app(root)
        pages = {v["name"]: v["layout"] for v in page_registry.values()}
        with Catalog(root) as cat:
            sid = cat.sessions("P200")[-1]["session_id"]

        def sql():
            with Catalog(root) as cat:
                cat.sessions("P200")

        def page(name, **kw):
            def run():
                with app.server.test_request_context("/"):
                    to_json_plotly(pages[name](**kw))  # what Dash sends for the page
            return run

        def patients_page():
            with app.server.test_request_context("/"):
                mod = sys.modules["reengage.dashboard.pages.patients"]
                to_json_plotly([pages["Patients"](), mod._update("", "subject", 0)])

        base = timed(sql, args.repeat)
        rows = [("bare SQL: the patient's session rows (baseline)", base)]
        for label, fn in (
            ("Patients page (layout + list callback)", patients_page),
            (f"Patient page, {args.sessions} sessions", page("Patient", subject_id="P200")),
            (f"Report page, {args.sessions} sessions", page("Report", subject_id="P200")),
            ("Session page (reads + decimates its recording)", page("Session", session_id=str(sid))),
        ):
            rows.append((label, timed(fn, args.repeat)))
        print(f"{'what':<52} {'server ms':>10} {'× baseline':>11}")
        for label, secs in rows:
            print(f"{label:<52} {secs * 1000:>10.1f} {secs / base:>11.1f}")
        patient_ms = rows[2][1] * 1000
        print(json.dumps({"patient_page_ms": round(patient_ms, 1), "budget_ms": 300,
                          "within_budget": patient_ms <= 300, "ratio_to_sql": round(rows[2][1] / base, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
