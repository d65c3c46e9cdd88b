"""Plotly figures shared by the Patient, Session and Report pages (pure: data in, figure out)."""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import data

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


def _err(meds, q1s, q3s):
    plus = [None if m is None or q is None else q - m for m, q in zip(meds, q3s)]
    minus = [None if m is None or q is None else m - q for m, q in zip(meds, q1s)]
    return dict(type="data", symmetric=False, array=plus, arrayminus=minus, thickness=1, width=3)


def _phase_bands(fig: go.Figure, sessions: list[dict]) -> None:
    for first, last, phase in data.phase_bands(sessions):
        fig.add_vrect(x0=_shift(first, -3), x1=_shift(last, 3), fillcolor=PHASE_COLOURS.get(phase, "#eee"),
                      line_width=0, layer="below", annotation_text=PHASE_NAMES.get(phase, f"Phase {phase}"),
                      annotation_position="top left", annotation_font_size=11)


def trend_figure(trend: data.TaskTrend, *, static: bool = False) -> go.Figure:
    """Ratio (row 1) and onset latency (row 2) per session over calendar time, phase bands, reference
    ranges with their source, and the projection marked as an estimate."""
    ss = [s for s in trend.sessions if s["analysis_id"] is not None]
    dates = [s["session_date"] for s in ss]
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.09,
        subplot_titles=("Glute:hamstring ratio (%MVC / %MVC; bars: IQR of reps)",
                        "Onset latency, glute max − hamstrings (ms; below 0 = glutes first)"),
    )
    ratio = [s["median_glute_hamstring_ratio"] for s in ss]
    fig.add_trace(go.Scatter(
        x=dates, y=ratio, mode="lines+markers", name=RATIO_TRACE, marker=dict(size=9, color="#c2255c"),
        line=dict(color="#c2255c"), error_y=_err(ratio, [s["ratio_q1"] for s in ss], [s["ratio_q3"] for s in ss]),
        customdata=[s["session_id"] for s in ss],
        hovertemplate="%{x}<br>ratio %{y:.2f}<extra>session %{customdata}</extra>",
    ), row=1, col=1)
    lat = [s["median_onset_latency_ms"] for s in ss]
    fig.add_trace(go.Scatter(
        x=dates, y=lat, mode="lines+markers", name=LATENCY_TRACE, marker=dict(size=9, color="#1971c2"),
        line=dict(color="#1971c2"), error_y=_err(lat, [s["latency_q1"] for s in ss], [s["latency_q3"] for s in ss]),
        customdata=[s["session_id"] for s in ss],
        hovertemplate="%{x}<br>%{y:.0f} ms<extra>session %{customdata}</extra>",
    ), row=2, col=1)
    fig.add_hline(y=0, line_dash="dot", line_color="#868e96", row=2, col=1)
    for ref in trend.references:
        if ref.metric != "glute_hamstring_ratio":
            continue
        fig.add_hrect(y0=ref.low, y1=ref.high, fillcolor="rgba(47, 158, 68, 0.12)", line_width=0, row=1, col=1,
                      annotation_text=f"published range {ref.low:g}–{ref.high:g}: {ref.source.split(',')[0]}",
                      annotation_position="bottom right", annotation_font_size=10)
    for p in trend.projections:
        if p.metric != "glute_hamstring_ratio" or p.already_reached:
            continue
        end = p.reached_date or _shift(p.fit_dates[-1], 90)
        y_end = p.fit_values[-1] + p.slope_per_week / 7 * (dt.date.fromisoformat(end) -
                                                           dt.date.fromisoformat(p.fit_dates[-1])).days
        fig.add_trace(go.Scatter(
            x=[p.fit_dates[0], p.fit_dates[-1], end], y=[p.fit_values[0], p.fit_values[-1], y_end],
            mode="lines", line=dict(dash="dash", color="#868e96"), name="ESTIMATE: trend if it holds",
            hoverinfo="skip",
        ), row=1, col=1)
    _phase_bands(fig, trend.sessions)
    fig.update_layout(
        height=560, margin=dict(l=60, r=20, t=40, b=40), legend=dict(orientation="h", y=-0.08),
        plot_bgcolor="white", hovermode="closest", clickmode="event",
    )
    fig.update_xaxes(type="date", showgrid=True, gridcolor="#f1f3f5")
    fig.update_yaxes(showgrid=True, gridcolor="#f1f3f5")
    fig.update_yaxes(title_text="ratio", row=1, col=1)
    fig.update_yaxes(title_text="ms", row=2, col=1)
    return fig


def context_figure(trend: data.TaskTrend) -> go.Figure:
    """Glute-first fraction (%), pain (0–10) and glute max %MVC where normalised, per session."""
    ss = [s for s in trend.sessions]
    dates = [s["session_date"] for s in ss]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    gff = [None if s["glute_first_fraction"] is None else 100 * s["glute_first_fraction"] for s in ss]
    fig.add_trace(go.Bar(x=dates, y=gff, name="reps with glutes first (%)", marker_color="rgba(194,37,92,0.55)",
                         width=3 * 86400000), secondary_y=False)
    gmax = [s["glute_max_pct_mvc"] for s in ss]
    if any(v is not None for v in gmax):
        fig.add_trace(go.Scatter(x=dates, y=gmax, name="glute max (%MVC)", mode="lines+markers",
                                 line=dict(color="#5f3dc4")), secondary_y=False)
        for ref in trend.references:
            if ref.metric == "glute_max_pct_mvc":
                fig.add_hrect(y0=ref.low - (1 if ref.low == ref.high else 0), y1=ref.high + (1 if ref.low == ref.high else 0),
                              fillcolor="rgba(95,61,196,0.10)", line_width=0,
                              annotation_text=f"GMax {ref.low:g}{'' if ref.low == ref.high else '–%g' % ref.high} %MVIC: "
                                              f"{ref.source.split('(')[0].strip()}",
                              annotation_position="top right", annotation_font_size=10)
    pain = [s["pain"] for s in ss]
    fig.add_trace(go.Scatter(x=dates, y=pain, name="pain (0–10)", mode="lines+markers",
                             line=dict(color="#e8590c", dash="dot")), secondary_y=True)
    _phase_bands(fig, trend.sessions)
    fig.update_layout(height=300, margin=dict(l=60, r=60, t=20, b=40), plot_bgcolor="white",
                      legend=dict(orientation="h", y=-0.2), barmode="overlay")
    fig.update_xaxes(type="date")
    fig.update_yaxes(title_text="% (reps, MVC)", range=[0, 105], secondary_y=False)
    fig.update_yaxes(title_text="pain 0–10", range=[0, 10.5], secondary_y=True)
    return fig


def session_figure(tr: dict, analysis: dict | None, *, title: str = "", show_raw: bool = True) -> go.Figure:
    """Raw, cleaned and envelope traces (min/max per pixel) with rep windows, onsets (▲) and offsets (▼)."""
    rows = ["raw", "clean", "envelope"] if show_raw else ["envelope"]
    titles = {"raw": f"Raw ({tr['unit']}, DC removed)", "clean": "Cleaned (20–450 Hz band-pass, mains notched)",
              "envelope": "Envelope (100 ms moving RMS)"}
    fig = make_subplots(rows=len(rows), cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=[titles[r] for r in rows])
    for r, kind in enumerate(rows, start=1):
        t, y = tr[kind]["t"], tr[kind]["y"]
        for i, (name, role) in enumerate(zip(tr["names"], tr["roles"])):
            fig.add_trace(go.Scattergl(x=t, y=y[i], mode="lines", name=name, legendgroup=name, showlegend=r == 1,
                                       line=dict(width=1, color=colour(role, i)), hoverinfo="skip"), row=r, col=1)
    reps = (analysis or {}).get("reps") or []
    env_row = len(rows)
    for rep in reps:
        if rep.get("start_s") is not None and rep.get("end_s") is not None:
            fig.add_vrect(x0=rep["start_s"], x1=rep["end_s"], fillcolor="rgba(134,142,150,0.10)", line_width=0,
                          layer="below")
    by_role: dict[str, dict[str, list]] = {}
    for rep in reps:
        for kind, key in (("onset", "onset_s"), ("offset", "offset_s")):
            for role, t_s in (rep.get(key) or {}).items():
                if t_s is not None:
                    by_role.setdefault(role, {"onset": [], "offset": []})[kind].append(t_s)
    ymax = max((float(v.max()) for v in tr["envelope"]["y"] if v.size), default=1.0) if len(tr["envelope"]["y"]) else 1.0
    for i, (role, marks) in enumerate(by_role.items()):
        c = colour(role, i)
        for kind, sym in (("onset", "triangle-up"), ("offset", "triangle-down")):
            if marks[kind]:
                fig.add_trace(go.Scatter(
                    x=marks[kind], y=[ymax * (1.05 + 0.07 * i)] * len(marks[kind]), mode="markers",
                    marker=dict(symbol=sym, size=10, color=c), name=f"{role} {kind}",
                    hovertemplate=f"{role} {kind} %{{x:.3f}} s<extra></extra>",
                ), row=env_row, col=1)
    fig.update_layout(height=200 + 190 * len(rows), margin=dict(l=60, r=20, t=50 if title else 30, b=40),
                      plot_bgcolor="white", legend=dict(orientation="h", y=1.08 if title else 1.04),
                      title=dict(text=title, x=0.01, font=dict(size=14)) if title else None, uirevision="keep")
    fig.update_xaxes(showgrid=True, gridcolor="#f1f3f5")
    fig.update_xaxes(title_text="time (s)", row=len(rows), col=1)
    return fig
