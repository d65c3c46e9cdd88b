"""Resting baseline of an envelope: from marked rest, or the quietest window found automatically.

Threshold detectors (Hodges & Bui 1996) compare activity against the mean and spread of a resting
baseline. When a session marks rest, that is used; otherwise the quietest window of each channel
is taken. Statistics are robust (median and 1.4826 × MAD): a cable tug inside a rest must not
inflate the threshold.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._util import as_float, moving_mean, window_samples


class Baseline(NamedTuple):
    """Per-channel resting statistics of an envelope, in the envelope's unit."""

    mean: np.ndarray
    sd: np.ndarray


def robust_stats(values: np.ndarray) -> tuple[float, float]:
    """(median, 1.4826·MAD) of finite values; (0, 0) when there are none."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return 0.0, 0.0
    med = float(np.median(v))
    return med, float(1.4826 * np.median(np.abs(v - med)))


def quietest_window(env, *, fs: float, window_s: float = 1.0, exclude=None, axis: int = -1) -> np.ndarray:
    """Start index of the quietest ``window_s`` of each channel (lowest mean envelope).

    ``exclude`` (bool mask over samples) marks samples that must not count as rest: data gaps filled
    with zeros and flat stretches would otherwise look like the perfect baseline.
    """
    env = np.atleast_2d(np.moveaxis(as_float(env), axis, -1))
    n = env.shape[-1]
    w = min(window_samples(window_s * 1000.0, fs), max(n, 1))
    if n == 0:
        return np.zeros(env.shape[0], dtype=int)
    m = moving_mean(env, w, causal=True)[:, w - 1:]  # m[:, i] = mean of env[:, i:i+w]
    if exclude is not None:
        bad = moving_mean(np.asarray(exclude, dtype=np.float64), w, causal=True)[w - 1:] > 0
        if not bad.all():
            m = np.where(bad[None, :], np.inf, m)
    return np.argmin(m, axis=-1).astype(int)


def baseline_mask(n: int, *, fs: float, rest_mask=None, env=None, window_s: float = 1.0, exclude=None,
                  min_rest_s: float = 0.5) -> np.ndarray:
    """Boolean (channels, n) mask of baseline samples.

    Marked rest is used when it gives at least ``min_rest_s``; else the quietest window of ``env``.
    """
    env2 = None if env is None else np.atleast_2d(as_float(env))
    n_ch = 1 if env2 is None else env2.shape[0]
    if rest_mask is not None:
        rm = np.asarray(rest_mask, dtype=bool)
        if exclude is not None:
            rm = rm & ~np.asarray(exclude, dtype=bool)
        if rm.sum() >= min_rest_s * fs:
            return np.broadcast_to(rm, (n_ch, n)).copy()
    if env2 is None:
        raise ValueError("baseline_mask needs rest_mask or env")
    w = min(window_samples(window_s * 1000.0, fs), n)
    starts = quietest_window(env2, fs=fs, window_s=window_s, exclude=exclude)
    out = np.zeros((n_ch, n), dtype=bool)
    for c, s in enumerate(starts):
        out[c, s:s + w] = True
    return out


def baseline_stats(env, mask) -> Baseline:
    """Robust mean and SD of each channel of ``env`` over its baseline ``mask`` (channels, n)."""
    env = np.atleast_2d(as_float(env))
    mask = np.broadcast_to(np.asarray(mask, dtype=bool), env.shape)
    means, sds = [], []
    for row, m in zip(env, mask):
        mu, sd = robust_stats(row[m])
        means.append(mu)
        sds.append(sd)
    return Baseline(np.array(means), np.array(sds))
