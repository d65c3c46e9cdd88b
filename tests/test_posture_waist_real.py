"""``reengage posture --placement waist`` on the eight real labelled waist recordings of ``shared/data/imu``
(HAPT, CC BY 4.0; read in place, never copied): time per posture against the video labels (labelled time only)
and the sit-to-stand / stand-to-sit transitions found. The floors hold the scores measured when the classifier
was written (docs/validation.md, "Posture (waist accelerometer)") with a margin."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reengage.dsp.posture import POSTURES, classify_postures
from reengage.posture import posture_of_file, read_accelerometer_csv

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "imu"
FILES = sorted(DATA.glob("hapt_*_waist.csv"))
pytestmark = pytest.mark.skipif(len(FILES) != 8, reason=f"the real waist recordings are not at {DATA} "
                                "(shared/data/imu beside the checkout)")

# The source's labels → ours; transition runs are movements, not postures, and unlabelled time is nobody's.
LABEL = {"STANDING": "standing", "SITTING": "sitting", "LAYING": "lying", "WALKING": "stepping",
         "WALKING_UPSTAIRS": "stepping", "WALKING_DOWNSTAIRS": "stepping"}
KIND = {"SIT_TO_STAND": "sit_to_stand", "STAND_TO_SIT": "stand_to_sit"}
TOLERANCE_S = 2.0  # a transition instant within its labelled run (1.8-9.9 s long), give or take 2 s


def labels(path: Path) -> list[dict]:
    with open(DATA / "annotations" / (path.stem + ".labels.csv"), newline="") as f:
        return [{**r, "start_s": float(r["start_s"]), "end_s": float(r["end_s"])} for r in csv.DictReader(f)]


def score(path: Path) -> dict:
    """Per file: epochs agreeing with the label, seconds per posture (ours, the labels'), transitions found
    and extra sit/stand transitions."""
    doc = posture_of_file(path, "waist")
    runs = labels(path)
    n = int(doc["duration_s"] / doc["epoch_s"])
    centre = (np.arange(n) + 0.5) * doc["epoch_s"]
    truth = np.full(n, "", dtype=object)
    for r in runs:
        truth[(centre >= r["start_s"]) & (centre < r["end_s"])] = LABEL.get(r["label"], "")
    acc, fs = read_accelerometer_csv(path)
    ours = np.array([POSTURES[k] for k in classify_postures(acc, fs=fs, placement="waist").codes], dtype=object)
    scored = truth != ""
    wanted = [(r, KIND[r["label"]]) for r in runs if r["label"] in KIND]
    found = [any(t["kind"] == kind and r["start_s"] - TOLERANCE_S <= t["t_s"] <= r["end_s"] + TOLERANCE_S
                 for t in doc["transitions"]) for r, kind in wanted]
    sitstand = sum(t["kind"] in KIND.values() for t in doc["transitions"])
    return {"agree": int(np.sum(ours[scored] == truth[scored])), "scored": int(scored.sum()),
            "seconds": {p: (float(np.sum(ours[scored] == p)), float(np.sum(truth[scored] == p)))
                        for p in ("lying", "sitting", "standing", "stepping")},
            "found": sum(found), "wanted": len(wanted), "extra": sitstand - sum(found), "doc": doc}


@pytest.fixture(scope="module")
def scores():
    return {p.stem: score(p) for p in FILES}


def test_time_per_posture_agrees_with_the_labels(scores):
    agree = sum(s["agree"] for s in scores.values()) / sum(s["scored"] for s in scores.values())
    assert agree >= 0.95, agree  # measured 0.970 (2 092 of 2 156 labelled s)
    worst = min(s["agree"] / s["scored"] for s in scores.values())
    assert worst >= 0.85, worst  # measured 0.88 (exp52: one sitting bout with an upright pelvis)
    for p, floor in (("lying", 0.99), ("stepping", 0.99)):  # the easy ones: measured 408/408 s and 902/895 s
        ours = sum(s["seconds"][p][0] for s in scores.values())
        theirs = sum(s["seconds"][p][1] for s in scores.values())
        assert abs(ours - theirs) / theirs <= 1 - floor, (p, ours, theirs)
    sit = [s["seconds"]["sitting"] for s in scores.values()]
    ours, theirs = sum(a for a, _ in sit), sum(b for _, b in sit)
    # measured 416/423 s (−2 %) pooled; single files −52 % … +47 %
    assert abs(ours - theirs) / theirs <= 0.15, (ours, theirs)


def test_sit_to_stand_and_stand_to_sit_are_found(scores):
    found = sum(s["found"] for s in scores.values())
    wanted = sum(s["wanted"] for s in scores.values())
    extra = sum(s["extra"] for s in scores.values())
    assert wanted == 17
    assert found >= 15, (found, wanted)  # measured 16 of 17 (exp46 misses its first stand-to-sit)
    assert extra <= 4, extra  # measured 3 (sitting or standing in unlabelled time, e.g. before the script starts)


def test_breaks_in_sitting_follow_the_transitions(scores):
    for name, s in scores.items():
        doc = s["doc"]
        assert doc["breaks_in_sitting"] == sum(t["kind"] == "sit_to_stand" for t in doc["transitions"]), name
        longest = max((b["end_s"] - b["start_s"] for b in doc["sitting_bouts"]), default=0.0)
        assert doc["longest_sitting_bout_s"] == pytest.approx(longest), name
        assert doc["seconds"]["not_worn"] == 0.0, name  # seven minutes of a worn phone are never "not worn"


def test_cli_json_on_a_real_recording():
    out = subprocess.run([sys.executable, "-m", "reengage.cli", "posture", str(FILES[0]), "--placement", "waist",
                          "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["placement"] == "waist" and doc["epoch_s"] == 1.0
    assert set(doc["seconds"]) == {"lying", "sitting", "standing", "stepping", "not_worn"}
    assert sum(doc["seconds"].values()) == pytest.approx(doc["duration_s"])
    assert {"t_s", "kind"} <= set(doc["transitions"][0])
