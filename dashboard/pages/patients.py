"""Patients: the patient register with each patient's last session, phase, latest ratio and latency and
trend arrow (search, sort); ids a person registered and ids only a recording brought in (a typo in
``--subject`` shows up here, with the closest registered ids); add, rename and merge patients (audited)."""

from __future__ import annotations

import os

import dash
from dash import Input, Output, State, callback, ctx, dcc, html

from reengage.dashboard import data
from reengage.dashboard.numbers import fmt
from reengage.errors import ReengageError

dash.register_page(__name__, path="/", name="Patients", title="reengage — patients")

SORTS = [
    {"label": "Patient id", "value": "subject"},
    {"label": "Last session (newest first)", "value": "last_date"},
    {"label": "Rehab phase", "value": "phase"},
    {"label": "Latest ratio", "value": "ratio"},
    {"label": "Latest onset latency", "value": "latency"},
]


def _register_cell(r: dict) -> html.Td:
    if r["registered"]:
        return html.Td("registered", className="registered")
    return html.Td("not registered: came with a recording", className="unregistered warning")


def _sessions_cell(r: dict) -> str:
    empty = r.get("empty_sessions") or 0
    return f"{r['sessions']}" + (f" (+{empty} empty)" if empty else "")


def _table(rows: list[dict]) -> html.Table:
    head = html.Thead(html.Tr([html.Th(h) for h in (
        "Patient", "Label", "Register", "Sessions", "Last session", "Exercise", "Phase", "Glute:hamstring ratio",
        "Onset latency (ms)", "Trend")]))
    body = html.Tbody([
        html.Tr(className="patients-row", children=[
            html.Td(dcc.Link(r["subject_id"], href=f"/patient/{r['subject_id']}", className="patient-link")
                    if r["sessions"] else r["subject_id"]),
            html.Td(r.get("display_name") or ""),
            _register_cell(r),
            html.Td(_sessions_cell(r)),
            html.Td(r["last_date"] or "no sessions yet"),
            html.Td(r["last_task"].replace("_", " ")),
            html.Td(fmt(r["phase"], "d")),
            html.Td(fmt(r["ratio"], ".2f")),
            html.Td(fmt(r["latency_ms"], "+.0f")),
            html.Td(html.Span(r["trend"], title=f"ratio {r['trend_words']}", className="trend")),
        ]) for r in rows
    ])
    return html.Table([head, body], className="re-table", id="patients-table")


def _register_forms(read_only: bool) -> html.Section:
    """Add, rename and merge: the register's three actions, each stored with who made it."""
    # Read-only, the components stay (the list's callback fills the dropdowns) but every button is disabled;
    # the data layer refuses a write anyway.
    note = [html.P(data.READ_ONLY_WORDS[0].upper() + data.READ_ONLY_WORDS[1:] + ".",
                   className="warning read-only-note")] if read_only else []
    return html.Section(className="re-section no-print", id="patients-register", children=[
        html.H3("Patient register"),
        *note,
        html.P("Register a patient before the first recording so a typo in --subject is caught; rename an id, or "
               "merge two ids of one person (every session moves, and the change is recorded with who made it). "
               "Use pseudonymous ids and labels only.", className="re-help"),
        html.Label(["Your name or initials ", dcc.Input(id="register-who", type="text", className="re-input small",
                                                        value=os.environ.get("REENGAGE_DASH_USER", ""),
                                                        placeholder="required")]),
        html.Div(className="re-register", children=[
            html.Div(className="re-form", children=[
                html.H4("Add a patient"),
                dcc.Input(id="register-add-id", placeholder="new patient id, e.g. P004", className="re-input"),
                dcc.Input(id="register-add-label", placeholder="label (optional, pseudonymous)", className="re-input"),
                html.Button("Add", id="register-add", className="re-button", disabled=read_only)]),
            html.Div(className="re-form", children=[
                html.H4("Rename a patient id"),
                dcc.Dropdown(id="register-rename-old", placeholder="id to rename", className="re-dropdown"),
                dcc.Input(id="register-rename-new", placeholder="new id", className="re-input"),
                html.Button("Rename", id="register-rename", className="re-button", disabled=read_only)]),
            html.Div(className="re-form", children=[
                html.H4("Merge two ids of one person"),
                dcc.Dropdown(id="register-merge-from", placeholder="move every session of …", className="re-dropdown"),
                dcc.Dropdown(id="register-merge-into", placeholder="… into this id", className="re-dropdown"),
                html.Button("Merge", id="register-merge", className="re-button", disabled=read_only)]),
        ]),
        html.P(id="register-msg", className="re-help"),
    ])


def layout(**_query):
    root = data.data_root()
    empty_help = [] if data.has_catalog(root) else [html.P(
        f"No sessions catalogued in {root} yet. Record one with `reengage record --board simulated --subject "
        "P001` (it appears here when the recording ends), import one with `reengage import`, or run "
        "`reengage demo`.")]
    return html.Div([
        html.H2("Patients"),
        *empty_help,
        dcc.Store(id="register-version", data=0),
        html.Div(className="re-controls", children=[
            dcc.Input(id="patients-search", type="search", placeholder="Search patient id, label or exercise",
                      debounce=False, className="re-input"),
            dcc.Dropdown(id="patients-sort", options=SORTS, value="subject", clearable=False,
                         className="re-dropdown"),
        ]),
        html.Div(id="patients-list"),
        html.P("Ratio: glute max over hamstring amplitude, each in %MVC (median of the session's reps). "
               "Latency: glute max onset − hamstring onset (negative = glutes first). Trend: change of the ratio "
               "over the last three sessions of the same exercise. Empty recordings (no samples) are kept but "
               "not charted.", className="re-help"),
        _register_forms(data.read_only(root)),
    ])


@callback(Output("patients-list", "children"), Output("register-rename-old", "options"),
          Output("register-merge-from", "options"), Output("register-merge-into", "options"),
          Input("patients-search", "value"), Input("patients-sort", "value"), Input("register-version", "data"))
def _update(search, sort, _version):
    root = data.data_root()
    rows = data.patients(root, search or "", sort or "subject")
    ids = [p["subject_id"] for p in data.register(root)]
    table = _table(rows) if rows else html.P("No patient matches the search." if search else "No patients yet.")
    return table, ids, ids, ids


@callback(Output("register-msg", "children"), Output("register-version", "data"),
          Input("register-add", "n_clicks"), Input("register-rename", "n_clicks"), Input("register-merge", "n_clicks"),
          State("register-who", "value"), State("register-add-id", "value"), State("register-add-label", "value"),
          State("register-rename-old", "value"), State("register-rename-new", "value"),
          State("register-merge-from", "value"), State("register-merge-into", "value"), State("register-version", "data"),
          prevent_initial_call=True)
def _register(_a, _r, _m, who, add_id, add_label, old, new, from_id, into_id, version):
    if not (who or "").strip():
        return "Give your name or initials: every change is stored with who made it.", dash.no_update
    root, action = data.data_root(), ctx.triggered_id
    try:
        if action == "register-add":
            p = data.add_patient(root, add_id or "", who=who, display_name=add_label)
            msg = f"Patient {p['subject_id']} added to the register."
        elif action == "register-rename":
            n = data.rename_patient(root, old or "", new or "", who=who)
            msg = f"Patient {old} is now {new} ({n} session{'s' if n != 1 else ''} moved)."
        else:
            n = data.merge_patients(root, from_id or "", into_id or "", who=who)
            msg = f"Patient {from_id} merged into {into_id} ({n} session{'s' if n != 1 else ''} moved)."
    except ReengageError as e:
        return f"Not done: {e}", dash.no_update
    return msg, (version or 0) + 1
