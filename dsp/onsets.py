"""Onset and offset detection of sEMG bursts.

Every detector takes cleaned EMG shaped (channels, samples) (or one channel), the sampling rate
``fs`` in Hz and the baseline: a boolean ``rest`` mask over samples (marked rest), or None to use
each channel's quietest 1 s window. Its settings come in one small frozen dataclass (``options``,
e.g. :class:`PowerBacktrackOptions`; None = the defaults). Each returns one :class:`Bursts` per
channel with sample indices (onset = first active sample, offset = last active sample).

Detectors:

* :func:`hodges_bui` — Hodges & Bui 1996 (*Electroencephalogr Clin Neurophysiol* 101:511–519):
  rectified EMG low-passed at 50 Hz; onset where the mean over a ``window_ms`` window exceeds the
  baseline mean + h·SD.
* :func:`bonato` — Bonato, D'Alessio & Knaflitz 1998 (*IEEE Trans Biomed Eng* 45:287–299):
  double threshold on g = (x[k−1]² + x[k]²)/σ₀²: at least r₀ of m consecutive values above ζ, and the
  state held for ``min_duration_ms``.
* :func:`solnik` — Solnik, Rider, Steinweg, DeVita & Hortobágyi 2010 (*Eur J Appl Physiol*
  110:489–498): Teager–Kaiser energy, rectified and low-passed, then the Hodges–Bui threshold.
* :func:`power_backtrack` (the default, chosen on the validation suite, see ``reengage.validation``): a
  robust detection on a 100 ms power envelope (few false alarms, no loss at 6 dB SNR) followed by
  a local search on a short envelope for the last resting sample before the rise (the double
  threshold idea of Bonato et al., applied backwards in time), which removes most of the delay
  that a single high threshold has on a slowly rising burst. What it learns from the rest is a
  :class:`DetectionBaseline` (:func:`power_backtrack_baseline`), which a live chain learns once and
  reuses over many short windows.

All detectors then merge activations separated by less than ``min_gap_ms`` and drop those shorter
than ``min_burst_ms``: a repetition of a hip-extension exercise lasts far longer than a cable tug
or a single motor-unit spike train.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields, replace
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._checks import check_fs, check_mask, check_signal
from ._util import (as_float, cumsum0, drop_short_runs, first_true_after, forward_mean_at,
                    forward_mean_from_cumsum, last_true_before, moving_mean, moving_mean_at, moving_mean_exceeds,
                    moving_mean_from_cumsum, power_cumsum, runs, spans_mask, window_samples)
from .baseline import Baseline, baseline_mask, baseline_stats, robust_stats
from .envelope import linear_envelope, linear_envelope_cumsum, tkeo
from .local_onset import LocalOnsetOptions, lead_ins, local_onsets


class Bursts(NamedTuple):
    """Activation bursts of one channel, in samples.

    Attributes
    ----------
    onsets : int64 array, (bursts,)
        Sample index of each burst's first active sample.
    offsets : int64 array, (bursts,)
        Sample index of each burst's last active sample (inclusive).
    """

    onsets: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:  # number of bursts, not the tuple's arity
        return int(self.onsets.size)

    def seconds(self, fs: float, t0_s: float = 0.0) -> list[tuple[float, float]]:
        """The bursts as times.

        Parameters
        ----------
        fs : float
            Sampling rate in Hz.
        t0_s : float
            Time of sample 0 in s.

        Returns
        -------
        list of (float, float)
            (onset, offset) of each burst in s.
        """
        return [(t0_s + a / fs, t0_s + b / fs) for a, b in zip(self.onsets.tolist(), self.offsets.tolist())]


EMPTY = Bursts(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))

METHODS = ("power_backtrack", "hodges_bui", "bonato", "solnik")
DEFAULT_METHOD = "power_backtrack"


# --------------------------------------------------------------------------------------------- settings

@dataclass(frozen=True)
class HodgesBuiOptions:
    """Settings of :func:`hodges_bui`.

    Attributes
    ----------
    h : float
        Threshold in baseline SDs above the baseline mean (dimensionless).
    window_ms : float
        Averaging window in ms, starting at each sample.
    cutoff_hz : float
        Low-pass cutoff of the linear envelope in Hz.
    min_gap_ms : float
        Activations separated by less than this (ms) merge.
    min_burst_ms : float
        Activations shorter than this (ms) are dropped.

    h = 3, 25 ms, 50 Hz are among the combinations Hodges & Bui found closest to visual onsets.
    """

    h: float = 3.0
    window_ms: float = 25.0
    cutoff_hz: float = 50.0
    min_gap_ms: float = 100.0
    min_burst_ms: float = 100.0


@dataclass(frozen=True)
class BonatoOptions:
    """Settings of :func:`bonato`.

    Attributes
    ----------
    h : float
        ζ, the threshold on g = (x[k−1]² + x[k]²)/σ₀² (dimensionless).
    r0 : int
        Active where at least ``r0`` of the ``m`` successive values of g from a pair on exceed ζ.
    m : int
        Length of that run of pairs (2·``m`` samples).
    min_duration_ms : float
        The active state must last this long (ms).
    min_gap_ms : float
        Activations separated by less than this (ms) merge.
    min_burst_ms : float
        Activations shorter than this (ms) are dropped.

    ζ = 7.74 with r₀ = 1 of m = 5 is the paper's setting for a false-alarm probability of 0.05.
    """

    h: float = 7.74
    r0: int = 1
    m: int = 5
    min_duration_ms: float = 30.0
    min_gap_ms: float = 100.0
    min_burst_ms: float = 100.0


@dataclass(frozen=True)
class SolnikOptions:
    """Settings of :func:`solnik`.

    Attributes
    ----------
    h : float
        Threshold in baseline SDs above the baseline mean of the TKEO envelope (dimensionless).
    cutoff_hz : float
        Low-pass cutoff of the rectified TKEO in Hz.
    min_duration_ms : float
        The envelope must stay above threshold this long (ms).
    min_gap_ms : float
        Activations separated by less than this (ms) merge.
    min_burst_ms : float
        Activations shorter than this (ms) are dropped.
    """

    h: float = 8.0
    cutoff_hz: float = 50.0
    min_duration_ms: float = 25.0
    min_gap_ms: float = 100.0
    min_burst_ms: float = 100.0


@dataclass(frozen=True)
class PowerBacktrackOptions:
    """Settings of :func:`power_backtrack` (the default detector); the algorithm is described there.

    Attributes
    ----------
    detect_window_ms : float
        Window of the detection envelope P_d, the centered mean of x² (ms).
    h_detect : float
        Detection threshold on P_d in baseline SDs above its baseline mean.
    onset_window_ms : float
        Hodges–Bui window of the onset envelope P_o (ms); the SNR-adaptive window starts from it.
    h_mid : float
        A burst's rise: P_o above mean + ``h_mid``·SD of its baseline.
    h_onset : float
        Its last quiet sample: P_o at or below mean + ``h_onset``·SD.
    onset_cutoff_hz : float or None
        Low-pass cutoff of P_o's linear envelope in Hz; None: P_o is the centered mean of x² instead.
    plateau_fraction : float
        The quiet level is at least this fraction of the way from rest to the burst's median level.
    window_slope_ms_per_db : float
        The onset window shrinks by this many ms per dB of burst SNR above 12 dB (0: fixed window).
    extrapolate : float
        > 0 moves each onset back by this multiple of the time from the quiet sample to half the plateau.
    first_gap_ms : float
        > 0: each onset then goes back to the first sustained departure from rest that leads into it: over
        stretches where the 20 ms onset window is above mean + ``h_first``·SD of its rest, separated by
        quiet gaps shorter than this (ms); 0: off.
    h_first : float
        The threshold of that step in rest SDs.
    first_shift : float
        That onset moves this fraction of the 20 ms window later (a forward window turns active before the
        potential it reaches).
    ramp_fit : bool
        Replace each onset by :func:`ramp_onsets`'s posterior mean around it.
    max_backtrack_ms : float
        How far (ms) the onset (offset) search may go back (on) from the rise (fall).
    min_gap_ms : float
        Activations separated by less than this (ms) merge.
    min_burst_ms : float
        Activations shorter than this (ms) are dropped, before and after refinement.
    h_hold : float
        > 0: two neighbouring activations merge when P_d between them stays above mean + ``h_hold``·SD of its
        rest throughout (a dip inside one contraction, not a return to rest); 0: off.
    hold_gap_ms : float
        Only gaps up to this long (ms) are merged that way.
    local_onset : LocalOnsetOptions or None
        The last step: each onset moved to the sustained departure from the baseline just before its burst
        (:func:`~reengage.dsp.local_onset.local_onsets`); None: off.
    busy_rest_ratio : float
        Without marked rest, a channel whose quietest second has a mean P_d over this multiple of the record's
        10th percentile of P_d has no quiet second (bursts recur faster, as in walking): its detection level is the
        geometric mean of that second's and of the quietest ``busy_rest_chunk_ms`` pieces' (as many as make one
        second); 0: off.
    busy_rest_chunk_ms : float
        The pieces' length (ms).

    The defaults (50 Hz, 45 ms, h = 2.5 / 5.5, 15 % of the plateau) were chosen on tuning seeds
    separate from the validation seeds, over a grid of cutoffs 30–80 Hz, windows 25–60 ms, h 1–5
    and plateau fractions 0–0.3, for the lowest median and p90 onset error across 20, 12 and 6 dB.
    ``extrapolate`` is off: on the validation suite it traded bias for spread without a net gain.
    ``first_gap_ms`` = 40 with ``h_first`` = 4 (issue 14): on real muscle the first motor-unit potentials come
    as sparse spikes up to 100–170 ms before the amplitude climbs (UCI standing knee flexion, e.g. N03 biceps
    femoris), and the plateau-scaled quiet level stopped at the climb; on the synthetic suite (smooth ramps,
    no sparse first units) it changes no onset at 6 seeds per cell (h 3.5 made 12 dB cells 0.5–1 ms worse).
    ``min_burst_ms`` = 150 (was 250, issue 14): gait bursts last 150–250 ms (UCI gait: 44 % of the examiner's clear
    onsets found with 250, 89 % with 150 on the tune split); it applies to the coarse activation and again to the
    refined burst, so a pair of cable tugs that the 100 ms envelope joins into one activation stays dropped.
    ``h_hold`` = 2 within 400 ms (issue 14): on real standing knee flexion slow or tonic contractions dipped under
    the detection threshold for over 150 ms and became 2–3 bursts and reps (UCI: 81 reps for 60 flexions; 75 with
    the hold; tune-split extra onsets 14.9 → 10.6 %); the dips' 100 ms power stays 2–5 rest SDs above the rest mean,
    a pause between reps falls to it. 1 and 2 scored the same; on the synthetic suite it merges only fragments of
    the 6 dB MVC trials and changes no onset.
    ``local_onset`` (issue 14, fifth round): the rest learnt once per record is not the baseline an examiner
    judges an onset against; where tonic firing or lead-in potentials that fall quiet again come before a burst,
    the onset was dated to them (real standing knee flexion: 150–800 ms early). On the held-back subjects of the
    visual reference: 78 → 87 % of clear onsets found, 20 → 11 % extra; the synthetic validation table moves by 1 ms of bias in one cell.
    The same step drops a short burst that leads into a larger one (:func:`~reengage.dsp.local_onset.lead_ins`,
    sixth round): extra onsets on the tune subjects' unmarked thigh channels 21.3 → 15.7 %, on the held-back
    subjects 11 → 9 %, no tune onset lost, the synthetic table unchanged.
    ``busy_rest_ratio`` = 3 with 250 ms pieces (issue 14, sixth round): in walking every second of a UCI gait
    file holds a burst; the quietest second's P_d is up to 139 × the record's 10th percentile (over 3 on 17 of
    44 channels; standing and seated files 0.2–2.1, one channel 7.9), and the detection level stood near the
    90th percentile of P_d (A07 semitendinosus: 5 onsets for about 25 clear bursts). The pieces' level alone
    merged close bursts (tune: 2 clear onsets lost); the geometric mean loses none: tune subjects' unmarked
    channels (marker 8) 86.5 → 91.0 % found, extra unchanged; marker 1 on tune 87.2 % found, 8.5 → 9.6 % extra.
    Recordings with marked rest (every guided session) are not affected.
    ``ramp_fit`` is off: on tuning seeds 100–111 it changed the median latency error by −2…+5 ms per
    cell, within the seed-to-seed noise, for about 50 µs per burst.
    """

    detect_window_ms: float = 100.0
    h_detect: float = 8.0
    onset_window_ms: float = 45.0
    h_mid: float = 5.5
    h_onset: float = 2.5
    onset_cutoff_hz: float | None = 50.0
    plateau_fraction: float = 0.15
    window_slope_ms_per_db: float = 2.0
    extrapolate: float = 0.0
    first_gap_ms: float = 40.0
    h_first: float = 4.0
    first_shift: float = 0.5
    ramp_fit: bool = False
    max_backtrack_ms: float = 400.0
    min_gap_ms: float = 150.0
    min_burst_ms: float = 150.0
    h_hold: float = 2.0
    hold_gap_ms: float = 400.0
    local_onset: LocalOnsetOptions | None = LocalOnsetOptions()
    busy_rest_ratio: float = 3.0
    busy_rest_chunk_ms: float = 250.0


@dataclass(frozen=True)
class EnvelopeBurstOptions:
    """Settings of :func:`envelope_bursts` (a hardware amplitude envelope, not raw EMG).

    Attributes
    ----------
    h_detect : float
        Detection threshold in baseline SDs above the baseline mean of the smoothed envelope.
    h_onset : float
        Onsets (offsets) go back (on) to the last sample at or below mean + ``h_onset``·SD.
    smooth_ms : float
        Centered moving-mean smoothing of the envelope (ms).
    max_backtrack_ms : float
        How far (ms) the onset (offset) may move from the detection.
    min_gap_ms : float
        Activations separated by less than this (ms) merge.
    min_burst_ms : float
        Activations shorter than this (ms) are dropped.
    """

    h_detect: float = 8.0
    h_onset: float = 2.0
    smooth_ms: float = 50.0
    max_backtrack_ms: float = 400.0
    min_gap_ms: float = 150.0
    min_burst_ms: float = 250.0


@dataclass(frozen=True)
class RampFitOptions:
    """The model and search grid of :func:`ramp_onsets`.

    Attributes
    ----------
    before_ms, after_ms : float
        t0 has a flat prior over [guess − ``before_ms``, guess + ``after_ms``] (ms).
    rise_min_ms, rise_max_ms, rise_step_ms : float
        The rise time T has a flat prior over ``rise_min_ms``…``rise_max_ms`` in ``rise_step_ms`` steps (ms).
    bin_ms : float
        x² is averaged over bins of this length (ms, a whole number of samples).
    temperature : float
        Factor on the log-likelihood (1 = independent samples; < 1 because the sEMG carrier's samples are
        correlated: fewer independent values than samples).

    ``temperature`` = 0.5 was chosen between 0.5 and 1 on tuning seeds 100–105 (0.5: 1–2 ms lower median
    latency error at 12 and 6 dB).
    """

    before_ms: float = 60.0
    after_ms: float = 40.0
    rise_min_ms: float = 20.0
    rise_max_ms: float = 160.0
    rise_step_ms: float = 10.0
    bin_ms: float = 2.0
    temperature: float = 0.5


def _options(options, cls):
    """``options`` or the defaults of ``cls``; anything else is a clear error."""
    if options is None:
        return cls()
    if not isinstance(options, cls):
        raise ValueError(f"options must be a {cls.__name__}, got {type(options).__name__}")
    return options


# ------------------------------------------------------------------------------------------ input checks

def _mask_1d(mask, n: int, name: str) -> np.ndarray | None:
    m = check_mask(mask, n, name)
    if m is not None and m.ndim != 1:
        raise ValueError(f"{name} must be a 1-D boolean mask over the {n} samples, got shape {m.shape}")
    return m


def _checked(x, fs, rest, exclude, check_finite: bool, name: str = "x"):
    """(x as float (channels, samples), fs in Hz, rest, exclude), or a clear ValueError."""
    x = as_float(check_signal(x, name, check_finite=check_finite))
    x = x[None, :] if x.ndim == 1 else x
    n = x.shape[-1]
    return x, check_fs(fs), _mask_1d(rest, n, "rest"), _mask_1d(exclude, n, "exclude")


# ------------------------------------------------------------------------------------ thresholds, finish

_SCALE_STEP = 16


def _scale(env: np.ndarray) -> np.ndarray:
    """Typical magnitude of each channel of ``env`` (mean |value| of every 16th sample): only the size of
    the tiny SD floor in :func:`_threshold` depends on it, so a subsample is as good and 16× cheaper."""
    env = np.atleast_2d(env)
    return np.mean(np.abs(env[..., ::_SCALE_STEP]), axis=-1) if env.shape[-1] else np.zeros(env.shape[:-1])


def _threshold(base: Baseline, h: float, env: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
    """mean + h·SD with a floor on SD (5 % of the mean): a quantised or perfectly quiet rest has SD 0,
    and a zero-width threshold would call every sample active."""
    scale = _scale(env) if scale is None else scale
    sd = np.maximum(base.sd, 0.05 * np.abs(base.mean))
    sd = np.maximum(sd, 1e-9 * scale + 1e-300)
    return base.mean + h * sd


def _floor_scale(base: Baseline, bound: np.ndarray, exact) -> np.ndarray:
    """``scale`` for :func:`_threshold` given an upper ``bound`` of it per channel: the scale only sets the
    tiny SD floor 1e-9·scale, so where even the bound leaves that floor below the SD it floors (all real
    recordings), the bound gives the same threshold as the exact scale and ``exact()`` (a subsample of
    the whole record) is not computed."""
    sd = np.maximum(base.sd, 0.05 * np.abs(base.mean))
    bound = np.asarray(bound, dtype=np.float64)
    return bound if np.all(1e-9 * bound + 1e-300 <= sd) else exact()


def _running_mean_bound(c: np.ndarray, w: int, at, sub: np.ndarray, *, centered: bool) -> np.ndarray:
    """Per channel, an upper bound of the mean of the ``w``-sample running mean (centered, or starting at
    each sample) over the subsample ``sub``, from its :func:`cumsum0` ``c`` of a non-negative signal.

    A full window's mean is ``fl(fl(c[i + w] − c[i]) / w)`` ≤ ``fl(c[n] / w)``: c rises from 0 to c[n] and
    rounding is monotonic. Windows that shrink at the record's ends (one-sided there) are evaluated with
    ``at(ch, idx)``. The factor 1 + 1e-6 covers the rounding of the mean over the subsample."""
    n = c.shape[-1] - 1
    half = w // 2 if centered else 0
    ends = sub[(sub < half) | (sub > n - w + half)]
    out = np.empty(c.shape[0])
    for ch in range(c.shape[0]):
        out[ch] = np.max(np.r_[c[ch][n] / w, at(ch, ends)])  # NaN stays NaN: then the exact scale
    return out * (1.0 + 1e-6)


def _baseline(env: np.ndarray, fs: float, rest, exclude) -> Baseline:
    mask = baseline_mask(env.shape[-1], fs=fs, rest_mask=rest, env=env, exclude=exclude, check_finite=False)
    return baseline_stats(env, mask, check_finite=False)


def _finish(active: np.ndarray, fs: float, min_gap_ms: float, min_burst_ms: float, exclude=None,
            min_run_ms: float = 0.0) -> list[Bursts]:
    out = []
    shortest = window_samples(min_burst_ms, fs)
    ex = None if exclude is None else np.asarray(exclude, dtype=bool)
    has_ex = ex is not None and ex.any()
    for row in active:
        if has_ex:
            # A data gap is unknown signal: it may bridge activity on both sides (one burst), but
            # a burst never starts or ends inside it, and gap samples alone are never a burst.
            row = row | ex
        b = _finish_runs(*runs(row), fs, min_gap_ms, min_burst_ms, min_run_ms)
        a, z = b.onsets, b.offsets
        if has_ex and a.size:
            a2 = first_true_after(~ex)[a]
            b2 = last_true_before(~ex)[z]
            keep = (a2 <= b2) & ((b2 - a2 + 1) >= shortest)
            a, z = a2[keep], b2[keep]
        out.append(Bursts(a.astype(np.int64), z.astype(np.int64)))
    return out


def _finish_runs(starts: np.ndarray, stops: np.ndarray, fs: float, min_gap_ms: float, min_burst_ms: float,
                 min_run_ms: float = 0.0) -> Bursts:
    """Bursts of one channel from its runs of activity (start, exclusive stop): runs shorter than
    ``min_run_ms`` go first, so two cable tugs a few hundred ms apart never merge into one burst long
    enough to pass for a rep; then quiet stretches of ≤ ``min_gap_ms`` between runs are bridged and
    bursts shorter than ``min_burst_ms`` dropped. The mask operations ``drop_short_runs`` /
    ``fill_short_gaps`` on a few arrays of run boundaries instead of the record."""
    gap = window_samples(min_gap_ms, fs, minimum=0)
    shortest = window_samples(min_burst_ms, fs)
    first = window_samples(min_run_ms, fs, minimum=0)
    for min_len, merge in ((first, False), (gap, True), (shortest, False)):
        if merge and min_len > 0 and starts.size > 1:
            # fill_short_gaps: a quiet stretch of ≤ gap samples between two runs joins them.
            apart = (starts[1:] - stops[:-1]) > min_len
            starts, stops = starts[np.r_[True, apart]], stops[np.r_[apart, True]]
        elif not merge and min_len > 1:
            keep = (stops - starts) >= min_len  # drop_short_runs
            starts, stops = starts[keep], stops[keep]
    return Bursts(starts.astype(np.int64), (stops - 1).astype(np.int64))


# Baseline statistics come from at most this many evenly spaced baseline samples. A guided session's
# rests add up to minutes (reengage.session_plan: 10 s after every MVC trial), and medians over all of
# them, once per window length of the adaptive onset search, cost more than the rest of the detection;
# neighbouring values of a 20–100 ms window mean are nearly equal, so a stride loses no precision.
MAX_BASELINE_SAMPLES = 1 << 16


def _rest_indices(n: int, n_ch: int, fs: float, rest, exclude, env) -> tuple[list[np.ndarray], bool]:
    """Each channel's baseline sample indices, as ``baseline_mask`` chooses them (evenly thinned to at
    most :data:`MAX_BASELINE_SAMPLES`), and whether they are marked rest; ``env()`` gives the envelope
    (channels, n) and is called only when marked rest does not suffice (the quietest window)."""
    def thin(idx: np.ndarray) -> np.ndarray:
        return idx[::-(-idx.size // MAX_BASELINE_SAMPLES)] if idx.size > MAX_BASELINE_SAMPLES else idx

    if rest is not None:
        try:
            marked = baseline_mask(n, fs=fs, rest_mask=rest, exclude=exclude)[0]
        except ValueError:  # too little marked rest: baseline_mask falls back to the envelope
            marked = None
        if marked is not None:
            idx = thin(np.flatnonzero(marked))  # one scan of the record for all channels
            return [idx] * n_ch, True
    mask = baseline_mask(n, fs=fs, rest_mask=rest, env=env(), exclude=exclude, check_finite=False)
    return [thin(np.flatnonzero(m)) for m in mask], False


def _quietest_pieces(pd: np.ndarray, fs: float, piece_ms: float, exclude) -> list[np.ndarray] | None:
    """Each channel's quietest ``piece_ms`` pieces of P_d (lowest mean, none holding a data gap), as many as make
    one second: their sample indices, or None when the record holds fewer whole pieces."""
    w = window_samples(piece_ms, fs)
    k = pd.shape[-1] // w
    need = int(np.ceil(fs / w))
    means = pd[:, :k * w].reshape(pd.shape[0], k, w).mean(axis=-1)
    if exclude is not None and np.any(exclude):
        means[:, np.asarray(exclude[:k * w], dtype=bool).reshape(k, w).any(axis=-1)] = np.inf
    if k < need or not np.isfinite(np.sort(means, axis=-1)[:, need - 1]).all():
        return None
    first = np.sort(np.argsort(means, axis=-1, kind="stable")[:, :need], axis=-1) * w
    return [(f[:, None] + np.arange(w)).ravel() for f in first]


def _busy_rest_level(pd_whole, env: _RecordEnvelopes, fs: float, o: PowerBacktrackOptions, bd: Baseline,
                     level: np.ndarray, exclude) -> np.ndarray:
    """The detection level of channels whose quietest second is not rest (``busy_rest_ratio``): the geometric
    mean of that second's level and the quietest pieces' (only ever lower). ``pd_whole()``: the record's P_d."""
    pd = np.atleast_2d(pd_whole())
    stride = -(-pd.shape[-1] // MAX_BASELINE_SAMPLES)
    floor = np.percentile(pd[:, ::stride], 10, axis=-1)
    busy = np.flatnonzero(bd.mean > o.busy_rest_ratio * floor)
    if busy.size == 0:
        return level
    pieces = _quietest_pieces(pd[busy], fs, o.busy_rest_chunk_ms, exclude)
    if pieces is None:
        return level
    quiet = _robust_baseline([env.pd_at(c, idx) for c, idx in zip(busy.tolist(), pieces)])
    mean, sd = bd.mean.copy(), bd.sd.copy()
    mean[busy], sd[busy] = quiet.mean, quiet.sd
    out = level.copy()
    out[busy] = np.minimum(np.sqrt(env.detect_level(Baseline(mean, sd), o.h_detect)[busy] * level[busy]), level[busy])
    return out


def _empty(n_ch: int) -> list[Bursts]:
    return [EMPTY for _ in range(n_ch)]


# ----------------------------------------------------------------------------------- classic detectors

def hodges_bui(x, *, fs: float, rest=None, exclude=None, options: HodgesBuiOptions | None = None,
               check_finite: bool = True) -> list[Bursts]:
    """Hodges & Bui (1996): linear envelope averaged over ``window_ms`` > baseline mean + h·SD.

    Parameters
    ----------
    x : array, (channels, samples) or (samples,)
        Cleaned EMG (band-passed, mains removed), any unit.
    fs : float
        Sampling rate in Hz.
    rest : bool array, (samples,), optional
        Marked rest; None (or under 0.5 s of it): each channel's quietest 1 s.
    exclude : bool array, (samples,), optional
        Data gaps: never rest, never a burst's first or last sample.
    options : HodgesBuiOptions, optional
        The settings (None: the defaults).
    check_finite : bool
        Check that ``x`` holds no NaN or inf (a caller that has checked passes False).

    Returns
    -------
    list of Bursts
        One per channel, onsets and offsets in samples.
    """
    x, fs, rest, exclude = _checked(x, fs, rest, exclude, check_finite)
    o = _options(options, HodgesBuiOptions)
    if x.shape[-1] == 0:
        return _empty(x.shape[0])
    env = linear_envelope(x, fs=fs, cutoff_hz=o.cutoff_hz, check_finite=False)
    w = window_samples(o.window_ms, fs)
    # Mean over the window that starts at each sample: onset = the first sample of a window above threshold.
    # (A rolled causal mean would wrap the record's first samples onto its last w − 1.)
    avg = forward_mean_from_cumsum(cumsum0(env), w)
    base = _baseline(avg, fs, rest, exclude)
    active = avg > _threshold(base, o.h, avg)[:, None]
    return _finish(active, fs, o.min_gap_ms, o.min_burst_ms, exclude)


def bonato(x, *, fs: float, rest=None, exclude=None, options: BonatoOptions | None = None,
           check_finite: bool = True) -> list[Bursts]:
    """Bonato et al. (1998) double threshold: ζ = ``h`` on g = (x[k−1]² + x[k]²)/σ₀² (pairs of samples);
    active where at least ``r0`` of ``m`` successive g exceed ζ, kept if it lasts ``min_duration_ms``.

    Parameters
    ----------
    x : array, (channels, samples) or (samples,)
        Cleaned EMG (band-passed, mains removed), any unit.
    fs : float
        Sampling rate in Hz.
    rest : bool array, (samples,), optional
        Marked rest; None (or under 0.5 s of it): each channel's quietest 1 s (of g).
    exclude : bool array, (samples,), optional
        Data gaps: never rest, never a burst's first or last sample.
    options : BonatoOptions, optional
        The settings (None: the defaults).
    check_finite : bool
        Check that ``x`` holds no NaN or inf (a caller that has checked passes False).

    Returns
    -------
    list of Bursts
        One per channel, onsets and offsets in samples.
    """
    x, fs, rest, exclude = _checked(x, fs, rest, exclude, check_finite)
    o = _options(options, BonatoOptions)
    n = x.shape[-1]
    npair = n // 2
    if npair < o.m:
        return _empty(x.shape[0])
    sq = x[:, : 2 * npair] ** 2
    g = sq[:, 0::2] + sq[:, 1::2]
    rest_pairs = None if rest is None else rest[: 2 * npair : 2]
    excl_pairs = None if exclude is None else exclude[: 2 * npair : 2]
    # σ₀² from the raw squared baseline; a pair of N(0, σ₀²) samples sums to σ₀²·χ²(2).
    bmask = baseline_mask(npair, fs=fs / 2, rest_mask=rest_pairs, env=g, exclude=excl_pairs, check_finite=False)
    var0 = np.array([np.mean(gr[mk]) / 2 if mk.any() else 0.0 for gr, mk in zip(g, bmask)])
    scale = np.maximum(var0, 1e-12 * np.median(g, axis=-1) + 1e-300)
    over = (g / scale[:, None]) > o.h
    c_over = cumsum0(over.astype(np.float64))
    count = c_over[:, np.minimum(np.arange(npair) + o.m, npair)] - c_over[:, :npair]  # over-threshold g in the next m
    act_pairs = count >= o.r0 - 1e-9
    hold = window_samples(o.min_duration_ms, fs / 2)
    act_pairs = np.vstack([drop_short_runs(r, hold) for r in act_pairs])
    active = np.zeros((x.shape[0], n), dtype=bool)
    active[:, : 2 * npair] = np.repeat(act_pairs, 2, axis=-1)
    return _finish(active, fs, o.min_gap_ms, o.min_burst_ms, exclude)


def solnik(x, *, fs: float, rest=None, exclude=None, options: SolnikOptions | None = None,
           check_finite: bool = True) -> list[Bursts]:
    """Solnik et al. (2010): TKEO → full-wave rectification → ``cutoff_hz`` low-pass → mean + h·SD held
    for ``min_duration_ms``.

    Parameters
    ----------
    x : array, (channels, samples) or (samples,)
        Cleaned EMG (band-passed, mains removed), any unit.
    fs : float
        Sampling rate in Hz.
    rest : bool array, (samples,), optional
        Marked rest; None (or under 0.5 s of it): each channel's quietest 1 s.
    exclude : bool array, (samples,), optional
        Data gaps: never rest, never a burst's first or last sample.
    options : SolnikOptions, optional
        The settings (None: the defaults).
    check_finite : bool
        Check that ``x`` holds no NaN or inf (a caller that has checked passes False).

    Returns
    -------
    list of Bursts
        One per channel, onsets and offsets in samples.
    """
    x, fs, rest, exclude = _checked(x, fs, rest, exclude, check_finite)
    o = _options(options, SolnikOptions)
    if x.shape[-1] == 0:
        return _empty(x.shape[0])
    env = linear_envelope(tkeo(x, check_finite=False), fs=fs, cutoff_hz=o.cutoff_hz, check_finite=False)
    base = _baseline(env, fs, rest, exclude)
    active = env > _threshold(base, o.h, env)[:, None]
    active = np.vstack([drop_short_runs(r, window_samples(o.min_duration_ms, fs)) for r in active])
    return _finish(active, fs, o.min_gap_ms, o.min_burst_ms, exclude)


# ------------------------------------------------------------------------------------ power_backtrack

# The SNR-adaptive onset window is clipped to this range (ms): see _AdaptiveOnset.
_ADAPTIVE_MIN_MS, _ADAPTIVE_MAX_MS = 20.0, 60.0

# The settings a DetectionBaseline's statistics and thresholds depend on: power_backtrack uses a baseline
# only with these equal to its own.
_BASELINE_FIELDS = ("detect_window_ms", "h_detect", "onset_window_ms", "h_mid", "h_onset", "onset_cutoff_hz")


class _RestWindows:
    """One channel's rest as the SNR-adaptive onset search reads it: the running sum ``c`` of the onset
    envelope at every (thinned) rest sample and at the ``w_max`` samples after it, so the forward mean over
    any window of up to ``w_max`` samples at every rest sample, and its robust statistics, can be formed.

    ``base``: each rest sample's position in ``c``; ``room``: how many samples after it ``c`` holds (fewer
    than ``w_max`` only at the end of the record, where the forward window shrinks as in
    :func:`~reengage.dsp._util.forward_mean_at`). The statistics are memoized per window length: a live
    chain that reuses one baseline over many windows computes each median once."""

    __slots__ = ("c", "base", "room", "w_max", "_stats", "_c0", "_min_room")

    def __init__(self, c: np.ndarray, base: np.ndarray, room: np.ndarray, w_max: int):
        self.c, self.base, self.room, self.w_max = c, base, room, int(w_max)
        self._stats: dict[int, tuple[float, float]] = {}
        self._c0 = None  # c at the rest samples, read once for every window length
        self._min_room = int(room.min()) if room.size else 0

    @classmethod
    def of_record(cls, c: np.ndarray, idx: np.ndarray, w_max: int) -> _RestWindows:
        """From a record's whole running sum ``c`` (length n + 1) and its rest sample indices ``idx``."""
        return cls(c, idx, np.minimum(c.size - 1 - idx, w_max), w_max)

    def compact(self) -> _RestWindows:
        """The same windows from a copy of only the running-sum values they read (a baseline outlives the
        record it was learned on)."""
        keep = np.flatnonzero(spans_mask(self.c.size, self.base, self.base + self.room + 1))
        # Every position from a rest sample to its last window end is kept, so they stay consecutive.
        return _RestWindows(self.c[keep], np.searchsorted(keep, self.base), self.room, self.w_max)

    def stats(self, w: int) -> tuple[float, float]:
        """(median, 1.4826·MAD floored at 5 % of the median) of the ``w``-sample forward mean over the rest."""
        w = int(w)
        if w > self.w_max:
            raise ValueError(f"onset window of {w} samples is longer than the baseline's {self.w_max}")
        got = self._stats.get(w)
        if got is None:
            if self._c0 is None:
                self._c0 = self.c[self.base]
            if w <= self._min_room:  # every window whole (all but the record's last samples)
                vals = (self.c[self.base + w] - self._c0) / w
            else:
                k = np.minimum(w, self.room)
                vals = (self.c[self.base + k] - self._c0) / np.maximum(k, 1)
            got = self._stats[w] = _window_stats(vals)
        return got


def _window_stats(vals: np.ndarray) -> tuple[float, float]:
    """(median, 1.4826·MAD floored at 5 % of the median and above 0) of the rest values of one window."""
    mu = sd = 0.0
    if vals.size:
        med = np.median(vals)
        mu, sd = float(med), float(1.4826 * np.median(np.abs(vals - med)))
    return mu, max(sd, 0.05 * abs(mu), 1e-300)


@dataclass(frozen=True, eq=False)
class DetectionBaseline:
    """What :func:`power_backtrack` learns from the rest, per channel; from :func:`power_backtrack_baseline`.

    Attributes
    ----------
    fs : float
        Sampling rate in Hz of the record it was learned on.
    options : PowerBacktrackOptions
        The settings it was learned with (its thresholds use ``h_detect``, ``h_mid``, ``h_onset``).
    detect_mean, detect_sd : float arrays, (channels,)
        Robust mean and SD of the detection envelope P_d at rest (unit of x²).
    detect_level : float array, (channels,)
        Detection threshold on P_d (unit of x²).
    onset_mean, onset_sd : float arrays, (channels,)
        Robust mean and SD of the onset envelope P_o at rest (unit of x; of x² with ``onset_cutoff_hz=None``).
    onset_mid, onset_low : float arrays, (channels,)
        P_o thresholds of a burst's rise and of its quiet samples (fixed-window search and offsets).
    rest_windows : tuple, one per channel, or None
        The onset envelope's running sum around the rest samples, from which the SNR-adaptive search reads
        the statistics of any window it may choose (20–60 ms), each computed once and kept (None with
        ``onset_cutoff_hz=None``: no adaptive window).

    The SD floor of the thresholds scales with the typical size of the whole record it was learned on (a
    safeguard for a perfectly quiet, quantised rest; it does not move them on real recordings).
    """

    fs: float
    options: PowerBacktrackOptions
    detect_mean: np.ndarray
    detect_sd: np.ndarray
    detect_level: np.ndarray
    onset_mean: np.ndarray
    onset_sd: np.ndarray
    onset_mid: np.ndarray
    onset_low: np.ndarray
    rest_windows: tuple | None

    @property
    def n_channels(self) -> int:
        """Number of channels."""
        return int(self.detect_level.size)

    def channels(self, sel) -> DetectionBaseline:
        """The baseline of the channels ``sel`` (an index, slice or index array); the memoized window
        statistics are shared.

        Parameters
        ----------
        sel : int, slice or int array
            Channels to keep.

        Returns
        -------
        DetectionBaseline
        """
        idx = np.atleast_1d(np.arange(self.n_channels)[sel])
        arrays = {f.name: getattr(self, f.name)[idx] for f in fields(self)
                  if isinstance(getattr(self, f.name), np.ndarray)}
        win = None if self.rest_windows is None else tuple(self.rest_windows[i] for i in idx.tolist())
        return replace(self, rest_windows=win, **arrays)

    def window_stats(self, channel: int, window: int) -> tuple[float, float]:
        """Robust (mean, SD) at rest of the onset envelope averaged over ``window`` samples (forward).

        Parameters
        ----------
        channel : int
            Channel index.
        window : int
            Window length in samples.

        Returns
        -------
        (float, float)
            Median and 1.4826·MAD (floored at 5 % of the median), unit of the onset envelope.
        """
        if self.rest_windows is None:
            raise ValueError("this baseline has no adaptive onset windows (onset_cutoff_hz=None)")
        return self.rest_windows[channel].stats(window)


def _stack_baselines(parts: list[DetectionBaseline]) -> DetectionBaseline:
    first = parts[0]
    arrays = {f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(first)
              if isinstance(getattr(first, f.name), np.ndarray)}
    win = None if first.rest_windows is None else tuple(w for p in parts for w in p.rest_windows)
    return replace(first, rest_windows=win, **arrays)


class _RecordEnvelopes:
    """The running sums through which :func:`power_backtrack` reads one record: the detection envelope P_d
    (centered mean of x² over ``detect_window_ms``, or the caller's ``power_mean``) and the onset envelope
    P_o, evaluated only where needed (rest, around bursts, a subsample), never as whole-record arrays."""

    def __init__(self, x: np.ndarray, fs: float, o: PowerBacktrackOptions, power_mean=None, sums=None):
        self.x = x
        self.n_ch, self.n = x.shape
        self.w_d = window_samples(o.detect_window_ms, fs)
        self.w_o = window_samples(o.onset_window_ms, fs)
        self.pd = power_mean
        self.c_sq = self.c_le = None
        if power_mean is None and o.onset_cutoff_hz is not None:
            # Both running sums in one pass (see linear_envelope_cumsum).
            self.c_sq, self.c_le = linear_envelope_cumsum(x, fs=fs, cutoff_hz=o.onset_cutoff_hz, with_power=True,
                                                          out=sums, check_finite=False)
        elif power_mean is None:
            self.c_sq = power_cumsum(x)
        # Hodges & Bui's onset envelope: the linear envelope averaged over the window *starting* at each
        # sample, so a sample is called active when the next ``onset_window_ms`` are (its running sum also
        # serves the adaptive per-burst windows); with onset_cutoff_hz=None the centered mean of x².
        self.forward = o.onset_cutoff_hz is not None
        if self.forward:
            if self.c_le is None:
                self.c_le = linear_envelope_cumsum(x, fs=fs, cutoff_hz=o.onset_cutoff_hz, check_finite=False)
            self.c_po = self.c_le
        else:
            self.c_po = self.c_sq if self.c_sq is not None else power_cumsum(x)
        self.sub = np.arange(0, self.n, _SCALE_STEP)

    def pd_at(self, ch: int, idx: np.ndarray) -> np.ndarray:
        if self.pd is not None:
            return self.pd[ch][idx]
        return moving_mean_at(self.c_sq[ch], self.w_d, idx)

    def po_at(self, ch: int, idx: np.ndarray) -> np.ndarray:
        if self.forward:
            return forward_mean_at(self.c_le[ch], self.w_o, idx)
        return moving_mean_at(self.c_po[ch], self.w_o, idx)

    def pd_whole(self) -> np.ndarray:
        return self.pd if self.pd is not None else moving_mean_from_cumsum(self.c_sq, self.w_d)

    def active(self, ch: int, level: float) -> np.ndarray:
        """P_d > ``level``, compared a block at a time from the running sum."""
        if self.pd is not None:
            return self.pd[ch] > level
        return moving_mean_exceeds(self.c_sq[ch], self.w_d, level, nonnegative=True)

    def _pd_scale(self) -> np.ndarray:  # _scale(P_d)
        if not self.n:
            return np.zeros(self.n_ch)
        return np.mean(np.abs(np.stack([self.pd_at(c, self.sub) for c in range(self.n_ch)])), axis=-1)

    def _po_scale(self) -> np.ndarray:  # _scale(P_o), from the same subsample
        return np.array([np.mean(np.abs(self.po_at(c, self.sub))) if self.n else 0.0 for c in range(self.n_ch)])

    def detect_level(self, bd: Baseline, h: float) -> np.ndarray:
        """As ``_threshold(bd, h, P_d)``: the same values, the scale from a bound where it suffices."""
        if self.c_sq is None:
            return _threshold(bd, h, None, scale=self._pd_scale())
        bound = _running_mean_bound(self.c_sq, self.w_d, self.pd_at, self.sub, centered=True)
        return _threshold(bd, h, None, scale=_floor_scale(bd, bound, self._pd_scale))

    def onset_scale(self, bo: Baseline) -> np.ndarray:
        """The ``scale`` of ``_threshold(bo, h, P_o)``, from a bound where it suffices."""
        bound = _running_mean_bound(self.c_po, self.w_o, self.po_at, self.sub, centered=not self.forward)
        return _floor_scale(bo, bound, self._po_scale)


def _robust_baseline(values: list[np.ndarray]) -> Baseline:
    stats = [robust_stats(v) for v in values]
    return Baseline(np.array([mu for mu, _ in stats]), np.array([sd for _, sd in stats]))


def _longest_onset_window(o: PowerBacktrackOptions, fs: float) -> int:
    """The longest onset window (samples) the search may use: the set one or the adaptive clip."""
    return max(window_samples(o.onset_window_ms, fs), int(max(1, np.round(_ADAPTIVE_MAX_MS * 1e-3 * float(fs)))))


def _learn_baseline(env: _RecordEnvelopes, fs: float, o: PowerBacktrackOptions, rest, exclude) -> DetectionBaseline:
    """Step 1 of :func:`power_backtrack`: the rest statistics and thresholds of one record."""
    # The record's P_d is built at most once here (without marked rest both the quietest second and the busy-rest
    # check read it) and let go on return.
    pd_whole = functools.cache(env.pd_whole)
    rest_idx, marked = _rest_indices(env.n, env.n_ch, fs, rest, exclude, pd_whole)
    # As baseline_stats(P, mask) and _threshold(…, P): the same values in the same order.
    bd = _robust_baseline([env.pd_at(c, rest_idx[c]) for c in range(env.n_ch)])
    level = env.detect_level(bd, o.h_detect)
    if not marked and o.busy_rest_ratio > 0:
        level = _busy_rest_level(pd_whole, env, fs, o, bd, level, exclude)
    bo = _robust_baseline([env.po_at(c, rest_idx[c]) for c in range(env.n_ch)])
    po_scale = env.onset_scale(bo)
    windows = None
    if env.forward:
        w_max = _longest_onset_window(o, fs)
        windows = tuple(_RestWindows.of_record(env.c_le[c], rest_idx[c], w_max) for c in range(env.n_ch))
    return DetectionBaseline(fs=fs, options=o, detect_mean=bd.mean, detect_sd=bd.sd,
                             detect_level=level, onset_mean=bo.mean, onset_sd=bo.sd,
                             onset_mid=_threshold(bo, o.h_mid, None, scale=po_scale),
                             onset_low=_threshold(bo, o.h_onset, None, scale=po_scale), rest_windows=windows)


def _coarse_bursts(env: _RecordEnvelopes, base: DetectionBaseline, o: PowerBacktrackOptions, fs: float,
                   exclude) -> list[Bursts]:
    """Step 2: P_d above its threshold, short gaps bridged, short activations (cable tugs) dropped."""
    # 150 ms: longer than a 30–50 ms artefact smeared by the 100 ms detection window.
    min_run_ms = o.detect_window_ms + 50.0
    level = base.detect_level
    if exclude is not None and np.any(exclude):
        active = np.stack([env.active(c, level[c]) for c in range(env.n_ch)])
        return _finish(active, fs, o.min_gap_ms, o.min_burst_ms, exclude, min_run_ms=min_run_ms)
    return [_finish_runs(*runs(env.active(c, level[c])), fs, o.min_gap_ms, o.min_burst_ms, min_run_ms=min_run_ms)
            for c in range(env.n_ch)]


def _hold(env: _RecordEnvelopes, base: DetectionBaseline, o: PowerBacktrackOptions, fs: float, c: int,
          b: Bursts) -> Bursts:
    """Last step (``h_hold``): refined bursts of channel ``c`` merge when P_d never falls back near rest between them
    (a hysteresis on the offset), so a slow or tonic contraction that dips under the detection threshold is one
    burst, not several. Each fragment was refined alone first: the merged burst keeps the first one's onset, as
    if the dip had not happened (merging before refinement would move that onset with the whole burst's level)."""
    if len(b) < 2:
        return b
    gap_lo, gap_hi = b.offsets[:-1] + 1, b.onsets[1:]
    lens = gap_hi - gap_lo
    held = lens <= 0
    cand = np.flatnonzero((lens > 0) & (lens <= window_samples(o.hold_gap_ms, fs)))
    if cand.size:
        lens = lens[cand]
        first = np.r_[0, np.cumsum(lens)[:-1]]
        idx = np.repeat(gap_lo[cand] - first, lens) + np.arange(lens.sum())
        low = np.minimum.reduceat(env.pd_at(c, idx), first)
        held[cand] = low > base.detect_mean[c] + o.h_hold * base.detect_sd[c]
    if not held.any():
        return b
    return Bursts(b.onsets[np.r_[True, ~held]], b.offsets[np.r_[~held, True]])

def _fixed_window_onsets(env: _RecordEnvelopes, base: DetectionBaseline, c: int, b: Bursts,
                         back: int) -> tuple[np.ndarray, np.ndarray]:
    """Step 3 with a fixed onset window: (quiet, rise) of every burst of channel ``c``. The first clear
    rise within the coarse burst, then back (≤ ``back``) to the last quiet sample."""
    hi, lo = base.onset_mid[c], base.onset_low[c]
    rise = _search(lambda _, i: env.po_at(c, i) > hi, b.onsets, b.offsets, n=env.n)
    rise = np.where(rise >= 0, rise, b.onsets)
    lo_r = np.maximum(rise - back, 0)
    q = _search(lambda _, i: env.po_at(c, i) <= lo, lo_r, rise, n=env.n, forward=False)
    return np.where(q >= 0, q + 1, lo_r), rise


def _ramp_fitted_onsets(env: _RecordEnvelopes, base: DetectionBaseline, c: int, b: Bursts, on: np.ndarray,
                        fs: float, exclude) -> np.ndarray:
    """Step 3b (``ramp_fit``): each onset replaced by :func:`ramp_onsets`'s posterior mean around it."""
    # The fit window must not reach into the previous burst or a data gap.
    lo_v = np.r_[0, b.offsets[:-1] + 1]
    hi_v = np.r_[b.onsets[1:], env.n]
    if exclude is not None and np.any(exclude):
        lo_v = np.maximum(lo_v, last_true_before(exclude)[on] + 1)
        hi_v = np.minimum(hi_v, first_true_after(exclude)[on])
    plateau = _median_sub_many(lambda i: env.pd_at(c, i), b.onsets, b.offsets)
    fitted, ok = ramp_onsets(env.x[c], on, fs=fs, noise_power=np.full(on.size, base.detect_mean[c]),
                             plateau_power=plateau, valid_lo=lo_v, valid_hi=hi_v, check_finite=False)
    return np.where(ok, np.minimum(fitted, b.offsets), on)


def _offsets(env: _RecordEnvelopes, base: DetectionBaseline, c: int, b: Bursts, back: int) -> np.ndarray:
    """Step 4: the last clear activity at or before the coarse end, then on to the first quiet sample."""
    hi, lo = base.onset_mid[c], base.onset_low[c]
    n = env.n
    fall = _search(lambda _, i: env.po_at(c, i) > hi, b.onsets, b.offsets, n=n, forward=False)
    fall = np.where(fall >= 0, fall, b.offsets)
    hi_f = np.minimum(fall + back + 1, n - 1)
    after = _search(lambda _, i: env.po_at(c, i) <= lo, fall, hi_f, n=n)
    return np.clip(np.where(after >= 0, after - 1, hi_f), fall, np.minimum(fall + back, n - 1))


def _refine(env: _RecordEnvelopes, base: DetectionBaseline, o: PowerBacktrackOptions, fs: float, exclude,
            coarse: list[Bursts]) -> list[Bursts]:
    """Steps 3–4 for every channel; searches run only around each burst (never over the whole record)."""
    back = window_samples(o.max_backtrack_ms, fs)
    shortest = window_samples(o.min_burst_ms, fs)
    adaptive = None
    if o.onset_cutoff_hz is not None and (o.plateau_fraction > 0 or o.window_slope_ms_per_db):
        adaptive = _AdaptiveOnset(env, base, o, fs=fs, back=back)
    out = []
    for c, b in enumerate(coarse):
        if len(b) == 0:
            out.append(b)
            continue
        quiet, rise = adaptive(c, b) if adaptive is not None else _fixed_window_onsets(env, base, c, b, back)
        on = np.clip(quiet, np.maximum(rise - back, 0), rise)
        if o.ramp_fit:
            on = _ramp_fitted_onsets(env, base, c, b, on, fs, exclude)
        off = _offsets(env, base, c, b, back)
        # The coarse envelope (100 ms) smears a 30 ms cable tug over more than the shortest real burst (gait:
        # 150–250 ms); measured on the refined, short-window onset and offset it stays short.
        long_enough = off - on + 1 >= shortest
        if not long_enough.all():
            on, off = on[long_enough], off[long_enough]
            if on.size == 0:
                out.append(EMPTY)
                continue
        # Refinement can make neighbours touch; keep them ordered and disjoint.
        keep = np.ones(on.size, dtype=bool)
        keep[1:] = on[1:] > off[:-1]
        if not keep.all():
            on, off = _merge_overlaps(on, off)
        out.append(Bursts(on.astype(np.int64), off.astype(np.int64)))
    return out


def _split_channels(o: PowerBacktrackOptions, power_mean, n_ch: int) -> bool:
    """Whether power_backtrack runs one channel at a time (every step is per channel): then the running
    sums of all channels live in one reused array instead of a record-sized one per channel."""
    return power_mean is None and o.onset_cutoff_hz is not None and n_ch > 1


def _power_backtrack(x: np.ndarray, fs: float, rest, exclude, o: PowerBacktrackOptions, power_mean,
                     base: DetectionBaseline | None, sums=None, gaps=None) -> list[Bursts]:
    """:func:`power_backtrack` on checked input: statistics → coarse detection → onsets → offsets. ``gaps``: the
    runs of ``exclude`` when the caller has found them (one channel at a time shares them)."""
    if gaps is None and exclude is not None and np.any(exclude):
        gaps = runs(np.asarray(exclude, dtype=bool))
    if _split_channels(o, power_mean, x.shape[0]):
        sums = np.empty((1, x.shape[-1] + 1), dtype=np.complex128)
        return [b for c in range(x.shape[0])
                for b in _power_backtrack(x[c:c + 1], fs, rest, exclude, o, None,
                                          None if base is None else base.channels(c), sums, gaps)]
    env = _RecordEnvelopes(x, fs, o, power_mean=power_mean, sums=sums)
    if base is None:
        base = _learn_baseline(env, fs, o, rest, exclude)
    out = _refine(env, base, o, fs, exclude, _coarse_bursts(env, base, o, fs, exclude))
    if o.h_hold > 0:
        out = [_hold(env, base, o, fs, c, b) for c, b in enumerate(out)]
    if gaps is not None:
        out = [_out_of_gaps(b, *gaps) for b in out]
    if o.local_onset is not None:
        out = [_local(env.x[c], b, fs, o.local_onset, gaps) for c, b in enumerate(out)]
    return out


def _out_of_gaps(b: Bursts, starts: np.ndarray, stops: np.ndarray) -> Bursts:
    """The bursts with an onset inside a data gap moved to the gap's end and an offset inside one to its start
    (the backtrack reads the envelope, which a gap's fill does not stop); a burst left empty is dropped."""
    if len(b) == 0:
        return b

    def gap_of(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # (inside a gap, that gap's index)
        k = np.maximum(np.searchsorted(starts, idx, side="right") - 1, 0)
        return (starts[k] <= idx) & (idx < stops[k]), k

    inside, k = gap_of(b.onsets)
    on = np.where(inside, stops[k], b.onsets)
    inside, k = gap_of(b.offsets)
    off = np.where(inside, starts[k] - 1, b.offsets)
    keep = on <= off
    return Bursts(on[keep].astype(np.int64), off[keep].astype(np.int64))


def _local(x: np.ndarray, b: Bursts, fs: float, o: LocalOnsetOptions, gaps) -> Bursts:
    """Last step (``local_onset``): the onsets judged against the baseline just before each burst, which never
    reaches back over a data gap (``gaps``: the (starts, exclusive stops) of the gaps, or None), and the short
    bursts that lead into a larger one dropped (:func:`~reengage.dsp.local_onset.lead_ins`)."""
    if len(b) == 0:
        return b
    floor = None
    if gaps is not None:
        gap_ends = gaps[1]
        k = np.searchsorted(gap_ends, b.onsets, side="right") - 1
        floor = np.where(k >= 0, gap_ends[np.maximum(k, 0)], 0)
    on = local_onsets(x, b.onsets, b.offsets, fs=fs, options=o, floor=floor, check_finite=False)
    lead = lead_ins(x, on, b.offsets, fs=fs, options=o, check_finite=False)
    if gaps is not None and lead.any():
        # Unknown signal between the two is no quiet stretch to judge a lead-in by.
        k = np.searchsorted(gaps[0], b.offsets[:-1], side="right")
        lead[:-1] &= ~((k < gaps[0].size) & (gaps[0][np.minimum(k, gaps[0].size - 1)] < on[1:]))
    return Bursts(on[~lead], b.offsets[~lead])


def _checked_power_mean(power_mean, shape: tuple[int, ...]) -> np.ndarray | None:
    if power_mean is None:
        return None
    pm = np.atleast_2d(power_mean)
    if pm.shape != shape:
        raise ValueError(f"power_mean must be shaped like x {shape}, got {np.shape(power_mean)}")
    return pm


def _checked_baseline(baseline, fs: float, n_ch: int, options, rest) -> PowerBacktrackOptions:
    """The options to run with a given ``baseline`` (its own when ``options`` is None), or a clear error."""
    if not isinstance(baseline, DetectionBaseline):
        raise ValueError(f"baseline must be a DetectionBaseline, got {type(baseline).__name__}")
    if rest is not None:
        raise ValueError("pass rest or baseline, not both: the baseline already holds what the rest gives")
    if baseline.fs != fs:
        raise ValueError(f"baseline was learned at {baseline.fs} Hz, x is sampled at {fs} Hz")
    if baseline.n_channels != n_ch:
        raise ValueError(f"baseline has {baseline.n_channels} channels, x has {n_ch}")
    o = baseline.options if options is None else _options(options, PowerBacktrackOptions)
    differ = [f for f in _BASELINE_FIELDS if getattr(o, f) != getattr(baseline.options, f)]
    if differ:
        raise ValueError(f"options differ from the baseline's in {', '.join(differ)}: learn the baseline with them")
    return o


def power_backtrack(x, *, fs: float, rest=None, exclude=None, options: PowerBacktrackOptions | None = None,
                    power_mean=None, baseline: DetectionBaseline | None = None,
                    check_finite: bool = True) -> list[Bursts]:
    """Default detector: detect on a 100 ms power envelope, then backtrack on a 20–60 ms one.

    1. ``P_d`` = centered mean of x² over ``detect_window_ms``; active where ``P_d`` > mean + ``h_detect``·SD
       of its baseline; short gaps merged and short activations (cable tugs) dropped.
    2. For each burst, the onset envelope ``P_o`` is Hodges & Bui's: the linear envelope at
       ``onset_cutoff_hz`` averaged over the ``onset_window_ms`` window starting at each sample (with
       ``onset_cutoff_hz=None``: the centered mean of x² over ``onset_window_ms``). From the first sample
       where ``P_o`` clears mean + ``h_mid``·SD, go back to the last sample below mean + ``h_onset``·SD (at
       most ``max_backtrack_ms``); the next sample is the onset. With ``plateau_fraction`` > 0 the
       quiet level is at least that fraction of the way from rest to the burst's median level, so
       the threshold scales with a strong contraction instead of sitting in the noise floor.
       Offsets mirror this forwards (noise-based threshold only). The Hodges–Bui window shrinks on
       strong bursts (``window_slope_ms_per_db``, see :class:`_AdaptiveOnset`); ``extrapolate`` and
       ``ramp_fit``: see :class:`PowerBacktrackOptions`.
    3. Neighbouring bursts at most ``hold_gap_ms`` apart merge when ``P_d`` between them stays above mean +
       ``h_hold``·SD (one contraction with a dip, not two); the merged burst keeps the first one's onset.

    Parameters
    ----------
    x : array, (channels, samples) or (samples,)
        Cleaned EMG (band-passed, mains removed), any unit.
    fs : float
        Sampling rate in Hz.
    rest : bool array, (samples,), optional
        Marked rest; None (or under 0.5 s of it): each channel's quietest 1 s of ``P_d`` (where that second is not
        rest, as in walking, its detection level is lowered: ``PowerBacktrackOptions.busy_rest_ratio``). Not with
        ``baseline``.
    exclude : bool array, (samples,), optional
        Data gaps: never rest, never a burst's first or last sample.
    options : PowerBacktrackOptions, optional
        The settings (None: the defaults, or the baseline's).
    power_mean : array, shaped like x, optional
        ``P_d`` when the caller has it (the centered mean of x² over ``options.detect_window_ms``, unit of
        x²), which saves a pass over the record.
    baseline : DetectionBaseline, optional
        The rest statistics from :func:`power_backtrack_baseline` (e.g. learned once on a live session's
        rest and reused over every window); then ``x`` need not contain rest.
    check_finite : bool
        Check that ``x`` holds no NaN or inf (a caller that has checked passes False).

    Returns
    -------
    list of Bursts
        One per channel, onsets and offsets in samples.
    """
    x, fs, rest, exclude = _checked(x, fs, rest, exclude, check_finite)
    if baseline is not None:
        o = _checked_baseline(baseline, fs, x.shape[0], options, rest)
    else:
        o = _options(options, PowerBacktrackOptions)
    power_mean = _checked_power_mean(power_mean, x.shape)
    if x.shape[-1] == 0:
        return _empty(x.shape[0])
    return _power_backtrack(x, fs, rest, exclude, o, power_mean, baseline)


def power_backtrack_baseline(x, *, fs: float, rest=None, exclude=None, options: PowerBacktrackOptions | None = None,
                             check_finite: bool = True) -> DetectionBaseline:
    """What :func:`power_backtrack` learns from the rest, to pass it as ``baseline=`` any number of times.

    ``power_backtrack(x, fs=fs, rest=rest)`` and ``power_backtrack(x, fs=fs, baseline=power_backtrack_baseline(
    x, fs=fs, rest=rest))`` find the same bursts. A live chain learns it once from a stretch of cleaned rest
    (pass ``rest=np.ones(n, bool)`` so all of it counts, not only its quietest second) and detects on short
    windows with it; the baseline keeps only the rest's running sums, not the record.

    Parameters
    ----------
    x : array, (channels, samples) or (samples,)
        Cleaned EMG (band-passed, mains removed) holding the rest, any unit.
    fs : float
        Sampling rate in Hz.
    rest : bool array, (samples,), optional
        Marked rest; None (or under 0.5 s of it): each channel's quietest 1 s of ``P_d``, with the detection
        level lowered where that second is not rest (``PowerBacktrackOptions.busy_rest_ratio``).
    exclude : bool array, (samples,), optional
        Data gaps, never rest.
    options : PowerBacktrackOptions, optional
        The settings (None: the defaults); detection must then use the same thresholds and windows.
    check_finite : bool
        Check that ``x`` holds no NaN or inf.

    Returns
    -------
    DetectionBaseline
        Per channel: the rest statistics and thresholds of ``P_d`` and ``P_o`` and the adaptive windows'.
    """
    x, fs, rest, exclude = _checked(x, fs, rest, exclude, check_finite)
    o = _options(options, PowerBacktrackOptions)
    n_ch, n = x.shape
    if n == 0:
        raise ValueError("x has no samples: a baseline needs rest to learn from")
    if not _split_channels(o, None, n_ch):
        return _compact(_learn_baseline(_RecordEnvelopes(x, fs, o), fs, o, rest, exclude))
    sums = np.empty((1, n + 1), dtype=np.complex128)
    # As _power_backtrack: one channel at a time; each one's windows are copied out of the reused sums.
    return _stack_baselines([_compact(_learn_baseline(_RecordEnvelopes(x[c:c + 1], fs, o, sums=sums), fs, o, rest,
                                                      exclude)) for c in range(n_ch)])


def _compact(base: DetectionBaseline) -> DetectionBaseline:
    if base.rest_windows is None:
        return base
    return replace(base, rest_windows=tuple(w.compact() for w in base.rest_windows))


class _AdaptiveOnset:
    """Per-burst onset search of :func:`power_backtrack` with an SNR-dependent Hodges–Bui window.

    A forward window of W ms calls a sample active as soon as the window reaches into the rise, so it
    dates onsets up to W early on a strong burst and, through its threshold in the noise, late on a weak
    one. The window therefore shrinks with the burst's SNR: W = ``window_ms`` + slope·(12 dB − SNR),
    clipped to 20–60 ms (slope tuned on seeds separate from the validation seeds).
    """

    def __init__(self, env: _RecordEnvelopes, base: DetectionBaseline, o: PowerBacktrackOptions, *, fs: float,
                 back: int):
        self.env, self.base, self.fs, self.back, self.n = env, base, fs, back, env.n
        self.window_ms, self.slope = o.onset_window_ms, o.window_slope_ms_per_db
        self.h_mid, self.h_onset, self.pf = o.h_mid, o.h_onset, o.plateau_fraction
        self.extrapolate = o.extrapolate
        self.first_gap = window_samples(o.first_gap_ms, fs) if o.first_gap_ms > 0 else 0
        self.first_w = window_samples(_ADAPTIVE_MIN_MS, fs)
        self.h_first = o.h_first
        self.first_shift = int(round(o.first_shift * self.first_w))

    def first_departure(self, ch: int, quiet: np.ndarray, lo: np.ndarray) -> np.ndarray:
        """Each onset moved back to the first sustained departure from rest that leads into it.

        On real muscle the first motor-unit potentials come as sparse spikes tens of ms before the amplitude
        climbs (an examiner's onset, Hodges & Bui 1996), and the search above, whose threshold scales with the
        plateau, stops at the climb. Here the shortest onset window (20 ms, forward) is active above mean +
        ``h_first``·SD of its rest; the onset goes back over active stretches separated by quiet gaps shorter
        than ``first_gap_ms``, to the first active sample after the last quiet gap that long."""
        w, g = self.first_w, self.first_gap
        mu, sd = self.base.window_stats(ch, w)
        span = int(self.back)
        idx = quiet[:, None] - span + np.arange(span)[None, :]           # the ``back`` samples before each onset
        ok = idx >= np.maximum(lo, 0)[:, None]
        act = (self.fwd(ch, np.clip(idx, 0, self.n - 1), w) > mu + self.h_first * sd) & ok
        # quiet_run[k]: the g samples ending at k are all inactive (samples before ``lo`` count as quiet).
        c = np.zeros((act.shape[0], span + 1))
        np.cumsum(act, axis=1, out=c[:, 1:])
        k = np.arange(span)
        quiet_run = (k >= g - 1)[None, :] & (c[:, k + 1] - c[:, np.maximum(k + 1 - g, 0)] == 0)
        quiet_run |= ~ok
        last_gap = np.where(quiet_run.any(axis=1), span - 1 - np.argmax(quiet_run[:, ::-1], axis=1), -1)
        # The first active sample after that gap (the onset itself if none).
        after = act & (k[None, :] > last_gap[:, None])
        first = np.where(after.any(axis=1), np.argmax(after, axis=1), span)
        found = last_gap >= 0
        # A forward window turns active up to w samples before the potential it reaches: half of that back.
        return np.where(found, np.minimum(quiet - span + first + self.first_shift, quiet), quiet).astype(np.int64)

    def fwd(self, ch: int, idx: np.ndarray, w) -> np.ndarray:
        """Forward ``w``-sample mean of the linear envelope at ``idx`` (``w`` an int or one per row)."""
        return forward_mean_at(self.env.c_le[ch], w, idx)

    def windows(self, ch: int, ons: np.ndarray, offs: np.ndarray) -> np.ndarray:
        """Each burst's window (samples) from its level (median of ≈ 256 evenly spaced samples of P_d)."""
        ws = np.full(ons.size, window_samples(self.window_ms, self.fs), dtype=np.int64)
        pd_rest = self.base.detect_mean[ch]
        if self.slope and pd_rest > 0:
            lvl = _median_sub_many(lambda i: self.env.pd_at(ch, i), ons, offs)
            snr_db = 10 * np.log10(np.maximum(lvl / pd_rest, 1e-3))
            ms = np.clip(self.window_ms + self.slope * (12.0 - snr_db), _ADAPTIVE_MIN_MS, _ADAPTIVE_MAX_MS)
            ws = np.maximum(1, np.round(ms * 1e-3 * float(self.fs))).astype(np.int64)  # as window_samples
        return ws

    def __call__(self, ch: int, b: Bursts) -> tuple[np.ndarray, np.ndarray]:
        """(quiet, rise) sample indices of every burst of channel ``ch``."""
        ons, offs = b.onsets.astype(np.int64), b.offsets.astype(np.int64)
        ws = self.windows(ch, ons, offs)
        plateau = None
        if self.pf > 0 or self.extrapolate > 0:
            plateau = _median_sub_many(lambda i: self.fwd(ch, i, ws[:, None]), ons, offs)
        stats = {int(w): self.base.window_stats(ch, int(w)) for w in np.unique(ws)}
        mu = np.array([stats[int(w)][0] for w in ws])
        sd = np.array([stats[int(w)][1] for w in ws])
        lo_i = np.maximum(ons - self.back, 0)

        def fwd_rows(rows: np.ndarray, idx: np.ndarray) -> np.ndarray:
            return self.fwd(ch, idx, ws[rows, None])

        # Rise: the first sample from the coarse onset on whose forward window clears mean + h_mid·SD.
        level = mu + self.h_mid * sd
        hit = _search(lambda r, i: fwd_rows(r, i) > level[r, None], ons, offs, n=self.n)
        r = np.where(hit >= 0, hit, ons)
        thr = mu + self.h_onset * sd
        if self.pf > 0:
            thr = np.maximum(thr, mu + self.pf * (plateau - mu))
        # Quiet: the last sample at or before the rise (at most ``back`` earlier) at or below thr; onset after it.
        lo_r = np.maximum(r - self.back, lo_i)
        q = _search(lambda rr, i: fwd_rows(rr, i) <= thr[rr, None], lo_r, r, n=self.n, forward=False)
        quiet = np.where(q >= 0, q + 1, lo_r)
        if self.first_gap > 0:
            # Never back into the previous burst: its activity is not this one's first potentials.
            quiet = self.first_departure(ch, quiet, np.maximum(lo_i, np.r_[0, offs[:-1] + 1]))
        if self.extrapolate > 0:
            half = mu + 0.5 * (plateau - mu)
            h = _search(lambda rr, i: fwd_rows(rr, i) >= half[rr, None], quiet, offs, n=self.n)
            moved = np.maximum((quiet - self.extrapolate * (h - quiet)).astype(np.int64), lo_i)
            quiet = np.where(h >= 0, moved, quiet)
        return quiet.astype(np.int64), r.astype(np.int64)


# ----------------------------------------------------------------------------------------- ramp fit

class _RampGrid(NamedTuple):
    """The search grid of :func:`ramp_onsets` in bins of ``m`` samples."""

    m: int              # samples per bin
    before: int         # candidate onsets before the guess
    ncand: int          # candidate onsets
    tb: np.ndarray      # rise times (bins)
    length: int         # bins in each burst's window
    inside: np.ndarray  # (rise times, tmax): bin j lies on a ramp of tb bins
    r2: np.ndarray      # (rise times, tmax): squared raised-cosine amplitude on the ramp
    ends: np.ndarray    # (candidates, rise times): first plateau bin


def _ramp_grid(fs: float, o: RampFitOptions) -> _RampGrid:
    m = max(1, int(round(o.bin_ms * 1e-3 * fs)))
    bin_ms = 1e3 * m / fs
    before = int(round(o.before_ms / bin_ms))
    ncand = before + int(round(o.after_ms / bin_ms)) + 1
    tb = np.unique(np.round(np.arange(o.rise_min_ms, o.rise_max_ms + 1e-9, o.rise_step_ms) / bin_ms).astype(np.int64))
    tb = tb[tb >= 1]
    if tb.size == 0:
        raise ValueError(f"no rise time of at least one bin ({bin_ms:g} ms) in {o}")
    tmax = int(tb.max())
    j = np.arange(tmax)
    inside = j[None, :] < tb[:, None]
    r2 = (0.5 * (1.0 - np.cos(np.pi * np.minimum((j[None, :] + 0.5) / tb[:, None], 1.0)))) ** 2
    ends = np.arange(ncand)[:, None] + tb[None, :]
    return _RampGrid(m, before, ncand, tb, ncand + tmax, inside, r2, ends)


def _ramp_t0_bins(xs: np.ndarray, sk: np.ndarray, pk: np.ndarray, g: _RampGrid, temperature: float) -> np.ndarray:
    """Posterior-mean onset (in bins from each window's start) of a chunk of K bursts: ``xs`` (K, samples)
    their windows, ``sk``/``pk`` (K, 1) their noise and plateau powers."""
    k, m, length, ncand = xs.shape[0], g.m, g.length, g.ncand
    tmax = g.inside.shape[1]
    cand = np.arange(ncand)
    y = np.einsum("kbi,kbi->kb", xs.reshape(k, length, m), xs.reshape(k, length, m)) / m
    yc = np.zeros((k, length + 1))
    np.cumsum(y, axis=1, out=yc[:, 1:])
    # Negative log-likelihood (per unit of m/2) of every (t0, T): rest before t0, ramp, plateau after.
    pre = cand[None, :] * np.log(sk) + yc[:, :ncand] / sk                              # (K, C)
    mu = sk[:, :, None] + (pk - sk)[:, :, None] * g.r2[None]                            # (K, NT, tmax)
    inv = np.where(g.inside[None], 1.0 / mu, 0.0)
    logdet = np.log(np.where(g.inside[None], mu, 1.0)).sum(-1)                         # (K, NT)
    windows = sliding_window_view(y, tmax, axis=1)[:, :ncand, :]                       # (K, C, tmax)
    nll = np.matmul(windows, inv.transpose(0, 2, 1))                                   # (K, C, NT)
    nll += logdet[:, None, :] + pre[:, :, None]
    nll += (length - g.ends)[None] * np.log(pk)[:, :, None]
    nll += (yc[:, -1][:, None, None] - yc[:, g.ends]) / pk[:, :, None]
    logp = (-0.5 * m * temperature) * nll
    logp -= logp.max(axis=(1, 2), keepdims=True)
    post = np.exp(logp).sum(-1)                                                         # (K, C)
    return (post @ cand) / post.sum(-1)




def ramp_onsets(x, guess, *, fs: float, noise_power, plateau_power, valid_lo=None, valid_hi=None,
                options: RampFitOptions | None = None, chunk: int = 256,
                check_finite: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Posterior-mean onset of each burst under a raised-cosine amplitude rise.

    Model (the maximum-likelihood change-point idea of Staude & Wolf's AGLR onset detector, 1999,
    *Med Eng Phys* 21:449–467, with a ramp instead of a step): the cleaned EMG sample at time t is Gaussian with
    variance ``noise_power`` + A²·r((t − t0)/T)², where r(u) = (1 − cos πu)/2 on 0 ≤ u ≤ 1 (0 before,
    1 after) and A² = ``plateau_power`` − ``noise_power``. The power x² is averaged over ``bin_ms``
    bins (Gamma likelihood); t0 and the rise time T have the flat priors of :class:`RampFitOptions`, and
    the log-likelihood is scaled by its ``temperature``. The estimate is the posterior mean of t0 with T
    marginalised, which minimises the squared error for this prior.

    Why a posterior mean and not the maximum-likelihood (t0, T): the onset of a smooth rise is
    poorly identified when T is free (the likelihood is a ridge along t0 + T/2 ≈ the half-amplitude
    time); the ML estimate is unbiased in T but has about twice the spread of a fixed-fraction
    threshold, while the posterior mean trades the two optimally under the prior.

    Parameters
    ----------
    x : array, (samples,)
        Cleaned EMG of one channel (band-passed, mains removed).
    guess : int array, (bursts,)
        Sample index of each burst's onset from a first detector; the search is centred on it.
    fs : float
        Sampling rate in Hz.
    noise_power, plateau_power : arrays, (bursts,)
        Resting mean of x² and the burst's mean x² on its plateau (same units as x²).
    valid_lo, valid_hi : int arrays, (bursts,), optional
        The fit window must lie in ``[valid_lo, valid_hi)`` samples (e.g. after the previous burst); a
        burst whose window does not fit keeps its guess.
    options : RampFitOptions, optional
        The search grid (ms) and temperature (None: the defaults).
    chunk : int
        Bursts evaluated together (bounds the temporaries at about chunk × 50 k floats).
    check_finite : bool
        Check that ``x`` holds no NaN or inf.

    Returns
    -------
    onsets : int64 array, (bursts,)
        The posterior-mean onset (sample index), or the guess where no fit was made.
    fitted : bool array, (bursts,)
        Whether the burst was fitted.

    Cost: about 50 µs per burst at 1 kHz (bursts of a chunk at once, one batched matrix product), i.e. about
    0.25 s for 5000 bursts: too slow for the default path of :func:`power_backtrack` at no measured gain.
    """
    o = _options(options, RampFitOptions)
    x = as_float(check_signal(x, "x", ndim=(1,), check_finite=check_finite))
    fs = check_fs(fs)
    n = x.shape[-1]
    guess = np.asarray(guess, dtype=np.int64)
    out, fitted = guess.copy(), np.zeros(guess.size, dtype=bool)
    if guess.size == 0:
        return out, fitted
    g = _ramp_grid(fs, o)
    start = guess - g.before * g.m
    lo = np.zeros(guess.size, dtype=np.int64) if valid_lo is None else np.asarray(valid_lo, dtype=np.int64)
    hi = np.full(guess.size, n, dtype=np.int64) if valid_hi is None else np.asarray(valid_hi, dtype=np.int64)
    s2 = np.broadcast_to(np.asarray(noise_power, dtype=np.float64), guess.shape)
    p2 = np.broadcast_to(np.asarray(plateau_power, dtype=np.float64), guess.shape)
    ok = (start >= np.maximum(lo, 0)) & (start + g.length * g.m <= np.minimum(hi, n)) & (s2 > 0) & (p2 > s2)
    for s in range(0, guess.size, chunk):
        ks = np.flatnonzero(ok[s:s + chunk]) + s
        if ks.size == 0:
            continue
        xs = x[start[ks, None] + np.arange(g.length * g.m)[None, :]]
        t0_bins = _ramp_t0_bins(xs, s2[ks, None], p2[ks, None], g, o.temperature)
        out[ks] = np.round(start[ks] + t0_bins * g.m).astype(np.int64)
        fitted[ks] = True
    return out, fitted


# ------------------------------------------------------------------------------------ search helpers

def _search(test, start: np.ndarray, stop: np.ndarray, *, n: int, forward: bool = True,
            step: int = 512, first: int = 64) -> np.ndarray:
    """For each row k: the first (``forward``) or last index i in [start[k], stop[k]] where
    ``test(rows, idx)`` is True, else −1. ``test`` gets the row numbers (m,) and candidate indices
    (m, L) and returns booleans (m, L); indices outside [0, n) are never tested.

    All rows are searched together, first in a ``first``-sample slice, then in ``step``-sample slices,
    and only rows still unresolved go on to the next slice. The onset searches of :func:`power_backtrack`
    end within tens of samples of their start (at 1 kHz, 99 % within 64), so a short first slice does a
    tenth of the work of a full one and the rare long search costs one more slice."""
    start = np.asarray(start, dtype=np.int64)
    stop = np.asarray(stop, dtype=np.int64)
    out = np.full(start.size, -1, dtype=np.int64)
    todo = np.flatnonzero(start <= stop)
    offset = 0
    cols = np.arange(max(1, min(int(first), int(step))))
    while todo.size:
        if forward:
            idx = start[todo, None] + offset + cols
        else:
            idx = stop[todo, None] - offset - cols
        ok = (idx >= start[todo, None]) & (idx <= stop[todo, None]) & (idx >= 0) & (idx < n)
        hit = test(todo, np.clip(idx, 0, max(n - 1, 0))) & ok
        found = hit.any(axis=1)
        at = hit.argmax(axis=1)
        out[todo[found]] = idx[found, at[found]]
        offset += cols.size
        todo = todo[~found & (stop[todo] - start[todo] + 1 > offset)]
        cols = np.arange(step)
    return out


def _median_sub_many(values, starts: np.ndarray, stops: np.ndarray, points: int = 256) -> np.ndarray:
    """A burst's level without sorting it all: the median of about ``points`` evenly spaced samples of
    ``v[a:e + 1]`` (step ``max(1, size // points)``) for every (a, e), where ``values(idx)`` gives
    ``v[idx]`` for an index array; the subsampled spans are padded to one matrix and sorted once."""
    starts = np.asarray(starts, dtype=np.int64)
    size = np.asarray(stops, dtype=np.int64) - starts + 1
    out = np.zeros(starts.size)
    ok = size > 0
    if not ok.any():
        return out
    step = np.maximum(1, size // points)
    m = -(-size // step)  # ceil: samples taken from each span
    cols = np.arange(int(m[ok].max()))
    take = (cols[None, :] < m[:, None]) & ok[:, None]
    idx = np.where(take, starts[:, None] + cols[None, :] * step[:, None], starts[:, None].clip(0))
    v = np.where(take, values(idx), np.inf)
    v.sort(axis=1)
    r = np.arange(starts.size)
    lo, hi = v[r, np.maximum(m - 1, 0) // 2], v[r, np.maximum(m, 1) // 2 - (m == 0)]
    # As numpy's median: the middle value, or the mean of the two middle values.
    med = np.where(m % 2 == 1, lo, (lo + hi) / 2)
    out[ok] = med[ok]
    return out


def _merge_overlaps(on: np.ndarray, off: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(on)
    on, off = on[order], off[order]
    mo, mf = [int(on[0])], [int(off[0])]
    for a, b in zip(on[1:].tolist(), off[1:].tolist()):
        if a <= mf[-1]:
            mf[-1] = max(mf[-1], b)
        else:
            mo.append(a)
            mf.append(b)
    return np.array(mo), np.array(mf)


# --------------------------------------------------------------------------------- hardware envelopes

def envelope_bursts(env, *, fs: float, rest=None, exclude=None, options: EnvelopeBurstOptions | None = None,
                    check_finite: bool = True) -> list[Bursts]:
    """Bursts of an amplitude envelope recorded as such (a MyoWare ENV pin, not raw EMG).

    The envelope is smoothed over ``smooth_ms``, detected above baseline mean + ``h_detect``·SD and
    backtracked to the last sample below mean + ``h_onset``·SD (Hodges & Bui 1996 thresholds applied
    to a hardware envelope, whose own smoothing already delays onsets by tens of ms).

    Parameters
    ----------
    env : array, (channels, samples) or (samples,)
        The recorded envelope, any unit.
    fs : float
        Sampling rate in Hz.
    rest : bool array, (samples,), optional
        Marked rest; None (or under 0.5 s of it): each channel's quietest 1 s.
    exclude : bool array, (samples,), optional
        Data gaps: never rest, never a burst's first or last sample.
    options : EnvelopeBurstOptions, optional
        The settings (None: the defaults).
    check_finite : bool
        Check that ``env`` holds no NaN or inf (a caller that has checked passes False).

    Returns
    -------
    list of Bursts
        One per channel, onsets and offsets in samples.
    """
    env, fs, rest, exclude = _checked(env, fs, rest, exclude, check_finite, name="env")
    o = _options(options, EnvelopeBurstOptions)
    n = env.shape[-1]
    if n == 0:
        return _empty(env.shape[0])
    sm = moving_mean(env, window_samples(o.smooth_ms, fs), axis=-1)
    mask = baseline_mask(n, fs=fs, rest_mask=rest, env=sm, exclude=exclude, check_finite=False)
    base = baseline_stats(sm, mask, check_finite=False)
    active = sm > _threshold(base, o.h_detect, sm)[:, None]
    coarse = _finish(active, fs, o.min_gap_ms, o.min_burst_ms, exclude)
    low = _threshold(base, o.h_onset, sm)
    back = window_samples(o.max_backtrack_ms, fs)
    out = []
    for c, b in enumerate(coarse):
        if len(b) == 0:
            out.append(b)
            continue
        below = sm[c] <= low[c]
        on = np.clip(last_true_before(below)[b.onsets] + 1, np.maximum(b.onsets - back, 0), b.onsets)
        off = np.clip(first_true_after(below)[b.offsets] - 1, b.offsets, np.minimum(b.offsets + back, n - 1))
        if on.size > 1 and np.any(on[1:] <= off[:-1]):
            on, off = _merge_overlaps(on, off)
        out.append(Bursts(on.astype(np.int64), off.astype(np.int64)))
    return out


# ---------------------------------------------------------------------------------------- any method

_DETECTORS = {"power_backtrack": (power_backtrack, PowerBacktrackOptions), "hodges_bui": (hodges_bui, HodgesBuiOptions),
              "bonato": (bonato, BonatoOptions), "solnik": (solnik, SolnikOptions)}


def detect_bursts(x, *, fs: float, method: str = DEFAULT_METHOD, rest=None, exclude=None, options=None,
                  check_finite: bool = True) -> list[Bursts]:
    """Detect activation bursts with ``method``.

    Parameters
    ----------
    x : array, (channels, samples) or (samples,)
        Cleaned EMG (band-passed, mains removed), any unit.
    fs : float
        Sampling rate in Hz.
    method : str
        One of :data:`METHODS`.
    rest : bool array, (samples,), optional
        Marked rest; None (or under 0.5 s of it): each channel's quietest 1 s.
    exclude : bool array, (samples,), optional
        Data gaps: never rest, never a burst's first or last sample.
    options : dataclass, optional
        The method's settings: :class:`PowerBacktrackOptions`, :class:`HodgesBuiOptions`,
        :class:`BonatoOptions` or :class:`SolnikOptions` (None: the defaults).
    check_finite : bool
        Check that ``x`` holds no NaN or inf (a caller that has checked passes False).

    Returns
    -------
    list of Bursts
        One per channel, onsets and offsets in samples.
    """
    try:
        fn, cls = _DETECTORS[method]
    except KeyError:
        raise ValueError(f"unknown onset method {method!r}; choose one of {', '.join(METHODS)}") from None
    if options is not None and not isinstance(options, cls):
        raise ValueError(f"method {method!r} takes {cls.__name__}, got {type(options).__name__}")
    x, fs, rest, exclude = _checked(x, fs, rest, exclude, check_finite)
    if x.shape[-1] == 0:
        return _empty(x.shape[0])
    return fn(x, fs=fs, rest=rest, exclude=exclude, options=options, check_finite=False)


__all__ = ["Bursts", "EMPTY", "METHODS", "DEFAULT_METHOD", "HodgesBuiOptions", "BonatoOptions", "SolnikOptions",
           "PowerBacktrackOptions", "EnvelopeBurstOptions", "RampFitOptions", "DetectionBaseline", "detect_bursts",
           "hodges_bui", "bonato", "solnik", "power_backtrack", "power_backtrack_baseline", "envelope_bursts",
           "ramp_onsets", "MAX_BASELINE_SAMPLES"]
