"""The noise behind a verdict, named with what it rests on, and the MVC-position warning."""

from __future__ import annotations

from reengage.dashboard.noise_words import basis_text, mvc_position_warning, noise_line


class _MDC(float):
    def __new__(cls, value, source, basis=None):
        obj = super().__new__(cls, value)
        obj.source, obj.basis = source, basis
        return obj


def test_each_noise_source_is_named_with_its_basis():
    assert noise_line("Ratio:", _MDC(0.3, "retest", {"sem": 9.5, "unit": "%", "pairs": 2, "prior_pairs": 4})) == (
        "Ratio: noise from this patient's test–retest pairs (electrodes re-applied, a new MVC, same visit), pooled "
        "with the published figure (SEM 9.5% over 2 pairs, 4 prior pairs)")
    assert "clinic's patients" in noise_line("Ratio:", _MDC(0.3, "clinic", {"sem": 12, "unit": "%", "patients": 3,
                                                                             "sessions": 14}))
    assert basis_text({"sem": 6.2, "unit": "ms", "sessions": 5}) == "SEM 6.2 ms over 5 sessions"
    # Today's MDC (no basis yet) still names its source; no MDC, no line.
    assert noise_line("Onset latency:", _MDC(17.0, "published")) == (
        "Onset latency: noise from the published between-day figure (re-applied electrodes, a new MVC)")
    assert noise_line("Ratio:", None) is None


def test_a_changed_mvc_position_is_warned_once_per_muscle():
    sessions = [{"session_id": i, "session_date": d} for i, d in enumerate(("2024-05-01", "2024-05-08", "2024-05-15"))]
    extras = {0: {"mvc_positions": {"glute_max": "prone knee-flexed", "hamstrings": "prone knee 45°"}},
              1: {"mvc_positions": {"glute_max": "standing squeeze", "hamstrings": "prone knee 45°"}},
              2: {}}
    [w] = mvc_position_warning(sessions, extras)
    assert w.startswith("MVC test position for glute max differs between sessions — prone knee-flexed (2024-05-01); "
                        "standing squeeze (2024-05-08)")
    assert mvc_position_warning(sessions, {0: extras[0], 2: extras[0]}) == []
