"""The dashboard's one data-access module: every page gets its numbers here, never from SQL or files.

Sources: the session catalog (:mod:`reengage.catalog`) for every number, each as the stored analysis
gives it (nothing is computed a second time here), and, for the session page's traces only, the
recording file itself (any format :func:`reengage.io.load_recording` reads) with the envelope analyze
detected the onsets on, decimated to min/max per screen pixel so a one-hour recording stays responsive. Subject ids arrive from URLs; they only ever reach SQL as query
parameters, and file paths only come from the catalog (relative to the data root, checked to stay inside).
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reengage.catalog import CATALOG_NAME, Catalog
from reengage.corrections import change, describe, describe_unmatched
from reengage.dashboard.numbers import finite
from reengage.dsp.quality import MAINS_MAX_DB, SNR_MIN_DB
from reengage.errors import CatalogError, ReengageError
from reengage.model import MUSCLE_ROLES
# One MDC and one slope for the CLI and the pages; Projection and MAX_SESSIONS_AHEAD are re-exported for words.py.
from reengage.trend import (MAX_SESSIONS_AHEAD, MDC, Projection, project,  # noqa: F401
                            recent_ratio_trend, rep_values, sessions_by_subject, task_courses)

# ------------------------------------------------------------------------------------ literature
ONSET_LITERATURE = (
    "Firing order in prone hip extension is contested. A systematic review (15 studies, 414 subjects, 2019) "
    "found glute max consistently later than the hamstrings and erector spinae in healthy people; Sakamoto et "
    "al. 2009 (J Electromyogr Kinesiol 19:105–112, 31 healthy adults): semitendinosus → erector spinae → glute "
    "max; Lewis & Sahrmann 2009 (J Athl Train 44:238–248, 11 healthy women, cued to squeeze the glutes): "
    "hamstrings and glute max started almost together (131 ± 84, 39 ± 97 and 45 ± 93 ms before movement). "
    "The patient's change from their own baseline is the signal."
)


# --------------------------------------------------------------------------------- catalog access

def data_root() -> Path:
    """The data root of the app serving the current request."""
    import flask

    return Path(flask.current_app.config["REENGAGE_DATA_ROOT"])


def has_catalog(root: Path) -> bool:
    return (Path(root) / CATALOG_NAME).exists()


READ_ONLY_WORDS = ("editing is unavailable: this data root is served read-only (the dashboard was started "
                   "read-only, or the data folder or its catalog cannot be written)")


def read_only(root: Path) -> bool:
    """Whether the dashboard must not write to ``root``: configured so (``REENGAGE_DASH_READONLY``, the only
    way that binds for root, whom file permissions do not stop), or the folder or catalog is not writable."""
    import flask

    if flask.has_app_context() and flask.current_app.config.get("REENGAGE_READ_ONLY"):
        return True
    root = Path(root)
    catalog = root / CATALOG_NAME
    if catalog.exists():
        return not (os.access(catalog, os.W_OK) and os.access(root, os.W_OK))
    return root.exists() and not os.access(root, os.W_OK)


def _open(root: Path) -> Catalog | None:
    """The catalog, read-only: a page view never writes. A catalog written by an older reengage is
    migrated once (the only write a view may cause, the same one any command does on open), unless the
    data root is served read-only."""
    if not has_catalog(root):
        return None
    try:
        return Catalog(root, readonly=True)
    except CatalogError:
        if read_only(root):
            raise
        Catalog(root).close()  # schema migration; a catalog that cannot be opened raises here
        return Catalog(root, readonly=True)


@contextmanager
def _open_for_writing(root: Path) -> Iterator[Catalog]:
    """The catalog opened read-write, for the dashboard's only writes: a clinician's edit of a session
    (phase, pain, notes) and the patient register's add, rename and merge, each audited by the catalog.
    Adding a patient before any recording creates the catalog. On a read-only data root, a CatalogError
    saying editing is unavailable, before anything is opened for writing."""
    if read_only(root):
        raise CatalogError(READ_ONLY_WORDS)
    try:
        with Catalog(root) as cat:
            yield cat
    except sqlite3.OperationalError as e:  # the folder or file turned read-only under a running dashboard
        if "readonly" in str(e) or "read-only" in str(e):
            raise CatalogError(READ_ONLY_WORDS) from None
        raise


MAX_SUBJECT_ID_CHARS = 200


def url_subject_id(value) -> str | None:
    """A subject id taken from a URL, or None when it cannot be one: not text, empty, longer than
    ``MAX_SUBJECT_ID_CHARS``, control characters, or not encodable (a lone surrogate from crafted JSON)."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_SUBJECT_ID_CHARS:
        return None
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


def pct_mvc(analysis: dict | None, muscle: str) -> float | None:
    """A muscle's session amplitude in %MVC (the analysis's ``summary.median_mean_pct_mvc[muscle]``, as stored),
    when the analysis was MVC-normalised."""
    if not analysis or analysis.get("normalization") != "mvc":
        return None
    pct = (analysis.get("summary") or {}).get("median_mean_pct_mvc")
    return finite(pct.get(muscle)) if isinstance(pct, dict) else None


def glute_max_pct_mvc(analysis: dict | None) -> float | None:
    """The session's glute max amplitude in %MVC (:func:`pct_mvc`)."""
    return pct_mvc(analysis, "glute_max")


# ---------------------------------------------------------------------------------- statistics

# ------------------------------------------------------------------------------------ patients page

def _patient_row(subject: str, by_subject: dict[str, list[dict]], analyses: dict, cohorts: dict) -> dict:
    ss = by_subject[subject]
    last = ss[-1]
    phase = next((s["phase"] for s in reversed(ss) if s["phase"] is not None), None)
    arrow, words = recent_ratio_trend(subject, by_subject, analyses, cohorts)
    return {"subject_id": subject, "sessions": len(ss), "last_date": last["session_date"], "last_task": last["task"],
            "phase": phase, "ratio": last["median_glute_hamstring_ratio"],
            "latency_ms": last["median_onset_latency_ms"], "trend": arrow, "trend_words": words}


def _no_sessions_row(subject: str) -> dict:
    return {"subject_id": subject, "sessions": 0, "last_date": None, "last_task": "", "phase": None, "ratio": None,
            "latency_ms": None, "trend": "·", "trend_words": "no sessions yet"}


def patients(root: Path, search: str = "", sort: str = "subject") -> list[dict]:
    """One row per patient of the register (with or without sessions): last session, phase, latest ratio and
    latency, trend of the ratio, whether a person registered the id (else a recording brought it in), and
    the number of empty recordings left out.

    The trend is judged against the same between-session noise as the Patient page and ``reengage trend``
    (``reengage.trend.recent_ratio_trend``), so the pages never disagree."""
    cat = _open(root)
    if cat is None:
        return []
    rows = []
    with cat:
        by_subject = sessions_by_subject(cat)
        cohorts: dict[str, dict] = {}  # each exercise's cohort courses, built once for all the rows
        needle = (search or "").strip().lower()
        for p in cat.patients():
            subject, ss = p["subject_id"], by_subject.get(p["subject_id"], [])
            label = (p.get("display_name") or "").lower()
            if needle and needle not in subject.lower() and needle not in label and not any(
                    needle in s["task"].lower() for s in ss):
                continue
            row = (_patient_row(subject, by_subject, cat.analyses_for_subject(subject), cohorts) if ss
                   else _no_sessions_row(subject))
            row.update(registered=p["registered"], display_name=p.get("display_name") or "",
                       empty_sessions=int(p.get("empty_sessions") or 0))
            rows.append(row)
    keys = {
        "subject": lambda r: r["subject_id"],
        "last_date": lambda r: r["last_date"] or "",
        "phase": lambda r: (r["phase"] is None, r["phase"] or 0),
        "ratio": lambda r: (r["ratio"] is None, r["ratio"] or 0.0),
        "latency": lambda r: (r["latency_ms"] is None, r["latency_ms"] or 0.0),
    }
    rows.sort(key=keys.get(sort, keys["subject"]), reverse=sort == "last_date")
    return rows


# ------------------------------------------------------------------------------------- patient page

@dataclass
class TaskTrend:
    task: str
    sessions: list[dict]  # date order: ratio/latency medians and IQRs, rep values, pain, phase, %MVC of both
    mdc_ratio: float | None  # between-session MDC95 (reengage.trend.MDC: .source, .within = today's precision)
    mdc_latency_ms: float | None
    change_ratio: float | None
    change_latency_ms: float | None
    projections: list[Projection]
    empty: int = 0  # recordings of this exercise without samples: catalogued, left out of the charts
    measures: dict = field(default_factory=dict)  # measure → its `reengage trend` JSON entry (verdict, mdc95, noise_source, slope …)


def patient(root: Path, subject_id: str) -> list[TaskTrend]:
    """Per exercise, the subject's sessions over calendar time with the statistics the Patient page shows.

    The change, MDC95, noise source and slope of each measure are ``reengage trend``'s own
    (:func:`reengage.trend.task_courses`, the same computation over the same sessions, retest pairs and clinic
    courses), so the page and the CLI give the same verdict; the MDC is its rounded JSON value."""
    cat = _open(root)
    if cat is None:
        return []
    with cat:
        sessions = cat.sessions(subject_id)
        analyses = cat.analyses_for_subject(subject_id)
        empty = [s["task"] for s in cat.empty_sessions(subject_id)]
        tasks: dict[str, list[dict]] = {}
        for s in sessions:
            tasks.setdefault(s["task"], []).append(s)
        courses = {task: task_courses(cat, subject_id, task, ss, analyses) for task, ss in tasks.items()}
    out = []
    for task, ss in tasks.items():
        c_ratio, c_lat = courses[task]["glute_hamstring_ratio"], courses[task]["onset_latency_ms"]
        out.append(TaskTrend(task, [_session_row(s, analyses.get(s["session_id"])) for s in ss],
                             _json_mdc(c_ratio), _json_mdc(c_lat), c_ratio.fields["change"], c_lat.fields["change"],
                             [c.projection for c in (c_ratio, c_lat) if c.projection is not None],
                             empty.count(task), {"glute_hamstring_ratio": c_ratio.fields,
                                                 "onset_latency_ms": c_lat.fields}))
    out.sort(key=lambda t: -len(t.sessions))
    return out


def _json_mdc(course) -> MDC | None:
    """The course's MDC95 as ``reengage trend`` prints it (rounded), with its source, basis and precision."""
    if course.mdc is None or course.fields["mdc95"] is None:
        return None
    return MDC(course.fields["mdc95"], course.mdc.source, course.mdc.within, course.mdc.basis)


def _session_row(s: dict, a: dict | None) -> dict:
    """A session's catalog row with what the page shows of its analysis."""
    ratios, lats = rep_values(a, "glute_hamstring_ratio"), rep_values(a, "onset_latency_ms")
    row = dict(s)
    row["ratio_reps"], row["latency_reps"] = ratios, lats
    summary = (a or {}).get("summary") or {}
    row["ratio_iqr"] = finite(summary.get("glute_hamstring_ratio_iqr"))
    row["latency_iqr_ms"] = finite(summary.get("onset_latency_iqr_ms"))
    row["ratio_quartiles"] = summary.get("glute_hamstring_ratio_quartiles")
    row["latency_quartiles_ms"] = summary.get("onset_latency_quartiles_ms")
    # Both muscles: cueing raises both, so the ratio can stay flat while the glutes switch on.
    row["glute_max_pct_mvc"] = glute_max_pct_mvc(a)
    row["hamstrings_pct_mvc"] = pct_mvc(a, "hamstrings")
    return row


def phase_bands(sessions: list[dict]) -> list[tuple[str, str, int]]:
    """Contiguous runs of the same rehab phase as (first date, last date, phase)."""
    bands: list[list] = []
    for s in sessions:
        if s["phase"] is None:
            continue
        if bands and bands[-1][2] == s["phase"]:
            bands[-1][1] = s["session_date"]
        else:
            bands.append([s["session_date"], s["session_date"], s["phase"]])
    return [tuple(b) for b in bands]


# ------------------------------------------------------------------------------------- session page

# The per-channel quality block analyze emits (reengage.dsp.quality.channel_quality), put in the words a
# clinician uses. Each measure has one phrase; the thresholds that make a flag are dsp.quality's own, the
# others only choose an adjective (the numbers stay the stored ones, shown beside the words).
QUALITY_WORDS = {
    "snr_db": "signal above rest",
    "mains_hz": "mains frequency",
    "mains_db": "mains hum",
    "clipping_fraction": "clipping",
    "flat_fraction": "flat stretches",
    "motion_fraction": "movement artefacts, share of time",
    "motion_artifacts": "movement artefacts",
}
FLAG_WORDS = {
    "flat": "flat stretches: an electrode off or a lead unplugged?",
    "clipping": "the signal hits the amplifier's limit (clipping): lower the gain or check the electrode",
    "low_snr": "the muscle signal is barely above the resting noise",
    "mains": "strong mains hum: check the reference electrode and the skin contact",
    "motion": "frequent movement artefacts: secure the cable",
    "electrode_off": "the electrode is probably off",
}


def _pct(fraction) -> str:
    v = 100 * float(fraction)
    return f"{v:.1f} %" if v >= 0.1 else "under 0.1 %"


def _snr_words(snr) -> str:
    snr = finite(snr)
    if snr is None:
        return "signal level unknown (no rest or no contraction to compare)"
    if snr < SNR_MIN_DB:
        return f"signal too weak to use ({snr:.0f} dB above rest)"
    word = "good" if snr >= 15 else "fair" if snr >= 8 else "weak"
    return f"{word} signal ({snr:.0f} dB above rest)"


def _mains_words(hz, level_db) -> str:
    hz, level_db = finite(hz), finite(level_db)
    if hz is None or level_db is None:
        return "no mains hum"
    line = f"{hz:g} Hz, {level_db:+.0f} dB against the muscle signal"
    if level_db > MAINS_MAX_DB:
        return f"strong mains hum ({line})"
    return f"{'slight' if level_db <= -10 else 'some'} mains hum ({line}), removed by the analysis"


def _artefact_words(q: dict) -> list[str]:
    out = []
    clip, flat = finite(q.get("clipping_fraction")), finite(q.get("flat_fraction"))
    if clip:
        out.append(f"clipped in {_pct(clip)} of samples")
    if flat:
        out.append(f"flat in {_pct(flat)} of the time")
    n = finite(q.get("motion_artifacts"))
    if n:
        share = finite(q.get("motion_fraction"))
        out.append(f"{n:.0f} movement artefact{'s' if n != 1 else ''} (cable or skin)"
                   + (f", {_pct(share)} of the time" if share else ""))
    if not out:
        out.append("no clipping, flat stretches or movement artefacts")
    return out


def quality_in_words(analysis: dict | None) -> list[dict]:
    """Each channel's quality block in words: what is wrong first (the analysis's ``flags``), then the
    signal level, mains hum and artefacts, each with the stored number it is based on."""
    out = []
    for name, ch in ((analysis or {}).get("channels") or {}).items():
        q = (ch or {}).get("quality") or {}
        flags = [str(f) for f in q.get("flags") or []]
        lines = [("warning", FLAG_WORDS.get(f, f.replace("_", " "))) for f in flags]
        lines.append(("info", _snr_words(q.get("snr_db"))))
        lines.append(("info", _mains_words(q.get("mains_hz"), q.get("mains_db"))))
        lines += [("info", w) for w in _artefact_words(q)]
        if q.get("usable") is False:
            verdict = "not used by the analysis: check the electrode and cable"
        else:
            verdict = "usable, with warnings" if flags else "usable"
        out.append({"channel": name, "verdict": verdict, "lines": lines})
    return out


def _rep_row(r: dict, position: int) -> dict:
    on, off = r.get("onset_s") or {}, r.get("offset_s") or {}
    return {
        "rep": int(r.get("index", position)) + 1,
        "start_s": r.get("start_s"), "end_s": r.get("end_s"),
        "glute_onset_s": on.get("glute_max"), "hamstring_onset_s": on.get("hamstrings"),
        "glute_offset_s": off.get("glute_max"), "hamstring_offset_s": off.get("hamstrings"),
        "onset_latency_ms": r.get("onset_latency_ms"),
        "glute_hamstring_ratio": r.get("glute_hamstring_ratio"),
        "firing_order": " → ".join(r.get("firing_order") or []),
        "excluded": "yes" if r.get("excluded") else "",
        "exclusion_reasons": "; ".join(str(x) for x in r.get("exclusion_reasons") or []),
        "corrected": "yes" if r.get("corrections") else "",
    }


def session(root: Path, session_id: int) -> dict | None:
    """Everything the session page shows except the traces."""
    cat = _open(root)
    if cat is None:
        return None
    with cat:
        s = cat.session(session_id)
        if s is None:
            return None
        analysis = cat.analysis(s["recording_id"]) if s["analysis_id"] is not None else None
        info = cat.recording_info(s["recording_id"]) or {}
        others = [o for o in cat.sessions(s["subject_id"]) if o["session_id"] != s["session_id"]]
        corrections = cat.corrections(session_id)
    reps = [_rep_row(r, k) for k, r in enumerate((analysis or {}).get("reps") or [])]
    return {"session": s, "analysis": analysis, "info": info, "reps": reps,
            "quality": quality_in_words(analysis),
            "notes": [str(n) for n in (analysis or {}).get("notes") or []],
            "others": others,
            "corrections": [dict(c, words=describe(c), change=change(c, with_rep=False)) for c in reversed(corrections)],
            "unmatched": [describe_unmatched(c) for c in (analysis or {}).get("unmatched_corrections") or []]}


# ------------------------------------------------------------------------------------------ traces

_CACHE_LOCK = threading.Lock()
_SIGNAL_CACHE: OrderedDict[tuple, dict] = OrderedDict()
SIGNAL_CACHE_SIZE = 2  # bounded: a 1-hour 2-channel recording at 1 kHz is ≈ 60 MB of float32 traces


def channel_map(analysis: dict | None) -> dict[str, str]:
    """The role → channel assignment the analysis was made with (``--channel glute_max=EMG1`` on an
    imported CSV), read back from its ``channels`` block so the traces carry the analysis's keys."""
    out = {}
    for ch in ((analysis or {}).get("channels") or {}).values():
        role, name = (ch or {}).get("role"), (ch or {}).get("name")
        if role in MUSCLE_ROLES and name and name != role:
            out[role] = name
    return out


def _signals(path: Path, roles: dict[str, str]) -> dict:
    """Each muscle channel's stored signal (DC removed) and the envelope analyze detected its onsets on,
    float32, cached per file version. ``roles``: :func:`channel_map` of the recording's analysis."""
    from reengage.analysis import channel_envelopes
    from reengage.dsp.filters import remove_dc
    from reengage.io import load_recording

    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size, tuple(sorted(roles.items())))
    with _CACHE_LOCK:
        if key in _SIGNAL_CACHE:
            _SIGNAL_CACHE.move_to_end(key)
            return _SIGNAL_CACHE[key]
    rec = load_recording(path, roles or None)
    env = channel_envelopes(rec)
    emg = rec.emg
    names = [c.name for c in emg.channels]
    rows = [names.index(n) for n in env.names]
    units = sorted(set(env.units))
    out = {
        "fs_hz": env.fs_hz, "t0_s": env.t0_s, "keys": list(env.keys), "names": list(env.names),
        "roles": list(env.roles), "unit": units[0] if len(units) == 1 else "",
        "raw": remove_dc(emg.physical()[rows], overwrite_x=True).astype(np.float32),
        "envelope": np.asarray(env.envelope, dtype=np.float32),
        "duration_s": emg.n_samples / emg.fs_hz,
        "events": protocol_events(rec.events),
    }
    with _CACHE_LOCK:
        _SIGNAL_CACHE[key] = out
        while len(_SIGNAL_CACHE) > SIGNAL_CACHE_SIZE:
            _SIGNAL_CACHE.popitem(last=False)
    return out


def protocol_events(events) -> list[dict]:
    """The recording's protocol marks the traces are labelled with: MVC trials (``mvc:<role>``), rests and
    the exercise, as (start_s, end_s, label, kind) in the recording's seconds."""
    out = []
    for ev in events or ():
        label = str(ev.label)
        kind = "mvc" if label.startswith("mvc") else label if label in ("rest", "exercise") else None
        if kind is None or not ev.duration_s or ev.duration_s <= 0:
            continue
        role = label.partition(":")[2]
        words = {"mvc": f"MVC {role.replace('_', ' ')}".strip(), "rest": "rest", "exercise": "exercise"}[kind]
        out.append({"start_s": float(ev.onset_s), "end_s": float(ev.onset_s + ev.duration_s), "label": words,
                    "kind": kind})
    return out


def minmax_decimate(y: np.ndarray, fs_hz: float, t0_s: float, i0: int, i1: int, n_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Samples ``y[..., i0:i1]`` reduced to the min and max of each of ``n_px`` buckets (in time order
    within the bucket), which is exactly what a line plot of all samples would light up per pixel."""
    n = i1 - i0
    if n <= 2 * n_px:
        t = t0_s + np.arange(i0, i1) / fs_hz
        return t, y[..., i0:i1]
    per = int(math.ceil(n / n_px))
    nb = n // per
    seg = y[..., i0 : i0 + nb * per].reshape(*y.shape[:-1], nb, per)
    imin, imax = seg.argmin(axis=-1), seg.argmax(axis=-1)
    first = np.minimum(imin, imax)
    second = np.maximum(imin, imax)
    base = i0 + np.arange(nb) * per
    if y.ndim == 1:
        idx = np.stack([base + first, base + second], axis=-1).reshape(-1)
        return t0_s + idx / fs_hz, y[idx]
    # Multi-channel: one time axis needs a common index; use bucket start/end times with min/max values.
    t = t0_s + np.stack([base, base + per - 1], axis=-1).reshape(-1) / fs_hz
    vals = np.stack([np.take_along_axis(seg, first[..., None], -1)[..., 0],
                     np.take_along_axis(seg, second[..., None], -1)[..., 0]], axis=-1).reshape(*y.shape[:-1], -1)
    return t, vals


def _view(n: int, fs: float, t0: float, t_range_s: tuple[float, float] | None) -> tuple[int, int]:
    """Sample span of ``t_range_s`` (the whole recording when absent or under two samples)."""
    if t_range_s is None:
        return 0, n
    a, b = sorted(t_range_s)
    i0 = max(0, int(math.floor((a - t0) * fs)))
    i1 = min(n, int(math.ceil((b - t0) * fs)) + 1)
    return (0, n) if i1 - i0 < 2 else (i0, i1)


def _marks(sig: dict, analysis: dict | None) -> dict[str, dict[str, tuple[list, list]]]:
    """Per channel key, the analysis's onset and offset times and the envelope's value there (None for a
    channel the recording does not have), so each ▲/▼ sits on the curve it was detected on."""
    rows = {k: i for i, k in enumerate(sig["keys"])}
    env, fs, t0 = sig["envelope"], sig["fs_hz"], sig["t0_s"]
    out: dict[str, dict[str, tuple[list, list]]] = {}
    for rep in (analysis or {}).get("reps") or []:
        for kind in ("onset", "offset"):
            for key, t_s in (rep.get(f"{kind}_s") or {}).items():
                if finite(t_s) is None:
                    continue
                ts, ys = out.setdefault(key, {"onset": ([], []), "offset": ([], [])})[kind]
                row = rows.get(key)
                i = min(max(int(round((t_s - t0) * fs)), 0), env.shape[-1] - 1)
                ts.append(t_s)
                ys.append(float(env[row, i]) if row is not None and env.shape[-1] else None)
    return out


def traces(root: Path, recording_id: int, t_range_s: tuple[float, float] | None = None, n_px: int = 1200) -> dict | None:
    """Decimated raw (DC removed) and analysis-envelope traces of a recording's muscle channels over
    ``t_range_s``; ``{"error": ...}`` when the file is missing or cannot be read."""
    cat = _open(root)
    if cat is None:
        return None
    with cat:
        path = cat.recording_path(recording_id)
        analysis = cat.analysis(recording_id) if path is not None else None
    if path is None:
        return None
    if not path.exists():
        return {"error": f"recording file {path.name} is missing from the data root"}
    try:
        sig = _signals(path, channel_map(analysis))
    except ReengageError as e:
        return {"error": f"recording file {path.name} cannot be read: {e}"}
    n = sig["raw"].shape[-1]
    i0, i1 = _view(n, sig["fs_hz"], sig["t0_s"], t_range_s)
    out = {k: sig[k] for k in ("keys", "names", "roles", "unit", "duration_s", "events")}
    out.update(samples_total=n, samples_in_view=i1 - i0, marks=_marks(sig, analysis))
    for kind in ("raw", "envelope"):
        t, v = minmax_decimate(sig[kind], sig["fs_hz"], sig["t0_s"], i0, i1, n_px)
        out[kind] = {"t": t, "y": v}
    return out


def session_analysis_for_recording(root: Path, recording_id: int) -> dict | None:
    cat = _open(root)
    if cat is None:
        return None
    with cat:
        return cat.analysis(recording_id)


def session_id_for_recording(root: Path, recording_id: int) -> int | None:
    cat = _open(root)
    if cat is None:
        return None
    with cat:
        return cat.session_of_recording(recording_id)


# -------------------------------------------------------------------- edits and the patient register
# The dashboard's only writes, each through the catalog's audited API (who, when, old → new). Bad input
# comes back as the catalog's InputError, whose message the page shows as it is.

def edit_session(root: Path, session_id: int, *, who: str, **fields) -> list[dict]:
    """Correct a session's ``phase``, ``pain`` and/or ``notes`` (the keys given); returns the changes made."""
    with _open_for_writing(root) as cat:
        return cat.edit_session(int(session_id), who=who, **fields)


def correction_author() -> str:
    """Who a correction made on this page is attributed to: the authenticated user when basic authentication
    is on, else the login name of the dashboard's process (on loopback, the clinician at this computer)."""
    import flask

    auth = flask.request.authorization if flask.has_request_context() else None
    if auth is not None and auth.username:
        return str(auth.username)
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def correct(root: Path, session_id: int, kind: str, rep: int, *, who: str, channel: str | None = None,
            seconds=None, reason: str = "") -> dict | None:
    """A clinician's correction of the session's analysis (:meth:`Catalog.correct`): the correction made, or
    None when it was already so."""
    with _open_for_writing(root) as cat:
        return cat.correct(int(session_id), kind, int(rep), who=who, channel=channel, seconds=seconds, reason=reason)


def undo_correction(root: Path, session_id: int, correction_id: int, *, who: str) -> dict:
    """Reverse a correction (the undo is stored as a correction of its own)."""
    with _open_for_writing(root) as cat:
        return cat.undo_correction(int(session_id), int(correction_id), who=who)


def onset_at(analysis: dict | None, channel: str, t_s: float) -> int | None:
    """The index of the rep whose (effective) onset of ``channel`` is at ``t_s`` (a clicked ▲ marker), or None."""
    best, best_d = None, 0.05
    for k, r in enumerate((analysis or {}).get("reps") or []):
        v = finite((r.get("onset_s") or {}).get(channel))
        if v is not None and abs(v - t_s) < best_d:
            best, best_d = int(r.get("index", k)), abs(v - t_s)
    return best


def session_edits(root: Path, session_id: int) -> list[dict]:
    """A session's edit history, newest first: who, when (UTC), field, old and new value."""
    cat = _open(root)
    if cat is None:
        return []
    with cat:
        return list(reversed(cat.session_edits(int(session_id))))


def register(root: Path) -> list[dict]:
    """The patient register (:meth:`Catalog.patients`): every id, registered by a person or only brought in
    by a recording, with its session counts (empty recordings counted apart)."""
    cat = _open(root)
    if cat is None:
        return []
    with cat:
        return cat.patients()


def add_patient(root: Path, subject_id: str, *, who: str, display_name: str | None = None) -> dict:
    with _open_for_writing(root) as cat:
        return cat.add_patient(subject_id, display_name=display_name or None, who=who)


def rename_patient(root: Path, old: str, new: str, *, who: str) -> int:
    with _open_for_writing(root) as cat:
        return cat.rename_patient(old, new, who=who)


def merge_patients(root: Path, from_id: str, into_id: str, *, who: str) -> int:
    with _open_for_writing(root) as cat:
        return cat.merge_patients(from_id, into_id, who=who)


def patient_edits(root: Path, subject_id: str) -> list[dict]:
    cat = _open(root)
    if cat is None:
        return []
    with cat:
        return list(reversed(cat.patient_edits(subject_id)))


def empty_recordings(root: Path, subject_id: str) -> list[dict]:
    """A subject's sessions whose recording has no samples: kept in the catalog, left out of the trends."""
    cat = _open(root)
    if cat is None:
        return []
    with cat:
        return cat.empty_sessions(subject_id)
