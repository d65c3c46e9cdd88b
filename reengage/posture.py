"""``reengage posture``: posture and activity from an accelerometer recording (contract: ``docs/cli.md``).

Reads a CSV of ``time_s,acc_x,acc_y,acc_z`` in g (e.g. the real waist recordings of ``shared/data/imu``) or a
project recording's IMU stream (``acc_x``, ``acc_y``, ``acc_z``), classifies each epoch with
:func:`reengage.dsp.posture.classify_postures` and sums it up: seconds per posture, transitions, sitting bouts and
breaks in sitting (a sitting bout ended by standing up: Healy et al. 2008, *Diabetes Care* 31:661–666).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from reengage.dsp.posture import (POSTURES, SITTING, PostureOptions, classify_postures, posture_transitions,
                                  sitting_bouts)
from reengage.errors import InputError, RecordingFormatError

CSV_COLUMNS = ("time_s", "acc_x", "acc_y", "acc_z")
G = 9.80665  # m/s² per g


def read_accelerometer_csv(path: Path) -> tuple[np.ndarray, float]:
    """(acc (3, samples) in g, fs in Hz) from a ``time_s,acc_x,acc_y,acc_z`` CSV; a bad line is one
    :class:`RecordingFormatError` naming the file and the line."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read ({e})") from None
    if not rows or [c.strip() for c in rows[0][:4]] != list(CSV_COLUMNS):
        got = ",".join(rows[0]) if rows else "an empty file"
        raise RecordingFormatError(f"{path}: line 1: expected the header {','.join(CSV_COLUMNS)}, got {got!r}")
    values = np.empty((len(rows) - 1, 4))
    for i, row in enumerate(rows[1:]):
        try:
            if len(row) < 4:
                raise ValueError
            values[i] = [float(v) for v in row[:4]]
        except ValueError:
            raise RecordingFormatError(f"{path}: line {i + 2}: expected 4 numbers "
                                       f"({','.join(CSV_COLUMNS)}), got {','.join(row)!r}") from None
        if not np.isfinite(values[i]).all():
            raise RecordingFormatError(f"{path}: line {i + 2}: NaN or infinite value")
    if len(values) < 2:
        raise RecordingFormatError(f"{path}: fewer than 2 samples")
    dt = np.diff(values[:, 0])
    if not (dt > 0).all():
        k = int(np.flatnonzero(dt <= 0)[0])
        raise RecordingFormatError(f"{path}: line {k + 3}: time_s does not increase ({values[k + 1, 0]} after "
                                   f"{values[k, 0]})")
    return values[:, 1:].T.copy(), float(1.0 / np.median(dt))


def read_recording_accelerometer(path: Path) -> tuple[np.ndarray, float]:
    """(acc (3, samples) in g, fs in Hz) from a project recording's IMU stream."""
    from reengage.io import load_recording

    rec = load_recording(path)
    imu = rec.imu
    if imu is None or not imu.n_samples:
        raise InputError(f"{path}: no IMU stream in this recording (posture needs an accelerometer)")
    names = [c.name.lower() for c in imu.channels]
    missing = [n for n in CSV_COLUMNS[1:] if n not in names]
    if missing:
        raise InputError(f"{path}: the IMU stream has no {', '.join(missing)} channel")
    idx = [names.index(n) for n in CSV_COLUMNS[1:]]
    acc = imu.physical()[idx]
    for row, i in enumerate(idx):
        unit = imu.channels[i].unit.replace(" ", "").lower()
        if unit in ("m/s2", "m/s^2", "m/s²"):
            acc[row] /= G
        elif unit != "g":
            raise InputError(f"{path}: {imu.channels[i].name} is in {imu.channels[i].unit!r}, not g or m/s²")
    return acc, float(imu.fs_hz)


def posture_report(acc: np.ndarray, fs: float, placement: str = "thigh",
                   options: PostureOptions | None = None) -> dict:
    """The ``reengage posture --json`` document of an accelerometer record (acc (3, samples) in g)."""
    opts = options or PostureOptions()
    try:
        ep = classify_postures(acc, fs=fs, placement=placement, options=opts)
    except ValueError as e:
        raise InputError(f"posture: {e}") from None
    if ep.codes.size == 0:
        raise InputError(f"posture: the record is shorter than one {opts.epoch_s:g} s epoch")
    e = opts.epoch_s
    transitions = posture_transitions(ep.codes, epoch_s=e, activity=ep.activity_g)
    bouts = sitting_bouts(ep.codes, epoch_s=e, transitions=transitions)
    n = ep.codes.size
    ends_standing = sum(1 for _, kind in transitions if kind == "sit_to_stand")
    return {
        "placement": placement,
        "epoch_s": e,
        "duration_s": round(n * e, 3),
        "seconds": {p: round(float(np.sum(ep.codes == k)) * e, 3) for k, p in enumerate(POSTURES)},
        "transitions": [{"t_s": t, "kind": kind} for t, kind in transitions],
        "sitting_bouts": [{"start_s": round(a, 3), "end_s": round(b, 3)} for a, b in bouts],
        "breaks_in_sitting": ends_standing,
        "longest_sitting_bout_s": round(max((b - a for a, b in bouts), default=0.0), 3),
        "upright_reference": {"source": ep.reference_source, "direction": [round(float(v), 4) for v in ep.reference]},
        "fs_hz": round(fs, 6),
        "sitting_fraction": round(float(np.mean(ep.codes == SITTING)), 4),
    }


def posture_of_file(path: Path, placement: str = "thigh") -> dict:
    """Read ``path`` (accelerometer CSV or project recording) and build its posture document."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        acc, fs = read_accelerometer_csv(path)
    else:
        acc, fs = read_recording_accelerometer(path)
    doc = posture_report(acc, fs, placement)
    doc["path"] = str(path)
    return doc
