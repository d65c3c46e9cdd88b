"""The BIDS EMG layout (BIDS 1.11, EMG modality): one recording →

    <out>/dataset_description.json, participants.tsv, README
    <out>/sub-<S>/ses-<YYYYMMDD>/emg/sub-<S>_ses-<D>_task-<T>_emg.edf     (EDF+, see ``edf.py``)
                                  …_emg.json      REQUIRED: TaskName, EMGPlacementScheme, EMGReference,
                                                  SamplingFrequency, PowerLineFrequency, RecordingType,
                                                  SoftwareFilters
                                  …_channels.tsv  name, type, units (+ sampling_frequency, target_muscle)
                                  …_events.tsv    onset, duration, trial_type

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
# Where the sensors go (SENIAM recommendations, Hermens et al. 2000; glute med per Cram's guide).
PLACEMENT = {
    "glute_max": "50% on the line between the sacral vertebrae and the greater trochanter",
    "glute_med": "50% on the line from the iliac crest to the greater trochanter",
    "hamstrings": "biceps femoris: 50% on the line between the ischial tuberosity and the lateral epicondyle of the tibia",
    "erector_spinae": "2 finger widths lateral to the L1 spinous process",
}


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
    edf = write_edf(rec, emg_dir / f"{stem}_emg.edf")

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

    emg = rec.emg
    roles = [c.role for c in emg.channels if c.role]
    sidecar = {
        "TaskName": task,
        "TaskDescription": str(meta.get("task") or ""),
        "EMGPlacementScheme": "Other",
        "EMGPlacementSchemeDescription": "; ".join(f"{r}: {PLACEMENT[r]}" for r in roles if r in PLACEMENT)
        or "not recorded",
        "EMGReference": "ChannelSpecific",
        "SamplingFrequency": emg.fs_hz,
        "PowerLineFrequency": meta.get("mains_hz", "n/a"),
        "RecordingType": "continuous",
        "SoftwareFilters": "n/a",
        "RecordingDuration": round(rec.duration_s, 6),
        "EMGChannelCount": len(emg.channels),
        "Manufacturer": str(meta.get("board") or "n/a"),
        "SoftwareVersions": f"reengage {__version__}",
    }
    (emg_dir / f"{stem}_emg.json").write_text(json.dumps(sidecar, indent=2) + "\n")

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
