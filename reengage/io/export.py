"""``reengage export PATH --format edf|bids|csv --out DIR``: one recording into a standard format."""

from __future__ import annotations

from pathlib import Path

from reengage.errors import InputError

FORMATS = ("edf", "bdf", "bids", "csv")


def export_recording(path: str | Path, fmt: str, out_dir: str | Path) -> list[Path]:
    """Write the recording at ``path`` into ``out_dir``; returns the files written (data file first)."""
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

        return [write_edf(rec, out / f"{stem}.{fmt}", bdf=fmt == "bdf")]
    if fmt == "bids":
        from reengage.io.bids import write_bids

        edf = write_bids(rec, out)
        base = edf.name[: -len("_emg.edf")]
        return [edf] + [
            edf.with_name(f"{base}_{s}") for s in ("emg.json", "channels.tsv", "events.tsv")
        ]
    from reengage.io.csvio import write_csv_recording

    csv_path = write_csv_recording(rec, out / f"{stem}.csv")
    events = csv_path.with_suffix(".events.csv")
    return [csv_path] + ([events] if events.exists() else [])
