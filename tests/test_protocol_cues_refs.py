"""Cued and uncued reps, and the sub-maximal reference hold: the guide lays them out, the analysis marks each
rep ``cued`` and gives ``pct_ref``, and the session's medians stay those of the uncued reps (the values
comparable between sessions) while ``cue_effect`` sets today's cued reps beside them."""

from __future__ import annotations

import numpy as np
import pytest

from reengage.acquisition.guided import get_protocol, total_s
from reengage.analysis import analyze, summarize_reps
from reengage.errors import InputError
from reengage.model import Event
from reengage.session_plan import REF_HOLD_S, cue_events
from reengage.synth import SubjectProfile, protocol_schedule, synthesize
from reengage.validation.synthrec import session_recording


def test_guided_steps_mark_the_last_k_reps_cued_and_keep_the_shared_layout():
    p = get_protocol("prone_hip_extension")
    muscles = ["glute_max", "hamstrings"]
    plain = p.steps(muscles, reps=6)
    steps = p.steps(muscles, reps=6, cue_reps=3, reference=True)
    reps = [s for s in steps if s.label == "rep"]
    on = next(s for s in steps if s.label == "cue:on")
    off = next(s for s in steps if s.label == "cue:off")
    # Uncued first: the cue's span holds exactly the last three reps, the uncued span the first three.
    assert [off.onset_s <= r.onset_s < off.end_s for r in reps] == [True] * 3 + [False] * 3
    assert [on.onset_s <= r.onset_s and r.end_s <= on.end_s for r in reps] == [False] * 3 + [True] * 3
    assert "squeeze your glutes first" in reps[3].cue and "squeeze" not in reps[0].cue
    # Everything before the reference holds is where it was without cues and holds, so the simulated person
    # (who follows the plain layout) stays aligned.
    keep = [(s.onset_s, s.duration_s, s.label) for s in plain]
    assert [(s.onset_s, s.duration_s, s.label) for s in steps if not s.label.startswith(("cue:", "ref:"))
            and s.onset_s < total_s(plain)] == keep
    refs = [s for s in steps if s.label.startswith("ref:")]
    assert [s.label for s in refs] == ["ref:glute_max", "ref:hamstrings"]
    assert all(s.duration_s == REF_HOLD_S and s.onset_s >= total_s(plain) for s in refs)
    with pytest.raises(InputError, match="--cue-reps 7"):
        p.steps(muscles, reps=6, cue_reps=7)


def _session(seed=3):
    s = synthesize(SubjectProfile.from_latency_ratio(80.0, 0.6), 120.0, 1000.0, seed=seed)
    return s, session_recording(s)


def test_reps_are_flagged_and_the_summary_keeps_cued_and_uncued_apart():
    s, rec = _session()
    truth = s.truth["reps"]
    starts = [min(r["onset_s"].values()) - 0.2 for r in truth]
    rec.events += cue_events(starts, 2.9, len(truth) // 2)
    out = analyze(rec)
    flags = [r["cued"] for r in out["reps"]]
    n_unc = len(truth) - len(truth) // 2
    assert flags == [False] * n_unc + [True] * (len(truth) // 2)
    eff = out["summary"]["cue_effect"]
    kept = [r for r in out["reps"] if not r["excluded"]]
    cued = [r["glute_hamstring_ratio"] for r in kept if r["cued"]]
    unc = [r["glute_hamstring_ratio"] for r in kept if not r["cued"]]
    assert eff["cued_reps"] == len(cued) and eff["uncued_reps"] == len(unc)
    assert eff["median_glute_hamstring_ratio_cued"] == pytest.approx(float(np.median(cued)), abs=1e-3)
    assert eff["median_glute_hamstring_ratio_uncued"] == pytest.approx(float(np.median(unc)), abs=1e-3)
    # The session's own medians are the uncued reps': what carries over between sessions.
    assert out["summary"]["median_glute_hamstring_ratio"] == eff["median_glute_hamstring_ratio_uncued"]
    g = [r["mean_pct_mvc"]["glute_max"] for r in kept if r["cued"]]
    assert eff["median_mean_pct_mvc_cued"]["glute_max"] == pytest.approx(float(np.median(g)), abs=0.051)
    # A corrected rep list re-summarises the same way (summarize_reps is what corrections call).
    again = summarize_reps(out["reps"], list(out["summary"]["median_mean_pct_mvc"]), out["summary"]["onset_method"],
                           None)
    assert again["cue_effect"] == eff


def test_no_cue_marks_no_cue_keys():
    s, rec = _session()
    out = analyze(rec)
    assert "cue_effect" not in out["summary"] and "median_mean_pct_ref" not in out["summary"]
    assert all("cued" not in r and "pct_ref" not in r for r in out["reps"])


def test_pct_ref_scales_inversely_with_the_reference_hold():
    s, rec = _session()
    # The reference hold: the glute max MVC trial's plateau relabelled (a known, steady contraction).
    trial = next(e for e in rec.events if e.label == "mvc:glute_max")
    rec.events.append(Event(trial.onset_s, trial.duration_s, "ref:glute_max"))
    out1 = analyze(rec)
    # The same hold twice as strong: every rep's pct_ref halves.
    fs = rec.emg.fs_hz
    data = rec.emg.data
    a, b = int(trial.onset_s * fs), int((trial.onset_s + trial.duration_s) * fs)
    row = [c.role for c in rec.emg.channels].index("glute_max")
    data[row, a:b] *= 2.0
    out2 = analyze(rec)
    p1 = [r["pct_ref"]["glute_max"] for r in out1["reps"]]
    p2 = [r["pct_ref"]["glute_max"] for r in out2["reps"]]
    assert all(v is not None for v in p1)
    assert np.allclose(np.array(p2) * 2.0, p1, rtol=0.03)
    # hamstrings has no hold: null, with a note; the summary median is that of the reps.
    assert all(r["pct_ref"]["hamstrings"] is None for r in out1["reps"])
    assert "hamstrings: no usable ref:hamstrings hold: pct_ref is null" in out1["notes"]
    med = out1["summary"]["median_mean_pct_ref"]["glute_max"]
    kept = [r["pct_ref"]["glute_max"] for r in out1["reps"] if not r["excluded"]]
    assert med == pytest.approx(float(np.median(kept)), abs=0.051)
