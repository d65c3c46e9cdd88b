"""``reengage export PATH --format edf|bids|csv --out DIR``: one recording into a standard format."""

from __future__ import annotations

from pathlib import Path

from reengage.errors import InputError
from reengage.io.sidecar import sidecar_path

FORMATS = ("edf", "bdf", "bids", "csv")


def export_recording(path: str | Path, fmt: str, out_dir: str | Path) -> list[Path]:
    """Write the recording at ``path`` into ``out_dir``; returns the files written (data file first): EDF/BDF
    and its JSON sidecar; CSV, its ``.events.csv`` and its sidecar; BIDS, the ``_emg.edf`` and its companions."""
    from reengage.io import load_recording

    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    rec = load_recording(path)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(path).stem
    if fmt in ("edf", "bdf"):
        from reengage.io.edf import write_edf

        data = write_edf(rec, out / f"{stem}.{fmt}", bdf=fmt == "bdf")
        return [data, sidecar_path(data)]
    if fmt == "bids":
        from reengage.io.bids import write_bids

        edf = write_bids(rec, out)
        base = edf.name[: -len("_emg.edf")]
        return [edf] + [
            edf.with_name(f"{base}_{s}") for s in ("emg.json", "channels.tsv", "events.tsv")
        ] + [edf.parents[1] / f"{edf.parents[2].name}_{edf.parents[1].name}_scans.tsv"]
    from reengage.io.csvio import events_path, write_csv_recording

    csv_path = write_csv_recording(rec, out / f"{stem}.csv")
    return [csv_path, events_path(csv_path), sidecar_path(csv_path)]
