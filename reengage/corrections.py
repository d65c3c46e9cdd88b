"""A clinician's corrections of an analysis: move or delete a muscle's onset in a rep, exclude or include a rep.

A correction is a dict (the catalog's ``corrections`` table, :meth:`reengage.catalog.Catalog.corrections`)::

    {"correction_id", "kind", "rep", "channel", "anchor", "anchor_s", "old", "new", "reason", "who",
     "when_utc", "undoes"}

- ``kind``: one of :data:`KINDS`. ``new`` is what it sets: the onset time in s (``move_onset``), None
  (``delete_onset``), True (``exclude_rep``) or False (``include_rep``); ``old`` is what it replaced.
- ``rep`` is the rep's index when the correction was made; ``anchor``/``anchor_s`` say how the rep is found
  again after a re-analysis (the machine's onset of ``channel`` in that rep, or the rep's start when the
  machine found none, in s): the rep of the new analysis whose onset/start lies within
  :data:`MATCH_TOLERANCE_S` of it. A correction no rep matches is kept and reported, never dropped.
- An undo is a correction too (``undoes`` names the one it reverses): it sets the old value back.

:func:`apply_corrections` turns analyze's own document (the *machine* analysis) into the *effective* one that
every reader shows. It is called by the catalog once, when a correction is made or the recording re-analysed;
readers never recompute it. Only what depends on onsets is recomputed in a corrected rep (onset and offset
times, ``onset_latency_ms`` = glute max onset − hamstrings onset in ms, the firing order, onsets relative to
the movement); amplitudes and the ratio are measured over the rep window, not from the onset, and are kept.
The summary is re-made by :func:`reengage.analysis.summarize_reps`, exactly as analyze makes it.
"""

from __future__ import annotations

import copy

from reengage.analysis import summarize_reps
from reengage.catalog import finite
from reengage.errors import InputError

KINDS = ("move_onset", "delete_onset", "exclude_rep", "include_rep")
ONSET_KINDS = ("move_onset", "delete_onset")
MATCH_TOLERANCE_S = 0.150
REP_MARGIN_S = 1.0  # a moved onset may precede its rep's start by this much (the machine's start may be late)
PAIR = ("glute_max", "hamstrings")  # onset_latency_ms = onset of the first − onset of the second


def _round(v: float | None, nd: int) -> float | None:
    return None if v is None else round(float(v), nd)


def clinician_reason(who: str, reason: str = "") -> str:
    """The exclusion reason a rep excluded by a clinician carries in the analysis."""
    return f"excluded by clinician ({who})" + (f": {reason}" if reason else "")


# ---------------------------------------------------------------------------------------- making one

def _rep(analysis: dict, rep: int) -> dict:
    reps = analysis.get("reps") or []
    if isinstance(rep, bool) or not isinstance(rep, int) or not 0 <= rep < len(reps):
        raise InputError(f"rep {rep + 1 if isinstance(rep, int) else rep!r}: no such rep "
                         f"(this session has {len(reps)}, numbered from 1)")
    return reps[rep]


def _channel(analysis: dict, channel) -> str:
    keys = list((analysis.get("channels") or {}).keys())
    if channel not in keys:
        raise InputError(f"channel {channel!r}: not in this analysis (one of {', '.join(keys) or 'none'})")
    return channel


def _new_onset(analysis: dict, rep: dict, channel: str, seconds) -> float:
    t = finite(seconds)
    duration = finite(analysis.get("duration_s"))
    if t is None or t < 0 or (duration is not None and t > duration):
        raise InputError(f"onset {seconds!r}: must be a time in seconds within the recording "
                         f"(0 to {duration if duration is not None else '?'} s)")
    start, end = finite(rep.get("start_s")), finite(rep.get("end_s"))
    if start is not None and end is not None and not start - REP_MARGIN_S <= t <= end:
        raise InputError(f"onset {t:.3f} s: outside this rep ({start - REP_MARGIN_S:.3f} to {end:.3f} s: its start, "
                         f"less {REP_MARGIN_S:g} s, to its end)")
    off = finite((rep.get("offset_s") or {}).get(channel))
    if off is not None and t >= off:
        raise InputError(f"onset {t:.3f} s: must come before the {channel} offset of this rep ({off:.3f} s)")
    return round(t, 4)


def make_correction(machine: dict, effective: dict, kind: str, rep: int, *, channel: str | None = None,
                    seconds=None, reason: str = "", who: str) -> dict | None:
    """The correction ``kind`` of rep index ``rep`` (0-based; ``channel`` and ``seconds`` for onsets), with its
    target found in the ``machine`` analysis and its old value read from the ``effective`` one; None when it
    would change nothing (already so). Checks its input: :class:`InputError`, nothing made."""
    if kind not in KINDS:
        raise InputError(f"correction {kind!r}: must be one of {', '.join(KINDS)}")
    cur = _rep(effective, rep)
    raw = _rep(machine, rep)
    out = {"kind": kind, "rep": rep, "channel": None, "reason": str(reason or "").strip(), "who": who,
           "undoes": None}
    if kind in ONSET_KINDS:
        ch = _channel(effective, channel)
        machine_onset = finite((raw.get("onset_s") or {}).get(ch))
        old = finite((cur.get("onset_s") or {}).get(ch))
        new = _new_onset(effective, cur, ch, seconds) if kind == "move_onset" else None
        if kind == "delete_onset" and old is None:
            return None
        out.update(channel=ch, old=old, new=new)
        anchor, anchor_s = ("onset", machine_onset) if machine_onset is not None else ("start", raw.get("start_s"))
    else:
        old, new = bool(cur.get("excluded")), kind == "exclude_rep"
        out.update(old=old, new=new)
        anchor, anchor_s = "start", raw.get("start_s")
    if old == new:
        return None
    out.update(anchor=anchor, anchor_s=finite(anchor_s))
    if out["anchor_s"] is None:
        raise InputError(f"rep {rep + 1}: the analysis gives it no start time; it cannot be corrected")
    return out


def inverse(c: dict, *, who: str, reason: str = "") -> dict:
    """The undo of correction ``c``: a correction of the same target that sets its old value back."""
    if c["kind"] in ONSET_KINDS:
        kind = "delete_onset" if c["old"] is None else "move_onset"
    else:
        kind = "exclude_rep" if c["old"] else "include_rep"
    return {"kind": kind, "rep": c["rep"], "channel": c["channel"], "anchor": c["anchor"], "anchor_s": c["anchor_s"],
            "old": c["new"], "new": c["old"], "reason": reason or f"undo of correction {c.get('correction_id')}",
            "who": who, "undoes": c.get("correction_id")}


# -------------------------------------------------------------------------------------- applying them

def match_rep(machine: dict, c: dict) -> int | None:
    """The index of the rep of ``machine`` that correction ``c`` targets: the one whose onset of the
    correction's channel (or start, by ``anchor``) is closest to ``anchor_s``, within :data:`MATCH_TOLERANCE_S`."""
    best, best_d = None, MATCH_TOLERANCE_S + 1e-9
    target = finite(c.get("anchor_s"))
    if target is None:
        return None
    for k, r in enumerate(machine.get("reps") or []):
        t = (r.get("onset_s") or {}).get(c.get("channel")) if c.get("anchor") == "onset" else r.get("start_s")
        t = finite(t)
        if t is not None and abs(t - target) < best_d:
            best, best_d = k, abs(t - target)
    return best


def _with_onsets(raw: dict, rep: dict, onsets: dict[str, tuple]) -> None:
    """Set the overridden onsets of one rep and recompute what depends on them."""
    for ch, (value, _c) in onsets.items():
        rep["onset_s"][ch] = value
        if value is None:
            rep["offset_s"][ch] = None
    on = {k: finite(v) for k, v in rep["onset_s"].items()}
    if any(ch in PAIR for ch in onsets) and all(k in on for k in PAIR):
        g, h = on[PAIR[0]], on[PAIR[1]]
        rep["onset_latency_ms"] = None if g is None or h is None else round(1000.0 * (g - h), 1)
    rep["firing_order"] = sorted((k for k in on if on[k] is not None), key=lambda k: on[k])
    mo = finite(rep.get("movement_onset_s"))
    if mo is not None and isinstance(rep.get("onset_re_movement_ms"), dict):
        for ch in onsets:
            rep["onset_re_movement_ms"][ch] = None if on.get(ch) is None else round(1000.0 * (on[ch] - mo), 1)


def _with_exclusion(raw: dict, rep: dict, value: bool, c: dict) -> None:
    rep["excluded"] = value
    if value:
        rep["exclusion_reasons"] = list(raw.get("exclusion_reasons") or []) + [clinician_reason(c["who"], c["reason"])]
    else:
        rep["exclusion_reasons"] = []
        rep["included_by_clinician"] = {"who": c["who"], "reason": c["reason"],
                                        "machine_reasons": list(raw.get("exclusion_reasons") or [])}


def _overrides(machine: dict, corrections: list[dict]) -> tuple[dict, list[dict], list[dict]]:
    """Per rep index: the last value each correction target was given; and the matched and unmatched lists."""
    state: dict[int, dict] = {}
    applied, unmatched = [], []
    for c in corrections:
        k = match_rep(machine, c)
        if k is None:
            unmatched.append(c)
            continue
        applied.append({**c, "rep": k})
        slot = state.setdefault(k, {"onsets": {}, "excluded": None})
        if c["kind"] in ONSET_KINDS:
            slot["onsets"][c["channel"]] = (c["new"], c)
        else:
            slot["excluded"] = (bool(c["new"]), c)
    return state, applied, unmatched


def _note(c: dict) -> str:
    return f"rep {c['rep'] + 1} (index {c['rep']}): {describe(c, with_rep=False)}"


def apply_corrections(analysis: dict, corrections: list[dict]) -> tuple[dict, list[dict]]:
    """The effective analysis: ``analysis`` (analyze's own document, not modified) with ``corrections`` applied
    in order, and the corrections no rep matched. Without corrections it is ``analysis`` itself.

    A corrected rep's onset-dependent measures and the summary are recomputed (see the module docstring); the
    document gains ``corrections`` (those applied, ``rep`` the index they matched), ``unmatched_corrections``,
    a ``corrections`` list of ids on each corrected rep, and one note per applied correction."""
    if not corrections:
        return analysis, []
    out = copy.deepcopy(analysis)
    state, applied, unmatched = _overrides(analysis, corrections)
    raw_reps, reps = analysis.get("reps") or [], out.get("reps") or []
    for k, slot in state.items():
        onsets = {ch: vc for ch, vc in slot["onsets"].items()
                  if finite(vc[0]) != finite((raw_reps[k].get("onset_s") or {}).get(ch))}
        if onsets:
            _with_onsets(raw_reps[k], reps[k], onsets)
        if slot["excluded"] is not None and slot["excluded"][0] != bool(raw_reps[k].get("excluded")):
            _with_exclusion(raw_reps[k], reps[k], *slot["excluded"])
        reps[k]["corrections"] = [c.get("correction_id") for c in applied if c["rep"] == k]
    summ = analysis.get("summary") or {}
    moves = summ.get("movements")
    out["summary"] = summarize_reps(reps, list((analysis.get("channels") or {}).keys()),
                                    summ.get("onset_method", analysis.get("onset_method")),
                                    [None] * int(moves) if isinstance(moves, int) else None)
    out["notes"] = list(analysis.get("notes") or []) + [_note(c) for c in applied]
    out["corrections"] = applied
    out["unmatched_corrections"] = unmatched
    return out, unmatched


def _value(v, kind: str) -> str:
    if kind in ONSET_KINDS:
        return "none" if v is None else f"{v:.3f} s"
    return "excluded" if v else "included"


def change(c: dict, *, with_rep: bool = True) -> str:
    """What a correction changed, in words: "rep 3 hamstrings onset moved (12.480 s → 12.350 s)"."""
    what = f"{c.get('channel')} onset" if c["kind"] in ONSET_KINDS else ""
    verb = {"move_onset": "moved", "delete_onset": "deleted", "exclude_rep": "excluded",
            "include_rep": "included"}[c["kind"]]
    head = " ".join(x for x in ((f"rep {c['rep'] + 1}" if with_rep or not what else ""), what) if x)
    return f"{head} {verb} ({_value(c['old'], c['kind'])} → {_value(c['new'], c['kind'])})"


def describe(c: dict, *, with_rep: bool = True) -> str:
    """One line in words: what a correction changed, by whom and when."""
    when = str(c.get("when_utc") or "").replace("T", " ").rstrip("Z")
    why = f", {c['reason']}" if c.get("reason") else ""
    return f"{change(c, with_rep=with_rep)} by {c['who']}{' on ' + when if when else ''}{why}"


def describe_unmatched(c: dict) -> str:
    """Why a kept correction is not applied, in words."""
    where = f"{c.get('channel')} onset" if c.get("anchor") == "onset" else "start"
    return (f"correction {c.get('correction_id')} ({describe(c)}) no longer matches a rep: no rep {where} within "
            f"{MATCH_TOLERANCE_S * 1000:.0f} ms of {c['anchor_s']:.3f} s in the new analysis; it is kept, not applied")
