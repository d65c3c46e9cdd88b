"""The command line's human-readable output (rich tables on stdout); ``--json`` prints the data instead."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from reengage.trend import MAX_SESSIONS_AHEAD


def _fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


MEASURE_LABELS = {"glute_hamstring_ratio": ("glute:hamstring ratio", ".2f"), "onset_latency_ms": ("onset latency, ms", "+.0f")}


def slope_line(key: str, v: dict) -> str:
    """One measure's slope per week with its 95 % interval and the sessions at that pace before the change
    exceeds the MDC95 (the Patient page's ESTIMATE line, in a sentence)."""
    label, spec = MEASURE_LABELS.get(key, (key, ".3g"))
    slope, half = v.get("slope_per_week"), v.get("slope_ci95_per_week")
    if slope is None or half is None:
        return f"slope of {label}: needs three analysed sessions on two dates"
    spec = "+" + spec.lstrip("+").replace(".2f", ".3f").replace(".0f", ".1f")  # a week's slope is a small number
    text = f"slope of {label}: {slope:{spec}} per week (95 % interval ±{half:{spec.lstrip('+')}})"
    more = v.get("sessions_to_exceed_noise")
    if abs(slope) <= half:
        return text + "; not different from no change"
    if more is None:
        return text + f"; the change would not exceed the MDC95 within {MAX_SESSIONS_AHEAD} more sessions"
    if more == 0:
        return text + "; the change already exceeds the MDC95"
    return text + f"; about {more} more session{'s' if more != 1 else ''} at this slope before it exceeds the MDC95"


NOISE_WORDS = {"published": "the published between-day noise", "patient": "this patient's session-to-session scatter",
               "test-retest": "this patient's test-retest pairs",
               "cohort": "the clinic's patients' session-to-session scatter"}


def noise_words(source: str | None, basis: dict) -> str:
    """Where a trend's between-session noise came from, then what it rests on (``noise_source``, ``noise_basis``)."""
    if not source:
        return "nothing (too few sessions)"
    words = NOISE_WORDS.get(source, source)
    counts = [f"{basis[k]} {k if basis[k] != 1 else k.rstrip('s')}" for k in ("pairs", "patients", "sessions")
              if basis.get(k) is not None]
    if source == "test-retest" and basis.get("prior_pairs"):
        counts.append(f"pooled with the published figure as {basis['prior_pairs']} pairs")
    sem = f"SEM {basis['sem']:.3g}{' ' if basis.get('unit') == 'ms' else ''}{basis.get('unit', '')}" \
        if basis.get("sem") is not None else ""
    detail = ", ".join(c for c in [*counts, sem] if c)
    return f"{words}; rests on {detail}" if detail else words


def print_trend(doc: dict, out: Console | None = None) -> None:
    """``reengage trend``: one row per session, then per measure the change and the verdict."""
    out = out or Console()
    t = Table(title=f"{doc['subject']}: {doc['task'].replace('_', ' ')}")
    for col in ("session", "date", "phase", "pain", "reps", "ratio", "latency ms"):
        t.add_column(col, justify="right" if col not in ("date",) else "left")
    for s in doc["sessions"]:
        t.add_row(str(s["session_id"]), s["date"], _fmt(s["phase"], "d"), _fmt(s["pain"], "g"), _fmt(s["reps"], "d"),
                  _fmt(s["glute_hamstring_ratio"], ".2f"), _fmt(s["onset_latency_ms"], "+.0f"))
    out.print(t)
    m = Table(title="change since the first session")
    for col in ("measure", "first", "latest", "change", "MDC95", "verdict"):
        m.add_column(col)
    noise: dict[str, tuple[str | None, dict]] = {}
    for key, v in doc["measures"].items():
        label, spec = MEASURE_LABELS.get(key, (key, ".3g"))
        noise[label] = (v["noise_source"], v.get("noise_basis") or {})
        m.add_row(label, _fmt(v["first"], spec), _fmt(v["latest"], spec),
                  _fmt(v["change"], spec if spec.startswith("+") else "+" + spec), _fmt(v["mdc95"], spec.lstrip("+")),
                  v["verdict"])
    out.print(m)
    out.print("better: a higher ratio; a more negative latency (glutes first)", markup=False, highlight=False)
    for key, v in doc["measures"].items():
        out.print(slope_line(key, v), markup=False, highlight=False, soft_wrap=True)  # one line for grep
    for label, (source, basis) in noise.items():  # one line per measure: which noise judged its change
        out.print(f"noise, {label}: MDC95 from {noise_words(source, basis)}"
                  "; a change within it is 'no detectable change'", markup=False, highlight=False, soft_wrap=True)
    for n in doc.get("notes") or []:
        out.print(f"note: {n}", markup=False, highlight=False, style="yellow")


def print_analysis(result: dict, out: Console | None = None) -> None:
    """``reengage analyze`` without ``--json``: reps counted from 1 (as the dashboard does) and whether the
    numbers are normalised to MVC."""
    out = out or Console()
    s = result["summary"]
    normalised = result.get("normalization") == "mvc"
    t = Table(title=f"{s['reps']} reps, " + ("normalised to MVC" if normalised else "not normalised (no MVC reference)"))
    for col in ("rep", "start s", "latency ms", "order", "ratio" if normalised else "ratio (raw amplitudes)"):
        t.add_column(col)
    for k, r in enumerate(result["reps"]):
        rep = str(int(r.get("index", k)) + 1)
        if r.get("excluded"):
            rep += " (excluded)"
        t.add_row(rep, f"{r['start_s']:.2f}", _fmt(r.get("onset_latency_ms"), "+.0f"),
                  " → ".join(r.get("firing_order") or []), _fmt(r.get("glute_hamstring_ratio"), ".2f"))
    out.print(t)
    out.print(
        f"median latency {_fmt(s.get('median_onset_latency_ms'), '+.0f')} ms, "
        f"median ratio {_fmt(s.get('median_glute_hamstring_ratio'), '.2f')}, "
        f"glute first in {_fmt(s.get('glute_first_fraction'), '.0%')} of reps"
    )
    if not normalised:
        out.print("not normalised: no MVC trials in the recording and no --mvc values, so the ratio compares raw "
                  "amplitudes (its size depends on electrode placement and gain); give --mvc MUSCLE=VALUE to normalise",
                  markup=False, highlight=False)


def session_line(meta: dict) -> str:
    """Subject, exercise, date, phase and pain of a recording, from its metadata ('' when it has none)."""
    parts = []
    for key, label in (("subject", "subject"), ("task", "task"), ("session_date", "date"), ("phase", "phase"),
                       ("pain", "pain")):
        value = meta.get(key)
        if value is None or value == "":
            continue
        is_num = isinstance(value, (int, float)) and not isinstance(value, bool)
        parts.append(f"{label} {value:g}/10" if key == "pain" and is_num else f"{label} {value}")
    if parts and "session_date" not in meta and meta.get("started_utc"):
        parts.append(f"started {meta['started_utc']}")
    return "  ".join(parts)
