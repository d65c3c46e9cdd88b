"""`reengage import` makes a recording made elsewhere a catalogued, analysed session of a subject; `reengage
trend` reads the subject's course back, with the dashboard's verdict and the noise it was judged against."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reengage.catalog import Catalog
from reengage.synth import SubjectProfile, synthesize

REENGAGE = [sys.executable, "-m", "reengage.cli"]
EXAMPLE = Path(__file__).resolve().parents[1] / "recordings/examples/arduino_prone_hip_extension.csv"


def run(*args):
    return subprocess.run([*REENGAGE, *args], capture_output=True, text=True, timeout=180)


def arduino_csv(path: Path, latency_ms: float, ratio: float, seed: int) -> Path:
    """30 s at 1 kHz in 10-bit ADC counts, as an Arduino logs it, hamstrings under their anatomical name."""
    s = synthesize(SubjectProfile.from_latency_ratio(latency_ms, ratio, snr_db=20.0), duration_s=30.0,
                   fs_hz=1000.0, seed=seed, with_mvc=False)
    counts = np.round(511.5 + s.emg_mv / 0.0244).clip(0, 1023)
    df = pd.DataFrame({"time_s": np.arange(counts.shape[1]) / 1000.0})
    for m, row in zip(s.muscles, counts):
        df["EMG2" if m == "hamstrings" else m] = row.astype(int)
    df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """P001 imported three times: latency 80 → -40 ms, ratio 0.5 → 1.2 (the demo's direction of change)."""
    src = tmp_path_factory.mktemp("elsewhere")
    root = tmp_path_factory.mktemp("data")
    stored = []
    for k, (date, lat, ratio) in enumerate((("2026-03-02", 80.0, 0.5), ("2026-04-13", 20.0, 0.8),
                                            ("2026-05-25", -40.0, 1.2))):
        csv = arduino_csv(src / f"visit{k}.csv", lat, ratio, seed=10 + k)
        r = run("import", str(csv), "--subject", "P001", "--task", "prone_hip_extension", "--date", date,
                "--phase", str(k + 1), "--pain", str(6 - 2 * k), "--notes", f"visit {k}",
                "--channel", "hamstrings=EMG2", "--data", str(root))
        assert r.returncode == 0, r.stderr
        stored.append(Path(r.stdout.strip()))
    return root, src, stored


def test_import_stores_catalogues_and_analyses_like_a_recording(course):
    root, src, stored = course
    first = stored[0]
    assert first.is_file() and first.parent == root / "P001" and first.suffix == ".rgr"
    assert (src / "visit0.csv").is_file()  # the original stays where it was
    with Catalog(root) as cat:
        sessions = cat.sessions("P001")
        assert [s["session_date"] for s in sessions] == ["2026-03-02", "2026-04-13", "2026-05-25"]
        s = sessions[0]
        assert (s["task"], s["phase"], s["pain"], s["notes"]) == ("prone_hip_extension", 1, 6.0, "visit 0")
        assert s["path"] == "P001/" + first.name
        assert s["analysis_id"] is not None
        stored_analysis = cat.analysis(s["recording_id"])
        assert not cat.needs_analysis(first)  # `analyze --all` has nothing left to do
    # The stored session analyses to exactly what the source file does with the same --channel.
    direct = json.loads(run("analyze", str(src / "visit0.csv"), "--channel", "hamstrings=EMG2", "--json").stdout)
    assert stored_analysis == direct
    assert json.loads(run("analyze", str(first), "--json").stdout) == direct


def test_import_refuses_bad_input_before_writing(tmp_path):
    root = tmp_path / "data"
    empty = tmp_path / "empty.csv"
    empty.write_text("time_s,glute_max,hamstrings\n")
    for args, needle in (([str(tmp_path / "nope.csv")], "no such file"),
                         ([str(empty)], "empty"),
                         ([str(EXAMPLE), "--date", "2026-13-01"], "--date")):
        r = run("import", *args, "--subject", "P1", "--task", "bridge", "--data", str(root))
        assert r.returncode == 2 and r.stdout == "" and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert needle in r.stderr
    r = run("import", str(empty), "--subject", "../P1", "--task", "bridge", "--data", str(root))
    assert r.returncode == 2 and "--subject" in r.stderr
    assert not root.exists() or not any(root.rglob("*.rgr"))


def test_trend_json_follows_the_contract(course):
    root, _, stored = course
    r = run("trend", "--subject", "P001", "--task", "prone_hip_extension", "--data", str(root), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["subject"], doc["task"]) == ("P001", "prone_hip_extension")
    assert [s["date"] for s in doc["sessions"]] == ["2026-03-02", "2026-04-13", "2026-05-25"]
    with Catalog(root) as cat:
        by_id = {s["session_id"]: s for s in cat.sessions("P001")}
    for s in doc["sessions"]:  # the stored analysis's medians, nothing recomputed
        c = by_id[s["session_id"]]
        assert (s["reps"], s["glute_hamstring_ratio"], s["onset_latency_ms"]) == (
            c["reps"], c["median_glute_hamstring_ratio"], c["median_onset_latency_ms"])
        assert s["reps"] >= 5
    ratio, lat = doc["measures"]["glute_hamstring_ratio"], doc["measures"]["onset_latency_ms"]
    for m, key in ((ratio, "glute_hamstring_ratio"), (lat, "onset_latency_ms")):
        assert m["first"] == doc["sessions"][0][key] and m["latest"] == doc["sessions"][-1][key]
        assert m["change"] == pytest.approx(m["latest"] - m["first"])
        # Three sessions: too few for the patient's own noise, so the published between-day figure, never
        # below the within-session precision kept beside it.
        assert m["noise_source"] == "published"
        assert m["mdc95"] >= m["within_session_mdc95"] > 0
    assert ratio["change"] > ratio["mdc95"] and ratio["verdict"] == "improved"
    # Latency fell by ~120 ms: more negative is better.
    assert lat["change"] < -lat["mdc95"] and lat["verdict"] == "improved"


def test_trend_table_and_unknown_subject(course):
    root, _, _ = course
    r = run("trend", "--subject", "P001", "--data", str(root))  # one exercise: no --task needed
    assert r.returncode == 0, r.stderr
    assert "2026-05-25" in r.stdout and "improved" in r.stdout and "published" in r.stdout
    # Each measure says, on a line of its own, which noise judged its change.
    doc = json.loads(run("trend", "--subject", "P001", "--data", str(root), "--json").stdout)
    words = {"published": "the published between-day noise", "patient": "this patient's session-to-session scatter"}
    for key, label in (("glute_hamstring_ratio", "glute:hamstring ratio"), ("onset_latency_ms", "onset latency, ms")):
        assert f"noise, {label}: MDC95 from {words[doc['measures'][key]['noise_source']]};" in r.stdout
    r = run("trend", "--subject", "P01", "--data", str(root), "--json")
    assert r.returncode == 2 and r.stdout == "" and "P001" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run("trend", "--subject", "P001", "--task", "bridge", "--data", str(root))
    assert r.returncode == 2 and "prone_hip_extension" in r.stderr


def test_trend_leaves_out_an_empty_recording_with_a_note(tmp_path, write_rgr):
    from reengage.io import load_recording

    root = tmp_path / "data"
    (root / "P2").mkdir(parents=True)
    write_rgr(root / "P2" / "a.rgr", {"subject": "P2", "task": "bridge", "session_date": "2026-01-05"}, seconds=4.0)
    write_rgr(root / "P2" / "b.rgr", {"subject": "P2", "task": "bridge", "session_date": "2026-01-19"}, seconds=0.0)
    with Catalog(root) as cat:
        for p in sorted((root / "P2").glob("*.rgr")):
            cat.register(p, load_recording(p).info())
    r = run("trend", "--subject", "P2", "--data", str(root), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [s["date"] for s in doc["sessions"]] == ["2026-01-05"]
    assert any("empty recording" in n and "b.rgr" in n for n in doc["notes"])
    assert "empty recording" in r.stderr
    assert doc["measures"]["glute_hamstring_ratio"]["verdict"] == "insufficient data"


@pytest.mark.parametrize("change, mdc, higher, expected", [
    (0.3, 0.2, True, "improved"), (-0.3, 0.2, True, "worsened"), (0.1, 0.2, True, "no detectable change"),
    (-30.0, 10.0, False, "improved"), (30.0, 10.0, False, "worsened"), (0.2, 0.2, True, "no detectable change"),
    (None, 0.2, True, "insufficient data"), (0.5, None, True, "insufficient data"),
])
def test_verdict(change, mdc, higher, expected):
    from reengage.trend import verdict

    assert verdict(change, mdc, higher) == expected


def test_replay_out_catalogues_its_recording(course, tmp_path):
    _, _, stored = course
    out = tmp_path / "again"
    r = run("replay", str(stored[0]), "--speed", "max", "--out", str(out))
    assert r.returncode == 0, r.stderr
    with Catalog(out) as cat:
        [s] = cat.sessions("P001")
        assert s["analysis_id"] is not None and s["reps"] >= 5
        assert not cat.needs_analysis(out / s["path"])


def test_import_from_another_data_root_and_with_mvc(course, tmp_path):
    _, _, stored = course
    other = tmp_path / "clinic2"
    r = run("import", str(stored[0]), "--subject", "Q7", "--task", "bridge", "--data", str(other))
    assert r.returncode == 0, r.stderr
    with Catalog(other) as cat:
        [s] = cat.sessions("Q7")  # the command line's subject and task, the file's own date
        assert (s["task"], s["session_date"]) == ("bridge", "2026-03-02")
        assert s["analysis_id"] is not None
    r = run("import", str(EXAMPLE), "--subject", "Q7", "--task", "bridge", "--date", "2026-03-03",
            "--mvc", "glute_max=10", "--mvc", "hamstrings=10", "--data", str(other))
    assert r.returncode == 0, r.stderr
    with Catalog(other) as cat:
        s = [x for x in cat.sessions("Q7") if x["session_date"] == "2026-03-03"][0]
        analysis = cat.analysis(s["recording_id"])
    assert (analysis["normalization"], analysis["normalization_source"]) == ("mvc", "given")
    direct = json.loads(run("analyze", str(EXAMPLE), "--json", "--mvc", "glute_max=10", "--mvc",
                            "hamstrings=10").stdout)
    assert analysis["summary"] == direct["summary"]


def test_trend_json_slope_is_the_dashboards(course):
    """The CLI's slope, its interval and the sessions to exceed the noise are the Patient page's own figures
    for the same subject (one implementation, reengage.trend.project), and the table says them."""
    from reengage.dashboard import data

    root, _, _ = course
    doc = json.loads(run("trend", "--subject", "P001", "--data", str(root), "--json").stdout)
    [page] = data.patient(root, "P001")
    by_metric = {p.metric: p for p in page.projections}
    assert set(by_metric) == set(doc["measures"])
    for name, m in doc["measures"].items():
        p = by_metric[name]
        assert m["slope_per_week"] == round(p.slope_per_week, 6) and m["slope_per_week"] != 0
        assert m["slope_ci95_per_week"] == round(p.slope_ci95_per_week, 6) > 0
        assert m["sessions_to_exceed_noise"] == p.sessions_more  # the page's count, exactly
    # Latency fell ~120 ms over 12 weeks: a slope of about -10 ms a week.
    assert doc["measures"]["onset_latency_ms"]["slope_per_week"] == pytest.approx(-10.0, abs=3.0)
    table = run("trend", "--subject", "P001", "--data", str(root)).stdout
    assert "slope of onset latency, ms: -" in table and "per week (95 % interval ±" in table
    assert "slope of glute:hamstring ratio: +" in table
