"""Reading and writing recordings: the project's ``.rgr`` format, plain CSV and EDF/EDF+/BDF."""

from __future__ import annotations

from pathlib import Path

from reengage.errors import InputError
from reengage.model import Recording


def load_recording(path: str | Path, channel_map: dict[str, str] | None = None) -> Recording:
    """Open any recording reengage reads, chosen by content and extension; errors name the file."""
    from reengage.io.recfile import is_recording_file, read_recording

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a recording")
    if is_recording_file(path):
        rec = read_recording(path)
    elif path.suffix.lower() in (".edf", ".bdf"):
        try:
            from reengage.io.edf import read_edf_recording
        except ImportError:
            raise InputError(f"{path}: EDF support is not installed") from None
        rec = read_edf_recording(path)
    elif path.suffix.lower() in (".csv", ".txt", ".tsv") or path.stat().st_size == 0:
        from reengage.io.csvio import read_csv_recording

        return exclusive_roles(read_csv_recording(path, channel_map), channel_map)
    else:
        raise InputError(f"{path}: unknown recording format (expected .rgr, .csv, .edf or .bdf)")
    if channel_map:
        rec = apply_channel_map(rec, channel_map)
    return rec


def apply_channel_map(rec: Recording, channel_map: dict[str, str]) -> Recording:
    """Assign muscle roles to channels by name (``--channel glute_max=EMG1``)."""
    from dataclasses import replace

    emg = rec.emg
    names = [c.name for c in emg.channels]
    for role, col in channel_map.items():
        if col not in names:
            raise InputError(f"{rec.source}: --channel {role}={col}: no channel {col!r} (have {', '.join(names)})")
    by_col = {col: role for role, col in channel_map.items()}
    emg.channels = [replace(c, role=by_col.get(c.name, c.role)) for c in emg.channels]
    return exclusive_roles(rec, channel_map)


def exclusive_roles(rec: Recording, channel_map: dict[str, str] | None) -> Recording:
    """A role given with ``--channel ROLE=COL`` belongs to that column alone: another channel that had the role
    only from its name (the UCI files' biceps femoris and semitendinosus are both hamstrings) keeps its name and
    loses the role, so ``--channel hamstrings=semitendinosus`` is enough to choose."""
    from dataclasses import replace

    if not channel_map or "emg" not in rec.streams:
        return rec
    given = {role: col for role, col in channel_map.items()}
    emg = rec.emg
    emg.channels = [replace(c, role=None) if c.role in given and c.name != given[c.role] else c
                    for c in emg.channels]
    return rec
