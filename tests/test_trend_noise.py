"""The trend verdict against between-session noise (issue 14, "Noise between sessions, and honest verdicts").

A direct simulation of per-session ratios: each session's MVC reference is off by ~12 % per muscle (electrodes
re-applied, a new MVC), which moves the ratio ~17 % between sessions, and each session's median comes from a
handful of reps with their own rep-to-rep spread. The figures are in docs/validation.md, "Between-session noise".
"""

from __future__ import annotations

import numpy as np
import pytest

from reengage.trend import (MDC, NOISE_PATIENT, NOISE_PUBLISHED, between_session_mdc, measure_trend,
                            minimal_detectable_change, verdict)

PATIENTS = 2000  # per cohort; the rates below are then known to about ±1 % (binomial SE at 7 %)
MVC_ERROR = 0.12  # SD of each session's MVC reference error, per muscle (relative)
REP_SPREAD = 0.15  # SD of log rep-to-rep variation of the ratio within a session
REPS = 8
DAYS = [0.0, 7.0, 14.0, 21.0]  # four weekly sessions


def _session_reps(rng, true_ratio: float) -> list[float]:
    glute_mvc, ham_mvc = 1.0 + MVC_ERROR * rng.standard_normal(2)
    session_ratio = true_ratio * ham_mvc / glute_mvc  # each muscle normalised to its own (wrong) MVC
    return list(session_ratio * np.exp(REP_SPREAD * rng.standard_normal(REPS)))


def _cohort(seed: int, course) -> tuple[list[str], list[str]]:
    """Verdicts per patient: (between-session verdict, the old within-session verdict) for a true course."""
    rng = np.random.default_rng(seed)
    new, old = [], []
    for _ in range(PATIENTS):
        baseline = rng.uniform(0.4, 1.0)
        reps = [_session_reps(rng, baseline * f) for f in course]
        medians = [float(np.median(r)) for r in reps]
        m = measure_trend(medians, reps, True, "glute_hamstring_ratio", DAYS)
        new.append(m["verdict"])
        old.append(verdict(m["change"], minimal_detectable_change(reps), True))
    return new, old


def _rate(verdicts: list[str], *which: str) -> float:
    return sum(v in which for v in verdicts) / len(verdicts)


def test_no_true_change_rarely_called_a_change():
    new, old = _cohort(1401, [1.0, 1.0, 1.0, 1.0])
    false_change = _rate(new, "improved", "worsened")
    assert false_change <= 0.10
    # The rep-to-rep MDC alone, the verdict before this change, calls several times as many changed.
    assert _rate(old, "improved", "worsened") > 0.3
    # Neither direction is favoured: the ratio's MDC is relative to the mean of the two compared sessions.
    assert abs(_rate(new, "improved") - _rate(new, "worsened")) < 0.03


def test_a_tripled_ratio_is_called_improved():
    new, _ = _cohort(1402, [1.0, 3.0 ** (1 / 3), 3.0 ** (2 / 3), 3.0])
    assert _rate(new, "improved") >= 0.90
    assert _rate(new, "worsened") == 0.0


def test_published_figure_and_its_source():
    mdc = between_session_mdc("glute_hamstring_ratio", 0.5, 1.5, [[1.0, 1.0], [1.5, 1.5]])
    assert isinstance(mdc, MDC) and mdc.source == NOISE_PUBLISHED
    assert float(mdc) == pytest.approx(1.96 * 2 ** 0.5 * 0.17 * 1.0)  # 47 % of the mean of 0.5 and 1.5
    assert mdc.within == 0.0  # no rep spread at all: today's precision is perfect, the verdict still is not
    lat = between_session_mdc("onset_latency_ms", 40.0, -20.0, [[40.0, 41.0], [-20.0, -19.0]])
    assert lat.source == NOISE_PUBLISHED and float(lat) == pytest.approx(1.96 * 2 ** 0.5 * 6.0)
    assert between_session_mdc("onset_latency_ms", None, -20.0, []) is None


def test_within_session_spread_is_a_floor():
    wide = [[-100.0, 0.0, 100.0], [-120.0, -20.0, 80.0]]
    lat = between_session_mdc("onset_latency_ms", 0.0, -20.0, wide)
    assert float(lat) == pytest.approx(minimal_detectable_change(wide)) and float(lat) > 17.0
    assert lat.source == NOISE_PUBLISHED  # the between-session figure named, raised to the session's precision


def test_patients_own_scatter_when_larger_than_published():
    rng = np.random.default_rng(7)
    days = [7.0 * k for k in range(8)]
    noisy = list(0.8 * np.exp(0.45 * rng.standard_normal(8)))  # far noisier than 17 % between sessions
    m = measure_trend(noisy, [[v, v] for v in noisy], True, "glute_hamstring_ratio", days)
    assert m["noise_source"] == NOISE_PATIENT
    assert m["mdc95"] > 1.96 * 2 ** 0.5 * 0.17 * (noisy[0] + noisy[-1]) / 2
    steady = [0.8, 0.81, 0.79, 0.8, 0.82, 0.8, 0.79, 0.81]  # steadier than published: not trusted below it
    m = measure_trend(steady, [[v, v] for v in steady], True, "glute_hamstring_ratio", days)
    assert m["noise_source"] == NOISE_PUBLISHED
    few = measure_trend(noisy[:5], [[v, v] for v in noisy[:5]], True, "glute_hamstring_ratio", days[:5])
    assert few["noise_source"] == NOISE_PUBLISHED  # five sessions: too few for the patient's own figure


def test_the_json_names_noise_and_precision():
    m = measure_trend([0.6, None, 0.7], [[0.5, 0.7], [0.6, 0.8]], True, "glute_hamstring_ratio", [0.0, 7.0, 14.0])
    assert m["noise_source"] == NOISE_PUBLISHED and m["verdict"] == "no detectable change"
    assert m["within_session_mdc95"] == pytest.approx(minimal_detectable_change([[0.5, 0.7], [0.6, 0.8]]), abs=1e-6)
    one = measure_trend([0.6], [[0.5, 0.7]], True, "glute_hamstring_ratio", [0.0])
    assert one["verdict"] == "insufficient data" and one["noise_source"] is None and one["mdc95"] is None


def test_page_words_name_the_source_and_the_precision():
    from reengage.dashboard.words import change_words

    mdc = between_session_mdc("glute_hamstring_ratio", 0.5, 1.5, [[0.4, 0.6], [1.4, 1.6]])
    text = change_words(1.0, mdc, "", True)
    assert "published between-day" in text and "real change, better" in text
    assert "within-session precision today" in text
    assert "within the published" in change_words(0.2, mdc, "", True)


def test_slope_fields_are_the_pages_and_null_when_flat_or_too_few_sessions():
    """sessions_to_exceed_noise is 0 once the change exceeds the MDC95 (as the Patient page says), null when the
    slope's 95 % interval spans zero and the change does not, and every slope field is null below three
    sessions."""
    from reengage.trend import project, slope_fields

    def rows(dates, values):
        return [{"session_date": d, "m": v} for d, v in zip(dates, values)]

    weekly = ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22"]
    steady = slope_fields(rows(weekly, [-20.0, -24.0, -29.0, -33.0]), "m", [], "onset_latency_ms")
    assert steady["sessions_to_exceed_noise"] == project(weekly, [-20.0, -24.0, -29.0, -33.0],
                                                         "onset_latency_ms").sessions_more >= 1
    assert steady["slope_per_week"] == pytest.approx(-4.4) and steady["slope_ci95_per_week"] > 0
    # A jump then back: the change (-40 ms) exceeds the MDC95 (17 ms) but the interval spans zero.
    jumpy = ([-20.0, -80.0, 10.0, -60.0])
    assert project(weekly, jumpy, "onset_latency_ms").sessions_more == 0
    flat = slope_fields(rows(weekly, jumpy), "m", [], "onset_latency_ms")
    assert abs(flat["slope_per_week"]) <= flat["slope_ci95_per_week"] and flat["sessions_to_exceed_noise"] == 0
    wobble = [-20.0, -25.0, -18.0, -24.0]  # within the noise, no pace: nothing to count
    assert slope_fields(rows(weekly, wobble), "m", [], "onset_latency_ms")["sessions_to_exceed_noise"] is None
    two = slope_fields(rows(weekly[:2], [1.0, 2.0]), "m", [], "glute_hamstring_ratio")
    assert two == {"slope_per_week": None, "slope_ci95_per_week": None, "sessions_to_exceed_noise": None}


def test_the_dashboard_uses_the_trend_modules_projection():
    from reengage import trend
    from reengage.dashboard import data

    assert data.project is trend.project and data.Projection is trend.Projection
