"""Amplitude normalisation to the maximal voluntary contraction (%MVC).

The reference is the peak of a ≈ 500 ms moving RMS during a muscle's MVC trials (SENIAM; Burden
2010, *J Electromyogr Kinesiol* 20:1023–1035). Several trials may be marked: the highest peak is
the reference, since no single MVC position is best for everyone (Contreras et al. 2015, *PeerJ*
3:e1261).
"""

from __future__ import annotations

import numpy as np

from ._util import as_float, moving_mean, window_samples


def noise_corrected_rms(x, *, fs: float, window_ms: float, noise_power: float | np.ndarray = 0.0,
                        axis: int = -1) -> np.ndarray:
    """Moving RMS with the resting noise power removed: sqrt(max(mean(x²) − noise_power, 0)).

    Background noise adds in power to the EMG, so subtracting the resting mean power gives the
    muscle's own amplitude; without it a weak muscle at low SNR looks stronger than it is.
    """
    x = as_float(x)
    ms = moving_mean(x * x, window_samples(window_ms, fs), axis=axis)
    noise = np.asarray(noise_power, dtype=np.float64)
    if noise.ndim and ms.ndim > 1:
        noise = np.expand_dims(noise, axis=axis)
    return np.sqrt(np.maximum(ms - noise, 0.0))


def mvc_reference(x, *, fs: float, mask, window_ms: float = 500.0, noise_power: float = 0.0) -> float | None:
    """Peak of the ``window_ms`` moving RMS (noise power removed) of one channel inside ``mask``.

    Returns None when the mask is empty or the channel is silent there.
    """
    x = as_float(x)
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return None
    env = noise_corrected_rms(x, fs=fs, window_ms=window_ms, noise_power=noise_power)
    peak = float(np.max(env[mask]))
    return peak if np.isfinite(peak) and peak > 0 else None


def percent_mvc(env, reference: float | None) -> np.ndarray | None:
    """``env`` as a percentage of ``reference`` (None when there is no usable reference)."""
    if reference is None or not np.isfinite(reference) or reference <= 0:
        return None
    return 100.0 * as_float(env) / float(reference)
