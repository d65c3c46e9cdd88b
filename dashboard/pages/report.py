"""Report: a printable progress report of one patient (HTML; the browser's Print → PDF makes the PDF)."""

from __future__ import annotations

import datetime as dt

import dash
from dash import Input, Output, clientside_callback, dcc, html

from reengage.dashboard import cues, data, figures, noise_words
from reengage.dashboard.words import SESSION_COLUMNS, change_words, projection_words, session_cells

dash.register_page(__name__, path_template="/report/<subject_id>", name="Report", title="reengage — report")


def layout(subject_id: str | None = None, **_query):
    subject_id = data.url_subject_id(subject_id)
    root = data.data_root()
    trends = data.patient(root, subject_id) if subject_id is not None else []
    if not trends:
        return html.Div([html.H2("Patient not found"), dcc.Link("All patients", href="/")])
    static = {"staticPlot": True}
    sections = []
    for t in trends:
        extras = cues.session_extras(root, t.sessions)
        pct_ref = cues.pct_ref_text(t.sessions, extras)
        rows = [html.Tr([html.Td(s["session_date"]), *session_cells(s)]) for s in t.sessions]
        sections.append(html.Section(className="re-section", children=[
            html.H3(t.task.replace("_", " ").capitalize()),
            html.Ul([
                html.Li(["Glute:hamstring ratio: ", change_words(t.change_ratio, t.mdc_ratio, "", True)]),
                html.Li(["Onset latency: ", change_words(t.change_latency_ms, t.mdc_latency_ms, " ms", False)]),
                *projection_words(t),
            *[html.Li(line, className="noise-source") for line in (
                noise_words.noise_line("Ratio:", t.mdc_ratio),
                noise_words.noise_line("Onset latency:", t.mdc_latency_ms)) if line],
            *[html.Li(w, className="mvc-position-warning")
              for w in noise_words.mvc_position_warning(t.sessions, extras)],
                *([html.Li(["Latest %ref (sub-maximal reference), glute max / hamstrings: ", pct_ref])] if pct_ref
                  else []),
            ]),
            dcc.Graph(figure=figures.trend_figure(t), config=static, className="report-trend"),
            *cues.cue_effect_block(t.sessions, extras),
            html.Table([html.Thead(html.Tr([html.Th(h) for h in ("Date", *SESSION_COLUMNS)])),
                html.Tbody(rows)], className="re-table"),
            html.P(data.ONSET_LITERATURE, className="re-help"),
        ]))
    return html.Div(className="report-page", children=[
        html.Div(className="re-titlebar", children=[
            html.H2(f"Progress report — patient {subject_id}"),
            html.Button("Print / save as PDF", id="report-print", className="re-button no-print"),
        ]),
        html.P(f"Generated {dt.date.today().isoformat()} by reengage from surface EMG. Ratio: glute max over "
               "hamstring amplitude in %MVC, median of the session's (uncued) reps. Latency: glute max onset − hamstring "
               "onset (negative = glutes first). Changes are judged against the noise between sessions (MDC95: the "
               "published between-day figure, or the patient's own scatter when larger); published values are other "
               "people's group values in one variant each, drawn as labelled points, not a normal band and not "
               "targets. No multi-week study gives a "
               "course for the ratio or the onset order, so no date is projected: each ESTIMATE is the slope "
               "per week with its 95 % interval and how many more sessions at that slope a change beyond the "
               "between-session noise would take. %MVC of both muscles is shown: cueing raises both, so the "
               "ratio can stay flat while the glutes switch on.", className="re-help"),
        *sections,
        html.Div(id="report-printed", style={"display": "none"}),
    ])


clientside_callback(
    "function(n) { if (n) { window.print(); } return ''; }",
    Output("report-printed", "children"), Input("report-print", "n_clicks"), prevent_initial_call=True,
)
