"""A second opinion on the default detector's onsets from Solnik's TKEO detector, scored on the visual reference.

Issue 14, third round: does combining two shipped detectors reach the examiner target (≥ 90 % of clear onsets within
150 ms, median |error| ≤ 40 ms, ≤ 10 % extra onsets) on the tune split? ``power_backtrack`` detects on the
100 ms power of the cleaned signal, which keeps the 20–60 Hz of a limb's movement and of low-level wobble;
``solnik``'s Teager–Kaiser energy weights each sample by its frequency, so it returns to rest between the sharp
motor-unit potentials of two contractions where the power does not. Two rules use that, each on the bursts of the
public verbs (``clean_emg`` → ``detect_bursts``) as ``analyze`` runs them:

- **split** (``gap_s``, ``piece_s``): inside a ``power_backtrack`` burst, the TKEO bursts separated by at least
  ``gap_s`` of TKEO rest form pieces; each later piece of TKEO activity of at least ``piece_s`` starts a burst of
  its own (onset: the TKEO onset). With ``lead`` a first piece shorter than ``piece_s`` is a lead-in: the burst's
  onset moves to the next piece.
- **relocate** (``late_s``): a ``power_backtrack`` onset with no TKEO activity in the next ``late_s`` moves to the
  first TKEO onset of the burst; **add** (``add_s``): a TKEO burst of at least ``add_s`` that overlaps no
  ``power_backtrack`` burst is added.

``python -m reengage.validation.second_opinion [--figure PNG] [--cases PNG]`` prints the grid's scores (tune and holdout), and
``power_backtrack`` with ``ramp_fit`` beside them, and draws found against extra onsets with the target. None of the
grid reaches the target on tune, before or after ``power_backtrack``'s last step (fifth round): every rule that finds
more onsets there adds extra onsets too (docs/validation.md, "Onsets on real muscle"), so none was adopted into the
detector.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

from reengage.dsp import PowerBacktrackOptions, detect_bursts
from reengage.validation.real import read_cleaned, shared_data_dir
from reengage.validation.visual import load_reference, tally_splits

Spans = dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]


def burst_spans(method: str, data_dir: Path | None = None, options=None) -> Spans:
    """{file: {channel: (onsets s, offsets s)}} of one shipped detector (with ``options``) on every file of the
    visual reference."""
    data_dir = data_dir or shared_data_dir()
    out: Spans = {}
    for f in sorted({r["file"] for r in load_reference()}):
        t, names, fs, _, cleaned = read_cleaned(data_dir / f)
        out[f] = {n: (t[0] + b.onsets / fs, t[0] + b.offsets / fs)
                  for n, b in zip(names, detect_bursts(cleaned, fs=fs, method=method, options=options))}
    return out


def _split_onsets(a: float, s0: np.ndarray, s1: np.ndarray, gap_s: float, piece_s: float, lead: bool) -> list[float]:
    """The onsets one ``power_backtrack`` burst starting at ``a`` becomes under the split rule (TKEO spans s0–s1)."""
    brk = np.flatnonzero(s0[1:] - s1[:-1] >= gap_s) + 1
    pieces = [(s0[i], s1[j - 1]) for i, j in zip(np.r_[0, brk], np.r_[brk, s0.size])]
    first_short = pieces[0][1] - pieces[0][0] < piece_s
    out = [pieces[1][0]] if lead and len(pieces) > 1 and first_short else [a]
    out += [p0 for p0, p1 in pieces[1:] if p1 - p0 >= piece_s and p0 > out[0]]
    return out


def combine(pb: Spans, tk: Spans, *, gap_s: float = np.inf, piece_s: float = 0.15, lead: bool = False,
            late_s: float = 0.0, add_s: float = 0.0) -> dict[str, dict[str, np.ndarray]]:
    """Onsets (s) per file and channel: ``power_backtrack``'s spans ``pb`` revised by the TKEO spans ``tk``."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for f, chans in pb.items():
        out[f] = {}
        for name, (p0, p1) in chans.items():
            t0, t1 = tk[f][name]
            ons: list[float] = []
            for a, b in zip(p0, p1):
                k = (t1 > a) & (t0 < b)
                s0, s1 = np.clip(t0[k], a, b), np.clip(t1[k], a, b)
                if not s0.size:
                    ons.append(a)
                    continue
                if late_s and s0[0] - a > late_s:
                    a = s0[0]
                ons += _split_onsets(a, s0, s1, gap_s, piece_s, lead) if np.isfinite(gap_s) else [a]
            if add_s:
                ons += [s for s, e in zip(t0, t1) if e - s >= add_s and not np.any((p1 > s) & (p0 < e))]
            out[f][name] = np.array(sorted(ons))
    return out


def score(onsets: dict[str, dict[str, np.ndarray]]) -> dict[str, dict]:
    """``score_visual``'s tally of these onsets per split."""
    return tally_splits(load_reference(), onsets)


GRID = {
    "split": [dict(gap_s=g, piece_s=p, lead=ld) for g, p, ld in
              itertools.product((0.1, 0.15, 0.2, 0.3, 0.5), (0.15, 0.3, 0.5), (False, True))],
    "relocate/add": [dict(late_s=la, add_s=ad) for la, ad in itertools.product((0.0, 0.15, 0.2), (0.0, 0.15))][1:],
    "split + relocate + add": [dict(gap_s=g, late_s=la, add_s=0.15) for g, la in
                               itertools.product((0.2, 0.3, 0.5), (0.15, 0.2))],
}


def run_grid() -> list[tuple[str, dict, dict]]:
    """(family, settings, score per split) of every rule in :data:`GRID`, and the two detectors alone."""
    pb, tk = burst_spans("power_backtrack"), burst_spans("solnik")
    ramp = burst_spans("power_backtrack", options=PowerBacktrackOptions(ramp_fit=True))
    out = [(name, {}, score({f: {n: s[0] for n, s in c.items()} for f, c in spans.items()}))
           for name, spans in (("power_backtrack", pb), ("solnik", tk), ("power_backtrack ramp_fit", ramp))]
    for family, settings in GRID.items():
        out += [(family, kw, score(combine(pb, tk, **kw))) for kw in settings]
    return out


def figure(results: list[tuple[str, dict, dict]], png: Path) -> None:
    """Found against extra onsets, tune (left) and holdout (right), with the target's corner. Needs matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), dpi=80, sharey=True)
    styles = {"power_backtrack": ("tab:red", "*", 160), "solnik": ("tab:purple", "*", 160),
              "power_backtrack ramp_fit": ("tab:brown", "D", 50),
              "split": ("tab:blue", "o", 30), "relocate/add": ("tab:orange", "s", 30),
              "split + relocate + add": ("tab:green", "^", 30)}
    for ax, split in zip(axes, ("tune", "holdout")):
        ax.fill_between([0, 10], 90, 100, color="tab:green", alpha=0.12, lw=0, label="target")
        for family, (color, marker, size) in styles.items():
            pts = np.array([(s[split]["extra_pct"], s[split]["found_pct"]) for fam, _, s in results if fam == family])
            jitter = np.random.default_rng(0).uniform(-0.15, 0.15, pts.shape)
            ax.scatter(*(pts + jitter).T, color=color, marker=marker, s=size, alpha=0.7, label=family)
        ax.set_title(f"{split} split", fontsize=9)
        ax.set_xlabel("extra onsets (% of marked onsets)", fontsize=8)
        ax.set_xlim(0, 32)
        ax.set_ylim(74, 100)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("clear onsets found within 150 ms (%)", fontsize=8)
    axes[1].legend(fontsize=7, loc="upper right")
    fig.suptitle("power_backtrack revised by Solnik's TKEO bursts: every rule trades extra onsets for found ones",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


# Misses that no revision fixes, one per kind (file, channel, marked onset or None for a "no burst" window).
CASES = (
    ("uci_A04_knee_flexion_standing.csv", "semitendinosus", 1.36, "lead-in: blips 1.13–1.25 s the marker ignored"),
    ("uci_A04_knee_flexion_standing.csv", "biceps_femoris", 11.72, "no shipped detector within 150 ms"),
    ("uci_A01_knee_flexion_standing.csv", "semitendinosus", 6.51, "slow ramp: both detectors late"),
    ("uci_N05_knee_extension_seated.csv", "biceps_femoris", None, "marked 'no burst': both detectors fire"),
)


def cases_figure(png: Path, data_dir: Path | None = None) -> None:
    """The display signal of each :data:`CASES` window with the mark (green), ``power_backtrack``'s onsets (red) and
    ``solnik``'s (purple). Needs matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reengage.validation.visual import display_signal

    data_dir = data_dir or shared_data_dir()
    rows = {(r["file"], r["channel"], r["onset_s"]): r for r in load_reference()}
    fig, axes = plt.subplots(len(CASES), 1, figsize=(10, 1.9 * len(CASES)), dpi=80)
    for ax, (file, channel, mark, what) in zip(axes, CASES):
        r = next(v for (f, c, o), v in rows.items() if f == file and c == channel and o == mark
                 and (mark is not None or v["clarity"] == "clear"))
        t, names, fs, x, cleaned = read_cleaned(data_dir / file)
        y = display_signal(x[names.index(channel)], fs)[0]
        sel = (t >= r["window_start_s"]) & (t <= r["window_end_s"])
        ax.plot(t[sel], y[sel], lw=0.4, color="0.5")
        for method, color in (("power_backtrack", "tab:red"), ("solnik", "tab:purple")):
            on = t[0] + detect_bursts(cleaned, fs=fs, method=method)[names.index(channel)].onsets / fs
            for o in on[(on >= r["window_start_s"]) & (on <= r["window_end_s"])]:
                ax.axvline(o, color=color, lw=1.2)
        if mark is not None:
            ax.axvline(mark, color="tab:green", lw=2.0, ls="--")
        ax.set_xlim(r["window_start_s"], r["window_end_s"])
        ax.set_title(f"{Path(file).stem} {channel}: {what}", fontsize=8, loc="left")
        ax.tick_params(labelsize=7)
    fig.suptitle("mark (green dashed), power_backtrack onsets (red), solnik onsets (purple)", fontsize=9)
    axes[-1].set_xlabel("time (s)", fontsize=8)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reengage.validation.second_opinion", description=__doc__.split("\n")[0])
    ap.add_argument("--figure", type=Path, help="draw found against extra onsets into this PNG")
    ap.add_argument("--cases", type=Path, help="draw the windows of CASES into this PNG")
    args = ap.parse_args(argv)
    results = run_grid()
    for family, kw, s in results:
        cells = " | ".join(f"{k}: {v['found_pct']} % found, |e| {v['median_abs_error_ms']} ms, {v['extra_pct']} % extra"
                           for k, v in s.items())
        print(f"{family} {kw}: {cells}")
    if args.figure:
        figure(results, args.figure)
    if args.cases:
        cases_figure(args.cases)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
