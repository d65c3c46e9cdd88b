"""Session: the stored signal and the envelope analyze detected the onsets on, with reps, onsets and
offsets marked (min/max per pixel, re-decimated on zoom), the per-rep table, quality flags and the
analysis's notes in words, and a side-by-side comparison with another session of the same patient."""

from __future__ import annotations

import os
import re

import dash
from dash import ALL, Input, Output, State, callback, ctx, dcc, html

from reengage.dashboard import data, figures
from reengage.dashboard.numbers import fmt, with_iqr
from reengage.errors import ReengageError

dash.register_page(__name__, path_template="/session/<session_id>", name="Session", title="reengage — session")

_RANGE_KEY = re.compile(r"^xaxis\d*\.range\[(0|1)\]$")
REP_COLUMNS = [
    ("rep", "Rep", ""), ("start_s", "Start (s)", ".2f"), ("end_s", "End (s)", ".2f"),
    ("glute_onset_s", "Glute max onset (s)", ".3f"), ("hamstring_onset_s", "Hamstring onset (s)", ".3f"),
    ("onset_latency_ms", "Latency (ms)", "+.0f"), ("glute_hamstring_ratio", "Ratio", ".2f"),
    ("firing_order", "Firing order", ""), ("excluded", "Excluded", ""), ("exclusion_reasons", "Exclusion reason", ""),
    ("corrected", "Corrected", ""),
]
NORMALIZATION_WORDS = {"mvc": "%MVC", "none": "none (no MVC trials): ratio of raw envelopes"}


MAX_ID = 2**63 - 1  # SQLite's INTEGER; a larger id cannot even be asked for


def _parse_id(session_id) -> int | None:
    """A session id from the URL, or None: only ASCII digits ("²".isdigit() is true) within SQLite's range."""
    if not (isinstance(session_id, str) and session_id.isascii() and session_id.isdigit() and len(session_id) < 20):
        return None
    sid = int(session_id)
    return sid if 0 < sid <= MAX_ID else None


def summary_block(detail: dict) -> html.Div:
    s, a = detail["session"], detail["analysis"] or {}
    summ = a.get("summary") or {}
    gmax = data.glute_max_pct_mvc(a)
    items = [
        ("Date", s["session_date"]), ("Exercise", s["task"].replace("_", " ")),
        ("Phase", fmt(s["phase"], "d")), ("Pain (0–10)", fmt(s["pain"], "g")), ("Notes", s["notes"] or "—"),
        ("Reps", fmt(summ.get("reps"), "d") + (f" of {fmt(summ['reps_detected'], 'd')} detected"
                                               if summ.get("reps_detected") is not None else "")),
        ("Median ratio", with_iqr(summ.get("median_glute_hamstring_ratio"), summ.get("glute_hamstring_ratio_iqr"),
                                  ".2f")),
        ("Median onset latency", with_iqr(summ.get("median_onset_latency_ms"), summ.get("onset_latency_iqr_ms"),
                                          "+.0f", " ms")),
        ("Glutes first", fmt(summ.get("glute_first_fraction"), ".0f", " % of reps", scale=100)),
        ("Normalisation", NORMALIZATION_WORDS.get(a.get("normalization"), str(a.get("normalization") or "—"))),
    ]
    if gmax is not None:
        items.append(("Glute max", fmt(gmax, ".1f", " %MVC (median of reps)")))
    return html.Dl([c for k, v in items for c in (html.Dt(k), html.Dd(v, className=f"summary-{_slug(k)}"))],
                   className="re-summary")


def _slug(label: str) -> str:
    return re.sub(r"[^a-z]+", "-", label.lower()).strip("-")


FIELD_WORDS = {"phase": "phase", "pain": "pain (0–10)", "notes": "notes", "subject_id": "patient id"}


def _value_words(v) -> str:
    return "—" if v is None or v == "" else f"{v:g}" if isinstance(v, float) else str(v)


def edit_history(edits: list[dict]) -> html.Div:
    """Who changed what and when, newest first, with the old and the new value."""
    if not edits:
        return html.P("No changes since the recording.", className="re-help", id="session-edits")
    head = html.Thead(html.Tr([html.Th(h) for h in ("When (UTC)", "Who", "Field", "Change")]))
    body = html.Tbody([html.Tr([
        html.Td(str(e["edited_utc"]).replace("T", " ")[:19]), html.Td(e["who"]),
        html.Td(FIELD_WORDS.get(e["field"], e["field"])),
        html.Td(f"{_value_words(e['old'])} → {_value_words(e['new'])}"),
    ]) for e in edits])
    return html.Table([head, body], className="re-table", id="session-edits")


def edit_form(s: dict) -> html.Div:
    """Phase, pain and notes as recorded, correctable here; every change is stored with who made it."""
    default_who = os.environ.get("REENGAGE_DASH_USER", "")
    return html.Div(className="re-edit", children=[
        html.Label(["Phase", dcc.Dropdown(id="session-edit-phase", value=s["phase"], className="re-dropdown small",
                                          options=[{"label": f"{p} · {w}", "value": p} for p, w in
                                                   ((1, "activation"), (2, "strengthening"), (3, "functional"))],
                                          placeholder="not given")]),
        html.Label(["Pain (0–10)", dcc.Input(id="session-edit-pain", type="number", min=0, max=10, step=0.5,
                                             value=s["pain"], className="re-input small")]),
        html.Label(["Notes", dcc.Textarea(id="session-edit-notes", value=s["notes"] or "", className="re-input wide")]),
        html.Label(["Your name or initials", dcc.Input(id="session-edit-who", value=default_who, type="text",
                                                       className="re-input small", placeholder="required")]),
        html.Button("Save changes", id="session-edit-save", className="re-button"),
        html.Span(id="session-edit-msg", className="re-help"),
    ])


def quality_block(detail: dict) -> html.Div:
    q = detail["quality"]
    info = detail["info"] or {}
    lines = []
    integrity = info.get("integrity")
    if integrity and integrity != "ok":
        lines.append(html.Li(f"Recording integrity: {integrity} — " + "; ".join(info.get("problems") or []),
                             className="warning"))
    for g in info.get("gaps") or []:
        lines.append(html.Li(f"{g.get('samples_lost')} samples lost at {fmt(g.get('onset_s'), '.2f')} s "
                             f"({g.get('reason') or 'gap'}): no onset is reported inside it", className="warning"))
    for ch in q:
        lines.append(html.Li([html.Strong(f"{ch['channel']}: {ch['verdict']}. "),
                              "; ".join(text for _, text in ch["lines"]) or "no quality measures reported"],
                             className="warning" if ch["verdict"] != "usable" else "ok"))
    if not lines:
        lines.append(html.Li("No quality information in this analysis."))
    out = [html.H4("Signal quality"), html.Ul(lines, className="re-quality")]
    if detail["notes"]:
        out += [html.H4("Notes from the analysis"),
                html.Ul([html.Li(n) for n in detail["notes"]], id="session-notes", className="re-quality")]
    return html.Div(out)


def _cell(r: dict, key: str, spec: str) -> str:
    if spec:
        return fmt(r.get(key), spec)
    v = r.get(key)
    return v if v not in (None, "") else ("" if key in ("excluded", "exclusion_reasons", "corrected") else "—")


def rep_table(detail: dict) -> html.Table:
    head = html.Thead(html.Tr([html.Th(n) for _, n, _ in REP_COLUMNS]))
    body = html.Tbody([
        html.Tr([html.Td(_cell(r, k, spec)) for k, _, spec in REP_COLUMNS],
                className="excluded" if r.get("excluded") else None)
        for r in detail["reps"]
    ])
    return html.Table([head, body], id="session-reps", className="re-table")


CORRECTION_KINDS = [("move_onset", "move the onset"), ("delete_onset", "delete the onset"),
                    ("exclude_rep", "exclude the rep"), ("include_rep", "include the rep")]


def correction_form(detail: dict) -> html.Div:
    """Pick a rep and a muscle (or click a ▲ onset on the traces), then move or delete that onset, or exclude or
    include the whole rep; every correction is stored with who made it and when, and the numbers above follow."""
    a = detail["analysis"] or {}
    channels = list((a.get("channels") or {}).keys())
    n = len(a.get("reps") or [])
    return html.Div(className="re-edit", children=[
        html.P(f"Corrections are stored as made by {data.correction_author()}.", className="re-help", id="corr-who"),
        html.Label(["Correction", dcc.RadioItems(id="corr-kind", value="move_onset", inline=True,
                                                 options=[{"label": w, "value": k} for k, w in CORRECTION_KINDS])]),
        html.Label(["Rep (1–%d)" % n, dcc.Input(id="corr-rep", type="number", min=1, max=max(n, 1), step=1,
                                                className="re-input small")]),
        html.Label(["Muscle", dcc.RadioItems(id="corr-channel", inline=True, value=channels[0] if channels else None,
                                             options=[{"label": c.replace("_", " "), "value": c} for c in channels])]),
        html.Label(["New onset (s)", dcc.Input(id="corr-seconds", type="number", step=0.001,
                                               className="re-input small")]),
        html.Label(["Reason", dcc.Input(id="corr-reason", type="text", className="re-input wide",
                                        placeholder="required to exclude a rep")]),
        html.Button("Apply correction", id="corr-apply", className="re-button"),
        html.Span(id="corr-msg", className="re-help"),
    ])


def correction_list(detail: dict) -> html.Div:
    """The session's corrections, newest first (who, when, old → new), each with an undo; and those a
    re-analysis could not place (kept, not applied)."""
    out = [html.P(w, className="warning corr-unmatched") for w in detail.get("unmatched") or []]
    rows = detail.get("corrections") or []
    if not rows:
        return html.Div(out + [html.P("No corrections of the analysis.", className="re-help",
                                      id="session-corrections")])
    head = html.Thead(html.Tr([html.Th(h) for h in ("When (UTC)", "Who", "Rep", "Change", "Reason", "")]))
    body = html.Tbody([html.Tr([
        html.Td(str(c["when_utc"]).replace("T", " ")[:19]), html.Td(c["who"]), html.Td(str(c["rep"] + 1)),
        html.Td(c["change"]), html.Td(c["reason"] or ""),
        html.Td(html.Button("Undo", id={"type": "corr-undo", "index": c["correction_id"]}, className="re-button small")),
    ]) for c in rows])
    return html.Div(out + [html.Table([head, body], className="re-table", id="session-corrections")])


def layout(session_id: str | None = None, **_query):
    root = data.data_root()
    sid = _parse_id(session_id)
    detail = data.session(root, sid) if sid is not None else None
    if detail is None:
        return html.Div([html.H2("Session not found"), dcc.Link("All patients", href="/")])
    s = detail["session"]
    tr = None if s.get("empty") else data.traces(root, s["recording_id"])
    if s.get("empty"):
        graph = html.P("This recording has no samples (a wrong port, or stopped at once): it is kept in the "
                       "catalog but has nothing to show, and the patient's trends leave it out.", className="warning")
    elif tr is None or "error" in tr:
        graph = html.P((tr or {}).get("error", "The recording file is not available."), className="warning")
    else:
        graph = dcc.Graph(id="session-traces", figure=figures.session_figure(tr, detail["analysis"]),
                          config={"displaylogo": False})
    options = [{"label": f"{o['session_date']} · {o['task'].replace('_', ' ')}", "value": o["session_id"]}
               for o in detail["others"]]
    return html.Div([
        dcc.Store(id="session-recording", data=s["recording_id"]),
        dcc.Store(id="session-id", data=s["session_id"]),
        html.Div(className="re-titlebar", children=[
            html.H2(["Session ", html.Span(s["session_date"]), " · ",
                     dcc.Link(f"patient {s['subject_id']}", href=f"/patient/{s['subject_id']}",
                              id="session-patient-link")]),
        ]),
        html.Div(summary_block(detail), id="session-summary"),
        html.Details(className="re-section no-print", id="session-edit", children=[
            html.Summary("Correct phase, pain or notes"),
            html.P(data.READ_ONLY_WORDS[0].upper() + data.READ_ONLY_WORDS[1:] + ".", className="warning read-only-note")
            if data.read_only(root) else edit_form(s),
            html.H4("Changes"),
            html.Div(edit_history(data.session_edits(root, s["session_id"])), id="session-edits-wrap"),
        ]),
        html.Details(className="re-section no-print", id="session-correct", children=[
            html.Summary("Correct the analysis: onsets and reps"),
            html.P(data.READ_ONLY_WORDS[0].upper() + data.READ_ONLY_WORDS[1:] + ".", className="warning read-only-note")
            if data.read_only(root) else correction_form(detail) if detail["analysis"] is not None
            else html.P("Not analysed yet: nothing to correct.", className="re-help"),
            html.H4("Corrections"),
            html.Div(correction_list(detail), id="corr-list-wrap"),
        ]),
        quality_block(detail),
        html.P(id="session-view-note", className="re-help",
               children=_view_note(tr) if tr and "error" not in tr else ""),
        graph,
        html.H4("Repetitions"),
        html.Div(rep_table(detail), id="session-reps-wrap"),
        html.H4("Compare with another session"),
        dcc.Dropdown(id="session-compare", options=options, placeholder="Choose a session of the same patient",
                     className="re-dropdown"),
        html.Div(id="session-compare-panel", className="re-compare"),
    ])


def _view_note(tr: dict) -> str:
    return (f"Showing {tr['samples_in_view']:,} of {tr['samples_total']:,} samples per channel as min/max per "
            f"pixel; zoom to see more detail. Duration {tr['duration_s']:.1f} s.")


@callback(Output("session-traces", "figure"), Output("session-view-note", "children"),
          Input("session-traces", "relayoutData"), State("session-recording", "data"), prevent_initial_call=True)
def _rezoom(relayout, recording_id):
    if not relayout or recording_id is None:
        return dash.no_update, dash.no_update
    bounds = {}
    autorange = any(k.endswith("autorange") for k in relayout)
    for k, v in relayout.items():
        m = _RANGE_KEY.match(k)
        if m:
            bounds[int(m.group(1))] = float(v)
    if not autorange and len(bounds) != 2:
        return dash.no_update, dash.no_update
    root = data.data_root()
    tr = data.traces(root, recording_id, None if autorange else (bounds[0], bounds[1]))
    if tr is None or "error" in tr:
        return dash.no_update, dash.no_update
    analysis = data.session_analysis_for_recording(root, recording_id)
    fig = figures.session_figure(tr, analysis)
    if not autorange:
        fig.update_xaxes(range=[bounds[0], bounds[1]])
    return fig, _view_note(tr)


@callback(Output("session-compare-panel", "children"), Input("session-compare", "value"),
          State("session-recording", "data"), prevent_initial_call=True)
def _compare(other_id, recording_id):
    if other_id is None:
        return []
    root = data.data_root()
    cols = []
    for sid in (data.session_id_for_recording(root, recording_id), other_id):
        detail = data.session(root, int(sid)) if sid is not None else None
        if detail is None:
            continue
        tr = data.traces(root, detail["session"]["recording_id"])
        fig = None if tr is None or "error" in tr else figures.session_figure(
            tr, detail["analysis"], title=f"{detail['session']['session_date']}", show_raw=False)
        cols.append(html.Div(className="re-compare-col", children=[
            summary_block(detail), dcc.Graph(figure=fig, className="compare-graph") if fig else html.P("no traces")]))
    return cols


@callback(Output("session-edit-msg", "children"), Output("session-summary", "children"),
          Output("session-edits-wrap", "children"),
          Input("session-edit-save", "n_clicks"), State("session-id", "data"), State("session-edit-phase", "value"),
          State("session-edit-pain", "value"), State("session-edit-notes", "value"), State("session-edit-who", "value"),
          prevent_initial_call=True)
def _save(_n, session_id, phase, pain, notes, who):
    if not (who or "").strip():
        return "Give your name or initials: every change is stored with who made it.", dash.no_update, dash.no_update
    root = data.data_root()
    try:
        changes = data.edit_session(root, int(session_id), who=who, phase=phase, pain=pain, notes=notes or "")
    except ReengageError as e:
        return f"Not saved: {e}", dash.no_update, dash.no_update
    detail = data.session(root, int(session_id))
    msg = (f"Saved: {', '.join(FIELD_WORDS.get(c['field'], c['field']) for c in changes)}." if changes
           else "Nothing changed.")
    return msg, summary_block(detail), edit_history(data.session_edits(root, int(session_id)))


@callback(Output("corr-rep", "value"), Output("corr-channel", "value"), Output("corr-seconds", "value"),
          Output("corr-kind", "value"), Output("corr-msg", "children"),
          Input("session-traces", "clickData"), State("session-traces", "figure"), State("session-recording", "data"),
          prevent_initial_call=True)
def _pick_onset(click, figure, recording_id):
    """A click on a ▲ onset marker selects that rep and muscle, with the onset's time ready to edit."""
    nothing = (dash.no_update,) * 5
    picked = None
    for point in (click or {}).get("points") or []:  # hovering by x, a click may carry every trace's point
        try:
            name = figure["data"][point["curveNumber"]].get("name") or ""
            t_s = float(point["x"])
        except (TypeError, KeyError, IndexError, ValueError):
            continue
        if name.endswith(" onset"):
            picked = (name[: -len(" onset")], t_s)
            break
    if picked is None:
        return nothing
    channel, t_s = picked
    rep = data.onset_at(data.session_analysis_for_recording(data.data_root(), recording_id), channel, t_s)
    if rep is None:
        return nothing
    return (rep + 1, channel, round(t_s, 3), "move_onset",
            f"Rep {rep + 1}, {channel.replace('_', ' ')} onset at {t_s:.3f} s: type its new time and apply, "
            "or choose delete.")


def _correction_request(kind, rep, channel, seconds, reason) -> tuple[dict | None, str]:
    if rep is None:
        return None, "Give the rep's number (or click an onset ▲ on the traces)."
    if kind == "move_onset" and seconds is None:
        return None, "Give the onset's new time in seconds."
    if kind == "exclude_rep" and not (reason or "").strip():
        return None, "Give a reason to exclude a rep: it is kept with the correction."
    req = {"kind": kind, "rep": int(rep) - 1, "reason": reason or ""}
    if kind in ("move_onset", "delete_onset"):
        req.update(channel=channel, seconds=seconds if kind == "move_onset" else None)
    return req, ""


@callback(Output("corr-msg", "children", allow_duplicate=True),
          Output("session-summary", "children", allow_duplicate=True),
          Output("corr-list-wrap", "children"), Output("session-reps-wrap", "children"),
          Output("session-traces", "figure", allow_duplicate=True),
          Input("corr-apply", "n_clicks"), Input({"type": "corr-undo", "index": ALL}, "n_clicks"),
          State("session-id", "data"), State("corr-kind", "value"), State("corr-rep", "value"),
          State("corr-channel", "value"), State("corr-seconds", "value"), State("corr-reason", "value"),
          prevent_initial_call=True)
def _apply_correction(_n, undo_clicks, session_id, kind, rep, channel, seconds, reason):
    """Store a correction (or an undo) and show the numbers of the new effective analysis."""
    keep = (dash.no_update,) * 4
    trigger = ctx.triggered_id
    root, who = data.data_root(), data.correction_author()
    try:
        if isinstance(trigger, dict):
            if not any(undo_clicks or []):  # buttons just drawn, not clicked
                return (dash.no_update, *keep)
            c = data.undo_correction(root, int(session_id), int(trigger["index"]), who=who)
        else:
            req, problem = _correction_request(kind, rep, channel, seconds, reason)
            if req is None:
                return (problem, *keep)
            c = data.correct(root, int(session_id), who=who, **req)
    except ReengageError as e:
        return (f"Not saved: {e}", *keep)
    detail = data.session(root, int(session_id))
    tr = data.traces(root, detail["session"]["recording_id"])
    fig = dash.no_update if tr is None or "error" in tr else figures.session_figure(tr, detail["analysis"])
    msg = "Nothing changed: it is already so." if c is None else f"Saved: rep {c['rep'] + 1}, {c['kind'].replace('_', ' ')}."
    return msg, summary_block(detail), correction_list(detail), rep_table(detail), fig
