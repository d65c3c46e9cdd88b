"""The session layout: a guided session and the simulated person follow the same steps, MVC trials come
three to a muscle in rounds, and recordings too short for that fall back to fewer trials, never to none
when one fits."""

from __future__ import annotations

import pytest

from reengage.acquisition.guided import get_protocol, total_s
from reengage.session_plan import MVC_PLAN, SHORT_MVC_PLAN, mvc_plan_for
from reengage.synth import SubjectProfile, protocol_schedule, synthesize


@pytest.mark.parametrize("muscles", [["glute_max"], ["glute_max", "hamstrings"],
                                     ["glute_max", "hamstrings", "glute_med", "erector_spinae"]])
@pytest.mark.parametrize("reps", [1, 3, 10])
def test_guided_steps_and_the_simulated_person_share_one_schedule(muscles, reps):
    steps = get_protocol("prone_hip_extension").steps(muscles, reps=reps)
    events, exercise_start = protocol_schedule(total_s(steps), muscles, rep_period_s=5.0)
    guided = [(s.onset_s, s.duration_s, s.label) for s in steps if s.label != "rep"]
    assert [(e.onset_s, e.duration_s, e.label) for e in events] == guided
    assert exercise_start == next(s.onset_s for s in steps if s.label == "exercise")


def test_each_muscle_gets_three_5_s_trials_in_rounds():
    steps = get_protocol("bridge").steps(["glute_max", "hamstrings"], reps=2)
    trials = [(s.onset_s, s.label) for s in steps if s.label.startswith("mvc:")]
    assert [lb for _, lb in trials] == ["mvc:glute_max", "mvc:hamstrings"] * 3
    assert all(s.duration_s == 5.0 for s in steps if s.label.startswith("mvc:"))
    # A muscle rests while the other works: its own trials start 30 s apart (25 s of rest between them).
    glute = [t for t, lb in trials if lb == "mvc:glute_max"]
    assert [b - a for a, b in zip(glute, glute[1:])] == [30.0, 30.0]
    assert "(3/3)" in next(s.cue for s in reversed(steps) if s.label == "mvc:glute_max")


def test_short_recordings_fall_back_to_one_trial_then_none():
    assert mvc_plan_for(170.0, 2, 5.0) is MVC_PLAN
    assert mvc_plan_for(60.0, 2, 5.0) is SHORT_MVC_PLAN
    assert mvc_plan_for(15.0, 2, 5.0) is None


def test_a_long_synthetic_session_carries_every_trial_at_full_strength():
    s = synthesize(SubjectProfile(snr_db=20.0), duration_s=120.0, seed=1)
    labels = [e.label for e in s.events if e.label.startswith("mvc:")]
    assert labels == [f"mvc:{m}" for m in s.muscles] * 3
    fs = s.fs_hz
    for ev in s.events:
        if ev.label.startswith("mvc:"):
            i = s.muscles.index(ev.label.split(":", 1)[1])
            mid = s.emg_mv[i, int((ev.onset_s + 2.0) * fs):int((ev.onset_s + 4.0) * fs)]
            # The plateau carries the muscle's MVC amplitude (RMS in mV) on top of the baseline noise.
            assert mid.std() == pytest.approx(s.truth["mvc_rms_mv"][s.muscles[i]], rel=0.15)
