"""Movement from a thigh IMU: gyroscope magnitude segmented into movements.

In prone hip extension the thigh pitches up while the hip extensors work, so the angular speed
(deg/s) marks the movement; EMG onsets are then reported relative to movement onset as in Lewis &
Sahrmann 2009 (*J Athl Train* 44:238–248), who timed glute max and hamstring onsets against the
start of leg motion.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_fs, check_mask, check_signal, samples_axis
from ._util import as_float, first_true_after, long_enough_for_filtfilt, last_true_before, window_samples
from .baseline import baseline_mask, baseline_stats
from .envelope import lowpass_sos
from .onsets import Bursts, _finish
from scipy import signal


def gyro_magnitude(gyr, *, fs: float, cutoff_hz: float = 5.0, axis: int = 0) -> np.ndarray:
    """Angular speed |ω| from a gyroscope, low-passed (zero phase) at ``cutoff_hz``.

    The low-pass keeps the limb motion of an exercise (< 3 Hz) and drops sensor noise and tremor.

    Parameters
    ----------
    gyr : array_like, shape (axes, samples)
        Angular velocity in deg/s, the axes (x, y, z) along ``axis``.
    fs : float
        IMU sampling rate in Hz.
    cutoff_hz : float
        Low-pass cutoff in Hz.
    axis : int
        The axes' axis (0: one row per axis).

    Returns
    -------
    ndarray, shape (samples,)
        |ω| in deg/s, clipped at zero.
    """
    g = np.moveaxis(as_float(_check_axes(gyr, "gyr", axis)), axis, 0)
    fs = check_fs(fs)
    mag = np.sqrt(np.sum(g * g, axis=0))
    sos = lowpass_sos(fs, float(cutoff_hz), 2)
    if not long_enough_for_filtfilt(mag.size, sos):
        return mag
    return np.maximum(signal.sosfiltfilt(sos, mag), 0.0)


def _check_axes(a, name: str, axis: int) -> np.ndarray:
    """``a`` checked as 2-D sensor data (axes, samples) with a valid ``axis``."""
    a = check_signal(a, name, ndim=(2,))
    samples_axis(a, axis, name)
    return a


def tilt_deg(acc, *, fs: float, rest=None, exclude=None, cutoff_hz: float = 5.0, axis: int = 0) -> np.ndarray:
    """Angle between the (low-passed) gravity vector and its resting direction.

    This is the segment angle: it stays up for the whole lift, where the gyro is near zero on the
    held part of the movement, so the lift and the lowering are one movement, not two.

    Parameters
    ----------
    acc : array_like, shape (axes, samples)
        Acceleration in g (any unit: only the direction is used), the axes along ``axis``.
    fs : float
        IMU sampling rate in Hz.
    rest : array_like of bool, shape (samples,), optional
        The resting posture's samples; without it, the median posture over the record (a session is
        mostly rest between reps).
    exclude : array_like of bool, shape (samples,), optional
        Samples left out of the resting posture (data gaps).
    cutoff_hz : float
        Low-pass cutoff in Hz.
    axis : int
        The axes' axis.

    Returns
    -------
    ndarray, shape (samples,)
        Tilt in degrees (0–180); zeros when the resting direction is undefined.
    """
    a = np.moveaxis(as_float(_check_axes(acc, "acc", axis)), axis, 0)
    fs = check_fs(fs)
    rest = check_mask(rest, a.shape[-1], "rest")
    exclude = check_mask(exclude, a.shape[-1], "exclude")
    if a.shape[-1] == 0:
        return np.zeros(0)
    sos = lowpass_sos(fs, float(cutoff_hz), 2)
    if long_enough_for_filtfilt(a.shape[-1], sos):
        a = signal.sosfiltfilt(sos, a, axis=-1)
    norm = np.sqrt(np.sum(a * a, axis=0))
    mask = np.ones(a.shape[-1], dtype=bool) if rest is None else rest.copy()
    if exclude is not None:
        mask &= ~exclude
    ref = np.median(a[:, mask], axis=1) if mask.any() else np.median(a, axis=1)
    ref_n = np.linalg.norm(ref)
    if ref_n <= 0 or not np.isfinite(ref_n):
        return np.zeros(a.shape[-1])
    cosang = (ref @ a) / (ref_n * np.maximum(norm, 1e-12))
    return np.degrees(np.arccos(np.clip(cosang, -1.0, 1.0)))


def movement_segments(gyr, *, fs: float, acc=None, rest=None, h: float = 8.0, min_deg_s: float = 5.0,
                      onset_deg_s: float = 1.5, min_tilt_deg: float = 3.0, min_duration_ms: float = 200.0,
                      min_gap_ms: float = 150.0, exclude=None, axis: int = 0) -> Bursts:
    """Movements of the limb: where it turns or is tilted away from rest.

    A movement is |ω| (:func:`gyro_magnitude`) above the rest mean + max(h·SD, ``min_deg_s``) or, with
    ``acc``, the segment tilted (:func:`tilt_deg`) more than ``min_tilt_deg`` from rest; onsets and
    offsets are backtracked on |ω| to rest + max(2·SD, ``onset_deg_s``) (at most 1 s). The absolute
    floors keep a perfectly still sensor (SD ≈ 0) from turning noise into motion. EMG onsets are then
    timed against movement onset as in Lewis & Sahrmann (2009).

    Parameters
    ----------
    gyr : array_like, shape (axes, samples)
        Angular velocity in deg/s.
    fs : float
        IMU sampling rate in Hz.
    acc : array_like, shape (axes, samples), optional
        Acceleration in g, on the same samples.
    rest : array_like of bool, shape (samples,), optional
        Marked rest (else the quietest 1 s of |ω|, :func:`~reengage.dsp.baseline.baseline_mask`).
    h : float
        Threshold in resting SDs.
    min_deg_s, onset_deg_s : float
        Floors of the detection and the onset thresholds above the resting mean, in deg/s.
    min_tilt_deg : float
        Tilt that counts as movement, in degrees.
    min_duration_ms, min_gap_ms : float
        Movements shorter than ``min_duration_ms`` are dropped, gaps shorter than ``min_gap_ms`` closed (ms).
    exclude : array_like of bool, shape (samples,), optional
        Samples that are not data (gaps): never part of a movement or of the rest.
    axis : int
        The axes' axis.

    Returns
    -------
    Bursts
        Onset and offset sample indices (inclusive) of each movement.

    References
    ----------
    Lewis CL, Sahrmann SA (2009). Muscle activation and movement patterns during prone hip extension
    exercise in women. *J Athl Train* 44:238–248.
    """
    mag = gyro_magnitude(gyr, fs=fs, axis=axis)
    n = mag.size
    if acc is not None:
        acc = _check_axes(acc, "acc", axis)
        if acc.shape[1 - (axis % 2)] != n:
            raise ValueError(f"acc must hold the {n} samples of gyr, got shape {acc.shape}")
    rest = check_mask(rest, n, "rest")
    exclude = check_mask(exclude, n, "exclude")
    if n == 0:
        return Bursts(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    mask = baseline_mask(n, fs=fs, rest_mask=rest, env=mag[None, :], exclude=exclude)
    base = baseline_stats(mag[None, :], mask)
    mu, sd = float(base.mean[0]), float(base.sd[0])
    hi = mu + max(h * sd, min_deg_s)
    lo = mu + max(2.0 * sd, onset_deg_s)
    active = mag > hi
    if acc is not None:
        active |= tilt_deg(acc, fs=fs, rest=mask[0], exclude=exclude, axis=axis) > min_tilt_deg
    coarse = _finish(active[None, :], fs, min_gap_ms, min_duration_ms, exclude)[0]
    if len(coarse) == 0:
        return coarse
    below = mag <= lo
    on = last_true_before(below)[coarse.onsets] + 1
    off = first_true_after(below)[coarse.offsets] - 1
    back = window_samples(1000.0, fs)
    on = np.clip(on, np.maximum(coarse.onsets - back, 0), coarse.onsets)
    off = np.clip(off, coarse.offsets, np.minimum(coarse.offsets + back, n - 1))
    return Bursts(on.astype(np.int64), off.astype(np.int64))


