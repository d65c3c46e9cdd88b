"""Plain CSV recordings, as ``contracts/analysis.md`` defines them: a header row, ``time_s`` first, one
column per channel (muscle roles recognised by name), optional IMU columns ``acc_*`` (g), ``gyr_*`` (deg/s).

What real users' files look like, and what the reader does with them:

- Excel in a comma-decimal locale (most of Europe) saves ``;``-separated values with decimal commas: read as such
  (a ``;`` or tab in the header line chooses the separator; with ``;``, a comma between digits is a decimal comma).
- A time column in milliseconds: ``time_ms`` (and ``time_us``) is converted to seconds. A ``time_s`` column whose
  step is 0.5 or more is refused, because no surface-EMG logger samples at 2 Hz or less: such a column holds
  milliseconds or sample numbers, and guessing which would silently scale every onset.
- Anything else wrong gives one :class:`InputError` naming the file, the line and the problem.

Beside ``NAME.csv`` the exporter writes ``NAME.events.csv`` (``onset_s,duration_s,label``: rest, ``mvc:<role>``,
exercise, … and ``gap:<stream>`` for samples that never arrived, the labels EDF+ and BIDS exports use too) and
the JSON sidecar ``NAME.json`` (``sidecar.py``: units, roles, the session's metadata). Both are optional on reading:
a CSV alone reads exactly as before. Event times are on the ``time_s`` column's clock, as a spreadsheet user sees
it.
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from reengage.errors import InputError
from reengage.io.sidecar import read_sidecar, sidecar_channels, write_sidecar
from reengage.model import IMU_CHANNELS, Channel, Event, Gap, Recording, Stream, role_for_name

EVENTS_SUFFIX = ".events.csv"
TIME_COLUMNS = {"time_s": 1.0, "time_ms": 1e-3, "time_us": 1e-6}
NOMINAL_RATES_HZ = (100, 200, 250, 500, 512, 1000, 1024, 2000, 2048, 4000)
# sEMG systems go to 32 (high-density grids 64) channels; a header with thousands of columns is not a recording,
# and parsing its body would cost time and memory in proportion. Refused from the header line alone.
MAX_CHANNELS = 64


def events_path(path: str | Path) -> Path:
    """The events file of a CSV recording: ``NAME.events.csv`` beside ``NAME.csv``."""
    path = Path(path)
    return path.with_name(path.stem + EVENTS_SUFFIX)


def is_events_file(path: str | Path) -> bool:
    """True for ``NAME.events.csv``: an export's events, not a recording (``analyze --all`` skips it)."""
    return Path(path).name.lower().endswith(EVENTS_SUFFIX)


def _text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a byte-order mark
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")  # Excel's plain "CSV" on Windows


def _content_lines(text: str) -> list[tuple[int, str]]:  # for the small events file
    """(1-based line number, line) of every line that is neither blank nor a ``#`` comment."""
    return [(i + 1, ln) for i, ln in enumerate(text.splitlines()) if ln.strip() and not ln.lstrip().startswith("#")]


def _dialect(path: Path, header: str, sample: list[str], forced: str | None = None) -> tuple[str, str]:
    """(separator, decimal mark) from the header line and a few data lines."""
    if forced:
        sep = forced
    elif "\t" in header or path.suffix.lower() == ".tsv":
        sep = "\t"
    elif ";" in header and "," not in header:
        sep = ";"
    else:
        sep = ","
    decimal = "," if sep != "," and any(re.search(r"\d,\d", ln) for ln in sample) else "."
    return sep, decimal


def _table(path: Path, text: str) -> tuple[pd.DataFrame, int, range | list[int], str]:
    """The samples as a DataFrame, the header's line, the file line of each row, and the dialect in words."""
    all_lines = text.splitlines()
    start = 0  # the header: the first line that is neither blank nor a comment (nor Excel's "sep=;" hint)
    forced = None
    while start < len(all_lines) and (not all_lines[start].strip() or all_lines[start].lstrip().startswith("#")
                                      or re.fullmatch(r"\s*sep=(.)\s*", all_lines[start])):
        m = re.fullmatch(r"\s*sep=(.)\s*", all_lines[start])
        forced = m.group(1) if m else forced
        start += 1
    if start == len(all_lines):
        raise InputError(f"{path}: file is empty (no header row)" if text.strip() else f"{path}: file is empty")
    head_no, header = start + 1, all_lines[start]
    rest = all_lines[start + 1:]
    if any(not ln.strip() or ln.lstrip().startswith("#") for ln in rest):  # comments between the samples
        kept = [(head_no + 1 + i, ln) for i, ln in enumerate(rest) if ln.strip() and not ln.lstrip().startswith("#")]
        line_nos: range | list[int] = [n for n, _ in kept]
        rest = [ln for _, ln in kept]
    else:
        line_nos = range(head_no + 1, head_no + 1 + len(rest))
    if not rest:
        raise InputError(f"{path}: line {head_no}: a header but no samples")
    sep, decimal = _dialect(path, header, rest[:20], forced)
    if header.count(sep) > MAX_CHANNELS:
        raise InputError(f"{path}: line {head_no}: {header.count(sep) + 1} columns; reengage reads a time column "
                         f"and at most {MAX_CHANNELS} channels")
    names = [c.strip().strip('"').strip() for c in header.split(sep)]
    try:
        df = pd.read_csv(io.StringIO("\n".join(rest)), sep=sep, decimal=decimal, header=None, names=names,
                         skipinitialspace=True)
    except (pd.errors.ParserError, ValueError) as e:
        _ragged(path, rest, line_nos, sep, head_no, len(names))
        raise InputError(f"{path}: not a readable CSV ({str(e).splitlines()[0]})") from None
    if df.isna().to_numpy().any():  # a short line reads as empty cells: say which line has too few fields
        _ragged(path, rest, line_nos, sep, head_no, len(names))
    what = {",": "comma", ";": "semicolon", "\t": "tab"}.get(sep, repr(sep)) + "-separated" + (
        ", decimal commas" if decimal == "," else "")
    return df, head_no, line_nos, what


def _ragged(path: Path, rows: list[str], line_nos, sep: str, head_no: int, n: int) -> None:
    for k, ln in enumerate(rows):
        if ln.count(sep) != n - 1:
            raise InputError(f"{path}: line {line_nos[k]}: {ln.count(sep) + 1} fields, the header (line {head_no}) "
                             f"has {n}")


def _check_numbers(path: Path, df: pd.DataFrame, line_nos: list[int], what: str) -> None:
    for j, col in enumerate(df.columns):
        values = df[col]
        if not pd.api.types.is_numeric_dtype(values):
            text = values.astype(str).str.strip()
            if "decimal commas" in what:  # pandas leaves a column with a bad cell as text, commas and all
                text = text.str.replace(",", ".", regex=False)
            bad = pd.to_numeric(text, errors="coerce").isna() & values.notna()
            k = int(np.flatnonzero(bad.to_numpy())[0]) if bad.any() else 0
            raise InputError(f"{path}: line {line_nos[k]}, column {j + 1} ({col!r}): {values.iloc[k]!r} is not a "
                             f"number (read as {what})")
        arr = values.to_numpy(dtype=np.float64)
        if not np.isfinite(arr).all():
            k = int(np.flatnonzero(~np.isfinite(arr))[0])
            problem = "is empty" if np.isnan(arr[k]) else f"holds {arr[k]}"
            raise InputError(f"{path}: line {line_nos[k]}, column {j + 1} ({col!r}) {problem}")


def _time_seconds(path: Path, df: pd.DataFrame, head_no: int, line_nos: list[int]) -> np.ndarray:
    first = df.columns[0]
    unit = TIME_COLUMNS.get(first.lower())
    if unit is None:
        shown = ", ".join(df.columns[:8])
        raise InputError(f"{path}: line {head_no}: no time column: the first column must be time_s (seconds) or time_ms "
                         f"(milliseconds), the header is: {shown}")
    t = df[first].to_numpy(dtype=np.float64)
    if len(t) < 2:
        raise InputError(f"{path}: fewer than two samples")
    dt = np.diff(t)
    if (dt <= 0).any():
        k = int(np.flatnonzero(dt <= 0)[0])
        raise InputError(f"{path}: line {line_nos[k + 1]}: {first} is not increasing ({t[k]:g} then {t[k + 1]:g})")
    step = float(np.median(dt)) * unit
    if unit == 1.0 and step >= 0.5:
        raise InputError(f"{path}: {first} steps by {step:g} (median): that is not seconds (sEMG is sampled at "
                         f"hundreds of Hz); if the column is milliseconds, name it time_ms")
    return t * unit


def _rate(t: np.ndarray) -> float:
    fs = 1.0 / float(np.median(np.diff(t)))
    # Most loggers quantise the time column; snap to a round rate when within 0.5 %.
    for nominal in NOMINAL_RATES_HZ:
        if abs(fs - nominal) / nominal < 0.005:
            return float(nominal)
    return fs


def read_csv_recording(path: str | Path, channel_map: dict[str, str] | None = None) -> Recording:
    """Read a CSV recording, with its ``NAME.events.csv`` and ``NAME.json`` when they are there.
    ``channel_map`` maps a role to a column (``{"glute_max": "EMG1"}``).

    Raises :class:`InputError` naming the file and, where it applies, the line and column.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if is_events_file(path):
        data = path.with_name(path.name[: -len(EVENTS_SUFFIX)] + ".csv")
        raise InputError(f"{path}: this is the events file of {data.name}, not a recording; open {data.name}")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty")
    df, head_no, line_nos, what = _table(path, _text(path))
    _check_numbers(path, df, line_nos, what)
    t = _time_seconds(path, df, head_no, line_nos)
    fs = _rate(t)
    roles: dict[str, str] = {}
    for role, col in (channel_map or {}).items():
        if col not in df.columns:
            raise InputError(f"{path}: --channel {role}={col}: no column {col!r}")
        roles[col] = role
    emg_cols = [c for c in df.columns[1:] if c not in IMU_CHANNELS]
    imu_cols = [c for c in df.columns[1:] if c in IMU_CHANNELS]
    if not emg_cols:
        raise InputError(f"{path}: no EMG channel (only the time column and IMU columns: {', '.join(df.columns)})")
    block, problem = read_sidecar(path)
    streams = {"emg": _emg_stream(df, emg_cols, fs, roles, block)}
    if imu_cols:
        streams["imu"] = _imu_stream(df, imu_cols, t, fs, block)
    meta = {**(block["meta"] if block else {}), "source_format": "csv", "time_s_start": float(t[0])}
    events, gaps = read_events(events_path(path), t0_s=float(t[0]), rates={k: s.fs_hz for k, s in streams.items()})
    return Recording(streams=streams, meta=meta, events=events, gaps=gaps, problems=[problem] if problem else [],
                     source=str(path))


def _stored(values: np.ndarray, channels: list[Channel], dtype: str | None) -> np.ndarray:
    """The board's integers back from physical values printed to 6 significant digits, when the sidecar gives
    each channel's scale and offset and every value agrees with an integer within the printing's precision
    (so an edited or foreign CSV keeps its floats)."""
    if not dtype or np.dtype(dtype).kind not in "iu" or not values.size:
        return values
    scale = np.array([c.scale for c in channels])[:, None]
    offset = np.array([c.offset for c in channels])[:, None]
    if not (scale > 0).all():
        return values
    ints = np.round(values / scale + offset)
    tol = 5e-6 * np.maximum(np.abs(values), scale) + 1e-12  # "%.6g" keeps 6 significant digits
    info = np.iinfo(np.dtype(dtype))
    if (np.abs((ints - offset) * scale - values) > tol).any() or ints.min() < info.min or ints.max() > info.max:
        return values
    return ints.astype(dtype)


def _emg_stream(df: pd.DataFrame, cols: list[str], fs: float, roles: dict, block: dict | None) -> Stream:
    values = df[cols].to_numpy(dtype=np.float64).T.copy()
    side = sidecar_channels(block, "emg", cols)
    if side is None:
        channels = [Channel(c, roles.get(c) or role_for_name(c), "", "raw") for c in cols]
        return Stream("emg", fs, channels, values)
    spec = block["streams"]["emg"]
    data = _stored(values, side, spec.get("stored"))
    exact = data.dtype.kind in "iu"
    channels = [Channel(c.name, roles.get(c.name) or c.role, c.unit, c.kind, *((c.scale, c.offset) if exact else ()))
                for c in side]
    return Stream("emg", fs, channels, data, first_sample=_int(spec.get("first_sample")))


def _imu_stream(df: pd.DataFrame, cols: list[str], t: np.ndarray, fs: float, block: dict | None) -> Stream:
    """The IMU columns; at the IMU's own rate when the sidecar gives it and its samples are rows of the file
    (the exporter interpolates onto the EMG clock, which leaves them exact where the clocks meet)."""
    values = df[cols].to_numpy(dtype=np.float64).T.copy()
    side = sidecar_channels(block, "imu", cols)
    if side is None:
        return Stream("imu", fs, [Channel(c, None, "g" if c.startswith("acc") else "deg/s", "imu") for c in cols],
                      values)
    spec = block["streams"]["imu"]
    try:
        imu_fs, t0, n = float(spec["fs_hz"]), float(spec["t0_s"]), int(spec["n_samples"])
    except (KeyError, TypeError, ValueError):
        imu_fs, t0, n = fs, float(t[0]), values.shape[1]
    step = fs / imu_fs if imu_fs > 0 else 0.0
    first = (t0 - t[0]) * fs
    rows = np.round(first + step * np.arange(n)).astype(np.int64) if n > 0 else np.zeros(0, np.int64)
    if not (step >= 1 and abs(step - round(step)) < 1e-9 and abs(first - round(first)) < 1e-6
            and (n == 0 or (rows[0] >= 0 and rows[-1] < values.shape[1]))):
        return Stream("imu", fs, [Channel(c.name, c.role, c.unit, c.kind) for c in side], values)
    data = _stored(values[:, rows], side, spec.get("stored"))
    channels = side if data.dtype.kind in "iu" else [Channel(c.name, c.role, c.unit, c.kind) for c in side]
    return Stream("imu", imu_fs, channels, data, first_sample=_int(spec.get("first_sample")), t0_s=t0 - float(t[0]))


def _int(v) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


def read_events(path: Path, *, t0_s: float = 0.0, rates: dict[str, float] | None = None) -> tuple[list, list]:
    """(events, gaps) from an events CSV (``onset_s,duration_s,label``; BIDS' ``onset,duration,trial_type``
    too), times moved to the recording's origin ``t0_s``; no file: ([], [])."""
    if not path.is_file():
        return [], []
    text = _text(path)
    lines = _content_lines(text)
    if not lines:
        return [], []
    sep, decimal = _dialect(path, lines[0][1], [ln for _, ln in lines[1:20]])
    header = [c.strip().strip('"').lower() for c in lines[0][1].split(sep)]
    cols = [next((h for h in names if h in header), None) for names in
            (("onset_s", "onset"), ("duration_s", "duration"), ("label", "trial_type"))]
    if None in cols:
        raise InputError(f"{path}: line {lines[0][0]}: an events file needs the columns onset_s, duration_s, label "
                         f"(header is: {', '.join(header)})")
    try:
        df = pd.read_csv(io.StringIO("\n".join(ln for _, ln in lines)), sep=sep, decimal=decimal, dtype=str,
                         keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, ValueError) as e:
        raise InputError(f"{path}: not a readable CSV ({str(e).splitlines()[0]})") from None
    df.columns = header
    events, gaps = [], []
    for k, row in enumerate(df[cols].itertuples(index=False)):
        onset, duration = _event_number(path, lines[k + 1][0], row[0]), _event_number(path, lines[k + 1][0],
                                                                                        row[1] or "0")
        label = str(row[2]).strip()
        if label.startswith("gap:"):
            stream = label[4:]
            fs = (rates or {}).get(stream) or (rates or {}).get("emg") or 0.0
            gaps.append(Gap(stream, onset - t0_s, duration, int(round(duration * fs)), "from the events file"))
        else:
            events.append(Event(onset - t0_s, duration, label))
    return sorted(events, key=lambda e: e.onset_s), gaps


def _event_number(path: Path, line: int, text: str) -> float:
    try:
        v = float(str(text).strip().replace(",", "."))
    except ValueError:
        v = math.nan
    if not math.isfinite(v):
        raise InputError(f"{path}: line {line}: {text!r} is not a time in seconds")
    return v


def write_csv_recording(rec: Recording, path: str | Path) -> Path:
    """Write the EMG stream (and the IMU resampled onto the EMG clock by linear interpolation) as CSV in
    physical units, readable back by :func:`read_csv_recording`; the events and gaps go to ``NAME.events.csv``
    and the metadata to the sidecar ``NAME.json``."""
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
    # Integer samples (ADC counts) come back exactly from 6 significant digits and the sidecar's scale and
    # offset, which keeps the file small; float samples are written in full (shortest exact repr) so they
    # come back bit for bit.
    exact = all(s.data.dtype.kind in "iu" for s in rec.streams.values())
    pd.DataFrame(cols).to_csv(path, index=False, float_format="%.6g" if exact else None)
    write_events(rec, events_path(path))
    write_sidecar(rec, path)
    return path


def write_events(rec: Recording, path: Path) -> Path:
    """``onset_s,duration_s,label`` in time order: the events, then each gap as ``gap:<stream>``."""
    rows = [(e.onset_s, e.duration_s, e.label) for e in rec.events]
    rows += [(g.onset_s, g.duration_s, f"gap:{g.stream}") for g in rec.gaps]
    rows.sort(key=lambda r: r[0])
    pd.DataFrame(rows, columns=["onset_s", "duration_s", "label"]).to_csv(path, index=False, float_format="%.9g")
    return path
