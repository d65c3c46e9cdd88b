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

from ._util import as_float, cumsum0, cumsum_into, long_enough_for_filtfilt, moving_mean, power_cumsum, window_samples
from .filters import _overlap_save_blocks, _overlap_save_plan, filtfilt_fft


def moving_rms(x, *, fs: float, window_ms: float = 100.0, causal: bool = False, axis: int = -1) -> np.ndarray:
    """Moving root-mean-square over ``window_ms`` (centered unless ``causal``), in the input's unit."""
    x = as_float(x)
    n = window_samples(window_ms, fs)
    ms = moving_mean(x * x, n, axis=axis, causal=causal)
    # Cumulative sums can dip a hair below zero in flat stretches.
    return np.sqrt(np.maximum(ms, 0.0))


@lru_cache(maxsize=64)
def lowpass_sos(fs: float, cutoff_hz: float, order: int = 2) -> np.ndarray:
    """Butterworth low-pass as SOS, ``cutoff_hz`` clamped below Nyquist."""
    cutoff = min(float(cutoff_hz), 0.45 * float(fs))
    return signal.butter(order, cutoff, btype="lowpass", fs=fs, output="sos")


def linear_envelope(x, *, fs: float, cutoff_hz: float = 6.0, order: int = 2, zero_phase: bool = True,
                    axis: int = -1) -> np.ndarray:
    """Full-wave rectification then a Butterworth low-pass at ``cutoff_hz`` (≈ 3–10 Hz).

    Zero-phase by default (no delay, used offline); causal with ``zero_phase=False`` (streaming).
    The output is clipped at zero: ringing of the low-pass must not produce negative amplitude.
    """
    return _linear_envelope(x, fs=fs, cutoff_hz=cutoff_hz, order=order, zero_phase=zero_phase, axis=axis)


def _linear_envelope(x, *, fs: float, cutoff_hz: float, order: int = 2, zero_phase: bool = True, axis: int = -1,
                     block: int = 32768) -> np.ndarray:
    """:func:`linear_envelope`, with the FFT filter's ``block`` (see :func:`filtfilt_fft`)."""
    x = as_float(x)
    sos = lowpass_sos(float(fs), float(cutoff_hz), int(order))
    if not long_enough_for_filtfilt(x.shape[axis], sos):
        return np.abs(x)
    # Zero-phase: rectified block by block inside the FFT filter, no rectified copy of the record.
    y = filtfilt_fft(x, sos, axis=axis, rectify=True, block=block) if zero_phase else \
        signal.sosfilt(sos, np.abs(x), axis=axis)
    return np.maximum(y, 0.0, out=y)


def linear_envelope_cumsum(x, *, fs: float, cutoff_hz: float = 6.0, order: int = 2, block: int = 32768,
                           with_power: bool = False, out: np.ndarray | None = None):
    """:func:`cumsum0` of the zero-phase :func:`linear_envelope` along the last axis, bit for bit, without
    the envelope as a record-sized array: each filtered block is clipped at zero and added to the running
    sum while it is in the cache (what the onset search of ``power_backtrack`` reads).

    ``with_power=True`` returns ``(cumsum0(x * x), cumsum0(envelope))``, both bit for bit, from one pass:
    the two running sums are the real and imaginary parts of one complex cumulative sum, whose two
    additions per sample are independent, so they cost about what one real cumulative sum costs (a
    running sum is bound by the latency of each addition, not by arithmetic or memory). ``out``: an
    array for the running sums (shape ``x.shape[:-1] + (n + 1,)``, complex with ``with_power``), so a
    caller that does one channel after another reuses one (a fresh record-sized array costs its page
    faults, about a pass over it).
    """
    x = as_float(x)
    sos = lowpass_sos(float(fs), float(cutoff_hz), int(order))
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


def tkeo(x, *, axis: int = -1) -> np.ndarray:
    """Teager–Kaiser energy ψ[n] = x[n]² − x[n−1]·x[n+1] (edges repeat their neighbour).

    It rises with both amplitude and instantaneous frequency, which sharpens the start of a motor
    unit burst against slow baseline noise (Li, Zhou & Aruin 2007; Solnik et al. 2010).
    """
    x = np.moveaxis(as_float(x), axis, -1)
    out = np.empty_like(x)
    if x.shape[-1] < 3:
        out[...] = x * x
        return np.moveaxis(out, -1, axis)
    out[..., 1:-1] = x[..., 1:-1] ** 2 - x[..., :-2] * x[..., 2:]
    out[..., 0] = out[..., 1]
    out[..., -1] = out[..., -2]
    return np.moveaxis(out, -1, axis)
