"""Patients: every subject with last session, phase, latest ratio and latency, trend arrow; search, sort."""

from __future__ import annotations

import dash
from dash import Input, Output, callback, dcc, html

from reengage.dashboard import data
from reengage.dashboard.numbers import fmt

dash.register_page(__name__, path="/", name="Patients", title="reengage — patients")

SORTS = [
    {"label": "Patient id", "value": "subject"},
    {"label": "Last session (newest first)", "value": "last_date"},
    {"label": "Rehab phase", "value": "phase"},
    {"label": "Latest ratio", "value": "ratio"},
    {"label": "Latest onset latency", "value": "latency"},
]


def _table(rows: list[dict]) -> html.Table:
    head = html.Thead(html.Tr([html.Th(h) for h in (
        "Patient", "Sessions", "Last session", "Exercise", "Phase", "Glute:hamstring ratio",
        "Onset latency (ms)", "Trend")]))
    body = html.Tbody([
        html.Tr(className="patients-row", children=[
            html.Td(dcc.Link(r["subject_id"], href=f"/patient/{r['subject_id']}", className="patient-link")),
            html.Td(r["sessions"]),
            html.Td(r["last_date"]),
            html.Td(r["last_task"].replace("_", " ")),
            html.Td(fmt(r["phase"], "d")),
            html.Td(fmt(r["ratio"], ".2f")),
            html.Td(fmt(r["latency_ms"], "+.0f")),
            html.Td(html.Span(r["trend"], title=f"ratio {r['trend_words']}", className="trend")),
        ]) for r in rows
    ])
    return html.Table([head, body], className="re-table", id="patients-table")


def layout(**_query):
    root = data.data_root()
    if not data.has_catalog(root):
        return html.Div([
            html.H2("Patients"),
            html.P(f"No sessions catalogued in {root} yet. Record a session with "
                   "`reengage record --board simulated --subject P001` then `reengage analyze --all`, "
                   "or run `make demo`."),
        ])
    return html.Div([
        html.H2("Patients"),
        html.Div(className="re-controls", children=[
            dcc.Input(id="patients-search", type="search", placeholder="Search patient id or exercise",
                      debounce=False, className="re-input"),
            dcc.Dropdown(id="patients-sort", options=SORTS, value="subject", clearable=False,
                         className="re-dropdown"),
        ]),
        html.Div(id="patients-list"),
        html.P("Ratio: glute max over hamstring amplitude, each in %MVC (median of the session's reps). "
               "Latency: glute max onset − hamstring onset (negative = glutes first). Trend: change of the ratio "
               "over the last three sessions of the same exercise.", className="re-help"),
    ])


@callback(Output("patients-list", "children"), Input("patients-search", "value"), Input("patients-sort", "value"))
def _update(search, sort):
    rows = data.patients(data.data_root(), search or "", sort or "subject")
    if not rows:
        return html.P("No patient matches the search.")
    return _table(rows)
