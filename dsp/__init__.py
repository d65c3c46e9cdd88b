"""reengage.dsp — pure, vectorized sEMG processing over (channels, samples) arrays.

One verb per step, each usable alone from a notebook (``fs`` in Hz, ``axis=-1``, units in names):

* clean: :func:`remove_dc`, :func:`bandpass`, :func:`detect_mains_hz`, :func:`subtract_lines`, :func:`clean`,
  :func:`filtfilt_fft` (zero-phase filtering, what ``sosfiltfilt`` computes, by blocked FFT convolution)
* envelope: :func:`moving_rms`, :func:`linear_envelope`, :func:`tkeo`
* normalise: :func:`mvc_reference`, :func:`percent_mvc`, :func:`noise_corrected_rms`
* baseline: :func:`quietest_window`, :func:`baseline_mask`, :func:`baseline_stats`
* onsets: :func:`detect_bursts` (``method=`` one of :data:`METHODS`), :func:`hodges_bui`, :func:`bonato`,
  :func:`solnik`, :func:`power_backtrack` (default), :func:`envelope_bursts`, :func:`ramp_onsets` (optional refinement),
  :func:`local_onsets` (power_backtrack's last step: onsets against the baseline just before each burst) and
  :func:`lead_ins` (short bursts that lead into a larger one);
  their settings: :class:`PowerBacktrackOptions`, :class:`HodgesBuiOptions`, :class:`BonatoOptions`,
  :class:`SolnikOptions`, :class:`EnvelopeBurstOptions`, :class:`RampFitOptions`, :class:`LocalOnsetOptions`
* movement: :func:`gyro_magnitude`, :func:`tilt_deg`, :func:`movement_segments`
* posture (:mod:`reengage.dsp.posture`, an accelerometer on the thigh or waist): :func:`gravity_estimate`,
  :func:`epoch_gravity`, :func:`epoch_activity`, :func:`inclination_deg`, :func:`not_worn_epochs`,
  :func:`classify_postures`, :func:`posture_transitions`, :func:`sitting_bouts`; settings :class:`PostureOptions`,
  labels :data:`POSTURES`
* quality: :func:`channel_quality`
* the analysis chain per channel (:mod:`reengage.dsp.channel`): :func:`find_mains`, :func:`clean_emg`,
  :func:`emg_power`, :func:`resting_power`, :func:`rms_envelope`, :func:`mvc_peak`, :func:`stored_envelope`,
  :func:`envelope_mvc_peak`; masks: :func:`intervals_mask`, :func:`bursts_mask`
* reps (:mod:`reengage.dsp.reps`): :func:`group_reps`, :func:`rep_bursts`, :func:`measure_reps`,
  :func:`check_reps`, :func:`movement_onsets`
* settings: :mod:`reengage.dsp.options` (:class:`AnalysisOptions` and one frozen dataclass per step)
* streaming (the live chain: these steps on a sliding window): :class:`LiveChain`, :class:`LiveStep`
  (:mod:`reengage.dsp.streaming`), settings :class:`LiveOptions`
* validation (outside the library): ``python -m reengage.validation``
"""

from .baseline import Baseline, baseline_mask, baseline_stats, quietest_window
from .envelope import linear_envelope, moving_rms, tkeo
from .filters import bandpass, clean, detect_mains_hz, filtfilt_fft, mains_lines, remove_dc, subtract_lines
from .imu import gyro_magnitude, movement_segments, tilt_deg
from .normalize import mvc_reference, noise_corrected_rms, percent_mvc
from .local_onset import LocalOnsetOptions, lead_ins, local_onsets
from .onsets import (DEFAULT_METHOD, METHODS, BonatoOptions, Bursts, DetectionBaseline, EnvelopeBurstOptions,
                     HodgesBuiOptions, PowerBacktrackOptions, RampFitOptions, SolnikOptions, bonato, detect_bursts,
                     envelope_bursts, hodges_bui, power_backtrack, power_backtrack_baseline, ramp_onsets, solnik)
from ._util import single_threaded_blas
from .channel import (EmgPower, Mains, clean_emg, emg_power, envelope_mvc_peak, find_mains, mvc_peak, probe_samples,
                      resting_power, rms_envelope, stored_envelope)
from .masks import bursts_mask, intervals_mask
from .posture import (POSTURES, PostureOptions, classify_postures, epoch_activity, epoch_gravity, gravity_estimate,
                      inclination_deg, not_worn_epochs, posture_transitions, sitting_bouts)
from .options import (DEFAULT_OPTIONS, AnalysisOptions, BaselineOptions, CleanOptions, EnvelopeOptions,
                      LiveOptions, RepOptions)
from .quality import channel_quality
from .reps import RepChecks, RepMeasures, check_reps, group_reps, measure_reps, movement_onsets, rep_bursts
from .streaming import LiveChain, LiveStep

__all__ = [
    "Baseline", "baseline_mask", "baseline_stats", "quietest_window",
    "linear_envelope", "moving_rms", "tkeo",
    "bandpass", "clean", "detect_mains_hz", "filtfilt_fft", "mains_lines", "remove_dc", "subtract_lines",
    "gyro_magnitude", "movement_segments", "tilt_deg",
    "mvc_reference", "noise_corrected_rms", "percent_mvc",
    "DEFAULT_METHOD", "METHODS", "Bursts", "bonato", "detect_bursts", "envelope_bursts", "hodges_bui",
    "power_backtrack", "ramp_onsets", "solnik",
    "BonatoOptions", "DetectionBaseline", "EnvelopeBurstOptions", "HodgesBuiOptions", "PowerBacktrackOptions",
    "RampFitOptions", "SolnikOptions", "power_backtrack_baseline", "LocalOnsetOptions", "local_onsets", "lead_ins",
    "channel_quality",
    "EmgPower", "Mains", "clean_emg", "emg_power", "envelope_mvc_peak", "find_mains", "mvc_peak", "probe_samples",
    "resting_power", "rms_envelope", "stored_envelope",
    "bursts_mask", "intervals_mask",
    "DEFAULT_OPTIONS", "AnalysisOptions", "BaselineOptions", "CleanOptions", "EnvelopeOptions", "LiveOptions",
    "RepOptions", "LiveChain", "LiveStep",
    "RepChecks", "RepMeasures", "check_reps", "group_reps", "measure_reps", "movement_onsets", "rep_bursts",
    "POSTURES", "PostureOptions", "classify_postures", "epoch_activity", "epoch_gravity", "gravity_estimate",
    "inclination_deg", "not_worn_epochs", "posture_transitions", "sitting_bouts",
    "single_threaded_blas",
]
