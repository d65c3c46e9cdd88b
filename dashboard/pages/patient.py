"""Patient: per exercise, ratio and onset latency across sessions over calendar time, with phase bands,
published reference values as labelled points with their sources, glute-first fraction, glute max and hamstrings %MVC, pain, the
between-session minimal detectable change, and each measure's slope per week (marked as an estimate, no date)."""

from __future__ import annotations

import dash
from dash import ALL, Input, Output, callback, ctx, dcc, html

from reengage.dashboard import cues, data, figures, noise_words
from reengage.dashboard.numbers import fmt, with_iqr
from reengage.dashboard.words import SESSION_COLUMNS, change_words, projection_words, session_cells

dash.register_page(__name__, path_template="/patient/<subject_id>", name="Patient", title="reengage — patient")


def _finding(name: str, trend: data.TaskTrend, measure: str, words: str):
    """One measure's verdict (``reengage trend``'s, word for word) and the change in words."""
    verdict = (trend.measures.get(measure) or {}).get("verdict") or "insufficient data"
    return html.Li([f"{name}: ", html.Strong(verdict, className="verdict"), f" — {words}"], className="finding",
                   **{"data-verdict": verdict, "data-measure": measure})


def _section(i: int, subject_id: str, trend: data.TaskTrend, extras: dict[int, dict]):
    ss = trend.sessions
    pct_ref = cues.pct_ref_text(ss, extras)
    analysed = [s for s in ss if s["analysis_id"] is not None]
    last = analysed[-1] if analysed else {}
    cards = html.Div(className="re-cards", children=[
        html.Div([html.Div("Sessions", className="k"), html.Div(f"{len(ss)}", className="v")], className="re-card"),
        html.Div([html.Div("Latest ratio", className="k"),
                  html.Div(with_iqr(last.get("median_glute_hamstring_ratio"), last.get("ratio_iqr"), ".2f"), className="v")],
                 className="re-card"),
        html.Div([html.Div("Latest onset latency", className="k"),
                  html.Div(with_iqr(last.get("median_onset_latency_ms"), last.get("latency_iqr_ms"), "+.0f", " ms"), className="v")],
                 className="re-card"),
        html.Div([html.Div("Reps with glutes first", className="k"), html.Div(fmt(last.get("glute_first_fraction"), ".0f", " %", scale=100), className="v")],
                 className="re-card"),
        html.Div([html.Div("Latest %MVC, glute max / hamstrings", className="k"),
                  html.Div(f"{fmt(last.get('glute_max_pct_mvc'), '.1f')} / {fmt(last.get('hamstrings_pct_mvc'), '.1f')}",
                           className="v")], className="re-card pct-mvc-card"),
        html.Div([html.Div("Latest %ref, glute max / hamstrings", className="k"), html.Div(pct_ref, className="v")],
                 className="re-card pct-ref-card", title=cues.PCT_REF_HELP) if pct_ref else None,
    ])
    rows = [html.Tr([
        html.Td(dcc.Link(s["session_date"], href=f"/session/{s['session_id']}", className="session-link")),
        *session_cells(s),
        html.Td(s["notes"] or ""),
    ]) for s in reversed(ss)]
    table = html.Table([html.Thead(html.Tr([html.Th(h) for h in ("Session", *SESSION_COLUMNS, "Notes")])),
        html.Tbody(rows)], className="re-table")
    empty = (html.P(f"{trend.empty} empty recording{'s' if trend.empty != 1 else ''} (no samples) not shown.",
                    className="re-help empty-note") if trend.empty else None)
    return html.Section(className="re-section", children=[
        html.H3(trend.task.replace("_", " ").capitalize()),
        cards,
        empty,
        html.Ul(className="re-findings", children=[
            _finding("Ratio", trend, "glute_hamstring_ratio", change_words(trend.change_ratio, trend.mdc_ratio, "", True)),
            _finding("Onset latency", trend, "onset_latency_ms",
                     change_words(trend.change_latency_ms, trend.mdc_latency_ms, " ms", False)),
            *projection_words(trend),
            *[html.Li(line, className="noise-source") for line in (
                noise_words.noise_line("Ratio:", trend.mdc_ratio),
                noise_words.noise_line("Onset latency:", trend.mdc_latency_ms)) if line],
            *[html.Li(w, className="mvc-position-warning") for w in noise_words.mvc_position_warning(ss, extras)],
            *([html.Li(cues.CARRY_OVER_WORDS, className="carry-over")] if any(
                "cue_effect" in e for e in extras.values()) else []),
        ]),
        dcc.Graph(id={"type": "patient-trend", "index": i}, figure=figures.trend_figure(trend),
                  className="patient-trend", config={"displaylogo": False}),
        *cues.cue_effect_block(ss, extras),
        html.P(cues.PCT_REF_HELP, className="re-help") if pct_ref else None,
        html.P(data.ONSET_LITERATURE, className="re-help"),
        html.P("Click a point to open that session. A change counts only beyond the noise between sessions "
               "(electrodes re-applied, a new MVC): MDC95 = 1.96·√2·SEM (Weir 2005), the SEM from this patient's "
               "test–retest pairs, else the published between-day figure (%SEM ≈ 17 % of the ratio), raised by this "
               "patient's own session-to-session scatter or the clinic's patients' when larger — the same verdict "
               "and figure as `reengage trend`; the rep-to-rep spread within a session is shown as today's "
               "precision. Published values are "
               "other people's group values in one variant each, drawn as labelled points (hover for the variant, "
               "population and source), never as a normal band, and not as targets or verdicts. No study follows the "
               "ratio or the onset order over weeks, so no date is projected: an ESTIMATE is the slope so far and "
               "how many more sessions at it a change beyond the between-session noise would take. Both muscles' "
               "%MVC are drawn: cueing raises both, so the ratio can stay flat while the glutes switch on.",
               className="re-help"),
        table,
    ])


def layout(subject_id: str | None = None, **_query):
    root = data.data_root()
    subject_id = data.url_subject_id(subject_id)
    if subject_id is None:
        return html.Div([html.H2("Patient not found"), dcc.Link("All patients", href="/")])
    trends = data.patient(root, subject_id)
    if not trends:
        empty = data.empty_recordings(root, subject_id)
        why = (f"Only {len(empty)} empty recording{'s' if len(empty) != 1 else ''} (no samples) for this id: "
               "nothing to chart." if empty else "No sessions are catalogued for this id.")
        return html.Div([html.H2(f"Patient {subject_id}" if empty else "Patient not found"),
                         html.P(why, className="empty-note"), dcc.Link("All patients", href="/")])
    return html.Div([
        dcc.Location(id="patient-go", refresh=True),
        html.Div(className="re-titlebar", children=[
            html.H2(f"Patient {subject_id}"),
            dcc.Link("Printable report", href=f"/report/{subject_id}", className="re-button no-print",
                     id="patient-report-link"),
        ]),
        *_other_empty_note(root, subject_id, trends),
        *[_section(i, subject_id, t, cues.session_extras(root, t.sessions)) for i, t in enumerate(trends)],
    ])


def _other_empty_note(root, subject_id: str, trends: list[data.TaskTrend]) -> list:
    """Empty recordings of an exercise with no chart of its own (each chart counts its own)."""
    charted = {t.task for t in trends}
    n = sum(1 for e in data.empty_recordings(root, subject_id) if e["task"] not in charted)
    return [html.P(f"{n} empty recording{'s' if n != 1 else ''} (no samples) not shown.",
                   className="re-help empty-note")] if n else []


@callback(Output("patient-go", "href"), Input({"type": "patient-trend", "index": ALL}, "clickData"),
          prevent_initial_call=True)
def _open_session(clicks):
    trig = ctx.triggered[0]["value"] if ctx.triggered else None
    if not trig or not trig.get("points"):
        return dash.no_update
    session_id = trig["points"][0].get("customdata")
    if not isinstance(session_id, int):
        return dash.no_update
    return f"/session/{session_id}"
