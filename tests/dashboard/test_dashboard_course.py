"""A patient's course on the Patient page and the report: the slope per week with its interval and the number
of sessions at that slope before a change would exceed the between-session noise (no projected date), and
both muscles' %MVC beside the ratio."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy import stats

from dash_testdata import build_root, demo_like_sessions, truth_analysis, write_session
from reengage.dashboard import data, figures
from reengage.dashboard.words import projection_text, projection_words
from reengage.trend import between_session_mdc

WEEKLY = ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22"]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    r = tmp_path_factory.mktemp("courseroot")
    build_root(r, real=False)
    return r


def _text(items) -> str:
    return " ".join(str(c) for li in items for c in li.children)


def test_slope_and_its_interval_are_the_least_squares_ones():
    """Slope per week and its 95 % half-width equal scipy's regression of the medians on the day (Student t,
    n − 2 degrees of freedom), computed independently here."""
    dates = ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-29", "2024-02-05"]
    values = [0.80, 0.95, 0.90, 1.20, 1.25]
    p = data.project(dates, values)
    days = np.array([0, 7, 14, 28, 35], dtype=float)
    fit = stats.linregress(days, values)
    assert p.slope_per_week == pytest.approx(7 * fit.slope)
    assert p.slope_ci95_per_week == pytest.approx(7 * fit.stderr * stats.t.ppf(0.975, 3))
    assert p.sessions == 5 and p.interval_days == 7.0  # median spacing: 7, 7, 14, 7 days
    assert p.fit_dates == ["2024-01-01", "2024-02-05"]  # the line covers the sessions, not a date ahead


def test_sessions_until_the_change_exceeds_the_between_session_mdc():
    """+0.1 a week from 1.0: the ratio's MDC95 is 47 % of the mean of first and projected latest, so the
    change exceeds it once the ratio passes 1.0·(1 + 0.235)/(1 − 0.235) ≈ 1.617, i.e. at 1.7, four sessions
    after the last (1.3)."""
    p = data.project(WEEKLY, [1.0, 1.1, 1.2, 1.3])
    assert p.sessions_more == 4
    assert abs(1.6 - 1.0) <= between_session_mdc("glute_hamstring_ratio", 1.0, 1.6, [])
    assert abs(1.7 - 1.0) > between_session_mdc("glute_hamstring_ratio", 1.0, 1.7, [])
    assert p.mdc == pytest.approx(between_session_mdc("glute_hamstring_ratio", 1.0, 1.3, []))
    assert p.mdc_then == pytest.approx(between_session_mdc("glute_hamstring_ratio", 1.0, 1.7, []))
    text = projection_text(p)
    assert text.startswith("Glute:hamstring ratio: at +0.10 ± 0.00 per week")
    assert "a change beyond the between-session noise (MDC95 0.54 now, 0.64 at that level)" in text
    assert text.endswith("would take about 4 more weekly sessions.")


def test_onset_latency_counts_against_its_own_noise_and_spacing():
    """The published latency MDC95 is 1.96·√2·6 ≈ 17 ms. −30 ms so far: already beyond. −13 ms so far at
    ≈ −6.6 ms per fortnightly session: one more. −10 ms so far at −5 ms per weekly session: −15 ms after one
    more (within), −20 ms after two."""
    dates = ["2024-01-01", "2024-01-15", "2024-01-29", "2024-02-12"]
    p = data.project(dates, [-20.0, -30.0, -40.0, -50.0], "onset_latency_ms")
    assert p.slope_per_week == pytest.approx(-5.0) and p.change == pytest.approx(-30.0)
    # −30 ms already exceeds ≈ 17 ms: nothing more to wait for
    assert p.sessions_more == 0 and "already exceeds the between-session noise (MDC95 17 ms)" in projection_text(p)
    p = data.project(dates, [-20.0, -24.0, -29.0, -33.0], "onset_latency_ms")
    assert p.sessions_more == 1 and "about 1 more session 14 days apart" in projection_text(p)
    q = data.project(WEEKLY[:3], [-20.0, -25.0, -30.0], "onset_latency_ms")
    assert q.sessions_more == 2 and projection_text(q).endswith("about 2 more weekly sessions.")


def test_a_slope_whose_interval_spans_zero_gives_no_count():
    p = data.project(WEEKLY, [1.0, 1.3, 0.9, 1.1])
    assert p.flat and p.sessions_more is None
    text = projection_text(p)
    assert "the slope is not different from zero" in text and "more weekly" not in text


def test_fewer_than_three_sessions_give_nothing(root, tmp_path):
    assert data.project(WEEKLY[:2], [1.0, 1.1]) is None
    assert data.project(WEEKLY, [1.0, None, None, 1.2]) is None
    assert data.project(["2024-01-01"] * 3, [1.0, 1.1, 1.2]) is None  # one date: no slope
    from reengage.catalog import Catalog
    from reengage.io.recfile import read_recording

    with Catalog(tmp_path) as cat:
        for s in demo_like_sessions()[:2]:
            p, truth = write_session(tmp_path, "P020", "bridge", s, duration_s=12.0)
            rec = read_recording(p)
            cat.register(p, rec.info(), truth_analysis(truth, rec.fs_hz, rec.duration_s))
    [t] = data.patient(tmp_path, "P020")
    assert t.projections == [] and projection_words(t) == []


def test_the_page_states_slopes_never_a_date(root):
    [t] = data.patient(root, "P001")
    assert [p.metric for p in t.projections] == ["glute_hamstring_ratio", "onset_latency_ms"]
    words = projection_words(t)
    text = _text(words)
    assert text.count("ESTIMATE") == 2 and "per week" in text
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text)
    assert "reaches" not in text and "published" not in text
    fig = figures.trend_figure(t)
    estimates = [d for d in fig["data"] if d["name"].startswith("ESTIMATE")]
    last = [s["session_date"] for s in t.sessions if s["analysis_id"] is not None][-1]
    assert len(estimates) == 2 and all(d["x"][-1] == last for d in estimates)  # no line drawn into the future


def test_both_muscles_pct_mvc_beside_the_ratio(tmp_path):
    """The hamstrings' stored median %MVC is drawn in the %MVC row beside the glute max's and put in the
    table; a tampered stored value shows as stored (never recomputed from the reps)."""
    from reengage.catalog import Catalog
    from reengage.dashboard.words import SESSION_COLUMNS, session_cells
    from reengage.io.recfile import read_recording

    p, truth = write_session(tmp_path, "P021", "bridge", demo_like_sessions()[0], duration_s=12.0)
    rec = read_recording(p)
    a = truth_analysis(truth, rec.fs_hz, rec.duration_s)
    a["summary"]["median_mean_pct_mvc"] = {"glute_max": 12.5, "hamstrings": 61.25}
    with Catalog(tmp_path) as cat:
        cat.register(p, rec.info(), a)
    [t] = data.patient(tmp_path, "P021")
    [s] = t.sessions
    assert (s["glute_max_pct_mvc"], s["hamstrings_pct_mvc"]) == (12.5, 61.25)
    cells = dict(zip(SESSION_COLUMNS, [c.children for c in session_cells(s)]))
    assert cells["Glute max %MVC"] == "12.5" and cells["Hamstrings %MVC"] == "61.2"
    fig = figures.trend_figure(t)
    by_name = {d["name"]: d for d in fig["data"]}
    ham, gmax = by_name["hamstrings (%MVC, median of reps)"], by_name["glute max (%MVC, median of reps)"]
    assert ham["y"] == [61.25] and gmax["y"] == [12.5]
    assert (ham["xaxis"], ham["yaxis"]) == (gmax["xaxis"], gmax["yaxis"])  # the same chart row
