"""The test-retest block (``record --protocol NAME --retest``): the guide and the simulated person share its
layout, and the analysis gives each block's own value, normalised by that block's own MVC trials."""

from __future__ import annotations

import numpy as np
import pytest

from reengage.acquisition.guided import get_protocol, retest_steps, total_s
from reengage.analysis import analyze
from reengage.model import Event
from reengage.session_plan import (RETEST, RETEST_REAPPLY, RETEST_REAPPLY_S, retest_events, retest_gains,
                                   with_retest_gain)
from reengage.synth import SubjectProfile, protocol_schedule, synthesize
from reengage.validation.synthrec import session_recording

MUSCLES = ["glute_max", "hamstrings"]


def test_the_retest_block_repeats_the_session_after_the_electrodes_are_reapplied():
    protocol = get_protocol("prone_hip_extension")
    first = protocol.steps(MUSCLES, reps=3)
    steps = retest_steps(protocol, MUSCLES, reps=3)
    start = total_s(first)
    assert steps[:len(first)] == first
    block = next(s for s in steps if s.label == RETEST)
    reapply = next(s for s in steps if s.label == RETEST_REAPPLY)
    assert block.onset_s == reapply.onset_s == start and reapply.duration_s == RETEST_REAPPLY_S
    assert "electrodes" in reapply.cue
    again = [s for s in steps[len(first):] if s.label not in (RETEST, RETEST_REAPPLY)]
    assert [(s.onset_s - start - RETEST_REAPPLY_S, s.duration_s, s.label) for s in again] == \
        [(s.onset_s, s.duration_s, s.label) for s in first]
    assert sum(s.label == "mvc:glute_max" for s in steps) == 6 and sum(s.label == "rep" for s in steps) == 6
    assert block.end_s == total_s(steps)  # the retest step spans everything after the first block
    # The first step of the block after re-application counts down: the person has just put electrodes on.
    assert again[0].countdown


def test_the_simulated_person_follows_the_guides_retest_layout():
    protocol = get_protocol("bridge")
    steps = retest_steps(protocol, MUSCLES, reps=2)
    first_len = total_s(protocol.steps(MUSCLES, reps=2))
    block, _ = protocol_schedule(first_len, MUSCLES, rep_period_s=protocol.period_s)
    sim = block + retest_events(block, first_len)
    guided = [(s.onset_s, s.duration_s, s.label) for s in steps if s.label != "rep"]
    assert [(e.onset_s, e.duration_s, e.label) for e in sim] == guided


def test_retest_gain_scales_only_the_retest_block():
    emg = np.ones((2, 1000))
    out = with_retest_gain(emg, 100.0, 4.0, [1.2, 0.8])
    assert np.all(out[:, :400] == 1.0) and np.allclose(out[0, 400:], 1.2) and np.allclose(out[1, 400:], 0.8)
    gains = retest_gains(np.random.default_rng(3), MUSCLES)
    assert set(gains) == set(MUSCLES) and all(0.5 < g < 2.0 for g in gains.values())


def _retest_recording(gains: list[float], seed: int = 5):
    """Two simulated blocks of one person, the second through re-applied electrodes (``gains``), in one
    recording laid out as a guided retest session."""
    profile = SubjectProfile.from_latency_ratio(-40.0, 0.8)
    steps = get_protocol("prone_hip_extension").steps(MUSCLES, reps=6)
    length = total_s(steps) + 2.0
    a = synthesize(profile, length, fs_hz=1000.0, seed=seed)
    b = synthesize(profile, length, fs_hz=1000.0, seed=seed + 1)
    gap = np.zeros((len(MUSCLES), int(RETEST_REAPPLY_S * 1000)))
    emg = np.hstack([a.emg_mv, gap, with_retest_gain(b.emg_mv, 1000.0, 0.0, gains)])
    events = list(a.events) + retest_events(list(b.events), length)
    a.emg_mv, a.events = emg, events
    a.imu = np.zeros((6, int(emg.shape[1] / 10)))
    return session_recording(a)


def test_each_block_is_normalised_by_its_own_mvc_trials():
    doc = analyze(_retest_recording([1.6, 0.7]))
    retest = doc["summary"]["retest"]
    ratio, latency = retest["glute_hamstring_ratio"], retest["onset_latency_ms"]
    # The re-applied electrodes' gains (×1.6 on the hamstrings, ×0.7 on the glutes) would move a ratio normalised
    # by the first block's MVC 2.3-fold; each block normalised by its own trials agrees within the reps' spread.
    assert ratio[0] == pytest.approx(0.8, rel=0.15) and ratio[1] == pytest.approx(0.8, rel=0.15)
    assert latency[0] == pytest.approx(-40.0, abs=25.0) and latency[1] == pytest.approx(-40.0, abs=25.0)
    plain = analyze(session_recording(synthesize(SubjectProfile.from_latency_ratio(-40.0, 0.8),
                                                 150.0, fs_hz=1000.0, seed=5)))
    assert "retest" not in plain["summary"]


def test_mvc_positions_are_copied_from_the_recordings_meta():
    rec = _retest_recording([1.0, 1.0])
    rec.meta["mvc_positions"] = {"glute_max": "prone_knee_flexed_hip_extension"}
    assert analyze(rec)["mvc_positions"] == {"glute_max": "prone_knee_flexed_hip_extension"}
    rec.meta.pop("mvc_positions")
    assert "mvc_positions" not in analyze(rec)


def test_mvc_positions_default_to_the_guided_protocols_and_can_be_given():
    from reengage.acquisition.guided import MVC_CUES, MVC_POSITIONS, mvc_positions
    from reengage.errors import InputError

    assert set(MVC_POSITIONS) == set(MVC_CUES)  # every cued MVC names its position
    assert mvc_positions(MUSCLES) == {"glute_max": "prone_knee_flexed_hip_extension",
                                      "hamstrings": "prone_knee_flexion_45"}
    assert mvc_positions(MUSCLES, {"glute_max": "standing_squeeze"})["glute_max"] == "standing_squeeze"
    assert mvc_positions(["adductors"]) == {}  # no default: unknown, left out
    assert mvc_positions(MUSCLES, {"hamstrings": "standing_knee_flexion"}, guided=False) == {
        "hamstrings": "standing_knee_flexion"}  # unguided: only what was given
    with pytest.raises(InputError, match="not among the recorded"):
        mvc_positions(MUSCLES, {"glute_med": "side_lying_abduction"})
    with pytest.raises(InputError, match="lower-case"):
        mvc_positions(MUSCLES, {"glute_max": "Standing squeeze"})


def test_a_retest_sessions_reps_and_headline_are_normalised_by_their_own_blocks_mvc():
    """Re-applied electrodes ×1.6 (hamstrings) / ×0.7 (glute max): pooled under one MVC reference the headline median was 0.97 (truth
    0.80); each rep normalised by its own block's trials, every rep and the median are right."""
    doc = analyze(_retest_recording([1.6, 0.7]))
    summary, reps = doc["summary"], [r for r in doc["reps"] if not r["excluded"]]
    assert summary["median_glute_hamstring_ratio"] == pytest.approx(0.8, rel=0.1)
    assert all(r["glute_hamstring_ratio"] == pytest.approx(0.8, rel=0.3) for r in reps)
    # Each muscle's %MVC is the profile's in both blocks (glute max 32, hamstrings 40), not ×1.6 or ×0.7.
    for block in (reps[:6], reps[6:]):
        assert np.median([r["mean_pct_mvc"]["glute_max"] for r in block]) == pytest.approx(32.0, rel=0.2)
        assert np.median([r["mean_pct_mvc"]["hamstrings"] for r in block]) == pytest.approx(40.0, rel=0.2)
    # The block values are the medians of the block's own reps, as stored.
    block2 = [r["glute_hamstring_ratio"] for r in reps[6:]]
    assert summary["retest"]["glute_hamstring_ratio"][1] == pytest.approx(float(np.median(block2)), abs=1e-3)
    refs = summary["retest"]["mvc_reference"]
    # The gains go in the synthesised channels' order (hamstrings, glute max).
    assert refs["hamstrings"][1] / refs["hamstrings"][0] == pytest.approx(1.6, rel=0.1)
    assert refs["glute_max"][1] / refs["glute_max"][0] == pytest.approx(0.7, rel=0.1)
