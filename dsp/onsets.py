"""Onset and offset detection of sEMG bursts.

Every detector takes cleaned EMG shaped (channels, samples) (or one channel), the sampling rate
``fs`` in Hz and the baseline: a boolean ``rest`` mask over samples (marked rest), or None to use
each channel's quietest 1 s window. Each returns one :class:`Bursts` per channel with sample
indices (onset = first active sample, offset = last active sample).

Detectors:

* :func:`hodges_bui` — Hodges & Bui 1996 (*Electroencephalogr Clin Neurophysiol* 101:511–519):
  rectified EMG low-passed at 50 Hz; onset where the mean over a ``window_ms`` window exceeds the
  baseline mean + h·SD.
* :func:`bonato` — Bonato, D'Alessio & Knaflitz 1998 (*IEEE Trans Biomed Eng* 45:287–299):
  double threshold on g = (x[k−1]² + x[k]²)/σ₀²: at least r₀ of m consecutive values above ζ, and the
  state held for ``min_duration_ms``.
* :func:`solnik` — Solnik, Rider, Steinweg, DeVita & Hortobágyi 2010 (*Eur J Appl Physiol*
  110:489–498): Teager–Kaiser energy, rectified and low-passed, then the Hodges–Bui threshold.
* :func:`power_backtrack` (the default, chosen on the validation suite, see ``validate.py``): a
  robust detection on a 100 ms power envelope (few false alarms, no loss at 6 dB SNR) followed by
  a local search on a short envelope for the last resting sample before the rise (the double
  threshold idea of Bonato et al., applied backwards in time), which removes most of the delay
  that a single high threshold has on a slowly rising burst.

All detectors then merge activations separated by less than ``min_gap_ms`` and drop those shorter
than ``min_burst_ms``: a repetition of a hip-extension exercise lasts far longer than a cable tug
or a single motor-unit spike train.
"""

from __future__ import annotations

import inspect
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._util import (as_float, cumsum0, drop_short_runs, first_true_after, forward_mean_at,
                    forward_mean_from_cumsum, last_true_before, moving_mean, moving_mean_at, moving_mean_exceeds,
                    moving_mean_from_cumsum, power_cumsum, runs, window_samples)
from .baseline import Baseline, baseline_mask, baseline_stats, robust_stats
from .envelope import linear_envelope, linear_envelope_cumsum, tkeo


class Bursts(NamedTuple):
    """Activation bursts of one channel: sample indices of onsets and offsets (inclusive)."""

    onsets: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:  # number of bursts, not the tuple's arity
        return int(self.onsets.size)

    def seconds(self, fs: float, t0_s: float = 0.0) -> list[tuple[float, float]]:
        return [(t0_s + a / fs, t0_s + b / fs) for a, b in zip(self.onsets.tolist(), self.offsets.tolist())]


EMPTY = Bursts(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))

METHODS = ("power_backtrack", "hodges_bui", "bonato", "solnik")
DEFAULT_METHOD = "power_backtrack"


def _as_channels(x) -> np.ndarray:
    x = as_float(x)
    return x[None, :] if x.ndim == 1 else x


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
    mask = baseline_mask(env.shape[-1], fs=fs, rest_mask=rest, env=env, exclude=exclude)
    return baseline_stats(env, mask)


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


def _rest_indices(n: int, n_ch: int, fs: float, rest, exclude, env) -> list[np.ndarray]:
    """Each channel's baseline sample indices, as ``baseline_mask`` chooses them (evenly thinned to at
    most :data:`MAX_BASELINE_SAMPLES`); ``env()`` gives the envelope (channels, n) and is called only when
    marked rest does not suffice (the quietest window)."""
    def thin(idx: np.ndarray) -> np.ndarray:
        return idx[::-(-idx.size // MAX_BASELINE_SAMPLES)] if idx.size > MAX_BASELINE_SAMPLES else idx

    if rest is not None:
        try:
            marked = baseline_mask(n, fs=fs, rest_mask=rest, exclude=exclude)[0]
        except ValueError:  # too little marked rest: baseline_mask falls back to the envelope
            marked = None
        if marked is not None:
            idx = thin(np.flatnonzero(marked))  # one scan of the record for all channels
            return [idx] * n_ch
    mask = baseline_mask(n, fs=fs, rest_mask=rest, env=env(), exclude=exclude)
    return [thin(np.flatnonzero(m)) for m in mask]


def hodges_bui(x, *, fs: float, rest=None, h: float = 3.0, window_ms: float = 25.0, cutoff_hz: float = 50.0,
               min_gap_ms: float = 100.0, min_burst_ms: float = 100.0, exclude=None) -> list[Bursts]:
    """Hodges & Bui (1996): linear envelope (``cutoff_hz``) averaged over ``window_ms`` > mean + h·SD.

    Defaults h = 3, 25 ms, 50 Hz are among the combinations Hodges & Bui found closest to visual onsets.
    """
    x = _as_channels(x)
    env = linear_envelope(x, fs=fs, cutoff_hz=cutoff_hz)
    w = window_samples(window_ms, fs)
    # Mean over the window that starts at each sample: onset = the first sample of a window above threshold.
    # (A rolled causal mean would wrap the record's first samples onto its last w − 1.)
    avg = forward_mean_from_cumsum(cumsum0(env), w)
    base = _baseline(avg, fs, rest, exclude)
    active = avg > _threshold(base, h, avg)[:, None]
    return _finish(active, fs, min_gap_ms, min_burst_ms, exclude)


def bonato(x, *, fs: float, rest=None, h: float = 7.74, r0: int = 1, m: int = 5, min_duration_ms: float = 30.0,
           min_gap_ms: float = 100.0, min_burst_ms: float = 100.0, exclude=None) -> list[Bursts]:
    """Bonato et al. (1998) double threshold: ζ = ``h`` on g = (x[k−1]² + x[k]²)/σ₀² (pairs of samples);
    active where at least ``r0`` of ``m`` successive g exceed ζ, kept if it lasts ``min_duration_ms``.

    ζ = 7.74 with r₀ = 1 of m = 5 is the paper's setting for a false-alarm probability of 0.05.
    """
    x = _as_channels(x)
    n = x.shape[-1]
    npair = n // 2
    if npair < m:
        return [EMPTY for _ in range(x.shape[0])]
    sq = x[:, : 2 * npair] ** 2
    g = sq[:, 0::2] + sq[:, 1::2]
    rest_pairs = None if rest is None else np.asarray(rest, dtype=bool)[: 2 * npair : 2]
    excl_pairs = None if exclude is None else np.asarray(exclude, dtype=bool)[: 2 * npair : 2]
    # σ₀² from the raw squared baseline; a pair of N(0, σ₀²) samples sums to σ₀²·χ²(2).
    bmask = baseline_mask(npair, fs=fs / 2, rest_mask=rest_pairs, env=g, exclude=excl_pairs)
    var0 = np.array([np.mean(gr[mk]) / 2 if mk.any() else 0.0 for gr, mk in zip(g, bmask)])
    scale = np.maximum(var0, 1e-12 * np.median(g, axis=-1) + 1e-300)
    over = (g / scale[:, None]) > h
    c_over = cumsum0(over.astype(np.float64))
    count = c_over[:, np.minimum(np.arange(npair) + m, npair)] - c_over[:, :npair]  # over-threshold g in the next m
    act_pairs = count >= r0 - 1e-9
    hold = window_samples(min_duration_ms, fs / 2)
    act_pairs = np.vstack([drop_short_runs(r, hold) for r in act_pairs])
    active = np.zeros((x.shape[0], n), dtype=bool)
    active[:, : 2 * npair] = np.repeat(act_pairs, 2, axis=-1)
    return _finish(active, fs, min_gap_ms, min_burst_ms, exclude)


def solnik(x, *, fs: float, rest=None, h: float = 8.0, cutoff_hz: float = 50.0, min_duration_ms: float = 25.0,
           min_gap_ms: float = 100.0, min_burst_ms: float = 100.0, exclude=None) -> list[Bursts]:
    """Solnik et al. (2010): TKEO → full-wave rectification → ``cutoff_hz`` low-pass → mean + h·SD held
    for ``min_duration_ms``."""
    x = _as_channels(x)
    env = linear_envelope(tkeo(x), fs=fs, cutoff_hz=cutoff_hz)
    base = _baseline(env, fs, rest, exclude)
    active = env > _threshold(base, h, env)[:, None]
    active = np.vstack([drop_short_runs(r, window_samples(min_duration_ms, fs)) for r in active])
    return _finish(active, fs, min_gap_ms, min_burst_ms, exclude)


def power_backtrack(x, *, fs: float, rest=None, detect_window_ms: float = 100.0, h_detect: float = 8.0,
                    onset_window_ms: float = 45.0, h_mid: float = 5.5, h_onset: float = 2.5,
                    onset_cutoff_hz: float | None = 50.0, plateau_fraction: float = 0.15,
                    window_slope_ms_per_db: float = 2.0, extrapolate: float = 0.0, ramp_fit: bool = False,
                    max_backtrack_ms: float = 400.0,
                    min_gap_ms: float = 150.0, min_burst_ms: float = 250.0, exclude=None) -> list[Bursts]:
    """Default detector: detect on a 100 ms power envelope, then backtrack on a 20 ms one.

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
       strong bursts (``window_slope_ms_per_db``, see :class:`_AdaptiveOnset`); ``extrapolate`` > 0
       moves the onset back by that multiple of the time from the quiet sample to half the plateau
       (off by default: on the validation suite it traded bias for spread without a net gain).
       ``ramp_fit`` replaces each onset by the posterior mean of :func:`ramp_onsets` searched around it
       (off by default: on tuning seeds 100–111 it changed the median latency error by −2…+5 ms per
       cell, within the seed-to-seed noise, for about 50 µs per burst; see that function).

    The defaults (50 Hz, 45 ms, h = 2.5 / 5.5, 15 % of the plateau) were chosen on tuning seeds
    separate from the validation seeds, over a grid of cutoffs 30–80 Hz, windows 25–60 ms, h 1–5
    and plateau fractions 0–0.3, for the lowest median and p90 onset error across 20, 12 and 6 dB.
    """
    return _power_backtrack(x, fs=fs, rest=rest, detect_window_ms=detect_window_ms, h_detect=h_detect,
                            onset_window_ms=onset_window_ms, h_mid=h_mid, h_onset=h_onset,
                            onset_cutoff_hz=onset_cutoff_hz, plateau_fraction=plateau_fraction,
                            window_slope_ms_per_db=window_slope_ms_per_db, extrapolate=extrapolate,
                            ramp_fit=ramp_fit, max_backtrack_ms=max_backtrack_ms, min_gap_ms=min_gap_ms,
                            min_burst_ms=min_burst_ms,
                            exclude=exclude)


def _power_backtrack(x, *, fs, rest, detect_window_ms, h_detect, onset_window_ms, h_mid, h_onset, onset_cutoff_hz,
                     plateau_fraction, window_slope_ms_per_db, extrapolate, max_backtrack_ms, min_gap_ms,
                     min_burst_ms, exclude, ramp_fit=False, pd=None, _sums=None) -> list[Bursts]:
    """:func:`power_backtrack`; ``pd`` is its detection envelope when the caller already has it
    (``analyze`` computes the same 100 ms mean power for its amplitude envelope)."""
    x = _as_channels(x)
    n, n_ch = x.shape[-1], x.shape[0]
    args = dict(fs=fs, rest=rest, detect_window_ms=detect_window_ms, h_detect=h_detect,
                onset_window_ms=onset_window_ms, h_mid=h_mid, h_onset=h_onset, onset_cutoff_hz=onset_cutoff_hz,
                plateau_fraction=plateau_fraction, window_slope_ms_per_db=window_slope_ms_per_db,
                extrapolate=extrapolate, max_backtrack_ms=max_backtrack_ms, min_gap_ms=min_gap_ms,
                min_burst_ms=min_burst_ms, exclude=exclude, ramp_fit=ramp_fit)
    if pd is None and onset_cutoff_hz is not None and n_ch > 1:
        # Every step is per channel: one channel at a time, in one array for the running sums.
        sums = np.empty((1, n + 1), dtype=np.complex128)
        return [b for c in range(n_ch) for b in _power_backtrack(x[c:c + 1], **args, _sums=sums)]
    w_d = window_samples(detect_window_ms, fs)
    c_sq = None  # cumsum0(x * x), when this function computes the detection envelope itself
    c_le = None
    if pd is None and onset_cutoff_hz is not None:
        # Both running sums in one pass (see linear_envelope_cumsum).
        c_sq, c_le = linear_envelope_cumsum(x, fs=fs, cutoff_hz=onset_cutoff_hz, with_power=True, out=_sums)
    elif pd is None:
        c_sq = power_cumsum(x)
    if pd is None:
        # The 100 ms mean power is read from its cumulative sum: compared with the threshold a block at a
        # time, and at the rest, around bursts and on a subsample, never as a whole-record array.

        def pd_at(ch: int, idx: np.ndarray) -> np.ndarray:
            return moving_mean_at(c_sq[ch], w_d, idx)
    else:
        pd = np.atleast_2d(pd)

        def pd_at(ch: int, idx: np.ndarray) -> np.ndarray:
            return pd[ch][idx]
    if onset_cutoff_hz is None:
        w_o = window_samples(onset_window_ms, fs)
        c_po = c_sq if c_sq is not None else power_cumsum(x)

        def po_at(ch: int, idx: np.ndarray) -> np.ndarray:
            return moving_mean_at(c_po[ch], w_o, idx)
    else:
        # Hodges & Bui's onset envelope: linear envelope averaged over the window *starting* at each
        # sample, so a sample is called active when the next ``onset_window_ms`` are. It is read only at
        # the rest, around bursts and on a subsample, so it is evaluated there from one cumulative sum
        # (which also serves the adaptive per-burst windows), never as a whole-record array.
        w = window_samples(onset_window_ms, fs)
        if c_le is None:
            c_le = linear_envelope_cumsum(x, fs=fs, cutoff_hz=onset_cutoff_hz)

        def po_at(ch: int, idx: np.ndarray) -> np.ndarray:
            return forward_mean_at(c_le[ch], w, idx)
    rest_idx = _rest_indices(n, n_ch, fs, rest, exclude,
                             lambda: pd if pd is not None else moving_mean_from_cumsum(c_sq, w_d))
    # As baseline_stats(pd, mask) and _threshold(…, pd): the same values in the same order.
    pd_rest = [robust_stats(pd_at(c, rest_idx[c])) for c in range(n_ch)]
    bd = Baseline(np.array([mu for mu, _ in pd_rest]), np.array([sd for _, sd in pd_rest]))
    sub = np.arange(0, n, _SCALE_STEP)

    def pd_scale() -> np.ndarray:  # _scale(pd)
        return np.mean(np.abs(np.stack([pd_at(c, sub) for c in range(n_ch)])), axis=-1) if n else np.zeros(n_ch)

    def po_scale() -> np.ndarray:  # _scale(po), from the same subsample of po
        return np.array([np.mean(np.abs(po_at(c, sub))) if n else 0.0 for c in range(n_ch)])

    po_rest = [robust_stats(po_at(c, rest_idx[c])) for c in range(n_ch)]
    bo = Baseline(np.array([mu for mu, _ in po_rest]), np.array([sd for _, sd in po_rest]))
    if c_sq is not None:
        pd_bound = _running_mean_bound(c_sq, w_d, pd_at, sub, centered=True)
        level = _threshold(bd, h_detect, None, scale=_floor_scale(bd, pd_bound, pd_scale))
    else:
        level = _threshold(bd, h_detect, None, scale=pd_scale())
    # 150 ms: longer than a 30–50 ms artefact smeared by the 100 ms detection window.
    min_run_ms = detect_window_ms + 50.0

    def active(c: int) -> np.ndarray:
        if pd is not None:
            return pd[c] > level[c]
        return moving_mean_exceeds(c_sq[c], w_d, level[c], nonnegative=True)

    if exclude is not None and np.any(exclude):
        coarse = _finish(np.stack([active(c) for c in range(n_ch)]), fs, min_gap_ms, min_burst_ms, exclude,
                         min_run_ms=min_run_ms)
    else:
        coarse = [_finish_runs(*runs(active(c)), fs, min_gap_ms, min_burst_ms, min_run_ms=min_run_ms)
                  for c in range(n_ch)]
    if c_le is not None:
        po_bound = _running_mean_bound(c_le, w, po_at, sub, centered=False)
    else:
        po_bound = _running_mean_bound(c_po, w_o, po_at, sub, centered=True)
    po_sc = _floor_scale(bo, po_bound, po_scale)
    mid = _threshold(bo, h_mid, None, scale=po_sc)
    low = _threshold(bo, h_onset, None, scale=po_sc)
    back = window_samples(max_backtrack_ms, fs)
    adaptive = None
    if onset_cutoff_hz is not None and (plateau_fraction > 0 or window_slope_ms_per_db):
        adaptive = _AdaptiveOnset(c_le, fs=fs, rest_idx=rest_idx, pd_at=pd_at, pd_rest=bd.mean,
                                  window_ms=onset_window_ms, slope_ms_per_db=window_slope_ms_per_db,
                                  h_mid=h_mid, h_onset=h_onset, plateau_fraction=plateau_fraction, back=back,
                                  extrapolate=extrapolate)
    out = []
    for c, b in enumerate(coarse):
        if len(b) == 0:
            out.append(b)
            continue
        hi, lo = mid[c], low[c]
        # Searches run only around each burst (never over the whole record): see _search.
        if adaptive is not None:
            quiet, rise = adaptive(c, b)
        else:
            # Onset: first clear rise within the coarse burst, then back (≤ ``back``) to the last quiet sample.
            rise = _search(lambda _, i: po_at(c, i) > hi, b.onsets, b.offsets, n=n)
            rise = np.where(rise >= 0, rise, b.onsets)
            lo_r = np.maximum(rise - back, 0)
            q = _search(lambda _, i: po_at(c, i) <= lo, lo_r, rise, n=n, forward=False)
            quiet = np.where(q >= 0, q + 1, lo_r)
        on = np.clip(quiet, np.maximum(rise - back, 0), rise)
        if ramp_fit:
            # The fit window must not reach into the previous burst or a data gap.
            lo_v = np.r_[0, b.offsets[:-1] + 1]
            hi_v = np.r_[b.onsets[1:], n]
            if exclude is not None and np.any(exclude):
                ex = np.asarray(exclude, dtype=bool)
                lo_v = np.maximum(lo_v, last_true_before(ex)[on] + 1)
                hi_v = np.minimum(hi_v, first_true_after(ex)[on])
            plateau = _median_sub_many(lambda i: pd_at(c, i), b.onsets, b.offsets)
            fitted, ok = ramp_onsets(x[c], on, fs=fs, noise_power=np.full(on.size, bd.mean[c]),
                                     plateau_power=plateau, valid_lo=lo_v, valid_hi=hi_v)
            on = np.where(ok, np.minimum(fitted, b.offsets), on)
        # Offset: last clear activity at or before the coarse end, then on to the first quiet sample.
        fall = _search(lambda _, i: po_at(c, i) > hi, b.onsets, b.offsets, n=n, forward=False)
        fall = np.where(fall >= 0, fall, b.offsets)
        hi_f = np.minimum(fall + back + 1, n - 1)
        after = _search(lambda _, i: po_at(c, i) <= lo, fall, hi_f, n=n)
        off = np.clip(np.where(after >= 0, after - 1, hi_f), fall, np.minimum(fall + back, n - 1))
        # Refinement can make neighbours touch; keep them ordered and disjoint.
        keep = np.ones(on.size, dtype=bool)
        keep[1:] = on[1:] > off[:-1]
        if not keep.all():
            on, off = _merge_overlaps(on, off)
        out.append(Bursts(on.astype(np.int64), off.astype(np.int64)))
    return out


class _AdaptiveOnset:
    """Per-burst onset search of :func:`power_backtrack` with an SNR-dependent Hodges–Bui window.

    A forward window of W ms calls a sample active as soon as the window reaches into the rise, so it
    dates onsets up to W early on a strong burst and, through its threshold in the noise, late on a weak
    one. The window therefore shrinks with the burst's SNR: W = ``window_ms`` + slope·(12 dB − SNR),
    clipped to 20–60 ms (slope tuned on seeds separate from the validation seeds).
    """

    def __init__(self, c_le, *, fs, rest_idx, pd_at, pd_rest, window_ms, slope_ms_per_db, h_mid, h_onset,
                 plateau_fraction, back, extrapolate=0.0):
        # ``c_le``: :func:`cumsum0` of the linear envelope, (channels, n + 1); ``rest_idx``: each channel's
        # baseline sample indices; ``pd_at(ch, idx)``: the detection envelope at ``idx``.
        self.n = c_le.shape[-1] - 1
        self.c = c_le
        self.fs, self.rest_idx, self.pd_at, self.pd_rest = fs, rest_idx, pd_at, pd_rest
        self.window_ms, self.slope = window_ms, slope_ms_per_db
        self.h_mid, self.h_onset, self.pf, self.back = h_mid, h_onset, plateau_fraction, back
        self.extrapolate = extrapolate
        self._stats: dict[tuple[int, int], tuple[float, float]] = {}

    def fwd(self, ch: int, idx: np.ndarray, w) -> np.ndarray:
        """Forward ``w``-sample mean of the linear envelope at ``idx`` (``w`` an int or one per row)."""
        return forward_mean_at(self.c[ch], w, idx)

    def stats(self, ch: int, w: int) -> tuple[float, float]:
        key = (ch, w)
        if key not in self._stats:
            idx = self.rest_idx[ch]
            vals = self.fwd(ch, idx, w) if idx.size else np.zeros(0)
            mu, sd = (float(np.median(vals)), float(1.4826 * np.median(np.abs(vals - np.median(vals))))) \
                if vals.size else (0.0, 0.0)
            self._stats[key] = (mu, max(sd, 0.05 * abs(mu), 1e-300))
        return self._stats[key]

    def __call__(self, ch: int, b: Bursts) -> tuple[np.ndarray, np.ndarray]:
        """(quiet, rise) sample indices of every burst of channel ``ch``."""
        ons, offs = b.onsets.astype(np.int64), b.offsets.astype(np.int64)
        # Burst levels and window lengths of all bursts at once (medians of ≈ 256 evenly spaced samples).
        ws = np.full(ons.size, window_samples(self.window_ms, self.fs), dtype=np.int64)
        if self.slope and self.pd_rest[ch] > 0:
            lvl = _median_sub_many(lambda i: self.pd_at(ch, i), ons, offs)
            snr_db = 10 * np.log10(np.maximum(lvl / self.pd_rest[ch], 1e-3))
            ms = np.clip(self.window_ms + self.slope * (12.0 - snr_db), 20.0, 60.0)
            ws = np.maximum(1, np.round(ms * 1e-3 * float(self.fs))).astype(np.int64)  # as window_samples
        plateau = None
        if self.pf > 0 or self.extrapolate > 0:
            plateau = _median_sub_many(lambda i: self.fwd(ch, i, ws[:, None]), ons, offs)
        stats = {int(w): self.stats(ch, int(w)) for w in np.unique(ws)}
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
        if self.extrapolate > 0:
            half = mu + 0.5 * (plateau - mu)
            h = _search(lambda rr, i: fwd_rows(rr, i) >= half[rr, None], quiet, offs, n=self.n)
            moved = np.maximum((quiet - self.extrapolate * (h - quiet)).astype(np.int64), lo_i)
            quiet = np.where(h >= 0, moved, quiet)
        return quiet.astype(np.int64), r.astype(np.int64)


def ramp_onsets(x, guess, *, fs: float, noise_power, plateau_power, valid_lo=None, valid_hi=None,
                before_ms: float = 60.0, after_ms: float = 40.0, rise_min_ms: float = 20.0,
                rise_max_ms: float = 160.0, rise_step_ms: float = 10.0, bin_ms: float = 2.0,
                temperature: float = 0.5, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Posterior-mean onset of each burst under a raised-cosine amplitude rise.

    Model (the maximum-likelihood change-point idea of Staude & Wolf's AGLR onset detector, 1999,
    *Med Eng Phys* 21:449–467, with a ramp instead of a step): the cleaned EMG sample at time t is Gaussian with
    variance ``noise_power`` + A²·r((t − t0)/T)², where r(u) = (1 − cos πu)/2 on 0 ≤ u ≤ 1 (0 before,
    1 after) and A² = ``plateau_power`` − ``noise_power``. The power x² is averaged over ``bin_ms``
    bins (Gamma likelihood); t0 has a flat prior over [guess − ``before_ms``, guess + ``after_ms``]
    and the rise time T a flat prior over ``rise_min_ms``…``rise_max_ms`` in ``rise_step_ms`` steps.
    The log-likelihood is scaled by ``temperature`` (< 1 because the sEMG carrier's samples are
    correlated: fewer independent values than samples). The estimate is the posterior mean of t0
    with T marginalised, which minimises the squared error for this prior.

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
        The fit window must lie in ``[valid_lo, valid_hi)`` (e.g. after the previous burst); a burst
        whose window does not fit keeps its guess.
    before_ms, after_ms, rise_min_ms, rise_max_ms, rise_step_ms, bin_ms : float
        The search grid described above, in ms.
    temperature : float
        Factor on the log-likelihood (1 = independent samples).
    chunk : int
        Bursts evaluated together (bounds the temporaries at about chunk × 50 k floats).

    Returns
    -------
    onsets : int64 array, (bursts,)
        The posterior-mean onset (sample index), or the guess where no fit was made.
    fitted : bool array, (bursts,)
        Whether the burst was fitted.

    ``temperature`` = 0.5 was chosen between 0.5 and 1 on tuning seeds 100–105 (0.5: 1–2 ms lower median
    latency error at 12 and 6 dB). Cost: about 50 µs per burst at 1 kHz (bursts of a chunk at once, one
    batched matrix product), i.e. about 0.25 s for 5000 bursts: too slow for the default path of
    :func:`power_backtrack` at no measured gain, hence ``ramp_fit=False`` there.
    """
    x = as_float(x)
    n = x.shape[-1]
    guess = np.asarray(guess, dtype=np.int64)
    out, fitted = guess.copy(), np.zeros(guess.size, dtype=bool)
    if guess.size == 0:
        return out, fitted
    m = max(1, int(round(bin_ms * 1e-3 * fs)))
    bin_ms = 1e3 * m / fs
    before = int(round(before_ms / bin_ms))
    ncand = before + int(round(after_ms / bin_ms)) + 1
    tb = np.unique(np.round(np.arange(rise_min_ms, rise_max_ms + 1e-9, rise_step_ms) / bin_ms).astype(np.int64))
    tb = tb[tb >= 1]
    tmax = int(tb.max())
    length = ncand + tmax  # bins in each burst's window
    start = guess - before * m
    lo = np.zeros(guess.size, dtype=np.int64) if valid_lo is None else np.asarray(valid_lo, dtype=np.int64)
    hi = np.full(guess.size, n, dtype=np.int64) if valid_hi is None else np.asarray(valid_hi, dtype=np.int64)
    s2 = np.broadcast_to(np.asarray(noise_power, dtype=np.float64), guess.shape)
    p2 = np.broadcast_to(np.asarray(plateau_power, dtype=np.float64), guess.shape)
    ok = (start >= np.maximum(lo, 0)) & (start + length * m <= np.minimum(hi, n)) & (s2 > 0) & (p2 > s2)
    j = np.arange(tmax)
    inside = j[None, :] < tb[:, None]  # (rise times, tmax): bin j lies on a ramp of tb bins
    r2 = (0.5 * (1.0 - np.cos(np.pi * np.minimum((j[None, :] + 0.5) / tb[:, None], 1.0)))) ** 2
    cand = np.arange(ncand)
    ends = cand[:, None] + tb[None, :]  # (candidates, rise times): first plateau bin
    for s in range(0, guess.size, chunk):
        ks = np.flatnonzero(ok[s:s + chunk]) + s
        if ks.size == 0:
            continue
        xs = x[start[ks, None] + np.arange(length * m)[None, :]]
        y = np.einsum("kbi,kbi->kb", xs.reshape(ks.size, length, m), xs.reshape(ks.size, length, m)) / m
        yc = np.zeros((ks.size, length + 1))
        np.cumsum(y, axis=1, out=yc[:, 1:])
        sk, pk = s2[ks, None], p2[ks, None]
        # Negative log-likelihood (per unit of m/2) of every (t0, T): rest before t0, ramp, plateau after.
        pre = cand[None, :] * np.log(sk) + yc[:, :ncand] / sk                          # (K, C)
        mu = sk[:, :, None] + (pk - sk)[:, :, None] * r2[None]                          # (K, NT, tmax)
        inv = np.where(inside[None], 1.0 / mu, 0.0)
        logdet = np.log(np.where(inside[None], mu, 1.0)).sum(-1)                       # (K, NT)
        windows = sliding_window_view(y, tmax, axis=1)[:, :ncand, :]                   # (K, C, tmax)
        nll = np.matmul(windows, inv.transpose(0, 2, 1))                               # (K, C, NT)
        nll += logdet[:, None, :] + pre[:, :, None]
        nll += (length - ends)[None] * np.log(pk)[:, :, None]
        nll += (yc[:, -1][:, None, None] - yc[:, ends]) / pk[:, :, None]
        logp = (-0.5 * m * temperature) * nll
        logp -= logp.max(axis=(1, 2), keepdims=True)
        post = np.exp(logp).sum(-1)                                                     # (K, C)
        t0_bins = (post @ cand) / post.sum(-1)
        out[ks] = np.round(start[ks] + t0_bins * m).astype(np.int64)
        fitted[ks] = True
    return out, fitted


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


def envelope_bursts(env, *, fs: float, rest=None, h_detect: float = 8.0, h_onset: float = 2.0,
                    smooth_ms: float = 50.0, max_backtrack_ms: float = 400.0, min_gap_ms: float = 150.0,
                    min_burst_ms: float = 250.0, exclude=None) -> list[Bursts]:
    """Bursts of an amplitude envelope recorded as such (a MyoWare ENV pin, not raw EMG).

    The envelope is smoothed over ``smooth_ms``, detected above baseline mean + ``h_detect``·SD and
    backtracked to the last sample below mean + ``h_onset``·SD (Hodges & Bui 1996 thresholds applied
    to a hardware envelope, whose own smoothing already delays onsets by tens of ms).
    """
    env = _as_channels(env)
    n = env.shape[-1]
    if n == 0:
        return [EMPTY for _ in range(env.shape[0])]
    sm = moving_mean(env, window_samples(smooth_ms, fs), axis=-1)
    mask = baseline_mask(n, fs=fs, rest_mask=rest, env=sm, exclude=exclude)
    base = baseline_stats(sm, mask)
    active = sm > _threshold(base, h_detect, sm)[:, None]
    coarse = _finish(active, fs, min_gap_ms, min_burst_ms, exclude)
    low = _threshold(base, h_onset, sm)
    back = window_samples(max_backtrack_ms, fs)
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


def power_backtrack_with_power(x, *, fs: float, pd: np.ndarray, rest=None, exclude=None) -> list[Bursts]:
    """:func:`power_backtrack` with its default settings, given its detection envelope ``pd`` (the centered
    mean of x² over ``detect_window_ms``, shaped like ``x``) so a caller that has it saves a pass."""
    return _power_backtrack(x, fs=fs, rest=rest, exclude=exclude, pd=pd, **_PB_DEFAULTS)


_PB_DEFAULTS = {k: p.default for k, p in inspect.signature(power_backtrack).parameters.items()
                if p.kind is inspect.Parameter.KEYWORD_ONLY and k not in ("fs", "rest", "exclude")}

_DETECTORS = {"power_backtrack": power_backtrack, "hodges_bui": hodges_bui, "bonato": bonato, "solnik": solnik}


def detect_bursts(x, *, fs: float, method: str = DEFAULT_METHOD, rest=None, exclude=None, **params) -> list[Bursts]:
    """Detect activation bursts with ``method`` (one of :data:`METHODS`); ``params`` go to the detector."""
    try:
        fn = _DETECTORS[method]
    except KeyError:
        raise ValueError(f"unknown onset method {method!r}; choose one of {', '.join(METHODS)}") from None
    x = _as_channels(x)
    if x.shape[-1] == 0:
        return [EMPTY for _ in range(x.shape[0])]
    return fn(x, fs=fs, rest=rest, exclude=exclude, **params)
