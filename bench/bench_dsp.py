"""DSP benchmark: reengage's onset detectors against the open peers, end-to-end analyze, streaming.

Usage (peers come from the optional ``bench`` extra; missing peers are skipped with a note)::

    python bench/bench_dsp.py            # everything, a few minutes
    python bench/bench_dsp.py --quick    # one seed, no 1-hour run
    python bench/bench_dsp.py --only accuracy|hour|e2e|stream

Every time is printed as a ratio against a baseline measured in the same run on the same data
(a bare ``scipy.signal.sosfiltfilt`` 20–450 Hz band-pass of the same array), so figures travel between
machines. Accuracy uses the same synthetic sessions (``reengage.synth``) and the same scoring as the
validation suite: one-to-one matching within ±250 ms.
"""

from __future__ import annotations

import argparse
import gc
import os
import time
import tracemalloc
import warnings
from dataclasses import replace

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
from scipy import signal  # noqa: E402

from reengage.analysis import analyze  # noqa: E402
from reengage.dsp import filters  # noqa: E402
from reengage.dsp.onsets import METHODS, detect_bursts  # noqa: E402
from reengage.dsp.streaming import LiveChain  # noqa: E402
from reengage.validation.synthrec import session_recording  # noqa: E402
from reengage.model import Event  # noqa: E402
from reengage.synth import SubjectProfile, mains_hum, synthesize  # noqa: E402

FS = 1000.0
MATCH_S = 0.25


def timed(fn, repeat=3):
    best = np.inf
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def peak_traced(fn) -> int:
    """Peak bytes Python allocated (tracemalloc) while ``fn()`` ran."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def floor_bandpass(x, fs):
    sos = signal.butter(4, [20.0, min(450.0, 0.45 * fs)], btype="bandpass", fs=fs, output="sos")
    return signal.sosfiltfilt(sos, x, axis=-1)


# ---------------------------------------------------------------- detectors under test (ours and peers)

def ours(method):
    def run(x, fs, rest_idx):
        rest = np.zeros(x.shape[-1], dtype=bool)
        rest[rest_idx[0]:rest_idx[1]] = True
        y = filters.clean(x, fs=fs)
        return [b.onsets for b in detect_bursts(y, fs=fs, method=method, rest=rest)]
    return run


def peers():
    found = {}
    try:
        import neurokit2 as nk

        def nk_run(method):
            def run(x, fs, rest_idx):
                out = []
                for row in x:
                    sig, _ = nk.emg_process(row, sampling_rate=int(fs), method_activation=method)
                    on = np.flatnonzero(np.diff(sig["EMG_Activity"].to_numpy().astype(int)) == 1) + 1
                    out.append(on)
                return out
            return run
        for m in ("threshold", "mixture", "biosppy", "silva"):
            found[f"nk2 emg_process({m})"] = nk_run(m)
    except Exception as e:  # pragma: no cover - optional
        print(f"# NeuroKit2 not available ({type(e).__name__}: {e})")
    try:
        from biosppy.signals import emg as bemg
        from biosppy.signals import tools as btools

        def hp(row, fs):
            return btools.filter_signal(signal=row, ftype="butter", band="highpass", order=4, frequency=100,
                                        sampling_rate=fs)["signal"]

        def pairs_to_onsets(idx):
            idx = np.sort(np.asarray(idx, dtype=int))
            return idx[0::2]

        def lidierth(x, fs, rest_idx, highpass=True):
            out = []
            for row in x:
                f = hp(row, fs) if highpass else row
                size = int(0.05 * fs)
                r = np.abs(f[rest_idx[0]:rest_idx[1]] - np.mean(f))
                mv = np.convolve(r, np.ones(size) / size, mode="valid")
                on = bemg.lidierth_onset_detector(signal=f, rest={"mean": mv.mean(), "std_dev": mv.std()},
                                                  sampling_rate=fs, size=size, threshold=3,
                                                  active_state_duration=size, fail_size=int(0.01 * fs))["onsets"]
                out.append(pairs_to_onsets(on))
            return out

        def hodges(x, fs, rest_idx):
            out = []
            for row in x:
                f = hp(row, fs)
                size = int(0.025 * fs)
                r = np.abs(f[rest_idx[0]:rest_idx[1]] - np.mean(f))
                mv = np.convolve(r, np.ones(size) / size, mode="valid")
                on = bemg.hodges_bui_onset_detector(signal=f, rest={"mean": mv.mean(), "std_dev": mv.std()},
                                                    sampling_rate=fs, size=size, threshold=3)["onsets"]
                out.append(pairs_to_onsets(on))
            return out

        def bonato(x, fs, rest_idx):
            out = []
            for row in x:
                f = hp(row, fs)
                on = bemg.bonato_onset_detector(signal=f, rest=[rest_idx[0], rest_idx[1]], sampling_rate=fs,
                                                threshold=7.74, active_state_duration=int(0.03 * fs),
                                                samples_above_fail=1, fail_size=5)["onsets"]
                out.append(pairs_to_onsets(on))
            return out

        found["biosppy lidierth (stats, 50 ms, h=3)"] = lidierth
        found["biosppy hodges_bui (stats, 25 ms, h=3)"] = hodges
        found["biosppy bonato (h=7.74, 1-of-5, 30 ms)"] = bonato
    except Exception as e:  # pragma: no cover
        print(f"# BioSPPy not available ({type(e).__name__}: {e})")
    try:
        import myonset as mo

        def myo(x, fs, rest_idx):
            out = []
            t = (np.arange(x.shape[-1]) - rest_idx[1]) / fs  # rest before time 0 = myonset's "pre_stim"
            for row in x:
                f = mo.hpfilter(row, sf=fs, cutoff=10)
                on, _off = mo.get_onsets(f, t, method="single_threshold", sf=fs)
                out.append(np.asarray(on, dtype=int))  # sample indices
            return out
        found["myonset get_onsets(single_threshold)"] = myo
    except Exception as e:  # pragma: no cover
        print(f"# myonset not available ({type(e).__name__}: {e})")
    return found


def score(onsets_per_ch, session, fs):
    errs, hits, total, false = [], 0, 0, 0
    for c, m in enumerate(session.muscles):
        det = np.asarray(onsets_per_ch[c], dtype=float) / fs
        det = det[det >= 3.0]  # after the marked rest
        true = np.array([r["onset_s"][m] for r in session.truth["reps"]])
        pairs = sorted((abs(d - t), i, j) for i, t in enumerate(true) for j, d in enumerate(det) if abs(d - t) <= MATCH_S)
        ui, uj = set(), set()
        for _, i, j in pairs:
            if i in ui or j in uj:
                continue
            ui.add(i)
            uj.add(j)
            errs.append(1000 * (det[j] - true[i]))
        hits += len(ui)
        total += true.size
        false += det.size - len(uj)
    return errs, hits, total, false


def accuracy(seeds, duration_s=60.0):
    print("\n## 1. Onset accuracy and speed, 2 channels at 1 kHz, same synthetic records for everyone\n")
    methods = {f"reengage {m}": ours(m) for m in METHODS}
    methods.update(peers())
    rows = []
    for snr in (20.0, 12.0, 6.0):
        sessions = [synthesize(SubjectProfile.from_latency_ratio(60.0, 0.6, snr_db=snr), duration_s=duration_s,
                               fs_hz=FS, seed=s, with_mvc=False) for s in seeds]
        base_t = np.median([timed(lambda s=s: floor_bandpass(s.emg_mv, FS))[0] for s in sessions])
        for name, fn in methods.items():
            errs, hits, total, false, secs = [], 0, 0, 0, []
            failed = None
            for s in sessions:
                try:
                    dt, on = timed(lambda s=s: fn(s.emg_mv, FS, (500, 2900)), repeat=1 if "nk2" in name else 3)
                except Exception as e:  # a peer crashing is a result, not a bench failure
                    failed = f"{type(e).__name__}"
                    continue
                secs.append(dt)
                e, h, t, f = score(on, s, FS)
                errs += e
                hits += h
                total += t
                false += f
            exercise_min = len(sessions) * (duration_s - 3.0) / 60.0
            a = np.abs(errs)
            rows.append((name, snr, f"{np.median(a):.1f}" if a.size else "–", f"{np.percentile(a, 90):.1f}" if a.size else "–",
                         f"{100 * hits / max(total, 1):.0f}%", f"{false / exercise_min:.1f}",
                         f"{np.median(secs) / base_t:.1f}" if secs else "–",
                         f"{duration_s / np.median(secs):.0f}" if secs else "–", failed or ""))
    print("| method | SNR dB | median abs err ms | p90 abs err ms | hits | FP/min | time / baseline | × real time | error |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(str(v) for v in r) + " |")
    print(f"\nbaseline = bare sosfiltfilt band-pass of the same 2 × {duration_s:.0f} s array "
          f"({1e3 * base_t:.1f} ms in this run)")


def hour_speed(hours=1.0):
    print("\n## 1b. One 2-channel hour at 1 kHz: detector speed\n")
    piece = min(3600.0 * hours, 600.0)
    parts = [synthesize(SubjectProfile.from_latency_ratio(60.0, 0.6, snr_db=12.0), duration_s=piece, fs_hz=FS,
                        seed=10 + k, with_mvc=False) for k in range(int(round(3600.0 * hours / piece)))]
    x = np.concatenate([p.emg_mv for p in parts], axis=-1)
    rest_idx = (500, 2900)
    rest = np.zeros(x.shape[-1], dtype=bool)
    rest[rest_idx[0]:rest_idx[1]] = True
    t_floor = timed(lambda: floor_bandpass(x, FS), repeat=3)[0]
    t_clean, y = timed(lambda: filters.clean(x, fs=FS), repeat=3)
    t_detect = timed(lambda: detect_bursts(y, fs=FS, method="power_backtrack", rest=rest), repeat=3)[0]
    t_both = timed(lambda: ours("power_backtrack")(x, FS, rest_idx), repeat=3)[0]
    rows = [("floor: sosfiltfilt band-pass", t_floor),
            ("reengage clean (DC, band-pass, mains) alone", t_clean),
            ("reengage power_backtrack (default): detection alone, on the cleaned input", t_detect),
            ("reengage power_backtrack (default): clean + detection", t_both),
            ("reengage hodges_bui: clean + detection", timed(lambda: ours("hodges_bui")(x, FS, rest_idx), repeat=3)[0])]
    lidierth = next((fn for name, fn in peers().items() if "lidierth" in name), None)
    if lidierth is not None:
        t_lid_own = timed(lambda: lidierth(x, FS, rest_idx), repeat=2)[0]
        t_lid_alone = timed(lambda: lidierth(y, FS, rest_idx, highpass=False), repeat=2)[0]
        rows += [("biosppy lidierth: own 100 Hz high-pass + detection", t_lid_own),
                 ("biosppy lidierth: detection alone, on the same cleaned input", t_lid_alone)]
    print("| method | seconds per 2-channel hour | × floor | × real time |")
    print("|---|---|---|---|")
    for name, t in rows:
        print(f"| {name} | {t:.2f} | {t / t_floor:.2f} | {3600.0 * hours / t:.0f} |")
    if lidierth is not None:
        print(f"\nLidierth / reengage default: detection alone {t_lid_alone / t_detect:.1f}×, each with its own "
              f"filtering {t_lid_own / t_both:.1f}× (> 1 = reengage faster)")


def e2e(hours=1.0):
    print("\n## 2. End-to-end analyze: 4 channels at 1 kHz + 100 Hz IMU\n")
    dur = 3600.0 * hours
    prof = SubjectProfile(onset_ms={"hamstrings": 0.0, "glute_max": 60.0, "glute_med": 30.0, "erector_spinae": -20.0},
                          pct_mvc={"hamstrings": 45.0, "glute_max": 25.0, "glute_med": 30.0, "erector_spinae": 20.0},
                          snr_db=12.0)
    # The generator's cost grows with reps × record length, so the hour is built from 10-minute sessions
    # (different seeds) laid end to end, each with its own rest, MVC trials and exercise block. Their mains
    # hum is left out and added once for the whole hour: ten pieces of hum in random phases would jump at
    # every seam, which no recording does, and the mains fit across a seam leaves hum that reads as a burst.
    piece = min(dur, 600.0)
    parts = [synthesize(replace(prof, mains_rel=0.0), duration_s=piece, fs_hz=FS, imu_fs_hz=100.0, seed=1 + k)
             for k in range(int(round(dur / piece)))]
    s = parts[0]
    s.emg_mv = np.concatenate([p.emg_mv for p in parts], axis=-1)
    noise_rms = np.array([parts[0].truth["noise_rms_mv"][m] for m in s.muscles])[:, None]
    phase = np.random.default_rng(0).uniform(0, 2 * np.pi, size=(len(s.muscles), 1))
    s.emg_mv += prof.mains_rel * noise_rms * mains_hum(np.arange(s.emg_mv.shape[-1]) / FS, prof.mains_hz, phase)
    s.imu = np.concatenate([p.imu for p in parts], axis=-1)
    s.truth = {"reps": [r for p in parts for r in p.truth["reps"]]}
    s.events = [Event(e.onset_s + k * piece, e.duration_s, e.label) for k, p in enumerate(parts) for e in p.events]
    rec = session_recording(s)
    x = rec.emg.data
    gc.collect()
    t_floor, _ = timed(lambda: floor_bandpass(x, FS), repeat=5)  # min of 5: the first runs pay page faults
    peak_floor = peak_traced(lambda: floor_bandpass(x, FS))
    gc.collect()
    t_an, out = timed(lambda: analyze(rec), repeat=3)
    gc.collect()
    t_an1, out1 = timed(lambda: analyze(rec, threads=1), repeat=3)
    assert out1 == out  # the thread count must not change the result
    peak_an = peak_traced(lambda: analyze(rec))
    peak_an1 = peak_traced(lambda: analyze(rec, threads=1))
    from reengage.analysis import _default_threads
    nthreads = min(_default_threads(), len(rec.emg.channels))
    print("| measure | value | ratio |")
    print("|---|---|---|")
    print(f"| floor: sosfiltfilt band-pass, {dur / 3600:g} h × 4 ch | {t_floor:.2f} s | 1.0 |")
    print(f"| reengage analyze (clean, mains, onsets, reps, quality, IMU), one thread | {t_an1:.2f} s | "
          f"{t_an1 / t_floor:.2f} × floor |")
    print(f"| reengage analyze, default: channels on {nthreads} threads | {t_an:.2f} s | {t_an / t_floor:.2f} × floor |")
    print(f"| analyze × real time (default) | {dur / t_an:.0f} | |")
    print(f"| input array | {x.nbytes / 1e6:.0f} MB | 1.0 |")
    print(f"| peak traced memory, floor band-pass | {peak_floor / 1e6:.0f} MB | {peak_floor / x.nbytes:.2f} × input |")
    print(f"| peak traced memory, analyze, one thread | {peak_an1 / 1e6:.0f} MB | {peak_an1 / x.nbytes:.2f} × input |")
    print(f"| peak traced memory, analyze, {nthreads} threads | {peak_an / 1e6:.0f} MB | {peak_an / x.nbytes:.2f} × input |")
    print(f"| reps found / true | {out['summary']['reps_detected']} / {len(s.truth['reps'])} | |")


def stream(seconds=60.0):
    print("\n## 3. The live chain: 20 ms blocks of 8 channels at 2 kHz\n")
    fs = 2000.0
    prof = SubjectProfile(snr_db=12.0)
    sessions = [synthesize(prof, duration_s=seconds, fs_hz=fs, seed=k, with_mvc=False) for k in range(4)]
    x = np.vstack([s.emg_mv for s in sessions])  # 8 channels
    block = int(0.02 * fs)
    chain = LiveChain(fs, [m for s in sessions for m in s.muscles])
    for e in sessions[0].events:  # the sessions share their layout: one rest marks every channel's baseline
        chain.event(e.onset_s, e.duration_s, e.label)
    detections, times = [], []
    for i in range(0, x.shape[-1] - block + 1, block):
        t0 = time.perf_counter()
        steps = chain.feed(x[:, i:i + block], i)
        times.append(time.perf_counter() - t0)
        detections += [d for st in steps for d in st.detections]
    times = np.array(times[int(2.0 * fs / block):])
    base = timed(lambda: floor_bandpass(x[:, :block * 50], fs), repeat=5)[0] / 50
    print("| measure | value | ratio |")
    print("|---|---|---|")
    print(f"| median time per 20 ms block | {1e6 * np.median(times):.0f} µs | {100 * np.median(times) / 0.02:.2f} % of real time |")
    print(f"| p99 time per block (a block that runs a 50 ms step) | {1e6 * np.percentile(times, 99):.0f} µs | "
          f"{100 * np.percentile(times, 99) / 0.02:.2f} % of real time |")
    print(f"| mean time per block (the chain's share of one core) | {1e6 * np.mean(times):.0f} µs | "
          f"{100 * np.mean(times) / 0.02:.2f} % of real time |")
    print(f"| baseline: offline sosfiltfilt of the same samples, per block | {1e6 * base:.0f} µs | "
          f"live chain = {np.median(times) / base:.1f} × baseline |")
    delays, errs = [], []
    for c in range(x.shape[0]):
        s = sessions[c // 2]
        m = s.muscles[c % 2]
        on = [(smp, conf) for ch, kind, smp, conf in detections if ch == c and kind == "onset"]
        for r in s.truth["reps"]:
            if not on:
                break
            smp, conf = min(on, key=lambda d: abs(d[0] / fs - r["onset_s"][m]))
            if abs(smp / fs - r["onset_s"][m]) <= MATCH_S:
                errs.append(1000 * (smp / fs - r["onset_s"][m]))
                delays.append(1000 * (conf - smp) / fs)
    print(f"| live onset error (dated sample − true): median signed / median abs / p90 abs | "
          f"{np.median(errs):.1f} / {np.median(np.abs(errs)):.1f} / {np.percentile(np.abs(errs), 90):.1f} ms | |")
    print(f"| detection delay (confirmed − dated sample), median / max | {np.median(delays):.0f} / "
          f"{np.max(delays):.0f} ms | |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=["accuracy", "hour", "e2e", "stream"])
    args = ap.parse_args()
    if args.only == "accuracy" or args.only is None:
        accuracy(seeds=(0,) if args.quick else (0, 1, 2))
    if args.only in (None, "accuracy", "hour"):
        hour_speed(hours=0.2 if args.quick else 1.0)
    if args.only in (None, "e2e"):
        e2e(hours=0.1 if args.quick else 1.0)
    if args.only in (None, "stream"):
        stream(seconds=20.0 if args.quick else 60.0)


if __name__ == "__main__":
    main()
