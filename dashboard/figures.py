"""Plotly figures shared by the Patient, Session and Report pages (pure: data in, figure out)."""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import data
from reengage.reference_values import LATENCY, PCT, RATIO, reference_points

from .numbers import finite, iqr_error_bars, with_iqr

MUSCLE_COLOURS = {"glute_max": "#c2255c", "hamstrings": "#1971c2", "glute_med": "#e67700", "erector_spinae": "#2f9e44"}
PHASE_COLOURS = {1: "rgba(255, 212, 59, 0.16)", 2: "rgba(116, 192, 252, 0.16)", 3: "rgba(140, 233, 154, 0.18)"}
PHASE_NAMES = {1: "Phase 1 · activation", 2: "Phase 2 · strengthening", 3: "Phase 3 · functional"}
RATIO_TRACE = "glute:hamstring ratio (median of reps)"
LATENCY_TRACE = "onset latency (median of reps)"


def colour(role_or_name: str | None, i: int = 0) -> str:
    fallback = ["#495057", "#7048e8", "#0c8599", "#e8590c"]
    return MUSCLE_COLOURS.get(role_or_name or "", fallback[i % len(fallback)])


# ------------------------------------------------------------------------------------ patient page
# One figure, four rows on one shared time axis (plotly "matches"), so a date and a phase band sit at the
# same x in every row, zooming one row zooms all, and nothing depends on two figures' margins agreeing.
TREND_ROWS = ("ratio", "latency", "percent", "pain")
TREND_AXIS_TITLES = {"ratio": "glute:hamstring<br>ratio", "latency": "onset latency, ms<br>(below 0 = glutes first)",
                     "percent": "% of reps<br>or %MVC", "pain": "pain<br>0–10"}
TREND_HEIGHT_PX = 920
BAND_MDC = (134, 142, 150)  # RGB; the band at 15 % opacity


def _axes(row: str) -> tuple[str, str]:
    """The (xaxis, yaxis) ids of a row of the patient figure ("x", "y" for the first row)."""
    k = TREND_ROWS.index(row) + 1
    return ("x", "y") if k == 1 else (f"x{k}", f"y{k}")


def _shift(date: str, days: float) -> str:
    return (dt.date.fromisoformat(date) + dt.timedelta(days=days)).isoformat()


def date_range(dates: list[str]) -> list[str]:
    """The x range of the patient figure: every session with room around it; a single session sits in the
    middle of four weeks rather than on an axis zoomed into hours."""
    first, last = min(dates), max(dates)
    span = (dt.date.fromisoformat(last) - dt.date.fromisoformat(first)).days
    pad = 14 if span == 0 else max(7, round(0.04 * span))
    return [_shift(first, -pad), _shift(last, pad)]


def _phase_bands(sessions: list[dict]) -> tuple[list[dict], list[dict]]:
    """Phase bands as layout shapes spanning every row, named above the top row, clear of the data
    (plain dicts: ``add_vrect`` costs ≈ 90 ms a call on subplots, which alone would break the 300 ms page
    budget)."""
    shapes, notes = [], []
    for first, last, phase in data.phase_bands(sessions):
        x0, x1 = _shift(first, -3), _shift(last, 3)
        shapes.append(dict(type="rect", xref="x", yref="paper", x0=x0, x1=x1, y0=0, y1=1, layer="below",
                           line=dict(width=0), fillcolor=PHASE_COLOURS.get(phase, "#eee"), name=f"phase {phase}"))
        mid = _shift(first, (dt.date.fromisoformat(last) - dt.date.fromisoformat(first)).days / 2)
        notes.append(dict(xref="x", yref="paper", x=mid, y=1, xanchor="center", yanchor="bottom", showarrow=False,
                          text=PHASE_NAMES.get(phase, f"Phase {phase}"), font=dict(size=12, color="#495057"),
                          name="phase"))
    return shapes, notes


@lru_cache(maxsize=1)
def _skeleton() -> str:
    """The layout plotly's make_subplots computes (axis domains, titles), built once: make_subplots and
    graph-object validation cost ≈ 50 ms per figure, which the 300 ms page budget cannot afford."""
    fig = make_subplots(rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.035, row_heights=[0.32, 0.3, 0.24, 0.14])
    fig.update_layout(height=TREND_HEIGHT_PX, margin=dict(l=110, r=20, t=56, b=40), plot_bgcolor="white",
                      barmode="overlay", legend=dict(x=1.01, y=1, yanchor="top", font=dict(size=12)),
                      hovermode="closest", clickmode="event")
    fig.update_xaxes(type="date", showgrid=True, gridcolor="#e9ecef")
    fig.update_yaxes(showgrid=True, gridcolor="#f1f3f5", title_font=dict(size=12))
    for k, row in enumerate(TREND_ROWS, start=1):
        fig.update_yaxes(title_text=TREND_AXIS_TITLES[row], row=k, col=1)
    # A ratio axis from 0: a change of 0.05 must not look like a doubling.
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_yaxes(range=[0, 105], row=3, col=1)
    fig.update_yaxes(range=[0, 10.5], dtick=2, row=4, col=1)
    return json.dumps(fig.to_dict()["layout"])


def _figure(traces: list[dict], shapes: list[dict], notes: list[dict]) -> dict:
    layout = json.loads(_skeleton())
    layout["shapes"] = layout.get("shapes", []) + shapes
    layout["annotations"] = layout.get("annotations", []) + notes
    return {"data": traces, "layout": layout}


def _band(row: str, low: float, high: float, rgb: tuple, name: str, legend: str) -> tuple[dict, dict]:
    """A horizontal band across a row (a layout shape) and its legend entry (a trace with no points):
    the legend names it in full, so no label sits on the data or runs off the chart."""
    xa, ya = _axes(row)
    shape = dict(type="rect", xref=f"{xa} domain", yref=ya, x0=0, x1=1, y0=low, y1=high, fillcolor="rgba(%d, %d, %d, 0.15)" % rgb,
                 line=dict(width=0), layer="below", name=name)
    entry = dict(type="scatter", x=[None], y=[None], mode="markers", xaxis=xa, yaxis=ya, name=legend,
                 marker=dict(symbol="square", size=14, color="rgba(%d, %d, %d, 0.45)" % rgb), hoverinfo="skip")
    return shape, entry


def _mdc_band(row: str, first, mdc, spec: str, unit: str) -> tuple[list[dict], list[dict]]:
    """First session ± MDC95: a later point outside it is "a real change" in the findings' words."""
    if finite(first) is None or finite(mdc) is None:
        return [], []
    # A ratio is never negative: the band stops at 0 (and the axis, which starts at 0, stays there).
    low = max(first - mdc, 0.0) if row == "ratio" else first - mdc
    source = getattr(mdc, "source", None)
    shape, entry = _band(row, low, first + mdc, BAND_MDC, "mdc",
                         f"{row}: first session ± between-session MDC95 ({mdc:{spec}}{unit}"
                         f"{', ' + source if source else ''})")
    return [shape], [entry]


def _trend_traces(ss: list[dict]) -> list[dict]:
    ids = [s["session_id"] for s in ss]
    dates = [s["session_date"] for s in ss]
    ratio = [s["median_glute_hamstring_ratio"] for s in ss]
    lat = [s["median_onset_latency_ms"] for s in ss]
    xr, yr = _axes("ratio")
    xl, yl = _axes("latency")
    return [
        dict(type="scatter", x=dates, y=ratio, mode="lines+markers", name=RATIO_TRACE, xaxis=xr, yaxis=yr,
             marker=dict(size=9, color="#c2255c"), line=dict(color="#c2255c"), customdata=ids,
             error_y=iqr_error_bars(ratio, [s["ratio_quartiles"] for s in ss]),
             text=[with_iqr(s["median_glute_hamstring_ratio"], s["ratio_iqr"], ".2f") for s in ss],
             hovertemplate="%{x}<br>ratio %{text}<extra>session %{customdata}</extra>"),
        dict(type="scatter", x=dates, y=lat, mode="lines+markers", name=LATENCY_TRACE, xaxis=xl, yaxis=yl,
             marker=dict(size=9, color="#1971c2"), line=dict(color="#1971c2"), customdata=ids,
             error_y=iqr_error_bars(lat, [s["latency_quartiles_ms"] for s in ss]),
             text=[with_iqr(s["median_onset_latency_ms"], s["latency_iqr_ms"], "+.0f", " ms") for s in ss],
             hovertemplate="%{x}<br>%{text}<extra>session %{customdata}</extra>"),
    ]


def _context_traces(trend: data.TaskTrend) -> tuple[list[dict], list[dict]]:
    """Rows 3 and 4: glute-first fraction (bars), glute max and hamstrings %MVC (with the published points); pain."""
    ss = trend.sessions
    dates, ids = [s["session_date"] for s in ss], [s["session_id"] for s in ss]
    xp, yp = _axes("percent")
    gff = [None if finite(s["glute_first_fraction"]) is None else 100 * s["glute_first_fraction"] for s in ss]
    traces = [dict(type="bar", x=dates, y=gff, name="reps with glutes first (%)", xaxis=xp, yaxis=yp,
                   marker=dict(color="rgba(194,37,92,0.45)"), width=3 * 86400000, customdata=ids,
                   hovertemplate="%{x}<br>glutes first in %{y:.0f} % of reps<extra>session %{customdata}</extra>")]
    shapes = []
    gmax = [s["glute_max_pct_mvc"] for s in ss]
    if any(v is not None for v in gmax):
        traces.append(dict(type="scatter", x=dates, y=gmax, name="glute max (%MVC, median of reps)",
                           mode="lines+markers", xaxis=xp, yaxis=yp, line=dict(color="#5f3dc4"), customdata=ids,
                           hovertemplate="%{x}<br>glute max %{y:.1f} %MVC<extra>session %{customdata}</extra>"))
    ham = [s.get("hamstrings_pct_mvc") for s in ss]
    if any(v is not None for v in ham):
        # Beside the glutes: cueing raises both muscles, so a flat ratio can hide glutes switching on.
        traces.append(dict(type="scatter", x=dates, y=ham, name="hamstrings (%MVC, median of reps)",
                           mode="lines+markers", xaxis=xp, yaxis=yp, line=dict(color="#1c7ed6", dash="dash"),
                           customdata=ids, marker=dict(symbol="square"),
                           hovertemplate="%{x}<br>hamstrings %{y:.1f} %MVC<extra>session %{customdata}</extra>"))
    if any(v is not None for v in gmax + ham):  # %MVIC points only beside the patient's own %MVC
        traces += _reference_traces(trend.task, "percent", trend.sessions)
    xn, yn = _axes("pain")
    traces.append(dict(type="scatter", x=dates, y=[s["pain"] for s in ss], name="pain (0–10)", mode="lines+markers",
                       xaxis=xn, yaxis=yn, line=dict(color="#e8590c", dash="dot"), customdata=ids,
                       hovertemplate="%{x}<br>pain %{y:g}<extra>session %{customdata}</extra>"))
    return traces, shapes


REFERENCE_TRACE = "published values (single studies: points, not a range)"
_ROW_POINTS = {"ratio": [(RATIO, None, "#2b8a3e")], "latency": [(LATENCY, None, "#2b8a3e")],
               "percent": [(PCT, "glute_max", "#5f3dc4"), (PCT, "hamstrings", "#1c7ed6")]}
# Labels of points closer than this on their row's axis would print over each other: the nearest share one label.
_LABEL_GAP = {"ratio": 0.12, "latency": 20.0, "percent": 12.0}


def _point_labels(values: list[float], shorts: list[str], gap: float) -> list[str]:
    """One label per cluster of points closer than ``gap`` (the names joined, on the lowest point); "" for the
    rest of the cluster, whose names stay on hover."""
    labels = [""] * len(values)
    order = sorted(range(len(values)), key=lambda i: values[i])
    first = None
    for k, i in enumerate(order):
        if first is None or values[i] - values[order[k - 1]] >= gap:
            first = i
            labels[i] = shorts[i]
        else:
            labels[first] += "; " + shorts[i]
    return labels


def reference_x(sessions: list[dict]) -> str | None:
    """Where the published points sit: a column a week after the last session, apart from the patient's own."""
    dates = [s["session_date"] for s in sessions]
    return _shift(max(dates), 7) if dates else None


def _reference_traces(task: str, row: str, sessions: list[dict]) -> list[dict]:
    """The published values of the exercise (reengage.reference_values) on ``row`` as labelled markers, each
    with its variant, population and source on hover — never a shaded band: they are other people's group
    values in one variant each, not a normal range."""
    x = reference_x(sessions)
    out = []
    xa, ya = _axes(row)
    for k, (metric, muscle, col) in enumerate(_ROW_POINTS[row]):
        pts = reference_points(task, metric, muscle)
        if not pts or x is None:
            continue
        values = [p.value for p in pts]
        who = f" — {muscle.replace('_', ' ')} %MVIC" if muscle else f" — {row.replace('latency', 'onset latency')}"
        # a second muscle's points stand in their own column, three weeks on, so the two sets of labels do not mix
        out.append(dict(type="scatter", x=[_shift(x, 21 * k)] * len(pts), y=values, mode="markers+text",
                        name=f"{REFERENCE_TRACE}{who}", xaxis=xa, yaxis=ya,
                        text=_point_labels(values, [p.short for p in pts], _LABEL_GAP[row]),
                        textposition="middle right", textfont=dict(size=10, color=col),
                        marker=dict(symbol="diamond-open", size=10, color=col, line=dict(width=2)),
                        hovertext=[p.label for p in pts], hoverinfo="text", meta="reference"))
    return out


def _projection_traces(trend: data.TaskTrend) -> list[dict]:
    """The least-squares line over the sessions so far, on its measure's row; never extended to a date ahead."""
    out = []
    for p in trend.projections:
        xa, ya = _axes("ratio" if p.metric == "glute_hamstring_ratio" else "latency")
        out.append(dict(type="scatter", x=list(p.fit_dates), y=list(p.fit_values), mode="lines", xaxis=xa, yaxis=ya,
                        line=dict(dash="dash", color="#868e96"), hoverinfo="skip",
                        name=f"ESTIMATE: least-squares slope {p.slope_per_week:+.3g} per week"))
    return out


def trend_figure(trend: data.TaskTrend) -> dict:
    """One exercise's course on one time axis (a plain plotly figure dict): ratio (from 0), onset latency,
    glute-first fraction with glute max %MVC, and pain, per session; phase bands across all rows; the
    first session ± MDC95 band; published values as labelled points with their source; the projection
    marked as an estimate."""
    ss = [s for s in trend.sessions if s["analysis_id"] is not None]
    traces = _trend_traces(ss)
    shapes, notes = _phase_bands(trend.sessions)
    xl, yl = _axes("latency")
    shapes.append(dict(type="line", xref=f"{xl} domain", yref=yl, x0=0, x1=1, y0=0, y1=0,
                       line=dict(dash="dot", color="#868e96"), name="zero"))
    first = ss[0] if ss else {}
    for row, key, mdc, spec, unit in (("ratio", "median_glute_hamstring_ratio", trend.mdc_ratio, ".2f", ""),
                                      ("latency", "median_onset_latency_ms", trend.mdc_latency_ms, ".0f", " ms")):
        s, e = _mdc_band(row, first.get(key), mdc, spec, unit)
        shapes += s
        traces += e
    for row in ("ratio", "latency"):
        traces += _reference_traces(trend.task, row, trend.sessions)
    traces += _projection_traces(trend)
    context, context_shapes = _context_traces(trend)
    traces += context
    shapes += context_shapes
    fig = _figure(traces, shapes, notes)
    ends = [s["session_date"] for s in trend.sessions] + [t["x"][-1] for t in traces if t["name"].startswith("ESTIMATE")]
    if any(t.get("meta") == "reference" for t in traces):
        ends.append(_shift(reference_x(trend.sessions), 56))  # room for two columns of points and their labels
    if ends:
        for k in range(1, len(TREND_ROWS) + 1):
            fig["layout"][f"xaxis{'' if k == 1 else k}"]["range"] = date_range(ends)
    return fig


def _with_layout_items(fig: go.Figure, shapes: list[dict], notes: list[dict]) -> None:
    fig.update_layout(shapes=list(fig.layout.shapes or ()) + shapes,
                      annotations=list(fig.layout.annotations or ()) + notes)


def _mark_traces(tr: dict, row_of_key: dict[str, int]) -> list[tuple[int, dict]]:
    """Onsets (▲) and offsets (▼) of each channel on its own envelope row, as (row, trace); a channel the
    traces lack is left out (its times are in the reps table)."""
    role_of = dict(zip(tr["keys"], tr["roles"]))
    out = []
    for i, (key, marks) in enumerate(tr["marks"].items()):
        if key not in row_of_key:
            continue
        c = colour(role_of.get(key) or key, i)
        for kind, sym in (("onset", "triangle-up"), ("offset", "triangle-down")):
            ts, ys = marks[kind]
            if ts:
                out.append((row_of_key[key], dict(
                    type="scatter", x=ts, y=ys, mode="markers", name=f"{key} {kind}", legendgroup=f"{key} {kind}",
                    marker=dict(symbol=sym, size=11, color=c, line=dict(width=1, color="white")),
                    hovertemplate=f"{key} {kind} %{{x:.3f}} s<extra></extra>")))
    return out


def _protocol_items(tr: dict, analysis: dict | None) -> tuple[list[dict], list[dict]]:
    """MVC trials and reps as bands across every row, named above the top row (MVC trials from the
    recording's events, reps and their exclusion from the analysis)."""
    shapes, notes = [], []
    for ev in tr.get("events") or []:
        if ev["kind"] != "mvc":
            continue
        shapes.append(dict(type="rect", xref="x", yref="paper", x0=ev["start_s"], x1=ev["end_s"], y0=0, y1=1,
                           layer="below", line=dict(width=0), fillcolor="rgba(112, 72, 232, 0.10)", name="mvc"))
        notes.append(dict(xref="x", yref="paper", x=(ev["start_s"] + ev["end_s"]) / 2, y=1, yanchor="bottom",
                          showarrow=False, text=ev["label"], font=dict(size=11, color="#5f3dc4"), name="mvc"))
    for k, rep in enumerate((analysis or {}).get("reps") or []):
        if finite(rep.get("start_s")) is None or finite(rep.get("end_s")) is None:
            continue
        excluded = bool(rep.get("excluded"))
        shapes.append(dict(type="rect", xref="x", yref="paper", x0=rep["start_s"], x1=rep["end_s"], y0=0, y1=1,
                           layer="below", line=dict(width=0), name="rep",
                           fillcolor="rgba(134,142,150,0.10)" if excluded else "rgba(230,73,128,0.09)"))
        notes.append(dict(xref="x", yref="paper", x=(rep["start_s"] + rep["end_s"]) / 2, y=1, yanchor="bottom",
                          showarrow=False, text=str(int(rep.get("index", k)) + 1), name="rep",
                          font=dict(size=10, color="#adb5bd" if excluded else "#a61e4d")))
    return shapes, notes


def session_figure(tr: dict, analysis: dict | None, *, title: str = "", show_raw: bool = True) -> go.Figure:
    """One row per channel and kind, on one time axis: the stored signal (DC removed), then the envelope
    analyze detected the onsets on, with onsets (▲) and offsets (▼) on it; MVC trials and reps (numbered as
    in the table) as bands across all rows."""
    unit = tr["unit"] or "unit"
    kinds = ["raw", "envelope"] if show_raw else ["envelope"]
    rows = [(kind, i) for kind in kinds for i in range(len(tr["names"]))]
    fig = make_subplots(rows=len(rows), cols=1, shared_xaxes=True, vertical_spacing=0.025)
    row_of_key = {}
    for r, (kind, i) in enumerate(rows, start=1):
        name, role = tr["names"][i], tr["roles"][i]
        fig.add_trace(go.Scattergl(x=tr[kind]["t"], y=tr[kind]["y"][i], mode="lines", name=name, legendgroup=name,
                                   showlegend=kind == kinds[0], line=dict(width=1, color=colour(role, i)),
                                   hoverinfo="skip"), row=r, col=1)
        axis_title = (f"{name}<br>raw, {unit}" if kind == "raw" else
                      f"{name}<br>envelope, {unit} RMS")
        fig.update_yaxes(title_text=axis_title, title_font=dict(size=11), row=r, col=1)
        if kind == "envelope":
            row_of_key[tr["keys"][i]] = r
    for r, trace in _mark_traces(tr, row_of_key):
        fig.add_trace(trace, row=r, col=1)
    shapes, notes = _protocol_items(tr, analysis)
    _with_layout_items(fig, shapes, notes)
    top, bottom = (80 if title else 50), 100
    height = top + bottom + 150 * len(rows)
    fig.update_layout(height=height, margin=dict(l=90, r=20, t=top, b=bottom), plot_bgcolor="white",
                      # Below the time axis's title, clear of the MVC and rep labels above the top row.
                      legend=dict(orientation="h", x=0, y=-55 / (height - top - bottom), yanchor="top"),
                      title=dict(text=title, x=0.01, font=dict(size=14)) if title else None, uirevision="keep")
    fig.update_xaxes(showgrid=True, gridcolor="#f1f3f5")
    fig.update_xaxes(title_text="time (s)", row=len(rows), col=1)
    return fig
