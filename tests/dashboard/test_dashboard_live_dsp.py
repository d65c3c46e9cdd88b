"""The live view runs the project's streaming DSP, not a copy: its onsets are those of
``reengage.dsp.streaming`` run offline on the same samples, and its %MVC gauge uses MVC references
computed from the stream's ``mvc:<role>`` trials as the offline normalise step does."""

from __future__ import annotations

import time

import numpy as np
import pytest

from reengage.dashboard import live
from reengage.dsp.baseline import baseline_stats
from reengage.dsp.normalize import mvc_reference
from reengage.dsp.streaming import StreamingCleaner, StreamingEnvelope, StreamingOnsetDetector
from reengage.io.recfile import RecordingWriter, StreamSpec, read_recording
from reengage.model import Channel
from reengage.synth import SubjectProfile, synthesize
from test_dashboard_live import free_udp_port

FS = 1000.0


def _recording(tmp_path, *, with_mvc: bool, events=None, seconds: float = 20.0, seed: int = 5):
    syn = synthesize(SubjectProfile.from_latency_ratio(-40.0, 1.2), duration_s=seconds, fs_hz=FS, seed=seed,
                     with_mvc=with_mvc)
    path = tmp_path / f"live_{with_mvc}_{seed}.rgr"
    with RecordingWriter(path, [StreamSpec("emg", FS, [Channel(m, m, "mV", "raw") for m in syn.muscles], "<f4")],
                         {"subject": "P009", "task": "prone_hip_extension"}) as w:
        w.write_block("emg", 0, syn.emg_mv.astype("<f4"))
        for ev in (syn.events if events is None else events(syn.events)):
            w.add_event(ev)
    return read_recording(path), syn


BLOCK = 20  # samples per datagram (20 ms at 1 kHz)


def _as_sent(rec) -> np.ndarray:
    """The samples exactly as the receiver gets them: physical units, rounded to 5 decimals in the JSON."""
    return np.vectorize(lambda v: round(float(v), 5))(rec.emg.physical().astype(np.float64))


def _replay(rec, speed=25.0):
    port = free_udp_port()
    rx = live.LiveReceiver(port)
    try:
        pub = live.replay_to_live(rec, port=port, speed=speed, block_ms=BLOCK * 1000.0 / FS)
        deadline = time.monotonic() + 3.0
        while rx.snapshot(n_px=50)["state"] != "stopped" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert pub.dropped == 0 and rx.samples_lost == 0
        return rx
    finally:
        rx.sock.close()


def _cleaner(x):
    # The live chain takes the DC offset from its first block (StreamingCleaner's rule); so does this one.
    return StreamingCleaner(FS, x.shape[0], dc_offset=np.median(x[:, :BLOCK], axis=-1))


def _offline_events(x, baseline_a, baseline_b):
    """The same chain run offline: each streaming object fed the whole recording as one block, the
    baseline from the same samples, the detector started where the live one is (after the settle time)."""
    y = _cleaner(x).process(x)
    envelope = StreamingEnvelope(FS, x.shape[0], window_ms=live.DETECT_RMS_MS)
    env = envelope.process(y)
    base = baseline_stats(env[:, baseline_a:baseline_b], np.ones((x.shape[0], baseline_b - baseline_a), bool))
    det = StreamingOnsetDetector(FS, base, delay_samples=envelope.group_delay_samples)
    settle = int(live.SETTLE_S * FS)
    det.pos = settle
    return [(e.channel, e.kind, e.sample) for e in det.process(env[:, settle:])], base


@pytest.mark.parametrize("marked_rest", [True, False])
def test_live_onsets_are_the_streaming_dsp_onsets(tmp_path, marked_rest):
    # With a marked rest (0–3 s) the baseline is that rest; without any rest event, the first 2 s.
    rec, syn = _recording(tmp_path, with_mvc=False,
                          events=None if marked_rest else (lambda evs: [e for e in evs if e.label != "rest"]))
    rx = _replay(rec)
    x = _as_sent(rec)
    b = int((3.0 if marked_rest else live.BASELINE_S) * FS)
    offline, base = _offline_events(x, int(live.SETTLE_S * FS), b)
    got = [(c, k, s) for c, k, s, _ in rx.detections]
    assert rx.dsp.baseline_source == ("rest" if marked_rest else "first 2 s")
    np.testing.assert_allclose(rx.dsp.detector.on_thr, StreamingOnsetDetector(FS, base).on_thr, rtol=1e-9)
    assert sorted(got) == sorted(offline)  # one block offline lists channel by channel
    # and they are real onsets: one glute max and one hamstrings onset per synthetic rep
    assert sum(1 for c, k, _ in got if k == "onset") >= 2 * len(syn.truth["reps"])
    assert len(rx.reps) == len(syn.truth["reps"]) and all(r["glutes_first"] for r in rx.reps)


def test_gauge_is_percent_mvc_from_the_streams_mvc_trials(tmp_path):
    rec, syn = _recording(tmp_path, with_mvc=True, seconds=26.0)
    rx = _replay(rec)
    snap = rx.snapshot(n_px=50)
    assert snap["gauge_unit"] == "%MVC"
    x = _as_sent(rec)
    y = _cleaner(x).process(x)
    rest = np.zeros(x.shape[1], bool)
    for e in syn.events:
        if e.label == "rest":
            rest[max(int(e.onset_s * FS), int(live.SETTLE_S * FS)):int((e.onset_s + e.duration_s) * FS)] = True
    for c, m in enumerate(syn.muscles):
        trial = np.zeros(x.shape[1], bool)
        for e in syn.events:
            if e.label == f"mvc:{m}":
                trial[int(e.onset_s * FS):int((e.onset_s + e.duration_s) * FS)] = True
        noise = float(np.mean(y[c, rest] ** 2))
        ref = mvc_reference(y[c], fs=FS, mask=trial, window_ms=500.0, noise_power=noise)
        assert snap["mvc_reference"][m] == pytest.approx(ref, rel=1e-4)  # float32 ring vs float64
    # The gauge is glute max's noise-corrected 100 ms RMS now, over that reference.
    gm = syn.muscles.index("glute_max")
    g = StreamingEnvelope(FS, x.shape[0], window_ms=live.RMS_MS).process(y)[gm, -1]
    now = np.sqrt(max(g * g - rx.dsp.noise_power[gm], 0.0))
    assert snap["gauge"] == pytest.approx(100.0 * now / snap["mvc_reference"]["glute_max"], rel=1e-4)
    # The synthetic person's MVC trial drives the muscle at 100 %MVC: the reference is that amplitude.
    assert snap["mvc_reference"]["glute_max"] == pytest.approx(
        SubjectProfile.from_latency_ratio(-40.0, 1.2).mvc_rms_mv["glute_max"], rel=0.25)


def test_gauge_without_mvc_trials_says_it_is_relative_to_the_session_peak(tmp_path):
    rec, _ = _recording(tmp_path, with_mvc=False, seconds=12.0)
    snap = _replay(rec).snapshot(n_px=50)
    assert snap["mvc_reference"] == {}
    assert snap["gauge_unit"].startswith("% of this session's peak")
    assert 0.0 <= snap["gauge"] <= 100.0
