"""What the guided protocol's marks add to the Patient and Report pages: the effect of a cue today (the cued
reps of a session beside its uncued reps) and the amplitude over the sub-maximal reference hold (%ref).

A cue's effect within one session (onsets shift by 100–200 ms, the ratio × 1.8: Lewis & Sahrmann 2009, Oh et
al. 2007) is larger than any plausible between-session noise, so it is shown apart and never enters the trend:
a session's summary medians are those of its uncued reps (docs/analysis-json.md), which are what carried over
from the sessions before."""

from __future__ import annotations

from pathlib import Path

from dash import html

from . import data
from .numbers import fmt

CARRY_OVER_WORDS = ("Sessions with cued reps are charted and judged on their uncued reps only — what carried over "
                    "between sessions; the cued reps show what a cue does today and are set beside them below.")


def session_extras(root: Path, sessions: list[dict]) -> dict[int, dict]:
    """session_id → the stored summary's ``cue_effect`` and ``median_mean_pct_ref`` and the analysis's
    ``mvc_positions`` of each analysed session that has them (the analysis as stored; nothing computed here)."""
    out = {}
    for s in sessions:
        if s.get("analysis_id") is None:
            continue
        analysis = data.session_analysis_for_recording(root, s["recording_id"]) or {}
        summary = analysis.get("summary") or {}
        extra = {k: summary[k] for k in ("cue_effect", "median_mean_pct_ref") if isinstance(summary.get(k), dict)}
        if isinstance(analysis.get("mvc_positions"), dict):
            extra["mvc_positions"] = analysis["mvc_positions"]
        if extra:
            out[s["session_id"]] = dict(extra, session_date=s["session_date"])
    return out


def _latest(sessions: list[dict], extras: dict[int, dict], key: str) -> dict | None:
    for s in reversed(sessions):
        e = extras.get(s["session_id"])
        if e and key in e:
            return e
    return None


def cue_effect_block(sessions: list[dict], extras: dict[int, dict]) -> list:
    """The latest session's cue effect as a small table (uncued | cued) with the carry-over note, or nothing."""
    e = _latest(sessions, extras, "cue_effect")
    if e is None:
        return []
    c = e["cue_effect"]
    rows = [("Glute:hamstring ratio", "median_glute_hamstring_ratio", ".2f", ""),
            ("Onset latency", "median_onset_latency_ms", "+.0f", " ms")]
    body = [html.Tr([html.Td(name), html.Td(fmt(c.get(f"{key}_uncued"), spec, unit)),
                     html.Td(fmt(c.get(f"{key}_cued"), spec, unit))]) for name, key, spec, unit in rows]
    unc, cued = c.get("median_mean_pct_mvc_uncued") or {}, c.get("median_mean_pct_mvc_cued") or {}
    for m in ("glute_max", "hamstrings"):
        if m in unc or m in cued:
            body.append(html.Tr([html.Td(f"{m.replace('_', ' ')} %MVC"), html.Td(fmt(unc.get(m), ".1f")),
                                 html.Td(fmt(cued.get(m), ".1f"))]))
    head = html.Tr([html.Th(f"Effect of the cue today ({e['session_date']})"),
                    html.Th(f"uncued ({c.get('uncued_reps', 0)} reps)"), html.Th(f"cued ({c.get('cued_reps', 0)} reps)")])
    return [html.Table([html.Thead(head), html.Tbody(body)], className="re-table cue-effect"),
            html.P("Cued reps: told to squeeze the glutes first. Both muscles' %MVC are shown: a cue raises both "
                   "(Hollman 2018), so the ratio can stay flat while the glutes switch on. " + CARRY_OVER_WORDS,
                   className="re-help carry-over")]


def pct_ref_text(sessions: list[dict], extras: dict[int, dict]) -> str | None:
    """The latest session's median amplitude over the sub-maximal reference hold, per muscle, or None."""
    e = _latest(sessions, extras, "median_mean_pct_ref")
    if e is None:
        return None
    ref = e["median_mean_pct_ref"]
    return (f"{fmt(ref.get('glute_max'), '.0f')} / {fmt(ref.get('hamstrings'), '.0f')} %ref "
            f"({e['session_date']})")


PCT_REF_HELP = ("%ref: each rep's mean amplitude over the muscle's sub-maximal reference hold (the test position "
                "held against gravity, 5 s) — more repeatable between days than an MVC (between-day %SEM ≈ 7 % vs "
                "≈ 17 %), shown beside %MVC, not instead of it.")
