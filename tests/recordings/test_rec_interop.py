"""Export and import: EDF+/BDF+ (pyedflib), the BIDS EMG layout and CSV. Round trips keep every sample
within the format's resolution and every event; bad files give one line naming the file and the place."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyedflib
import pytest

from reengage.acquisition.boards import load_board
from reengage.acquisition.simboard import board_samples, profile_from_board
from reengage.errors import InputError, RecordingFormatError
from reengage.io import load_recording
from reengage.io.bids import REQUIRED_SIDECAR
from reengage.io.csvio import read_csv_recording
from reengage.io.edf import read_edf_recording, write_edf
from reengage.io.export import export_recording
from reengage.io.recfile import RecordingWriter, StreamSpec, read_recording
from reengage.model import Event, Gap

REENGAGE = [sys.executable, "-m", "reengage.cli"]
SECONDS = 12.3  # not a whole number of EDF data records


def simulated_rgr(path: Path, seconds: float = SECONDS, seed: int = 3, gap: bool = True,
                  extra_meta: dict | None = None) -> Path:
    """What `reengage record --board simulated` writes, without the pty (the board's own samples)."""
    board = load_board("simulated")
    samples, session = board_samples(board, profile_from_board(board), seconds, seed)
    n = int(round(seconds * 1000))
    samples = {"emg": samples["emg"][:, :n], "imu": samples["imu"][:, : n // 10]}
    specs = [StreamSpec(s.name, s.fs_hz, s.channels) for s in board.streams.values()]
    meta = {"subject": "P031", "task": "hip_thrust", "session_date": "2026-03-04", "board": "simulated",
            "started_utc": "2026-03-04T09:15:00Z", "mains_hz": 50, **(extra_meta or {})}
    lost = (4000, 4100) if gap else (0, 0)
    with RecordingWriter(path, specs, meta) as w:
        for ev in session.events:
            if ev.onset_s < seconds:
                w.add_event(Event(ev.onset_s, min(ev.duration_s, seconds - ev.onset_s), ev.label))
        if seconds > 7.25:
            w.add_event(Event(7.25, 0.0, "cue"))
        for i in range(0, n, 8):
            if lost[0] <= i < lost[1]:
                continue
            w.write_block("emg", i, samples["emg"][:, i : i + 8])
            if i % 40 == 0:
                w.write_block("imu", i // 10, samples["imu"][:, i // 10 : i // 10 + 4])
        if gap:
            w.add_gap(Gap("emg", lost[0] / 1000, (lost[1] - lost[0]) / 1000, lost[1] - lost[0], "frames lost"))
    return path


@pytest.fixture(scope="module")
def rgr(tmp_path_factory):
    return simulated_rgr(tmp_path_factory.mktemp("interop") / "P031_hip_thrust.rgr")


def _same_samples(a, b):
    for name in ("emg", "imu"):
        sa, sb = a.streams[name], b.streams[name]
        assert sb.n_samples == sa.n_samples and sb.fs_hz == sa.fs_hz
        assert np.array_equal(sb.data, sa.data), name  # the board's integers, exactly
        res = np.array([c.scale for c in sa.channels])[:, None]
        assert (np.abs(sb.physical() - sa.physical()) <= res / 2).all()
        assert [c.name for c in sb.channels] == [c.name for c in sa.channels]
        assert [(c.role, c.kind, c.unit) for c in sb.channels] == [(c.role, c.kind, c.unit) for c in sa.channels]
        assert sb.t0_s == pytest.approx(sa.t0_s)


def _same_events(a, b, tol=1e-4):
    assert [e.label for e in b.events] == [e.label for e in a.events]
    for ea, eb in zip(a.events, b.events):
        assert eb.onset_s == pytest.approx(ea.onset_s, abs=tol)
        assert eb.duration_s == pytest.approx(ea.duration_s, abs=tol)


@pytest.mark.parametrize("fmt", ["edf", "bdf"])
def test_record_export_import_keeps_samples_and_events(rgr, tmp_path, fmt):
    rec = read_recording(rgr)
    out, side = export_recording(rgr, fmt, tmp_path)
    assert side == out.with_suffix(".json") and side.is_file()
    back = load_recording(out)  # through the same dispatcher `info`/`analyze` use
    _same_samples(rec, back)
    _same_events(rec, back)
    assert [(g.stream, g.samples_lost) for g in back.gaps] == [(g.stream, g.samples_lost) for g in rec.gaps]
    assert ("emg", 100) in [(g.stream, g.samples_lost) for g in back.gaps]
    assert back.meta["subject"] == "P031" and back.meta["task"] == "hip_thrust"
    assert back.meta["session_date"] == "2026-03-04"


def test_edf_is_standard_edf_plus_for_other_readers(rgr, tmp_path):
    """What EDFbrowser / MNE see: labels, rates, units, physical values and the annotations."""
    rec = read_recording(rgr)
    out = export_recording(rgr, "edf", tmp_path)[0]
    r = pyedflib.EdfReader(str(out))
    try:
        assert r.filetype == pyedflib.FILETYPE_EDFPLUS
        assert r.getSignalLabels()[:2] == ["EMG glute_max", "EMG hamstrings"]
        assert r.getSampleFrequency(0) == 1000 and r.getSampleFrequency(2) == 100
        assert r.getPhysicalDimension(0) == "mV"
        phys = r.readSignal(0)[: rec.emg.n_samples]
        assert np.abs(phys - rec.emg.physical()[0]).max() < rec.emg.channels[0].scale  # 8-char header limits
        _, _, labels = r.readAnnotations()
        assert {"rest", "exercise", "cue", "gap:emg"} <= set(labels)
    finally:
        r.close()


def test_float_recordings_are_quantised_within_resolution(tmp_path):
    csv_path = tmp_path / "lab.csv"
    t = np.arange(3000) / 1000
    rng = np.random.default_rng(1)
    cols = {"time_s": t, "glute_max": 0.3 * rng.standard_normal(3000), "EMG2": 0.1 * np.sin(40 * t)}
    with open(csv_path, "w") as f:
        f.write(",".join(cols) + "\n")
        for row in zip(*cols.values()):
            f.write(",".join(f"{v:.9g}" for v in row) + "\n")
    rec = read_csv_recording(csv_path)
    out = write_edf(rec, tmp_path / "lab.edf")
    back = read_edf_recording(out)
    for ch, a, b in zip(back.emg.channels, rec.emg.physical(), back.emg.physical()):
        assert np.abs(a - b).max() <= ch.scale / 2 + 1e-12  # 16-bit over the channel's range
    assert back.emg.channels[0].role == "glute_max" and back.emg.channels[1].role is None


def test_bids_layout_has_the_required_files_and_fields(rgr, tmp_path):
    files = export_recording(rgr, "bids", tmp_path)
    emg_dir = tmp_path / "sub-P031" / "ses-20260304" / "emg"
    stem = "sub-P031_ses-20260304_task-hipthrust"
    assert files[0] == emg_dir / f"{stem}_emg.edf"
    for suffix in ("emg.edf", "emg.json", "channels.tsv", "events.tsv"):
        assert (emg_dir / f"{stem}_{suffix}").is_file(), suffix
    desc = json.loads((tmp_path / "dataset_description.json").read_text())
    assert desc["Name"] and desc["BIDSVersion"].startswith("1.")  # the two REQUIRED fields
    sidecar = json.loads((emg_dir / f"{stem}_emg.json").read_text())
    for key in REQUIRED_SIDECAR:
        assert key in sidecar and sidecar[key] not in ("", None), key
    assert sidecar["SamplingFrequency"] == 1000.0 and sidecar["TaskName"] == "hipthrust"
    assert sidecar["EMGPlacementScheme"] != "Other" or sidecar["EMGPlacementSchemeDescription"]
    with open(emg_dir / f"{stem}_channels.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert list(rows[0])[:3] == ["name", "type", "units"]  # required columns, in this order
    assert [r["type"] for r in rows] == ["EMG", "EMG"] + ["ACCEL"] * 3 + ["GYRO"] * 3
    assert all(r["units"] for r in rows) and rows[0]["target_muscle"] == "glute_max"
    with open(emg_dir / f"{stem}_events.tsv") as f:
        events = list(csv.DictReader(f, delimiter="\t"))
    assert list(events[0])[:2] == ["onset", "duration"]
    onsets = [float(e["onset"]) for e in events]
    assert onsets == sorted(onsets) and all(float(e["duration"]) >= 0 for e in events)
    rec = read_recording(rgr)
    assert len(events) == len(rec.events) + len(rec.gaps)
    # The EDF inside the dataset is the same lossless EDF+.
    back = read_edf_recording(files[0])
    _same_samples(rec, back)
    _same_events(rec, back)
    # A second session of the same subject goes next to the first; participants listed once.
    export_recording(rgr, "bids", tmp_path)
    assert (emg_dir / f"{stem}_run-2_emg.edf").is_file()
    assert (tmp_path / "participants.tsv").read_text().split() == ["participant_id", "sub-P031"]


def test_csv_export_follows_the_analysis_contract(rgr, tmp_path):
    rec = read_recording(rgr)
    files = export_recording(rgr, "csv", tmp_path)
    assert [f.name for f in files] == ["P031_hip_thrust.csv", "P031_hip_thrust.events.csv", "P031_hip_thrust.json"]
    files[2].unlink()  # the CSV alone, as a spreadsheet user hands it on: physical values
    back = read_csv_recording(files[0])
    assert back.fs_hz == 1000.0 and back.emg.n_samples == rec.emg.n_samples
    assert [c.role for c in back.emg.channels] == ["glute_max", "hamstrings"]
    assert np.allclose(back.emg.data, rec.emg.physical(), rtol=1e-5, atol=1e-6)
    assert [c.name for c in back.imu.channels] == ["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"]
    with open(files[1]) as f:
        rows = list(csv.DictReader(f))
    assert [r["label"] for r in rows if not r["label"].startswith("gap:")] == [e.label for e in rec.events]
    assert [r["label"] for r in rows if r["label"].startswith("gap:")] == [f"gap:{g.stream}" for g in rec.gaps]
    assert [e.label for e in back.events] == [e.label for e in rec.events]


def test_edf_left_by_a_killed_writer_is_recovered(rgr, tmp_path):
    """pyedflib leaves -1 as the record count when its process dies (shared/TOOLCHAIN.md)."""
    out = export_recording(rgr, "edf", tmp_path)[0]
    blob = bytearray(out.read_bytes())
    blob[236:244] = b"-1      "
    header = int(blob[184:192])
    cut = out.with_name("killed.edf")
    cut.write_bytes(bytes(blob[: header + 5 * 2 * (2000 + 6 * 100 + 2 * 0) + 12345]))
    back = read_edf_recording(cut)
    assert back.integrity == "recovered" and "byte 236" in back.problems[0]
    n = back.emg.n_samples
    assert n > 0 and np.array_equal(back.emg.data, read_recording(rgr).emg.data[:, :n])


def test_unreadable_edf_is_one_line_naming_the_file(tmp_path):
    bad = tmp_path / "noise.edf"
    bad.write_bytes(b"0       " + bytes(range(256)) * 4)
    with pytest.raises(RecordingFormatError, match="noise.edf: byte 0"):
        read_edf_recording(bad)
    r = subprocess.run([*REENGAGE, "info", str(bad)], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "noise.edf" in r.stderr


def test_export_cli_and_bad_format(rgr, tmp_path):
    r = subprocess.run([*REENGAGE, "export", str(rgr), "--format", "edf", "--out", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    printed = [Path(p) for p in r.stdout.split()]
    assert [p.suffix for p in printed] == [".edf", ".json"] and all(p.is_file() for p in printed)
    r = subprocess.run([*REENGAGE, "export", str(rgr), "--format", "mat", "--out", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--format 'mat'" in r.stderr and r.stderr.count("\n") == 1
    with pytest.raises(InputError):
        export_recording(tmp_path / "missing.rgr", "edf", tmp_path)


def test_reading_and_writing_edf_prints_nothing_on_stdout(rgr, tmp_path, capfd):
    """stdout is the CLI's data (``info --json``); pyedflib is C, so this is checked on file descriptor 1."""
    from reengage.io.edf import stdout_to_stderr

    capfd.readouterr()
    for fmt in ("edf", "bdf", "bids"):
        load_recording(export_recording(rgr, fmt, tmp_path / fmt)[0])
    with pytest.raises(RecordingFormatError):
        read_edf_recording(tmp_path / "edf" / "P031_hip_thrust.json")  # not an EDF: edflib's error path
    out, _ = capfd.readouterr()
    assert out == ""
    # What C code writes to fd 1 inside the guard goes to stderr, and fd 1 is back afterwards.
    with stdout_to_stderr():
        os.write(1, b"from C\n")
    os.write(1, b"after\n")
    out, err = capfd.readouterr()
    assert (out, err) == ("after\n", "from C\n")
    edf = tmp_path / "edf" / "P031_hip_thrust.edf"
    r = subprocess.run([*REENGAGE, "info", str(edf), "--json"], capture_output=True, text=True)
    assert r.returncode == 0 and json.loads(r.stdout)["meta"]["subject"] == "P031"
