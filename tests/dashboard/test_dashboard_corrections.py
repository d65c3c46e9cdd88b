"""Correcting the analysis on the session page: the data functions behind it, and the whole flow in real
headless Chromium (click an onset ▲ to pick it, move it, exclude a rep, undo), the numbers on the page taken
from the effective analysis the catalog stores."""

from __future__ import annotations

import pytest

from dash_testdata import build_root
from reengage.catalog import Catalog
from reengage.dashboard import data


@pytest.fixture()
def root(tmp_path):
    build_root(tmp_path, real=False, extra_subjects=())
    return tmp_path


def test_session_detail_shows_corrections_and_the_corrected_numbers(root):
    sid = data.patient(root, "P001")[0].sessions[-1]["session_id"]
    before = data.session(root, sid)
    rep = before["analysis"]["reps"][1]
    h = rep["onset_s"]["hamstrings"]
    c = data.correct(root, sid, "move_onset", 1, who="AB", channel="hamstrings", seconds=h - 0.1)
    after = data.session(root, sid)
    assert after["analysis"]["reps"][1]["onset_latency_ms"] == round(1000 * (rep["onset_s"]["glute_max"]
                                                                            - round(h - 0.1, 4)), 1)
    assert after["reps"][1]["corrected"] == "yes" and after["reps"][0]["corrected"] == ""
    [shown] = after["corrections"]
    assert shown["correction_id"] == c["correction_id"] and "hamstrings onset moved" in shown["words"]
    assert data.onset_at(after["analysis"], "hamstrings", round(h - 0.1, 4)) == 1
    assert data.onset_at(after["analysis"], "hamstrings", h + 10) is None
    # the patient page's row for this session is the corrected median, read from the catalog
    row = next(s for s in data.patient(root, "P001")[0].sessions if s["session_id"] == sid)
    assert row["median_onset_latency_ms"] == after["analysis"]["summary"]["median_onset_latency_ms"]


def test_the_author_is_the_authenticated_user_else_the_login_name(monkeypatch):
    import getpass

    import flask

    app = flask.Flask("t")
    with app.test_request_context("/", headers={"Authorization": "Basic Y2xpbmljaWFuOnB3"}):  # clinician:pw
        assert data.correction_author() == "clinician"
    with app.test_request_context("/"):
        assert data.correction_author() == getpass.getuser()


@pytest.mark.browser
def test_correcting_onsets_and_reps_on_the_session_page(request, tmp_path):
    from dash.testing.application_runners import ThreadedRunner
    from dash.testing.composite import DashComposite

    from reengage.dashboard.app import create_app
    from test_dashboard_live import free_udp_port

    build_root(tmp_path, real=False, extra_subjects=())
    with Catalog(tmp_path) as cat:
        s = cat.sessions("P001")[-1]
        machine = cat.analysis(s["recording_id"])
    app = create_app(tmp_path, live_port=free_udp_port())
    with ThreadedRunner() as server, DashComposite(
        server=server, browser="chrome", headless=request.config.getoption("headless"),
        options=request.config.hook.pytest_setup_options(), download_path=str(tmp_path / "dl"),
        percy_run=False, percy_finalize=False,
    ) as duo:
        duo.start_server(app)
        duo.wait_for_page(f"{duo.server_url}/session/{s['session_id']}")
        duo.wait_for_element("#session-traces .js-plotly-plot")
        duo.wait_for_element("#session-correct summary").click()
        # click the ▲ of rep 2's hamstrings onset on the traces: the form picks that rep, muscle and time
        h = machine["reps"][1]["onset_s"]["hamstrings"]
        _click_marker(duo, "hamstrings onset", h)
        duo.wait_for_contains_text("#corr-msg", "Rep 2, hamstrings onset at")
        assert duo.find_element("#corr-rep").get_attribute("value") == "2"
        new = round(h - 0.15, 3)
        box = duo.find_element("#corr-seconds")
        box.clear()
        box.send_keys(str(new))
        duo.find_element("#corr-apply").click()
        duo.wait_for_text_to_equal("#corr-msg", "Saved: rep 2, move onset.")
        with Catalog(tmp_path) as cat:
            eff = cat.analysis(s["recording_id"])
            [c] = cat.corrections(s["session_id"])
        assert (c["kind"], c["old"], c["new"], c["rep"]) == ("move_onset", h, new, 1)
        want = f"{eff['summary']['median_onset_latency_ms']:+.0f}"
        duo.wait_for_contains_text("#session-summary .summary-median-onset-latency", want)
        assert eff["reps"][1]["onset_latency_ms"] != machine["reps"][1]["onset_latency_ms"]
        rows = duo.driver.execute_script(
            "return [...document.querySelectorAll('#session-corrections tbody tr')].map(r => r.innerText);")
        assert len(rows) == 1 and c["who"] in rows[0] and f"{h:.3f} s → {new:.3f} s" in rows[0]
        # exclude rep 1 with a reason: the rep count in the summary drops by one
        duo.find_element("#corr-kind input[value='exclude_rep']").click()
        rep_box = duo.find_element("#corr-rep")
        rep_box.clear()
        rep_box.send_keys("1")
        duo.find_element("#corr-apply").click()
        duo.wait_for_contains_text("#corr-msg", "Give a reason")  # a reason is required
        duo.find_element("#corr-reason").send_keys("patient coughed")
        duo.find_element("#corr-apply").click()
        duo.wait_for_text_to_equal("#corr-msg", "Saved: rep 1, exclude rep.")
        n = machine["summary"]["reps"]
        duo.wait_for_contains_text("#session-summary .summary-reps", f"{n - 1} of")
        row1 = duo.driver.execute_script("return document.querySelectorAll('#session-reps tbody tr')[0].innerText;")
        assert "excluded by clinician" in row1 and "patient coughed" in row1
        # undo the exclusion (the newest row): the undo is a correction too
        duo.find_elements("#session-corrections button")[0].click()
        duo.wait_for_contains_text("#session-summary .summary-reps", f"{n} of")
        with Catalog(tmp_path) as cat:
            kinds = [x["kind"] for x in cat.corrections(s["session_id"])]
        assert kinds == ["move_onset", "exclude_rep", "include_rep"]
        logs = [e for e in duo.get_logs() if e.get("level") == "SEVERE"]
        assert logs == [], logs


def _click_marker(duo, trace_name: str, t_s: float) -> None:
    """A real mouse click on the marker of ``trace_name`` at time ``t_s``: zoom to one second around it (so it
    stands alone), wait for the page's re-zoom, then click the marker's pixel from plotly's own axes."""
    from selenium.webdriver.common.action_chains import ActionChains

    from dash.testing.errors import TestingTimeoutError
    from dash.testing.wait import until

    note = duo.find_element("#session-view-note").text
    for attempt in range(5):  # a relayout sent before dcc.Graph listens is lost: send it again
        duo.driver.execute_script(
            "const gd = document.querySelector('#session-traces .js-plotly-plot');"
            "const fd = gd._fullData[gd.data.findIndex(d => d.name === arguments[0])];"
            "const u = {}; u[fd.xaxis.replace('x', 'xaxis') + '.range[0]'] = arguments[1] - 0.5;"
            "u[fd.xaxis.replace('x', 'xaxis') + '.range[1]'] = arguments[1] + 0.5 + 0.001 * arguments[2];"
            "Plotly.relayout(gd, u);", trace_name, t_s, attempt)
        try:
            until(lambda: duo.find_element("#session-view-note").text != note, timeout=4)
            break
        except TestingTimeoutError:
            continue
    else:
        raise AssertionError("the traces never re-zoomed")
    pos = duo.driver.execute_script("""
        const gd = document.querySelector('#session-traces .js-plotly-plot');
        const i = gd.data.findIndex(d => d.name === arguments[0]);
        const fd = gd._fullData[i];
        const xa = gd._fullLayout[fd.xaxis.replace('x', 'xaxis')], ya = gd._fullLayout[fd.yaxis.replace('y', 'yaxis')];
        const k = gd.data[i].x.findIndex(v => Math.abs(v - arguments[1]) < 1e-6);
        gd.scrollIntoView({block: 'center'});
        const box = gd.getBoundingClientRect();
        return {x: box.left + xa._offset + xa.l2p(xa.d2l(gd.data[i].x[k])),
                y: box.top + ya._offset + ya.l2p(ya.d2l(gd.data[i].y[k])), k: k};""",
        trace_name, t_s)
    assert pos["k"] >= 0, pos
    # viewport coordinates: the same in every Selenium 4 (an element offset's origin changed in 4.3)
    chain = ActionChains(duo.driver)
    chain.w3c_actions.pointer_action.move_to_location(int(pos["x"]), int(pos["y"]))
    chain.w3c_actions.pointer_action.click()
    chain.perform()
