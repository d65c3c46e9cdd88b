"""``power_backtrack``'s last step, onsets judged against the baseline just before each burst, scored on the visual
reference with and without it.

Issue 14, fourth and fifth rounds. ``power_backtrack`` learns rest once per record (the quietest second) and goes
back from each burst's rise to the first sustained departure from *that* rest. An examiner reading a 1.7 s window
judges the departure from the baseline in the window: where low-level tonic firing or lead-in potentials that fall
quiet again precede the rise, they are the baseline, and the onset is where the rise leaves them. The step that
does that is :func:`reengage.dsp.local_onsets` (its steps and settings: :class:`reengage.dsp.LocalOnsetOptions`);
since the fifth round it is ``power_backtrack``'s last step (``PowerBacktrackOptions.local_onset``).

``python -m reengage.validation.local_baseline`` prints, against every visual reference (markers 1, 2 and 3, the
consensus of 1 and 2, the majority of the three; tune and holdout), the scores of ``power_backtrack`` without the step, with it, and with it moving every onset
(``keep_ms`` 0); and on the synthetic suite (known true onsets) each one's errors. The findings are in
``docs/validation.md`` ("Onsets on real muscle", fourth and fifth rounds).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from reengage.dsp import LocalOnsetOptions, PowerBacktrackOptions, detect_bursts, local_onsets
from reengage.validation.interrater import MARKER2_CSV, MARKER3_CSV, consensus_rows, majority_rows
from reengage.validation.real import clean_as_analyze, read_cleaned, shared_data_dir
from reengage.validation.visual import REFERENCE_CSV, load_reference, tally_splits

# power_backtrack as analyze runs it, but without its last step: the bursts the step starts from.
WITHOUT_STEP = PowerBacktrackOptions(local_onset=None)


@dataclass
class Cleaned:
    """One recording as the detectors see it: cleaned EMG, its rate and clock, and the bursts of
    ``power_backtrack`` without its last step."""

    t0: float
    fs: float
    names: list[str]
    x: np.ndarray
    bursts: list


def load_cleaned(data_dir: Path | None = None) -> dict[str, Cleaned]:
    """Every file of the visual reference, cleaned and detected as ``analyze`` does it without marked rest."""
    data_dir = data_dir or shared_data_dir()
    out = {}
    for f in sorted({r["file"] for r in load_reference()}):
        t, names, fs, _, cleaned = read_cleaned(data_dir / f)
        out[f] = Cleaned(float(t[0]), fs, names, cleaned, detect_bursts(cleaned, fs=fs, options=WITHOUT_STEP))
    return out


def onsets_s(data: dict[str, Cleaned], opts: LocalOnsetOptions | None) -> dict[str, dict[str, np.ndarray]]:
    """{file: {channel: onsets s}}: without the last step (``opts`` None) or with it."""
    out = {}
    for f, d in data.items():
        out[f] = {}
        for c, (name, b) in enumerate(zip(d.names, d.bursts)):
            on = b.onsets if opts is None or not len(b) else local_onsets(d.x[c], b.onsets, b.offsets, fs=d.fs,
                                                                           options=opts)
            out[f][name] = d.t0 + on / d.fs
    return out


def references() -> dict[str, list[dict]]:
    """The references (rows as ``load_reference`` gives): marker 1, marker 2 (blind), their consensus, marker 3
    (blind, made after the step) and the majority of the three."""
    return {"marker 1": load_reference(REFERENCE_CSV), "marker 2": load_reference(MARKER2_CSV),
            "consensus": consensus_rows(), "marker 3": load_reference(MARKER3_CSV), "majority": majority_rows()}


def score(onsets: dict[str, dict[str, np.ndarray]], rows: list[dict]) -> dict[str, dict]:
    """``score_visual``'s tally per split."""
    return tally_splits(rows, onsets)


def synthetic_errors(opts: LocalOnsetOptions, seeds=(0, 1, 2), snr_db=(20.0, 12.0, 6.0)) -> dict[float, dict]:
    """On the synthetic suite's clean cells (1 kHz, 50 Hz mains): how many true onsets are matched within 150 ms,
    and the median and p90 |error| (ms), of ``power_backtrack``'s onsets without the last step (``"without"``) and
    with it (``"with"``, settings ``opts``)."""
    from reengage.synth import synthesize
    from reengage.validation.validate import DURATION_S, Scenario, profile_for

    out = {}
    for snr in snr_db:
        err: dict[str, list[float]] = {"without": [], "with": []}
        for seed in seeds:
            session = synthesize(profile_for(seed, Scenario(snr)), duration_s=DURATION_S, fs_hz=1000.0, seed=seed)
            cleaned = clean_as_analyze(np.asarray(session.emg_mv, dtype=float), 1000.0)
            for c, b in enumerate(detect_bursts(cleaned, fs=1000.0, options=WITHOUT_STEP)):
                true = np.array([t["onset_s"][session.muscles[c]] for t in session.truth["reps"]
                                 if session.muscles[c] in t["onset_s"]])
                for key, on in (("without", b.onsets),
                                ("with", local_onsets(cleaned[c], b.onsets, b.offsets, fs=1000.0, options=opts))):
                    d = on[None, :] / 1000.0 - true[:, None]
                    near = np.abs(d).min(axis=1) if on.size else np.full(true.size, np.inf)
                    err[key] += list(1000.0 * near[near <= 0.15])
        out[snr] = {k: (len(v), float(np.median(v)), float(np.percentile(v, 90))) for k, v in err.items()}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reengage.validation.local_baseline",
                                 description=__doc__.split("\n")[0])
    ap.parse_args(argv)
    data = load_cleaned()
    variants = {"without the step": None, "with the step": LocalOnsetOptions(),
                "moving every onset (keep_ms 0)": replace(LocalOnsetOptions(), keep_ms=0.0)}
    for ref_name, rows in references().items():
        for name, o in variants.items():
            s = score(onsets_s(data, o), rows)
            cells = " | ".join(f"{k}: {v['found_pct']} % found, |e| {v['median_abs_error_ms']} ms, "
                               f"error {v['median_error_ms']} ms, {v['extra_pct']} % extra" for k, v in s.items())
            print(f"{ref_name:9s} {name}: {cells}")
    for name, o in list(variants.items())[1:]:
        for snr, e in synthetic_errors(o).items():
            print(f"synthetic {snr:g} dB, {name}: "
                  + " | ".join(f"{k}: {n} matched, median {m:.1f} ms, p90 {p:.1f} ms" for k, (n, m, p) in e.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
