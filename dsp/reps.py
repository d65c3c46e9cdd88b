"""Reps from bursts: which bursts of which muscles make one repetition of an exercise, and what is measured on
each (onsets, latency, amplitude ratio, %MVC, co-activation, the checks that exclude a rep, movement onsets).

Every measure is computed for all reps at once (peaks and sample counts by one ``reduceat`` per channel; sums by
one pairwise sum per rep, so each number is what summing the rep's own slice gives, to the last bit).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import check_fs, check_mask
from .onsets import Bursts
from .options import RepOptions


def group_reps(bursts: dict[str, Bursts], allowed: np.ndarray) -> list[dict[str, tuple[int, int]]]:
    """Group the bursts of several muscles into reps: bursts that overlap in time (a chain of overlaps is one
    rep) are one activation of the hip extensors.

    Parameters
    ----------
    bursts : dict of str to Bursts
        Each muscle's bursts (sample indices, offsets inclusive), e.g. from :func:`detect_bursts`.
    allowed : bool array, (samples,)
        Samples where a rep may lie (e.g. the exercise, outside MVC trials and data gaps); a burst whose onset
        or offset falls outside it is left out.

    Returns
    -------
    list of dict of str to (int, int)
        One dict per rep, in time order: muscle → (onset, offset) sample indices. Two bursts of one muscle
        in the same rep (an activation with a dip) are merged into one span.
    """
    items = []
    for key, b in bursts.items():
        for on, off in zip(b.onsets.tolist(), b.offsets.tolist()):
            if allowed[on] and allowed[off]:
                items.append((on, off, key))
    items.sort()
    groups: list[dict[str, tuple[int, int]]] = []
    end = -1
    for on, off, key in items:
        if groups and on <= end:
            g = groups[-1]
            if key in g:  # a split burst of the same muscle: one activation with a dip
                g[key] = (min(g[key][0], on), max(g[key][1], off))
            else:
                g[key] = (on, off)
            end = max(end, off)
        else:
            groups.append({key: (on, off)})
            end = off
    return groups




class _Spans:
    """Many [start, stop) spans (stop > start) of 1-D arrays of length n: the reps' windows."""

    def __init__(self, starts: np.ndarray, stops: np.ndarray, n: int):
        starts = np.asarray(starts, dtype=np.int64)
        stops = np.asarray(stops, dtype=np.int64)
        self.starts, self.stops = starts.tolist(), stops.tolist()
        self.size = starts.size
        self.lengths = stops - starts
        edges = np.empty(2 * starts.size, dtype=np.int64)
        edges[0::2], edges[1::2] = starts, stops
        if edges.size == 0 or np.all(edges[1:] >= edges[:-1]):
            # Disjoint spans in order (the usual reps): reduceat runs on the array itself. The stretches
            # between spans reduce into every second result, which is dropped; a span stopping at the
            # array's end needs no index for it (the last reduction runs to the end).
            self.gather = None
            self.idx = edges[:-1] if edges.size and edges[-1] >= n else edges
            self.take = slice(0, None, 2)
        else:
            # Overlapping spans: their samples gathered end to end.
            ends = np.cumsum(self.lengths)
            self.idx = ends - self.lengths
            self.gather = np.repeat(starts - self.idx, self.lengths) + np.arange(ends[-1])
            self.take = slice(None)

    def source(self, x: np.ndarray) -> np.ndarray:
        """The array the reductions run on: ``x`` itself, or its spans' samples gathered."""
        return x if self.gather is None else x[self.gather]

    def reduce(self, ufunc, src: np.ndarray, **kwargs) -> np.ndarray:
        """``ufunc`` over each span of ``src`` (from :meth:`source`)."""
        if not self.size:
            return np.zeros(0, dtype=kwargs.get("dtype", src.dtype))
        return ufunc.reduceat(src, self.idx, **kwargs)[self.take]

    def sums(self, x: np.ndarray) -> np.ndarray:
        """Float64 sum of each span of ``x`` itself (not of :meth:`source`), ``x[a:b].sum(dtype=np.float64)``.

        One call per span: that is numpy's pairwise sum, and reduceat adds in plain order, which differs
        in the last bits; proving them equal span by span costs more passes than these calls."""
        add = np.add.reduce
        return np.array([add(x[a:b], dtype=np.float64) for a, b in zip(self.starts, self.stops)],
                        dtype=np.float64)

    def true_counts(self, mask: np.ndarray) -> np.ndarray:
        """Number of True samples of ``mask`` in each span (clean channels have none: no pass over the spans)."""
        if not mask.any():
            return np.zeros(self.size, dtype=np.int64)
        return self.reduce(np.add, self.source(mask), dtype=np.int64)


def _first_burst_on_at(b: Bursts, starts: np.ndarray, ends: np.ndarray, lead: int) -> np.ndarray:
    """Per rep [start, end]: index of the first burst of ``b`` starting in [start − lead, end] that is still
    on at start (onsets are sorted), or −1."""
    lo = np.searchsorted(b.onsets, starts - lead, side="left")
    if np.all(b.offsets[1:] >= b.offsets[:-1]):
        # Offsets in order too (bursts of one muscle do not overlap): the bursts still on at start form a
        # suffix, so the first of them from lo on is the candidate; it qualifies if it starts by the end.
        i = np.maximum(lo, np.searchsorted(b.offsets, starts, side="left"))
        hit = i < len(b)
        hit[hit] = b.onsets[i[hit]] <= ends[hit]
        return np.where(hit, i, -1)
    out = np.full(starts.size, -1, dtype=np.int64)
    onsets, offsets = b.onsets.tolist(), b.offsets.tolist()
    for r, (s, e, i0) in enumerate(zip(starts.tolist(), ends.tolist(), lo.tolist())):
        for i in range(i0, len(onsets)):
            if onsets[i] > e:
                break
            if offsets[i] >= s:
                out[r] = i
                break
    return out


def rep_bursts(groups: list[dict[str, tuple[int, int]]], bursts: dict[str, Bursts], *, keys, others=(),
               fs: float, options: RepOptions | None = None) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Each muscle's burst in each rep.

    Parameters
    ----------
    groups : list of dict
        Reps from :func:`group_reps`.
    bursts : dict of str to Bursts
        Every muscle's bursts (sample indices, offsets inclusive).
    keys : sequence of str
        The muscles to report (those of the groups and ``others``, and any without bursts).
    others : sequence of str
        Muscles not grouped (e.g. erector spinae, glute med): each joins a rep with its first burst that starts
        at most ``options.other_muscle_lead_s`` before the rep and is still on when the rep starts.
    fs : float
        Sampling rate, Hz.

    Returns
    -------
    (onsets, offsets) : dict of str to int64 array, (reps,)
        Sample indices per muscle, −1 where the muscle has no burst in the rep.
    """
    opts = options or RepOptions()
    fs = check_fs(fs)
    on = {k: np.full(len(groups), -1, dtype=np.int64) for k in keys}
    off = {k: np.full(len(groups), -1, dtype=np.int64) for k in keys}
    for r, g in enumerate(groups):
        for k, (a, b) in g.items():
            on[k][r], off[k][r] = a, b
    if not groups:
        return on, off
    # The group's own span (absent keys hold −1: no onset, and an offset below any).
    start = np.min([np.where(on[k] >= 0, on[k], np.iinfo(np.int64).max) for k in keys], axis=0)
    end = np.max([off[k] for k in keys], axis=0)
    for k in others:
        i = _first_burst_on_at(bursts[k], start, end, int(opts.other_muscle_lead_s * fs))
        hit = i >= 0
        on[k][hit], off[k][hit] = bursts[k].onsets[i[hit]], bursts[k].offsets[i[hit]]
    return on, off


class RepMeasures(NamedTuple):
    """What :func:`measure_reps` measures, one array entry per rep (NaN where a value is missing).

    ``onsets``/``offsets``: sample indices per muscle (−1: no burst in the rep); ``onset_s``/``offset_s``: the
    same in seconds from the recording origin (NaN: none); ``start``/``end``: the rep's first onset and last
    offset (samples, inclusive), ``start_s``/``end_s`` in seconds; ``latency_ms``: onset of the pair's first
    muscle minus the second's, ms (negative: the first fired first); ``ratio``: the pair's mean envelopes over
    their bursts' span, each over its MVC reference, first / second; ``coactivation_index``: Falconer & Winter's
    index of the pair's normalised envelopes over the rep, %; ``mean_pct_mvc``/``peak_pct_mvc``: each muscle's
    mean and peak envelope over the rep, % of its MVC reference."""

    keys: tuple[str, ...]
    onsets: dict[str, np.ndarray]
    offsets: dict[str, np.ndarray]
    onset_s: dict[str, np.ndarray]
    offset_s: dict[str, np.ndarray]
    start: np.ndarray
    end: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    latency_ms: np.ndarray
    ratio: np.ndarray
    coactivation_index: np.ndarray
    mean_pct_mvc: dict[str, np.ndarray]
    peak_pct_mvc: dict[str, np.ndarray]

    def __len__(self) -> int:  # number of reps, not the tuple's arity
        return int(self.start.size)


def _pair_measures(pair, on, off, envs, refs, both, rep_spans, n):
    """(ratio, co-activation index) per rep of the pair (NaN where either muscle is missing)."""
    first, second = pair
    nan = np.full(both.size, np.nan)
    ratio, coact = nan.copy(), nan.copy()
    rg, rh = refs.get(first), refs.get(second)
    if not (both.any() and rg and rh):
        return ratio, coact
    # Over the span of the pair's bursts only (the other muscles may lead).
    a = np.minimum(on[first], on[second])[both]
    b = np.maximum(off[first], off[second])[both] + 1
    spans = _Spans(a, b, n)
    mean_g = spans.sums(envs[first]) / spans.lengths
    den = spans.sums(envs[second]) / spans.lengths / rh
    ratio[both] = np.where(den > 0, (mean_g / rg) / den, np.nan)
    # Co-activation index (Falconer & Winter 1985) over the whole rep: 100 · 2·Σmin(a, b) / Σ(a + b),
    # of the float32 normalised envelopes (whole-record arrays: cheaper than one slice per rep).
    ga = envs[first] / rg
    hb = envs[second] / rh
    tot = rep_spans.sums(ga) + rep_spans.sums(hb)
    ci = 100.0 * 2.0 * rep_spans.sums(np.minimum(ga, hb)) / tot
    coact = np.where(both & (tot > 0) & np.isfinite(tot), ci, np.nan)
    return ratio, coact


def measure_reps(groups: list[dict[str, tuple[int, int]]], bursts: dict[str, Bursts], envelopes: dict[str, np.ndarray],
                 *, fs: float, t0_s: float = 0.0, references: dict[str, float | None] | None = None, others=(),
                 options: RepOptions | None = None) -> RepMeasures:
    """Measure every rep: onsets, latency, amplitude ratio, %MVC and co-activation.

    Parameters
    ----------
    groups : list of dict
        Reps from :func:`group_reps`.
    bursts : dict of str to Bursts
        Every muscle's bursts (sample indices); ``others`` join the reps by :func:`rep_bursts`.
    envelopes : dict of str to array, (samples,)
        Each muscle's amplitude envelope in its unit (e.g. float32 from ``reengage.dsp.channel.rms_envelope``);
        its keys, in order, are the muscles reported.
    fs : float
        Sampling rate, Hz.
    t0_s : float
        Time of sample 0, seconds.
    references : dict of str to float or None, optional
        MVC references in each envelope's unit: %MVC and the ratio are of the normalised envelopes (a muscle
        without a reference has NaN %MVC, and the ratio is NaN without both of the pair's). None: not
        normalised; %MVC is NaN and the ratio and co-activation are of the envelopes as they are.
    others : sequence of str
        Muscles not grouped into reps but reported with them (see :func:`rep_bursts`).
    options : RepOptions, optional
        ``pair`` (latency and ratio) and ``other_muscle_lead_s``.

    Returns
    -------
    RepMeasures
    """
    opts = options or RepOptions()
    fs = check_fs(fs)
    keys = tuple(envelopes)
    n = next(iter(envelopes.values())).shape[-1] if envelopes else 0
    on, off = rep_bursts(groups, bursts, keys=keys, others=others, fs=fs, options=opts)
    count = len(groups)
    has = {k: on[k] >= 0 for k in keys}
    start = np.min([np.where(has[k], on[k], n) for k in keys], axis=0) if count else np.zeros(0, dtype=np.int64)
    end = np.max([off[k] for k in keys], axis=0) if count else np.zeros(0, dtype=np.int64)
    on_s = {k: t0_s + on[k] / fs for k in keys}
    rep_spans = _Spans(start, end + 1, n)
    nan = np.full(count, np.nan)
    first, second = opts.pair
    both = has[first] & has[second] if first in keys and second in keys else np.zeros(count, dtype=bool)
    latency = np.where(both, 1000.0 * (on_s[first] - on_s[second]), np.nan) if both.any() else nan
    refs = references if references is not None else {first: 1.0, second: 1.0}
    mean_pct, peak_pct = {}, {}
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio, coact = _pair_measures(opts.pair, on, off, envelopes, refs, both, rep_spans, n)
        for k in keys:
            ref = references.get(k) if references is not None else None
            if ref is None or not count:
                mean_pct[k] = peak_pct[k] = nan
                continue
            mean = rep_spans.sums(envelopes[k]) / rep_spans.lengths
            peak = rep_spans.reduce(np.maximum, rep_spans.source(envelopes[k])).astype(np.float64)
            mean_pct[k] = np.where(has[k], 100.0 * mean / ref, np.nan)
            peak_pct[k] = np.where(has[k], 100.0 * peak / ref, np.nan)
    return RepMeasures(
        keys=keys, onsets=on, offsets=off,
        onset_s={k: np.where(has[k], on_s[k], np.nan) for k in keys},
        offset_s={k: np.where(has[k], t0_s + off[k] / fs, np.nan) for k in keys},
        start=start, end=end, start_s=t0_s + start / fs, end_s=t0_s + end / fs, latency_ms=latency, ratio=ratio,
        coactivation_index=coact, mean_pct_mvc=mean_pct, peak_pct_mvc=peak_pct)


class RepChecks(NamedTuple):
    """What may exclude a rep (:func:`check_reps`), one entry per rep.

    ``cut``: the rep ends within ``edge_margin_s`` of the record's start or end (a burst still on there was
    cut by it); ``gaps``: per data gap, whether it lies within ``gap_margin_s`` of the rep; ``clipped_fraction``:
    per checked muscle, the fraction of the rep's samples clipped; ``motion``: per checked muscle, whether a
    motion artefact touches the rep."""

    cut: np.ndarray
    gaps: list[np.ndarray]
    clipped_fraction: dict[str, np.ndarray]
    motion: dict[str, np.ndarray]


def check_reps(start, end, *, n: int, fs: float, t0_s: float = 0.0, gaps_s=(), clip_masks=None, motion_masks=None,
               options: RepOptions | None = None) -> RepChecks:
    """The checks that exclude a rep whose numbers a recording problem would make wrong.

    Parameters
    ----------
    start, end : int array, (reps,)
        Each rep's first and last sample (``RepMeasures.start``/``end``), inclusive.
    n : int
        Samples in the record.
    fs : float
        Sampling rate, Hz.
    t0_s : float
        Time of sample 0, seconds.
    gaps_s : sequence of (start_s, end_s)
        Data gaps, seconds.
    clip_masks, motion_masks : dict of str to bool array, (n,)
        Per muscle to check: clipped samples and motion artefacts (``reengage.dsp.quality.channel_quality``'s
        ``clip_mask`` and ``motion_mask``).
    options : RepOptions, optional
        ``edge_margin_s`` and ``gap_margin_s``.

    Returns
    -------
    RepChecks
    """
    opts = options or RepOptions()
    fs = check_fs(fs)
    start, end = np.asarray(start, dtype=np.int64), np.asarray(end, dtype=np.int64)
    s_s, e_s = t0_s + start / fs, t0_s + end / fs
    # The margin covers the envelope windows, which end a burst up to ~100 ms before the last sample.
    edge = int(round(opts.edge_margin_s * fs))
    cut = (start <= edge) | (end >= n - 1 - edge)
    m = opts.gap_margin_s
    gaps = [(ga < e_s + m) & (gb > s_s - m) for ga, gb in gaps_s]
    spans = _Spans(start, end + 1, n)
    clipped, moved = {}, {}
    for k, mask in (clip_masks or {}).items():
        clipped[k] = spans.true_counts(check_mask(mask, n, f"clip_masks[{k!r}]")) / spans.lengths
    for k, mask in (motion_masks or {}).items():
        moved[k] = spans.true_counts(check_mask(mask, n, f"motion_masks[{k!r}]")) > 0
    return RepChecks(cut, gaps, clipped, moved)


def movement_onsets(start_s, end_s, movements_s, *, options: RepOptions | None = None) -> tuple[np.ndarray, set[int]]:
    """Each rep's movement onset: the first movement starting within [start − ``movement_lead_s``, end] and still
    on at the start, each movement used by one rep only.

    Later movements inside the rep (the leg lowered again, seen by the gyro alone) belong to the same rep, not to
    an unexplained motion: they are used too.

    Parameters
    ----------
    start_s, end_s : float array, (reps,)
        The reps' first onset and last offset, seconds (in time order).
    movements_s : sequence of (onset_s, offset_s)
        Movements in time order (``reengage.dsp.imu.movement_segments``), seconds on the same clock.

    Returns
    -------
    (onset_s, used)
        Float array (reps,), NaN where no movement matches; the indices of the movements used.
    """
    opts = options or RepOptions()
    lead = opts.movement_lead_s
    s_s, e_s = np.asarray(start_s, dtype=np.float64), np.asarray(end_s, dtype=np.float64)
    used: set[int] = set()
    onset = np.full(s_s.size, np.nan)
    starts = np.array([ma for ma, _ in movements_s], dtype=np.float64)
    # Movements are in time order: only those starting within [s − lead, e] can qualify.
    first_mi = np.searchsorted(starts, s_s - lead, side="left").tolist()
    last_mi = np.searchsorted(starts, e_s, side="right").tolist()
    for r, (s, e) in enumerate(zip(s_s.tolist(), e_s.tolist())):
        for mi in range(first_mi[r], last_mi[r]):
            ma, mb = movements_s[mi]
            if mi not in used and s - lead <= ma <= e and mb >= s:
                used.add(mi)
                if np.isnan(onset[r]):
                    onset[r] = ma
    return onset, used


__all__ = ["group_reps", "rep_bursts", "RepMeasures", "measure_reps", "RepChecks", "check_reps", "movement_onsets"]
