"""Boolean sample masks from time intervals and from bursts: events (rest, MVC trials, data gaps) and activity
as the (samples,) masks the chain's steps take."""

from __future__ import annotations

import numpy as np

from ._checks import check_fs
from ._util import intervals_mask as _intervals_mask
from ._util import spans_mask
from .onsets import Bursts


def intervals_mask(n: int, *, fs: float, intervals_s, t0_s: float = 0.0) -> np.ndarray:
    """Mask of ``n`` samples at ``fs`` Hz, True inside the intervals.

    Parameters
    ----------
    n : int
        Samples.
    fs : float
        Sampling rate, Hz.
    intervals_s : iterable of (onset_s, duration_s)
        Intervals in seconds from the recording origin; a sample counts when any part of its period does
        (onsets rounded down, ends up), clipped to the record.
    t0_s : float
        Time of sample 0, seconds.

    Returns
    -------
    bool array, (n,)
    """
    if int(n) < 0:
        raise ValueError(f"n must be a number of samples ≥ 0, got {n!r}")
    iv = np.asarray(list(intervals_s), dtype=np.float64).reshape(-1, 2)
    if not np.isfinite(iv).all():
        raise ValueError("intervals_s holds NaN or inf")
    return _intervals_mask(int(n), check_fs(fs), iv, t0_s=float(t0_s))


def bursts_mask(n: int, bursts: Bursts) -> np.ndarray:
    """Mask of ``n`` samples, True from each burst's onset to its offset (sample indices, offsets inclusive)."""
    if int(n) < 0:
        raise ValueError(f"n must be a number of samples ≥ 0, got {n!r}")
    return spans_mask(int(n), np.asarray(bursts.onsets), np.asarray(bursts.offsets) + 1)


__all__ = ["intervals_mask", "bursts_mask"]
