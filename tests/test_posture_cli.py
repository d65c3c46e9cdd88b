"""``reengage posture``: the contract's JSON from an accelerometer CSV and from a project recording's IMU
stream, a readable table without ``--json``, and one clear line (exit 2) naming file and line for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reengage.io.recfile import RecordingWriter, StreamSpec
from reengage.model import Channel

FS = 50.0


def run(*args):
    return subprocess.run([sys.executable, "-m", "reengage.cli", *args], capture_output=True, text=True, timeout=120)


def thigh_acc(seed: int = 0) -> np.ndarray:
    """Stand 30 s, sit 60 s, stand 30 s (thigh, +x up, +z out of the front of the thigh)."""
    rng = np.random.default_rng(seed)
    dirs = [(1, 0, 0)] * 30 + [(0, 0, 1)] * 60 + [(1, 0, 0)] * 30
    g = np.repeat(np.array(dirs, dtype=float).T, int(FS), axis=1)
    return g + 0.01 * rng.standard_normal(g.shape)


def write_csv(path: Path, acc: np.ndarray) -> Path:
    t = np.arange(acc.shape[1]) / FS
    lines = ["time_s,acc_x,acc_y,acc_z"] + [f"{a:.2f},{x:.5f},{y:.5f},{z:.5f}" for a, x, y, z in zip(t, *acc)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_csv_json_follows_the_contract(tmp_path):
    out = run("posture", str(write_csv(tmp_path / "thigh.csv", thigh_acc())), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["placement"] == "thigh" and doc["epoch_s"] == 1.0 and doc["duration_s"] == 120.0
    assert doc["seconds"]["sitting"] == pytest.approx(60, abs=2)
    assert doc["seconds"]["standing"] + doc["seconds"]["stepping"] == pytest.approx(60, abs=2)
    assert [t["kind"] for t in doc["transitions"]] == ["stand_to_sit", "sit_to_stand"]
    (bout,) = doc["sitting_bouts"]
    assert bout["start_s"] == pytest.approx(30, abs=1.5) and bout["end_s"] == pytest.approx(90, abs=1.5)
    assert doc["breaks_in_sitting"] == 1
    assert doc["longest_sitting_bout_s"] == pytest.approx(bout["end_s"] - bout["start_s"])


def test_table_without_json(tmp_path):
    out = run("posture", str(write_csv(tmp_path / "thigh.csv", thigh_acc())))
    assert out.returncode == 0, out.stderr
    assert "sitting" in out.stdout and "breaks in sitting: 1" in out.stdout and "sit to stand" in out.stdout


def test_a_project_recording_with_an_imu_stream(tmp_path):
    acc = thigh_acc()
    scale = 1.0 / 8192  # g per count, as the simulated board's acc_* channels
    imu = [Channel(n, None, "g", "imu", scale, 0.0) for n in ("acc_x", "acc_y", "acc_z")]
    emg = [Channel("glute_max", "glute_max", "adc", "raw", 1.0, 511.5)]
    path = tmp_path / "s.rgr"
    with RecordingWriter(path, [StreamSpec("emg", 1000.0, emg), StreamSpec("imu", FS, imu)], {"subject": "P001"}) as w:
        w.write_block("emg", 0, np.full((1, 120_000), 512, dtype="<i2"))
        w.write_block("imu", 0, np.round(acc / scale).astype("<i2"))
    out = run("posture", str(path), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert [t["kind"] for t in doc["transitions"]] == ["stand_to_sit", "sit_to_stand"]


def test_a_recording_without_an_imu_is_one_line(tmp_path, write_rgr):
    out = run("posture", str(write_rgr(tmp_path / "emg.rgr", {"subject": "P001"})))
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "no IMU stream" in out.stderr


@pytest.mark.parametrize("text, where", [
    ("time,x,y,z\n0,1,0,0\n", "line 1: expected the header time_s,acc_x,acc_y,acc_z"),
    ("time_s,acc_x,acc_y,acc_z\n0.00,1,0,0\n0.02,1,zero,0\n", "line 3: expected 4 numbers"),
    ("time_s,acc_x,acc_y,acc_z\n0.00,1,0,0\n0.02,1,0\n", "line 3: expected 4 numbers"),
    ("time_s,acc_x,acc_y,acc_z\n0.00,1,0,0\n0.02,1,0,0\n0.02,1,0,0\n", "line 4: time_s does not increase"),
    ("time_s,acc_x,acc_y,acc_z\n0.00,1,0,0\n0.02,nan,0,0\n", "line 3: NaN or infinite"),
    ("time_s,acc_x,acc_y,acc_z\n0.00,1,0,0\n0.02,1,0,0\n", "shorter than one 1 s epoch"),
])
def test_bad_csv_is_one_line_naming_file_and_line(tmp_path, text, where):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    out = run("posture", str(path), "--placement", "waist")
    assert out.returncode == 2, out.stdout
    assert out.stderr.count("\n") == 1 and where in out.stderr, out.stderr
    assert "shorter" in where or "bad.csv" in out.stderr


def test_bad_placement_and_missing_file(tmp_path):
    out = run("posture", str(write_csv(tmp_path / "a.csv", thigh_acc())), "--placement", "ankle")
    assert out.returncode == 2 and "--placement 'ankle'" in out.stderr
    out = run("posture", str(tmp_path / "none.csv"))
    assert out.returncode == 2 and "no such file" in out.stderr
