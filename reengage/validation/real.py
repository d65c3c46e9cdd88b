"""Validation on real recordings: ``python -m reengage.validation --real``.

Runs :func:`reengage.analysis.analyze` on every top-level ``*.csv`` of the shared real-data folder
(``../shared/data`` beside the repository, or ``$REENGAGE_SHARED_DATA``; see its README) and scores every burst
onset of the prime movers (:func:`analysis_onsets`: the bursts of analyze's JSON, ``channels.<key>.detected_bursts``)
against the movement, a reference that does not come from our detector:

- ``knee_flexion_standing`` (UCI): biceps femoris and semitendinosus against each knee-flexion start, and
  ``knee_extension_seated``: rectus femoris and vastus medialis against each extension start, both from the
  goniometer (``annotations/<file>.knee_angle.csv``) by :func:`knee_phases` and :func:`flexion_starts` (the
  direction the movers drive, chosen per file by the rise of their crude power). The data's
  ``movement_derived.csv`` is not used (in A05 it takes the flexed end as rest).
- ``treadmill_walking`` (Santuz 2020): glute max against each touchdown (it fires in terminal swing).

Also per file: prime-mover bursts while the knee rests (:func:`rest_spans`), reps against the movements, and for
UCI gait the strides (between swing peaks of the goniometer, :func:`gait_strides`) in which each channel has a
burst onset (:func:`gait_table`): every thigh muscle fires once or twice a stride, so a channel that gets an onset
in few strides is missing bursts.
The goniometer's start lags even the eye-marked onsets by ~200 ms, so these scores measure that lead more than
detection; the examiner's visual reference (:mod:`reengage.validation.visual`) is the onset target. Not scored
against movement: UCI gait (no heel strike) and BioSPPy (no timing).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import signal

from reengage.analysis import analyze
from reengage.dsp.channel import clean_emg, find_mains
from reengage.dsp.onsets import DEFAULT_METHOD, detect_bursts
from reengage.io import load_recording

MATCH_S = 0.15
ENV_VAR = "REENGAGE_SHARED_DATA"
# Channels scored per task (channel *names*, as in the CSV header) and the annotation that gives the reference.
SCORED = {
    "knee_flexion_standing": (("biceps_femoris", "semitendinosus"), "knee_angle", ""),
    "knee_extension_seated": (("rectus_femoris", "vastus_medialis"), "knee_angle", ""),
    "treadmill_walking": (("glute_max",), "gait_events", "touchdown_s"),
}


def shared_data_dir() -> Path:
    """The real-data folder: ``$REENGAGE_SHARED_DATA``, else ``shared/data`` beside the repository."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def task_of(path: Path) -> str:
    """The task a file records, from its name (``uci_N01_gait`` → ``gait``)."""
    stem = path.stem
    if stem.startswith("biosppy"):
        return "biosppy"
    for task in ("knee_flexion_standing", "knee_extension_seated", "treadmill_walking", "gait"):
        if stem.endswith(task):
            return task
    return "unknown"


def reference_times(path: Path, annotation: str, column: str) -> np.ndarray | None:
    """Reference instants (s) from ``annotations/<stem>.<annotation>.csv``, or None when absent."""
    ann = path.parent / "annotations" / f"{path.stem}.{annotation}.csv"
    if not ann.exists():
        return None
    with ann.open(newline="") as fh:
        return np.array([float(row[column]) for row in csv.DictReader(fh)], dtype=float)


def knee_phases(t: np.ndarray, angle: np.ndarray, start_frac: float = 0.03) -> list[tuple[float, int]]:
    """Starts (s) and directions (+1 up, −1 down) of the knee's moves between its two resting ends.

    The angle is in a "low" state below 25 % of its 2–98 % range and "high" above 75 % (hysteresis: the
    goniometer is smooth, but holds drift a little); a move starts where the angle last was within
    ``start_frac`` of the range of the plateau it leaves (median of the 0.3 s before it left).
    """
    lo, hi = np.percentile(angle, [2, 98])
    span = hi - lo
    state = np.where(angle < lo + 0.25 * span, -1, np.where(angle > lo + 0.75 * span, 1, 0))
    idx = np.flatnonzero(state != 0)
    levels = state[idx]
    moves = []
    for c in np.flatnonzero(np.diff(levels) != 0):
        left, arrived = idx[c], idx[c + 1]
        plateau = np.median(angle[max(0, left - 300):left + 1])
        k = arrived
        while k > 0 and abs(angle[k] - plateau) > start_frac * span:
            k -= 1
        moves.append((float(t[k]), int(levels[c + 1])))
    return moves


def flexion_starts(path: Path, muscles=("biceps_femoris", "semitendinosus")) -> np.ndarray | None:
    """Starts (s) of the moves the ``muscles`` drive in a UCI file (knee flexion for the hamstrings, extension
    for the quadriceps): the goniometer's moves in the direction where the muscles' crude power rises most.

    Crude power: first difference of the raw samples, squared (a high-pass that needs no filter design), in the
    0.5 s after each move's start over the 0.5 s before it, as a log ratio averaged per direction. The ratio, not
    the power after the start alone: a muscle still active at the end of a hold carries power into the return
    move, which picked the return in N01 and N06 (standing) and N07 and N08 (seated)."""
    ann = path.parent / "annotations" / f"{path.stem}.knee_angle.csv"
    if not ann.exists():
        return None
    angle = np.loadtxt(ann, delimiter=",", skiprows=1, ndmin=2)
    moves = knee_phases(angle[:, 0], angle[:, 1])
    raw = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    with path.open() as fh:
        header = fh.readline().strip().split(",")
    cols = [header.index(m) for m in muscles]
    hp = np.diff(raw[:, cols], axis=0) ** 2
    t = raw[:, 0]
    rise: dict[int, list[float]] = {1: [], -1: []}
    for start, direction in moves:
        i = int(np.searchsorted(t, start))
        if i >= 100:
            before, after = np.mean(hp[max(0, i - 500):i]), np.mean(hp[i:i + 500])
            if before > 0 and after > 0:
                rise[direction].append(float(np.log(after / before)))
    flex = max(rise, key=lambda d: np.mean(rise[d]) if rise[d] else -np.inf)
    return np.array([s for s, d in moves if d == flex])


def gait_strides(path: Path) -> np.ndarray | None:
    """The peaks of swing-phase knee flexion (s) in a UCI gait file: consecutive peaks bound one stride.

    The goniometer (``annotations/<stem>.knee_angle.csv``) low-passed at 6 Hz; peaks at least 0.7 s apart with a
    prominence of 40 % of its range, in the direction (its sign differs per subject) whose peaks are the more
    prominent: swing flexion (~60°) is the knee's largest excursion in walking. Rough: a missed or an extra peak
    makes one stride of two or a short one (2 of the 48 intervals are over 2 s here, 2 under 0.9 s)."""
    ann = path.parent / "annotations" / f"{path.stem}.knee_angle.csv"
    if not ann.exists():
        return None
    a = np.loadtxt(ann, delimiter=",", skiprows=1, ndmin=2)
    t, angle = a[:, 0], a[:, 1]
    fs = 1.0 / float(np.median(np.diff(t)))
    angle = signal.sosfiltfilt(signal.butter(2, 6.0, fs=fs, output="sos"), angle)
    best, peaks = -np.inf, np.empty(0)
    for sign in (1.0, -1.0):
        p, props = signal.find_peaks(sign * angle, prominence=0.4 * np.ptp(angle), distance=int(0.7 * fs))
        score = float(np.median(props["prominences"])) if p.size else -np.inf
        if score > best:
            best, peaks = score, t[p]
    return peaks


def match(reference: np.ndarray, detected: np.ndarray, window_s: float = MATCH_S) -> list[float]:
    """Greedy one-to-one matching, closest pairs first; returns detected − reference (s) of matched pairs."""
    pairs = sorted((abs(d - r), i, j) for i, r in enumerate(reference) for j, d in enumerate(detected)
                   if abs(d - r) <= window_s)
    used_r, used_d, errors = set(), set(), []
    for _, i, j in pairs:
        if i not in used_r and j not in used_d:
            used_r.add(i)
            used_d.add(j)
            errors.append(float(detected[j] - reference[i]))
    return errors


def read_csv(path: Path) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(time s, channel names, samples (channels, samples)) of a recording in the CSV contract."""
    with path.open() as fh:
        header = fh.readline().strip().split(",")
    raw = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return raw[:, 0], header[1:], raw[:, 1:].T


def clean_as_analyze(x: np.ndarray, fs: float) -> np.ndarray:
    """``x`` (channels, samples) cleaned as ``analyze`` cleans a recording: ``find_mains`` → ``clean_emg``."""
    return clean_emg(x, fs=fs, lines_hz=find_mains(x, fs=fs).lines_hz)


def read_cleaned(path: Path) -> tuple[np.ndarray, list[str], float, np.ndarray, np.ndarray]:
    """(time s, channel names, sampling rate Hz, raw samples, cleaned samples) of a recording in the CSV contract;
    cleaned by :func:`clean_as_analyze`, both (channels, samples)."""
    t, names, x = read_csv(path)
    fs = float(round(1.0 / np.median(np.diff(t))))
    return t, names, fs, x, clean_as_analyze(x, fs)


def burst_onsets(path: Path, method: str = DEFAULT_METHOD) -> dict[str, np.ndarray]:
    """Every burst onset (s) per channel name, from the public dsp verbs as ``analyze`` runs them on a recording
    without marked rest (``find_mains`` → ``clean_emg`` → ``detect_bursts``; the same bursts ``analyze`` counts)."""
    t, names, fs, _, cleaned = read_cleaned(path)
    return {name: t[0] + b.onsets / fs for name, b in zip(names, detect_bursts(cleaned, fs=fs, method=method))}


def analysis_onsets(result: dict, time_s_start: float = 0.0) -> dict[str, np.ndarray]:
    """Every burst onset (s) per channel name from analyze's JSON (``channels.<key>.detected_bursts``), on the
    file's clock: ``time_s_start`` is the file's first ``time_s`` (analyze counts from the recording's start,
    the annotations from the file's)."""
    return {ch["name"]: time_s_start + np.array([b["onset_s"] for b in ch["detected_bursts"]], dtype=float)
            for ch in result["channels"].values()}


def rest_spans(path: Path, muscles, margin_s: float = 0.5) -> list[tuple[float, float]]:
    """Spans (s) where the knee rests at the end the ``muscles``' moves leave from (goniometer within 25 % of its
    range of that end), less ``margin_s`` at each side (an onset may lead its move by a few hundred ms)."""
    ann = path.parent / "annotations" / f"{path.stem}.knee_angle.csv"
    starts = flexion_starts(path, muscles)
    if not ann.exists() or starts is None or not starts.size:
        return []
    angle = np.loadtxt(ann, delimiter=",", skiprows=1, ndmin=2)
    t, a = angle[:, 0], angle[:, 1]
    lo, hi = np.percentile(a, [2, 98])
    low = a < lo + 0.25 * (hi - lo)
    high = a > lo + 0.75 * (hi - lo)
    # The resting end is where the angle sits just before the muscles' moves start.
    i0 = np.searchsorted(t, starts) - 1
    rest = low if np.mean(low[np.clip(i0, 0, t.size - 1)]) >= 0.5 else high
    edges = np.flatnonzero(np.diff(np.r_[0, rest.astype(np.int8), 0]))
    return [(float(t[b] + margin_s), float(t[e - 1] - margin_s)) for b, e in zip(edges[::2], edges[1::2])
            if t[e - 1] - t[b] > 2 * margin_s]


@dataclass
class FileScore:
    """What the pipeline found in one file and, where scored, how its onsets meet the reference."""

    file: str
    task: str
    bursts: dict[str, int]
    reps: int
    excluded_reps: int
    notes: list[str]
    flags: dict[str, list[str]]
    references: int = 0
    detected: int = 0
    errors_s: list[float] = field(default_factory=list)
    # Per reference event, the nearest onset of the channel minus the event (s), matched or not.
    nearest_s: list[float] = field(default_factory=list)
    # Movements the task holds (goniometer moves of the prime movers, or gait cycles), None where unknown.
    movements: int | None = None
    rest_s: float = 0.0
    rest_bursts: int = 0
    burst_onsets_s: dict[str, list[float]] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


def _movement_reference(path: Path, task: str) -> tuple[tuple[str, ...], np.ndarray | None]:
    """(scored channels, reference instants) of a task, or ((), None)."""
    if task not in SCORED:
        return (), None
    names, annotation, column = SCORED[task]
    if annotation == "knee_angle":
        return names, flexion_starts(path, names)
    return names, reference_times(path, annotation, column)


def score_file(path: Path) -> FileScore:
    """Analyse one real recording and score its burst onsets against its movement reference, if it has one."""
    recording = load_recording(path)
    result = analyze(recording)
    chans = result["channels"]
    fs = FileScore(
        file=path.name, task=task_of(path),
        bursts={ch["name"]: int(ch["bursts"]) for ch in chans.values()},
        reps=len(result["reps"]), excluded_reps=sum(1 for r in result["reps"] if r["excluded"]),
        notes=list(result.get("notes") or []),
        flags={ch["name"]: list(ch["quality"]["flags"]) for ch in chans.values() if ch["quality"]["flags"]})
    onsets = analysis_onsets(result, float((recording.meta or {}).get("time_s_start", 0.0)))
    fs.burst_onsets_s = {k: [round(float(v), 4) for v in o] for k, o in onsets.items()}
    names, ref = _movement_reference(path, fs.task)
    if ref is not None:
        fs.movements = int(ref.size)
        for name in names:
            det = onsets.get(name, np.empty(0))
            fs.references += len(ref)
            fs.detected += det.size
            fs.errors_s += match(ref, det)
            fs.nearest_s += [float(det[np.argmin(np.abs(det - r))] - r) for r in ref] if det.size else []
        if fs.task.startswith("knee_"):
            for a, b in rest_spans(path, names):
                fs.rest_s += b - a
                fs.rest_bursts += sum(int(np.sum((onsets[n] >= a) & (onsets[n] <= b))) for n in names)
    if fs.task == "gait":
        peaks = gait_strides(path)
        if peaks is not None and peaks.size > 1:
            fs.extra["strides"] = int(peaks.size - 1)
            fs.extra["strides_with_onset"] = {
                k: int(np.sum(np.diff(np.searchsorted(o, peaks)) > 0)) for k, o in onsets.items()}
    if fs.task == "treadmill_walking":
        td = reference_times(path, "gait_events", "touchdown_s")
        for name in ("semitendinosus", "biceps_femoris"):
            leads = [float(o - td[np.argmin(np.abs(td - o))]) for o in onsets.get(name, ())] if td is not None else []
            fs.extra[f"{name}_onset_vs_touchdown_ms"] = [round(1000 * v) for v in leads]
    return fs


def summarize(scores: list[FileScore]) -> dict[str, dict]:
    """Per task: files, bursts found, references, matched share and median error (ms)."""
    out: dict[str, dict] = {}
    for task in sorted({s.task for s in scores}):
        group = [s for s in scores if s.task == task]
        errors = [e for s in group for e in s.errors_s]
        refs = sum(s.references for s in group)
        out[task] = {
            "files": len(group),
            "bursts": sum(sum(s.bursts.values()) for s in group),
            "reps": sum(s.reps for s in group),
            "references": refs,
            "detected_onsets": sum(s.detected for s in group),
            "matched": len(errors),
            "matched_pct": round(100.0 * len(errors) / refs, 1) if refs else None,
            "median_error_ms": round(1000 * float(np.median(errors)), 1) if errors else None,
            "median_abs_error_ms": round(1000 * float(np.median(np.abs(errors))), 1) if errors else None,
            "median_nearest_ms": (round(1000 * float(np.median([e for s in group for e in s.nearest_s])), 1)
                                  if any(s.nearest_s for s in group) else None),
            "movements": sum(s.movements for s in group) if all(s.movements is not None for s in group) else None,
            # Files whose rep count equals the movements the task holds (where the movements are known).
            "reps_equal_movements": sum(1 for s in group if s.movements is not None and s.reps == s.movements),
            "rest_s": round(sum(s.rest_s for s in group), 1),
            "rest_bursts": sum(s.rest_bursts for s in group),
            "rest_bursts_per_min": (round(60.0 * sum(s.rest_bursts for s in group) / sum(s.rest_s for s in group), 1)
                                    if sum(s.rest_s for s in group) > 0 else None),
        }
    return out


def run_real(data_dir: Path | None = None) -> tuple[list[FileScore], dict[str, dict]]:
    """Score every top-level recording of the real-data folder."""
    data_dir = data_dir or shared_data_dir()
    scores = [score_file(p) for p in sorted(data_dir.glob("*.csv"))]
    return scores, summarize(scores)


def real_table(summary: dict[str, dict]) -> str:
    """The per-task table of ``docs/validation.md`` ("Real recordings")."""
    lines = ["| task | files | bursts found | reps / movements (files equal) | reference events | matched ±150 ms "
             "| median error ms | median abs error ms | median nearest onset − event ms | bursts in rest (per min) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for task, s in summary.items():
        def f(v):
            return "–" if v is None else f"{v:g}"
        moves = "" if s["movements"] is None else f" / {s['movements']} ({s['reps_equal_movements']})"
        rest = "–" if s["rest_bursts_per_min"] is None else \
            f"{s['rest_bursts']} in {s['rest_s']:g} s ({s['rest_bursts_per_min']:g})"
        lines.append(f"| {task} | {s['files']} | {s['bursts']} | {s['reps']}{moves} | {s['references'] or '–'} | "
                     f"{f(s['matched_pct'])}{'' if s['matched_pct'] is None else ' %'} | "
                     f"{f(s['median_error_ms'])} | {f(s['median_abs_error_ms'])} | {f(s['median_nearest_ms'])} | "
                     f"{rest} |")
    return "\n".join(lines)


def gait_table(scores: list[FileScore]) -> str:
    """Markdown: per channel, the UCI gait strides in which it has a burst onset (all files, and the files of the
    visual reference's tune and held-back subjects)."""
    from reengage.validation.visual import split_of

    groups: dict[str, dict[str, list[int]]] = {}
    for s in scores:
        if "strides" not in s.extra:
            continue
        for key in ("all", split_of(s.file)):
            for ch, n in s.extra["strides_with_onset"].items():
                tot = groups.setdefault(ch, {}).setdefault(key, [0, 0])
                tot[0] += n
                tot[1] += s.extra["strides"]
    lines = ["| channel | strides with an onset, all files | tune subjects | held-back subjects |",
             "|---|---:|---:|---:|"]
    for ch, g in groups.items():
        cells = [f"{g[k][0]} / {g[k][1]} ({100.0 * g[k][0] / g[k][1]:.0f} %)" if k in g and g[k][1] else "–"
                 for k in ("all", "tune", "holdout")]
        lines.append(f"| {ch} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def file_lines(scores: list[FileScore]) -> str:
    """One line per file: bursts per channel, reps, notes, flags and the file's score."""
    rows = []
    for s in scores:
        score = ""
        if s.references:
            med = f"{1000 * np.median(s.errors_s):+.0f} ms" if s.errors_s else "–"
            score = f"  matched {len(s.errors_s)}/{s.references}, median {med}"
        bursts = " ".join(f"{k}={v}" for k, v in s.bursts.items())
        extra = "".join(f"  {k}={v}" for k, v in s.extra.items())
        flags = f"  flags={s.flags}" if s.flags else ""
        notes = f"  notes={len(s.notes)}" if s.notes else ""
        rows.append(f"{s.file}: reps={s.reps} (excluded {s.excluded_reps}) {bursts}{flags}{notes}{score}{extra}")
    return "\n".join(rows)
