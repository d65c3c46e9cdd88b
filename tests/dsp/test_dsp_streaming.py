"""Streaming == offline: the envelope to 1e-9, onsets exactly (causal) and within one block (zero-phase)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from reengage.dsp._util import intervals_mask
from reengage.dsp.envelope import linear_envelope, moving_rms
from reengage.dsp.filters import clean, clean_sos
from reengage.dsp.onsets import detect_bursts
from reengage.dsp.streaming import (StreamingCleaner, StreamingEnvelope, StreamingPipeline, causal_envelope,
                                    causal_onsets)
from reengage.dsp.baseline import Baseline
from reengage.synth import SubjectProfile, synthesize

FS = 1000.0


@pytest.fixture(scope="module")
def session():
    return synthesize(SubjectProfile(snr_db=20.0), duration_s=40.0, fs_hz=FS, seed=7)


def _feed(obj, x, sizes):
    out, i, k = [], 0, 0
    while i < x.shape[-1]:
        n = sizes[k % len(sizes)]
        out.append(obj.process(x[:, i:i + n]))
        i += n
        k += 1
    return out


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(1, 97), min_size=1, max_size=6), method=st.sampled_from(["rms", "linear"]))
def test_streaming_envelope_equals_causal_offline(sizes, method):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 1500)) * np.array([[1.0], [0.01], [100.0]])
    y = clean(x, fs=FS, mains_hz=None, zero_phase=False)
    streamed = np.concatenate(_feed(StreamingEnvelope(FS, 3, method=method, window_ms=50), y, sizes), axis=-1)
    offline = (moving_rms(y, fs=FS, window_ms=50, causal=True) if method == "rms"
               else linear_envelope(y, fs=FS, cutoff_hz=6.0, zero_phase=False))
    np.testing.assert_allclose(streamed, offline, rtol=0, atol=1e-9 * max(1.0, np.abs(offline).max()))


def test_streaming_cleaner_equals_causal_filter(session):
    x = session.emg_mv[:, :5000] * 300 + 512
    sc = StreamingCleaner(FS, 2, lines_hz=(50.0,), dc_offset=[512.0, 512.0])
    streamed = np.concatenate(_feed(sc, x, [20, 33, 7]), axis=-1)
    offline = signal.sosfilt(clean_sos(FS, lines_hz=(50.0,)), x - 512.0, axis=-1)
    np.testing.assert_allclose(streamed, offline, atol=1e-9)


def test_streaming_onsets_equal_causal_offline_onsets(session):
    y = clean(session.emg_mv, fs=FS, zero_phase=False)
    env = causal_envelope(y, fs=FS, window_ms=50)
    rest = env[:, 500:3000]
    base = Baseline(np.median(rest, axis=-1), 1.4826 * np.median(np.abs(rest - np.median(rest, axis=-1, keepdims=True)), axis=-1))
    offline = [(e.channel, e.kind, e.sample) for e in causal_onsets(env, fs=FS, baseline=base)]
    from reengage.dsp.streaming import StreamingOnsetDetector
    det = StreamingOnsetDetector(FS, base)
    streamed = [(e.channel, e.kind, e.sample) for evs in _feed(det, env, [20, 1, 45, 13]) for e in evs]
    assert sorted(streamed) == sorted(offline)
    assert sum(1 for e in offline if e[1] == "onset") >= 2 * len(session.truth["reps"])


@pytest.mark.parametrize("snr_db", [20.0, 12.0])
def test_streaming_onsets_within_one_block_of_offline(snr_db):
    s = synthesize(SubjectProfile(snr_db=snr_db), duration_s=40.0, fs_hz=FS, seed=11)
    block = 50  # samples = 50 ms
    pipe = StreamingPipeline(FS, 2, lines_hz=(50.0, 150.0))
    events = [e for evs in _feed(_Adapter(pipe), s.emg_mv, [block]) for e in evs]
    rest = intervals_mask(s.emg_mv.shape[-1], FS, [(e.onset_s, e.duration_s) for e in s.events if e.label == "rest"])
    offline = detect_bursts(clean(s.emg_mv, fs=FS), fs=FS, rest=rest)
    for c in range(2):
        on_stream = np.array([e.sample for e in events if e.channel == c and e.kind == "onset"])
        on_off = offline[c].onsets
        assert on_stream.size == on_off.size
        assert np.median(np.abs(on_stream - on_off)) <= block
        # Confirmation (look-ahead) delay is bounded: confirm time + one block.
        delays = [e.confirmed_at - e.sample for e in events if e.channel == c and e.kind == "onset"]
        assert max(delays) <= 250


class _Adapter:
    def __init__(self, pipe):
        self.pipe = pipe

    def process(self, x):
        return self.pipe.process(x)[1]
