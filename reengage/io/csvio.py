"""Plain CSV recordings, as ``contracts/analysis.md`` defines them: a header row, ``time_s`` first, one
column per channel (muscle roles recognised by name), optional IMU columns ``acc_*`` (g), ``gyr_*`` (deg/s)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from reengage.errors import InputError
from reengage.model import IMU_CHANNELS, Channel, Recording, Stream, role_for_name


def read_csv_recording(path: str | Path, channel_map: dict[str, str] | None = None) -> Recording:
    """Read a CSV recording. ``channel_map`` maps a role to a column (``{"glute_max": "EMG1"}``).

    Raises :class:`InputError` naming the file and, where it applies, the line or column.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty")
    try:
        df = pd.read_csv(path, skipinitialspace=True, comment="#")
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: file is empty (no header row)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not a readable CSV ({str(e).splitlines()[0]})") from None
    df.columns = [str(c).strip() for c in df.columns]
    if "time_s" not in df.columns:
        raise InputError(f"{path}: line 1: no 'time_s' column (header is: {', '.join(df.columns[:8])})")
    if len(df) < 2:
        raise InputError(f"{path}: fewer than two samples")
    for col in df.columns:
        if not pd.api.types.is_numeric_dtype(df[col]):
            bad = pd.to_numeric(df[col], errors="coerce").isna() & df[col].notna()
            row = int(np.flatnonzero(bad.to_numpy())[0]) if bad.any() else 0
            raise InputError(f"{path}: line {row + 2}: column {col!r} holds a non-numeric value {df[col].iloc[row]!r}")
    missing = df.isna().to_numpy()
    if missing.any():
        r, c = np.argwhere(missing)[0]
        raise InputError(f"{path}: line {r + 2}: column {df.columns[c]!r} is empty")
    t = df["time_s"].to_numpy(dtype=np.float64)
    dt = np.diff(t)
    if (dt <= 0).any():
        k = int(np.flatnonzero(dt <= 0)[0])
        raise InputError(f"{path}: line {k + 3}: time_s is not increasing ({t[k]} then {t[k + 1]})")
    fs = 1.0 / float(np.median(dt))
    # Most loggers quantise the time column; snap to a round rate when within 0.5 %.
    for nominal in (100, 200, 250, 500, 512, 1000, 1024, 2000, 2048, 4000):
        if abs(fs - nominal) / nominal < 0.005:
            fs = float(nominal)
            break
    roles: dict[str, str] = {}
    for role, col in (channel_map or {}).items():
        if col not in df.columns:
            raise InputError(f"{path}: --channel {role}={col}: no column {col!r}")
        roles[col] = role
    emg_cols, imu_cols = [], []
    for col in df.columns[1:]:
        if col in IMU_CHANNELS:
            imu_cols.append(col)
        else:
            emg_cols.append(col)
    if not emg_cols:
        raise InputError(f"{path}: no EMG channel (only time_s and IMU columns)")
    channels = [Channel(c, roles.get(c) or role_for_name(c), "", "raw") for c in emg_cols]
    streams = {"emg": Stream("emg", fs, channels, df[emg_cols].to_numpy(dtype=np.float64).T.copy())}
    if imu_cols:
        imu_ch = [Channel(c, None, "g" if c.startswith("acc") else "deg/s", "imu") for c in imu_cols]
        streams["imu"] = Stream("imu", fs, imu_ch, df[imu_cols].to_numpy(dtype=np.float64).T.copy())
    meta = {"source_format": "csv", "time_s_start": float(t[0])}
    return Recording(streams=streams, meta=meta, source=str(path))


def write_csv_recording(rec: Recording, path: str | Path) -> Path:
    """Write the EMG stream (and the IMU resampled onto the EMG clock by linear interpolation) as CSV in
    physical units, readable back by :func:`read_csv_recording`. Events go to a sibling ``.events.csv``."""
    path = Path(path)
    emg = rec.emg
    t = emg.times()
    cols = {"time_s": np.round(t, 6)}
    for c, row in zip(emg.channels, emg.physical()):
        cols[c.name] = row
    if rec.imu is not None:
        ti = rec.imu.times()
        for c, row in zip(rec.imu.channels, rec.imu.physical()):
            cols[c.name] = np.interp(t, ti, row)
    pd.DataFrame(cols).to_csv(path, index=False, float_format="%.6g")
    if rec.events:
        pd.DataFrame([e.to_dict() for e in rec.events]).to_csv(path.with_suffix(".events.csv"), index=False)
    return path
