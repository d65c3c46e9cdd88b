"""Small vectorized helpers shared by the DSP steps (private)."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import numpy as np


def as_float(x) -> np.ndarray:
    """``x`` as a float64 array (no copy when it already is one)."""
    return np.asarray(x, dtype=np.float64)


def long_enough_for_filtfilt(n_samples: int, sos: np.ndarray) -> bool:
    """Whether ``scipy.signal.sosfiltfilt`` with its default padding accepts ``n_samples``: it needs
    strictly more samples than ``3 * (2 * sections + 1)`` (the largest default ``padlen``)."""
    return n_samples > 3 * (2 * np.asarray(sos).shape[0] + 1)


def window_samples(window_ms: float, fs: float, *, minimum: int = 1) -> int:
    """A window length in ms as a whole number of samples (at least ``minimum``)."""
    return max(int(minimum), int(round(float(window_ms) * 1e-3 * float(fs))))


def moving_mean(x: np.ndarray, n: int, *, axis: int = -1, causal: bool = False) -> np.ndarray:
    """Mean over a sliding window of ``n`` samples along ``axis``.

    Centered (zero delay) unless ``causal``, in which case the window ends at the current sample
    and the samples before the start count as zeros, which is exactly what a streaming filter fed
    from rest produces. Computed from a cumulative sum, so the cost does not depend on ``n``.
    """
    x = np.moveaxis(as_float(x), axis, -1)
    return np.moveaxis(moving_mean_from_cumsum(cumsum0(x), n, causal=causal), -1, axis)


_PAIRWISE_LEAF = 1 << 16


def _pairwise_sum(row: np.ndarray, fn, start: int, size: int) -> float:
    """Σ fn(row[start:start + size]) added up in numpy's own pairwise order: ``np.add.reduce`` over a
    contiguous run splits it at half (rounded down to a multiple of 8) until 128 values are left, so
    subtrees of up to 2¹⁶ values are reduced by numpy itself and joined the same way here."""
    if size <= _PAIRWISE_LEAF:
        return np.add.reduce(fn(row[start:start + size]))
    half = size // 2
    half -= half % 8
    return _pairwise_sum(row, fn, start, half) + _pairwise_sum(row, fn, start + half, size - half)


def std_rows(x: np.ndarray) -> np.ndarray:
    """``np.std(x, axis=-1)`` of a 2-D array, bit for bit, without its whole-record temporaries.

    ``np.std`` materialises ``x − mean`` and its square (two copies of a long record, page faults and
    all); here the squared deviations exist only for one pairwise subtree at a time, in the CPU cache.
    Rows that are short or not contiguous (where numpy may reduce in buffered pieces) go to ``np.std``.
    """
    x = as_float(x)
    if x.ndim != 2 or x.shape[-1] <= _PAIRWISE_LEAF or not x.flags.c_contiguous:
        return np.std(x, axis=-1)
    n = x.shape[-1]
    out = np.empty(x.shape[0])
    buf = np.empty(_PAIRWISE_LEAF)

    def squared_deviation(v: np.ndarray, mean: float) -> np.ndarray:  # (v − mean)², as np.std squares them
        d = np.subtract(v, mean, out=buf[:v.size])
        return np.square(d, out=d)

    for r, row in enumerate(x):
        mean = np.add.reduce(row) / n
        out[r] = _pairwise_sum(row, lambda v, m=mean: squared_deviation(v, m), 0, n) / n
    return np.sqrt(out)


def cumsum0(x: np.ndarray) -> np.ndarray:
    """Cumulative sum along the last axis with a leading zero (length + 1): the input of
    :func:`moving_mean_from_cumsum`, so several windows over one signal share one pass."""
    x = as_float(x)
    c = np.zeros(x.shape[:-1] + (x.shape[-1] + 1,), dtype=np.float64)
    np.cumsum(x, axis=-1, out=c[..., 1:])
    return c


def cumsum_into(c: np.ndarray, start: int, v: np.ndarray) -> None:
    """Continue a running sum: ``c[start + 1 : start + 1 + len(v)]`` = ``c[start]`` + cumsum(``v``) (1-D
    ``c``), with the additions in ``np.cumsum``'s order (``c[k + 1] = c[k] + v[k]``), so a record summed
    piece by piece, pieces in order, gives :func:`cumsum0`'s values bit for bit. ``v`` is overwritten."""
    if start:
        v[0] += c[start]
    np.cumsum(v, out=c[start + 1:start + 1 + v.size])


def power_cumsum(x: np.ndarray, *, block: int = 1 << 16) -> np.ndarray:
    """:func:`cumsum0` of ``x * x`` along the last axis, bit for bit, without the record-sized ``x * x``:
    squares of ``block`` samples at a time, added to the running sum while they are in the cache."""
    x = as_float(x)
    n = x.shape[-1]
    c = np.empty(x.shape[:-1] + (n + 1,))
    c[..., 0] = 0.0
    buf = np.empty(min(int(block), max(n, 1)))
    for r in np.ndindex(*x.shape[:-1]):
        row, cr = x[r], c[r]
        for s in range(0, n, buf.size):
            v = buf[:min(buf.size, n - s)]
            np.multiply(row[s:s + v.size], row[s:s + v.size], out=v)
            cumsum_into(cr, s, v)
    return c


def moving_mean_exceeds(c: np.ndarray, n: int, level: float, *, nonnegative: bool = False,
                        block: int = 1 << 16) -> np.ndarray:
    """``moving_mean_from_cumsum(c, n) > level`` (centered) for a 1-D signal's :func:`cumsum0` ``c``, bit
    for bit, without the moving mean as a record-sized array.

    With ``nonnegative`` (``c`` the running sum of a signal ≥ 0, so it never decreases), the record is
    first judged in pieces of n / 2 samples (at most 64) from ``c`` at their ends: every window of a
    piece lies within the union of the first and last window and contains their intersection, and
    rounding is monotonic, so ``fl(fl(c[union end] − c[union start]) / n)`` bounds every mean of the
    piece from above and the intersection's from below. Only pieces whose bounds straddle ``level`` (at
    the rises and falls of activity) are evaluated sample by sample. Otherwise the means are computed a
    ``block`` of samples at a time.
    """
    n = max(1, int(n))
    length = c.shape[-1] - 1
    half = n // 2
    if n >= length:
        return moving_mean_from_cumsum(c, n) > level
    out = np.empty(length, dtype=bool)
    # The full-window samples [half, length − n + half] as in moving_mean_from_cumsum (difference, then
    # the division by n), the ≤ n shrinking-window samples at the ends as moving_mean_at computes them.
    lo, hi = half, length - n + half + 1
    ends = np.r_[0:lo, hi:length]
    out[ends] = moving_mean_at(c, n, ends) > level
    if nonnegative:
        piece = max(1, min(64, n // 2))
        k = -(-(hi - lo) // piece)
        # c at the first and last sample of each piece (regular strides; the last piece may be short).
        first_lo = c[lo - half::piece][:k]
        first_hi = c[lo - half + n::piece][:k]
        last_lo = np.empty(k, dtype=c.dtype)
        last_hi = np.empty(k, dtype=c.dtype)
        last_lo[:-1] = c[lo - half + piece - 1::piece][:k - 1]
        last_hi[:-1] = c[lo - half + n + piece - 1::piece][:k - 1]
        last_lo[-1], last_hi[-1] = c[hi - 1 - half], c[hi - 1 - half + n]
        upper = (last_hi - first_lo) / n
        lower = (first_hi - last_lo) / n
        sure = lower > level
        whole = (hi - lo) // piece
        out[lo:lo + whole * piece].reshape(whole, piece)[...] = sure[:whole, None]
        out[lo + whole * piece:hi] = sure[-1]
        # NaN bounds (a NaN in the signal) compare False both ways: those pieces are evaluated too.
        todo = np.flatnonzero(~sure & ~(upper <= level))
        if todo.size:
            idx = (lo + todo * piece)[:, None] + np.arange(piece)[None, :]
            idx = idx[idx < hi]
            out[idx] = (c[idx - half + n] - c[idx - half]) / n > level
        return out
    buf = np.empty(min(int(block), hi - lo))
    for s in range(lo, hi, buf.size):
        v = buf[:min(buf.size, hi - s)]
        np.subtract(c[s - half + n:s - half + n + v.size], c[s - half:s - half + v.size], out=v)
        v /= n
        np.greater(v, level, out=out[s:s + v.size])
    return out


def moving_mean_from_cumsum(c: np.ndarray, n: int, *, causal: bool = False) -> np.ndarray:
    """:func:`moving_mean` along the last axis of the signal whose :func:`cumsum0` is ``c``."""
    n = max(1, int(n))
    length = c.shape[-1] - 1
    if n < length:
        # Slices for the bulk, index arrays only for the ≤ n edge samples.
        out = np.empty(c.shape[:-1] + (length,), dtype=np.float64)
        if causal:
            out[..., :n] = c[..., 1:n + 1] / n
            np.subtract(c[..., n + 1:], c[..., 1:length - n + 1], out=out[..., n:])
            out[..., n:] /= n
        else:
            half = n // 2
            np.subtract(c[..., n:], c[..., :length + 1 - n], out=out[..., half:length - n + half + 1])
            out[..., half:length - n + half + 1] /= n
            head = np.arange(half)
            tail = np.arange(length - n + half + 1, length)
            for idx in (head, tail):
                if idx.size:
                    lo = np.clip(idx - half, 0, length)
                    hi = np.clip(idx - half + n, 0, length)
                    out[..., idx] = (c[..., hi] - c[..., lo]) / np.maximum(hi - lo, 1)
        return out
    if causal:
        lo = np.maximum(np.arange(1, length + 1) - n, 0)
        out = (c[..., 1:] - c[..., lo]) / n
    else:
        half = n // 2
        idx = np.arange(length)
        lo = np.clip(idx - half, 0, length)
        hi = np.clip(idx - half + n, 0, length)
        # Shrink the window at the edges instead of zero-padding: an edge is not rest.
        out = (c[..., hi] - c[..., lo]) / np.maximum(hi - lo, 1)
    return out


def moving_mean_at(c: np.ndarray, n: int, idx) -> np.ndarray:
    """:func:`moving_mean_from_cumsum` (centered, shrinking at the edges) at the indices ``idx`` only,
    for a 1-D signal's :func:`cumsum0` ``c``: the same values without computing the whole record."""
    n = max(1, int(n))
    length = c.shape[-1] - 1
    idx = np.asarray(idx, dtype=np.int64)
    half = n // 2
    if idx.size and idx.min() >= half and idx.max() <= length - n + half:
        # Every window whole (the usual case, away from the record's ends): the same quotient by n
        # without the clipping.
        lo = idx - half
        return (c[lo + n] - c[lo]) / n
    lo = np.clip(idx - half, 0, length)
    hi = np.clip(idx - half + n, 0, length)
    return (c[hi] - c[lo]) / np.maximum(hi - lo, 1)


def forward_mean_at(c: np.ndarray, n, idx) -> np.ndarray:
    """:func:`forward_mean_from_cumsum` at the indices ``idx`` only (``c``: a 1-D signal's :func:`cumsum0`);
    ``n`` may be an array broadcasting against ``idx`` (one window length per row)."""
    length = c.shape[-1] - 1
    end = np.asarray(idx + n)
    if end.size and end.max() <= length and np.min(n) >= 1:
        return (c[end] - c[idx]) / n  # every window whole: the same quotient without the clipping
    end = np.minimum(end, length)
    return (c[end] - c[idx]) / np.maximum(end - idx, 1)


def forward_mean_from_cumsum(c: np.ndarray, n: int) -> np.ndarray:
    """Mean over the ``n`` samples *starting* at each sample (Hodges & Bui's window), from the signal's
    :func:`cumsum0` ``c``; the window shrinks over the record's last ``n − 1`` samples."""
    n = max(1, int(n))
    length = c.shape[-1] - 1
    out = np.empty(c.shape[:-1] + (length,), dtype=np.float64)
    full = max(length - n + 1, 0)
    if full:
        np.subtract(c[..., n:n + full], c[..., :full], out=out[..., :full])
        out[..., :full] /= n
    tail = np.arange(full, length)
    if tail.size:
        out[..., tail] = (c[..., length:length + 1] - c[..., tail]) / (length - tail)
    return out


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop (exclusive) indices of the runs of True in a 1-D boolean array."""
    m = np.asarray(mask, dtype=bool).ravel()
    if m.size == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    # Change points (one comparison per sample), closed by the record's ends when they are True;
    # the edges then alternate start, stop, start, stop, ...
    edges = np.flatnonzero(m[1:] != m[:-1]) + 1
    if m[0]:
        edges = np.concatenate(([0], edges))
    if m[-1]:
        edges = np.concatenate((edges, [m.size]))
    return edges[0::2], edges[1::2]


def fill_short_gaps(mask: np.ndarray, max_gap: int) -> np.ndarray:
    """Close runs of False no longer than ``max_gap`` samples that lie between two runs of True."""
    if max_gap <= 0:
        return np.asarray(mask, dtype=bool)
    out = np.array(mask, dtype=bool)
    starts, stops = runs(~out)
    inner = (starts > 0) & (stops < out.size) & ((stops - starts) <= max_gap)
    for a, b in zip(starts[inner], stops[inner]):
        out[a:b] = True
    return out


def drop_short_runs(mask: np.ndarray, min_len: int) -> np.ndarray:
    """Remove runs of True shorter than ``min_len`` samples."""
    out = np.array(mask, dtype=bool)
    if min_len <= 1:
        return out
    starts, stops = runs(out)
    short = (stops - starts) < min_len
    for a, b in zip(starts[short], stops[short]):
        out[a:b] = False
    return out


def intervals_mask(n: int, fs: float, intervals_s, *, t0_s: float = 0.0) -> np.ndarray:
    """Boolean mask of length ``n`` that is True inside the (onset_s, duration_s) intervals."""
    iv = np.asarray(list(intervals_s), dtype=np.float64).reshape(-1, 2)
    starts = np.floor((iv[:, 0] - t0_s) * fs).astype(np.int64)
    stops = np.ceil((iv[:, 0] + iv[:, 1] - t0_s) * fs).astype(np.int64)
    return spans_mask(int(n), starts, stops)


def spans_mask(n: int, starts: np.ndarray, stops: np.ndarray, *, inside: bool = True) -> np.ndarray:
    """Boolean mask of ``n`` samples, True in each [start, stop) (clipped to the record; spans may overlap
    or be empty), written in one pass from run lengths rather than one slice per span.
    ``inside=False``: the complement, True outside every span."""
    starts = np.clip(np.asarray(starts, dtype=np.int64), 0, n)
    stops = np.clip(np.asarray(stops, dtype=np.int64), 0, n)
    keep = stops > starts
    order = np.argsort(starts[keep], kind="stable")
    starts, stops = starts[keep][order], stops[keep][order]
    if starts.size == 0:
        return np.full(n, not inside, dtype=bool)
    # A span starting at or before the furthest stop so far extends the current one.
    first = np.ones(starts.size, dtype=bool)
    first[1:] = starts[1:] > np.maximum.accumulate(stops)[:-1]
    heads = np.flatnonzero(first)
    edges = np.empty(2 * heads.size + 2, dtype=np.int64)
    edges[0], edges[-1] = 0, n
    edges[1:-1:2] = starts[heads]
    edges[2:-1:2] = np.maximum.reduceat(stops, heads)
    values = np.full(edges.size - 1, not inside, dtype=bool)
    values[1::2] = inside
    return np.repeat(values, np.diff(edges))


def last_true_before(mask: np.ndarray) -> np.ndarray:
    """For each index i, the largest j <= i with mask[j] True, or -1."""
    idx = np.where(mask, np.arange(mask.size), -1)
    return np.maximum.accumulate(idx)


def first_true_after(mask: np.ndarray) -> np.ndarray:
    """For each index i, the smallest j >= i with mask[j] True, or len(mask)."""
    n = mask.size
    idx = np.where(mask, np.arange(n), n)
    return np.minimum.accumulate(idx[::-1])[::-1]


_blas_lock = threading.Lock()
_blas_limiter = None
_blas_controller = None


@contextmanager
def single_threaded_blas():
    """Hold BLAS to one thread inside the block, then restore the process's setting.

    Our matrix products are thin (samples × a few sinusoids) and memory-bound: BLAS threads gain nothing,
    and when the cores are busy (another process, a recording, our own channel threads) every product
    waits for a descheduled BLAS thread — on a loaded 2-core machine the mains regression ran 5–7× slower.
    The setting is process-wide and OpenBLAS only honours a restore from the thread that set it, so the
    first block to enter sets it and restores it when it ends; blocks entered meanwhile (nested, or in
    other threads) leave it alone.
    """
    global _blas_limiter, _blas_controller
    with _blas_lock:
        mine = _blas_limiter is None
        if mine:
            if _blas_controller is None:
                # Finding the loaded thread pools scans every shared library of the process (2–5 ms, as much
                # as a channel's mains regression), so it is done once: numpy's and scipy's BLAS, the ones
                # these products use, are loaded by then (this module imports numpy, its callers scipy).
                from threadpoolctl import ThreadpoolController

                _blas_controller = ThreadpoolController()
            _blas_limiter = _blas_controller.limit(limits=1, user_api="blas")
    try:
        yield
    finally:
        if mine:
            with _blas_lock:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None
