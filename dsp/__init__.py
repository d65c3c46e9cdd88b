"""reengage.dsp — pure, vectorized sEMG processing over (channels, samples) arrays.

One verb per step, each usable alone from a notebook (``fs`` in Hz, ``axis=-1``, units in names):

* clean: :func:`remove_dc`, :func:`bandpass`, :func:`detect_mains_hz`, :func:`subtract_lines`, :func:`clean`,
  :func:`filtfilt_fft` (zero-phase filtering, what ``sosfiltfilt`` computes, by blocked FFT convolution)
* envelope: :func:`moving_rms`, :func:`linear_envelope`, :func:`tkeo`
* normalise: :func:`mvc_reference`, :func:`percent_mvc`, :func:`noise_corrected_rms`
* baseline: :func:`quietest_window`, :func:`baseline_mask`, :func:`baseline_stats`
* onsets: :func:`detect_bursts` (``method=`` one of :data:`METHODS`), :func:`hodges_bui`, :func:`bonato`,
  :func:`solnik`, :func:`power_backtrack` (default), :func:`envelope_bursts`, :func:`ramp_onsets` (optional refinement)
* movement: :func:`gyro_magnitude`, :func:`tilt_deg`, :func:`movement_segments`
* quality: :func:`channel_quality`
* streaming: :mod:`reengage.dsp.streaming`
* validation (outside the library): ``python -m reengage.validation``
"""

from .baseline import Baseline, baseline_mask, baseline_stats, quietest_window
from .envelope import linear_envelope, moving_rms, tkeo
from .filters import bandpass, clean, detect_mains_hz, filtfilt_fft, remove_dc, subtract_lines
from .imu import gyro_magnitude, movement_segments, tilt_deg
from .normalize import mvc_reference, noise_corrected_rms, percent_mvc
from .onsets import (DEFAULT_METHOD, METHODS, Bursts, bonato, detect_bursts, envelope_bursts, hodges_bui,
                     power_backtrack, ramp_onsets, solnik)
from .quality import channel_quality

__all__ = [
    "Baseline", "baseline_mask", "baseline_stats", "quietest_window",
    "linear_envelope", "moving_rms", "tkeo",
    "bandpass", "clean", "detect_mains_hz", "filtfilt_fft", "remove_dc", "subtract_lines",
    "gyro_magnitude", "movement_segments", "tilt_deg",
    "mvc_reference", "noise_corrected_rms", "percent_mvc",
    "DEFAULT_METHOD", "METHODS", "Bursts", "bonato", "detect_bursts", "envelope_bursts", "hodges_bui",
    "power_backtrack", "ramp_onsets", "solnik",
    "channel_quality",
]
