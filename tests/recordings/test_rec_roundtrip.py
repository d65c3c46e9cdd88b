"""Every export format re-analyses to the original's JSON, and carries the session's metadata back.

The session has rest, MVC trials of both muscles, a cue, the exercise and a 100-sample gap (inside an MVC
trial), so reading the samples without the events would count the MVC trials as reps and lose the
normalisation (an exported CSV used to give 11 reps and "normalization": "none" here instead of 9 and "mvc").

- A recorded session (the board's integers): CSV, EDF+, BDF+ and BIDS are all lossless, so the JSON is equal.
- A float session (a lab's CSV with its events): CSV is lossless (floats written in full); EDF+ keeps 16 bits
  and BDF+ 24 bits over each channel's range, so there the reps, their count, order and exclusions are equal,
  times within one sample (the onset detector may move by one sample when a threshold crossing sits within the
  quantisation step) and the ratio within the bound the quantisation step gives (see ``_ratio_tolerance``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from test_rec_interop import simulated_rgr

from reengage.analysis import analyze
from reengage.io import load_recording
from reengage.io.csvio import write_csv_recording
from reengage.io.export import export_recording
from reengage.model import Stream

FORMATS = ("csv", "edf", "bdf", "bids")
SESSION = {"phase": 2, "pain": 3, "notes": "Schmerz links; à revoir — kept exactly", "protocol": "hip_mvc_v1"}


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    path = simulated_rgr(tmp_path_factory.mktemp("rt") / "P031_hip_thrust.rgr", seconds=60.0, extra_meta=SESSION)
    rec = load_recording(path)
    labels = {e.label for e in rec.events}
    assert {"rest", "mvc:glute_max", "mvc:hamstrings", "exercise"} <= labels and rec.gaps  # what the test needs
    return path, rec, analyze(rec)


@pytest.fixture(scope="module")
def float_session(session, tmp_path_factory):
    """The same session as a lab's float CSV (physical values with continuous noise), with its events."""
    _, rec, _ = session
    rng = np.random.default_rng(7)
    streams = {}
    for name, s in rec.streams.items():
        res = np.array([c.scale for c in s.channels])[:, None]
        data = s.physical() + 0.3 * res * rng.standard_normal(s.data.shape)
        streams[name] = Stream(name, s.fs_hz, [replace(c, scale=1.0, offset=0.0) for c in s.channels], data,
                               s.first_sample, s.t0_s)
    src = write_csv_recording(replace(rec, streams=streams), tmp_path_factory.mktemp("lab") / "lab.csv")
    back = load_recording(src)
    assert back.emg.data.dtype == np.float64 and np.array_equal(back.emg.data, streams["emg"].data)  # bit for bit
    return src, back, analyze(back)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_reanalyses_to_the_original_json(session, tmp_path, fmt):
    path, _, original = session
    back = load_recording(export_recording(path, fmt, tmp_path)[0])
    result = analyze(back)
    assert result["summary"]["reps"] == original["summary"]["reps"] > 0
    assert result["normalization"] == "mvc"
    assert result == original  # the board's integers and every event and gap come back exactly


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_carries_the_session_metadata(session, tmp_path, fmt):
    path, rec, _ = session
    back = load_recording(export_recording(path, fmt, tmp_path)[0])
    for key in ("subject", "task", "session_date", "started_utc", "board", "phase", "pain", "notes", "protocol"):
        assert back.meta.get(key) == rec.meta[key], key
    assert back.meta["source_format"] == {"bids": "edf"}.get(fmt, fmt)


def test_a_lone_edf_keeps_what_its_header_can_hold(session, tmp_path):
    """Without its sidecar (copied alone), an EDF+ still says who, when and what, from the EDF+ header."""
    path, rec, _ = session
    edf, side = export_recording(path, "edf", tmp_path)
    side.unlink()
    back = load_recording(edf)
    assert {k: back.meta.get(k) for k in ("subject", "task", "session_date")} == {
        k: rec.meta[k] for k in ("subject", "task", "session_date")}
    assert "pain" not in back.meta  # not guessed


def test_someone_elses_json_beside_an_edf_is_left_alone(session, tmp_path):
    path, rec, _ = session
    edf, side = export_recording(path, "edf", tmp_path)
    side.write_text('{"TaskName": "other", "subject": "X"}')
    assert load_recording(edf).meta["subject"] == rec.meta["subject"]
    side.write_text("{not json")
    back = load_recording(edf)
    assert back.meta["subject"] == rec.meta["subject"] and "not readable JSON" in back.problems[-1]


def _ratio_tolerance(res: dict, rep: dict, scales: dict[str, float]) -> float:
    """How far 16/24-bit quantisation can move a rep's ratio. Rounding adds at most q/2 to every sample (q: the
    channel's step), and the envelope is an RMS over a window of a linear filter's output, so (Minkowski) it
    moves by at most ~q/2 times the filter's gain (≤ 2 here, generous). The ratio is (m_g/R_g)/(m_h/R_h) with
    m the rep's mean envelope and R the MVC reference, so its relative error is at most the sum of the four
    relative errors; the JSON prints the ratio to 3 decimals, which adds up to 0.001."""
    rel = 0.0
    for key in ("glute_max", "hamstrings"):
        ref = res["channels"][key]["mvc_reference"]
        mean = rep["mean_pct_mvc"][key] / 100 * ref
        rel += scales[key] * (1 / mean + 1 / ref)
    return rep["glute_hamstring_ratio"] * rel + 0.001


@pytest.mark.parametrize("fmt", ["csv", "edf", "bdf", "bids"])
def test_a_float_recording_reanalyses_within_the_format_resolution(float_session, tmp_path, fmt):
    src, _, original = float_session
    back = load_recording(export_recording(src, fmt, tmp_path)[0])
    result = analyze(back)
    if fmt == "csv":
        assert result == original  # floats are written in full
        return
    scales = {c.role: c.scale for c in back.emg.channels}  # the quantisation step of each channel
    assert result["summary"]["reps"] == original["summary"]["reps"] > 0
    assert result["normalization"] == original["normalization"] == "mvc"
    one_sample = 1 / original["fs_hz"] + 1e-9
    for a, b in zip(original["reps"], result["reps"]):
        assert (b["index"], b["firing_order"], b["excluded"]) == (a["index"], a["firing_order"], a["excluded"])
        assert abs(b["start_s"] - a["start_s"]) <= one_sample and abs(b["end_s"] - a["end_s"]) <= one_sample
        for key, onset in a["onset_s"].items():
            assert abs(b["onset_s"][key] - onset) <= one_sample, key
        assert abs(b["glute_hamstring_ratio"] - a["glute_hamstring_ratio"]) <= _ratio_tolerance(original, a, scales)
    for key, ch in original["channels"].items():
        assert abs(result["channels"][key]["mvc_reference"] - ch["mvc_reference"]) <= scales[key] + 1e-6
