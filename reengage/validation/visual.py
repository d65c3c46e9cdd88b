"""An examiner's visual onset reference on the real recordings, and scoring detectors against it.

``python -m reengage.validation.visual render FILE [--out DIR]`` draws the windows of one recording to mark by
eye; ``python -m reengage.validation.visual score [--json] [--reference PATH]`` scores the detectors we ship (and
neurokit2's ``emg_activation`` when it is installed) against ``reference/visual_onsets.csv`` (or another reference
with the same columns, e.g. the second marker's ``reference/visual_onsets_marker2.csv``). How the reference was made,
its rule and its limits: ``reference/README.md``.

The windows come from the movement (goniometer moves, gait touchdowns) or from a coarse envelope's peaks, never
from an onset detector, so the reference does not inherit a detector's bias. The display filter (:func:`display_signal`)
is scipy's, not the pipeline's, for the same reason.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal

from reengage.dsp.onsets import METHODS
from reengage.validation.real import burst_onsets, flexion_starts, read_csv, reference_times, shared_data_dir, task_of

MATCH_S = 0.15
REFERENCE_CSV = Path(__file__).resolve().parent / "reference" / "visual_onsets.csv"
COLUMNS = ("file", "channel", "window_start_s", "window_end_s", "onset_s", "clarity", "split", "note")
# Subjects held back from tuning (about a third of them, fixed before any score was looked at).
HOLDOUT = ("N04", "N07", "N11", "A03", "A07", "A10", "biosppy")
# Channels marked per task, and the window around each anchor (s before, s after).
TASK_CHANNELS = {
    "knee_flexion_standing": ("biceps_femoris", "semitendinosus"),
    "knee_extension_seated": ("rectus_femoris", "vastus_medialis", "biceps_femoris"),
    "gait": ("biceps_femoris", "semitendinosus"),
    "treadmill_walking": ("glute_max", "semitendinosus"),
    "biosppy": ("emg",),
}


# The muscles the product records or that neighbour them (the Santuz trial's lower-leg muscles are left out).
THIGH_AND_HIP = ("glute_max", "glute_med", "biceps_femoris", "semitendinosus", "rectus_femoris", "vastus_medialis")


def task_name(path: Path) -> str:
    """The task of a file (``biosppy`` for the BioSPPy example)."""
    return task_of(path)


def subject_of(file: str) -> str:
    """``uci_N03_gait.csv`` → ``N03``; ``santuz…`` → ``santuz``; ``biosppy…`` → ``biosppy``."""
    stem = Path(file).stem
    return stem.split("_")[1] if stem.startswith("uci_") else stem.split("_")[0].rstrip("0123456789")


def split_of(file: str) -> str:
    """``holdout`` for the held-back subjects (:data:`HOLDOUT`), else ``tune``."""
    return "holdout" if subject_of(file) in HOLDOUT else "tune"


def display_signal(x: np.ndarray, fs: float) -> np.ndarray:
    """What the examiner looks at: 4th-order zero-phase Butterworth 20–450 Hz, and a notch at 50 or 60 Hz (and its
    first two harmonics) when that line holds over 5 % of the power of any channel."""
    x = np.atleast_2d(x)
    x = x - x.mean(axis=-1, keepdims=True)
    y = signal.sosfiltfilt(signal.butter(4, [20, 450], btype="band", fs=fs, output="sos"), x, axis=-1)
    f, p = signal.welch(x, fs=fs, nperseg=2048, axis=-1)
    total = p.sum(axis=-1)
    for mains in (50.0, 60.0):
        share = p[:, np.abs(f - mains) <= 1.5].sum(axis=-1) / total
        if np.any(share > 0.05):
            for k in (1, 2, 3):
                if k * mains < 0.45 * fs:
                    b, a = signal.iirnotch(k * mains, 30.0, fs=fs)
                    y = signal.filtfilt(b, a, y, axis=-1)
    return y


def envelope_peaks(y: np.ndarray, fs: float, min_gap_s: float = 0.6) -> np.ndarray:
    """Peaks (s from the first sample) of a coarse 3 Hz envelope that exceed 3 × its median: burst anchors for
    recordings without a movement reference."""
    env = signal.sosfiltfilt(signal.butter(2, 3.0, fs=fs, output="sos"), np.abs(y))
    peaks, _ = signal.find_peaks(env, height=3.0 * np.median(env), distance=int(min_gap_s * fs))
    return peaks / fs


@dataclass(frozen=True)
class Window:
    """One window to mark: channel, span (s, recording clock) and what anchored it."""

    channel: str
    start_s: float
    end_s: float
    anchor: str


def windows(path: Path, channels: tuple[str, ...] | None = None) -> list[Window]:
    """The windows of a recording, anchored on its movement or gait reference, else on coarse envelope peaks;
    for ``channels`` (default: the task's marked channels, :data:`TASK_CHANNELS`)."""
    task = task_name(path)
    t, names, x = read_csv(path)
    fs = 1.0 / np.median(np.diff(t))
    out: list[Window] = []
    if task in ("knee_flexion_standing", "knee_extension_seated"):
        movers = ("biceps_femoris", "semitendinosus") if task == "knee_flexion_standing" \
            else ("rectus_femoris", "vastus_medialis")
        anchors = [(a, f"{'flexion' if task.startswith('knee_f') else 'extension'} start") for a in
                   flexion_starts(path, muscles=movers)]
        pre, post = 1.2, 0.5
    elif task == "treadmill_walking":
        anchors = [(a, "touchdown") for a in reference_times(path, "gait_events", "touchdown_s")]
        pre, post = 0.6, 0.3
    else:
        anchors = []
        pre, post = (0.7, 0.25) if task == "gait" else (1.5, 0.3)
    for name in TASK_CHANNELS[task] if channels is None else channels:
        if name not in names:
            continue
        chan_anchors = anchors
        if not anchors:
            y = display_signal(x[names.index(name)], fs)[0]
            chan_anchors = [(t[0] + p, "envelope peak") for p in envelope_peaks(y, fs)]
        for a, label in chan_anchors:
            start, end = max(t[0], a - pre), min(t[-1], a + post)
            out.append(Window(name, round(float(start), 3), round(float(end), 3), f"{label} {a:.3f}"))
    return out


def first_windows(wins: list[Window], first: int | None, skip: int = 0) -> list[Window]:
    """Windows ``skip``+1 … ``skip``+``first`` of each channel (all after ``skip`` when ``first`` is None): a
    fixed sample, chosen before looking."""
    seen: dict[str, int] = {}
    out = []
    for w in wins:
        seen[w.channel] = seen.get(w.channel, 0) + 1
        if seen[w.channel] > skip and (first is None or seen[w.channel] <= skip + first):
            out.append(w)
    return out


def fresh_windows(data_dir: Path | None = None) -> list[tuple[str, Window]]:
    """Every window of the held-back subjects' files (:data:`HOLDOUT`) that the reference does not hold, in file
    and :func:`windows` order: the fresh windows two more markers marked after the detector was frozen."""
    data_dir = data_dir or shared_data_dir()
    used = {(r["file"], r["channel"], round(r["window_start_s"], 3)) for r in load_reference()}
    return [(p.name, w) for p in sorted(data_dir.glob("*.csv")) if subject_of(p.name) in HOLDOUT
            for w in windows(p) if (p.name, w.channel, round(w.start_s, 3)) not in used]


def other_channel_windows(split: str = "holdout", data_dir: Path | None = None) -> list[tuple[str, Window]]:
    """The windows of the channels that :data:`TASK_CHANNELS` leaves out (the quadriceps in gait and in standing
    flexion, semitendinosus in seated extension) in the files of ``split``'s subjects, with the same window rules.
    ``holdout``: the second fresh set, marked blind by two more markers; ``tune``: the same channel kinds of the
    tune subjects, marked blind by one more marker for tuning (reference README)."""
    data_dir = data_dir or shared_data_dir()
    out = []
    for p in sorted(data_dir.glob("*.csv")):
        if split_of(p.name) != split:
            continue
        names = read_csv(p)[1]
        others = tuple(c for c in names if c in THIGH_AND_HIP and c not in TASK_CHANNELS[task_name(p)])
        out += [(p.name, w) for w in windows(p, others)]
    return out


def render(paths: list[Path], out_dir: Path, per_image: int = 8, first: int | None = None,
           prefix: str = "page", skip: int = 0) -> list[tuple[Path, list[tuple[str, Window]]]]:
    """PNG pages of the windows of ``paths`` (``per_image`` panels each; the first ``first`` per channel and file),
    pooled across files: the display signal with labelled ticks every 50 ms and minor ticks every 10 ms.
    Needs matplotlib (not a dependency of reengage)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MultipleLocator

    shown = {}
    wins: list[tuple[str, Window]] = []
    for path in paths:
        t, names, x = read_csv(path)
        shown[path.name] = (t, names, display_signal(x, 1.0 / np.median(np.diff(t))))
        wins += [(path.name, w) for w in first_windows(windows(path), first, skip)]
    out_dir.mkdir(parents=True, exist_ok=True)
    pages = []
    for p in range(0, len(wins), per_image):
        page = wins[p:p + per_image]
        fig, axes = plt.subplots(len(page), 1, figsize=(18, 2.0 * len(page)), dpi=70, squeeze=False)
        for k, (ax, (file, w)) in enumerate(zip(axes[:, 0], page)):
            t, names, y = shown[file]
            sel = (t >= w.start_s) & (t <= w.end_s)
            ax.plot(t[sel], y[names.index(w.channel), sel], lw=0.5, color="k")
            ax.set_xlim(w.start_s, w.end_s)
            ax.xaxis.set_major_locator(MultipleLocator(0.05))
            ax.xaxis.set_minor_locator(MultipleLocator(0.01))
            ax.grid(which="major", color="tab:blue", alpha=0.5, lw=0.6)
            ax.grid(which="minor", color="0.85", lw=0.4)
            ax.tick_params(axis="x", labelsize=7, labelrotation=90)
            ax.set_title(f"#{p + k} {Path(file).stem} {w.channel} ({w.anchor})", fontsize=9, loc="left")
        fig.tight_layout()
        png = out_dir / f"{prefix}_{p // per_image:02d}.png"
        fig.savefig(png)
        plt.close(fig)
        pages.append((png, page))
    return pages


# ----------------------------------------------------------------------------------------------------- scoring

def load_reference(path: Path = REFERENCE_CSV) -> list[dict]:
    """The reference rows; ``onset_s`` is a float or None (no burst, or unclear without a time)."""
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r["window_start_s"], r["window_end_s"] = float(r["window_start_s"]), float(r["window_end_s"])
        r["onset_s"] = float(r["onset_s"]) if r["onset_s"].strip() else None
    return rows


def detected_onsets(path: Path, detector: str) -> dict[str, np.ndarray]:
    """Every burst onset (s) per channel name: ours from :func:`reengage.validation.real.burst_onsets` (the public
    dsp verbs as ``analyze`` runs them), or a peer's (``"neurokit2"``: ``emg_clean`` → ``emg_amplitude`` →
    ``emg_activation`` with its defaults)."""
    if detector == "neurokit2":
        import neurokit2 as nk

        t, names, x = read_csv(path)
        fs = float(round(1.0 / np.median(np.diff(t))))
        out = {}
        for j, name in enumerate(names):
            clean = nk.emg_clean(x[j], sampling_rate=int(fs))
            amp = nk.emg_amplitude(clean)
            _, info = nk.emg_activation(emg_amplitude=amp, sampling_rate=int(fs))
            out[name] = t[0] + np.asarray(info["EMG_Onsets"], dtype=float) / fs
        return out
    return burst_onsets(path, detector)


def _match(ref: list[float], det: np.ndarray) -> dict[int, float]:
    """Greedy one-to-one, closest pairs first, within ±MATCH_S: {reference index: detected − reference (s)}."""
    pairs = sorted((abs(d - r), i, j) for i, r in enumerate(ref) for j, d in enumerate(det) if abs(d - r) <= MATCH_S)
    used_d: set[int] = set()
    out: dict[int, float] = {}
    for _, i, j in pairs:
        if i not in out and j not in used_d:
            used_d.add(j)
            out[i] = float(det[j] - ref[i])
    return out


def tally_onsets(rows: list[dict], onsets: dict[str, dict[str, np.ndarray]]) -> dict:
    """Found share, errors and extra onsets of one group of reference rows (see :func:`score_visual`)."""
    clear = [r for r in rows if r["clarity"] == "clear"]
    refs = [r for r in clear if r["onset_s"] is not None]
    errors, extra = [], 0
    for r in clear:
        det = onsets[r["file"]].get(r["channel"], np.empty(0))
        inside = det[(det >= r["window_start_s"]) & (det <= r["window_end_s"])]
        matched = _match([r["onset_s"]], det) if r["onset_s"] is not None else {}
        errors += list(matched.values())
        # A matched onset may sit just outside the window; the window's others are extra either way.
        hit = next(iter(matched.values()), None)
        extra += int(sum(1 for d in inside if hit is None or abs(d - (r["onset_s"] + hit)) > 1e-9))
    e = np.array(errors) * 1000.0
    return {
        "reference_onsets": len(refs), "found": len(errors),
        "found_pct": round(100.0 * len(errors) / len(refs), 1) if refs else None,
        "median_error_ms": round(float(np.median(e)), 1) if e.size else None,
        "median_abs_error_ms": round(float(np.median(np.abs(e))), 1) if e.size else None,
        "extra": extra, "extra_pct": round(100.0 * extra / len(refs), 1) if refs else None,
    }


def tally_splits(rows: list[dict], onsets: dict[str, dict[str, np.ndarray]]) -> dict[str, dict]:
    """:func:`tally_onsets` of the ``tune`` and of the ``holdout`` rows."""
    return {s: tally_onsets([r for r in rows if r["split"] == s], onsets) for s in ("tune", "holdout")}


def score_visual(detector: str = "power_backtrack", *, reference: Path = REFERENCE_CSV,
                 data_dir: Path | None = None) -> dict:
    """Score one detector against the visual reference.

    For each clear reference onset, the detected burst onset of that channel nearest within ±150 ms (one-to-one)
    counts as found; errors are detected − reference (ms, negative = detector early). Extra onsets: detected
    onsets inside clear windows that match no reference onset (including every onset inside a window marked as
    holding no burst), as % of the reference onsets. ``detector``: one of :data:`METHODS`, or ``"neurokit2"``.

    Returns ``{"all": tally, "split": {split: tally}, "task": {task: tally}, "task_split": {"task/split": tally}}``.
    """
    data_dir = data_dir or shared_data_dir()
    rows = load_reference(reference)
    onsets = {f: detected_onsets(data_dir / f, detector) for f in sorted({r["file"] for r in rows})}
    for r in rows:
        r["task"] = task_name(Path(r["file"]))
    out = {"detector": detector, "all": tally_onsets(rows, onsets), "split": tally_splits(rows, onsets), "task": {},
           "task_split": {}}
    for task in sorted({r["task"] for r in rows}):
        out["task"][task] = tally_onsets([r for r in rows if r["task"] == task], onsets)
        for split in ("tune", "holdout"):
            group = [r for r in rows if r["task"] == task and r["split"] == split]
            if group:
                out["task_split"][f"{task}/{split}"] = tally_onsets(group, onsets)
    return out


def failures(detector: str = "power_backtrack", *, reference: Path = REFERENCE_CSV,
             data_dir: Path | None = None) -> list[dict]:
    """The clear windows a detector gets wrong: a reference onset with no detected onset within ±150 ms (``miss``)
    or detected onsets that match nothing (``extra``), with the detected onsets inside the window and the nearest
    one on the channel, for looking at them (``python -m reengage.validation.visual failures``)."""
    data_dir = data_dir or shared_data_dir()
    out, cache = [], {}
    for r in load_reference(reference):
        if r["clarity"] != "clear":
            continue
        if r["file"] not in cache:
            cache[r["file"]] = detected_onsets(data_dir / r["file"], detector)
        det = cache[r["file"]].get(r["channel"], np.empty(0))
        inside = det[(det >= r["window_start_s"]) & (det <= r["window_end_s"])]
        ref = r["onset_s"]
        hit = _match([ref], det) if ref is not None else {}
        near = float(det[np.argmin(np.abs(det - ref))]) if ref is not None and det.size else None
        matched_inside = bool(hit) and r["window_start_s"] <= ref + hit[0] <= r["window_end_s"]
        extra = int(inside.size) - int(matched_inside)
        if (ref is not None and not hit) or extra > 0:
            out.append({"file": r["file"], "channel": r["channel"], "onset_s": ref,
                        "window": (r["window_start_s"], r["window_end_s"]), "miss": ref is not None and not hit,
                        "extra": extra, "inside_s": [round(float(v), 3) for v in inside],
                        "nearest_s": None if near is None else round(near, 3), "channel_onsets": int(det.size),
                        "note": r["note"]})
    return out


def peers_available() -> list[str]:
    """The open peers installed here (neurokit2), scored beside our detectors when present."""
    try:
        import neurokit2  # noqa: F401
    except ImportError:
        return []
    return ["neurokit2"]


def visual_table(scores: list[dict]) -> str:
    """Markdown: one line per detector and group (all, per split, per task)."""
    lines = ["| detector | group | clear onsets | found ±150 ms | median error ms | median abs error ms | extra |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for s in scores:
        groups = [("all", s["all"])] + [(k, v) for k, v in s["split"].items()] + list(s["task_split"].items())
        for name, g in groups:
            def f(v, unit=""):
                return "–" if v is None else f"{v:g}{unit}"
            lines.append(f"| {s['detector']} | {name} | {g['reference_onsets']} | {f(g['found_pct'], ' %')} | "
                         f"{f(g['median_error_ms'])} | {f(g['median_abs_error_ms'])} | {f(g['extra_pct'], ' %')} |")
    return "\n".join(lines)


# One figure per task for docs/validation.md: (file, channels, time span or None for all).
FIGURES = {
    "knee_flexion_standing": ("uci_N03_knee_flexion_standing.csv", ("biceps_femoris", "semitendinosus"), (0, 9.6)),
    "knee_extension_seated": ("uci_N05_knee_extension_seated.csv",
                              ("rectus_femoris", "vastus_medialis", "biceps_femoris"), None),
    "gait": ("uci_N11_gait.csv", ("biceps_femoris", "semitendinosus"), None),
    "treadmill_walking": ("santuz2020_ID0012_treadmill_walking.csv", ("glute_max", "semitendinosus"), None),
    "biosppy": ("biosppy_emg_1.csv", ("emg",), (0, 42)),
}


def movement_events(path: Path) -> tuple[np.ndarray, str]:
    """(instants s, label) of a file's movement reference: goniometer move starts, touchdowns, or none."""
    task = task_name(path)
    if task == "knee_flexion_standing":
        return flexion_starts(path), "knee-flexion start (goniometer)"
    if task == "knee_extension_seated":
        return flexion_starts(path, ("rectus_femoris", "vastus_medialis")), "knee-extension start (goniometer)"
    if task == "treadmill_walking":
        return reference_times(path, "gait_events", "touchdown_s"), "touchdown"
    return np.empty(0), ""


def plot_task(path: Path, out_png: Path, channels, span=None, detector: str = "power_backtrack",
              reference: Path = REFERENCE_CSV) -> None:
    """A figure of one recording for the docs: per channel the display signal (grey), its 100 ms moving RMS
    (blue; display only, not the pipeline's envelope), the detector's burst onsets (red), the eye-marked onsets
    (green; unclear windows shaded yellow) and the movement reference (black dashed). Needs matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t, names, x = read_csv(path)
    fs = 1.0 / np.median(np.diff(t))
    y = display_signal(x, fs)
    det = detected_onsets(path, detector)
    rows = [r for r in load_reference(reference) if r["file"] == path.name]
    events, label = movement_events(path)
    sel = np.ones(t.size, bool) if span is None else (t >= span[0]) & (t <= span[1])
    fig, axes = plt.subplots(len(channels), 1, figsize=(10, 1.9 * len(channels)), sharex=True, dpi=80, squeeze=False)
    for ax, name in zip(axes[:, 0], channels):
        v = y[names.index(name)]
        env = np.sqrt(np.convolve(v ** 2, np.ones(int(0.1 * fs)) / int(0.1 * fs), mode="same"))
        ax.plot(t[sel], v[sel], lw=0.3, color="0.65")
        ax.plot(t[sel], env[sel], lw=1.0, color="tab:blue")
        for r in (r for r in rows if r["channel"] == name):
            if r["clarity"] == "unclear":
                ax.axvspan(r["window_start_s"], r["window_end_s"], color="gold", alpha=0.15, lw=0)
            elif r["onset_s"] is not None:
                ax.axvline(r["onset_s"], color="tab:green", lw=1.6)
        for e in events:
            ax.axvline(e, color="k", ls="--", lw=0.8)
        for o in det.get(name, ()):
            ax.axvline(o, color="tab:red", lw=0.9)
        ax.set_ylabel(name, fontsize=7)
        ax.tick_params(labelsize=7)
        if span is not None:
            ax.set_xlim(*span)
    ref = f", {label} (black dashed)" if label else ""
    axes[0, 0].set_title(f"{path.stem}: {detector} onsets (red), eye-marked onsets (green), unclear (yellow){ref}",
                         fontsize=7)
    axes[-1, 0].set_xlabel("time (s)", fontsize=7)
    fig.tight_layout()
    fig.savefig(out_png)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reengage.validation.visual", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render", help="draw a recording's windows to mark by eye")
    r.add_argument("files", nargs="+", type=Path)
    r.add_argument("--out", type=Path, default=Path("visual_pages"))
    r.add_argument("--per-image", type=int, default=8)
    r.add_argument("--prefix", default="page", help="file name prefix of the pages")
    r.add_argument("--skip", type=int, default=0, help="leave out the first N windows of each channel")
    r.add_argument("--first", type=int, default=None, help="only the first N windows of each channel")
    fl = sub.add_parser("failures", help="list the clear windows a detector misses or adds onsets in")
    fl.add_argument("--detector", default="power_backtrack")
    fl.add_argument("--reference", type=Path, default=REFERENCE_CSV, help="reference CSV (default: marker 1's)")
    fg = sub.add_parser("figures", help="draw docs/figures/real_<task>.png, one per task")
    fg.add_argument("--out", type=Path, default=Path("docs/figures"))
    s = sub.add_parser("score", help="score the detectors against the visual reference")
    s.add_argument("--detectors", default=",".join(METHODS + tuple(peers_available())))
    s.add_argument("--json", action="store_true")
    s.add_argument("--reference", type=Path, default=REFERENCE_CSV,
                   help="reference CSV to score against (default: marker 1's visual_onsets.csv; "
                        "marker 2's: reference/visual_onsets_marker2.csv)")
    args = ap.parse_args(argv)
    if args.cmd == "render":
        for png, page in render(args.files, args.out, args.per_image, args.first, args.prefix, args.skip):
            print(png)
            for file, w in page:
                print(f"  {file},{w.channel},{w.start_s},{w.end_s},{w.anchor}")
        return 0
    if args.cmd == "figures":
        for task, (file, channels, span) in FIGURES.items():
            plot_task(shared_data_dir() / file, args.out / f"real_{task}.png", channels, span)
            print(args.out / f"real_{task}.png")
        return 0
    if args.cmd == "failures":
        for f in failures(args.detector, reference=args.reference):
            print(f"{f['file']} {f['channel']} ref={f['onset_s']} window={f['window']} "
                  f"{'MISS ' if f['miss'] else ''}extra={f['extra']} inside={f['inside_s']} nearest={f['nearest_s']} "
                  f"(channel has {f['channel_onsets']} onsets) | {f['note']}")
        return 0
    scores = [score_visual(d, reference=args.reference) for d in args.detectors.split(",")]
    if args.json:
        json.dump(scores, sys.stdout, indent=1)
    else:
        print(visual_table(scores))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
