"""The dashboard in real headless Chromium (dash[testing]): one app and one browser for the module."""

from __future__ import annotations

import time

import pytest

from dash_testdata import build_root, write_empty, write_imported

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def duo(request, tmp_path_factory):
    """dash_duo's machinery (ThreadedRunner + DashComposite), module-scoped so the ≈ 5 s of browser and
    server start-up is paid once."""
    from dash.testing.application_runners import ThreadedRunner
    from dash.testing.composite import DashComposite

    from reengage.dashboard.app import create_app

    root = tmp_path_factory.mktemp("dashroot")
    info = build_root(root)
    source = sorted((root / "P001").glob("*.rgr"))[-1]
    info["imported"] = {kind: write_imported(root, source, kind) for kind in ("edf", "csv")}
    write_empty(root, "P001", info["task"], info["sessions"][-1]["date"])
    from test_dashboard_live import free_udp_port

    port = free_udp_port()
    app = create_app(root, live_port=port)
    with ThreadedRunner() as server, DashComposite(
        server=server, browser="chrome", headless=request.config.getoption("headless"),
        options=request.config.hook.pytest_setup_options(),
        download_path=str(tmp_path_factory.mktemp("download")), percy_run=False, percy_finalize=False,
    ) as dc:
        dc.start_server(app)
        dc.data_root = root
        dc.info = info
        dc.live_port = port
        yield dc


def trace_points(dc, graph_selector: str, trace_name: str) -> int:
    return dc.driver.execute_script(
        "const g = document.querySelector(arguments[0] + ' .js-plotly-plot');"
        "const t = g && g.data.find(d => d.name === arguments[1]);"
        "return t ? t.x.filter(v => v !== null).length : -1;",
        graph_selector, trace_name,
    )


def no_console_errors(dc) -> None:
    logs = [e for e in dc.get_logs() if e.get("level") == "SEVERE"]
    assert logs == [], logs


def test_patients_list_and_trend_has_one_point_per_session(duo):
    from reengage.dashboard.figures import LATENCY_TRACE, RATIO_TRACE

    duo.wait_for_page(duo.server_url + "/")
    duo.wait_for_element("#patients-table")
    rows = duo.find_elements("#patients-table tbody tr")
    assert [r.find_element("css selector", "td").text for r in rows] == ["P001", "P002", "P003"]
    cells = [c.text for c in rows[0].find_elements("css selector", "td")]
    assert cells[3] == f"{len(duo.info['sessions'])} (+1 empty)"  # the empty recording is counted apart
    assert cells[2].startswith("not registered")
    # search filters the list
    duo.find_element("#patients-search").send_keys("P002")
    duo.wait_for_text_to_equal("#patients-table tbody tr td", "P002")
    assert len(duo.find_elements("#patients-table tbody tr")) == 1
    duo.clear_input("#patients-search")
    duo.wait_for_text_to_equal("#patients-table tbody tr td", "P001")
    duo.find_element(".patient-link").click()
    duo.wait_for_element(".patient-trend .js-plotly-plot")
    assert "/patient/P001" in duo.driver.current_url
    n = len(duo.info["sessions"])
    assert trace_points(duo, ".patient-trend", RATIO_TRACE) == n
    assert trace_points(duo, ".patient-trend", LATENCY_TRACE) == n
    assert duo.find_element(".empty-note").text == "1 empty recording (no samples) not shown."
    no_console_errors(duo)


def test_patient_charts_share_one_time_axis(duo):
    """Every row of the patient figure has the same x range and puts a session's date at the same pixel,
    the phase bands span all rows at their phase's dates, and the ratio axis starts at 0."""
    duo.wait_for_page(duo.server_url + "/patient/P001")
    duo.wait_for_element(".patient-trend .js-plotly-plot")
    dates = [s["date"] for s in duo.info["sessions"]]
    got = duo.driver.execute_script("""
        const fl = document.querySelector('.patient-trend .js-plotly-plot')._fullLayout;
        const axes = Object.keys(fl).filter(k => /^xaxis\\d*$/.test(k)).sort();
        return {
          axes: axes,
          ranges: axes.map(a => fl[a].range.map(String)),
          px: arguments[0].map(d => axes.map(a => Math.round(fl[a]._offset + fl[a].l2p(fl[a].d2l(d))))),
          bands: fl.shapes.filter(s => (s.name || '').startsWith('phase'))
                   .map(s => [s.name, s.xref, s.yref, s.y0, s.y1, s.x0, s.x1]),
          ratio_y0: fl.yaxis.range[0],
          phase_labels_y: fl.annotations.filter(a => a.name === 'phase').map(a => [a.yref, a.y]),
        };""", dates)
    assert len(got["axes"]) == 4
    assert all(r == got["ranges"][0] for r in got["ranges"])
    for d, px in zip(dates, got["px"]):
        assert max(px) - min(px) <= 1, (d, px)  # one date, one x position in every row
    phases = {s["phase"] for s in duo.info["sessions"]}
    assert {b[0] for b in got["bands"]} == {f"phase {p}" for p in phases}
    for name, xref, yref, y0, y1, x0, x1 in got["bands"]:
        assert (xref, yref, y0, y1) == ("x", "paper", 0, 1)  # across every row
        inside = [s["date"] for s in duo.info["sessions"] if f"phase {s['phase']}" == name]
        assert all(x0[:10] <= d <= x1[:10] for d in inside)
    assert got["ratio_y0"] == 0
    assert all(yref == "paper" and y == 1 for yref, y in got["phase_labels_y"])  # above the data, not on bars
    no_console_errors(duo)


def test_click_patient_to_session_shows_traces_reps_and_compare(duo):
    from reengage.catalog import Catalog

    duo.wait_for_page(duo.server_url + "/patient/P001")
    duo.wait_for_element(".session-link")
    links = duo.find_elements(".session-link")
    assert len(links) == len(duo.info["sessions"])
    newest = links[0].text
    links[0].click()
    duo.wait_for_element("#session-traces .js-plotly-plot")
    assert "/session/" in duo.driver.current_url
    sid = int(duo.driver.current_url.rstrip("/").rsplit("/", 1)[1])
    with Catalog(duo.data_root) as cat:
        s = cat.session(sid)
        analysis = cat.analysis(s["recording_id"])
    assert s["session_date"] == newest
    n_reps = len(analysis["reps"])
    assert n_reps > 0
    duo.wait_for_element("#session-reps")
    assert len(duo.find_elements("#session-reps tbody tr")) == n_reps
    onsets = duo.driver.execute_script(
        "const g = document.querySelector('#session-traces .js-plotly-plot');"
        "const t = g.data.find(d => d.name === 'glute_max onset'); return t ? t.x.length : -1;")
    assert onsets == sum(1 for r in analysis["reps"] if r["onset_s"].get("glute_max") is not None)
    # side by side with another session of the same patient
    duo.select_dcc_dropdown("#session-compare", index=0)
    deadline = time.time() + 10
    while time.time() < deadline and len(duo.find_elements("#session-compare-panel .compare-graph")) < 2:
        time.sleep(0.2)
    assert len(duo.find_elements("#session-compare-panel .compare-graph")) == 2
    no_console_errors(duo)


@pytest.mark.parametrize("kind", ["edf", "csv"])
def test_imported_edf_and_csv_sessions_open(duo, kind):
    """An EDF+ and an imported CSV session (read through load_recording) show their traces, the envelope
    with its onsets, and a filled reps table, with no error on the page or in the console."""
    from reengage.catalog import Catalog

    with Catalog(duo.data_root) as cat:
        rel = cat.relpath(duo.info["imported"][kind])
        s = next(s for s in cat.sessions("P003") if s["path"] == rel)
        analysis = cat.analysis(s["recording_id"])
    duo.wait_for_page(f"{duo.server_url}/session/{s['session_id']}")
    duo.wait_for_element("#session-traces .js-plotly-plot")
    assert not duo.find_elements(".re-main p.warning")  # where a file that fails to open says so
    drawn = duo.driver.execute_script(  # the traces arrive binary-encoded: read plotly's decoded copy
        "const g = document.querySelector('#session-traces .js-plotly-plot');"
        "return g._fullData.filter(d => d.mode === 'lines').map(d => [d.name, d.x.length]);")
    assert sorted(name for name, _ in drawn) == ["glute_max", "glute_max", "hamstrings", "hamstrings"]
    assert all(n > 100 for _, n in drawn)  # raw and envelope rows, each with its points
    onsets = duo.driver.execute_script(
        "const g = document.querySelector('#session-traces .js-plotly-plot');"
        "const t = g.data.find(d => d.name === 'glute_max onset'); return t ? t.y.filter(v => v !== null).length : -1;")
    assert onsets == sum(1 for r in analysis["reps"] if r["onset_s"].get("glute_max") is not None) > 0
    assert len(duo.find_elements("#session-reps tbody tr")) == len(analysis["reps"]) > 0
    no_console_errors(duo)


GAUGE_JS = """
    const g = document.querySelector('#live-gauge .js-plotly-plot');
    const svg = g.querySelector('svg.main-svg').getBoundingClientRect();
    const ticks = [...g.querySelectorAll('.angular text, .angularaxis text, text')].filter(t => t.textContent === '100');
    const r = ticks.length ? ticks[0].getBoundingClientRect() : null;
    return {mode: g.data[0].mode, value: g.data[0].value, title: g.data[0].title.text,
            tick100: r && [r.left, r.right, svg.left, svg.right]};
"""


def test_live_page_idle_says_how_to_start_and_its_gauge_fits(duo):
    duo.wait_for_page(duo.server_url + "/live")
    duo.wait_for_contains_text("#live-status", "reengage record")
    text = duo.find_element("#live-status").text
    assert "reengage replay" in text and ".py" not in text and "LIVE.md" not in text and "/" not in text.split(
        "--port")[0].replace("prone_hip_extension", "")  # commands, not source paths
    duo.wait_for_element("#live-gauge .js-plotly-plot svg.main-svg")  # the status is in the layout; plotly draws later
    gauge = duo.driver.execute_script(GAUGE_JS)
    assert gauge["mode"] == "gauge" and gauge["value"] == 0  # at rest, no number
    left, right, svg_left, svg_right = gauge["tick100"]
    assert svg_left <= left and right <= svg_right  # the scale's "100" is inside the picture
    no_console_errors(duo)


def test_live_page_updates_while_a_replay_runs_and_resets_when_it_stops(duo):
    import threading

    from reengage.acquisition.live import replay_to_live
    from reengage.io.recfile import read_recording

    duo.wait_for_page(duo.server_url + "/live")
    duo.wait_for_contains_text("#live-status", "reengage record")
    path = sorted((duo.data_root / "P001").glob("*.rgr"))[-2]  # last demo session (glutes first), not the empty one
    rec = read_recording(path)
    assert rec.emg.n_samples > 0
    t = threading.Thread(target=replay_to_live, args=(rec,), kwargs={"port": duo.live_port, "speed": 4.0})
    t.start()
    try:
        duo.wait_for_contains_text("#live-status", "replaying", timeout=20)
        first = duo.find_element("#live-status").text
        n_traces = duo.driver.execute_script(
            "return document.querySelector('#live-traces .js-plotly-plot').data.length")
        assert n_traces == 2
        # Generous: under a loaded CI machine the replay thread and the chain share two cores with the browser.
        duo.wait_for_contains_text("#live-cue-box", "glutes first", timeout=40)
        assert "good" in duo.find_element("#live-cue-box").get_attribute("class")
        duo.wait_for_contains_text("#live-latency", "Sample-to-cue latency", timeout=5)
        assert duo.find_element("#live-status").text != first  # it keeps moving
        during = duo.driver.execute_script(GAUGE_JS)
        assert during["mode"] == "gauge+number" and "stopped" not in during["title"]
    finally:
        t.join()
    # The stream ended: the page says so and the gauge is back at rest.
    duo.wait_for_contains_text("#live-status", "stream ended", timeout=10)
    after = duo.driver.execute_script(GAUGE_JS)
    assert (after["mode"], after["value"]) == ("gauge", 0) and "stream stopped" in after["title"]
    no_console_errors(duo)


def test_editing_pain_on_the_session_page_stores_it_with_its_audit_entry(duo):
    from reengage.catalog import Catalog

    with Catalog(duo.data_root) as cat:
        [s] = cat.sessions("P002")
    duo.wait_for_page(f"{duo.server_url}/session/{s['session_id']}")
    duo.wait_for_element("#session-edit summary").click()
    pain = duo.find_element("#session-edit-pain")
    pain.clear()
    pain.send_keys("4.5")
    duo.find_element("#session-edit-who").send_keys("AB")
    duo.find_element("#session-edit-save").click()
    duo.wait_for_text_to_equal("#session-edit-msg", "Saved: pain (0–10).")
    duo.wait_for_text_to_equal("#session-summary .summary-pain", "4.5")
    row = duo.find_elements("#session-edits tbody tr")[0].text
    assert "AB" in row and "pain (0–10)" in row and f"{s['pain']:g} → 4.5" in row
    with Catalog(duo.data_root) as cat:
        assert cat.session(s["session_id"])["pain"] == 4.5
        [e] = cat.session_edits(s["session_id"])
    assert (e["field"], e["old"], e["new"], e["who"]) == ("pain", s["pain"], 4.5, "AB")
    no_console_errors(duo)


def test_adding_a_patient_on_the_patients_page(duo):
    duo.wait_for_page(duo.server_url + "/")
    duo.wait_for_element("#patients-table")
    duo.find_element("#register-add-id").send_keys("P004")
    duo.find_element("#register-add").click()
    duo.wait_for_contains_text("#register-msg", "name or initials")  # who made it is required
    duo.find_element("#register-who").send_keys("AB")
    duo.find_element("#register-add").click()
    duo.wait_for_text_to_equal("#register-msg", "Patient P004 added to the register.")
    # The table re-renders after the add: read it in one script call (an element found a moment before may
    # already be replaced), and wait until the new row is there.
    duo.wait_for_contains_text("#patients-table", "P004", timeout=10)
    rows = duo.driver.execute_script(
        "return [...document.querySelectorAll('#patients-table tbody tr')].map(r => r.innerText);")
    row = next(r for r in rows if r.startswith("P004"))
    assert "registered" in row and "no sessions yet" in row and "not registered" not in row
    no_console_errors(duo)


def test_report_page_is_printable_with_charts(duo):
    from reengage.dashboard.figures import RATIO_TRACE

    duo.wait_for_page(duo.server_url + "/patient/P001")
    duo.find_element("#patient-report-link").click()
    duo.wait_for_element(".report-trend .js-plotly-plot")
    assert "/report/P001" in duo.driver.current_url
    assert trace_points(duo, ".report-trend", RATIO_TRACE) == len(duo.info["sessions"])
    assert len(duo.find_elements(".report-page .re-table tbody tr")) == len(duo.info["sessions"])
    # print rules hide the navigation and the print button
    hidden = duo.driver.execute_script(
        "const r = [...document.styleSheets].flatMap(s => { try { return [...s.cssRules]; } catch (e) { return []; } })"
        ".filter(x => x.media && x.media.mediaText === 'print').map(x => x.cssText).join(' ');"
        "return r.includes('.no-print') && r.includes('display: none');")
    assert hidden
    no_console_errors(duo)
