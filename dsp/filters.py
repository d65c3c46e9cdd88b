"""Cleaning raw surface EMG: DC removal, 20–450 Hz band-pass, mains notches.

Conventions follow SENIAM (Hermens et al. 2000, *J Electromyogr Kinesiol* 10:361–374): a band of
about 20–450 Hz keeps the EMG power and rejects movement artefact below 20 Hz; on boards sampling
at 500 Hz the upper edge is clamped below Nyquist. Mains interference (50 or 60 Hz and harmonics)
is found from the signal itself, and only the harmonics actually present are notched, so a clean
recording pays nothing for the notch filter.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
from scipy import signal

from ._checks import check_fs, check_positive, check_signal, check_sos, samples_axis
from ._util import as_float, long_enough_for_filtfilt, moving_mean, single_threaded_blas, std_rows

SENIAM_BAND_HZ = (20.0, 450.0)
MAINS_CANDIDATES_HZ = (50.0, 60.0)


def remove_dc(x, *, axis: int = -1, overwrite_x: bool = False, check_finite: bool = True) -> np.ndarray:
    """Subtract each channel's median level.

    The median, not the mean, because a long burst would otherwise shift the estimate of the zero
    level (e.g. the MyoWare RAW pin's mid-rail offset in ADC counts). On records over 100 000 samples
    the median is taken over about 100 000 evenly spread samples: as good a zero level, and 10–100×
    cheaper.

    Parameters
    ----------
    x : array_like, shape (samples,) or (channels, samples)
        Signal in any unit (V, mV, ADC counts).
    axis : int
        The samples' axis.
    overwrite_x : bool
        A float64 ``x`` may be changed in place (no copy of the record).
    check_finite : bool
        Check that ``x`` holds no NaN or inf (one pass; a caller that checked already passes False).

    Returns
    -------
    ndarray
        ``x`` minus each channel's median, float64, in the unit of ``x``.

    Raises
    ------
    ValueError
        ``x`` not 1-D or 2-D, or holding NaN or inf (with ``check_finite``).
    """
    x = as_float(check_signal(x, "x", check_finite=check_finite))
    if samples_axis(x, axis, "x") == 0:
        return x if overwrite_x else x.copy()
    step = max(1, x.shape[axis] // 100_000)
    # A strided view, not np.take: the same samples, and np.median's copy of it is the only one.
    sub = np.moveaxis(np.moveaxis(x, axis, -1)[..., ::step], -1, axis)
    level = np.median(sub, axis=axis, keepdims=True)
    if overwrite_x:
        x -= level
        return x
    return x - level


def clamp_band(fs: float, low_hz: float = SENIAM_BAND_HZ[0], high_hz: float = SENIAM_BAND_HZ[1]) -> tuple[float, float | None]:
    """The usable EMG band at sampling rate ``fs``.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    low_hz, high_hz : float
        Requested band edges in Hz (SENIAM: 20–450 Hz).

    Returns
    -------
    (low_hz, high_hz) : (float, float or None)
        ``high_hz`` clamped to 0.9 × Nyquist; None when the band left is narrower than 1.5 × ``low_hz``
        (then only a high-pass at ``low_hz`` is usable).
    """
    nyq = 0.5 * check_fs(fs)
    high = min(float(high_hz), 0.9 * nyq)
    if high <= float(low_hz) * 1.5:
        return float(low_hz), None  # too narrow: high-pass only
    return float(low_hz), high


@lru_cache(maxsize=64)
def bandpass_sos(fs: float, low_hz: float = 20.0, high_hz: float = 450.0, order: int = 4) -> np.ndarray:
    """Butterworth band-pass (or high-pass on slow boards, see :func:`clamp_band`) as second-order sections.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    low_hz, high_hz : float
        Band edges in Hz; ``high_hz`` is clamped below Nyquist.
    order : int
        Butterworth order (of each edge).

    Returns
    -------
    ndarray, shape (sections, 6)
        As :func:`scipy.signal.butter` with ``output="sos"``; cached, so treat it as read-only.
    """
    fs = check_fs(fs)
    check_positive(low_hz, "low_hz", "Hz")
    check_positive(high_hz, "high_hz", "Hz")
    low, high = clamp_band(fs, low_hz, high_hz)
    if high is None:
        return signal.butter(order, low, btype="highpass", fs=fs, output="sos")
    return signal.butter(order, [low, high], btype="bandpass", fs=fs, output="sos")


def bandpass(x, *, fs: float, low_hz: float = 20.0, high_hz: float = 450.0, order: int = 4,
             zero_phase: bool = True, axis: int = -1) -> np.ndarray:
    """Band-pass 20–450 Hz (SENIAM; Hermens et al. 2000), upper edge clamped below Nyquist.

    Parameters
    ----------
    x : array_like, shape (samples,) or (channels, samples)
        Signal in any unit.
    fs : float
        Sampling rate in Hz.
    low_hz, high_hz : float
        Band edges in Hz (see :func:`clamp_band`).
    order : int
        Butterworth order.
    zero_phase : bool
        Run the filter forward and backward (:func:`scipy.signal.sosfiltfilt`) so onsets are not
        delayed; False gives the causal filter (what the streaming path runs with carried state).
    axis : int
        The samples' axis.

    Returns
    -------
    ndarray
        The filtered signal, float64, in the unit of ``x``. Records too short for the filter's padding
        only lose their mean.

    References
    ----------
    Hermens HJ, Freriks B, Disselhorst-Klug C, Rau G (2000). Development of recommendations for SEMG
    sensors and sensor placement procedures. *J Electromyogr Kinesiol* 10:361–374.
    """
    x = as_float(check_signal(x, "x"))
    samples_axis(x, axis, "x")
    sos = bandpass_sos(check_fs(fs), float(low_hz), float(high_hz), int(order))
    if not long_enough_for_filtfilt(x.shape[axis], sos):
        return x - np.mean(x, axis=axis, keepdims=True) if x.shape[axis] else x.copy()
    if zero_phase:
        return signal.sosfiltfilt(sos, x, axis=axis)
    return signal.sosfilt(sos, x, axis=axis)


@lru_cache(maxsize=32)
def _zero_phase_kernel(sos_bytes: bytes, sections: int, tol: float = 1e-11) -> np.ndarray | None:
    """The impulse response of ``sosfiltfilt(sos)`` in the interior of a record (the autocorrelation of
    the filter's impulse response), truncated where the dropped tail's absolute sum falls below ``tol`` of
    the total; None if it has not decayed within 2²⁰ samples (a cutoff very low for the sampling rate)."""
    sos = np.frombuffer(sos_bytes, dtype=np.float64).reshape(sections, 6).copy()
    length = 4096
    while length <= 1 << 20:
        imp = np.zeros(length)
        imp[0] = 1.0
        h = signal.sosfilt(sos, imp)
        if np.sum(np.abs(h[length // 2:])) <= tol * np.sum(np.abs(h)):
            k = signal.fftconvolve(h, h[::-1])  # symmetric about index length − 1
            centre = length - 1
            right = np.abs(k[centre + 1:])
            beyond = np.cumsum(right[::-1])[::-1]  # beyond[j]: weight of the right tail from centre + 1 + j
            # Smallest half-width whose two (equal) tails weigh less than tol of the whole kernel.
            half = int(np.searchsorted(-beyond, -0.5 * tol * (np.abs(k[centre]) + 2 * right.sum())))
            return k[centre - half:centre + half + 1].copy()
        length *= 2
    return None


def filtfilt_fft(x, sos, *, axis: int = -1, block: int = 32768, rectify: bool = False,
                 check_finite: bool = True) -> np.ndarray:
    """Zero-phase filtering like :func:`scipy.signal.sosfiltfilt`, by FFT convolution in blocks.

    A forward-backward IIR pass is, away from the record's ends, a convolution with the autocorrelation
    of the filter's impulse response. That kernel (truncated where its tail is below 1e-11 of its weight)
    is applied by overlap-save FFT convolution over ``block``-sample pieces, which stay in the CPU cache:
    two to three times faster than ``sosfiltfilt`` on long records. The FFTs run in single precision
    (the output is float64): the two agree in the interior to ≈ 1e-6 of the signal's peak, below the
    step of a 16-bit ADC. The record's ends are extended by odd reflection (as ``sosfiltfilt`` pads),
    so the results differ otherwise only within the edge transient (a few hundred ms at each end).
    Records shorter than the kernel, or filters whose response does not decay (cutoff ≪ ``fs``), go to
    ``sosfiltfilt``.

    Parameters
    ----------
    x : array_like, shape (samples,) or (channels, samples)
        Signal in any unit.
    sos : array_like, shape (sections, 6)
        The filter as second-order sections (e.g. :func:`bandpass_sos`, :func:`~reengage.dsp.envelope.lowpass_sos`).
    axis : int
        The samples' axis.
    block : int
        FFT block length in samples (a power of two; raised to 8 × the kernel length if shorter).
    rectify : bool
        Filter ``|x|`` (a linear envelope) without a rectified copy of the record.
    check_finite : bool
        Check that ``x`` holds no NaN or inf (one pass; a caller that checked already passes False).

    Returns
    -------
    ndarray
        The filtered signal, float64, same shape and unit as ``x``.

    See Also
    --------
    scipy.signal.sosfiltfilt : what this computes, by direct recursion.
    """
    x = check_signal(x, "x", check_finite=check_finite)
    samples_axis(x, axis, "x")
    return _filtfilt_fft(x, check_sos(sos), axis=axis, block=int(check_positive(block, "block", "samples")),
                         rectify=rectify)


class _OverlapSave(NamedTuple):
    """Block layout of :func:`filtfilt_fft` for one record length (see :func:`_overlap_save_plan`)."""

    n: int
    half: int
    size: int
    step: int
    blocks: int
    gain32: np.ndarray


def _overlap_save_plan(n: int, sos: np.ndarray, block: int) -> _OverlapSave | None:
    """The FFT block layout for an ``n``-sample record, or None where ``sosfiltfilt`` must be used
    (records shorter than the kernel, filters whose response does not decay)."""
    from scipy import fft as sfft

    kernel = _zero_phase_kernel(sos.tobytes(), int(sos.shape[0]))
    half = -1 if kernel is None else (kernel.size - 1) // 2
    if kernel is None or n - 1 < half or n < 2:
        return None
    size = max(int(block), 1 << int(np.ceil(np.log2(8 * kernel.size))))
    size = min(size, sfft.next_fast_len(n + 2 * half, real=True))
    step = size - 2 * half
    gain32 = _kernel_gain(kernel.tobytes(), size).astype(np.float32)
    return _OverlapSave(n, half, size, step, -(-n // step), gain32)


def _filtfilt_fft(x, sos, *, axis: int = -1, block: int = 32768, rectify: bool = False,
                  in_place: bool = False) -> np.ndarray:
    """:func:`filtfilt_fft`; with ``in_place`` a float64 ``x`` receives the result (each block's output
    is written once the next block has read its input, so no second record-sized array is needed)."""
    x = np.moveaxis(as_float(x), axis, -1)
    if rectify and x.shape[-1] < 2 * block:  # short: the copy costs nothing, one code path
        x, rectify = np.abs(x), False
    sos = np.ascontiguousarray(np.asarray(sos, dtype=np.float64))
    n = x.shape[-1]
    plan = _overlap_save_plan(n, sos, block)
    if plan is None:
        if not long_enough_for_filtfilt(n, sos):
            return np.moveaxis(x - np.mean(x, axis=-1, keepdims=True) if n else x.copy(), -1, axis)
        return np.moveaxis(signal.sosfiltfilt(sos, x, axis=-1), -1, axis)
    flat = x.reshape(-1, n)
    if in_place and np.shares_memory(flat, x):
        for row in flat:
            pending = None
            for b0, values in _overlap_save_blocks(row, plan, rectify):
                # Block b0's input has been read (the FFT took a copy): the previous output may go in.
                if pending is not None:
                    _put(row, plan.step, *pending)
                pending = (b0, values)
            if pending is not None:
                _put(row, plan.step, *pending)
        return np.moveaxis(x, -1, axis)
    out = np.empty((flat.shape[0], plan.blocks * plan.step))
    for r, row in enumerate(flat):
        dest = out[r].reshape(plan.blocks, plan.step)
        for b0, values in _overlap_save_blocks(row, plan, rectify):
            dest[b0:b0 + values.shape[0]] = values
    return np.moveaxis(out[:, :n].reshape(x.shape), -1, axis)


def _put(row: np.ndarray, step: int, b0: int, values: np.ndarray) -> None:
    """Write blocks b0… of filtered output into ``row`` (the last block may run past its end)."""
    a = b0 * step
    k = min(values.shape[0], -(-(row.size - a) // step))
    flat = row[a:min(a + k * step, row.size)]
    whole = flat.size // step
    flat[:whole * step].reshape(whole, step)[...] = values[:whole]
    if flat.size > whole * step:
        flat[whole * step:] = values[whole, :flat.size - whole * step]


def _overlap_save_blocks(row: np.ndarray, plan: _OverlapSave, rectify: bool):
    """Filtered output of one record in block order: yields (first block, float32 array (k, step)).

    Block b filters z[b·step : b·step + size] of the padded record z = [odd reflection (half), x,
    odd reflection (half), zeros]. Blocks inside x read a view of x; only the first and last few are
    assembled, so the record is never copied whole. Those edge blocks are filtered first (their input
    is then no longer needed) and yielded in their place, so a consumer sees the blocks in order: a
    running sum can follow the output, and the output may overwrite the input one block behind.
    """
    from scipy import fft as sfft

    n, half, size, step, blocks = plan.n, plan.half, plan.size, plan.step, plan.blocks
    first_inner = -(-half // step)
    last_inner = (n + half - size) // step
    inner = np.arange(first_inner, last_inner + 1) if last_inner >= first_inner else np.zeros(0, dtype=int)
    edge = np.setdiff1d(np.arange(blocks), inner)
    # Blocks per FFT call: 2¹⁷ samples (4 blocks of 32 k), whose temporaries (≈ 0.5 MB each) stay in the
    # CPU cache; 16 blocks per call ran about a third slower.
    chunk = max(1, (1 << 17) // size)

    def run(segments: np.ndarray, rectify_blocks: bool):
        for b0 in range(0, segments.shape[0], chunk):
            # Single precision halves the FFT's cost; its rounding (≈ 1e-7 of the block's largest value)
            # is far below any ADC's step (a 16-bit converter resolves 1.5e-5 of its range).
            seg = segments[b0:b0 + chunk].astype(np.float32)
            if rectify_blocks:
                np.abs(seg, out=seg)
            spec = sfft.rfft(seg, axis=-1)
            spec *= plan.gain32
            yield sfft.irfft(spec, size, axis=-1)[:, half:half + step]

    edge_out = None
    if edge.size:
        i = edge[:, None] * step + np.arange(size)[None, :] - half  # index into x
        at = (lambda k: np.abs(row[k])) if rectify else (lambda k: row[k])
        head = 2 * at(0) - at(np.clip(-i, 0, n - 1))
        tail = 2 * at(n - 1) - at(np.clip(2 * (n - 1) - i, 0, n - 1))
        seg = np.where(i < 0, head, np.where(i < n, at(np.clip(i, 0, n - 1)), np.where(i < n + half, tail, 0.0)))
        # Assembled from |x| already: the reflection is of the rectified signal.
        edge_out = np.concatenate(list(run(seg, False)))
    n_head = int(np.sum(edge < first_inner)) if inner.size else edge.size
    if n_head:
        yield 0, edge_out[:n_head]
    if inner.size:
        view = np.lib.stride_tricks.sliding_window_view(row, size)[inner[0] * step - half::step][:inner.size]
        b = int(inner[0])
        for values in run(view, rectify):
            yield b, values
            b += values.shape[0]
    if edge_out is not None and edge.size > n_head:
        yield int(edge[n_head]), edge_out[n_head:]


@lru_cache(maxsize=32)
def _kernel_gain(kernel_bytes: bytes, size: int) -> np.ndarray:
    """rfft of the centred kernel wrapped onto ``size`` points (real: the kernel is symmetric)."""
    k = np.frombuffer(kernel_bytes, dtype=np.float64)
    half = (k.size - 1) // 2
    wrapped = np.zeros(size)
    wrapped[:half + 1] = k[half:]
    if half:
        wrapped[-half:] = k[:half]
    return np.fft.rfft(wrapped).real.copy()


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
    # Each channel at unit power: pooled decisions (which mains line, which harmonics) must not
    # depend on one electrode's gain. The whole record's SD, but only the pieces analysed are scaled.
    sd = np.maximum(std_rows(x), 1e-300)[:, None]
    n = x.shape[-1]
    seg = int(2 * fs)
    if n > max_seconds * fs and seg > 0:
        k = int(max_seconds // 2)
        starts = np.linspace(0, n - seg, k).astype(int)
        x = np.concatenate([x[:, s:s + seg] for s in starts], axis=-1)
    x = x / sd
    nperseg = int(min(x.shape[-1], 2 * fs))
    f, p = signal.welch(x, fs=fs, nperseg=max(nperseg, 8), axis=-1, detrend="constant")
    return f, np.atleast_2d(p)


def _pooled_psd(xm: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    f, p = _psd(xm.reshape(-1, xm.shape[-1]), fs)
    return f, p.mean(axis=0)


def detect_mains_hz(x, *, fs: float, min_prominence_db: float = 5.0, axis: int = -1,
                    _spectrum=None) -> float | None:
    """The mains frequency, 50 or 60 Hz, if its line stands out of the spectrum; else None.

    All channels are pooled: the interference comes from the same supply on every lead. A Welch
    estimate averaging ≥ 25 segments has a per-bin spread of ≈ 20 %, so 5 dB (3×) over the median of
    the neighbouring bins (±3–10 Hz) does not happen by chance on a smooth EMG spectrum.

    Parameters
    ----------
    x : array_like, shape (samples,) or (channels, samples)
        Signal in any unit (each channel is scaled to unit power before pooling).
    fs : float
        Sampling rate in Hz; below 110 Hz, or with less than one second of data, the answer is None.
    min_prominence_db : float
        How far (dB) the line's bin must stand above the median of its neighbours.
    axis : int
        The samples' axis.

    Returns
    -------
    float or None
        50.0, 60.0 (the more prominent of the two) or None.
    """
    x = np.moveaxis(np.atleast_2d(as_float(check_signal(x, "x", check_finite=_spectrum is None))), axis, -1)
    fs = check_fs(fs)
    if x.shape[-1] < int(fs) or fs < 2 * 50.0 + 10:
        return None
    f, p = _spectrum if _spectrum is not None else _pooled_psd(x, fs)
    best, best_db = None, min_prominence_db
    for line in MAINS_CANDIDATES_HZ:
        if line >= 0.5 * fs - 5:
            continue
        peak, floor = _line_power(f, p, line)
        db = 10 * np.log10((peak + 1e-300) / (floor + 1e-300))
        if db > best_db:
            best, best_db = line, db
    return best


def present_harmonics(x, *, fs: float, mains_hz: float, min_prominence_db: float = 5.0,
                      max_hz: float | None = None, axis: int = -1, _spectrum=None) -> list[float]:
    """The harmonics of ``mains_hz`` (fundamental included) that stand out of the spectrum.

    Parameters
    ----------
    x : array_like, shape (samples,) or (channels, samples)
        Signal in any unit; channels are pooled as in :func:`detect_mains_hz`.
    fs : float
        Sampling rate in Hz.
    mains_hz : float
        The mains frequency in Hz (50 or 60).
    min_prominence_db : float
        How far (dB) a harmonic's bin must stand above the median of its neighbours (±3–10 Hz).
    max_hz : float, optional
        Highest harmonic to consider, in Hz (at most Nyquist − 5 Hz).
    axis : int
        The samples' axis.

    Returns
    -------
    list of float
        The present harmonics in Hz, ascending (possibly empty).
    """
    x = np.moveaxis(np.atleast_2d(as_float(check_signal(x, "x", check_finite=_spectrum is None))), axis, -1)
    fs = check_fs(fs)
    mains_hz = check_positive(mains_hz, "mains_hz", "Hz")
    f, p = _spectrum if _spectrum is not None else _pooled_psd(x, fs)
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
    """A cascade of IIR notches (:func:`scipy.signal.iirnotch`) as second-order sections.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    lines_hz : tuple of float
        Notch frequencies in Hz; those outside (0, Nyquist) are skipped.
    quality : float
        Quality factor Q of each notch (−3 dB width = line / Q).

    Returns
    -------
    ndarray, shape (sections, 6)
        One section per notch (a pass-through section if none); cached, so treat it as read-only.
    """
    fs = check_fs(fs)
    check_positive(quality, "quality")
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
    """Band-pass (:func:`bandpass_sos`) and mains notches (:func:`notch_sos`) as one SOS cascade, so a
    signal is filtered in one pass instead of several.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    lines_hz : tuple of float
        Mains lines to notch, in Hz (empty: band-pass only).
    low_hz, high_hz : float
        Band edges in Hz.
    order : int
        Butterworth order of the band-pass.
    notch_quality : float
        Quality factor Q of each notch.

    Returns
    -------
    ndarray, shape (sections, 6)
    """
    sos = bandpass_sos(check_fs(fs), float(low_hz), float(high_hz), int(order))
    if lines_hz:
        sos = np.vstack([sos, notch_sos(float(fs), tuple(float(v) for v in lines_hz), float(notch_quality))])
    return sos


def refine_line_hz(x, *, fs: float, line_hz: float, span_hz: float = 0.15, max_seconds: float = 20.0) -> float:
    """The frequency near ``line_hz`` where ``x`` projects most strongly.

    Grids run a little off 50/60 Hz, and a sinusoid fitted at the wrong frequency drifts in phase over a
    segment. The search is a zero-padded FFT with 0.01 Hz bins over the first ``max_seconds``, channels
    pooled at unit power.

    Parameters
    ----------
    x : array_like, shape (samples,) or (channels, samples)
        Signal in any unit, samples on the last axis.
    fs : float
        Sampling rate in Hz.
    line_hz : float
        The nominal line in Hz.
    span_hz : float
        Search ±``span_hz`` around ``line_hz``, in Hz.
    max_seconds : float
        Use at most this much of the record, in s.

    Returns
    -------
    float
        The refined line in Hz (``line_hz`` itself on records shorter than one second).
    """
    x = np.atleast_2d(as_float(check_signal(x, "x")))
    return _refine_line_hz(x, check_fs(fs), check_positive(line_hz, "line_hz", "Hz"), span_hz, max_seconds)


def _refine_line_hz(x: np.ndarray, fs: float, line_hz: float, span_hz: float, max_seconds: float) -> float:
    """:func:`refine_line_hz` of a checked 2-D float ``x``."""
    n = min(x.shape[-1], int(max_seconds * fs))
    if n < int(fs):
        return float(line_hz)
    xs = x[:, :n] / np.maximum(np.std(x[:, :n], axis=-1, keepdims=True), 1e-300)
    nfft = int(round(fs / 0.01))
    spec = np.abs(np.fft.rfft(xs, n=max(nfft, n), axis=-1)) ** 2
    f = np.fft.rfftfreq(max(nfft, n), 1.0 / fs)
    sel = np.flatnonzero(np.abs(f - line_hz) <= span_hz)
    if sel.size == 0:
        return float(line_hz)
    return float(f[sel[np.argmax(spec[:, sel].sum(axis=0))]])


def subtract_lines(x, *, fs: float, lines_hz, segment_s: float = 4.0, axis: int = -1,
                   overwrite_x: bool = False, check_finite: bool = True) -> np.ndarray:
    """Remove mains lines by weighted least-squares sinusoid fits over overlapping ``segment_s`` segments.

    Each segment's amplitude and phase of every line are fitted (cos + sin regression) and the fitted
    coefficients are blended with a periodic Hann window at 50 % overlap (the windows sum to one). This
    is the regression approach of CleanLine (Mullen 2012) rather than an IIR notch: a notch narrow
    enough to spare the EMG rings for ≈ 1/(π·bandwidth) ≈ 0.2 s, and run zero-phase that ringing
    appears *before* each burst as a false early onset. The regression removes only what is coherent
    over seconds, which a motor-unit burst is not; samples are weighted by 1/local power (over 100 ms)
    so a burst's own energy near the line is not fitted as mains and then subtracted from the quiet
    samples around it.

    Sums per segment come from sums per half-segment (one pass over the data per line), so the cost
    is a few multiply-adds per sample.

    Parameters
    ----------
    x : array_like, shape (samples,) or (channels, samples)
        Signal in any unit (DC removed: a constant offset is not modelled).
    fs : float
        Sampling rate in Hz.
    lines_hz : sequence of float
        The lines to remove, in Hz (e.g. from :func:`mains_lines`); those outside (0, Nyquist) are skipped.
    segment_s : float
        Fit segment length in s (rounded to an even number of samples, at least 8).
    axis : int
        The samples' axis.
    overwrite_x : bool
        The result may be written into ``x`` (when it is a float64 array), as ``scipy.fft`` does,
        saving a copy of the record.
    check_finite : bool
        Check that ``x`` holds no NaN or inf (one pass; a caller that checked already passes False).

    Returns
    -------
    ndarray
        ``x`` with the fitted lines subtracted, float64, in the unit of ``x``. Records shorter than one
        segment are returned unchanged.

    References
    ----------
    Mullen T (2012). CleanLine: tool/plugin for EEGLAB. Neuroimaging Informatics Tools and Resources
    Clearinghouse (NITRC), https://www.nitrc.org/projects/cleanline.
    """
    x = np.moveaxis(as_float(check_signal(x, "x", check_finite=check_finite)), axis, -1)
    fs = check_fs(fs)
    lines = [float(v) for v in lines_hz if 0 < float(v) < 0.5 * fs]
    n = x.shape[-1]
    L = max(int(round(check_positive(segment_s, "segment_s", "s") * fs)) // 2 * 2, 8)
    if not lines or n < L:
        return np.moveaxis(x if overwrite_x else x.copy(), -1, axis)
    basis = _line_basis(n, fs, lines, L // 2, max(1, int(0.01 * fs)))
    weight = _line_fit_weights(x, basis)
    # Each channel's sums are complete before its fit is subtracted, so the input may be the output.
    out = x if overwrite_x else x.copy()
    scratch = np.empty(basis.chunk * basis.hop)
    with single_threaded_blas():  # thin, memory-bound products (see single_threaded_blas)
        for r in np.ndindex(*x.shape[:-1]):
            zx, z2, sw = _half_block_sums(x[r], weight[r], basis, scratch)
            _subtract_fit(out[r], _frame_coefficients(zx, z2, sw), basis, scratch)
    return np.moveaxis(out, -1, axis)


class _LineBasis(NamedTuple):
    """The layout and the sinusoids of :func:`subtract_lines` for one record length and set of lines.

    The record is cut into half-segments ("half-blocks") of ``hop`` samples, with one half-block of
    padding in front (``lead``) and the rest behind; each half-block is ``spb`` pieces of ``sub`` samples,
    over which the fit's weights are constant."""

    fs: float
    n: int
    hop: int
    lead: int
    nblk: int
    spb: int
    sub: int
    chunk: int
    om: list
    P: np.ndarray
    Pa: np.ndarray
    P2a: np.ndarray
    syn: np.ndarray

    def block_phase(self, b0: int, b1: int) -> np.ndarray:
        """e^{iω·t} at the start of half-blocks b0..b1 (padded coordinates), shaped (lines, b1 − b0)."""
        return np.exp(1j * np.array(self.om)[:, None] * (np.arange(b0, b1) * self.hop - self.lead)[None, :]
                      / self.fs)

    def padded(self, v: np.ndarray, b0: int, b1: int) -> np.ndarray:
        """Samples of half-blocks b0..b1 (zeros outside the record), shaped (..., b1 − b0, hop)."""
        s0, s1 = b0 * self.hop - self.lead, b1 * self.hop - self.lead
        seg = np.zeros(v.shape[:-1] + (s1 - s0,))
        a, b = max(s0, 0), min(s1, self.n)
        if b > a:
            seg[..., a - s0:b - s0] = v[..., a:b]
        return seg.reshape(v.shape[:-1] + (b1 - b0, self.hop))


def _line_basis(n: int, fs: float, lines: list[float], hop: int, piece: int) -> _LineBasis:
    """The :class:`_LineBasis` of ``n`` samples, half-segments of ``hop`` samples and weight pieces of
    about ``piece`` samples.

    e^{iωt} = B_b·P_k (block phase × phase within the block), so every per-block sum over a half-block
    is B_b (or B_b²) times a dot product of the samples with P_k (or P_k²): one matrix product per chunk
    covers all lines. Hann weights of the two frames covering each half-block (rising and falling half)
    are normalised by the weight actually present, so the first and last half-blocks (one frame only)
    are not scaled down."""
    # The weights (1 / local power) are piecewise constant over ``sub``-sample pieces (≈ 10 ms, a divisor
    # of the half-segment): a burst's power changes over tens of ms, and the sums then need the weights
    # only per piece, never a full-length weight array.
    spb = _pieces_per_half_segment(hop, piece)
    sub = hop // spb
    k_in = np.arange(hop)
    rise = 0.5 - 0.5 * np.cos(np.pi * (k_in + 0.5) / hop)
    fall = 1.0 - rise
    cover = rise + fall
    om = [2 * np.pi * f for f in lines]
    P = np.array([np.exp(1j * o * k_in / fs) for o in om])  # (lines, hop)
    nl = len(lines)
    Pa = np.concatenate([P.real, P.imag]).T  # (hop, 2·lines): Σ w·x·cos, Σ w·x·sin
    P2 = P * P
    # Σ over a half-block of w·P² with w constant per piece: per-piece sums of P² (spb, 2·lines).
    P2a = np.concatenate([P2.real, P2.imag]).T.reshape(spb, sub, 2 * nl).sum(axis=1)
    syn = np.concatenate([((rise / cover) * P).real, ((rise / cover) * P).imag,
                          ((fall / cover) * P).real, ((fall / cover) * P).imag])  # (4·lines, hop)
    chunk = max(1, 262_144 // hop)  # blocks per pass: bounded temporaries on hour-long records
    return _LineBasis(fs, n, hop, hop, int(np.ceil(n / hop)) + 2, spb, sub, chunk, om, P, Pa, P2a, syn)


def _line_fit_weights(x: np.ndarray, basis: _LineBasis) -> np.ndarray:
    """Per-piece weights 1 / (local power over 100 ms + a floor) in padded coordinates, shaped
    (..., half-blocks × pieces): zero outside the record, as its samples are absent."""
    n, sub, fs = basis.n, basis.sub, basis.fs
    lead_shape = x.shape[:-1]
    npc = -(-n // sub)
    whole = n // sub
    piece_power = np.zeros(lead_shape + (npc,))
    xr = x[..., :whole * sub].reshape(lead_shape + (whole, sub))
    piece_power[..., :whole] = np.einsum("...ij,...ij->...i", xr, xr) / sub  # Σx² per piece, no x² copy
    if npc > whole:
        piece_power[..., -1] = np.mean(x[..., whole * sub:] ** 2, axis=-1)
    local = moving_mean(piece_power, max(int(round(0.1 * fs / sub)), 1))
    floor = np.median(local, axis=-1, keepdims=True) * 1e-3 + 1e-300
    weight = np.zeros(lead_shape + (basis.nblk * basis.spb,))
    weight[..., basis.lead // sub:basis.lead // sub + npc] = 1.0 / (local + floor)
    return weight


def _half_block_sums(row: np.ndarray, weight: np.ndarray, basis: _LineBasis,
                     scratch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per half-block and line of one channel: Σ w·x·e^{−iωt}, Σ w·e^{2iωt} and Σ w."""
    hop, lead, n, nblk, spb, sub, chunk = basis.hop, basis.lead, basis.n, basis.nblk, basis.spb, basis.sub, basis.chunk
    nl = len(basis.om)
    zx = np.zeros((nl, nblk), dtype=complex)
    z2 = np.zeros((nl, nblk), dtype=complex)
    sw = np.zeros(nblk)
    for b0 in range(0, nblk, chunk):
        b1 = min(b0 + chunk, nblk)
        w = weight[b0 * spb:b1 * spb].reshape(b1 - b0, spb, 1)
        s0, s1 = b0 * hop - lead, b1 * hop - lead
        if s0 >= 0 and s1 <= n:  # inside the record: w·x straight into the scratch block
            wx = np.multiply(row[s0:s1].reshape(b1 - b0, spb, sub), w,
                             out=scratch[:(b1 - b0) * hop].reshape(b1 - b0, spb, sub)).reshape(b1 - b0, hop)
        else:
            wx = basis.padded(row, b0, b1)
            wx.reshape(b1 - b0, spb, sub)[...] *= w
        w = w[..., 0]
        Bc = basis.block_phase(b0, b1)
        sx = wx @ basis.Pa  # (blocks, 2·lines)
        s2 = w @ basis.P2a
        zx[:, b0:b1] = Bc.conj() * (sx[:, :nl] - 1j * sx[:, nl:]).T  # Σ w·x·(cos − i·sin)
        z2[:, b0:b1] = (Bc * Bc) * (s2[:, :nl] + 1j * s2[:, nl:]).T  # Σ w·(cos 2φ + i·sin 2φ)
        sw[b0:b1] = sub * w.sum(axis=-1)
    return zx, z2, sw


def _frame_coefficients(zx: np.ndarray, z2: np.ndarray, sw: np.ndarray) -> np.ndarray:
    """The fitted line a − i·b of each frame (lines, frames) from the half-block sums: frame k spans
    half-blocks k and k+1, and its cos/sin regression's normal equations are solved in closed form."""
    fc, fs_, fw = (zx.real[:, :-1] + zx.real[:, 1:], -(zx.imag[:, :-1] + zx.imag[:, 1:]), sw[:-1] + sw[1:])
    fc2, fs2 = z2.real[:, :-1] + z2.real[:, 1:], z2.imag[:, :-1] + z2.imag[:, 1:]
    gcc, gss, gcs = 0.5 * (fw + fc2), 0.5 * (fw - fc2), 0.5 * fs2
    det = gcc * gss - gcs * gcs
    det = np.where(np.abs(det) > 1e-300, det, np.inf)
    a = (gss * fc - gcs * fs_) / det
    b = (gcc * fs_ - gcs * fc) / det
    return a - 1j * b


def _subtract_fit(out: np.ndarray, z: np.ndarray, basis: _LineBasis, scratch: np.ndarray) -> None:
    """Subtract from one channel ``out`` the fitted lines ``z`` (per frame) blended across frames.

    Fit = a·cos + b·sin = Re((a − i·b)·e^{iωt}); half-block j blends frames j−1 and j:
    Re(pz[j+1]·B_j·(rise·P)_k + pz[j]·B_j·(fall·P)_k), one matrix product per chunk."""
    hop, lead, n, nblk, chunk, P = basis.hop, basis.lead, basis.n, basis.nblk, basis.chunk, basis.P
    nl = len(basis.om)
    pz = np.concatenate([np.zeros((nl, 1)), z, np.zeros((nl, 1))], axis=-1)
    for b0 in range(0, nblk, chunk):
        b1 = min(b0 + chunk, nblk)
        Bc = basis.block_phase(b0, b1)
        u = pz[:, b0 + 1:b1 + 1] * Bc
        v = pz[:, b0:b1] * Bc
        coef = np.concatenate([u.real, -u.imag, v.real, -v.imag]).T  # (blocks, 4·lines)
        fit = np.matmul(coef, basis.syn, out=scratch[:(b1 - b0) * hop].reshape(b1 - b0, hop))
        # The first and last half-blocks lie under one frame only: its coefficient, unweighted.
        if b0 == 0:
            fit[0] = (u[:, 0:1] * P).real.sum(axis=0)
        if b1 == nblk:
            fit[-1] = (v[:, -1:] * P).real.sum(axis=0)
        fit = fit.reshape(-1)
        s0 = b0 * hop - lead
        a_, b_ = max(s0, 0), min(b1 * hop - lead, n)
        if b_ > a_:
            out[a_:b_] -= fit[a_ - s0:b_ - s0]


def _pieces_per_half_segment(hop: int, target: int) -> int:
    """The number of equal pieces of a ``hop``-sample half-segment closest to ``target`` samples each
    (a divisor of ``hop``, so pieces tile the half-segments exactly)."""
    divisors = [d for d in range(1, hop + 1) if hop % d == 0]
    return hop // min(divisors, key=lambda d: (abs(d - target), d))


@lru_cache(maxsize=16)
def _bandpass_gain(fs: float, nfft: int, low_hz: float, high_hz: float, order: int) -> np.ndarray:
    """|H(f)|² of the Butterworth band-pass on the rfft grid: what ``sosfiltfilt`` applies, phase-free."""
    # Closed form of the bilinear-transformed Butterworth (prewarped Ω = tan(πf/fs)), squared because
    # a forward-backward pass applies the magnitude twice; identical to sosfreqz of bandpass_sos.
    low, high = clamp_band(fs, low_hz, high_hz)
    om = np.tan(np.pi * np.minimum(np.fft.rfftfreq(nfft, 1.0 / fs), 0.5 * fs * (1 - 1e-9)) / fs)
    wl = np.tan(np.pi * low / fs)
    with np.errstate(divide="ignore", invalid="ignore"):
        if high is None:
            ratio = wl / om
        else:
            wh = np.tan(np.pi * high / fs)
            ratio = (om * om - wl * wh) / (om * (wh - wl))
        g = 1.0 / (1.0 + ratio ** (2 * order))
    g = np.nan_to_num(g, nan=0.0, posinf=0.0)
    return g * g


def spectrum_interpolate(spec: np.ndarray, freqs: np.ndarray, lines_hz, *, half_width_hz: float = 0.25,
                         side_hz: tuple[float, float] = (1.0, 3.0)) -> None:
    """Mains removal by spectrum interpolation, in place on an rfft spectrum.

    Inside ±``half_width_hz`` of each line a bin's magnitude is lowered to the median magnitude of the
    bins 1–3 Hz either side, its phase kept. Unlike a notch this leaves no ringing to spread before a
    burst, and unlike zeroing the bins it leaves the EMG's own power at those frequencies.

    Parameters
    ----------
    spec : ndarray, complex, shape (freqs,) or (channels, freqs)
        The spectrum (:func:`scipy.fft.rfft` of the signal), changed in place.
    freqs : ndarray, shape (freqs,)
        The frequency of each bin in Hz (:func:`numpy.fft.rfftfreq`).
    lines_hz : sequence of float
        The lines to remove, in Hz.
    half_width_hz : float
        Half-width in Hz of the band replaced around each line (at least one bin).
    side_hz : (float, float)
        Distance in Hz of the reference bins from the line (inner, outer).

    Returns
    -------
    None

    References
    ----------
    Mewett DT, Reynolds KJ, Nazeran H (2004). Reducing power line interference in digitised
    electromyogram recordings by spectrum interpolation. *Med Biol Eng Comput* 42:524–531.
    """
    spec = check_signal(spec, "spec")
    freqs = check_signal(freqs, "freqs", ndim=(1,))
    if freqs.shape[0] != spec.shape[-1]:
        raise ValueError(f"freqs must hold one frequency per bin of spec ({spec.shape[-1]}), got {freqs.shape[0]}")
    df = freqs[1] - freqs[0] if freqs.size > 1 else 1.0
    for line in lines_hz:
        band = np.flatnonzero(np.abs(freqs - line) <= max(half_width_hz, df))
        side = np.flatnonzero((np.abs(freqs - line) >= side_hz[0]) & (np.abs(freqs - line) <= side_hz[1]))
        if band.size == 0 or side.size == 0:
            continue
        mag = np.median(np.abs(spec[..., side]), axis=-1, keepdims=True)
        cur = np.abs(spec[..., band])
        spec[..., band] *= np.where(cur > mag, mag / np.maximum(cur, 1e-300), 1.0)


def _clean_fft(xm: np.ndarray, fs: float, lines, low_hz: float, high_hz: float, order: int) -> np.ndarray:
    """Zero-phase band-pass and spectrum interpolation in one rfft/irfft per channel.

    The record is extended by odd reflection (as ``sosfiltfilt`` pads) so the circular FFT does not wrap
    the end of the record onto its start. One channel at a time keeps the peak memory near one copy.
    """
    from scipy import fft as sfft

    n = xm.shape[-1]
    pad = int(min(max(int(0.5 * fs), 1), n - 1))
    nfft = sfft.next_fast_len(n + 2 * pad, real=True)
    gain = _bandpass_gain(float(fs), int(nfft), float(low_hz), float(high_hz), int(order))
    freqs = np.fft.rfftfreq(nfft, 1.0 / fs)
    flat = xm.reshape(-1, n)
    out = np.empty_like(flat)
    buf = np.zeros(nfft)
    for i, row in enumerate(flat):
        buf[:] = 0.0
        buf[pad:pad + n] = row
        buf[:pad] = 2 * row[0] - row[pad:0:-1]
        buf[pad + n:pad + n + pad] = 2 * row[-1] - row[-2:-pad - 2:-1]
        spec = sfft.rfft(buf)
        if lines:
            spectrum_interpolate(spec, freqs, lines)
        spec *= gain
        out[i] = sfft.irfft(spec, nfft)[pad:pad + n]
    return out.reshape(xm.shape)


def mains_lines(x, *, fs: float, mains_hz: float | None | str = "auto", high_hz: float = 450.0,
                axis: int = -1, check_finite: bool = True) -> tuple[float | None, tuple[float, ...]]:
    """The mains frequency and the lines to remove at it.

    The detected (:func:`detect_mains_hz`) or given 50/60 Hz line is refined to the actual grid frequency
    (:func:`refine_line_hz`), and so are those of its harmonics that stand out of the spectrum
    (:func:`present_harmonics`) below the band's upper edge.

    Parameters
    ----------
    x : array_like, shape (samples,) or (channels, samples)
        Signal in any unit, DC removed (a minute of every lead is plenty).
    fs : float
        Sampling rate in Hz.
    mains_hz : float, None or "auto"
        The nominal mains frequency in Hz, ``"auto"`` to detect it, None for no mains.
    high_hz : float
        Upper edge of the EMG band in Hz (harmonics above it are filtered out anyway).
    axis : int
        The samples' axis.
    check_finite : bool
        Check that ``x`` holds no NaN or inf (one pass; a caller that checked already passes False).

    Returns
    -------
    (mains_hz, lines_hz) : (float or None, tuple of float)
        The nominal mains frequency and the refined lines in Hz; ``(None, ())`` if there is no mains
        line (or fewer than 16 samples).
    """
    xm = np.moveaxis(np.atleast_2d(as_float(check_signal(x, "x", check_finite=check_finite))), axis, -1)
    fs = check_fs(fs)
    if not (mains_hz is None or isinstance(mains_hz, str) and mains_hz == "auto"):
        check_positive(mains_hz, "mains_hz", "Hz", allow_zero=True)
    if xm.shape[-1] < 16:
        return None, ()
    spectrum = _pooled_psd(xm, fs) if mains_hz else None
    if mains_hz == "auto":
        mains_hz = detect_mains_hz(xm, fs=fs, _spectrum=spectrum)
    if not mains_hz:
        return None, ()
    top = clamp_band(fs, 20.0, high_hz)[1] or 0.5 * fs
    lines = present_harmonics(xm, fs=fs, mains_hz=float(mains_hz), max_hz=top, _spectrum=spectrum) or [float(mains_hz)]
    base = _refine_line_hz(xm.reshape(-1, xm.shape[-1]), fs, float(mains_hz), 0.15, 20.0)
    return float(mains_hz), tuple(base * round(v / float(mains_hz)) for v in lines)


def clean(x, *, fs: float, mains_hz: float | None | str = "auto", low_hz: float = 20.0, high_hz: float = 450.0,
          order: int = 4, zero_phase: bool = True, mains_method: str = "subtract", lines_hz=None,
          axis: int = -1, overwrite_x: bool = False, check_finite: bool = True) -> np.ndarray:
    """Clean raw sEMG: remove DC, band-pass 20–450 Hz (clamped below Nyquist), remove mains.

    Zero-phase filtering is :func:`filtfilt_fft` (what ``sosfiltfilt`` computes, by blocked FFT
    convolution). Channels of kind ``envelope`` or ``imu`` must not be passed here (they are not
    band-limited EMG).

    Parameters
    ----------
    x : array_like, shape (samples,) or (channels, samples)
        Raw sEMG in any unit (V, mV, ADC counts).
    fs : float
        Sampling rate in Hz.
    mains_hz : float, None or "auto"
        ``"auto"`` detects 50/60 Hz from the signal and removes only the harmonics that are present
        (:func:`mains_lines`); a number forces that line (harmonics still checked); None disables mains
        removal.
    low_hz, high_hz : float
        Band edges in Hz (:func:`clamp_band`).
    order : int
        Butterworth order of the band-pass.
    zero_phase : bool
        Zero-phase filtering (offline); False gives the causal filters the streaming path runs.
    mains_method : {"subtract", "interpolate", "notch"}
        ``"subtract"`` (default offline, :func:`subtract_lines`); ``"interpolate"`` (spectrum
        interpolation, :func:`spectrum_interpolate`: faster, but it spreads the bursts' own power near
        the line over the whole record, which raises the resting floor between bursts); ``"notch"`` (IIR
        notches, Q = 30: what the causal streaming path uses, where ringing can only follow an onset).
    lines_hz : sequence of float, optional
        The lines to remove in Hz, as :func:`mains_lines` returns them (skips the detection; overrides
        ``mains_hz``).
    axis : int
        The samples' axis.
    overwrite_x : bool
        A float64 ``x`` may be used as scratch space (its content is then undefined).
    check_finite : bool
        Check that ``x`` holds no NaN or inf (one pass; a caller that checked already passes False).

    Returns
    -------
    ndarray
        The cleaned signal, float64, same shape and unit as ``x``.

    References
    ----------
    Hermens HJ et al. (2000). *J Electromyogr Kinesiol* 10:361–374 (SENIAM: the 20–450 Hz band).
    Mullen T (2012). CleanLine, NITRC (the mains regression of :func:`subtract_lines`).
    """
    x = check_signal(x, "x", check_finite=check_finite)
    fs = check_fs(fs)
    if mains_method not in ("subtract", "interpolate", "notch"):
        raise ValueError(f"mains_method must be 'subtract', 'interpolate' or 'notch', got {mains_method!r}")
    x = remove_dc(x, axis=axis, overwrite_x=overwrite_x, check_finite=False)
    if x.shape[axis] == 0:
        return x
    xm = np.moveaxis(x, axis, -1)
    if lines_hz is not None:
        lines = tuple(float(v) for v in lines_hz)
    elif mains_hz is None:
        lines = ()
    else:
        lines = mains_lines(xm, fs=fs, mains_hz=mains_hz, high_hz=high_hz, check_finite=False)[1]
    if lines and mains_method == "subtract":
        # xm is remove_dc's own copy (or x itself under overwrite_x)
        xm = subtract_lines(xm, fs=fs, lines_hz=lines, overwrite_x=True, check_finite=False)
        lines = ()
    if zero_phase and lines and mains_method == "interpolate" and xm.shape[-1] >= 16:
        return np.moveaxis(_clean_fft(xm, float(fs), lines, low_hz, high_hz, order), -1, axis)
    sos = clean_sos(float(fs), lines_hz=lines, low_hz=low_hz, high_hz=high_hz, order=order)
    if zero_phase:
        # xm is scratch (remove_dc's copy, or x itself under overwrite_x): filtered where it lies.
        return np.moveaxis(_filtfilt_fft(xm, sos, in_place=True), -1, axis)
    if not long_enough_for_filtfilt(xm.shape[-1], sos):
        return np.moveaxis(xm, -1, axis)
    return np.moveaxis(signal.sosfilt(sos, xm, axis=-1), -1, axis)


