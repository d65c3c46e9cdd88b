"""Clock alignment: the lower-envelope fit recovers a board's true rate through arrival jitter."""

from __future__ import annotations

import numpy as np

from reengage.acquisition.clock import ClockFit


def test_fit_recovers_rate_error_and_jitter_through_bursty_arrivals():
    rng = np.random.default_rng(1)
    true_fs = 1000.0 * (1 + 350e-6)  # a resonator 350 ppm fast
    fit = ClockFit(1000.0)
    t_board_us = 4_294_000_000  # micros() wraps during the run
    for k in range(0, 60_000, 8):
        last = k + 7
        sampled_s = last / true_fs
        delay_s = 0.001 + rng.exponential(0.002) + (0.016 if rng.random() < 0.05 else 0.0)
        t_us = (t_board_us + int(sampled_s * 1e6 * (1 - 20e-6))) % 2**32  # micros() 20 ppm slow
        fit.add(last, int((100.0 + sampled_s + delay_s) * 1e9), t_us)
    r = fit.report()
    assert abs(r["rate_error_ppm"] - 350) < 5
    assert abs(r["board_clock_error_ppm"] - (-20)) < 5
    assert 0 <= r["jitter_ms_median"] < 3 and r["jitter_ms_p99"] > r["jitter_ms_median"]
    # sample times come back on the host clock within the minimum latency
    t = fit.host_time_s(np.array([30_000]))[0]
    assert abs(t - (100.0 + 30_000 / true_fs)) < 0.0015


def test_short_runs_report_no_fit():
    fit = ClockFit(1000.0)
    for k in range(5):
        fit.add(k * 8, k * 8_000_000)
    assert "fs_hz" not in fit.report()


def test_simulated_speed_is_the_expected_rate():
    """A simulated board at --sim-speed 10 samples 10 × faster than the host clock on purpose: judged against
    that, its clock is exact; judged as a real board it would be the alarming +9 000 000 ppm of before."""
    rng = np.random.default_rng(2)
    points = []
    for k in range(0, 20_000, 8):
        host_s = 5.0 + (k + 7) / (1000.0 * 10) + 0.001 + rng.exponential(0.001)
        points.append((k + 7, int(host_s * 1e9), int((k + 7) * 1000)))
    sim, real = ClockFit(1000.0, speed=10.0), ClockFit(1000.0)
    for idx, host_ns, t_us in points:
        sim.add(idx, host_ns, t_us)
        real.add(idx, host_ns, t_us)
    r = sim.report()
    assert abs(r["rate_error_ppm"]) < 5 and abs(r["board_clock_error_ppm"]) < 5
    assert r["sim_speed"] == 10.0 and "10× the host clock" in r["note"]
    assert real.report()["rate_error_ppm"] > 8.9e6 and "sim_speed" not in real.report()
