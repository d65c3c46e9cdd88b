"""Amplitude envelopes of cleaned sEMG.

Two classic estimators (De Luca 1997, *J Appl Biomech* 13:135–163; SENIAM): the moving RMS over a
50–250 ms window, and the linear envelope (full-wave rectification followed by a ≈ 3–10 Hz
low-pass). Both are in the unit of the input signal, so a ratio of two channels with the same gain
is the same whichever envelope is used. The Teager–Kaiser energy operator (Kaiser 1990; Solnik et
al. 2010, *Eur J Appl Physiol* 110:489–498) conditions the signal for onset detection.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal

from ._checks import check_fs, check_positive, check_signal, samples_axis
from ._util import as_float, cumsum0, cumsum_into, long_enough_for_filtfilt, moving_mean, power_cumsum, window_samples
from .filters import _filtfilt_fft, _overlap_save_blocks, _overlap_save_plan


def moving_rms(x, *, fs: float, window_ms: float = 100.0, causal: bool = False, axis: int = -1) -> np.ndarray:
    """Moving root-mean-square amplitude (De Luca 1997; SENIAM: windows of 50–250 ms).

    Parameters
    ----------
    x : array_like, shape (samples,) or (channels, samples)
        Cleaned sEMG in any unit.
    fs : float
        Sampling rate in Hz.
    window_ms : float
        Window length in ms (at least one sample).
    causal : bool
        Window ending at each sample (streaming) instead of centred on it (offline, no delay).
    axis : int
        The samples' axis.

    Returns
    -------
    ndarray
        The RMS, float64, same shape and unit as ``x``.

    References
    ----------
    De Luca CJ (1997). The use of surface electromyography in biomechanics. *J Appl Biomech* 13:135–163.
    """
    x = as_float(check_signal(x, "x"))
    samples_axis(x, axis, "x")
    n = window_samples(check_positive(window_ms, "window_ms", "ms"), check_fs(fs))
    ms = moving_mean(x * x, n, axis=axis, causal=causal)
    # Cumulative sums can dip a hair below zero in flat stretches.
    return np.sqrt(np.maximum(ms, 0.0))


@lru_cache(maxsize=64)
def lowpass_sos(fs: float, cutoff_hz: float, order: int = 2) -> np.ndarray:
    """Butterworth low-pass as second-order sections.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    cutoff_hz : float
        Cutoff in Hz, clamped to 0.45 × ``fs``.
    order : int
        Butterworth order.

    Returns
    -------
    ndarray, shape (sections, 6)
        As :func:`scipy.signal.butter` with ``output="sos"``; cached, so treat it as read-only.
    """
    fs = check_fs(fs)
    cutoff = min(check_positive(cutoff_hz, "cutoff_hz", "Hz"), 0.45 * fs)
    return signal.butter(order, cutoff, btype="lowpass", fs=fs, output="sos")


def linear_envelope(x, *, fs: float, cutoff_hz: float = 6.0, order: int = 2, zero_phase: bool = True,
                    axis: int = -1, check_finite: bool = True) -> np.ndarray:
    """Linear envelope: full-wave rectification, then a Butterworth low-pass at ``cutoff_hz`` (≈ 3–10 Hz).

    Parameters
    ----------
    x : array_like, shape (samples,) or (channels, samples)
        Cleaned sEMG in any unit.
    fs : float
        Sampling rate in Hz.
    cutoff_hz : float
        Low-pass cutoff in Hz (clamped to 0.45 × ``fs``).
    order : int
        Butterworth order.
    zero_phase : bool
        Zero-phase (:func:`~reengage.dsp.filters.filtfilt_fft`, no delay, used offline); False gives the
        causal filter (streaming).
    axis : int
        The samples' axis.
    check_finite : bool
        Check ``x`` for NaN/inf (skip when the caller has checked).

    Returns
    -------
    ndarray
        The envelope, float64, same shape and unit as ``x``, clipped at zero (ringing of the low-pass
        must not produce negative amplitude). Records too short for the filter: ``|x|``.

    References
    ----------
    De Luca CJ (1997). *J Appl Biomech* 13:135–163.
    """
    x = check_signal(x, "x", check_finite=check_finite)
    samples_axis(x, axis, "x")
    return _linear_envelope(x, fs=check_fs(fs), cutoff_hz=cutoff_hz, order=order, zero_phase=zero_phase, axis=axis)


def _linear_envelope(x, *, fs: float, cutoff_hz: float, order: int = 2, zero_phase: bool = True, axis: int = -1,
                     block: int = 32768) -> np.ndarray:
    """:func:`linear_envelope`, with the FFT filter's ``block`` (see :func:`filtfilt_fft`)."""
    x = as_float(x)
    sos = lowpass_sos(float(fs), float(cutoff_hz), int(order))
    if not long_enough_for_filtfilt(x.shape[axis], sos):
        return np.abs(x)
    # Zero-phase: rectified block by block inside the FFT filter, no rectified copy of the record.
    y = _filtfilt_fft(x, sos, axis=axis, rectify=True, block=block) if zero_phase else \
        signal.sosfilt(sos, np.abs(x), axis=axis)
    return np.maximum(y, 0.0, out=y)


def linear_envelope_cumsum(x, *, fs: float, cutoff_hz: float = 6.0, order: int = 2, block: int = 32768,
                           with_power: bool = False, out: np.ndarray | None = None, check_finite: bool = True):
    """The running sum of the zero-phase :func:`linear_envelope`, without the envelope as a record-sized array.

    Equal bit for bit to ``cumsum0(linear_envelope(x, fs=fs, cutoff_hz=cutoff_hz, order=order))`` (a
    cumulative sum along the last axis with a leading 0): each filtered block is clipped at zero and added
    to the running sum while it is in the cache (what the onset search of ``power_backtrack`` reads).

    With ``with_power`` the running sum of ``x²`` comes from the same pass: the two running sums are the
    real and imaginary parts of one complex cumulative sum, whose two additions per sample are
    independent, so they cost about what one real cumulative sum costs (a running sum is bound by the
    latency of each addition, not by arithmetic or memory).

    Parameters
    ----------
    x : array_like, shape (samples,) or (channels, samples)
        Cleaned sEMG in any unit, samples on the last axis.
    fs : float
        Sampling rate in Hz.
    cutoff_hz : float
        Low-pass cutoff in Hz.
    order : int
        Butterworth order.
    block : int
        FFT block length in samples (see :func:`~reengage.dsp.filters.filtfilt_fft`).
    with_power : bool
        Also return the running sum of ``x²``.
    out : ndarray, optional
        Storage for the running sums, shape ``x.shape[:-1] + (samples + 1,)``, complex128 with
        ``with_power`` else float64 (used when it fits), so a caller that does one channel after another
        reuses one array (a fresh record-sized array costs its page faults, about a pass over it).
    check_finite : bool
        Check that ``x`` holds no NaN or inf (one pass; a caller that checked already passes False).

    Returns
    -------
    ndarray or (ndarray, ndarray)
        The running sum of the envelope, shape ``x.shape[:-1] + (samples + 1,)``, in the unit of ``x`` ×
        samples; with ``with_power``, ``(running sum of x², running sum of the envelope)``.
    """
    x = as_float(check_signal(x, "x", check_finite=check_finite))
    fs = check_fs(fs)
    sos = lowpass_sos(fs, float(cutoff_hz), int(order))
    n = x.shape[-1]
    # Short records (and filters that need sosfiltfilt) take linear_envelope's own path.
    plan = _overlap_save_plan(n, sos, block) if long_enough_for_filtfilt(n, sos) and n >= 2 * block else None
    if plan is None:
        c_env = cumsum0(_linear_envelope(x, fs=fs, cutoff_hz=cutoff_hz, order=order, block=block))
        return (power_cumsum(x), c_env) if with_power else c_env
    shape, dtype = x.shape[:-1] + (n + 1,), np.complex128 if with_power else np.float64
    c = np.empty(shape, dtype=dtype) if out is None or out.shape != shape or out.dtype != dtype else out
    c[..., 0] = 0.0
    buf = np.empty(plan.step, dtype=c.dtype)
    env = buf.imag if with_power else buf
    for r in np.ndindex(*x.shape[:-1]):
        row, cr = x[r], c[r]
        for b0, values in _overlap_save_blocks(row, plan, True):
            for k, block_out in enumerate(values):
                a = (b0 + k) * plan.step
                if a >= n:
                    break
                m = min(plan.step, n - a)
                env[:m] = block_out[:m]  # as linear_envelope: to float64, then clipped at zero
                np.maximum(env[:m], 0.0, out=env[:m])
                if with_power:
                    np.multiply(row[a:a + m], row[a:a + m], out=buf.real[:m])
                cumsum_into(cr, a, buf[:m])
    return (c.real, c.imag) if with_power else c


def tkeo(x, *, axis: int = -1, check_finite: bool = True) -> np.ndarray:
    """Teager–Kaiser energy operator ψ[n] = x[n]² − x[n−1]·x[n+1] (edges repeat their neighbour).

    It rises with both amplitude and instantaneous frequency, which sharpens the start of a motor
    unit burst against slow baseline noise (Li, Zhou & Aruin 2007; Solnik et al. 2010).

    Parameters
    ----------
    x : array_like, shape (samples,) or (channels, samples)
        Cleaned sEMG in any unit.
    axis : int
        The samples' axis.
    check_finite : bool
        Check ``x`` for NaN/inf (skip when the caller has checked).

    Returns
    -------
    ndarray
        ψ, float64, same shape as ``x``, in the unit of ``x`` squared (records under 3 samples: ``x²``).

    References
    ----------
    Kaiser JF (1990). On a simple algorithm to calculate the 'energy' of a signal. *Proc IEEE ICASSP*
    381–384. Solnik S, Rider P, Steinweg K, DeVita P, Hortobágyi T (2010). Teager–Kaiser energy operator
    signal conditioning improves EMG onset detection. *Eur J Appl Physiol* 110:489–498.
    """
    x = as_float(check_signal(x, "x", check_finite=check_finite))
    samples_axis(x, axis, "x")
    x = np.moveaxis(x, axis, -1)
    out = np.empty_like(x)
    if x.shape[-1] < 3:
        out[...] = x * x
        return np.moveaxis(out, -1, axis)
    out[..., 1:-1] = x[..., 1:-1] ** 2 - x[..., :-2] * x[..., 2:]
    out[..., 0] = out[..., 1]
    out[..., -1] = out[..., -2]
    return np.moveaxis(out, -1, axis)


