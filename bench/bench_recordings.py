"""Recordings: size per hour, opening an hour-long file, replay speed, what a kill -9 loses.

Every figure is printed as a ratio to a baseline measured in this run:
- size: bytes on disk / bytes of the bare int16 samples;
- open: time of ``scan_chunks`` (index + every CRC) and ``read_recording`` / time to read the whole file
  into memory with one ``read()``; peak Python memory while opening / bytes of the arrays returned;
- replay at ``max``: recording seconds per wall second (× real time), and / a bare loop over the blocks;
- kill -9: seconds of signal lost / the writer's sync interval (0.5 s), over ``--kills`` real recorder
  processes killed at random moments.

Run: ``.venv/bin/python bench/bench_recordings.py [--minutes 60] [--kills 3] [--analyze]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from reengage.io.recfile import RecordingWriter, StreamSpec, read_recording, scan_chunks
from reengage.model import Channel, Event
from reengage.replay import CollectSink, iter_items, replay


def write_hour(path: Path, minutes: float) -> float:
    """4 EMG channels at 1 kHz + 6-axis IMU at 100 Hz, in 8-sample frames as the board sends them."""
    rng = np.random.default_rng(0)
    emg_ch = [Channel(n, n, "mV", "raw", 0.0244, 511.5) for n in ("glute_max", "glute_med", "hamstrings", "erector_spinae")]
    imu_ch = [Channel(n, None, "g" if n[0] == "a" else "deg/s", "imu", 1 / 8192) for n in
              ("acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z")]
    n = int(minutes * 60 * 1000)
    per = 60_000  # generate a minute at a time
    t0 = time.perf_counter()
    with RecordingWriter(path, [StreamSpec("emg", 1000.0, emg_ch), StreamSpec("imu", 100.0, imu_ch)],
                         {"subject": "B001", "task": "bench"}) as w:
        for m in range(0, n, per):
            emg = np.clip(511.5 + 40 * rng.standard_normal((4, per)), 0, 1023).astype("<i2")
            imu = (800 * rng.standard_normal((6, per // 10))).astype("<i2")
            for i in range(0, per, 8):
                w.write_block("emg", m + i, emg[:, i : i + 8])
                if i % 40 == 0:
                    w.write_block("imu", (m + i) // 10, imu[:, i // 10 : i // 10 + 4])
            w.add_event(Event(m / 1000, 5.0, "rep"))
    return time.perf_counter() - t0


def kill_runs(k: int) -> list[dict]:
    out = []
    for j in range(k):
        after = random.Random(j).uniform(1.0, 4.0)
        with tempfile.TemporaryDirectory() as d:
            proc = subprocess.Popen(
                [sys.executable, "-m", "reengage.cli", "record", "--board", "simulated", "--duration", "20",
                 "--out", d], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
            proc.stderr.readline()
            t = time.monotonic()
            time.sleep(after)
            os.kill(proc.pid, signal.SIGKILL)
            streamed = time.monotonic() - t
            proc.wait()
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            rec = read_recording(next(Path(d).rglob("*.rgr")))
            out.append({"streamed_s": round(streamed, 3), "recovered_s": rec.duration_s,
                        "lost_s": round(streamed - rec.duration_s, 3), "integrity": rec.integrity})
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--analyze", action="store_true", help="also time analyze() on the hour")
    args, _ = ap.parse_known_args(argv)
    res: dict = {}
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "hour.rgr"
        write_s = write_hour(path, args.minutes)
        size = path.stat().st_size
        hours = args.minutes / 60
        raw = (4 * 1000 + 6 * 100) * 2 * args.minutes * 60
        res["bytes_per_hour"] = round(size / hours)
        res["size_over_bare_samples"] = round(size / raw, 4)
        res["write_x_real_time"] = round(args.minutes * 60 / write_s, 1)

        t = time.perf_counter()
        with open(path, "rb") as f:
            f.read()
        base_read = time.perf_counter() - t
        t = time.perf_counter()
        chunks, _ = scan_chunks(path)
        scan = time.perf_counter() - t
        t = time.perf_counter()
        rec = read_recording(path)
        full = time.perf_counter() - t
        del rec
        tracemalloc.start()  # a second pass for memory: tracing slows every allocation
        rec = read_recording(path)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        arrays = sum(s.data.nbytes for s in rec.streams.values())
        tracemalloc.start()
        rec_emg = read_recording(path, streams=["emg"])
        _, peak_emg = tracemalloc.get_traced_memory()
        emg_bytes = rec_emg.emg.data.nbytes
        tracemalloc.stop()
        res.update({
            "chunks": len(chunks),
            "scan_s": round(scan, 3), "scan_over_plain_read": round(scan / base_read, 2),
            "open_s": round(full, 3), "open_over_plain_read": round(full / base_read, 2),
            "open_peak_over_arrays": round(peak / arrays, 3),
            "open_emg_only_peak_over_emg_array": round(peak_emg / emg_bytes, 3),
            "open_emg_only_peak_over_file": round(peak_emg / size, 3),
        })
        del rec_emg

        t = time.perf_counter()
        for _ in iter_items(rec):
            pass
        bare = time.perf_counter() - t
        sink = CollectSink(rec)
        stats = replay(rec, [sink], speed=None)
        res["replay_max_x_real_time"] = round(stats.speed_x)
        res["replay_over_bare_block_loop"] = round(stats.wall_s / bare, 2)
        if args.analyze:
            from reengage.analysis import analyze

            tracemalloc.start()
            t = time.perf_counter()
            analyze(rec)
            res["analyze_hour_s"] = round(time.perf_counter() - t, 1)
            res["analyze_peak_over_arrays"] = round(tracemalloc.get_traced_memory()[1] / arrays, 1)
            tracemalloc.stop()
    if args.kills:
        runs = kill_runs(args.kills)
        res["kill9_runs"] = runs
        res["kill9_max_lost_over_sync_interval"] = round(max(r["lost_s"] for r in runs) / 0.5, 2)
    for k, v in res.items():
        if k != "kill9_runs":
            print(f"{k:34s} {v}")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
