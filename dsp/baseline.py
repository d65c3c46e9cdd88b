"""Resting baseline of an envelope: from marked rest, or the quietest window found automatically.

Threshold detectors (Hodges & Bui 1996) compare activity against the mean and spread of a resting
baseline. When a session marks rest, that is used; otherwise the quietest window of each channel
is taken. Statistics are robust (median and 1.4826 × MAD): a cable tug inside a rest must not
inflate the threshold.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import check_fs, check_mask, check_positive, check_signal, samples_axis
from ._util import as_float, moving_mean, window_samples


class Baseline(NamedTuple):
    """Per-channel resting statistics of an envelope (:func:`baseline_stats`).

    Attributes
    ----------
    mean : ndarray, shape (channels,)
        Robust resting level (median), in the envelope's unit.
    sd : ndarray, shape (channels,)
        Robust resting spread (1.4826 × MAD, the SD of Gaussian data), in the envelope's unit.
    """

    mean: np.ndarray
    sd: np.ndarray


def robust_stats(values) -> tuple[float, float]:
    """Median and 1.4826 × median absolute deviation of the finite values.

    The MAD scaled by 1.4826 estimates the SD of Gaussian data, and a cable tug inside a rest moves it
    far less than it moves the SD (Hampel 1974).

    Parameters
    ----------
    values : array_like, shape (samples,)
        Any values; NaN and inf are left out (not an error: gaps may be marked so).

    Returns
    -------
    (median, sd) : (float, float)
        In the unit of ``values``; (0.0, 0.0) when no value is finite.

    References
    ----------
    Hampel FR (1974). The influence curve and its role in robust estimation. *J Am Stat Assoc* 69:383–393.
    """
    values = check_signal(values, "values", ndim=(1,), check_finite=False)
    v = values[np.isfinite(values)]
    if v.size == 0:
        return 0.0, 0.0
    med = float(np.median(v))
    return med, float(1.4826 * np.median(np.abs(v - med)))


def quietest_window(env, *, fs: float, window_s: float = 1.0, exclude=None, axis: int = -1,
                    check_finite: bool = True) -> np.ndarray:
    """Start index of the quietest ``window_s`` of each channel (the lowest mean envelope).

    Parameters
    ----------
    env : array_like, shape (samples,) or (channels, samples)
        An envelope (non-negative amplitude, any unit).
    fs : float
        Sampling rate in Hz.
    window_s : float
        Window length in s (at most the record).
    exclude : array_like of bool, shape (samples,), optional
        Samples that must not count as rest: data gaps filled with zeros and flat stretches would
        otherwise look like the perfect baseline.
    axis : int
        The samples' axis.

    check_finite : bool
        Check ``env`` for NaN/inf (skip when the caller has checked).

    Returns
    -------
    ndarray of int, shape (channels,)
        Each channel's window start, in samples (0 for an empty record).
    """
    env = as_float(check_signal(env, "env", check_finite=check_finite))
    n = samples_axis(env, axis, "env")
    exclude = check_mask(exclude, n, "exclude")
    fs = check_fs(fs)
    env = np.atleast_2d(np.moveaxis(env, axis, -1))
    w = min(window_samples(check_positive(window_s, "window_s", "s") * 1000.0, fs), max(n, 1))
    if n == 0:
        return np.zeros(env.shape[0], dtype=int)
    m = moving_mean(env, w, causal=True)[:, w - 1:]  # m[:, i] = mean of env[:, i:i+w]
    if exclude is not None:
        bad = moving_mean(np.asarray(exclude, dtype=np.float64), w, causal=True)[w - 1:] > 0
        if not bad.all():
            m = np.where(bad[None, :], np.inf, m)
    return np.argmin(m, axis=-1).astype(int)


def baseline_mask(n: int, *, fs: float, rest_mask=None, env=None, window_s: float = 1.0, exclude=None,
                  min_rest_s: float = 0.5, check_finite: bool = True) -> np.ndarray:
    """The baseline samples of each channel: marked rest when there is enough, else the quietest window.

    Parameters
    ----------
    n : int
        Number of samples.
    fs : float
        Sampling rate in Hz.
    rest_mask : array_like of bool, shape (n,), optional
        Marked rest (e.g. the session's ``rest`` events); used when it holds at least ``min_rest_s``
        outside ``exclude``.
    env : array_like, shape (n,) or (channels, n), optional
        The envelope whose quietest ``window_s`` (:func:`quietest_window`) is the baseline otherwise.
    window_s : float
        Length in s of the quietest window.
    exclude : array_like of bool, shape (n,), optional
        Samples that are never baseline (data gaps).
    min_rest_s : float
        Least marked rest to use, in s.
    check_finite : bool
        Check ``env`` for NaN/inf (skip when the caller has checked).

    Returns
    -------
    ndarray of bool, shape (channels, n)
        One row per channel of ``env`` (one row without ``env``).

    Raises
    ------
    ValueError
        Neither enough marked rest nor ``env`` (or a bad argument, named in the message).
    """
    n = _check_count(n, "n")
    fs = check_fs(fs)
    check_positive(window_s, "window_s", "s")
    check_positive(min_rest_s, "min_rest_s", "s", allow_zero=True)
    rest_mask = check_mask(rest_mask, n, "rest_mask")
    exclude = check_mask(exclude, n, "exclude")
    env2 = None if env is None else np.atleast_2d(as_float(check_signal(env, "env", check_finite=check_finite)))
    if env2 is not None and env2.shape[-1] != n:
        raise ValueError(f"env must hold the {n} samples on its last axis, got shape {env2.shape}")
    n_ch = 1 if env2 is None else env2.shape[0]
    if rest_mask is not None:
        rm = rest_mask
        if exclude is not None:
            rm = rm & ~exclude
        if rm.sum() >= min_rest_s * fs:
            return np.broadcast_to(rm, (n_ch, n)).copy()
    if env2 is None:
        raise ValueError("baseline_mask needs rest_mask or env")
    w = min(window_samples(window_s * 1000.0, fs), n)
    starts = quietest_window(env2, fs=fs, window_s=window_s, exclude=exclude, check_finite=False)
    out = np.zeros((n_ch, n), dtype=bool)
    for c, s in enumerate(starts):
        out[c, s:s + w] = True
    return out


def _check_count(n, name: str) -> int:
    """``n`` as a non-negative int (a number of samples)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"{name} must be a non-negative number of samples, got {n!r}")
    return int(n)


def baseline_stats(env, mask, *, check_finite: bool = True) -> Baseline:
    """Robust resting level and spread (:func:`robust_stats`) of each channel of ``env`` over its ``mask``.

    Parameters
    ----------
    env : array_like, shape (samples,) or (channels, samples)
        An envelope in any unit.
    mask : array_like of bool, shape (samples,) or (channels, samples)
        The baseline samples (:func:`baseline_mask`); one row serves every channel.

    check_finite : bool
        Check ``env`` for NaN/inf (skip when the caller has checked).

    Returns
    -------
    Baseline
        ``mean`` and ``sd`` per channel, in the envelope's unit.
    """
    env = np.atleast_2d(as_float(check_signal(env, "env", check_finite=check_finite)))
    mask = check_mask(check_signal(mask, "mask", check_finite=False), env.shape[-1], "mask")
    if mask.ndim == 2 and mask.shape[0] not in (1, env.shape[0]):
        raise ValueError(f"mask must have one row or one per channel of env {env.shape}, got shape {mask.shape}")
    mask = np.broadcast_to(mask, env.shape)
    means, sds = [], []
    for row, m in zip(env, mask):
        mu, sd = robust_stats(row[m])
        means.append(mu)
        sds.append(sd)
    return Baseline(np.array(means), np.array(sds))


