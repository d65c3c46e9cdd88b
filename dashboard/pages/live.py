"""Live: rolling traces and per-rep results while `record` or `replay` runs (polled every 200 ms from a
bounded ring buffer), with a biofeedback mode for phase-1 activation training: a large gauge of glute max
%MVC and a cue (colour, optional tone) on each rep where the glutes fired before the hamstrings. The
latency from a sample entering the pipeline to the cue on screen is measured in the browser and shown."""

from __future__ import annotations

import dash
import flask
import plotly.graph_objects as go
from dash import Input, Output, State, callback, clientside_callback, dcc, html

from reengage.dashboard import figures, live

dash.register_page(__name__, path="/live", name="Live", title="reengage — live")

POLL_MS = 200  # traces, gauge, table
HOW_TO_START = [
    "No live session yet. Start one in a terminal and this page follows it: ",
    html.Code("reengage record --board simulated --subject P001 --task prone_hip_extension"),
    " (a board: give yours with --board NAME --port DEV), or ",
    html.Code("reengage replay RECORDING"),
    " to play a saved recording back (add --speed 2 to go faster).",
]


def layout(**_query):
    return html.Div([
        html.Div(className="re-titlebar", children=[
            html.H2("Live"),
            dcc.Checklist(id="live-options", options=[{"label": " Biofeedback", "value": "bio"},
                                                      {"label": " Tone on glutes-first reps", "value": "tone"}],
                          value=["bio"], inline=True),
        ]),
        html.P(id="live-status", className="re-help live-status", children=HOW_TO_START),
        dcc.Interval(id="live-tick", interval=POLL_MS),
        dcc.Store(id="live-cue"),
        dcc.Store(id="live-cue-loop"),
        html.Div(className="live-gauge-wrap", children=[
            dcc.Graph(id="live-traces", config={"displayModeBar": False}, figure=_empty()),
            html.Div(id="live-bio", children=[
                dcc.Graph(id="live-gauge", config={"displayModeBar": False}, figure=_gauge(None, None)),
                html.Div(id="live-cue-box", className="live-cue", children="—"),
                html.P(id="live-latency", className="re-help", children=""),
            ]),
        ]),
        html.H4("Reps so far"),
        html.Table(id="live-reps", className="re-table"),
    ])


def _empty() -> go.Figure:
    """The traces' place before any stream: no axes to read, a line saying what will come."""
    fig = go.Figure()
    fig.update_layout(height=420, margin=dict(l=50, r=10, t=20, b=40), plot_bgcolor="white",
                      xaxis=dict(visible=False), yaxis=dict(visible=False),
                      annotations=[dict(text="The envelopes appear here while a session streams.", showarrow=False,
                                        xref="paper", yref="paper", x=0.5, y=0.5, font=dict(size=14, color="#868e96"))])
    return fig


def _gauge(value, unit, idle: str = "no signal") -> go.Figure:
    """The biofeedback gauge; with no value (no stream, or the stream stopped) it rests at 0 with no
    number and says why in its title."""
    fig = go.Figure(go.Indicator(
        mode="gauge+number" if value is not None else "gauge", value=value if value is not None else 0,
        number={"suffix": " %", "valueformat": ".0f"},
        title={"text": f"Glute max ({unit if value is not None and unit else idle})", "font": {"size": 13}},
        gauge={"axis": {"range": [0, 100], "tickvals": [0, 20, 40, 60, 80, 100]}, "bar": {"color": "#c2255c"},
               "steps": [{"range": [0, 20], "color": "#f1f3f5"}, {"range": [20, 60], "color": "#fcc2d7"},
                         {"range": [60, 100], "color": "#faa2c1"}]},
    ))
    # Side margins wide enough for the scale's end labels ("100" was cut off at 20 px).
    fig.update_layout(height=260, margin=dict(l=45, r=45, t=50, b=10))
    return fig


@callback(
    Output("live-traces", "figure"), Output("live-gauge", "figure"), Output("live-status", "children"),
    Output("live-reps", "children"), Output("live-bio", "style"),
    Input("live-tick", "n_intervals"), State("live-options", "value"),
)
def _poll(_n, options):
    port = live.port_for(flask.current_app)
    snap = live.receiver(port).snapshot()
    bio_style = {} if "bio" in (options or []) else {"display": "none"}
    if snap.get("error"):  # the port is taken or the key refused: one line instead of the how-to
        return dash.no_update, dash.no_update, snap["error"], dash.no_update, bio_style
    if not snap.get("channels"):
        return dash.no_update, dash.no_update, HOW_TO_START, dash.no_update, bio_style
    traces, shapes = [], []
    for i, ch in enumerate(snap["channels"]):
        c = figures.colour(ch["role"], i)
        traces.append(dict(type="scatter", x=snap["t"], y=snap["env"][i], name=f"{ch['name']} envelope",
                           mode="lines", line=dict(color=c, width=2)))
        if snap["thresholds"][i] is not None:  # the detector's level, on the envelope's scale
            shapes.append(dict(type="line", xref="x domain", x0=0, x1=1, yref="y", y0=snap["thresholds"][i],
                               y1=snap["thresholds"][i], line=dict(dash="dot", color=c), opacity=0.5))
    fig = {"data": traces, "layout": dict(
        height=420, margin=dict(l=50, r=10, t=20, b=40), plot_bgcolor="white", uirevision="live", shapes=shapes,
        legend=dict(orientation="h", y=1.06), xaxis=dict(title="time (s)", range=[snap["t"][0], snap["t"][-1]]),
        yaxis=dict(title=f"envelope ({live.ENVELOPE_MS:.0f} ms RMS, noise removed, channel unit)"))}
    reps = snap["reps"]
    stopped = snap["state"] == "stopped"
    status = ("stream ended — start another with reengage record or reengage replay · " if stopped else "") + (
              f"{snap['state']} · subject {snap.get('subject') or '?'} · {snap.get('task') or ''} · "
              f"{snap['t_end_s']:.1f} s · {len(reps)} reps" +
              (f" · baseline: {snap['baseline']}" if snap.get("baseline") else " · learning the baseline") +
              (f" · {snap['samples_lost']} samples lost" if snap["samples_lost"] else "") + live.status_note(snap))
    rows = [html.Thead(html.Tr([html.Th("Rep"), html.Th("Onset latency (ms)"), html.Th("Glutes first")]))]
    rows.append(html.Tbody([html.Tr([html.Td(r["rep"]),
                                     html.Td("—" if r["onset_latency_ms"] is None else f"{r['onset_latency_ms']:+.0f}"),
                                     html.Td("yes" if r["glutes_first"] else "no")]) for r in reversed(reps[-10:])]))
    gauge = _gauge(None, None, "stream stopped") if stopped else _gauge(snap["gauge"], snap["gauge_unit"])
    return fig, gauge, status, rows, bio_style


# The cue's fast path: one long poll at a time to the server (``live.CUE_PATH``), outside Dash's callback
# queue, so a rep reaches the page as soon as the receiver knows it; the answer goes into the live-cue
# store, whose clientside callback below paints it. Started once per page load.
clientside_callback(
    """
    function(_options) {
        if (window._reLiveLoop) { return window.dash_clientside.no_update; }
        window._reLiveLoop = true;
        let prefix = '/';
        try { prefix = JSON.parse(document.getElementById('_dash-config').textContent).requests_pathname_prefix
                       || '/'; } catch (e) {}
        const url = prefix.replace(/[/]$/, '') + '%s';
        (async () => {
            let after = -1;
            while (document.getElementById('live-cue-box')) {
                try {
                    const r = await fetch(url + '?after=' + after, {cache: 'no-store'});
                    if (r.status === 200) {
                        const cue = await r.json();
                        cue.got_ms = Date.now();  // for bench/bench_live.py's split of the latency
                        after = cue.serial;
                        window.dash_clientside.set_props('live-cue', {data: cue});
                    } else if (r.status !== 204) {
                        await new Promise(res => setTimeout(res, 500));
                    }
                } catch (e) { await new Promise(res => setTimeout(res, 500)); }
            }
            window._reLiveLoop = false;
        })();
        return window.dash_clientside.no_update;
    }
    """ % live.CUE_PATH,
    Output("live-cue-loop", "data"), Input("live-options", "value"),
)


# The cue and the latency measurement run in the browser, so the time includes rendering: sample entered
# the pipeline (t_ns, host clock) → cue painted (Date.now(), same machine's clock).
clientside_callback(
    """
    function(cue, options) {
        const box = {className: 'live-cue', children: '—'};
        if (!cue) { return [box.children, box.className, window.dash_clientside.no_update]; }
        window._reLive = window._reLive || {last: 0, lat: [], log: []};
        const st = window._reLive;
        if (cue.rep !== st.last) {
            st.last = cue.rep;
            const cb_ms = Date.now();
            // Stamp after the frame that shows the cue is painted: rAF runs before paint, the task it
            // schedules runs after it.
            requestAnimationFrame(() => setTimeout(() => {
                const now = Date.now();
                const ms = now - cue.t_ns / 1e6;
                if (ms >= 0 && ms < 10000) { st.lat.push(ms); if (st.lat.length > 20) st.lat.shift(); }
                st.log.push({rep: cue.rep, painted_ms: now, t_ns: cue.t_ns, rx_ns: cue.rx_ns,
                             confirmed_index: cue.confirmed_index, block_end_index: cue.block_end_index,
                             onset_index: cue.onset_index, got_ms: cue.got_ms, cb_ms: cb_ms, sent_ns: cue.sent_ns});
                if (st.log.length > 500) st.log.shift();
                const srt = [...st.lat].sort((a, b) => a - b);
                if (srt.length) {
                    window.dash_clientside.set_props('live-latency', {children:
                        `Sample-to-cue latency: median ${srt[Math.floor(srt.length / 2)].toFixed(0)} ms over the ` +
                        `last ${srt.length} reps (goal ≤ 150 ms)`});
                }
            }, 0));
            if (cue.glutes_first && options && options.includes('tone')) {
                try { const a = new (window.AudioContext || window.webkitAudioContext)();
                      const o = a.createOscillator(); o.frequency.value = 880; o.connect(a.destination);
                      o.start(); o.stop(a.currentTime + 0.15); } catch (e) {}
            }
        }
        const sorted = [...st.lat].sort((a, b) => a - b);
        const med = sorted.length ? sorted[Math.floor(sorted.length / 2)] : null;
        const text = cue.glutes_first ? `Rep ${cue.rep}: glutes first (${cue.onset_latency_ms} ms)`
                                      : `Rep ${cue.rep}: hamstrings first (+${cue.onset_latency_ms} ms)`;
        const lat = med === null ? '' :
            `Sample-to-cue latency: median ${med.toFixed(0)} ms over the last ${sorted.length} reps (goal ≤ 150 ms)`;
        return [text, 'live-cue ' + (cue.glutes_first ? 'good' : 'late'), lat];
    }
    """,
    Output("live-cue-box", "children"), Output("live-cue-box", "className"), Output("live-latency", "children"),
    Input("live-cue", "data"), State("live-options", "value"),
)
