"""Gait bursts (150–250 ms: hamstrings in terminal swing, glute max at touchdown) are bursts; a cable tug is not
(issue 14: in UCI gait the default detector found 44 % of the examiner's clear onsets, dropping the rest as
shorter than 250 ms)."""

import numpy as np

from reengage.dsp import power_backtrack

FS = 1000.0


def _record(seed: int, burst_ms: float, tug: bool) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Rest noise (SD 1) with eight ``burst_ms`` bursts (SD 6) a second apart and, between them, eight pairs of 30 ms
    biphasic tugs (peak 20 noise SDs) when ``tug``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(int(12 * FS))
    starts = (np.arange(8) * 1.0 + 3.0) * FS
    w = int(burst_ms * 1e-3 * FS)
    for s in starts.astype(int):
        x[s:s + w] += 6 * rng.standard_normal(w) * np.hanning(w) ** 0.25
    if tug:
        k = np.arange(int(0.03 * FS))
        shape = 20 * np.sin(2 * np.pi * k / k.size) * np.hanning(k.size)
        # In pairs 70 ms apart (a tugged cable swinging back): the coarse 100 ms envelope spans them as one.
        for s in np.r_[starts + 0.5 * FS, starts + 0.57 * FS].astype(int):
            x[s:s + k.size] += shape
    rest = np.zeros(x.size, dtype=bool)
    rest[: int(2.5 * FS)] = True
    return x, rest, starts.astype(int), w


def test_gait_length_bursts_are_found():
    for seed in range(3):
        x, rest, starts, _ = _record(seed, 200.0, tug=False)
        b = power_backtrack(x, fs=FS, rest=rest)[0]
        assert len(b) == 8
        assert np.all(np.abs(b.onsets - starts) <= 40)


def test_cable_tugs_are_still_dropped():
    for seed in range(3):
        x, rest, starts, _ = _record(seed, 200.0, tug=True)
        b = power_backtrack(x, fs=FS, rest=rest)[0]
        assert len(b) == 8
        assert np.all(np.abs(b.onsets - starts) <= 40)
