"""Where each verdict's between-session noise came from, in words, and a warning when the compared sessions'
MVC test positions differ — for the Patient and Report pages.

The noise is ``reengage.trend``'s MDC95 (``.source``: ``retest``, ``patient``, ``clinic`` or ``published``;
``.basis``: the SEM, its unit and how many retest pairs, sessions or patients it rests on — absent on an MDC
without it). The MVC positions are each analysis's top-level ``mvc_positions`` ({muscle: position}), as
stored (read with the session's other stored extras, :func:`reengage.dashboard.cues.session_extras`)."""

from __future__ import annotations

from .numbers import finite

SOURCE_WORDS = {
    "retest": "this patient's test–retest pairs (electrodes re-applied, a new MVC, same visit), pooled with the "
              "published figure",
    "patient": "this patient's own sessions in a stable stretch (their scatter around their line)",
    "clinic": "the clinic's patients' stable stretches on this exercise, pooled",
    "published": "the published between-day figure (re-applied electrodes, a new MVC)",
}


def basis_text(basis: dict | None) -> str:
    """``{"sem": 6.2, "unit": "ms", "sessions": 5}`` → ``"SEM 6.2 ms over 5 sessions"``; "" without a basis."""
    if not isinstance(basis, dict) or finite(basis.get("sem")) is None:
        return ""
    counts = [f"{basis[k]} {k.replace('_', ' ')}" for k in ("pairs", "sessions", "patients", "prior_pairs")
              if isinstance(basis.get(k), int)]
    unit = basis.get("unit") or ""
    return f"SEM {basis['sem']:.3g}{'' if unit == '%' else ' '}{unit}" + (f" over {', '.join(counts)}" if counts else "")


def noise_line(name: str, mdc) -> str | None:
    """"Ratio: noise from …; SEM …" for one measure's MDC95, or None when there is none."""
    source = getattr(mdc, "source", None)
    if finite(mdc) is None or source is None:
        return None
    basis = basis_text(getattr(mdc, "basis", None))
    return f"{name} noise from {SOURCE_WORDS.get(source, source)}" + (f" ({basis})" if basis else "")


def mvc_position_warning(sessions: list[dict], extras: dict[int, dict]) -> list[str]:
    """One warning per muscle whose recorded MVC test position differs between the analysed sessions: their
    %MVC and ratio rest on different maximal references, so a change between them may be the position's."""
    seen: dict[str, dict[str, list[str]]] = {}
    for s in sessions:
        for muscle, pos in ((extras.get(s["session_id"]) or {}).get("mvc_positions") or {}).items():
            seen.setdefault(muscle, {}).setdefault(str(pos), []).append(s["session_date"])
    out = []
    for muscle, by_pos in seen.items():
        if len(by_pos) > 1:
            which = "; ".join(f"{pos} ({', '.join(dates)})" for pos, dates in by_pos.items())
            out.append(f"MVC test position for {muscle.replace('_', ' ')} differs between sessions — {which}: "
                       "its %MVC and the ratio rest on different maximal references; compare like with like.")
    return out
