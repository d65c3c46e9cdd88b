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


def check_signal(x, name: str = "x", *, ndim: tuple[int, ...] = (1, 2), check_finite: bool = True) -> np.ndarray:
    """``x`` as a float array with one of the dimensions ``ndim`` (channels, samples), finite when
    ``check_finite`` (a NaN or inf would spread through every filter and envelope after it).

    The finite check is one pass over the data; a caller that has checked already (``analyze`` at its entry)
    passes ``check_finite=False`` to the steps after it, as ``scipy.linalg`` does."""
    a = np.asarray(x)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ValueError(f"{name} must be a numeric array, got dtype {a.dtype}")
    if a.ndim not in ndim:
        want = " or ".join(f"{d}-D" for d in ndim)
        raise ValueError(f"{name} must be {want} (channels, samples), got shape {a.shape}")
    if check_finite and a.size and not np.isfinite(a).all():
        bad = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(f"{name} holds NaN or inf (first at index {tuple(int(i) for i in bad)})")
    return a


def check_mask(mask, n: int, name: str) -> np.ndarray | None:
    """A boolean mask over ``n`` samples, or None."""
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.shape[-1:] != (n,):
        raise ValueError(f"{name} must be a boolean mask over the {n} samples, got shape {m.shape}")
    return m.astype(bool, copy=False)
