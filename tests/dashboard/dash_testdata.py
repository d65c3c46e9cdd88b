"""Test data roots for the dashboard: the demo's six P001 sessions (parameters from ``reengage.demo``)
generated with ``reengage.synth``, written as real ``.rgr`` recordings, analysed and catalogued."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from reengage.catalog import Catalog
from reengage.io.recfile import RecordingWriter, StreamSpec, read_recording
from reengage.model import Channel
from reengage.synth import SubjectProfile, synthesize


def have_real_analysis() -> bool:
    try:
        from reengage.analysis import analyze  # noqa: F401
    except ImportError:
        return False
    return True


QUALITY_OK = {"snr_db": None, "mains_hz": None, "mains_db": None, "clipping_fraction": 0.0, "flat_fraction": 0.0,
              "motion_fraction": 0.0, "motion_artifacts": 0, "flags": [], "usable": True}


def _iqr(values: list[float]) -> float | None:
    return float(np.subtract(*np.percentile(values, [75, 25]))) if len(values) >= 2 else None


def _quartiles(values: list[float]) -> list[float] | None:
    return [float(q) for q in np.percentile(values, [25, 75])] if len(values) >= 2 else None


def truth_analysis(truth: dict, fs_hz: float, duration_s: float) -> dict:
    """An analysis shaped as ``analyze`` emits it (contracts/analysis.md, the keys of its real output) from
    the generator's truth, for tests of the dashboard's data access that must not depend on the detector's
    accuracy."""
    reps = []
    for r in truth["reps"]:
        pct = {m: round(30.0 * (r["glute_hamstring_ratio"] if m == "glute_max" else 1.0), 1) for m in truth["muscles"]}
        reps.append({
            "index": r["index"],
            "start_s": min(r["onset_s"].values()), "end_s": max(r["offset_s"].values()),
            "onset_s": dict(r["onset_s"]), "offset_s": dict(r["offset_s"]),
            "onset_latency_ms": round(r["onset_latency_ms"], 1),
            "firing_order": sorted(r["onset_s"], key=r["onset_s"].get),
            "glute_hamstring_ratio": round(r["glute_hamstring_ratio"], 3),
            "mean_pct_mvc": pct, "peak_pct_mvc": {m: 1.5 * v for m, v in pct.items()}, "coactivation_index": None,
            "excluded": False, "exclusion_reasons": [],
        })
    lats = [r["onset_latency_ms"] for r in reps]
    ratios = [r["glute_hamstring_ratio"] for r in reps]
    quality = dict(QUALITY_OK, snr_db=truth["snr_db"])
    return {
        "fs_hz": fs_hz, "duration_s": duration_s, "normalization": "mvc", "normalization_source": "trials",
        "onset_method": "truth", "mains_hz": None,
        "channels": {m: {"role": m, "name": m, "kind": "raw", "unit": "mV", "mvc_reference": 1.0,
                         "mvc_source": "mvc", "bursts": len(reps), "quality": dict(quality),
                         "detected_bursts": [{"onset_s": r["onset_s"][m], "offset_s": r["offset_s"][m],
                                              "peak_pct_mvc": r["peak_pct_mvc"][m]} for r in reps]}
                     for m in truth["muscles"]},
        "reps": reps,
        "notes": [],
        "summary": {
            "reps": len(reps), "reps_detected": len(reps), "reps_excluded": 0,
            "glute_first_fraction": float(np.mean([x < 0 for x in lats])),
            "median_onset_latency_ms": float(np.median(lats)),
            "onset_latency_iqr_ms": _iqr(lats),
            "median_glute_hamstring_ratio": float(np.median(ratios)),
            "glute_hamstring_ratio_iqr": _iqr(ratios),
            "onset_latency_quartiles_ms": _quartiles(lats),
            "glute_hamstring_ratio_quartiles": _quartiles(ratios),
            "median_mean_pct_mvc": {m: float(np.median([r["mean_pct_mvc"][m] for r in reps])) for m in truth["muscles"]},
            "excluded_reps": [], "onset_method": "truth",
        },
    }


def demo_like_sessions(today: dt.date | None = None) -> list[dict]:
    from reengage.demo import demo_sessions

    return demo_sessions(today or dt.date(2024, 6, 1))


def write_session(root: Path, subject: str, task: str, s: dict, duration_s: float = 24.0) -> tuple[Path, dict]:
    profile = SubjectProfile.from_latency_ratio(s["onset_latency_ms"], s["glute_hamstring_ratio"])
    syn = synthesize(profile, duration_s=duration_s, seed=s["seed"], fs_hz=1000.0)
    chans = [Channel(m, m, "mV", "raw") for m in syn.muscles]
    path = root / subject / f"{subject}_{s['date'].replace('-', '')}_{task}.rgr"
    meta = {"subject": subject, "task": task, "session_date": s["date"], "phase": s["phase"],
            "pain": s["pain"], "notes": "synthetic test session", "board": "synthetic"}
    with RecordingWriter(path, [StreamSpec("emg", syn.fs_hz, chans, "<f4")], meta) as w:
        w.write_block("emg", 0, syn.emg_mv.astype("<f4"))
        for ev in syn.events:
            w.add_event(ev)
    return path, syn.truth


def build_root(root: Path, subject: str = "P001", task: str = "prone_hip_extension", *, real: bool | None = None,
               extra_subjects: tuple[str, ...] = ("P002",)) -> dict:
    """The demo's sessions for ``subject`` (+ one short session per extra subject); returns a summary."""
    real = have_real_analysis() if real is None else real
    sessions = demo_like_sessions()
    ids = []
    with Catalog(root) as cat:
        for s in sessions:
            p, truth = write_session(root, subject, task, s)
            rec = read_recording(p)
            if real:
                from reengage.analysis import analyze

                a = analyze(rec)
            else:
                a = truth_analysis(truth, rec.fs_hz, rec.duration_s)
            ids.append(cat.register(p, rec.info(), a))
        for k, other in enumerate(extra_subjects):
            s = dict(sessions[-1], seed=900 + k, phase=2, pain=3.0)
            p, truth = write_session(root, other, "bridge", s, duration_s=20.0)
            rec = read_recording(p)
            cat.register(p, rec.info(), truth_analysis(truth, rec.fs_hz, rec.duration_s))
    return {"subject": subject, "task": task, "sessions": sessions, "recording_ids": ids, "real_analysis": real}


def write_imported(root: Path, source: Path, kind: str, subject: str = "P003", task: str | None = None) -> Path:
    """``source`` (a ``.rgr``) written as an EDF+ or a CSV session inside ``root``, analysed and catalogued
    as an import would be (``Catalog.register`` with the subject and date the file itself cannot carry); the
    exercise defaults to one per format, so an EDF and a CSV import of one day are two sessions."""
    from reengage.analysis import analyze
    from reengage.io import load_recording
    from reengage.io.csvio import write_csv_recording
    from reengage.io.edf import write_edf

    rec = read_recording(source)
    out = root / subject / f"{source.stem}.{kind}"
    out.parent.mkdir(parents=True, exist_ok=True)
    if kind == "edf":
        write_edf(rec, out)
    else:
        write_csv_recording(rec, out)
    imported = load_recording(out)
    info = imported.info()
    task = task or {"edf": "bridge", "csv": "clamshell"}[kind]
    info["meta"] = dict(info["meta"], subject=subject, task=task, session_date=rec.meta["session_date"],
                        notes=f"imported {kind}")
    with Catalog(root) as cat:
        cat.register(out, info, analyze(imported))
    return out


def write_empty(root: Path, subject: str, task: str, date: str) -> Path:
    """A recording with no samples (a wrong port, Ctrl-C at once), catalogued as the recorder does: the
    catalog flags it empty and the dashboard leaves it out of the charts with a note."""
    chans = [Channel(m, m, "mV", "raw") for m in ("glute_max", "hamstrings")]
    path = root / subject / f"{subject}_{date.replace('-', '')}_{task}_empty.rgr"
    meta = {"subject": subject, "task": task, "session_date": date, "board": "synthetic"}
    with RecordingWriter(path, [StreamSpec("emg", 1000.0, chans, "<f4")], meta):
        pass
    info = read_recording(path).info()
    assert info["samples"] == 0
    with Catalog(root) as cat:
        cat.register(path, info, None)
    return path
