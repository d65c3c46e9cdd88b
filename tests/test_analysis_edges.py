"""A rep cut by the end of the recording (Ctrl-C or --duration mid-rep) must not become a clinical number."""

import numpy as np

from reengage.analysis import analyze
from reengage.validation.synthrec import session_recording
from reengage.model import Stream
from reengage.synth import SubjectProfile, synthesize


def _cut(rec, at_s):
    emg = rec.emg
    k = int(at_s * emg.fs_hz)
    rec.streams["emg"] = Stream("emg", emg.fs_hz, emg.channels, emg.data[:, :k].copy(), emg.first_sample, emg.t0_s)
    if rec.imu is not None:
        imu = rec.imu
        ki = int(at_s * imu.fs_hz)
        rec.streams["imu"] = Stream("imu", imu.fs_hz, imu.channels, imu.data[:, :ki].copy(), imu.first_sample, imu.t0_s)
    return rec


def test_rep_cut_by_the_end_is_excluded_with_its_reason():
    s = synthesize(SubjectProfile.from_latency_ratio(60.0, 0.5), 30.0, 1000.0, seed=4, with_mvc=False)
    reps = s.truth["reps"]
    last_on = min(reps[-1]["onset_s"].values())
    rec = _cut(session_recording(s, adc_bits=10), last_on + 1.0)  # stop 1 s into the last rep
    out = analyze(rec)
    assert len(out["reps"]) == len(reps)
    *whole, cut = out["reps"]
    assert cut["excluded"] and "rep cut by the start or end of the recording" in cut["exclusion_reasons"]
    assert not any(r["excluded"] for r in whole)
    # The note counts reps from 1, as the tables people read do, and names the document's index.
    i = cut["index"]
    assert f"rep {i + 1} (index {i}) excluded: rep cut by the start or end of the recording" in out["notes"]
    assert out["summary"]["reps"] == len(reps) - 1
    # The summary comes from the whole reps only.
    lat = [r["onset_latency_ms"] for r in whole]
    assert out["summary"]["median_onset_latency_ms"] == float(np.median(lat))


def test_non_finite_samples_are_an_input_error_naming_the_place():
    import pytest

    from reengage.analysis import channel_envelopes
    from reengage.errors import InputError
    from reengage.model import Channel, Recording

    data = np.zeros((2, 5000))
    data[1, 1234] = np.nan
    chans = [Channel(r, role=r, unit="mV", kind="raw") for r in ("glute_max", "hamstrings")]
    rec = Recording(streams={"emg": Stream("emg", 1000.0, chans, data)})
    for fn in (analyze, channel_envelopes):
        with pytest.raises(InputError, match=r"'hamstrings' holds NaN or inf \(first at sample 1234, 1.234 s\)"):
            fn(rec)
