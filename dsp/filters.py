"""Cleaning raw surface EMG: DC removal, 20–450 Hz band-pass, mains notches.

Conventions follow SENIAM (Hermens et al. 2000, *J Electromyogr Kinesiol* 10:361–374): a band of
about 20–450 Hz keeps the EMG power and rejects movement artefact below 20 Hz; on boards sampling
at 500 Hz the upper edge is clamped below Nyquist. Mains interference (50 or 60 Hz and harmonics)
is found from the signal itself, and only the harmonics actually present are notched, so a clean
recording pays nothing for the notch filter.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal

from ._util import as_float

SENIAM_BAND_HZ = (20.0, 450.0)
MAINS_CANDIDATES_HZ = (50.0, 60.0)


def remove_dc(x, *, axis: int = -1) -> np.ndarray:
    """Subtract each channel's median level (volts, mV or ADC counts alike).

    The median, not the mean, because a long burst would otherwise shift the estimate of the zero
    level (e.g. the MyoWare RAW pin's mid-rail offset in ADC counts).
    """
    x = as_float(x)
    if x.shape[axis] == 0:
        return x.copy()
    return x - np.median(x, axis=axis, keepdims=True)


def clamp_band(fs: float, low_hz: float = SENIAM_BAND_HZ[0], high_hz: float = SENIAM_BAND_HZ[1]) -> tuple[float, float | None]:
    """The usable band at sampling rate ``fs``: ``high_hz`` clamped to 0.9 × Nyquist (None if unusable)."""
    nyq = 0.5 * float(fs)
    high = min(float(high_hz), 0.9 * nyq)
    if high <= float(low_hz) * 1.5:
        return float(low_hz), None  # too narrow: high-pass only
    return float(low_hz), high


@lru_cache(maxsize=64)
def bandpass_sos(fs: float, low_hz: float = 20.0, high_hz: float = 450.0, order: int = 4) -> np.ndarray:
    """Butterworth band-pass (or high-pass on slow boards) as second-order sections."""
    low, high = clamp_band(fs, low_hz, high_hz)
    if high is None:
        return signal.butter(order, low, btype="highpass", fs=fs, output="sos")
    return signal.butter(order, [low, high], btype="bandpass", fs=fs, output="sos")


def bandpass(x, *, fs: float, low_hz: float = 20.0, high_hz: float = 450.0, order: int = 4,
             zero_phase: bool = True, axis: int = -1) -> np.ndarray:
    """Band-pass 20–450 Hz (SENIAM), upper edge clamped below Nyquist.

    ``zero_phase`` (default) runs the filter forward and backward so onsets are not delayed; the
    streaming path uses the causal form (``zero_phase=False``) with carried state.
    """
    x = as_float(x)
    sos = bandpass_sos(float(fs), float(low_hz), float(high_hz), int(order))
    if x.shape[axis] < 3 * (2 * sos.shape[0] + 1):
        return x - np.mean(x, axis=axis, keepdims=True) if x.shape[axis] else x.copy()
    if zero_phase:
        return signal.sosfiltfilt(sos, x, axis=axis)
    return signal.sosfilt(sos, x, axis=axis)


def _line_power(f: np.ndarray, p: np.ndarray, line_hz: float) -> tuple[float, float]:
    """Power in the bin nearest ``line_hz`` and the median of its neighbours (±3–10 Hz)."""
    k = int(np.argmin(np.abs(f - line_hz)))
    near = (np.abs(f - line_hz) >= 3.0) & (np.abs(f - line_hz) <= 10.0)
    peak = float(np.max(p[..., max(k - 1, 0): k + 2]))
    floor = float(np.median(p[..., near])) if np.any(near) else 0.0
    return peak, floor


def _psd(x: np.ndarray, fs: float, *, max_seconds: float = 60.0) -> tuple[np.ndarray, np.ndarray]:
    """Welch PSD (0.5 Hz resolution) averaged over channels, on at most ``max_seconds`` of data
    taken as evenly spread 2 s pieces, so the cost stays flat for hour-long sessions."""
    x = np.atleast_2d(as_float(x))
    n = x.shape[-1]
    seg = int(2 * fs)
    if n > max_seconds * fs and seg > 0:
        k = int(max_seconds // 2)
        starts = np.linspace(0, n - seg, k).astype(int)
        x = np.concatenate([x[:, s:s + seg] for s in starts], axis=-1)
    nperseg = int(min(x.shape[-1], 2 * fs))
    f, p = signal.welch(x, fs=fs, nperseg=max(nperseg, 8), axis=-1, detrend="constant")
    return f, np.atleast_2d(p)


def mains_spectrum(x, *, fs: float) -> dict:
    """Per-channel mains diagnostics: the line power (both candidates) over the EMG band power.

    Returns ``{"freq_hz": array, "psd": (channels, freqs)}`` for reuse by the quality report.
    """
    x = np.atleast_2d(as_float(x))
    f, _ = _psd(x[:1], fs)
    psd = np.vstack([_psd(row[None, :], fs)[1] for row in x]) if x.shape[0] > 1 else _psd(x, fs)[1]
    return {"freq_hz": f, "psd": psd}


def detect_mains_hz(x, *, fs: float, min_prominence_db: float = 10.0, axis: int = -1) -> float | None:
    """50 or 60 Hz if a mains line stands ``min_prominence_db`` above its spectral neighbours, else None.

    All channels are pooled: the interference comes from the same supply on every lead.
    """
    x = np.moveaxis(np.atleast_2d(as_float(x)), axis, -1)
    if x.shape[-1] < int(fs) or fs < 2 * 50.0 + 10:
        return None
    f, p = _psd(x.reshape(-1, x.shape[-1]), fs)
    p = p.mean(axis=0)
    best, best_db = None, min_prominence_db
    for line in MAINS_CANDIDATES_HZ:
        if line >= 0.5 * fs - 5:
            continue
        peak, floor = _line_power(f, p, line)
        db = 10 * np.log10((peak + 1e-300) / (floor + 1e-300))
        if db > best_db:
            best, best_db = line, db
    return best


def present_harmonics(x, *, fs: float, mains_hz: float, min_prominence_db: float = 6.0,
                      max_hz: float | None = None, axis: int = -1) -> list[float]:
    """The harmonics of ``mains_hz`` (fundamental included) that stand out of the spectrum."""
    x = np.moveaxis(np.atleast_2d(as_float(x)), axis, -1)
    f, p = _psd(x.reshape(-1, x.shape[-1]), fs)
    p = p.mean(axis=0)
    top = min(0.5 * fs - 5.0, max_hz if max_hz is not None else 0.5 * fs)
    out = []
    for k in range(1, int(top // mains_hz) + 1):
        line = k * mains_hz
        peak, floor = _line_power(f, p, line)
        if 10 * np.log10((peak + 1e-300) / (floor + 1e-300)) > min_prominence_db:
            out.append(line)
    return out


@lru_cache(maxsize=64)
def notch_sos(fs: float, lines_hz: tuple[float, ...], quality: float = 30.0) -> np.ndarray:
    """Cascade of IIR notches (Q = ``quality``) at ``lines_hz`` as second-order sections."""
    sections = []
    for line in lines_hz:
        if 0 < line < 0.5 * fs:
            b, a = signal.iirnotch(line, quality, fs=fs)
            sections.append(signal.tf2sos(b, a))
    if not sections:
        return np.array([[1.0, 0, 0, 1.0, 0, 0]])
    return np.vstack(sections)


def clean_sos(fs: float, *, lines_hz: tuple[float, ...] = (), low_hz: float = 20.0, high_hz: float = 450.0,
              order: int = 4, notch_quality: float = 30.0) -> np.ndarray:
    """Band-pass and notches as one SOS cascade (one filter pass instead of several)."""
    sos = bandpass_sos(float(fs), float(low_hz), float(high_hz), int(order))
    if lines_hz:
        sos = np.vstack([sos, notch_sos(float(fs), tuple(float(v) for v in lines_hz), float(notch_quality))])
    return sos


def clean(x, *, fs: float, mains_hz: float | None | str = "auto", low_hz: float = 20.0, high_hz: float = 450.0,
          order: int = 4, zero_phase: bool = True, axis: int = -1) -> np.ndarray:
    """Clean raw sEMG: remove DC, band-pass 20–450 Hz (clamped below Nyquist), notch mains.

    ``mains_hz="auto"`` detects 50/60 Hz from the signal and notches only the harmonics that are
    present; a number forces that line (harmonics still checked); ``None`` disables the notch.
    Channels of kind ``envelope`` or ``imu`` must not be passed here (they are not band-limited EMG).
    """
    x = remove_dc(x, axis=axis)
    if x.shape[axis] == 0:
        return x
    xm = np.moveaxis(x, axis, -1)
    lines: tuple[float, ...] = ()
    if mains_hz == "auto":
        mains_hz = detect_mains_hz(xm, fs=fs)
    if mains_hz:
        top = clamp_band(fs, low_hz, high_hz)[1] or 0.5 * fs
        lines = tuple(present_harmonics(xm, fs=fs, mains_hz=float(mains_hz), max_hz=top)) or (float(mains_hz),)
    sos = clean_sos(float(fs), lines_hz=lines, low_hz=low_hz, high_hz=high_hz, order=order)
    if xm.shape[-1] < 3 * (2 * sos.shape[0] + 1):
        return np.moveaxis(xm, -1, axis)
    y = signal.sosfiltfilt(sos, xm, axis=-1) if zero_phase else signal.sosfilt(sos, xm, axis=-1)
    return np.moveaxis(y, -1, axis)
