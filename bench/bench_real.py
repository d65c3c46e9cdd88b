"""``analyze`` on the real recordings of ``../shared/data`` (39 CSV files, see its README; or
``$REENGAGE_SHARED_DATA``): time per file and in total, as ratios against a baseline measured in the same run on
the same arrays (a bare ``scipy.signal.sosfiltfilt`` 20–450 Hz band-pass of each file's EMG, best of 5), and
checked against the real-file figure of ``bench/README.md`` ("Real recordings": :data:`README_REAL_MAX`). The
e2e figure of the synthetic 4-channel hour (2.3–2.7× the floor) is printed beside it for scale: these files last
6–64 s, where analyze's per-call work (threads, baselines, quality, reps) dwarfs a 1 ms band-pass.

Usage::

    python bench/bench_real.py [--repeat 3]

Exits 0 with a message when the folder is absent (a user's fresh clone), 1 when analyze is slower than the
README's figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
from scipy import signal  # noqa: E402

from reengage.analysis import analyze  # noqa: E402
from reengage.io import load_recording  # noqa: E402
from reengage.validation.real import shared_data_dir  # noqa: E402

# bench/README.md, DSP "e2e": analyze of the 4-channel hour on 2 threads, 2.3–2.7× the floor over five runs.
README_E2E_MAX = 2.7
# bench/README.md, "Real recordings": analyze of the 39 files, total time over the total floor, the top of the
# range measured on the shared 2-core machine (2026-12-01: 13.7–22.2×) with a margin for a busy machine.
README_REAL_MAX = 25.0


def best(fn, repeat: int) -> tuple[float, object]:
    out, t = None, np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        t = min(t, time.perf_counter() - t0)
    return t, out


def floor(x: np.ndarray, fs: float) -> np.ndarray:
    sos = signal.butter(4, [20.0, min(450.0, 0.45 * fs)], btype="band", fs=fs, output="sos")
    return signal.sosfiltfilt(sos, x, axis=-1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs of analyze per file (best is kept)")
    args = ap.parse_args(argv)
    data = shared_data_dir()
    files = sorted(data.glob("*.csv")) if data.is_dir() else []
    if not files:
        print(f"no real recordings at {data} (set $REENGAGE_SHARED_DATA): bench_real skipped")
        return 0
    rows, t_an, t_fl, dur = [], 0.0, 0.0, 0.0
    print(f"{len(files)} files in {data}; times: best of {args.repeat} (analyze), of 5 (floor)")
    print("| file | channels × s @ Hz | analyze | floor | ratio |\n|---|---|---|---|---|")
    for path in files:
        rec = load_recording(path)
        emg = rec.emg.physical()
        fs = rec.emg.fs_hz
        ta, doc = best(lambda: analyze(rec), args.repeat)
        tf, _ = best(lambda: floor(emg, fs), 5)
        t_an, t_fl, dur = t_an + ta, t_fl + tf, dur + rec.duration_s
        rows.append({"file": path.stem, "analyze_s": ta, "floor_s": tf, "reps": doc["summary"]["reps"]})
        print(f"| {path.stem} | {emg.shape[0]} × {rec.duration_s:.0f} @ {fs:g} | {1000 * ta:.1f} ms | "
              f"{1000 * tf:.1f} ms | {ta / tf:.1f}× |")
    ratios = np.array([r["analyze_s"] / r["floor_s"] for r in rows])
    total = t_an / t_fl
    print(f"\ntotal: analyze {t_an:.2f} s for {dur / 60:.1f} min of signal ({dur / t_an:,.0f}× real time); "
          f"floor {t_fl:.2f} s; analyze = {total:.2f}× the floor (per file: median {np.median(ratios):.1f}×, "
          f"max {ratios.max():.1f}×)")
    within = total <= README_REAL_MAX
    print(f"bench/README.md real-file figure: ≤ {README_REAL_MAX:g}× the floor — "
          f"{'within' if within else 'NOT within'} it (the synthetic hour's e2e figure, for scale: "
          f"≤ {README_E2E_MAX}× on one long record)")
    print(json.dumps({"files": len(rows), "analyze_s": round(t_an, 3), "floor_s": round(t_fl, 3),
                      "ratio_to_floor": round(total, 2), "x_real_time": round(dur / t_an),
                      "within_readme_real": within}))
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
