"""Real recordings (``../shared/data``, see its README): every file analyses without error, and the onset scores
measured against the movement and gait references (``reengage.validation.real``) hold, with a margin.

Skips when the folder is absent (a user's fresh clone); set ``$REENGAGE_SHARED_DATA`` to point elsewhere."""

from __future__ import annotations

import numpy as np
import pytest

from reengage.analysis import analyze
from reengage.io import load_recording
from reengage.validation.real import (flexion_starts, gait_strides, gait_table, knee_phases, match, rest_spans,
                                      run_real, shared_data_dir)

DATA = shared_data_dir()
FILES = sorted(DATA.glob("*.csv")) if DATA.is_dir() else []
needs_data = pytest.mark.skipif(not FILES, reason=f"no real recordings at {DATA} (set $REENGAGE_SHARED_DATA)")


@needs_data
def test_all_39_files_are_there():
    assert len(FILES) == 39


@needs_data
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_real_file_analyses(path):
    rec = load_recording(path)
    names = [c.name for c in rec.emg.channels]
    for name in ("biceps_femoris", "semitendinosus"):
        if name in names:
            assert rec.emg.channels[names.index(name)].role == "hamstrings"
    for name in ("glute_max", "glute_med"):
        if name in names:
            assert rec.emg.channels[names.index(name)].role == name
    result = analyze(rec)
    assert len(result["channels"]) == len(names)
    assert {ch["name"] for ch in result["channels"].values()} == set(names)
    for rep in result["reps"]:
        assert rep["start_s"] <= rep["end_s"]


@pytest.fixture(scope="module")
def real_run():
    return run_real()


@pytest.fixture(scope="module")
def summary(real_run):
    return real_run[1]


@needs_data
def test_treadmill_glute_max_onsets_near_touchdown(summary):
    # Measured (all burst onsets): 5 of 6 touchdowns matched, median −103 ms (glute max fires in terminal swing).
    s = summary["treadmill_walking"]
    assert s["references"] == 6
    assert s["matched_pct"] >= 66.0
    assert -150.0 <= s["median_error_ms"] <= -60.0


@needs_data
def test_knee_flexion_hamstring_onsets_against_goniometer(summary):
    # Measured (all burst onsets): 38 of 120 flexion starts matched within 150 ms (31.7 %), median −52 ms; the
    # nearest onset leads the goniometer's move by a median 197 ms, as the eye-marked onsets do (median −206 ms):
    # the goniometer's start is no ±150 ms onset reference, the visual reference is (test_visual_reference.py).
    s = summary["knee_flexion_standing"]
    assert s["references"] >= 110
    assert s["matched_pct"] >= 25.0
    assert -110.0 <= s["median_error_ms"] <= -10.0
    assert -260.0 <= s["median_nearest_ms"] <= -80.0


@needs_data
def test_knee_extension_quadriceps_onsets_lead_the_goniometer(summary):
    # Measured: rectus femoris and vastus medialis onsets lead the extension start by a median 287 ms (the eye-marked
    # onsets by 236 ms): the leg is held against gravity before it moves. Only 10 % fall within ±150 ms.
    s = summary["knee_extension_seated"]
    assert s["references"] >= 60
    assert s["detected_onsets"] >= 50
    assert -380.0 <= s["median_nearest_ms"] <= -180.0


@needs_data
def test_bursts_during_rest_and_reps_against_movements(summary):
    # Rest: the knee at its resting end (goniometer), 0.5 s clear of any move; prime movers only. Measured (det2,
    # offset hold): standing 28 hamstring bursts in 56.9 s (29.5/min), seated 6 quadriceps bursts in 21.5 s
    # (16.8/min). Reps: standing 75 reps for 60 flexions, equal in 7 of 18 files (81 and 4 before the hold, 72 and
    # 9 before the 150 ms minimum burst that walking needs); seated 34 hamstring reps for 34 extensions (42 before).
    # Ceilings and floors with a margin.
    stand, seat = summary["knee_flexion_standing"], summary["knee_extension_seated"]
    assert stand["rest_s"] >= 40 and seat["rest_s"] >= 15
    assert stand["rest_bursts_per_min"] <= 34.0
    assert seat["rest_bursts_per_min"] <= 21.0
    assert stand["movements"] >= 55
    assert stand["reps_equal_movements"] >= 5
    assert stand["reps"] <= 1.33 * stand["movements"]
    assert seat["reps"] <= 1.15 * seat["movements"]


def test_knee_phases_finds_moves_either_sign():
    t = np.arange(0, 6, 0.001)
    up = np.clip((t - 1.0) / 0.5, 0, 1) - np.clip((t - 3.0) / 0.5, 0, 1)
    for sign in (1, -1):
        moves = knee_phases(t, 40 + sign * 90 * up)
        assert [d for _, d in moves] == [sign, -sign]
        assert abs(moves[0][0] - 1.0) < 0.03 and abs(moves[1][0] - 3.0) < 0.03


def test_match_is_one_to_one_within_window():
    assert match(np.array([1.0, 2.0]), np.array([1.05, 1.1, 2.3])) == pytest.approx([0.05])


@needs_data
def test_rest_spans_sit_at_the_resting_end():
    path = DATA / "uci_N03_knee_flexion_standing.csv"
    spans = rest_spans(path, ("biceps_femoris", "semitendinosus"))
    assert spans and all(b > a for a, b in spans)
    angle = np.loadtxt(DATA / "annotations" / f"{path.stem}.knee_angle.csv", delimiter=",", skiprows=1)
    at_rest = np.zeros(len(angle), bool)
    for a, b in spans:
        at_rest |= (angle[:, 0] >= a) & (angle[:, 0] <= b)
    # Rest and movement are apart: the angle at rest stays near one end, and no flexion start falls inside.
    span = np.ptp(angle[:, 1])
    assert np.ptp(angle[at_rest, 1]) <= 0.3 * span
    starts = flexion_starts(path)
    assert not any(a <= s <= b for s in starts for a, b in spans)


@needs_data
def test_gait_strides_come_from_the_goniometer_either_sign():
    # 48 strides over the 11 UCI gait files; the swing peaks are 0.7–2.9 s apart (a missed peak makes one long
    # stride in A02 and A07, a spurious one a short stride in N02 and N03).
    strides = {p.name: gait_strides(p) for p in FILES if p.stem.endswith("_gait")}
    assert len(strides) == 11
    assert sum(v.size - 1 for v in strides.values()) == 48
    gaps = np.concatenate([np.diff(v) for v in strides.values()])
    assert gaps.min() >= 0.7 and np.median(gaps) == pytest.approx(1.33, abs=0.1)
    assert np.sum(gaps > 2.0) <= 2 and np.sum(gaps < 0.9) <= 2


@needs_data
def test_gait_strides_with_an_onset_per_channel(real_run):
    """Every thigh muscle fires each stride in walking; the share of strides in which a channel gets a burst onset
    shows the gait bursts the detector drops (docs/validation.md, "Gait bursts dropped by the cable-tug rule")."""
    scores = real_run[0]
    gait = {s.file: s.extra for s in scores if s.task == "gait"}
    assert all("strides" in e for e in gait.values())
    # Measured: N08 biceps femoris 0 of 5 strides and A02 vastus medialis 1 of 7, though both fire every stride
    # (0 and 0 before the sixth round's busy-rest level; A07 semitendinosus 4 → 9 of 10 with it).
    assert gait["uci_N08_gait.csv"]["strides_with_onset"]["biceps_femoris"] == 0
    assert gait["uci_A02_gait.csv"]["strides_with_onset"]["vastus_medialis"] <= 1
    assert gait["uci_A07_gait.csv"]["strides_with_onset"]["semitendinosus"] >= 8
    table = gait_table(scores)
    # Measured (all files / tune / held-back): biceps femoris 67 / 71 / 60 %, semitendinosus 79 / 86 / 70 %,
    # rectus femoris 79 / 71 / 90 %, vastus medialis 71 / 57 / 90 % (before the busy-rest level: 60 / 71 / 45,
    # 65 / 86 / 35, 77 / 71 / 85, 69 / 54 / 90 %).
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines()[2:]}
    assert set(rows) == {"rectus_femoris", "biceps_femoris", "vastus_medialis", "semitendinosus"}
    for ch, floor in {"rectus_femoris": 72, "biceps_femoris": 60, "vastus_medialis": 64, "semitendinosus": 72}.items():
        pct = float(rows[ch].split("(")[1].split(" %")[0])
        assert floor <= pct < 90, (ch, rows[ch])  # below 90 %: the failure is still there (docs)
