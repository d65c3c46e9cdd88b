"""A stored analysis small enough to write by hand, for the trend and noise tests' catalogs."""

from __future__ import annotations


def stored_analysis(ratio: float, latency: float, positions=None, retest=None) -> dict:
    """Five reps around ``ratio`` and ``latency`` ms, their summary, and optionally the MVC test positions and a
    retest block's values (``summary.retest``), in the shape ``analyze`` stores them."""
    reps = [{"index": k, "excluded": False, "glute_hamstring_ratio": ratio * (1 + 0.02 * k),
             "onset_latency_ms": latency + k} for k in range(5)]
    summary = {"reps": 5, "median_glute_hamstring_ratio": ratio * 1.04, "median_onset_latency_ms": latency + 2,
               "glute_first_fraction": 0.0}
    if retest:
        summary["retest"] = retest
    out = {"reps": reps, "summary": summary}
    if positions:
        out["mvc_positions"] = positions
    return out
