"""The live chain (reengage.dsp.streaming.LiveChain) as a sans-I/O object: its result does not depend on how
the stream is cut into blocks, its memory is bounded by the window, lost samples are a gap, and a caller
that fell behind catches up without missing what is still in the window."""

from __future__ import annotations

import numpy as np
import pytest

from reengage.dsp.options import LiveOptions
from reengage.dsp.streaming import LiveChain
from reengage.synth import SubjectProfile, synthesize

FS = 1000.0


@pytest.fixture(scope="module")
def session():
    # Rest 0–3 s, then reps at 4 and 9 s (with mains hum and its third harmonic on the signal).
    return synthesize(SubjectProfile.from_latency_ratio(-30.0, 1.0), duration_s=13.0, fs_hz=FS, seed=7,
                      with_mvc=False)


def _run(session, sizes, *, steps="all"):
    chain = LiveChain(FS, session.muscles)
    for e in session.events:
        chain.event(e.onset_s, e.duration_s, e.label)
    out, i, k = [], 0, 0
    x = session.emg_mv
    while i < x.shape[-1]:
        n = sizes[k % len(sizes)]
        out += chain.feed(x[:, i:i + n], 1000 + i, steps=steps)  # any board index: times count from the first
        i += n
        k += 1
        assert chain.buf.shape[-1] <= chain.window  # memory bounded by the window
    return chain, out


def _summary(steps):
    env = np.concatenate([s.env for s in steps], axis=-1)
    return ([d for s in steps for d in s.detections], [r for s in steps for r in s.reps], env,
            [s.env_start for s in steps])


@pytest.fixture(scope="module")
def reference(session):
    return _run(session, [50])


def test_result_does_not_depend_on_how_the_stream_is_cut(session, reference):
    chain, steps = reference
    det, reps, env, starts = _summary(steps)
    for sizes in ([1, 97, 13, 250], [3000]):
        d2, r2, e2, s2 = _summary(_run(session, sizes)[1])
        assert d2 == det and r2 == reps and s2 == starts
        np.testing.assert_array_equal(e2, env)
    # and it found both reps, glutes first, from the marked rest, with the mains lines removed
    assert chain.baseline_source == "rest" and chain.mains_hz == 50.0
    assert [r["glutes_first"] for r in reps] == [True, True]
    truth = session.truth["reps"]
    for r, t in zip(reps, truth):
        for role, idx in r["onset_index"].items():
            assert abs((idx - 1000) / FS - t["onset_s"][role]) < 0.05
    # an onset is known once the burst has lasted the detector's min_burst_ms on settled samples
    ons = [(s, w) for _, k, s, w in det if k == "onset"]
    assert len(ons) == 4 and all(0.25 * FS <= w - s <= 0.6 * FS for s, w in ons)
    # the envelope is published once, sample after sample, up to the settled edge
    assert env.shape == (2, steps[-1].settled - steps[0].env_start)


def test_lost_samples_are_a_gap_and_the_chain_goes_on(session, reference):
    chain = LiveChain(FS, session.muscles)
    for e in session.events:
        chain.event(e.onset_s, e.duration_s, e.label)
    x = session.emg_mv
    steps = chain.feed(x[:, :6000], 0)
    steps += chain.feed(x[:, 6500:], 6500)  # 500 samples never arrived, between the two reps
    assert chain.samples_lost == 500 and chain.gap_spans == [(6000, 6500)]
    ref = [d for s in reference[1] for d in s.detections if d[1] == "onset"]
    got = [d for s in steps for d in s.detections if d[1] == "onset"]
    # the same onsets (the gap's zeros, cleaned with the window, move the second rep's by a few samples)
    assert [c for c, *_ in got] == [c for c, *_ in ref]
    assert all(abs(a[2] - (b[2] - 1000)) <= 10 for a, b in zip(got, ref))
    # a duplicated block changes nothing
    assert chain.feed(x[:, 12000:12500], 12000) == [] and chain.samples_lost == 500


def test_a_caller_that_fell_behind_catches_up_with_one_step(session, reference):
    chain = LiveChain(FS, session.muscles)
    for e in session.events:
        chain.event(e.onset_s, e.duration_s, e.label)
    x = session.emg_mv
    assert chain.feed(x[:, :11000], 1000, steps="none") == []
    steps = chain.feed(x[:, 11000:11020], 12000, steps="last")
    assert len(steps) == 1
    # the second rep lies in the window: found, within one step of the step-by-step run's onsets (the marked
    # rest had left the window: the baseline is analyze's fallback, the window's quietest second)
    assert chain.baseline_source == "quietest 1 s"
    ref = [r for s in reference[1] for r in s.reps][1]["onset_index"]
    (got,) = [r["onset_index"] for r in steps[0].reps]
    assert got.keys() == ref.keys() and all(abs(got[k] - ref[k]) <= chain.step for k in ref)


def test_input_is_checked():
    chain = LiveChain(FS, ["glute_max", "hamstrings"], live=LiveOptions(step_ms=20.0))
    with pytest.raises(ValueError, match="channels"):
        chain.feed(np.zeros((3, 10)), 0)
    with pytest.raises(ValueError, match="steps"):
        chain.feed(np.zeros((2, 10)), 0, steps="some")
    with pytest.raises(ValueError, match="NaN"):
        chain.feed(np.full((2, 10), np.nan), 0)
    with pytest.raises(ValueError, match="sampling rate"):
        LiveChain(0.0, ["glute_max"])
