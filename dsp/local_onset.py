"""Burst onsets judged against the baseline just before each burst, as an examiner reads them.

A detector that learns rest once per record (:func:`~reengage.dsp.onsets.power_backtrack`: the quietest second,
or the marked rest) goes back from each burst's rise to the first departure from *that* rest. An examiner reading
the band-passed signal around one burst judges "the first sustained departure from the resting baseline"
(Hodges & Bui 1996) against the baseline in view: where low-level tonic firing or a few lead-in potentials come
before the contraction and then fall quiet again, they are that baseline, not its onset. :func:`local_onsets`
moves each onset to that departure:

1. the burst's main body: the first 10 ms bin from which the mean RMS of ``body_ms`` reaches ``body_fraction``
   of the burst's median bin RMS;
2. its rise: back from the main body to the last bin whose 30 ms mean RMS is under ``rise_fraction`` of that
   median (a strong lead-in that falls back before the main body is not the rise);
3. the local baseline: the ``percentile``-th percentile of the bin RMS over the ``lookback_ms`` before the
   rise (never into the previous burst); a bin is active above ``factor`` × that;
4. back from the rise over active bins and quiet gaps shorter than ``quiet_ms``, to the first active bin after
   the last quiet gap that long, then on to the first active bin from which at least ``density`` of the next
   ``sustain_ms`` are active (an isolated spike is not a sustained departure);
5. an onset moves *later* only when the signal between the detector's onset and the new one falls back to rest
   (``quiet_ms`` under ``later_factor`` × the local baseline), and by at most ``max_later_ms``: sparse first
   motor-unit potentials that lead straight into the contraction are its onset (what the detector found), and
   a longer stretch is tonic activity the burst grew out of, not a lead-in.

``keep_ms`` > 0 leaves the detector's onset where the two are that close.

The same rule across bursts (:func:`lead_ins`): a burst no longer than ``lead_in_max_ms`` that is followed within
``lead_in_within_ms`` by a burst with a higher peak (10 ms bin RMS) is that burst's lead-in, not a contraction of
its own; the detector drops it.

Bins are counted from each burst's given onset, so the result does not depend on where the record starts (a
live chain's sliding window gives the onsets the whole record gives).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ._checks import check_fs, check_signal
from ._util import as_float, cumsum0, window_samples


@dataclass(frozen=True)
class LocalOnsetOptions:
    """Settings of :func:`local_onsets` (module docstring for the steps).

    Attributes
    ----------
    bin_ms : float
        RMS bin length (ms).
    lookback_ms : float
        How far before the rise the local baseline is read (ms).
    percentile : float
        The local baseline: this percentile of the bin RMS over the lookback.
    factor : float
        A bin is active above this multiple of the local baseline.
    quiet_ms : float
        A quiet gap this long (ms) ends the backward walk: what came before it is lead-in, not onset.
    sustain_ms, density : float
        The onset is the first active bin from which at least ``density`` of the next ``sustain_ms`` are active.
    rise_fraction : float
        The rise: the 30 ms mean RMS reaches this fraction of the burst's median bin RMS.
    body_ms, body_fraction : float
        The main body: the mean RMS over the next ``body_ms`` reaches ``body_fraction`` of that median.
    keep_ms : float
        Onsets this close (ms) to the detector's are left where the detector put them (0: off).
    later_factor : float
        Moving an onset later needs ``quiet_ms`` under this multiple of the local baseline between the two.
    max_later_ms : float
        Nor does it move later than this (ms); :data:`reengage.dsp.quality.LEAD_IN_MS` is the same span.
    lead_in_max_ms, lead_in_within_ms : float
        A burst at most ``lead_in_max_ms`` long followed within ``lead_in_within_ms`` (from its end to the next
        onset) by a burst with a higher peak is a lead-in (:func:`lead_ins`); 0: no burst is.

    The defaults are the best of a grid (issue 14, ``reengage.validation.local_baseline``) on the tune split of
    the examiners' visual reference of the real recordings (UCI hamstrings and quadriceps, treadmill glute max):
    with them ``power_backtrack`` finds 87 % of the clear onsets on the held-back subjects (was 78 %) with 11 %
    extra onsets (was 20 %), and leaves the synthetic validation suite as it was (smooth ramps from rest: step 5
    never moves them later; one of 28 cells moved 1 ms of bias). ``later_factor`` keeps the onset at the first motor-unit potentials of
    ``tests/dsp/test_dsp_onsets_first_muap.py`` (UCI N03 biceps femoris); ``max_later_ms`` keeps tonic firing
    (UCI A04, a knee-abnormal subject) from leaving a burst and reading as motion artefacts beside it.
    ``lead_in_max_ms`` = 250 and ``lead_in_within_ms`` = 600 (issue 14, sixth round): the middle of a plateau on the
    tune split (150–250 ms and 400–800 ms score alike; 300 ms loses a tune onset). On the tune subjects' unmarked
    channels (marker 8) extra onsets 21.3 → 15.7 %, with no clear onset lost on any reference; the synthetic
    validation suite does not change.
    """

    bin_ms: float = 10.0
    lookback_ms: float = 600.0
    percentile: float = 25.0
    factor: float = 4.0
    quiet_ms: float = 50.0
    sustain_ms: float = 50.0
    density: float = 0.8
    rise_fraction: float = 0.3
    body_ms: float = 30.0
    body_fraction: float = 0.5
    keep_ms: float = 0.0
    later_factor: float = 2.0
    max_later_ms: float = 600.0
    lead_in_max_ms: float = 250.0
    lead_in_within_ms: float = 600.0


class _Bins:
    """The bin counts of one set of options at one sampling rate."""

    def __init__(self, o: LocalOnsetOptions, fs: float):
        self.m = window_samples(o.bin_ms, fs)
        per_bin = self.m * 1000.0 / fs  # ms
        self.lookback = max(1, int(round(o.lookback_ms / per_bin)))
        self.quiet = max(1, int(round(o.quiet_ms / per_bin)))
        self.sustain = max(1, int(round(o.sustain_ms / per_bin)))
        self.body = max(1, int(round(o.body_ms / per_bin)))
        self.keep = o.keep_ms * 1e-3 * fs
        self.max_later = o.max_later_ms * 1e-3 * fs


class _Pieces:
    """Consecutive pieces of one flat array, one per burst: piece i is ``flat[start[i]:stop[i]]``; ``owner[f]`` is
    the piece of flat index f. Every step below works on all bursts at once through these indices."""

    def __init__(self, lengths: np.ndarray):
        self.stop = np.cumsum(lengths)
        self.start = self.stop - lengths
        self.owner = np.repeat(np.arange(lengths.size), lengths)
        self.flat = np.arange(int(self.stop[-1]) if lengths.size else 0)


def _first_true(mask: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """For each range [lo_i, hi_i) of the flat ``mask``, its first True index, or −1."""
    pos = np.flatnonzero(mask)
    j = np.searchsorted(pos, lo)
    hit = np.minimum(j, max(pos.size - 1, 0))
    found = (j < pos.size) & (pos[hit] < hi) if pos.size else np.zeros(lo.size, dtype=bool)
    return np.where(found, pos[hit] if pos.size else -1, -1)


def _last_true(mask: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """For each range [lo_i, hi_i) of the flat ``mask``, its last True index, or −1."""
    pos = np.flatnonzero(mask)
    j = np.searchsorted(pos, hi) - 1
    hit = np.maximum(j, 0)
    found = (j >= 0) & (pos[hit] >= lo) if pos.size else np.zeros(lo.size, dtype=bool)
    return np.where(found, pos[hit] if pos.size else -1, -1)


def _run_ends(mask: np.ndarray, n: int) -> np.ndarray:
    """Flat indices f where ``mask[f − n + 1 … f]`` are all True (the last bin of a run of n)."""
    c = cumsum0(mask)
    f = np.arange(mask.size)
    return (f >= n - 1) & (c[f + 1] - c[np.maximum(f + 1 - n, 0)] == n)


def _quantiles(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, q: float) -> np.ndarray:
    """The ``q`` quantile (numpy's linear interpolation) of each range [lo_i, hi_i) of ``values`` (ranges in
    order, disjoint, none empty)."""
    counts = hi - lo
    idx = np.repeat(lo - np.r_[0, np.cumsum(counts)[:-1]], counts) + np.arange(int(counts.sum()))
    v = values[idx]
    # Sorted by (range, value): one float sort for the values' ranks, one integer sort of range × N + rank (a
    # third of np.lexsort's time on these sizes).
    order = np.argsort(v)
    rank = np.empty(v.size, dtype=np.int64)
    rank[order] = np.arange(v.size)
    key = np.repeat(np.arange(lo.size, dtype=np.int64) * v.size, counts) + rank
    ordered = v[order[np.sort(key) % max(v.size, 1)]]
    first = np.r_[0, np.cumsum(counts)[:-1]]
    pos = q * (counts - 1)
    below = np.floor(pos).astype(np.int64)
    a, b = ordered[first + below], ordered[first + np.minimum(below + 1, counts - 1)]
    t = pos - below
    return np.where(t >= 0.5, b - (b - a) * (1 - t), a + (b - a) * t)  # as numpy's lerp


class _Layout(NamedTuple):
    """Where each burst's bins sit: its piece, the bins of the burst itself [b0, b1) (flat), and the bin RMS."""

    pieces: _Pieces
    b0: np.ndarray
    b1: np.ndarray
    r: np.ndarray


def _layout(x: np.ndarray, on: np.ndarray, off: np.ndarray, floor: np.ndarray, b: _Bins) -> _Layout:
    """Bin each burst from ``lookback`` bins before its onset (not before ``floor``) to ``sustain`` bins past its
    end, the bins counted from its onset; the RMS of every bin."""
    m = b.m
    before = np.clip((on - floor) // m, 0, b.lookback)
    inside = np.maximum(1, (off - on + 1) // m)
    after = np.minimum(b.sustain, np.maximum(0, (x.size - on) // m - inside))
    pieces = _Pieces(before + inside + after)
    r = _bin_rms(x, on - before * m, pieces.stop - pieces.start, m)
    b0 = pieces.start + before
    return _Layout(pieces, b0, b0 + inside, r)


def _bin_rms(x: np.ndarray, starts: np.ndarray, bins: np.ndarray, m: int, chunk: int = 1 << 16) -> np.ndarray:
    """RMS of ``bins[i]`` consecutive ``m``-sample bins from each ``starts[i]``, concatenated: neighbouring pieces
    are joined up to ``chunk`` samples and squared together, so neither the per-call cost of one piece at a time
    nor a copy of every burst at once is paid."""
    out, group, size = [], [], 0
    for a, k in zip(starts.tolist(), (bins * m).tolist()):
        group.append(x[a:a + k])
        size += k
        if size >= chunk:
            out.append(np.concatenate(group))
            group, size = [], 0
    if group:
        out.append(np.concatenate(group))
    return np.concatenate([np.sqrt(np.mean(np.square(g).reshape(-1, m), axis=1)) for g in out])


def _rises(lay: _Layout, o: LocalOnsetOptions, b: _Bins) -> np.ndarray:
    """Each burst's rise (flat bin index): back from its main body to the last bin under ``rise_fraction`` of
    its median bin RMS."""
    p, r = lay.pieces, lay.r
    plateau = _quantiles(r, lay.b0, lay.b1, 0.5)[p.owner]
    c = cumsum0(r)
    f, stop, start = p.flat, p.stop[p.owner], p.start[p.owner]
    # The mean of bins f … f + body − 1 (zero past the piece's end, which can only lower it).
    ahead = (c[np.minimum(f + b.body, stop)] - c[f]) / b.body
    main = _first_true(ahead >= o.body_fraction * plateau, lay.b0, lay.b1)
    main = np.where(main >= 0, main, lay.b0)
    smooth = (c[np.minimum(f + 2, stop)] - c[np.maximum(f - 1, start)]) / 3.0  # centred 3-bin mean
    last = _last_true(smooth < o.rise_fraction * plateau, lay.b0, main + 1)
    return np.where(last >= 0, last + 1, lay.b0)


def _departures(lay: _Layout, rise: np.ndarray, level: np.ndarray, o: LocalOnsetOptions, b: _Bins) -> np.ndarray:
    """The sustained departure (flat bin) that leads into each rise, judged in the window [rise − lookback,
    rise + sustain) against ``level`` (module docstring, step 4)."""
    p, f = lay.pieces, lay.pieces.flat
    lo = np.maximum(rise - b.lookback, p.start)
    hi = np.minimum(rise + b.sustain, p.stop)
    active = lay.r > o.factor * level[p.owner]
    # After the last run of ``quiet`` inactive bins that ends at or before the rise.
    gap = _last_true(_run_ends(~active, b.quiet), lo + b.quiet - 1, rise + 1)
    start = np.where(gap >= 0, gap + 1, lo)
    ca = cumsum0(active)
    end = np.minimum(f + b.sustain, hi[p.owner])
    sustained = active & ((ca[end] - ca[f]) >= o.density * (end - f))
    # The rise comes from a centred 3-bin mean: the contraction may start one bin after it.
    k = _first_true(sustained, start, np.minimum(rise + 2, hi))
    first_active = _first_true(active, start, rise + 1)
    return np.where(k >= 0, k, np.where(first_active >= 0, first_active, rise))


def _moved(x: np.ndarray, on: np.ndarray, off: np.ndarray, floor: np.ndarray, o: LocalOnsetOptions,
           b: _Bins) -> np.ndarray:
    """:func:`local_onsets` of bursts that each have at least one bin of signal from their onset."""
    lay = _layout(x, on, off, floor, b)
    rise = _rises(lay, o, b)
    lo = np.maximum(rise - b.lookback, lay.pieces.start)
    enough = rise - lo >= b.quiet  # else too little signal before the rise to judge a baseline by
    level = np.full(on.size, np.inf)
    if enough.any():
        level[enough] = _quantiles(lay.r, lo[enough], rise[enough], o.percentile / 100.0)
    k = _departures(lay, rise, level, o, b)
    new = on + (k - lay.b0) * b.m
    move = enough & (np.abs(new - on) > b.keep) & (new - on <= b.max_later)
    # Later only past a return to rest: ``quiet`` bins under later_factor × the baseline between the two.
    rested = _first_true(_run_ends(lay.r <= o.later_factor * level[lay.pieces.owner], b.quiet),
                         lay.b0 + b.quiet - 1, k) >= 0
    move &= (k <= lay.b0) | rested
    return np.where(move, np.minimum(new, off), on)


def local_onsets(x, onsets, offsets, *, fs: float, options: LocalOnsetOptions | None = None,
                 floor=None, check_finite: bool = True) -> np.ndarray:
    """Each burst's onset moved to the sustained departure from the baseline just before it (module docstring).

    Parameters
    ----------
    x : array, (samples,)
        One channel of cleaned EMG (band-passed, mains removed), any unit.
    onsets, offsets : int arrays, (bursts,)
        The channel's bursts (first and last active sample), in order and disjoint, e.g. from
        :func:`~reengage.dsp.onsets.power_backtrack`.
    fs : float
        Sampling rate in Hz.
    options : LocalOnsetOptions, optional
        The settings (None: the defaults).
    floor : int array, (bursts,), optional
        The earliest sample each burst's baseline may read (e.g. just after a data gap); the previous burst's
        offset + 1 always bounds it.
    check_finite : bool
        Check that ``x`` holds no NaN or inf (a caller that has checked passes False).

    Returns
    -------
    int array, (bursts,)
        The onsets (samples), each between the burst's old onset − ``lookback_ms`` and its offset.
    """
    o = options or LocalOnsetOptions()
    x, on, off = _checked_bursts(x, onsets, offsets, check_finite)
    fs = check_fs(fs)
    lo = np.r_[0, off[:-1] + 1] if on.size else np.zeros(0, dtype=np.int64)
    if floor is not None:
        lo = np.maximum(lo, np.asarray(floor, dtype=np.int64).ravel())
    b = _Bins(o, fs)
    out = on.copy()
    # Under one bin of signal from the onset to the record's end: nothing to judge.
    room = x.size - on >= b.m
    if room.any():
        out[room] = _moved(x, on[room], off[room], lo[room], o, b)
    return out


def _checked_bursts(x, onsets, offsets, check_finite: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One channel ``x`` (float) and its bursts' onsets and offsets (int64), checked: paired, within ``x``, each
    onset at or before its offset."""
    x = as_float(check_signal(x, "x", ndim=(1,), check_finite=check_finite))
    on = np.asarray(onsets, dtype=np.int64).ravel()
    off = np.asarray(offsets, dtype=np.int64).ravel()
    if on.shape != off.shape:
        raise ValueError(f"onsets and offsets must pair up, got {on.size} onsets and {off.size} offsets")
    if on.size and (on.min() < 0 or off.max() >= x.size or np.any(off < on)):
        raise ValueError(f"bursts must lie within x's {x.size} samples, each onset at or before its offset")
    return x, on, off


def peak_bin_rms(x: np.ndarray, onsets: np.ndarray, offsets: np.ndarray, m: int) -> np.ndarray:
    """Each burst's largest RMS over ``m``-sample bins counted from its onset (a burst shorter than one bin: the RMS
    of its samples). ``onsets``/``offsets``: first and last sample of each burst, within ``x``."""
    dur = offsets - onsets + 1
    bins = dur // m
    out = np.empty(onsets.size)
    whole = bins > 0
    if whole.any():
        r = _bin_rms(x, onsets[whole], bins[whole], m)
        out[whole] = np.maximum.reduceat(r, np.r_[0, np.cumsum(bins[whole])[:-1]])
    if (~whole).any():
        lens = dur[~whole]
        idx = np.repeat(onsets[~whole] - np.r_[0, np.cumsum(lens)[:-1]], lens) + np.arange(int(lens.sum()))
        out[~whole] = np.sqrt(np.add.reduceat(np.square(x[idx]), np.r_[0, np.cumsum(lens)[:-1]]) / lens)
    return out


def lead_ins(x, onsets, offsets, *, fs: float, options: LocalOnsetOptions | None = None,
             check_finite: bool = True) -> np.ndarray:
    """Which bursts are the next burst's lead-in: at most ``lead_in_max_ms`` long, followed within
    ``lead_in_within_ms`` (from its last sample to the next onset) by a burst whose peak 10 ms RMS is higher.

    An examiner reading the band-passed signal ignores "a short burst followed by quiet before the main rise"
    (module docstring); :func:`local_onsets` applies that inside one burst, this across two that the detector
    kept apart.

    Parameters
    ----------
    x : array, (samples,)
        One channel of cleaned EMG (band-passed, mains removed), any unit.
    onsets, offsets : int arrays, (bursts,)
        The channel's bursts (first and last sample), in order and disjoint.
    fs : float
        Sampling rate in Hz.
    options : LocalOnsetOptions, optional
        ``lead_in_max_ms``, ``lead_in_within_ms`` and ``bin_ms`` (None: the defaults).
    check_finite : bool
        Check that ``x`` holds no NaN or inf.

    Returns
    -------
    bool array, (bursts,)
        True for a lead-in (never the last burst).
    """
    o = options or LocalOnsetOptions()
    x, on, off = _checked_bursts(x, onsets, offsets, check_finite)
    fs = check_fs(fs)
    out = np.zeros(on.size, dtype=bool)
    if on.size < 2 or o.lead_in_max_ms <= 0 or o.lead_in_within_ms <= 0:
        return out
    short = (off - on + 1)[:-1] <= o.lead_in_max_ms * 1e-3 * fs
    near = (on[1:] - off[:-1] - 1) <= o.lead_in_within_ms * 1e-3 * fs
    cand = np.flatnonzero(short & near)
    if cand.size:
        need = np.union1d(cand, cand + 1)
        peak = np.empty(on.size)
        peak[need] = peak_bin_rms(x, on[need], off[need], window_samples(o.bin_ms, fs))
        out[cand] = peak[cand + 1] > peak[cand]
    return out
