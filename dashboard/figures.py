"""Plotly figures shared by the Patient, Session and Report pages (pure: data in, figure out)."""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import data
from .numbers import finite, iqr_error_bars, with_iqr

MUSCLE_COLOURS = {"glute_max": "#c2255c", "hamstrings": "#1971c2", "glute_med": "#e67700", "erector_spinae": "#2f9e44"}
PHASE_COLOURS = {1: "rgba(255, 212, 59, 0.16)", 2: "rgba(116, 192, 252, 0.16)", 3: "rgba(140, 233, 154, 0.18)"}
PHASE_NAMES = {1: "Phase 1 · activation", 2: "Phase 2 · strengthening", 3: "Phase 3 · functional"}
RATIO_TRACE = "glute:hamstring ratio (median of reps)"
LATENCY_TRACE = "onset latency (median of reps)"


def colour(role_or_name: str | None, i: int = 0) -> str:
    fallback = ["#495057", "#7048e8", "#0c8599", "#e8590c"]
    return MUSCLE_COLOURS.get(role_or_name or "", fallback[i % len(fallback)])


def _shift(date: str, days: float) -> str:
    return (dt.date.fromisoformat(date) + dt.timedelta(days=days)).isoformat()


def _phase_bands(sessions: list[dict]) -> tuple[list[dict], list[dict]]:
    """Phase bands as layout shapes + labels spanning every row (plain dicts: ``add_vrect`` costs
    ≈ 90 ms a call on subplots, which alone would break the 300 ms page budget)."""
    shapes, notes = [], []
    for first, last, phase in data.phase_bands(sessions):
        x0, x1 = _shift(first, -3), _shift(last, 3)
        shapes.append(dict(type="rect", xref="x", yref="paper", x0=x0, x1=x1, y0=0, y1=1, layer="below",
                           line=dict(width=0), fillcolor=PHASE_COLOURS.get(phase, "#eee")))
        notes.append(dict(xref="x", yref="paper", x=x0, y=0.0, xanchor="left", yanchor="bottom", showarrow=False,
                          text=PHASE_NAMES.get(phase, f"Phase {phase}"), font=dict(size=11, color="#495057")))
    return shapes, notes


def _with_layout_items(fig: go.Figure, shapes: list[dict], notes: list[dict]) -> None:
    fig.update_layout(shapes=list(fig.layout.shapes or ()) + shapes,
                      annotations=list(fig.layout.annotations or ()) + notes)


@lru_cache(maxsize=4)
def _skeleton(kind: str) -> str:
    """The layout plotly's make_subplots computes (axis domains, titles), built once: make_subplots and
    graph-object validation cost ≈ 50 ms per figure, which the 300 ms page budget cannot afford."""
    if kind == "trend":
        fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.09, subplot_titles=(
            "Glute:hamstring ratio (%MVC / %MVC; bars: 1st–3rd quartile of reps)",
            "Onset latency, glute max − hamstrings (ms; below 0 = glutes first)"))
        fig.update_layout(height=560, margin=dict(l=60, r=20, t=40, b=40), legend=dict(orientation="h", y=-0.08),
                          plot_bgcolor="white", hovermode="closest", clickmode="event")
        fig.update_xaxes(type="date", showgrid=True, gridcolor="#f1f3f5")
        fig.update_yaxes(showgrid=True, gridcolor="#f1f3f5")
        fig.update_yaxes(title_text="ratio", row=1, col=1)
        fig.update_yaxes(title_text="ms", row=2, col=1)
    else:
        fig = make_subplots(specs=[[{"secondary_y": True}]])
        fig.update_layout(height=300, margin=dict(l=60, r=60, t=20, b=40), plot_bgcolor="white",
                          legend=dict(orientation="h", y=-0.2), barmode="overlay")
        fig.update_xaxes(type="date")
        fig.update_yaxes(title_text="% (reps, MVC)", range=[0, 105], secondary_y=False)
        fig.update_yaxes(title_text="pain 0–10", range=[0, 10.5], secondary_y=True)
    return json.dumps(fig.to_dict()["layout"])


def _figure(kind: str, traces: list[dict], shapes: list[dict], notes: list[dict]) -> dict:
    layout = json.loads(_skeleton(kind))
    layout["shapes"] = layout.get("shapes", []) + shapes
    layout["annotations"] = layout.get("annotations", []) + notes
    return {"data": traces, "layout": layout}


def trend_figure(trend: data.TaskTrend) -> dict:
    """Ratio (row 1) and onset latency (row 2) per session over calendar time, phase bands, reference
    ranges with their source, and the projection marked as an estimate (a plain plotly figure dict)."""
    ss = [s for s in trend.sessions if s["analysis_id"] is not None]
    dates = [s["session_date"] for s in ss]
    ids = [s["session_id"] for s in ss]
    ratio = [s["median_glute_hamstring_ratio"] for s in ss]
    lat = [s["median_onset_latency_ms"] for s in ss]
    traces = [
        dict(type="scatter", x=dates, y=ratio, mode="lines+markers", name=RATIO_TRACE, xaxis="x", yaxis="y",
             marker=dict(size=9, color="#c2255c"), line=dict(color="#c2255c"), customdata=ids,
             error_y=iqr_error_bars(ratio, [s["ratio_quartiles"] for s in ss]),
             text=[with_iqr(s["median_glute_hamstring_ratio"], s["ratio_iqr"], ".2f") for s in ss],
             hovertemplate="%{x}<br>ratio %{text}<extra>session %{customdata}</extra>"),
        dict(type="scatter", x=dates, y=lat, mode="lines+markers", name=LATENCY_TRACE, xaxis="x2", yaxis="y2",
             marker=dict(size=9, color="#1971c2"), line=dict(color="#1971c2"), customdata=ids,
             error_y=iqr_error_bars(lat, [s["latency_quartiles_ms"] for s in ss]),
             text=[with_iqr(s["median_onset_latency_ms"], s["latency_iqr_ms"], "+.0f", " ms") for s in ss],
             hovertemplate="%{x}<br>%{text}<extra>session %{customdata}</extra>"),
    ]
    shapes, notes = _phase_bands(trend.sessions)
    shapes.append(dict(type="line", xref="x2 domain", yref="y2", x0=0, x1=1, y0=0, y1=0,
                       line=dict(dash="dot", color="#868e96")))
    for ref in trend.references:
        if ref.metric != "glute_hamstring_ratio":
            continue
        shapes.append(dict(type="rect", xref="x domain", yref="y", x0=0, x1=1, y0=ref.low, y1=ref.high,
                           fillcolor="rgba(47, 158, 68, 0.12)", line=dict(width=0), layer="below"))
        notes.append(dict(xref="x domain", yref="y", x=1, y=ref.low, xanchor="right", yanchor="bottom",
                          showarrow=False, font=dict(size=10),
                          text=f"published range {ref.low:g}–{ref.high:g}: {ref.source.split(',')[0]}"))
    for p in trend.projections:
        if p.metric != "glute_hamstring_ratio" or p.already_reached:
            continue
        end = p.reached_date or _shift(p.fit_dates[-1], 90)
        y_end = p.fit_values[-1] + p.slope_per_week / 7 * (dt.date.fromisoformat(end) -
                                                           dt.date.fromisoformat(p.fit_dates[-1])).days
        traces.append(dict(type="scatter", x=[p.fit_dates[0], p.fit_dates[-1], end],
                           y=[p.fit_values[0], p.fit_values[-1], y_end], mode="lines", xaxis="x", yaxis="y",
                           line=dict(dash="dash", color="#868e96"), name="ESTIMATE: trend if it holds",
                           hoverinfo="skip"))
    return _figure("trend", traces, shapes, notes)


def context_figure(trend: data.TaskTrend) -> dict:
    """Glute-first fraction (%), pain (0–10) and glute max %MVC where normalised, per session."""
    ss = trend.sessions
    dates = [s["session_date"] for s in ss]
    gff = [None if finite(s["glute_first_fraction"]) is None else 100 * s["glute_first_fraction"] for s in ss]
    traces = [dict(type="bar", x=dates, y=gff, name="reps with glutes first (%)", xaxis="x", yaxis="y",
                   marker=dict(color="rgba(194,37,92,0.55)"), width=3 * 86400000)]
    gmax = [s["glute_max_pct_mvc"] for s in ss]
    shapes, notes = _phase_bands(trend.sessions)
    if any(v is not None for v in gmax):
        traces.append(dict(type="scatter", x=dates, y=gmax, name="glute max (%MVC)", mode="lines+markers",
                           xaxis="x", yaxis="y", line=dict(color="#5f3dc4")))
        for ref in trend.references:
            if ref.metric == "glute_max_pct_mvc":
                pad = 1 if ref.low == ref.high else 0  # a single published value still shows as a thin band
                shapes.append(dict(type="rect", xref="x domain", yref="y", x0=0, x1=1, y0=ref.low - pad,
                                   y1=ref.high + pad, fillcolor="rgba(95,61,196,0.12)", line=dict(width=0), layer="below"))
                notes.append(dict(xref="x domain", yref="y", x=1, y=ref.high + pad, xanchor="right",
                                  yanchor="bottom", showarrow=False, font=dict(size=10),
                                  text=f"GMax {ref.low:g}{'' if ref.low == ref.high else '–%g' % ref.high} %MVIC: "
                                       f"{ref.source.split('(')[0].strip()}"))
    traces.append(dict(type="scatter", x=dates, y=[s["pain"] for s in ss], name="pain (0–10)", mode="lines+markers",
                       xaxis="x", yaxis="y2", line=dict(color="#e8590c", dash="dot")))
    return _figure("context", traces, shapes, notes)


def _mark_traces(tr: dict) -> list[go.Scatter]:
    """Onsets (▲) and offsets (▼) of each channel on its envelope; a channel the traces lack, at the top."""
    env = tr["envelope"]["y"]
    ymax = max((float(v.max()) for v in env if v.size), default=1.0)
    role_of = dict(zip(tr["keys"], tr["roles"]))
    out = []
    for i, (key, marks) in enumerate(tr["marks"].items()):
        c = colour(role_of.get(key) or key, i)
        for kind, sym in (("onset", "triangle-up"), ("offset", "triangle-down")):
            ts, ys = marks[kind]
            if ts:
                out.append(go.Scatter(
                    x=ts, y=[ymax * 1.05 if y is None else y for y in ys], mode="markers",
                    marker=dict(symbol=sym, size=10, color=c, line=dict(width=1, color="white")),
                    name=f"{key} {kind}", hovertemplate=f"{key} {kind} %{{x:.3f}} s<extra></extra>"))
    return out


def session_figure(tr: dict, analysis: dict | None, *, title: str = "", show_raw: bool = True) -> go.Figure:
    """The stored signal (DC removed) and the envelope analyze detected the onsets on (min/max per pixel),
    with rep windows, and onsets (▲) and offsets (▼) on the envelope."""
    rows = ["raw", "envelope"] if show_raw else ["envelope"]
    unit = f" ({tr['unit']})" if tr["unit"] else ""
    titles = {"raw": f"Raw{unit}, DC removed",
              "envelope": f"Envelope{unit} the analysis detected the onsets on"}
    fig = make_subplots(rows=len(rows), cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=[titles[r] for r in rows])
    for r, kind in enumerate(rows, start=1):
        t, y = tr[kind]["t"], tr[kind]["y"]
        for i, (name, role) in enumerate(zip(tr["names"], tr["roles"])):
            fig.add_trace(go.Scattergl(x=t, y=y[i], mode="lines", name=name, legendgroup=name, showlegend=r == 1,
                                       line=dict(width=1, color=colour(role, i)), hoverinfo="skip"), row=r, col=1)
    reps = (analysis or {}).get("reps") or []
    _with_layout_items(fig, [
        dict(type="rect", xref="x", yref="paper", x0=rep["start_s"], x1=rep["end_s"], y0=0, y1=1, layer="below",
             line=dict(width=0), fillcolor="rgba(230,73,128,0.08)" if not rep.get("excluded") else "rgba(134,142,150,0.08)")
        for rep in reps if rep.get("start_s") is not None and rep.get("end_s") is not None], [])
    for m in _mark_traces(tr):
        fig.add_trace(m, row=len(rows), col=1)
    fig.update_layout(height=220 + 210 * len(rows), margin=dict(l=60, r=20, t=90, b=40),
                      plot_bgcolor="white",
                      legend=dict(orientation="h", x=0, y=1.0 + 45 / (210 * len(rows)), yanchor="bottom"),
                      title=dict(text=title, x=0.01, font=dict(size=14)) if title else None, uirevision="keep")
    fig.update_xaxes(showgrid=True, gridcolor="#f1f3f5")
    fig.update_xaxes(title_text="time (s)", row=len(rows), col=1)
    return fig
