"""The BIDS EMG layout (BIDS 1.11, EMG modality): one recording →

    <out>/dataset_description.json, participants.tsv, README
    <out>/sub-<S>/ses-<YYYYMMDD>/emg/sub-<S>_ses-<D>_task-<T>_emg.edf     (EDF+, see ``edf.py``)
                                  …_emg.json      REQUIRED: TaskName, EMGPlacementScheme, EMGReference,
                                                  SamplingFrequency, PowerLineFrequency, RecordingType,
                                                  SoftwareFilters
                                  …_channels.tsv  name, type, units (+ sampling_frequency, target_muscle)
                                  …_events.tsv    onset, duration, trial_type
    <out>/sub-<S>/ses-<YYYYMMDD>/sub-<S>_ses-<D>_scans.tsv  filename, acq_time, phase, pain, notes

The ``_emg.json`` sidecar also carries the session's metadata (``reengage.meta``: subject, task, date, phase, pain,
notes), so loading the ``_emg.edf`` gives them back (``sidecar.py``).

BIDS labels are alphanumeric only, so ``prone_hip_extension`` becomes ``pronehipextension``; the original
names stay in the JSON sidecar. Exporting a second recording into the same directory adds to the dataset.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from reengage import __version__
from reengage.io.edf import write_edf
from reengage.model import Recording

BIDS_VERSION = "1.11.0"
REQUIRED_SIDECAR = (
    "TaskName", "EMGPlacementScheme", "EMGReference", "SamplingFrequency", "PowerLineFrequency",
    "RecordingType", "SoftwareFilters",
)
CHANNEL_TYPES = {"acc": "ACCEL", "gyr": "GYRO"}


def bids_label(text: str, default: str) -> str:
    label = re.sub(r"[^A-Za-z0-9]", "", str(text or ""))
    return label or default


def _tsv(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow(["n/a" if v is None or v == "" else v for v in r])


def write_bids(rec: Recording, out_dir: str | Path) -> Path:
    """Write ``rec`` into the BIDS dataset at ``out_dir``; returns the ``_emg.edf`` path."""
    root = Path(out_dir)
    meta = rec.meta
    sub = bids_label(meta.get("subject"), "anonymous")
    date = str(meta.get("session_date") or meta.get("created_utc") or "")[:10]
    ses = bids_label(date, "1")
    task = bids_label(meta.get("task"), "exercise")
    emg_dir = root / f"sub-{sub}" / f"ses-{ses}" / "emg"
    emg_dir.mkdir(parents=True, exist_ok=True)
    stem = f"sub-{sub}_ses-{ses}_task-{task}"
    run = 1
    while (emg_dir / f"{stem}_emg.edf").exists():  # a second recording of the task that day
        run += 1
        stem = f"sub-{sub}_ses-{ses}_task-{task}_run-{run}"
    edf = write_edf(rec, emg_dir / f"{stem}_emg.edf", task_label=task)  # and its _emg.json sidecar

    desc = root / "dataset_description.json"
    if not desc.exists():
        desc.write_text(json.dumps({
            "Name": "reengage recordings",
            "BIDSVersion": BIDS_VERSION,
            "DatasetType": "raw",
            "GeneratedBy": [{"Name": "reengage", "Version": __version__}],
        }, indent=2) + "\n")
    readme = root / "README"
    if not readme.exists():
        readme.write_text("Surface EMG of the gluteal and hamstring muscles during rehabilitation exercises, "
                          "recorded and exported with reengage.\n")
    parts = root / "participants.tsv"
    known = parts.read_text().split("\n")[1:] if parts.exists() else []
    if f"sub-{sub}" not in [line.split("\t")[0] for line in known]:
        _tsv(parts, ["participant_id"], [[line.split("\t")[0]] for line in known if line] + [[f"sub-{sub}"]])

    _scans(emg_dir.parent / f"sub-{sub}_ses-{ses}_scans.tsv", edf, meta)

    rows = []
    for s in rec.streams.values():
        for c in s.channels:
            ctype = "EMG" if c.kind != "imu" else CHANNEL_TYPES.get(c.name[:3].lower(), "MISC")
            desc_text = f"{c.kind} signal" + (f", {c.role}" if c.role else "")
            rows.append([c.name, ctype, c.unit, desc_text, s.fs_hz, c.role if c.kind != "imu" else None])
    _tsv(emg_dir / f"{stem}_channels.tsv",
         ["name", "type", "units", "description", "sampling_frequency", "target_muscle"], rows)
    ev = [[f"{e.onset_s:.6f}", f"{e.duration_s:.6f}", e.label] for e in rec.events]
    ev += [[f"{g.onset_s:.6f}", f"{g.duration_s:.6f}", f"gap:{g.stream}"] for g in rec.gaps]
    ev.sort(key=lambda r: float(r[0]))
    _tsv(emg_dir / f"{stem}_events.tsv", ["onset", "duration", "trial_type"], ev)
    return edf


SCAN_COLUMNS = ("phase", "pain", "notes")


def _scans(path: Path, edf: Path, meta: dict) -> None:
    """BIDS ``_scans.tsv``: one row per recording with its acquisition time and the session's clinical values
    (phase, pain, notes), so a study's table of sessions is one ``pandas.read_csv(…, sep="\\t")`` away."""
    rows = []
    if path.exists():
        with open(path, newline="") as f:
            rows = [r for r in csv.reader(f, delimiter="\t")][1:]
    name = f"{edf.parent.name}/{edf.name}"
    acq = str(meta.get("started_utc") or "")[:19] or None
    rows = [r for r in rows if r and r[0] != name]
    rows.append([name, acq] + [_one_line(meta.get(k)) for k in SCAN_COLUMNS])
    _tsv(path, ["filename", "acq_time", *SCAN_COLUMNS], rows)


def _one_line(v) -> str | None:
    return None if v is None else " ".join(str(v).split())
