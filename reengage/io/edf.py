"""EDF+ / BDF+ export and EDF/EDF+/BDF import (pyedflib), so recordings open in EDFbrowser and MNE.

Samples are written as the board's integers (``digital`` values) with the physical range derived from each
channel's ``scale`` and ``offset``, so an EDF round trip returns the very same integers; float recordings
(from CSV) are quantised to 16 bits (24 for BDF) over each channel's range. The EDF header can carry only
8 characters per physical limit, so the exact scale and offset also go in the transducer field
(``reengage role=… kind=… scale=… offset=…``), which other readers show as text.

Events become EDF+ annotations (onset, duration, label); gaps become ``gap:<stream>`` annotations. EDF
needs whole data records: streams are padded with the zero level to a whole record, and one annotation
``reengage:emg=<first>+<n>;imu=<first>+<n>`` at 0 s says which samples are real, so the importer gives back
exactly what was exported while other readers show a short harmless annotation.

The session's metadata (subject, task, date, phase, pain, notes, …) goes in a JSON sidecar ``NAME.json`` beside
the file (``sidecar.py`` says why); the header fields carry what EDF+ defines (patient code, start date and
time, equipment, task), and :func:`read_edf_recording` merges the sidecar back into ``Recording.meta``.

pyedflib is a C extension: anything it or edflib prints would land on file descriptor 1, which is the CLI's
data channel (``info --json``, ``analyze --json``), so every call into it runs with fd 1 pointed at stderr.

EDF+ written by a process that died keeps ``-1`` as its record count (``shared/TOOLCHAIN.md``); the importer
counts the complete records from the file size instead and marks the recording ``recovered``.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import shutil
import sys
import tempfile
import warnings
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from reengage.errors import InputError, RecordingFormatError
from reengage.io.sidecar import read_sidecar, write_sidecar
from reengage.model import IMU_CHANNELS, Channel, Event, Gap, Recording, Stream, role_for_name

SPAN_PREFIX = "reengage:"
RECORD_DURATIONS_S = (1.0, 0.5, 0.25, 0.2, 0.1, 2.0, 5.0, 10.0, 0.05, 0.01)


@contextmanager
def stdout_to_stderr():
    """File descriptor 1 points at stderr inside the block, so C code's printf cannot corrupt data on stdout."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, AttributeError):  # no usable fd 1 (embedded, closed): nothing to protect
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass
        os.dup2(saved, 1)
        os.close(saved)


def _record_duration(rates: list[float], path: Path) -> float:
    for d in RECORD_DURATIONS_S:
        if all(abs(fs * d - round(fs * d)) < 1e-9 for fs in rates):
            return d
    raise InputError(f"{path}: sampling rates {rates} Hz fit no whole EDF data record (≤ 10 s)")


def _digital_range(bdf: bool) -> tuple[int, int]:
    return (-8388608, 8388607) if bdf else (-32768, 32767)


def _quantise(stream: Stream, bdf: bool) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Digital samples and per-channel (scale, offset) with physical = (digital - offset) * scale."""
    dmin, dmax = _digital_range(bdf)
    if stream.data.dtype.kind in "iu" and stream.data.size and (
        stream.data.min() >= dmin and stream.data.max() <= dmax
    ) and all(c.scale > 0 for c in stream.channels):
        return stream.data.astype(np.int32), [(c.scale, c.offset) for c in stream.channels]
    phys = stream.physical()
    out = np.empty(phys.shape, np.int32)
    conv = []
    for i, row in enumerate(phys):
        lo, hi = (float(row.min()), float(row.max())) if row.size else (0.0, 1.0)
        if hi - lo < 1e-12:
            lo, hi = lo - 1.0, hi + 1.0
        scale = (hi - lo) / (dmax - dmin)
        offset = dmin - lo / scale
        out[i] = np.clip(np.round(row / scale + offset), dmin, dmax)
        conv.append((scale, offset))
    return out, conv


def _label(c: Channel, stream: str) -> str:
    label = f"EMG {c.name}" if stream == "emg" and len(c.name) <= 12 else c.name
    return label[:16]


def _transducer(c: Channel, stream: str, scale: float, offset: float) -> str:
    parts = ["reengage", f"kind={c.kind}"]
    if c.role:
        parts.append(f"role={c.role}")
    if _label(c, stream) not in (c.name, f"EMG {c.name}"):
        parts.append(f"name={c.name}")
    full = " ".join(parts + [f"scale={scale:.12g}", f"offset={offset:.12g}"])
    return full if len(full) <= 80 else " ".join(parts)[:80]


def _start_datetime(meta: dict) -> dt.datetime:
    for key in ("started_utc", "created_utc"):
        v = meta.get(key)
        if v:
            try:
                return dt.datetime.strptime(str(v)[:19], "%Y-%m-%dT%H:%M:%S")
            except ValueError:
                pass
    if meta.get("session_date"):
        try:
            return dt.datetime.fromisoformat(str(meta["session_date"])[:10])
        except ValueError:
            pass
    return dt.datetime(2000, 1, 1)


def _edf_text(s: str) -> str:
    """EDF+ header subfields: printable ASCII, no spaces (EDF+ spec 2.1.3.3)."""
    return re.sub(r"[^!-~]", "_", s or "X") or "X"


def write_edf(rec: Recording, path: str | Path, *, bdf: bool = False, task_label: str | None = None) -> Path:
    """Write ``rec`` as EDF+ (or BDF+ with ``bdf=True``) and its JSON sidecar ``path.with_suffix(".json")``
    (``task_label``: its BIDS ``TaskName``, default the task without its non-alphanumerics); returns the path."""
    import pyedflib

    path = Path(path)
    streams = [s for s in rec.streams.values() if s.n_samples > 0 or s.name == "emg"]
    rates = [s.fs_hz for s in streams]
    rec_s = _record_duration(rates, path)
    total_s = max(s.t0_s + s.n_samples / s.fs_hz for s in streams) if streams else 0.0
    n_records = max(1, math.ceil(total_s / rec_s - 1e-9))
    dmin, dmax = _digital_range(bdf)
    headers, rows, spans = [], [], []
    for s in streams:
        digital, conv = _quantise(s, bdf)
        spr = int(round(s.fs_hz * rec_s))
        lead = int(round(s.t0_s * s.fs_hz))
        if lead < 0:  # samples before the EMG origin cannot precede an EDF file's start
            digital, lead = digital[:, -lead:], 0
        spans.append(f"{s.name}={lead}+{digital.shape[1]}")
        total = n_records * spr
        for c, row, (scale, offset) in zip(s.channels, digital, conv):
            fill = int(np.clip(round(offset), dmin, dmax))
            padded = np.full(total, fill, np.int32)
            padded[lead : lead + row.size] = row[: max(0, total - lead)]
            rows.append(padded)
            headers.append({
                "label": _label(c, s.name),
                "dimension": (c.unit or "")[:8],
                "sample_frequency": s.fs_hz,
                "physical_min": (dmin - offset) * scale,
                "physical_max": (dmax - offset) * scale,
                "digital_min": dmin,
                "digital_max": dmax,
                "transducer": _transducer(c, s.name, scale, offset),
                "prefilter": "",
            })
    annotations = [(0.0, -1.0, SPAN_PREFIX + ";".join(spans))]
    annotations += [(e.onset_s, e.duration_s, e.label[:40]) for e in rec.events]
    annotations += [(g.onset_s, g.duration_s, f"gap:{g.stream}") for g in rec.gaps]
    ftype = pyedflib.FILETYPE_BDFPLUS if bdf else pyedflib.FILETYPE_EDFPLUS
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), stdout_to_stderr():
        # pyedflib warns that 8-character physical limits lose precision: the exact values are in the
        # transducer field, and the digital samples are exact anyway.
        warnings.simplefilter("ignore", UserWarning)
        _write(path, ftype, headers, rows, annotations, rec_s, n_records, rec.meta)
    write_sidecar(rec, path, task_label)
    return path


def _write(path, ftype, headers, rows, annotations, rec_s, n_records, meta) -> None:
    import pyedflib

    w = pyedflib.EdfWriter(str(path), len(headers), file_type=ftype)
    try:
        w.setDatarecordDuration(rec_s)
        # Annotation space per data record: enough TALs for every event.
        w.set_number_of_annotation_signals(min(64, max(1, math.ceil(len(annotations) / n_records) + 1)))
        w.setSignalHeaders(headers)
        w.setPatientCode(_edf_text(str(meta.get("subject", "X"))))
        w.setStartdatetime(_start_datetime(meta))
        w.setEquipment(_edf_text(str(meta.get("board", "reengage"))))
        w.setTechnician("reengage")
        w.setRecordingAdditional(_edf_text(str(meta.get("task", "")))[:22])  # the room edflib leaves
        spr = [int(round(h["sample_frequency"] * rec_s)) for h in headers]
        for k in range(n_records):
            w.writeSamples([r[k * n : (k + 1) * n] for r, n in zip(rows, spr)], digital=True)
        for onset, duration, label in annotations:
            w.writeAnnotation(max(0.0, onset), duration, label)
    finally:
        w.close()


# ------------------------------------------------------------------------------------------- import

def _parse_transducer(text: str) -> dict:
    if not text.startswith("reengage"):
        return {}
    return dict(kv.split("=", 1) for kv in text.split()[1:] if "=" in kv)


def _patched_copy(path: Path) -> tuple[Path | None, str | None]:
    """A file whose header still says -1 records (writer killed): a temporary copy with the count of
    complete records in it, or (None, None) when the header is fine."""
    with open(path, "rb") as f:
        head = f.read(256)
        if len(head) < 256 or head[236:244].strip() != b"-1":
            return None, None
        ns = int(head[252:256].strip() or 0)
        sig = f.read(ns * 256)
    header_bytes = int(head[184:192].strip())
    spr = [int(sig[216 * ns + i * 8 : 216 * ns + (i + 1) * 8].strip() or 0) for i in range(ns)]
    width = 3 if head[:1] == b"\xff" else 2
    record_bytes = sum(spr) * width
    n = (os.path.getsize(path) - header_bytes) // record_bytes if record_bytes else 0
    if n <= 0:
        raise RecordingFormatError(f"{path}: byte {header_bytes}: no complete data record after the header")
    fd, tmp = tempfile.mkstemp(suffix=path.suffix)
    os.close(fd)
    shutil.copyfile(path, tmp)
    with open(tmp, "r+b") as f:
        f.seek(236)
        f.write(f"{n:<8d}".encode())
        f.truncate(header_bytes + n * record_bytes)
    return Path(tmp), f"{path}: byte 236: record count was -1 (writer did not close); {n} complete records recovered"


def read_edf_recording(path: str | Path) -> Recording:
    """Read EDF, EDF+ or BDF(+): labels → channel names and muscle roles, annotations → events, the EMG
    rate → the ``emg`` stream and IMU channels (``acc_*``/``gyr_*``, possibly at another rate) → ``imu``."""
    import pyedflib

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    problems: list[str] = []
    patched, note = _patched_copy(path)
    if note:
        problems.append(note)
    try:
        with stdout_to_stderr():
            rec = _read(pyedflib, path, patched, problems)
    finally:
        if patched is not None:
            patched.unlink(missing_ok=True)
    return _with_sidecar(rec, path)


def _read(pyedflib, path: Path, patched: Path | None, problems: list[str]) -> Recording:
    try:
        r = pyedflib.EdfReader(str(patched or path))
    except OSError as e:
        msg = str(e).splitlines()[0] if str(e) else "unreadable"
        raise RecordingFormatError(f"{path}: byte 0: not a readable EDF/BDF file ({msg})") from None
    try:
        return _from_reader(r, path, problems)
    finally:
        r.close()


def _with_sidecar(rec: Recording, path: Path) -> Recording:
    """The sidecar's metadata over the header's: it is the exact text (the header is ASCII without spaces)."""
    block, problem = read_sidecar(path)
    if problem:
        rec.problems.append(problem)
    if block:
        rec.meta = {**rec.meta, **block["meta"], "source_format": rec.meta["source_format"]}
    return rec


def _from_reader(r, path: Path, problems: list[str]) -> Recording:
    n = r.signals_in_file
    if n == 0:
        raise RecordingFormatError(f"{path}: no signals in the file")
    sigs = []
    for i in range(n):
        label = r.getLabel(i).strip()
        extra = _parse_transducer(r.getTransducer(i).strip())
        name = extra.get("name") or re.sub(r"^(EMG|EEG|MISC)\s+", "", label, flags=re.I).strip() or f"ch{i}"
        kind = extra.get("kind")
        if kind not in ("raw", "envelope", "imu"):
            kind = "imu" if name.lower() in IMU_CHANNELS or re.match(r"^(acc|gyr|ACC|GYR)", label) else "raw"
        dmin, dmax = r.getDigitalMinimum(i), r.getDigitalMaximum(i)
        pmin, pmax = r.getPhysicalMinimum(i), r.getPhysicalMaximum(i)
        scale = (pmax - pmin) / (dmax - dmin) if dmax != dmin else 1.0
        offset = dmin - pmin / scale if scale else 0.0
        if "scale" in extra and "offset" in extra:
            try:
                s2, o2 = float(extra["scale"]), float(extra["offset"])
                # Use the exact values only when they agree with the 8-character header limits.
                if abs(s2 - scale) <= 1e-4 * abs(scale) and abs((dmin - o2) * s2 - pmin) <= 1e-3 * max(1, abs(pmin)):
                    scale, offset = s2, o2
            except ValueError:
                pass
        role = extra.get("role") if kind != "imu" else None
        role = role or (role_for_name(name) if kind != "imu" else None)
        sigs.append({
            "i": i, "fs": float(r.getSampleFrequency(i)),
            "channel": Channel(name, role, r.getPhysicalDimension(i).strip(), kind, scale, offset),
        })
    emg = [s for s in sigs if s["channel"].kind != "imu"]
    imu = [s for s in sigs if s["channel"].kind == "imu"]
    if not emg:
        raise InputError(f"{path}: no EMG channel (only IMU signals: {', '.join(s['channel'].name for s in imu)})")

    def pick(group: list[dict], what: str) -> list[dict]:
        rate = Counter(s["fs"] for s in group).most_common(1)[0][0]
        for s in group:
            if s["fs"] != rate:
                problems.append(
                    f"{path}: signal {s['i'] + 1} ({s['channel'].name}) at {s['fs']:g} Hz differs from the "
                    f"{what} rate {rate:g} Hz; not imported"
                )
        return [s for s in group if s["fs"] == rate]

    spans, events, gaps = {}, [], []
    onsets, durations, labels = r.readAnnotations()
    for onset, duration, label in zip(onsets, durations, labels):
        label = str(label).strip()
        if label.startswith(SPAN_PREFIX):
            for part in label[len(SPAN_PREFIX):].split(";"):
                m = re.fullmatch(r"(\w+)=(\d+)\+(\d+)", part)
                if m:
                    spans[m.group(1)] = (int(m.group(2)), int(m.group(3)))
        elif label.startswith("gap:"):
            gaps.append((label[4:], float(onset), max(0.0, float(duration))))
        else:
            events.append(Event(round(float(onset), 6), max(0.0, float(duration)), label))
    streams: dict[str, Stream] = {}
    for name, group in (("emg", pick(emg, "EMG")), ("imu", pick(imu, "IMU") if imu else [])):
        if not group:
            continue
        fs = group[0]["fs"]
        ints = [r.readSignal(s["i"], digital=True) for s in group]
        wide = any(abs(int(r.getDigitalMinimum(s["i"]))) > 32768 or r.getDigitalMaximum(s["i"]) > 32767 for s in group)
        data = np.array(ints, dtype="<i4" if wide else "<i2")
        lead, count = spans.get(name, (0, data.shape[1]))
        data = np.ascontiguousarray(data[:, lead : lead + count])
        streams[name] = Stream(name, fs, [s["channel"] for s in group], data, first_sample=lead, t0_s=lead / fs)
    emg_fs = streams["emg"].fs_hz
    gap_list = []
    for stream, onset, duration in gaps:
        fs = streams[stream].fs_hz if stream in streams else emg_fs
        gap_list.append(Gap(stream, onset, duration, int(round(duration * fs)), "from EDF+ annotation"))
    start = r.getStartdatetime()
    meta = {
        "source_format": "bdf" if path.suffix.lower() == ".bdf" else "edf",
        "subject": r.getPatientCode().strip() or None,
        "board": r.getEquipment().strip() or None,
        "started_utc": start.strftime("%Y-%m-%dT%H:%M:%SZ") if start else None,
        "session_date": start.date().isoformat() if start else None,
    }
    task = r.getRecordingAdditional().strip().split(" ")[0] if r.getRecordingAdditional().strip() else ""
    if task:
        meta["task"] = task
    return Recording(
        streams=streams, meta={k: v for k, v in meta.items() if v is not None},
        events=sorted(events, key=lambda e: e.onset_s), gaps=gap_list,
        integrity="recovered" if problems and "record count" in problems[0] else "ok",
        problems=problems, source=str(path),
    )
