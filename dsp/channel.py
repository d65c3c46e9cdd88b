"""One muscle channel from stored samples to the envelope its numbers are measured on.

These are the per-channel steps of the analysis chain, in the order ``analyze`` runs them:

1. :func:`find_mains` — the mains line and the harmonics to remove, found once on the first minute of every raw
   lead together (the grid frequency does not change within a session).
2. :func:`clean_emg` — DC removed, band-passed, mains lines subtracted; samples in data gaps set to zero.
3. :func:`emg_power` — the running sum of the cleaned signal's power and its centered ``window_ms`` moving mean
   (one pass serves the envelope, the default detector, the MVC reference and the motion check).
4. detection (``reengage.dsp.onsets``) and the baseline (``reengage.dsp.baseline.baseline_mask``).
5. :func:`resting_power` and :func:`rms_envelope` — the moving RMS with the resting noise power removed
   (what :func:`reengage.dsp.normalize.noise_corrected_rms` computes, from the shared running sum).
6. :func:`mvc_peak` — the MVC reference (what :func:`reengage.dsp.normalize.mvc_reference` computes).

Channels recorded as an envelope (a MyoWare ENV pin) take :func:`stored_envelope` and :func:`envelope_mvc_peak`
instead. Each function takes its settings from the frozen dataclasses of :mod:`reengage.dsp.options`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ._checks import check_fs, check_mask, check_signal
from ._util import moving_mean, moving_mean_at, moving_mean_from_cumsum, power_cumsum, window_samples
from .filters import clean, mains_lines, remove_dc
from .options import CleanOptions, EnvelopeOptions


class Mains(NamedTuple):
    """The mains interference found on a record.

    ``mains_hz``: the grid frequency (50 or 60 Hz), None when there is no mains line; ``lines_hz``: the line and
    harmonics to remove, refined to the actual grid frequency (Hz); ``probe``: the DC-removed first
    ``CleanOptions.mains_probe_s`` of each lead, (channels, samples), in the leads' unit (the part of the record
    the lines were found on, also what ``channel_quality`` reads as a lead's mains level)."""

    mains_hz: float | None
    lines_hz: tuple[float, ...]
    probe: np.ndarray


class EmgPower(NamedTuple):
    """The power of a cleaned signal: ``cumsum`` is the running sum of x² with a leading 0 (samples + 1),
    ``mean`` its centered ``EnvelopeOptions.window_ms`` moving mean (samples), both float64 in unit²."""

    cumsum: np.ndarray
    mean: np.ndarray


def probe_samples(n: int, fs: float, options: CleanOptions | None = None) -> int:
    """How many of a record's ``n`` samples at ``fs`` Hz :func:`find_mains` reads (its first
    ``mains_probe_s``), so a caller converts only those."""
    opts = options or CleanOptions()
    return min(int(n), int(opts.mains_probe_s * check_fs(fs)))


def find_mains(raw, *, fs: float, options: CleanOptions | None = None, check_finite: bool = True) -> Mains:
    """The mains line of raw sEMG leads, found on all of them together.

    Parameters
    ----------
    raw : array, (channels, samples) or (samples,)
        Raw leads in their unit (volts, mV or ADC counts); only the first ``options.mains_probe_s`` seconds are
        read, so a caller may pass just those (see :func:`probe_samples`).
    fs : float
        Sampling rate, Hz.
    options : CleanOptions, optional
        ``mains_probe_s`` and ``high_hz`` (harmonics above the band are not searched).

    Returns
    -------
    Mains
        Frequency, lines to remove (Hz) and the DC-removed probe.
    """
    opts = options or CleanOptions()
    fs = check_fs(fs)
    x = np.atleast_2d(check_signal(raw, "raw", check_finite=check_finite))
    # Checked above (or by the caller): the steps below skip their own pass over the data.
    probe = remove_dc(x[:, :probe_samples(x.shape[-1], fs, opts)], check_finite=False)
    if not probe.size:
        return Mains(None, (), probe)
    mains_hz, lines = mains_lines(probe, fs=fs, high_hz=opts.high_hz, check_finite=False)
    return Mains(mains_hz, lines, probe)


def clean_emg(x, *, fs: float, lines_hz=(), exclude=None, options: CleanOptions | None = None,
              check_finite: bool = True, overwrite_x: bool = False) -> np.ndarray:
    """Raw sEMG → cleaned: DC removed, band-passed, the mains ``lines_hz`` subtracted, gap samples zeroed.

    Parameters
    ----------
    x : array, (samples,) or (channels, samples)
        Raw sEMG in its unit.
    fs : float
        Sampling rate, Hz.
    lines_hz : sequence of float
        Mains line and harmonics to remove, Hz (:func:`find_mains`); empty: none.
    exclude : bool array, (samples,), optional
        Data gaps: their samples hold a fill value, not signal, and the filters ring across their edges, so the
        cleaned signal is zero there.
    options : CleanOptions, optional
        Band edges (Hz) and Butterworth order.
    overwrite_x : bool
        A float64 ``x`` may be used as scratch space (its content is then undefined).

    Returns
    -------
    array, float64, shaped like ``x``, in the unit of ``x``.
    """
    opts = options or CleanOptions()
    fs = check_fs(fs)
    x = check_signal(x, check_finite=check_finite)
    gap = check_mask(exclude, x.shape[-1], "exclude")
    if not x.shape[-1]:
        return np.zeros(x.shape)
    row = clean(x, fs=fs, lines_hz=tuple(lines_hz), low_hz=opts.low_hz, high_hz=opts.high_hz, order=opts.order,
                overwrite_x=overwrite_x, check_finite=False)
    if gap is not None and gap.any():
        row[..., gap] = 0.0
    return row


def emg_power(cleaned, *, fs: float, options: EnvelopeOptions | None = None, check_finite: bool = True) -> EmgPower:
    """Running sum and centered ``options.window_ms`` moving mean of the power of cleaned sEMG.

    Parameters
    ----------
    cleaned : array, (samples,) or (channels, samples)
        Cleaned sEMG (:func:`clean_emg`), in its unit.
    fs : float
        Sampling rate, Hz.
    options : EnvelopeOptions, optional
        ``window_ms``: the envelope window (default 100 ms).

    Returns
    -------
    EmgPower
        ``cumsum`` (samples + 1) and ``mean`` (samples), float64, unit². The moving mean shrinks its window at the
        record's ends (an edge is not rest).
    """
    opts = options or EnvelopeOptions()
    fs = check_fs(fs)
    x = check_signal(cleaned, "cleaned", check_finite=check_finite)
    csq = power_cumsum(x)
    return EmgPower(csq, moving_mean_from_cumsum(csq, window_samples(opts.window_ms, fs)))


def resting_power(cleaned, baseline) -> float:
    """Mean power of one cleaned channel over its baseline samples (unit²); 0 when there are none.

    The mean, not the median: noise power adds to EMG power as a mean.

    Parameters
    ----------
    cleaned : array, (samples,)
        Cleaned sEMG.
    baseline : bool array, (samples,)
        Its resting samples (``reengage.dsp.baseline.baseline_mask``).
    """
    x = check_signal(cleaned, "cleaned", ndim=(1,), check_finite=False)
    bm = check_mask(baseline, x.shape[-1], "baseline")
    return float(np.mean(np.square(x[bm]))) if bm.any() else 0.0


def rms_envelope(power: EmgPower, noise_power: float, *, overwrite: bool = False) -> np.ndarray:
    """The amplitude envelope: sqrt(max(mean power − noise power, 0)), as float32.

    Parameters
    ----------
    power : EmgPower
        From :func:`emg_power`.
    noise_power : float
        Resting noise power (:func:`resting_power`), unit²: background noise adds in power to the EMG, so
        removing it gives the muscle's own amplitude.
    overwrite : bool
        ``power.mean`` may be used as scratch space (its content is then undefined): no second record-sized array.

    Returns
    -------
    array, float32, shaped like ``power.mean``, in the signal's unit: bit for bit
    ``noise_corrected_rms(cleaned, fs=fs, window_ms=window_ms, noise_power=noise_power).astype(np.float32)``.
    """
    ms = power.mean if overwrite else power.mean.copy()
    ms -= float(noise_power)
    # The square root in float64, stored straight as float32 (as sqrt then astype, which overflows to inf
    # silently too).
    with np.errstate(over="ignore"):
        return np.sqrt(np.maximum(ms, 0.0, out=ms), out=np.empty(ms.shape, dtype=np.float32), casting="same_kind")


def _usable(peak: float) -> float | None:
    return peak if peak > 0 and math.isfinite(peak) else None


def mvc_peak(power: EmgPower, *, fs: float, mask, noise_power: float = 0.0,
             options: EnvelopeOptions | None = None) -> float | None:
    """MVC reference of one raw channel: the peak, inside ``mask``, of its ``options.mvc_window_ms`` moving RMS
    with the resting noise power removed (SENIAM; Burden 2010).

    Parameters
    ----------
    power : EmgPower
        From :func:`emg_power` of the cleaned channel (1-D); only ``cumsum`` is read.
    fs : float
        Sampling rate, Hz.
    mask : bool array, (samples,)
        The muscle's MVC trials.
    noise_power : float
        Resting noise power, unit².

    Returns
    -------
    float or None
        The reference in the signal's unit (what ``reengage.dsp.normalize.mvc_reference`` gives); None when the
        mask is empty or the channel is silent there.
    """
    opts = options or EnvelopeOptions()
    fs = check_fs(fs)
    idx = np.flatnonzero(check_mask(mask, power.cumsum.shape[-1] - 1, "mask"))
    if not idx.size:
        return None
    ms = moving_mean_at(power.cumsum, window_samples(opts.mvc_window_ms, fs), idx)
    return _usable(float(np.max(np.sqrt(np.maximum(ms - noise_power, 0.0)))))


def stored_envelope(env, baseline, *, check_finite: bool = True) -> tuple[np.ndarray, float]:
    """A channel recorded as an envelope, its resting level removed: (envelope ≥ 0 as float64, level).

    Parameters
    ----------
    env : array, (samples,)
        The stored envelope in its unit.
    baseline : bool array, (samples,)
        Its resting samples; their mean is the level subtracted (0 when there are none).
    """
    x = check_signal(env, "env", ndim=(1,), check_finite=check_finite)
    bm = check_mask(baseline, x.shape[-1], "baseline")
    level = float(np.mean(x[bm])) if bm.any() else 0.0
    return np.maximum(x - level, 0.0), level


def envelope_mvc_peak(env, *, fs: float, mask, options: EnvelopeOptions | None = None) -> float | None:
    """MVC reference of an envelope channel: the peak, inside ``mask``, of its ``options.mvc_window_ms`` moving
    mean (``env`` from :func:`stored_envelope`, in its unit). None when the mask is empty or the channel silent."""
    opts = options or EnvelopeOptions()
    fs = check_fs(fs)
    x = check_signal(env, "env", ndim=(1,), check_finite=False)
    idx = np.flatnonzero(check_mask(mask, x.shape[-1], "mask"))
    if not idx.size:
        return None
    return _usable(float(np.max(moving_mean(x, window_samples(opts.mvc_window_ms, fs))[idx])))


__all__ = ["Mains", "EmgPower", "probe_samples", "find_mains", "clean_emg", "emg_power", "resting_power",
           "rms_envelope", "mvc_peak", "stored_envelope", "envelope_mvc_peak"]
