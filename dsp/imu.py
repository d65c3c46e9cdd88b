"""Movement from a thigh IMU: gyroscope magnitude segmented into movements.

In prone hip extension the thigh pitches up while the hip extensors work, so the angular speed
(deg/s) marks the movement; EMG onsets are then reported relative to movement onset as in Lewis &
Sahrmann 2009 (*J Athl Train* 44:238–248), who timed glute max and hamstring onsets against the
start of leg motion.
"""

from __future__ import annotations

import numpy as np

from ._util import as_float, first_true_after, long_enough_for_filtfilt, last_true_before, window_samples
from .baseline import baseline_mask, baseline_stats
from .envelope import lowpass_sos
from .onsets import Bursts, _finish
from scipy import signal


def gyro_magnitude(gyr, *, fs: float, cutoff_hz: float = 5.0, axis: int = 0) -> np.ndarray:
    """Angular speed |ω| in deg/s from (3, samples) gyro data, low-passed (zero phase) at ``cutoff_hz``.

    The low-pass keeps the limb motion of an exercise (< 3 Hz) and drops sensor noise and tremor.
    """
    g = np.moveaxis(as_float(gyr), axis, 0)
    mag = np.sqrt(np.sum(g * g, axis=0))
    sos = lowpass_sos(float(fs), float(cutoff_hz), 2)
    if not long_enough_for_filtfilt(mag.size, sos):
        return mag
    return np.maximum(signal.sosfiltfilt(sos, mag), 0.0)


def tilt_deg(acc, *, fs: float, rest=None, exclude=None, cutoff_hz: float = 5.0, axis: int = 0) -> np.ndarray:
    """Angle in degrees between the (low-passed) gravity vector and its resting direction.

    This is the segment angle: it stays up for the whole lift, where the gyro is near zero on the
    held part of the movement, so the lift and the lowering are one movement, not two.
    """
    a = np.moveaxis(as_float(acc), axis, 0)
    if a.shape[-1] == 0:
        return np.zeros(0)
    sos = lowpass_sos(float(fs), float(cutoff_hz), 2)
    if long_enough_for_filtfilt(a.shape[-1], sos):
        a = signal.sosfiltfilt(sos, a, axis=-1)
    norm = np.sqrt(np.sum(a * a, axis=0))
    # Without marked rest, the median posture over the record: a session is mostly rest between reps.
    mask = np.ones(a.shape[-1], dtype=bool) if rest is None else np.asarray(rest, dtype=bool).copy()
    if exclude is not None:
        mask &= ~np.asarray(exclude, dtype=bool)
    ref = np.median(a[:, mask], axis=1) if mask.any() else np.median(a, axis=1)
    ref_n = np.linalg.norm(ref)
    if ref_n <= 0 or not np.isfinite(ref_n):
        return np.zeros(a.shape[-1])
    cosang = (ref @ a) / (ref_n * np.maximum(norm, 1e-12))
    return np.degrees(np.arccos(np.clip(cosang, -1.0, 1.0)))


def movement_segments(gyr, *, fs: float, acc=None, rest=None, h: float = 8.0, min_deg_s: float = 5.0,
                      onset_deg_s: float = 1.5, min_tilt_deg: float = 3.0, min_duration_ms: float = 200.0,
                      min_gap_ms: float = 150.0, exclude=None, axis: int = 0) -> Bursts:
    """Movements: |ω| above rest mean + max(h·SD, ``min_deg_s``) or, with ``acc``, the segment tilted
    more than ``min_tilt_deg`` from rest; onsets backtracked on |ω| to rest + ``onset_deg_s``.

    The absolute floors (deg/s, degrees) keep a perfectly still sensor (SD ≈ 0) from turning noise
    into motion.
    """
    mag = gyro_magnitude(gyr, fs=fs, axis=axis)
    n = mag.size
    if n == 0:
        return Bursts(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    mask = baseline_mask(n, fs=fs, rest_mask=rest, env=mag[None, :], exclude=exclude)
    base = baseline_stats(mag[None, :], mask)
    mu, sd = float(base.mean[0]), float(base.sd[0])
    hi = mu + max(h * sd, min_deg_s)
    lo = mu + max(2.0 * sd, onset_deg_s)
    active = mag > hi
    if acc is not None:
        tilt = tilt_deg(acc, fs=fs, rest=mask[0], exclude=exclude, axis=axis)
        if tilt.size == n:
            active |= tilt > min_tilt_deg
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
