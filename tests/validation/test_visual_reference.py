"""The visual onset reference (``reengage/validation/reference/``): well-formed, covering every task of the shared
real data in both splits, and the scores of the detectors we ship against it hold (with a margin: a regression of
the detector fails here). Scoring reads ``../shared/data`` and skips when it is absent (a user's fresh clone)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from reengage.validation.real import shared_data_dir
from reengage.validation.visual import (COLUMNS, HOLDOUT, REFERENCE_CSV, load_reference, score_visual, split_of,
                                        subject_of, task_name)

DATA = shared_data_dir()
needs_data = pytest.mark.skipif(not DATA.is_dir() or not any(DATA.glob("*.csv")),
                                reason=f"no real recordings at {DATA} (set $REENGAGE_SHARED_DATA)")
TASKS = {"knee_flexion_standing", "knee_extension_seated", "gait", "treadmill_walking", "biosppy"}


def test_reference_csv_is_well_formed():
    with REFERENCE_CSV.open(newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == COLUMNS
        raw = list(reader)
    rows = load_reference()
    assert len(rows) == len(raw) >= 200
    seen = set()
    for r in rows:
        assert r["file"].endswith(".csv") and r["channel"]
        assert r["window_start_s"] < r["window_end_s"]
        assert r["clarity"] in ("clear", "unclear")
        assert r["split"] == split_of(r["file"])
        if r["onset_s"] is not None:
            assert r["clarity"] == "clear"
            assert r["window_start_s"] <= r["onset_s"] <= r["window_end_s"]
        elif r["clarity"] == "unclear":
            assert r["note"], "an unclear window says why"
        if r["onset_s"] is not None:
            key = (r["file"], r["channel"], r["onset_s"])
            assert key not in seen, f"onset marked twice: {key}"
            seen.add(key)


def test_reference_covers_every_task_in_both_splits():
    rows = load_reference()
    clear = [r for r in rows if r["clarity"] == "clear" and r["onset_s"] is not None]
    assert len(clear) >= 145
    tasks = {task_name(Path(r["file"])) for r in clear}
    assert tasks == TASKS
    for task in TASKS - {"treadmill_walking", "biosppy"}:  # single-subject recordings sit in one split
        assert {r["split"] for r in clear if task_name(Path(r["file"])) == task} == {"tune", "holdout"}
    # Knee-abnormal subjects and quadriceps as well as hamstrings are in it.
    assert any(subject_of(r["file"]).startswith("A") for r in clear)
    assert {"rectus_femoris", "vastus_medialis", "glute_max"} <= {r["channel"] for r in clear}
    # About a third of the subjects are held back.
    subjects = {subject_of(r["file"]) for r in rows}
    held = subjects & set(HOLDOUT)
    assert 0.25 <= len(held) / len(subjects) <= 0.4


@needs_data
def test_every_reference_file_exists():
    for f in {r["file"] for r in load_reference()}:
        assert (DATA / f).is_file(), f


# Measured 2026-12-01 (found %, median |error| ms, extra %), all 149 clear onsets:
#   power_backtrack 87.9 / 27 / 9.4 (with its last step, the local baseline; 82.6 / 27 / 14.1 after the offset hold,
#   det2; 67.1 / 27 / 16.1 at first); hodges_bui 75.2 / 27 / 39.6; bonato 85.2 / 19 / 32.2; solnik 87.9 / 20 / 22.8.
# Floors and ceilings a few points outside these: a better detector passes, a regression fails.
FLOORS = {
    "power_backtrack": (84.0, 32.0, 13.0),
    "hodges_bui": (67.0, 32.0, 52.0),
    "bonato": (78.0, 28.0, 40.0),
    "solnik": (82.0, 27.0, 30.0),
}


@needs_data
@pytest.mark.parametrize("detector", sorted(FLOORS))
def test_detectors_hold_their_visual_scores(detector):
    found, abs_err, extra = FLOORS[detector]
    s = score_visual(detector)["all"]
    assert s["reference_onsets"] >= 145
    assert s["found_pct"] >= found
    assert s["median_abs_error_ms"] <= abs_err
    assert s["extra_pct"] <= extra


def test_scoring_is_one_to_one_and_counts_extra_onsets(tmp_path, monkeypatch):
    # A recording stand-in: the scorer only needs the detector's onsets, so they are given directly.
    ref = tmp_path / "ref.csv"
    ref.write_text("file,channel,window_start_s,window_end_s,onset_s,clarity,split,note\n"
                   "a.csv,m,0.0,2.0,1.00,clear,tune,\n"
                   "a.csv,m,3.0,5.0,4.00,clear,tune,\n"
                   "a.csv,m,6.0,8.0,,clear,tune,no burst\n"
                   "a.csv,m,9.0,11.0,,unclear,tune,tonic\n")
    detected = {"m": np.array([0.5, 0.98, 1.03, 4.30, 6.5, 9.5])}
    monkeypatch.setattr("reengage.validation.visual.detected_onsets", lambda path, detector: detected)
    s = score_visual("power_backtrack", reference=ref, data_dir=tmp_path)["all"]
    # 1.00 matched by 0.98 (nearest), 4.00 unmatched (4.30 is 300 ms late); extra: 0.5, 1.03 in the first window,
    # 4.30 in the second, 6.5 in the no-burst window; 9.5 sits in an unclear window and does not count.
    assert s["reference_onsets"] == 2 and s["found"] == 1
    assert s["median_error_ms"] == pytest.approx(-20.0)
    assert s["extra"] == 4 and s["extra_pct"] == pytest.approx(200.0)


@needs_data
def test_default_detector_per_task_and_split():
    # Measured 2026-12-01 (fifth round, the local-baseline step), power_backtrack, found % per task (tune+holdout):
    # gait 86.4, standing flexion 82.8 (73.4 before the step), seated extension 96.0, treadmill 100, BioSPPy 100 (4
    # onsets: one miss is 75); holdout 87.3 % (78.2), median |error| 30.5 ms. Extra onsets: tune 8.5 % (10.6),
    # standing flexion 15.6 % (23.4; 29.7 % before the hold). Floors ~6 points lower.
    s = score_visual("power_backtrack")
    floors = {"gait": 80.0, "knee_flexion_standing": 77.0, "knee_extension_seated": 90.0,
              "treadmill_walking": 90.0, "biosppy": 75.0}
    for task, floor in floors.items():
        assert s["task"][task]["found_pct"] >= floor, task
    assert s["split"]["holdout"]["found_pct"] >= 82.0
    # 35, not 32: the holdout measures 32 since the first-potentials step (24 before it); a ceiling equal to the
    # measurement fails on any 1 ms move.
    assert s["split"]["holdout"]["median_abs_error_ms"] <= 35.0
    assert s["split"]["tune"]["extra_pct"] <= 11.0
    assert s["task"]["knee_flexion_standing"]["extra_pct"] <= 20.0


def test_window_sample_is_fixed_per_channel():
    from reengage.validation.visual import Window, first_windows

    wins = [Window(ch, float(i), float(i) + 1, "") for i in range(4) for ch in ("a", "b")]
    picked = first_windows(wins, 1, skip=2)
    assert [(w.channel, w.start_s) for w in picked] == [("a", 2.0), ("b", 2.0)]
    assert len(first_windows(wins, None)) == 8


def test_display_signal_removes_strong_mains_and_keeps_the_band():
    from reengage.validation.visual import display_signal

    fs = 1000.0
    t = np.arange(0, 10, 1 / fs)
    rng = np.random.default_rng(0)
    emg = rng.normal(0, 1, t.size)
    line = 3 * np.sin(2 * np.pi * 60 * t)
    shown = display_signal(emg + line, fs)[0]
    clean = display_signal(emg, fs)[0]
    # The 60 Hz line (4.5 × the noise power) is notched to under a tenth of its amplitude; what differs from the
    # un-notched noise is the line's remainder and the noise the notches take out.
    assert np.std(shown - clean) < 0.1 * np.std(line)
    assert np.std(shown) < 1.1 * np.std(clean)


def test_splits_are_by_subject():
    assert subject_of("uci_N04_gait.csv") == subject_of("uci_N04_knee_flexion_standing.csv") == "N04"
    assert split_of("uci_N04_gait.csv") == "holdout" and split_of("uci_N03_gait.csv") == "tune"
    assert split_of("biosppy_emg_1.csv") == "holdout"
    assert split_of("santuz2020_ID0012_treadmill_walking.csv") == "tune"


# ------------------------------------------------------------- the blind markers (markers 2 and 3) and their scores

@pytest.mark.parametrize("marker, clear_onsets", [(2, 148), (3, 139)])
def test_blind_marker_csv_is_well_formed_and_covers_marker1s_windows(marker, clear_onsets):
    from reengage.validation.interrater import MARKERS

    path = MARKERS[marker - 1]
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == COLUMNS
        raw = list(reader)
    rows, first = load_reference(path), load_reference()
    assert len(rows) == len(raw) == 209
    key = lambda r: (r["file"], r["channel"], r["window_start_s"], r["window_end_s"], r["split"])  # noqa: E731
    # Every window of marker 1, once each, in the same order: the blind marker covers all of them (no subset).
    assert [key(r) for r in rows] == [key(r) for r in first]
    for r in rows:
        assert r["clarity"] in ("clear", "unclear")
        assert r["split"] == split_of(r["file"])
        assert r["note"].startswith(f"marker {marker}")
        if r["onset_s"] is not None:
            assert r["clarity"] == "clear"
            assert r["window_start_s"] < r["onset_s"] < r["window_end_s"]
    clear = [r for r in rows if r["clarity"] == "clear" and r["onset_s"] is not None]
    assert len(clear) == clear_onsets
    assert {task_name(Path(r["file"])) for r in clear} == TASKS


def test_interrater_agreement_holds():
    from reengage.validation.interrater import agreement

    # Measured 2026-12-01 on the 209 windows: clarity agreement 85.6 %, kappa 0.63 (clear vs unclear); 134 onsets
    # both call clear: |marker 2 − marker 1| median 10 ms, p90 50 ms, within 25 / 50 / 150 ms 78.4 / 90.3 / 97.8 %,
    # signed median 0 ms. Margins of a few points: a re-marking that drifts from marker 1 fails here.
    a = agreement()
    assert a["windows"] == 209
    assert a["clarity_kappa"] >= 0.55
    assert a["both_onset"] >= 125
    assert a["median_abs_diff_ms"] <= 15.0
    assert a["p90_abs_diff_ms"] <= 60.0
    assert a["within_25_pct"] >= 72.0
    assert a["within_50_pct"] >= 85.0
    assert a["within_150_pct"] >= 95.0
    assert abs(a["median_diff_ms"]) <= 10.0


def test_agreement_and_consensus_on_a_small_pair(tmp_path):
    from reengage.validation.interrater import agreement, cohen_kappa, consensus_rows

    head = "file,channel,window_start_s,window_end_s,onset_s,clarity,split,note\n"
    one = tmp_path / "one.csv"
    two = tmp_path / "two.csv"
    one.write_text(head + "a.csv,m,0,2,1.00,clear,tune,\n" "a.csv,m,3,5,4.00,clear,tune,\n"
                   "a.csv,m,6,8,,clear,tune,none\n" "a.csv,m,9,11,,unclear,tune,tonic\n")
    two.write_text(head + "a.csv,m,0,2,1.04,clear,tune,\n" "a.csv,m,3,5,4.20,clear,tune,\n"
                   "a.csv,m,6,8,,clear,tune,none\n" "a.csv,m,9,11,10.0,clear,tune,\n")
    a = agreement(one, two)
    assert a["windows"] == 4 and a["both_clear"] == 3 and a["both_onset"] == 2
    assert a["median_abs_diff_ms"] == pytest.approx(120.0)
    assert a["within_50_pct"] == pytest.approx(50.0) and a["within_150_pct"] == pytest.approx(50.0)
    assert cohen_kappa(["c", "c", "u"], ["c", "c", "u"]) == pytest.approx(1.0)
    assert cohen_kappa(["c", "u"], ["u", "c"]) == pytest.approx(-1.0)
    cons = consensus_rows(one, two)
    # Within 50 ms: clear at the mean; 200 ms apart or one unclear: not scored; both "no burst": kept clear.
    assert [(r["clarity"], r["onset_s"]) for r in cons] == [("clear", pytest.approx(1.02)), ("unclear", None),
                                                            ("clear", None), ("unclear", None)]


# Measured 2026-12-01, power_backtrack with its last step (found %, median |error| ms, extra %): against marker 2
# alone tune 86.2 / 28 / 8.5, holdout 85.2 / 29.5 / 11.1 (before the step 80.9 / 28.5 / 13.8 and 75.9 / 30 / 20.4);
# against the consensus (121 onsets) tune 90.5 / 26 / 6.8, holdout 87.2 / 25 / 10.6 (87.8 / 26.5 / 9.5 and
# 78.7 / 28 / 19.1); against marker 3 alone tune 86.5 / 23 / 10.1, holdout 90.0 / 24 / 6.0; against the majority of
# the three (140 onsets) tune 88.6 / 26 / 6.8, holdout 86.5 / 25 / 11.5. Floors and ceilings a few points outside.
OTHER_REFERENCE_FLOORS = {
    ("marker2", "tune"): (81.0, 33.0, 12.0), ("marker2", "holdout"): (80.0, 35.0, 16.0),
    ("consensus", "tune"): (85.0, 31.0, 10.0), ("consensus", "holdout"): (82.0, 31.0, 15.0),
    ("marker3", "tune"): (82.0, 28.0, 14.0), ("marker3", "holdout"): (85.0, 29.0, 10.0),
    ("majority", "tune"): (84.0, 31.0, 10.0), ("majority", "holdout"): (82.0, 30.0, 15.0),
}


@needs_data
@pytest.mark.parametrize("reference", ["marker2", "consensus", "marker3", "majority"])
def test_default_detector_against_the_other_references(reference):
    from reengage.validation.interrater import score_against

    s = score_against(["power_backtrack"], reference)[0]
    for split in ("tune", "holdout"):
        found, abs_err, extra = OTHER_REFERENCE_FLOORS[(reference, split)]
        g = s["split"][split]
        assert g["found_pct"] >= found, split
        assert g["median_abs_error_ms"] <= abs_err, split
        assert g["extra_pct"] <= extra, split


def test_score_command_reads_the_reference_it_is_given(tmp_path, monkeypatch, capsys):
    from reengage.validation.visual import main

    ref = tmp_path / "ref.csv"
    ref.write_text("file,channel,window_start_s,window_end_s,onset_s,clarity,split,note\n"
                   "a.csv,m,0.0,2.0,1.00,clear,tune,\n" "a.csv,m,3.0,5.0,4.00,clear,holdout,\n")
    monkeypatch.setattr("reengage.validation.visual.detected_onsets",
                        lambda path, detector: {"m": np.array([0.99, 4.5])})
    assert main(["score", "--detectors", "power_backtrack", "--json", "--reference", str(ref)]) == 0
    s = json.loads(capsys.readouterr().out)[0]
    assert s["all"]["reference_onsets"] == 2 and s["all"]["found"] == 1
    assert s["split"]["holdout"]["found"] == 0 and s["split"]["holdout"]["extra"] == 1


# ---------------------------------------------------------------------- the three markers together

def test_three_way_agreement_holds():
    from reengage.validation.interrater import three_way

    # Measured 2026-12-01 on the 209 windows: Fleiss' kappa 0.631 (clear vs unclear), 0.667 (onset / no burst /
    # unclear); marker 3 against marker 1: clarity kappa 0.52, onsets within 50 ms 92.9 %; against marker 2: 0.74,
    # 86.6 %. Majority: 140 onsets (105 with all three marks within 50 ms), 5 "no burst".
    t = three_way()
    assert t["windows"] == 209
    assert t["clarity_fleiss_kappa"] >= 0.55 and t["call_fleiss_kappa"] >= 0.6
    for pair in ("1-3", "2-3"):
        assert t["pairs"][pair]["clarity_kappa"] >= 0.45, pair
        assert t["pairs"][pair]["within_50_pct"] >= 82.0, pair
        assert abs(t["pairs"][pair]["median_diff_ms"]) <= 10.0, pair
    assert t["majority_onsets"] >= 135


# --------------------------------------------- fresh held-back windows, marked after the detector was frozen

# The blind markers' files beyond the first 209 windows: (file, the rule that lists its windows, split, marker,
# clear onsets, clear "no burst").
BLIND_FILES = {
    "fresh4": ("visual_onsets_fresh_marker4.csv", "fresh", "holdout", 4, 27, 0),
    "fresh5": ("visual_onsets_fresh_marker5.csv", "fresh", "holdout", 5, 27, 0),
    "fresh6": ("visual_onsets_fresh2_marker6.csv", "other", "holdout", 6, 65, 1),
    "fresh7": ("visual_onsets_fresh2_marker7.csv", "other", "holdout", 7, 61, 7),
    "tune_other": ("visual_onsets_tune_other_marker8.csv", "other", "tune", 8, 89, 10),
}


@needs_data
@pytest.mark.parametrize("name", sorted(BLIND_FILES))
def test_blind_marker_files_cover_exactly_their_windows(name):
    """Markers 4 and 5 marked the held-back files' unmarked windows (``fresh_windows``), markers 6 and 7 the
    held-back subjects' other thigh channels and marker 8 the tune subjects' (``other_channel_windows``)."""
    from reengage.validation.visual import fresh_windows, other_channel_windows

    file, rule, split, marker, clear_onsets, no_burst = BLIND_FILES[name]
    path = REFERENCE_CSV.parent / file
    with path.open(newline="") as fh:
        assert tuple(csv.DictReader(fh).fieldnames) == COLUMNS
    rows = load_reference(path)
    wins = fresh_windows() if rule == "fresh" else other_channel_windows(split)
    want = [(f, w.channel, round(w.start_s, 3), round(w.end_s, 3)) for f, w in wins]
    assert [(r["file"], r["channel"], r["window_start_s"], r["window_end_s"]) for r in rows] == want
    for r in rows:
        assert r["split"] == split == split_of(r["file"])
        assert r["note"].startswith(f"marker {marker}")
        assert r["clarity"] in ("clear", "unclear")
        if r["onset_s"] is not None:
            assert r["clarity"] == "clear" and r["window_start_s"] < r["onset_s"] < r["window_end_s"]
    assert sum(r["onset_s"] is not None for r in rows) == clear_onsets
    assert sum(r["clarity"] == "clear" and r["onset_s"] is None for r in rows) == no_burst


# Measured 2026-12-01 (detector frozen at ae66786 before the fresh windows were marked), power_backtrack (found %,
# median |error| ms, extra %): marker 4 81.5 / 26 / 18.5 (27 onsets), marker 5 70.4 / 30 / 29.6 (27), their
# consensus 73.7 / 21.5 / 15.8 (19). The sixth round's lead-in rule (chosen on tune, scored here afterwards): marker
# 4 81.5 / 26 / 11.1, marker 5 63.0 / 25 / 29.6 (marker 5 took the first of two bursts in two N04 gait windows, and
# the rule drops it), consensus unchanged. With the busy-rest level too: 88.9 / 23 / 11.1, 70.4 / 25 / 29.6, 84.2 /
# 20.2 / 15.8. The target is not met on the fresh windows; floors a few points lower.
FRESH_FLOORS = {"fresh4": (75.0, 31.0, 16.0), "fresh5": (58.0, 30.0, 35.0), "fresh_consensus": (68.0, 27.0, 22.0)}


def test_fresh_markers_agree_as_the_others_do():
    from reengage.validation.interrater import FRESH_CSVS, agreement

    # Measured: clarity kappa 0.76 (89.7 % agree), 25 onsets both clear, 76 % within 50 ms; of the 6 over 50 ms,
    # 4 are N04 gait windows holding two bursts (marker 4 took the larger, marker 5 the first), 1 a short lead-in
    # (A07 gait) and 1 a slow rise (N07 semitendinosus).
    a = agreement(*FRESH_CSVS)
    assert a["windows"] == 39
    assert a["clarity_kappa"] >= 0.65
    assert a["both_onset"] >= 22
    assert a["within_50_pct"] >= 70.0


def test_table_shows_a_dash_where_a_group_has_no_onsets():
    from reengage.validation.visual import visual_table

    empty = {"reference_onsets": 0, "found_pct": None, "median_error_ms": None, "median_abs_error_ms": None,
             "extra_pct": None}
    full = {"reference_onsets": 4, "found_pct": 75.0, "median_error_ms": -20.0, "median_abs_error_ms": 20.0,
            "extra_pct": 25.0}
    table = visual_table([{"detector": "d", "all": full, "split": {"tune": empty}, "task_split": {}}])
    assert "| d | all | 4 | 75 % | -20 | 20 | 25 % |" in table
    assert "| d | tune | 0 | – | – | – | – |" in table


# ----------------------------------------------------- second fresh set: the channels the reference leaves out

@needs_data
@pytest.mark.parametrize("split, count", [("holdout", 96), ("tune", 166)])
def test_other_channel_windows_are_the_thigh_and_hip_channels_the_reference_leaves_out(split, count):
    from reengage.validation.visual import TASK_CHANNELS, THIGH_AND_HIP, other_channel_windows, windows

    wins = other_channel_windows(split)
    assert len(wins) == count
    marked = {(r["file"], r["channel"]) for r in load_reference()}
    for file, w in wins:
        assert split_of(file) == split
        assert w.channel in THIGH_AND_HIP and w.channel not in TASK_CHANNELS[task_name(Path(file))]
        assert (file, w.channel) not in marked
        assert w.start_s < w.end_s
    # The same window rules as the reference's own: for a file's marked channels, windows() with those channels
    # named gives what it gives by default.
    path = DATA / "uci_N04_gait.csv"
    assert windows(path, TASK_CHANNELS["gait"]) == windows(path)
    kinds = {(task_name(Path(f)), w.channel) for f, w in wins}
    assert {("gait", "rectus_femoris"), ("gait", "vastus_medialis"), ("knee_flexion_standing", "rectus_femoris"),
            ("knee_extension_seated", "semitendinosus")} <= kinds


# Measured 2026-12-01 with the fifth round's detector (its onsets identical to ae66786's), not changed before these
# marks were read (found %, median |error| ms, extra %): marker 6 70.8 / 26 / 29.2 (65 onsets), marker 7 65.6 / 29 /
# 42.6 (61), their consensus 69.8 / 24 / 32.1 (53); on the windows neither marker notes a second burst in, 80.6 / 27 /
# 16.1 (31), and on the first fresh set's 72.2 / 20.5 / 11.1 (18). The tune subjects' same channels against marker
# 8: 86.5 / 26 / 21.3 (89). The sixth round's lead-in rule (chosen on marker 8 and the tune split) leaves every found
# figure and lowers the extras: 26.2, 39.3, 28.3, 16.1, 11.1 and 15.7 %. With the busy-rest level too: 72.3 / 25 /
# 26.2, 67.2 / 29 / 37.7, 71.7 / 23.3 / 28.3, 83.9 / 26 / 16.1, 83.3 / 20 / 11.1 and 91.0 / 26 / 15.7. Floors a few
# points under the frozen figures; the target is not met.
FRESH2_FLOORS = {"fresh6": (65.0, 31.0, 31.0), "fresh7": (60.0, 34.0, 44.0), "fresh2_consensus": (64.0, 29.0, 33.0),
                 "fresh2_one_burst": (74.0, 32.0, 21.0), "fresh_one_burst": (66.0, 26.0, 16.0),
                 "tune_other": (82.0, 31.0, 20.0)}


@needs_data
@pytest.mark.parametrize("reference", sorted(FRESH_FLOORS | FRESH2_FLOORS))
def test_default_detector_on_the_fresh_sets_and_the_tune_other_channels(reference):
    from reengage.validation.interrater import score_against

    found, abs_err, extra = (FRESH_FLOORS | FRESH2_FLOORS)[reference]
    s = score_against(["power_backtrack"], reference)[0]["all"]
    assert s["found_pct"] >= found
    assert s["median_abs_error_ms"] <= abs_err
    assert s["extra_pct"] <= extra
    assert s["found_pct"] < 90.0 or s["extra_pct"] > 10.0  # what the docs report: the target is not met here


def test_second_fresh_markers_agree_as_the_others_do():
    from reengage.validation.interrater import FRESH2_CSVS, agreement

    # Measured: clarity kappa 0.75 (89.6 % agree), call kappa 0.72; 58 onsets both clear, 91.4 % within 50 ms,
    # median |difference| 5 ms.
    a = agreement(*FRESH2_CSVS)
    assert a["windows"] == 96
    assert a["clarity_kappa"] >= 0.65 and a["call_kappa"] >= 0.62
    assert a["both_onset"] >= 52
    assert a["within_50_pct"] >= 85.0
    assert a["median_abs_diff_ms"] <= 10.0


def test_one_burst_rows_leave_out_windows_a_marker_notes_a_second_burst_in(tmp_path):
    from reengage.validation.interrater import one_burst_rows, write_reference

    base = {"file": "f.csv", "channel": "c", "window_end_s": 1.0, "clarity": "clear", "split": "holdout"}
    notes = [("marker 6, window #0: clear rise", "marker 7, window #0 clear rise"),
             ("marker 6, window #1: largest burst; first smaller burst at 1.245 s", "marker 7, window #1 rise"),
             ("marker 6, window #2: clear rise", "marker 7, window #2: two bursts of near-equal size"),
             ("marker 6, window #3: small burst at 2.05-2.25 s earlier", "marker 7, window #3 rise"),
             ("marker 6, window #4: isolated spike ignored", "marker 7, window #4 gradual rise")]
    paths = []
    for m in range(2):
        rows = [dict(base, window_start_s=float(i), onset_s=i + 0.5, note=n[m]) for i, n in enumerate(notes)]
        paths.append(write_reference(rows, tmp_path / f"m{m}.csv"))
    out = one_burst_rows(load_reference(paths[0]), paths)
    assert [r["clarity"] for r in out] == ["clear", "unclear", "unclear", "unclear", "clear"]
    assert [r["onset_s"] for r in out] == [0.5, None, None, None, 4.5]
