"""channel_envelopes() is the envelope analyze measured every rep on: each rep's %MVC, recomputed from it, is
analyze's number exactly (with marked rest and without, across a data gap, for raw and envelope channels)."""

import numpy as np
import pytest

from reengage.analysis import analyze, channel_envelopes
from reengage.dsp.envelope import linear_envelope
from reengage.dsp.filters import clean
from reengage.dsp.options import AnalysisOptions, EnvelopeOptions
from reengage.model import Channel, Gap, Recording, Stream
from reengage.synth import SubjectProfile, synthesize
from reengage.validation.synthrec import session_recording

MVC = {"glute_max": 0.6, "hamstrings": 0.8}


@pytest.fixture(scope="module")
def session():
    return synthesize(SubjectProfile(snr_db=15.0), duration_s=40.0, fs_hz=1000.0, seed=5)


def _num1(v):
    r = round(float(v), 1)
    return 0.0 if r == 0 else r


def _assert_pct_mvc_from(env, out, refs):
    """Every rep's mean and peak %MVC, recomputed over its [start, end] from ``env``, equals analyze's."""
    fs = env.fs_hz
    assert out["reps"]
    for rep in out["reps"]:
        a, b = (int(round((rep[k] - env.t0_s) * fs)) for k in ("start_s", "end_s"))
        for j, key in enumerate(env.keys):
            seg = env.envelope[j, a:b + 1]
            if rep["onset_s"][key] is None:
                continue
            mean = float(np.add.reduce(seg, dtype=np.float64)) / seg.size
            assert rep["mean_pct_mvc"][key] == _num1(100.0 * mean / refs[key])
            assert rep["peak_pct_mvc"][key] == _num1(100.0 * float(seg.max()) / refs[key])


def test_envelope_is_what_analyze_measured_on(session):
    rec = session_recording(session, adc_bits=12)
    env = channel_envelopes(rec)
    out = analyze(rec, mvc=MVC)
    assert env.keys == tuple(out["channels"]) == tuple(session.muscles)
    assert env.names == tuple(c["name"] for c in out["channels"].values())
    assert env.roles == tuple(session.muscles) and env.units == ("mV", "mV")
    assert env.envelope.dtype == np.float32 and env.envelope.shape == rec.emg.data.shape
    assert env.fs_hz == 1000.0 and env.t0_s == 0.0
    _assert_pct_mvc_from(env, out, MVC)


def test_envelope_from_mvc_trials_matches_peak_reference(session):
    rec = session_recording(session)
    env = channel_envelopes(rec)
    out = analyze(rec)
    assert out["normalization"] == "mvc"
    refs = {k: out["channels"][k]["mvc_reference"] for k in env.keys}
    # The reference is rounded to 6 decimals in the JSON: the %MVC agree to that precision.
    for rep in out["reps"]:
        a, b = (int(round(rep[k] * 1000.0)) for k in ("start_s", "end_s"))
        for j, key in enumerate(env.keys):
            mean = float(np.mean(env.envelope[j, a:b + 1], dtype=np.float64))
            assert rep["mean_pct_mvc"][key] == pytest.approx(100.0 * mean / refs[key], abs=0.051)


def test_envelope_without_rest_and_across_a_gap(session):
    rec = session_recording(session)
    at = session.truth["reps"][3]["onset_s"]["glute_max"] + 0.5
    data = rec.emg.data.copy()
    data[:, int(at * 1000):int((at + 0.2) * 1000)] = 0.0
    bare = Recording(streams={"emg": Stream("emg", 1000.0, rec.emg.channels, data)},
                     events=[e for e in rec.events if e.label != "rest"], gaps=[Gap("emg", at, 0.2, 200, "test")])
    env = channel_envelopes(bare)
    out = analyze(bare, mvc=MVC)
    assert any("no marked rest" in n for n in out["notes"])
    assert any(r["excluded"] for r in out["reps"])
    _assert_pct_mvc_from(env, out, MVC)
    # The gap's samples are zeroed before the envelope: it is the noise floor's zero there, not the fill value.
    i = int((at + 0.1) * 1000)
    assert np.all(env.envelope[:, i] == 0.0)


def test_envelope_channels_and_options(session):
    stored = linear_envelope(clean(session.emg_mv, fs=1000.0), fs=1000.0, cutoff_hz=3.0, zero_phase=False)
    chans = [Channel(m, role=m, unit="mV", kind="envelope") for m in session.muscles]
    rec = Recording(streams={"emg": Stream("emg", 1000.0, chans, stored)}, events=list(session.events))
    env = channel_envelopes(rec)
    _assert_pct_mvc_from(env, analyze(rec, mvc=MVC), MVC)
    raw = session_recording(session)
    wide = AnalysisOptions(envelope=EnvelopeOptions(window_ms=200.0))
    env200 = channel_envelopes(raw, options=wide)
    assert not np.array_equal(env200.envelope, channel_envelopes(raw).envelope)
    _assert_pct_mvc_from(env200, analyze(raw, mvc=MVC, options=wide), MVC)


def test_method_and_options_must_agree(session):
    rec = session_recording(session)
    with pytest.raises(ValueError, match="disagree"):
        analyze(rec, method="bonato", options=AnalysisOptions(method="solnik"))
