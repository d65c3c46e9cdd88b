"""Amplitude normalisation to the maximal voluntary contraction (%MVC).

The reference is the peak of a ≈ 500 ms moving RMS during a muscle's MVC trials (SENIAM; Burden
2010, *J Electromyogr Kinesiol* 20:1023–1035). Several trials may be marked: the highest peak is
the reference, since no single MVC position is best for everyone (Contreras et al. 2015, *PeerJ*
3:e1261).
"""

from __future__ import annotations

import numpy as np

from ._checks import check_fs, check_mask, check_positive, check_signal, samples_axis
from ._util import as_float, moving_mean, window_samples


def noise_corrected_rms(x, *, fs: float, window_ms: float, noise_power: float | np.ndarray = 0.0,
                        axis: int = -1) -> np.ndarray:
    """Moving RMS with the resting noise power removed: sqrt(max(mean(x²) − noise_power, 0)).

    Background noise adds in power to the EMG, so subtracting the resting mean power gives the
    muscle's own amplitude; without it a weak muscle at low SNR looks stronger than it is.

    Parameters
    ----------
    x : array_like, shape (samples,) or (channels, samples)
        Cleaned sEMG in any unit.
    fs : float
        Sampling rate in Hz.
    window_ms : float
        Centred window length in ms.
    noise_power : float or array_like, shape (channels,)
        Resting mean power (the unit of ``x`` squared), one value or one per channel.
    axis : int
        The samples' axis.

    Returns
    -------
    ndarray
        The corrected RMS, float64, same shape and unit as ``x``.
    """
    x = as_float(check_signal(x, "x"))
    samples_axis(x, axis, "x")
    noise = np.asarray(noise_power, dtype=np.float64)
    if not np.isfinite(noise).all() or noise.ndim > 1:
        raise ValueError(f"noise_power must be a finite power or one per channel, got {noise_power!r}")
    ms = moving_mean(x * x, window_samples(check_positive(window_ms, "window_ms", "ms"), check_fs(fs)), axis=axis)
    if noise.ndim and ms.ndim > 1:
        noise = np.expand_dims(noise, axis=axis)
    return np.sqrt(np.maximum(ms - noise, 0.0))


def mvc_reference(x, *, fs: float, mask, window_ms: float = 500.0, noise_power: float = 0.0) -> float | None:
    """The MVC reference of one channel: the peak of its ``window_ms`` moving RMS (resting noise power
    removed, :func:`noise_corrected_rms`) inside its MVC trials.

    Parameters
    ----------
    x : array_like, shape (samples,)
        Cleaned sEMG of one channel, in any unit.
    fs : float
        Sampling rate in Hz.
    mask : array_like of bool, shape (samples,)
        The MVC trial samples (several trials: the highest peak wins).
    window_ms : float
        Moving RMS window in ms (SENIAM: ≈ 500 ms).
    noise_power : float
        Resting mean power, in the unit of ``x`` squared.

    Returns
    -------
    float or None
        The reference in the unit of ``x``; None when the mask is empty or the channel is silent there.

    References
    ----------
    Burden A (2010). How should we normalize electromyograms obtained from healthy participants?
    *J Electromyogr Kinesiol* 20:1023–1035.
    """
    x = as_float(check_signal(x, "x", ndim=(1,)))
    check_fs(fs)
    mask = check_mask(mask, x.shape[-1], "mask")
    if mask is None or mask.ndim != 1:
        raise ValueError(f"mask must be a boolean mask over the {x.shape[-1]} samples")
    if not mask.any():
        return None
    env = noise_corrected_rms(x, fs=fs, window_ms=window_ms, noise_power=noise_power)
    peak = float(np.max(env[mask]))
    return peak if np.isfinite(peak) and peak > 0 else None


def percent_mvc(env, reference: float | None) -> np.ndarray | None:
    """An envelope as a percentage of the MVC reference (%MVC).

    Parameters
    ----------
    env : float or array_like, shape (samples,) or (channels, samples)
        Amplitude envelope (or one value of it, e.g. a rep's mean), in the unit of ``reference``.
    reference : float or None
        The MVC reference (:func:`mvc_reference`).

    Returns
    -------
    ndarray or None
        ``100 · env / reference`` (%MVC), float64 of the shape of ``env``; None when the reference is missing,
        not finite or ≤ 0.
    """
    env = check_signal(env, "env", ndim=(0, 1, 2))
    if reference is None or not np.isfinite(reference) or reference <= 0:
        return None
    return 100.0 * as_float(env) / float(reference)


