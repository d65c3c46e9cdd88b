"""The JSON sidecar beside an exported recording: ``NAME.json`` next to ``NAME.edf``/``.bdf``/``.csv`` (in a BIDS
dataset, the ``…_emg.json`` next to ``…_emg.edf``: the same rule, same stem).

Why a sidecar rather than the EDF+ header alone: the header has 80 ASCII characters for the patient and 80 for
the recording, and edflib leaves 22 of them for free text and 40 characters per annotation, so a clinician's
notes, an accented name or a pain score next to the phase do not fit, and what would fit would be mangled into
``_``. A JSON file beside the data is what BIDS (and so MNE-BIDS, EEGLAB's bids-matlab-tools, pandas'
``read_json``) reads, holds any text in UTF-8, and is readable in any editor. The EDF+ header still carries what
EDF+ defines (subject code, start date and time, equipment, task), so a lone EDF keeps those.

The sidecar holds the BIDS EMG fields (``TaskName``, ``SamplingFrequency``, …) plus one ``reengage`` object:
``{"meta": {subject, task, session_date, phase, pain, notes, …}, "streams": {name: {fs_hz, t0_s, n_samples,
first_sample, channels: [{name, role, unit, kind, scale, offset}], stored}}}``. The streams part lets a CSV (whose header is
only column names) come back with its units, roles and signal kinds, the board's integers and the IMU at its own
rate. A ``NAME.json`` without a ``reengage`` object is someone else's file and is left alone.
"""

from __future__ import annotations

import json
from pathlib import Path

from reengage import __version__
from reengage.model import Channel, Recording

# Keys that describe how this copy was read, not the session: never carried into an export.
TRANSIENT_META = ("source_format", "time_s_start", "time_origin", "sidecar")
# Where the sensors go (SENIAM recommendations, Hermens et al. 2000; glute med per Cram's guide).
PLACEMENT = {
    "glute_max": "50% on the line between the sacral vertebrae and the greater trochanter",
    "glute_med": "50% on the line from the iliac crest to the greater trochanter",
    "hamstrings": "biceps femoris: 50% on the line between the ischial tuberosity and the lateral epicondyle of the tibia",
    "erector_spinae": "2 finger widths lateral to the L1 spinous process",
}


def sidecar_path(path: str | Path) -> Path:
    """The sidecar of a data file: same directory and stem, ``.json``."""
    return Path(path).with_suffix(".json")


def _jsonable(v):
    try:
        json.dumps(v)
        return v
    except (TypeError, ValueError):
        return str(v)


def session_meta(rec: Recording) -> dict:
    """The recording's metadata worth keeping in an export (everything but how this copy was read)."""
    return {k: _jsonable(v) for k, v in rec.meta.items() if k not in TRANSIENT_META and v is not None}


def sidecar_dict(rec: Recording, task_label: str) -> dict:
    """The BIDS EMG sidecar fields (every REQUIRED one) plus the ``reengage`` object."""
    meta, emg = rec.meta, rec.emg
    roles = [c.role for c in emg.channels if c.role]
    return {
        "TaskName": task_label,
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
        "reengage": {
            "meta": session_meta(rec),
            "streams": {
                s.name: {
                    "fs_hz": s.fs_hz, "t0_s": s.t0_s, "n_samples": s.n_samples, "first_sample": s.first_sample,
                    "stored": s.data.dtype.str if s.data.dtype.kind in "iu" else "float",
                    "channels": [c.to_dict() for c in s.channels],
                }
                for s in rec.streams.values()
            },
        },
    }


def write_sidecar(rec: Recording, path: str | Path, task_label: str | None = None) -> Path:
    """Write the sidecar of the data file ``path``; returns the sidecar's path."""
    out = sidecar_path(path)
    label = task_label or "".join(ch for ch in str(rec.meta.get("task") or "") if ch.isalnum()) or "exercise"
    out.write_text(json.dumps(sidecar_dict(rec, label), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def read_sidecar(path: str | Path) -> tuple[dict | None, str | None]:
    """(the ``reengage`` object of the data file's sidecar, or None; a problem to report, or None).

    No sidecar, or someone else's JSON, is (None, None): the data file is read on its own."""
    side = sidecar_path(path)
    if not side.is_file():
        return None, None
    try:
        doc = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:  # nesting beyond the stack
        return None, f"{side}: not readable JSON ({str(e).splitlines()[0]}); its metadata was not read"
    block = doc.get("reengage") if isinstance(doc, dict) else None
    if not isinstance(block, dict):
        return None, None
    meta = block.get("meta")
    streams = block.get("streams")
    return {"meta": meta if isinstance(meta, dict) else {},
            "streams": streams if isinstance(streams, dict) else {}}, None


def sidecar_channels(block: dict | None, stream: str, names: list[str]) -> list[Channel] | None:
    """The sidecar's channels of ``stream`` when they are exactly ``names`` (in order), else None."""
    if not block:
        return None
    spec = block["streams"].get(stream)
    try:
        chans = [Channel.from_dict(d) for d in spec["channels"]]
    except (TypeError, KeyError, ValueError):
        return None
    return chans if [c.name for c in chans] == names else None
