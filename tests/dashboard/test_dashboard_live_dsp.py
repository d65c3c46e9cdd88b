"""The live view shows what the live chain computed, and nothing of its own: a replay through
``reengage.acquisition.live.LiveSink`` publishes the chain's onsets, reps, %MVC references and gauge, and the
receiver holds exactly those; the references are the offline normalise step's (``mvc_reference`` on the
cleaned signal, the rest's noise power removed)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from reengage.acquisition.live import replay_to_live
from reengage.dashboard import live
from reengage.dsp.filters import clean, mains_lines, remove_dc
from reengage.dsp.normalize import mvc_reference
from reengage.dsp.streaming import LiveChain
from reengage.io.recfile import RecordingWriter, StreamSpec, read_recording
from reengage.model import Channel
from reengage.synth import SubjectProfile, synthesize
from test_dashboard_live import free_udp_port

FS = 1000.0
BLOCK = 20  # samples per block (20 ms at 1 kHz)


def _recording(tmp_path, *, with_mvc: bool, seconds: float = 20.0, seed: int = 5):
    syn = synthesize(SubjectProfile.from_latency_ratio(-40.0, 1.2), duration_s=seconds, fs_hz=FS, seed=seed,
                     with_mvc=with_mvc)
    path = tmp_path / f"live_{with_mvc}_{seed}.rgr"
    with RecordingWriter(path, [StreamSpec("emg", FS, [Channel(m, m, "mV", "raw") for m in syn.muscles], "<f4")],
                         {"subject": "P009", "task": "prone_hip_extension"}) as w:
        w.write_block("emg", 0, syn.emg_mv.astype("<f4"))
        for ev in syn.events:
            w.add_event(ev)
    return read_recording(path), syn


def _replay(rec, speed=8.0):
    port = free_udp_port()
    rx = live.LiveReceiver(port)
    try:
        sink = replay_to_live(rec, port=port, speed=speed, block_ms=BLOCK * 1000.0 / FS)
        deadline = time.monotonic() + 3.0
        while rx.snapshot(n_px=50)["state"] != "stopped" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sink.dropped == 0 and rx.samples_lost == 0 and sink.errors == 0
        return rx, sink
    finally:
        rx.sock.close()


def test_the_receiver_holds_the_chains_onsets_and_reps(tmp_path):
    rec, syn = _recording(tmp_path, with_mvc=False)
    rx, sink = _replay(rec)
    got = [(c, k, s) for c, k, s, _ in rx.detections]
    assert got == [(c, k, s) for c, k, s, _ in sink.detections]
    # The chain fed the same samples offline, block after block: the same onsets (within one step, should the
    # sink's worker have fallen behind and caught up with one step on a newer window).
    chain = LiveChain(FS, syn.muscles)
    for e in rec.events:
        chain.event(e.onset_s, e.duration_s, e.label)
    phys = rec.emg.physical()
    want = [d for a in range(0, phys.shape[1], BLOCK) for s in chain.feed(phys[:, a:a + BLOCK], a)
            for d in s.detections]
    got, want = sorted(got), sorted((c, k, s) for c, k, s, _ in want)
    assert [(c, k) for c, k, _ in got] == [(c, k) for c, k, _ in want]
    assert all(abs(g[2] - w[2]) <= chain.step for g, w in zip(got, want))
    snap = rx.snapshot(n_px=50)
    assert snap["baseline"] == "rest" and snap["mains_hz"] == 50.0
    assert len(snap["reps"]) == len(syn.truth["reps"]) and all(r["glutes_first"] for r in snap["reps"])
    for r, t in zip(snap["reps"], syn.truth["reps"]):
        assert r["onset_s"]["glute_max"] == pytest.approx(t["onset_s"]["glute_max"], abs=0.05)


def test_gauge_is_percent_mvc_from_the_streams_mvc_trials(tmp_path):
    rec, syn = _recording(tmp_path, with_mvc=True, seconds=26.0)
    rx, sink = _replay(rec)
    snap = rx.snapshot(n_px=50)
    assert snap["gauge_unit"] == "%MVC"
    # The offline normalise step on the whole record, with the rest's noise power removed.
    x = rec.emg.physical().astype(np.float64)
    y = clean(x, fs=FS, lines_hz=mains_lines(remove_dc(x[:, :4000]), fs=FS)[1])
    rest = np.zeros(x.shape[1], bool)
    rest[:3000] = True
    for c, m in enumerate(syn.muscles):
        trial = np.zeros(x.shape[1], bool)
        for e in syn.events:
            if e.label == f"mvc:{m}":
                trial[int(e.onset_s * FS):int((e.onset_s + e.duration_s) * FS)] = True
        ref = mvc_reference(y[c], fs=FS, mask=trial, window_ms=500.0, noise_power=float(np.mean(y[c, rest] ** 2)))
        assert snap["mvc_reference"][m] == pytest.approx(ref, rel=0.02)  # a 6 s window's cleaning vs the record's
    # The synthetic person's MVC trial drives the muscle at 100 %MVC: the reference is that amplitude.
    assert snap["mvc_reference"]["glute_max"] == pytest.approx(
        SubjectProfile.from_latency_ratio(-40.0, 1.2).mvc_rms_mv["glute_max"], rel=0.25)
    # The gauge is the chain's glute max amplitude now over that reference.
    gm = syn.muscles.index("glute_max")
    assert snap["gauge"] == pytest.approx(100.0 * sink.chain.amplitude[gm] / snap["mvc_reference"]["glute_max"],
                                          rel=1e-9)


def test_gauge_without_mvc_trials_says_it_is_relative_to_the_session_peak(tmp_path):
    rec, _ = _recording(tmp_path, with_mvc=False, seconds=12.0)
    snap = _replay(rec)[0].snapshot(n_px=50)
    assert snap["mvc_reference"] == {}
    assert snap["gauge_unit"].startswith("% of this session's peak")
    assert 0.0 <= snap["gauge"] <= 100.0
