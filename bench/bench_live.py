"""Live page: sample → cue-on-screen latency, measured end to end on this machine.

A synthetic session (glutes first on every rep) is replayed in real time over the live UDP protocol into
the real dashboard (Dash app served by werkzeug in this process) open in a real headless Chromium. The
page stamps each cue after the frame that shows it is painted (``window._reLive.log``); the receiver
stamps when it detected the rep. Per rep:

* ``page``      — newest sample of the confirming block entered the pipeline → cue painted (what the page shows);
* ``sample``    — the confirming sample itself → cue painted (adds up to one block of buffering);
* ``onset``     — the later muscle's onset as the detector dates it → cue painted (adds the confirmation
                  delay: analyze's detector confirms a burst once it has lasted ``min_burst_ms`` (250 ms) on
                  settled samples, ``LiveOptions.settle_ms`` (150 ms) behind the newest);
* split of ``page``: live chain in the sink + UDP + JSON decode (block handed to the sink → rep known in the
  receiver) and cue delivery (rep known → painted: poll wait, Dash callback round trip, render).

Baseline measured in the same run: a bare UDP sendto → recv of a datagram of the same size on loopback.

    .venv/bin/python bench/bench_live.py [--seconds 90] [--block-ms 20]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def free_port(kind=socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(v, q):
    return float(np.percentile(np.asarray(v, float), q)) if len(v) else float("nan")


def bare_udp_ms(n_channels: int, block: int, repeat: int = 2000) -> list[float]:
    """sendto → recv of one block-sized JSON datagram, decoded (the floor under any live transport)."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    payload = json.dumps({"data": np.round(np.random.default_rng(0).standard_normal((n_channels, block)), 5)
                          .tolist()}).encode()
    out = []
    for _ in range(repeat):
        t = time.perf_counter_ns()
        tx.sendto(payload, rx.getsockname())
        json.loads(rx.recv(65536))
        out.append((time.perf_counter_ns() - t) / 1e6)
    rx.close()
    tx.close()
    return out


def recording(tmp: Path, seconds: float):
    from reengage.io.recfile import RecordingWriter, StreamSpec, read_recording
    from reengage.model import Channel
    from reengage.synth import SubjectProfile, synthesize

    prof = dataclasses.replace(SubjectProfile.from_latency_ratio(-40.0, 1.3), rep_period_s=3.0)
    syn = synthesize(prof, duration_s=seconds, fs_hz=1000.0, seed=3, with_mvc=False)
    path = tmp / "bench_live.rgr"
    with RecordingWriter(path, [StreamSpec("emg", syn.fs_hz, [Channel(m, m, "mV", "raw") for m in syn.muscles],
                                           "<f4")], {"subject": "B001", "task": "prone_hip_extension"}) as w:
        w.write_block("emg", 0, syn.emg_mv.astype("<f4"))
        for ev in syn.events:
            w.add_event(ev)
    return read_recording(path), syn


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=90.0)
    ap.add_argument("--block-ms", type=float, default=20.0)
    args = ap.parse_args()

    from selenium import webdriver
    from werkzeug.serving import make_server

    from reengage.acquisition.live import replay_to_live
    from reengage.dashboard.app import create_app

    tmp = Path(tempfile.mkdtemp(prefix="bench_live_"))
    rec, syn = recording(tmp, args.seconds)
    fs = rec.emg.fs_hz
    block = int(fs * args.block_ms / 1000)
    base = bare_udp_ms(len(rec.emg.channels), block)

    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per poll would skew the timing
    live_port, http_port = free_port(), free_port(socket.SOCK_STREAM)
    app = create_app(tmp, live_port=live_port)
    server = make_server("127.0.0.1", http_port, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    opts = webdriver.ChromeOptions()
    if Path("/usr/bin/chromium").exists():
        opts.binary_location = "/usr/bin/chromium"
    # No network on CI machines: nothing may fetch updates or components (as tests/conftest.py).
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--no-first-run", "--disable-dev-shm-usage"):
        opts.add_argument(a)
    driver = webdriver.Chrome(options=opts)
    try:
        driver.get(f"http://127.0.0.1:{http_port}/live")
        deadline = time.monotonic() + 20
        # The idle page says how to start a session once its first poll has come back.
        while "reengage record" not in driver.execute_script(
                "const e = document.getElementById('live-status'); return e ? e.textContent : ''"):
            if time.monotonic() > deadline:
                raise SystemExit("the live page never polled")
            time.sleep(0.1)
        replay_to_live(rec, port=live_port, speed=1.0, block_ms=args.block_ms)
        time.sleep(1.0)
        log = driver.execute_script("return (window._reLive && window._reLive.log) || []")
        from selenium.webdriver.common.by import By
        shown = driver.find_element(By.ID, "live-latency").text
    finally:
        driver.quit()
        server.shutdown()

    page, sample, onset, rx_part, deliver = [], [], [], [], []
    fetch, cb, paint, server_wake = [], [], [], []
    for r in log:
        t_ms = r["t_ns"] / 1e6
        p = r["painted_ms"] - t_ms
        behind = (r["block_end_index"] - 1 - r["confirmed_index"]) / fs * 1000.0
        confirm = (r["confirmed_index"] - max(r["onset_index"].values())) / fs * 1000.0
        page.append(p)
        sample.append(p + behind)
        onset.append(p + behind + confirm)
        rx_part.append(r["rx_ns"] / 1e6 - t_ms)
        deliver.append(r["painted_ms"] - r["rx_ns"] / 1e6)
        if r.get("got_ms") and r.get("cb_ms"):
            fetch.append(r["got_ms"] - r["sent_ns"] / 1e6)
            server_wake.append(r["sent_ns"] / 1e6 - r["rx_ns"] / 1e6)
            cb.append(r["cb_ms"] - r["got_ms"])
            paint.append(r["painted_ms"] - r["cb_ms"])
    b_med = statistics.median(base)
    print(f"reps cued: {len(log)} of {len(syn.truth['reps'])} (real-time replay of {args.seconds:.0f} s, "
          f"{args.block_ms:.0f} ms blocks, {len(rec.emg.channels)} ch at {fs:.0f} Hz)")
    print(f"baseline: bare UDP sendto→recv+json of one block: median {b_med:.3f} ms, p95 {pct(base, 95):.3f} ms")
    rows = [("page (newest sample of block → painted)", page), ("sample (confirming sample → painted)", sample),
            ("onset (dated onset → painted)", onset), ("  of page: chain+UDP+decode", rx_part),
            ("  of page: rep known → painted", deliver), ("    long poll wakes, answer sent", server_wake),
            ("    answer sent → in the page's JS", fetch),
            ("    store → cue callback", cb), ("    cue callback → painted", paint)]
    for name, v in rows:
        print(f"{name:42s} median {statistics.median(v):7.1f} ms  p95 {pct(v, 95):7.1f} ms  "
              f"= {statistics.median(v) / b_med:8.0f}× baseline" if v else f"{name}: no data")
    print(f"page shows: {shown!r}")
    summary = {"reps": len(log), "baseline_udp_ms": round(b_med, 4),
               "onset_to_cue_ms": {"median": round(statistics.median(onset), 1), "p95": round(pct(onset, 95), 1)}
               if onset else None,
               "sample_to_cue_ms": {"median": round(statistics.median(sample), 1), "p95": round(pct(sample, 95), 1)}
               if sample else None,
               "page_ms": {"median": round(statistics.median(page), 1), "p95": round(pct(page, 95), 1)} if page else None,
               "goal_ms": 150.0}
    summary["within_goal"] = bool(sample) and summary["sample_to_cue_ms"]["p95"] <= 150.0
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
