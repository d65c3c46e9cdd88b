"""Agreement between the two visual onset references, and their consensus.

``reference/visual_onsets.csv`` (marker 1) and ``reference/visual_onsets_marker2.csv`` (marker 2, blind to marker 1
and to every detector) mark the same windows. :func:`agreement` gives the inter-rater figures (clarity kappa; for
windows both call clear with an onset, the |difference| quantiles and the share within 25 / 50 / 150 ms);
:func:`consensus_rows` keeps the windows both call clear with marks within 50 ms, onset = their mean, for scoring
with :func:`reengage.validation.visual.score_visual`.

``python -m reengage.validation.interrater [--json]`` prints the agreement, the larger disagreements and the
shipped detectors' scores against marker 2 alone and against the consensus.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

from reengage.dsp.onsets import METHODS
from reengage.validation.visual import COLUMNS, REFERENCE_CSV, load_reference, score_visual, visual_table

MARKER2_CSV = REFERENCE_CSV.parent / "visual_onsets_marker2.csv"
MARKER3_CSV = REFERENCE_CSV.parent / "visual_onsets_marker3.csv"
MARKERS = (REFERENCE_CSV, MARKER2_CSV, MARKER3_CSV)
# Fresh held-back windows (every window of the holdout subjects' files that visual_onsets.csv does not hold), marked
# by two more blind markers after the detector was frozen (reference README, "Fresh held-back windows").
FRESH_CSVS = (REFERENCE_CSV.parent / "visual_onsets_fresh_marker4.csv",
              REFERENCE_CSV.parent / "visual_onsets_fresh_marker5.csv")
# The second fresh set: the held-back subjects' channels the reference leaves out (visual.other_channel_windows),
# marked by two more blind markers; and the same channel kinds of the tune subjects, marked by one more blind
# marker for tuning (reference README, "Second fresh set").
FRESH2_CSVS = (REFERENCE_CSV.parent / "visual_onsets_fresh2_marker6.csv",
               REFERENCE_CSV.parent / "visual_onsets_fresh2_marker7.csv")
TUNE_OTHER_CSV = REFERENCE_CSV.parent / "visual_onsets_tune_other_marker8.csv"
CONSENSUS_TOL_S = 0.05


def _key(r: dict) -> tuple:
    return r["file"], r["channel"], r["window_start_s"], r["window_end_s"]


def _label(r: dict) -> str:
    """A window's call: ``onset`` (clear with a time), ``none`` (clear, no burst) or ``unclear``."""
    if r["clarity"] != "clear":
        return "unclear"
    return "none" if r["onset_s"] is None else "onset"


def paired(first: Path = REFERENCE_CSV, second: Path = MARKER2_CSV) -> list[tuple[dict, dict]]:
    """The windows both references mark, as (marker 1 row, marker 2 row), in marker 1's order."""
    by_key = {_key(r): r for r in load_reference(second)}
    return [(r, by_key[_key(r)]) for r in load_reference(first) if _key(r) in by_key]


def cohen_kappa(a: list[str], b: list[str]) -> float:
    """Cohen's kappa of two raters' labels on the same items."""
    labels = sorted(set(a) | set(b))
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b)) / n
    expected = sum((a.count(c) / n) * (b.count(c) / n) for c in labels)
    return (observed - expected) / (1.0 - expected) if expected < 1.0 else 1.0


def agreement(first: Path = REFERENCE_CSV, second: Path = MARKER2_CSV) -> dict:
    """Inter-rater figures of two references on their common windows.

    Clarity: the share where both call ``clear`` / both ``unclear`` and Cohen's kappa on clear vs unclear (and on
    the three calls onset / no burst / unclear). Onsets: for windows both call clear with an onset,
    |marker 2 − marker 1| (ms): median, 90th percentile, and the share within 25, 50 and 150 ms; the signed median
    (ms, positive = marker 2 later).
    """
    pairs = paired(first, second)
    c1 = [r["clarity"] for r, _ in pairs]
    c2 = [s["clarity"] for _, s in pairs]
    # Rounded to 0.1 ms: marks are read to 5 ms, and 1.45 − 1.40 is not exactly 0.05 in floating point.
    diffs = np.round([(s["onset_s"] - r["onset_s"]) * 1000.0 for r, s in pairs
                      if _label(r) == _label(s) == "onset"], 1)
    ad = np.abs(diffs)
    return {
        "windows": len(pairs),
        "both_clear": sum(x == y == "clear" for x, y in zip(c1, c2)),
        "both_unclear": sum(x == y == "unclear" for x, y in zip(c1, c2)),
        "clarity_agreement_pct": round(100.0 * float(np.mean([x == y for x, y in zip(c1, c2)])), 1),
        "clarity_kappa": round(cohen_kappa(c1, c2), 3),
        "call_kappa": round(cohen_kappa([_label(r) for r, _ in pairs], [_label(s) for _, s in pairs]), 3),
        "both_onset": int(diffs.size),
        "median_abs_diff_ms": round(float(np.median(ad)), 1),
        "p90_abs_diff_ms": round(float(np.percentile(ad, 90)), 1),
        "median_diff_ms": round(float(np.median(diffs)), 1),
        "within_25_pct": round(100.0 * float(np.mean(ad <= 25.0)), 1),
        "within_50_pct": round(100.0 * float(np.mean(ad <= 50.0)), 1),
        "within_150_pct": round(100.0 * float(np.mean(ad <= 150.0)), 1),
    }


def disagreements(first: Path = REFERENCE_CSV, second: Path = MARKER2_CSV, min_ms: float = 50.0) -> list[dict]:
    """Windows where the two calls differ, or both give onsets more than ``min_ms`` apart."""
    out = []
    for r, s in paired(first, second):
        a, b = _label(r), _label(s)
        if a != b or (a == "onset" and round(abs(s["onset_s"] - r["onset_s"]) * 1000.0, 1) > min_ms):
            out.append({"file": r["file"], "channel": r["channel"], "window_start_s": r["window_start_s"],
                        "marker1": r["onset_s"] if a == "onset" else a,
                        "marker2": s["onset_s"] if b == "onset" else b})
    return out


def consensus_rows(first: Path = REFERENCE_CSV, second: Path = MARKER2_CSV,
                   tol_s: float = CONSENSUS_TOL_S) -> list[dict]:
    """Windows both call clear with onsets within ``tol_s`` of each other (onset = their mean), and windows both
    call clear with no burst; every other window is ``unclear`` (so it is not scored): the majority of two
    (:func:`majority_rows`)."""
    return majority_rows((first, second), tol_s)


# A marker's note that the window holds another burst besides the one marked ("second smaller burst at …", "first
# smaller burst at …", "two bursts of near-equal size", "small burst 2.05–2.25 s earlier").
OTHER_BURST = re.compile(r"second [a-z ]*burst|first [a-z ]*burst|two bursts|earlier burst|burst[^;,]* earlier|"
                         r"other burst", re.IGNORECASE)


def one_burst_rows(rows: list[dict], paths) -> list[dict]:
    """``rows`` with every window that any marker of ``paths`` notes as holding another burst made ``unclear`` (not
    scored): which of two bursts is "the" onset is the marker's choice there (markers 6–8 were told to mark the
    largest), not a property of the signal. A sensitivity analysis: the rule was written after the second fresh
    set's scores were read."""
    multi = {_key(r) for p in paths for r in load_reference(p) if OTHER_BURST.search(r["note"])}
    return [dict(r, clarity="unclear", onset_s=None, note=f"{r['note']}; another burst noted")
            if _key(r) in multi else r for r in rows]


def fleiss_kappa(labels: list[list[str]]) -> float:
    """Fleiss' kappa of several raters' labels: ``labels[i]`` holds every rater's label of item i."""
    cats = sorted({c for item in labels for c in item})
    counts = np.array([[item.count(c) for c in cats] for item in labels], dtype=float)
    n = counts.sum(axis=1)[0]
    p_item = (np.sum(counts * counts, axis=1) - n) / (n * (n - 1))
    p_cat = counts.sum(axis=0) / counts.sum()
    expected = float(np.sum(p_cat * p_cat))
    return (float(p_item.mean()) - expected) / (1.0 - expected) if expected < 1.0 else 1.0


def _agreeing(onsets: list[float], tol_s: float) -> list[float]:
    """The largest group of marks whose spread is at most ``tol_s`` (the earliest such group on a tie)."""
    xs = sorted(onsets)
    best: list[float] = []
    for i in range(len(xs)):
        group = [v for v in xs[i:] if v - xs[i] <= tol_s + 1e-9]
        if len(group) > len(best):
            best = group
    return best


def majority_rows(paths=MARKERS, tol_s: float = CONSENSUS_TOL_S) -> list[dict]:
    """A reference from several markers by majority: a window is a clear onset when more than half of them mark
    clear onsets within ``tol_s`` of each other (onset = the median of those marks), clear "no burst" when more
    than half call it so, and ``unclear`` (not scored) otherwise; in the first marker's window order."""
    refs = [{_key(r): r for r in load_reference(p)} for p in paths]
    out = []
    for r in load_reference(paths[0]):
        rows = [ref[_key(r)] for ref in refs if _key(r) in ref]
        labels = [_label(x) for x in rows]
        group = _agreeing([x["onset_s"] for x in rows if _label(x) == "onset"], tol_s)
        row = {k: r[k] for k in COLUMNS}
        row["onset_s"], row["clarity"], row["note"] = None, "unclear", "no majority"
        if 2 * len(group) > len(paths):
            row["onset_s"], row["clarity"] = round(float(np.median(group)), 4), "clear"
            row["note"] = f"majority: median of {len(group)} of {len(paths)} marks"
        elif 2 * labels.count("none") > len(paths):
            row["clarity"], row["note"] = "clear", "majority: no burst"
        out.append(row)
    return out


def three_way(paths=MARKERS) -> dict:
    """The three markers together: Fleiss' kappa of the clarity (clear / unclear) and of the call (onset / no
    burst / unclear) on their common windows, :func:`agreement` of each pair, and what the majority reference
    (:func:`majority_rows`) holds."""
    refs = [{_key(r): r for r in load_reference(p)} for p in paths]
    keys = [k for k in refs[0] if all(k in ref for ref in refs[1:])]
    majority = majority_rows(paths)
    return {
        "windows": len(keys),
        "clarity_fleiss_kappa": round(fleiss_kappa([[ref[k]["clarity"] for ref in refs] for k in keys]), 3),
        "call_fleiss_kappa": round(fleiss_kappa([[_label(ref[k]) for ref in refs] for k in keys]), 3),
        "pairs": {f"{i + 1}-{j + 1}": agreement(paths[i], paths[j])
                  for i in range(len(paths)) for j in range(i + 1, len(paths))},
        "majority_onsets": sum(r["onset_s"] is not None for r in majority),
        "majority_no_burst": sum(r["clarity"] == "clear" and r["onset_s"] is None for r in majority),
        "majority_of_three_marks": sum(r["note"].startswith("majority: median of 3") for r in majority),
    }


def write_reference(rows: list[dict], path: Path) -> Path:
    """Rows as a reference CSV that :func:`reengage.validation.visual.load_reference` reads."""
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({**r, "onset_s": "" if r["onset_s"] is None else r["onset_s"]})
    return path


def score_against(detectors, reference: str = "marker2", data_dir: Path | None = None) -> list[dict]:
    """:func:`score_visual` of each detector against marker 2 or 3 alone (``"marker2"``, ``"marker3"``), the
    consensus of markers 1 and 2 (``"consensus"``), the majority of the three (``"majority"``), or on the fresh
    held-back windows against marker 4 or 5 alone (``"fresh4"``, ``"fresh5"``) or their consensus
    (``"fresh_consensus"``); on the second fresh set against marker 6 or 7 alone (``"fresh6"``, ``"fresh7"``) or
    their consensus (``"fresh2_consensus"``); either consensus without the windows a marker notes as holding another
    burst (``"fresh_one_burst"``, ``"fresh2_one_burst"``: :func:`one_burst_rows`); on the tune subjects' other
    channels against marker 8 (``"tune_other"``)."""
    files = {"marker2": MARKER2_CSV, "marker3": MARKER3_CSV, "fresh4": FRESH_CSVS[0], "fresh5": FRESH_CSVS[1],
             "fresh6": FRESH2_CSVS[0], "fresh7": FRESH2_CSVS[1], "tune_other": TUNE_OTHER_CSV}
    if reference in files:
        return [score_visual(d, reference=files[reference], data_dir=data_dir) for d in detectors]
    rows = {"consensus": consensus_rows, "majority": majority_rows,
            "fresh_consensus": lambda: consensus_rows(*FRESH_CSVS),
            "fresh2_consensus": lambda: consensus_rows(*FRESH2_CSVS),
            "fresh_one_burst": lambda: one_burst_rows(consensus_rows(*FRESH_CSVS), FRESH_CSVS),
            "fresh2_one_burst": lambda: one_burst_rows(consensus_rows(*FRESH2_CSVS), FRESH2_CSVS)}[reference]()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_reference(rows, Path(tmp) / f"{reference}.csv")
        return [score_visual(d, reference=path, data_dir=data_dir) for d in detectors]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reengage.validation.interrater", description=__doc__.split("\n")[0])
    ap.add_argument("--detectors", default=",".join(METHODS))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    detectors = args.detectors.split(",")
    out = {"agreement": agreement(), "disagreements": disagreements(),
           "marker2": score_against(detectors, "marker2"), "consensus": score_against(detectors, "consensus")}
    references = ["marker2", "consensus"]
    if MARKER3_CSV.exists():
        out["three_way"] = three_way()
        out["marker3"], out["majority"] = score_against(detectors, "marker3"), score_against(detectors, "majority")
        references += ["marker3", "majority"]
    if all(p.exists() for p in FRESH_CSVS):
        out["fresh_agreement"] = agreement(*FRESH_CSVS)
        for name in ("fresh4", "fresh5", "fresh_consensus"):
            out[name] = score_against(detectors, name)
        references += ["fresh4", "fresh5", "fresh_consensus"]
    if all(p.exists() for p in FRESH2_CSVS):
        out["fresh2_agreement"] = agreement(*FRESH2_CSVS)
        for name in ("fresh6", "fresh7", "fresh2_consensus", "fresh_one_burst", "fresh2_one_burst"):
            out[name] = score_against(detectors, name)
        references += ["fresh6", "fresh7", "fresh2_consensus", "fresh_one_burst", "fresh2_one_burst"]
    if TUNE_OTHER_CSV.exists():
        out["tune_other"] = score_against(detectors, "tune_other")
        references.append("tune_other")
    if args.json:
        json.dump(out, sys.stdout, indent=1)
        return 0
    print(json.dumps(out["agreement"], indent=1))
    for key in ("three_way", "fresh_agreement", "fresh2_agreement"):
        if key in out:
            print(json.dumps(out[key], indent=1))
    for d in out["disagreements"]:
        print(f"{d['file']} {d['channel']} @{d['window_start_s']}: marker 1 {d['marker1']}, marker 2 {d['marker2']}")
    for name in references:
        print(f"\n## against {name}\n{visual_table(out[name])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
