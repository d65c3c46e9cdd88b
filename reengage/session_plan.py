"""The layout of a recording session, shared by the guided protocol (``reengage record --protocol``) and the
simulated person (:func:`reengage.synth.protocol_schedule`), so a guided session on the simulated board
and its events line up sample for sample.

    rest 3 s │ MVC rounds │ get ready 1 s │ one rep every period_s

MVC normalisation follows the field's practice (``shared/MISSION.md``: maximal contractions per muscle,
e.g. 3 × 5 s; reference = peak of a ≈ 500 ms moving RMS, taken over all of a muscle's trials). The
trials go in rounds — every muscle once, then again — so each muscle rests while the others work: with
two muscles a muscle rests 25 s between its own trials, with four 55 s. MISSION gives no figure for the
rest between maximal efforts; 10 s after each trial is this project's choice.

One trial of 5 s is not enough: the peak 500 ms RMS of a single short trial varies by about ±5 % from
session to session (a random carrier's RMS over 0.5 s), and that error is shared by every rep of the
session. Three trials bring the validation suite's median glute:hamstring ratio error at 500 Hz, 12 dB
from 4.9–5.1 % to ≈ 3.3 % (``docs/validation.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

from reengage.model import Event

REST_S = 3.0  # resting baseline at the start
READY_S = 1.0  # "get ready" before the first rep


@dataclass(frozen=True)
class MvcPlan:
    """``trials`` rounds of one ``trial_s`` maximal contraction per muscle, each followed by ``rest_s``."""

    trials: int = 3
    trial_s: float = 5.0
    rest_s: float = 10.0

    def span_s(self, n_muscles: int) -> float:
        """Length of all the MVC trials and their rests (s)."""
        return self.trials * n_muscles * (self.trial_s + self.rest_s)

    def events(self, muscles: list[str], start_s: float) -> list[Event]:
        """``mvc:<muscle>`` and ``rest`` events from ``start_s``, round by round."""
        out, t = [], start_s
        for _ in range(self.trials):
            for m in muscles:
                out.append(Event(t, self.trial_s, f"mvc:{m}"))
                out.append(Event(t + self.trial_s, self.rest_s, "rest"))
                t += self.trial_s + self.rest_s
        return out


MVC_PLAN = MvcPlan()
# Recordings too short for the full plan (unit tests, quick checks of the simulated board) get the
# one-trial layout of earlier versions; a guided session always uses MVC_PLAN.
SHORT_MVC_PLAN = MvcPlan(trials=1, trial_s=3.0, rest_s=2.0)


def mvc_plan_for(duration_s: float, n_muscles: int, rep_period_s: float) -> MvcPlan | None:
    """The MVC plan a session of ``duration_s`` has room for, keeping at least one rep after it:
    :data:`MVC_PLAN` if it fits, else :data:`SHORT_MVC_PLAN` (with two reps), else none."""
    if duration_s >= REST_S + MVC_PLAN.span_s(n_muscles) + READY_S + rep_period_s:
        return MVC_PLAN
    if duration_s >= REST_S + SHORT_MVC_PLAN.span_s(n_muscles) + 2 * rep_period_s:
        return SHORT_MVC_PLAN
    return None


# ------------------------------------------------------------------------------- cued and uncued reps
# "The effect of a cue today" is measured inside one session: the first reps are done as the person does them
# (uncued), the last ``cued`` reps after the cue. Uncued reps come first because a cue's effect does not wear off
# on demand within a session (Lewis & Sahrmann 2009 recorded the natural pattern before the cued one). Only the
# uncued reps are comparable between sessions ("carried over"); the cued ones measure what a cue can do today.
CUE = "squeeze your glutes first, then lift"


def cue_events(rep_onsets: list[float], rep_s: float, cued: int) -> list[Event]:
    """``cue:off`` over the uncued reps and ``cue:on`` over the last ``cued`` reps of ``rep_onsets`` (s), each
    span running from the end of the rep before it (or the first rep's onset) to the end of its last rep."""
    n = len(rep_onsets)
    if not 0 < cued <= n:
        return []
    first_cued = n - cued
    split = rep_onsets[first_cued - 1] + rep_s if first_cued else rep_onsets[0]
    end = rep_onsets[-1] + rep_s
    out = [Event(rep_onsets[0], split - rep_onsets[0], "cue:off")] if first_cued else []
    return out + [Event(split, end - split, "cue:on")]


# ------------------------------------------------------------------------- sub-maximal reference holds
# A standard sub-maximal contraction per muscle, held REF_HOLD_S, after the reps: the test position held
# against gravity alone (no resistance). A sub-maximal reference is more reliable between days than an MVC
# (trunk EMG between days: %SEM 7 % with a sub-maximal reference vs 17 % with MVC, J Electromyogr Kinesiol
# 2004;14:333; 50 % MVC more reproducible than 100 % MVC, PMID 10378745). The positions are this project's
# choice: no source read gives a standard sub-maximal glute reference (docs/analysis-json.md).
REF_HOLD_S = 5.0
REF_REST_S = 5.0
REF_LEVEL_SKIP_S = 1.0  # the reference level is the mean envelope without the hold's first and last second


def reference_events(muscles: list[str], start_s: float) -> list[Event]:
    """``ref:<muscle>`` holds of :data:`REF_HOLD_S`, each followed by :data:`REF_REST_S` of ``rest``."""
    out, t = [], start_s
    for m in muscles:
        out += [Event(t, REF_HOLD_S, f"ref:{m}"), Event(t + REF_HOLD_S, REF_REST_S, "rest")]
        t += REF_HOLD_S + REF_REST_S
    return out


__all__ = ["MvcPlan", "MVC_PLAN", "SHORT_MVC_PLAN", "REST_S", "READY_S", "mvc_plan_for", "CUE", "cue_events",
           "REF_HOLD_S", "REF_REST_S", "REF_LEVEL_SKIP_S", "reference_events"]
