"""The Patient page with a guided protocol's marks: published values as labelled points (never a band), the
effect of a cue today apart from what carried over, and %ref beside %MVC — in the figure, and in real
headless Chromium."""

from __future__ import annotations

import pytest

from reengage.analysis import analyze
from reengage.catalog import Catalog
from reengage.io.recfile import RecordingWriter, StreamSpec, read_recording
from reengage.model import Channel, Event
from reengage.reference_values import reference_points
from reengage.session_plan import cue_events
from reengage.synth import SubjectProfile, synthesize

SUBJECT, TASK = "P010", "prone_hip_extension"
DATES = ("2024-05-01", "2024-05-08")


def build_cued_root(root) -> None:
    """Two prone hip extension sessions, each with its last three reps cued and a glute max reference hold
    (the MVC trial's plateau relabelled: a steady, known contraction)."""
    with Catalog(root) as cat:
        for k, date in enumerate(DATES):
            syn = synthesize(SubjectProfile.from_latency_ratio(90.0 - 30 * k, 0.5 + 0.1 * k), duration_s=60.0,
                             seed=40 + k, fs_hz=1000.0)
            starts = [min(r["onset_s"].values()) - 0.2 for r in syn.truth["reps"]]
            trial = next(e for e in syn.events if e.label == "mvc:glute_max")
            events = list(syn.events) + cue_events(starts, 2.9, 3) + [Event(trial.onset_s, trial.duration_s,
                                                                            "ref:glute_max")]
            path = root / SUBJECT / f"{SUBJECT}_{date.replace('-', '')}_{TASK}.rgr"
            meta = {"subject": SUBJECT, "task": TASK, "session_date": date, "phase": 1, "pain": 3.0,
                    "notes": "cued test session", "board": "synthetic"}
            with RecordingWriter(path, [StreamSpec("emg", syn.fs_hz, [Channel(m, m, "mV", "raw") for m in syn.muscles],
                                                   "<f4")], meta) as w:
                w.write_block("emg", 0, syn.emg_mv.astype("<f4"))
                for ev in events:
                    w.add_event(ev)
            rec = read_recording(path)
            cat.register(path, rec.info(), analyze(rec))


@pytest.fixture(scope="module")
def cued_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cuedroot")
    build_cued_root(root)
    return root


def test_published_values_are_labelled_points_never_a_band(cued_root):
    from reengage.dashboard import data, figures

    trend = next(t for t in data.patient(cued_root, SUBJECT) if t.task == TASK)
    fig = figures.trend_figure(trend)
    refs = [t for t in fig["data"] if t.get("meta") == "reference"]
    by_axis = {t["yaxis"]: t for t in refs}
    assert set(by_axis) == {"y", "y2", "y3"}  # ratio, latency and %MVC rows
    ratio = by_axis["y"]
    want = reference_points(TASK, "glute_hamstring_ratio")
    assert ratio["y"] == [p.value for p in want] and ratio["mode"] == "markers+text"
    # Each point names its variant, population and source (prone hip extension: single studies, with variant).
    assert any("abdominal drawing-in" in h and "Oh et al. 2007" in h and "20 healthy" in h for h in ratio["hovertext"])
    assert any("hip abducted + externally rotated" in h and "-109.1" in h for h in by_axis["y2"]["hovertext"])
    # No shaded reference band anywhere: the only rectangles are the phase bands and the MDC band.
    rects = [s for s in fig["layout"].get("shapes", []) if s.get("type") == "rect"]
    assert all((s.get("name") or "").startswith(("phase", "mdc")) for s in rects), rects
    # The points sit right of the last session, inside the x range.
    x = ratio["x"][0]
    assert DATES[-1] < x <= fig["layout"]["xaxis"]["range"][1]


def test_cue_effect_and_pct_ref_blocks_read_the_stored_summary(cued_root):
    from reengage.dashboard import cues, data

    trend = next(t for t in data.patient(cued_root, SUBJECT) if t.task == TASK)
    extras = cues.session_extras(cued_root, trend.sessions)
    assert len(extras) == 2
    last = extras[trend.sessions[-1]["session_id"]]
    eff = last["cue_effect"]
    assert eff["cued_reps"] + eff["uncued_reps"] > 0
    # The trend's point for a cued session is its uncued median (what carried over).
    assert trend.sessions[-1]["median_glute_hamstring_ratio"] == eff["median_glute_hamstring_ratio_uncued"]
    assert cues.pct_ref_text(trend.sessions, extras).startswith(f"{last['median_mean_pct_ref']['glute_max']:.0f} /")


@pytest.mark.browser
def test_patient_page_shows_reference_points_and_the_cue_effect(cued_root, request, tmp_path_factory):
    from dash.testing.application_runners import ThreadedRunner
    from dash.testing.composite import DashComposite

    from reengage.dashboard.app import create_app
    from reengage.dashboard.figures import REFERENCE_TRACE

    with Catalog(cued_root) as cat:
        last = cat.sessions(SUBJECT)[-1]
        eff = cat.analysis(last["recording_id"])["summary"]["cue_effect"]
    with ThreadedRunner() as server, DashComposite(
        server=server, browser="chrome", headless=request.config.getoption("headless"),
        options=request.config.hook.pytest_setup_options(),
        download_path=str(tmp_path_factory.mktemp("download")), percy_run=False, percy_finalize=False,
    ) as dc:
        dc.start_server(create_app(cued_root))
        dc.wait_for_page(dc.server_url + f"/patient/{SUBJECT}")
        dc.wait_for_element(".patient-trend .js-plotly-plot")
        got = dc.driver.execute_script(
            "const g = document.querySelector('.patient-trend .js-plotly-plot');"
            "return g.data.filter(d => d.name.startsWith(arguments[0])).map(d => [d.yaxis, d.text, d.y]);",
            REFERENCE_TRACE)
        ratio = next(t for t in got if t[0] == "y")
        assert "Oh 2007, drawing-in" in ratio[1] and 0.9 in ratio[2]
        assert any("Suehiro 2015, abd + ER" in t[1] for t in got if t[0] == "y2")
        # The points are drawn as text labels on the chart, not only in the data.
        labels = dc.driver.execute_script(
            "return [...document.querySelectorAll('.patient-trend .textpoint text')].map(t => t.textContent);")
        assert "Oh 2007, drawing-in" in labels
        dc.wait_for_element(".cue-effect")
        head = [th.text for th in dc.find_elements(".cue-effect thead th")]
        assert head[0] == f"Effect of the cue today ({DATES[-1]})"
        assert head[1:] == [f"uncued ({eff['uncued_reps']} reps)", f"cued ({eff['cued_reps']} reps)"]
        ratio_row = [td.text for td in dc.find_elements(".cue-effect tbody tr")[0].find_elements("css selector", "td")]
        assert ratio_row == ["Glute:hamstring ratio", f"{eff['median_glute_hamstring_ratio_uncued']:.2f}",
                             f"{eff['median_glute_hamstring_ratio_cued']:.2f}"]
        assert "uncued reps only" in dc.find_element(".re-findings .carry-over").text
        assert "%ref" in dc.find_element(".pct-ref-card").text
        # Each verdict names where its between-session noise came from.
        assert any("noise from" in li.text for li in dc.find_elements(".re-findings .noise-source"))
        logs = [e for e in dc.get_logs() if e.get("level") == "SEVERE"]
        assert logs == [], logs
