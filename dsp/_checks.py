"""Input checks shared by the public dsp functions: one clear ``ValueError`` naming the argument and what is
wrong, instead of a numpy error three calls deep (or, worse, a silent NaN result)."""

from __future__ import annotations

import math

import numpy as np


def check_fs(fs, name: str = "fs") -> float:
    """``fs`` as a positive finite float (Hz)."""
    try:
        v = float(fs)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sampling rate in Hz, got {fs!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a positive, finite sampling rate in Hz, got {fs!r}")
    return v


def check_positive(value, name: str, unit: str = "", *, allow_zero: bool = False) -> float:
    """``value`` as a finite float > 0 (≥ 0 with ``allow_zero``); ``unit`` names it in the message."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number{f' in {unit}' if unit else ''}, got {value!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        what = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be a {what}, finite number{f' in {unit}' if unit else ''}, got {value!r}")
    return v


def _all_finite(a: np.ndarray) -> bool:
    """Whether every element of ``a`` is finite, usually in one summing pass: a NaN or an inf makes the sum
    NaN or inf, so a finite sum proves every element finite, without ``isfinite``'s record-sized boolean
    temporary. Only a sum that overflows (values near 1e308) takes the exact element-wise test."""
    if not np.issubdtype(a.dtype, np.inexact):
        return True  # integers and booleans cannot hold NaN or inf
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(a)):
            return True
    return bool(np.isfinite(a).all())


def check_signal(x, name: str = "x", *, ndim: tuple[int, ...] = (1, 2), check_finite: bool = True) -> np.ndarray:
    """``x`` as a numeric array with one of the dimensions ``ndim`` (channels, samples), finite when
    ``check_finite`` (a NaN or inf would spread through every filter and envelope after it).

    The finite check is one pass over the data; a caller that has checked already (``analyze`` at its entry)
    passes ``check_finite=False`` to the steps after it, as ``scipy.linalg`` does."""
    a = np.asarray(x)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ValueError(f"{name} must be a numeric array, got dtype {a.dtype}")
    if a.ndim not in ndim:
        want = " or ".join(f"{d}-D" for d in ndim)
        raise ValueError(f"{name} must be {want} (channels, samples), got shape {a.shape}")
    if check_finite and a.size and not _all_finite(a):
        bad = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(f"{name} holds NaN or inf (first at index {tuple(int(i) for i in bad)})")
    return a


def check_mask(mask, n: int, name: str) -> np.ndarray | None:
    """A boolean mask over ``n`` samples (its last axis), or None."""
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.shape[-1:] != (n,):
        raise ValueError(f"{name} must be a boolean mask over the {n} samples, got shape {m.shape}")
    return m.astype(bool, copy=False)


def check_sos(sos, name: str = "sos") -> np.ndarray:
    """``sos`` as a finite float64 array of second-order sections, shaped (sections, 6)."""
    s = np.asarray(sos)
    if s.ndim != 2 or s.shape[1] != 6 or s.shape[0] == 0 or not np.issubdtype(s.dtype, np.number):
        raise ValueError(f"{name} must be second-order sections shaped (sections, 6), got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError(f"{name} holds NaN or inf")
    return s


def samples_axis(a: np.ndarray, axis: int, name: str) -> int:
    """The length of ``a`` along ``axis`` (the samples), with a ``ValueError`` naming ``a`` if there is no
    such axis."""
    if not -a.ndim <= int(axis) < a.ndim:
        raise ValueError(f"axis {axis} is out of range for {name} of shape {a.shape}")
    return a.shape[int(axis)]
