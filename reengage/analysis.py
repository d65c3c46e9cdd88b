"""A :class:`~reengage.model.Recording` → the ``reengage analyze --json`` document.

The shape is fixed by ``shared/contracts/analysis.md``; every number is a plain float rounded to a
sensible precision or ``null`` (never NaN). The steps are the pure functions of :mod:`reengage.dsp`:
clean → envelope → baseline → onsets → reps → per-rep measures → quality → summary.

A rep is one activation of the hip extensors: the glute max and hamstring bursts that overlap in
time. Reps that a quality problem (data gap, unusable electrode, clipping, motion artefact) would
turn into a wrong number are listed with ``"excluded": true`` and their reasons, and left out of the
summary.
"""

from __future__ import annotations

import math
import os
import queue
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from reengage.dsp import filters
from reengage.dsp._util import (intervals_mask, moving_mean, moving_mean_at, moving_mean_from_cumsum, power_cumsum,
                                single_threaded_blas, spans_mask, window_samples)
from reengage.dsp.baseline import baseline_mask
from reengage.dsp.imu import movement_segments
from reengage.dsp.onsets import DEFAULT_METHOD, Bursts, detect_bursts, envelope_bursts, power_backtrack_with_power
from reengage.dsp.quality import channel_quality
from reengage.dsp.reps import group_reps
from reengage.model import MUSCLE_ROLES, Recording, ToPhysical

ENVELOPE_WINDOW_MS = 100.0  # amplitude envelope for ratios and %MVC (De Luca 1997: 50–250 ms)
MVC_WINDOW_MS = 500.0  # MVC reference: peak of a 500 ms moving RMS (SENIAM; Burden 2010)
OTHER_MUSCLE_LEAD_S = 0.5  # erector spinae / glute med may start this much before the rep proper
CLIP_REP_MAX_FRACTION = 0.01
EDGE_MARGIN_S = 0.15  # a rep ending this close to an edge of the recording was cut by it

GLUTE, HAM = "glute_max", "hamstrings"


def _num(v, nd: int):
    """A JSON-safe rounded float, or None for missing / NaN / inf."""
    if v is None:
        return None
    v = float(v)
    if not math.isfinite(v):
        return None
    r = round(v, nd)
    return 0.0 if r == 0 else r


def _nums(values: np.ndarray, nd: int) -> list:
    """``[_num(v, nd) for v in values]`` for a float array, NaN where a value is missing; one pass, no call
    per value (the reps give tens of thousands)."""
    return [(round(v, nd) or 0.0) if math.isfinite(v) else None for v in np.asarray(values, dtype=np.float64).tolist()]


def _median(vals):
    v = [x for x in vals if x is not None and math.isfinite(x)]
    return float(np.median(v)) if v else None


def _iqr(vals):
    v = [x for x in vals if x is not None and math.isfinite(x)]
    if len(v) < 2:
        return None
    q1, q3 = np.percentile(v, [25, 75])
    return float(q3 - q1)


def _gap_mask(recording: Recording, stream) -> np.ndarray:
    gaps = [(g.onset_s, g.duration_s) for g in recording.gaps if g.stream in (stream.name, "")]
    return intervals_mask(stream.n_samples, stream.fs_hz, gaps, t0_s=stream.t0_s)


def _event_mask(recording: Recording, stream, pred) -> np.ndarray:
    spans = [(e.onset_s, e.duration_s) for e in recording.events if pred(e.label)]
    return intervals_mask(stream.n_samples, stream.fs_hz, spans, t0_s=stream.t0_s)


def _channel_keys(channels) -> list[str]:
    """Output key per channel: its role, or its name when the role is missing or already taken."""
    keys, used = [], set()
    for ch in channels:
        k = ch.role if ch.role and ch.role not in used else ch.name
        if k in used:
            k = f"{k}_{len(keys)}"
        used.add(k)
        keys.append(k)
    return keys


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


def _rep_bursts(groups, keys, bursts, others, fs) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(onsets, offsets) per channel key: the sample of its burst in each rep, −1 where it has none.

    A rep is its group of primary bursts; every other muscle joins with its first burst that starts at
    most OTHER_MUSCLE_LEAD_S before the group and is still on when the group starts."""
    on = {k: np.full(len(groups), -1, dtype=np.int64) for k in keys}
    off = {k: np.full(len(groups), -1, dtype=np.int64) for k in keys}
    for r, g in enumerate(groups):
        for k, (a, b) in g.items():
            on[k][r], off[k][r] = a, b
    # The group's own span (absent keys hold −1: no onset, and an offset below any).
    start = np.min([np.where(on[k] >= 0, on[k], np.iinfo(np.int64).max) for k in keys], axis=0)
    end = np.max([off[k] for k in keys], axis=0)
    for k in others:
        i = _first_burst_on_at(bursts[k], start, end, int(OTHER_MUSCLE_LEAD_S * fs))
        hit = i >= 0
        on[k][hit], off[k][hit] = bursts[k].onsets[i[hit]], bursts[k].offsets[i[hit]]
    return on, off


def _true_counts(mask: np.ndarray, spans: _Spans) -> np.ndarray:
    """Number of True samples of ``mask`` in each span (clean channels have none: no pass over the spans)."""
    if not mask.any():
        return np.zeros(spans.size, dtype=np.int64)
    return spans.reduce(np.add, spans.source(mask), dtype=np.int64)


def _reps(*, groups, bursts, primary, others, keys, envs, refs, normalization, quality, n, fs, t0, gap_spans,
          movements) -> tuple[list[dict], list[str], set[int]]:
    """The reps' entries, their notes (in order) and the indices of the movements they used.

    Each measure is computed for all reps at once (peaks and sample counts by one reduceat per channel;
    sums by one pairwise sum per rep, as before, so every number is the same to the last bit), then
    the entries are assembled rep by rep from columns of rounded values."""
    if not groups:
        return [], [], set()
    on, off = _rep_bursts(groups, keys, bursts, others, fs)
    has = {k: on[k] >= 0 for k in keys}
    start = np.min([np.where(has[k], on[k], n) for k in keys], axis=0)
    end = np.max([off[k] for k in keys], axis=0)
    on_s = {k: t0 + on[k] / fs for k in keys}
    off_s = {k: t0 + off[k] / fs for k in keys}
    s_s, e_s = t0 + start / fs, t0 + end / fs
    rep_spans = _Spans(start, end + 1, n)
    nan = np.full(len(groups), np.nan)
    both = has[GLUTE] & has[HAM] if GLUTE in keys and HAM in keys else np.zeros(len(groups), dtype=bool)

    latency = np.where(both, 1000.0 * (on_s[GLUTE] - on_s[HAM]), np.nan) if both.any() else nan
    rg = refs.get(GLUTE) if normalization != "none" else 1.0
    rh = refs.get(HAM) if normalization != "none" else 1.0
    ratio, coact = nan.copy(), nan.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        if both.any() and rg and rh:
            # Over the span of the glute and hamstring bursts only (the other muscles may lead).
            a = np.minimum(on[GLUTE], on[HAM])[both]
            b = np.maximum(off[GLUTE], off[HAM])[both] + 1
            spans = _Spans(a, b, n)
            mean_g = spans.sums(envs[GLUTE]) / spans.lengths
            den = spans.sums(envs[HAM]) / spans.lengths / rh
            ratio[both] = np.where(den > 0, (mean_g / rg) / den, np.nan)
            # Co-activation index (Falconer & Winter 1985) over the whole rep: 100 · 2·Σmin(a, b) / Σ(a + b),
            # of the float32 normalised envelopes (whole-record arrays: cheaper than one slice per rep).
            ga = envs[GLUTE] / rg
            hb = envs[HAM] / rh
            tot = rep_spans.sums(ga) + rep_spans.sums(hb)
            ci = 100.0 * 2.0 * rep_spans.sums(np.minimum(ga, hb)) / tot
            coact = np.where(both & (tot > 0) & np.isfinite(tot), ci, np.nan)
            del ga, hb
        mean_pct, peak_pct = {}, {}
        for k in keys:
            ref = refs.get(k)
            if ref is None:
                mean_pct[k] = peak_pct[k] = nan
                continue
            mean = rep_spans.sums(envs[k]) / rep_spans.lengths
            peak = rep_spans.reduce(np.maximum, rep_spans.source(envs[k])).astype(np.float64)
            mean_pct[k] = np.where(has[k], 100.0 * mean / ref, np.nan)
            peak_pct[k] = np.where(has[k], 100.0 * peak / ref, np.nan)

    # Quality: anything that would make a rep's numbers wrong excludes it.
    # A burst still on when the recording starts or stops was cut: its onset or offset, and with them
    # the rep's window and ratio, are the recording's edge, not the muscle. The margin covers the
    # envelope windows, which end a burst up to ~100 ms before the last sample.
    edge = int(round(EDGE_MARGIN_S * fs))
    cut = ((start <= edge) | (end >= n - 1 - edge)).tolist()
    gap_hits = [((ga < e_s + 0.2) & (gb > s_s - 0.2)).tolist() for ga, gb in gap_spans]
    checks = []  # per checked channel: (key, why it is unusable or None, clipped fraction, motion) per rep
    for k in [k for k in (GLUTE, HAM) if k in quality] or primary:
        q = quality[k]
        if not q["usable"]:
            checks.append((k, f"{k}: channel unusable ({', '.join(q['flags'])})", None, None))
            continue
        clipped = _true_counts(q["clip_mask"], rep_spans) / rep_spans.lengths
        moved = _true_counts(q["motion_mask"], rep_spans) > 0
        checks.append((k, None, clipped.tolist(), moved.tolist()))

    # The first movement starting in the rep is its onset; later ones inside the rep (the leg lowered
    # again, seen by the gyro alone) belong to the same rep, not to an unexplained motion. Movements are
    # in time order: only those starting within [s_s − 0.5, e_s] can qualify.
    used_movements: set[int] = set()
    movement_onset = np.full(len(groups), np.nan)
    if movements is not None:
        movement_starts = np.array([ma for ma, _ in movements], dtype=np.float64)
        first_mi = np.searchsorted(movement_starts, s_s - 0.5, side="left").tolist()
        last_mi = np.searchsorted(movement_starts, e_s, side="right").tolist()
        for r, (s, e) in enumerate(zip(s_s.tolist(), e_s.tolist())):
            for mi in range(first_mi[r], last_mi[r]):
                ma, mb = movements[mi]
                if mi not in used_movements and s - 0.5 <= ma <= e and mb >= s:
                    used_movements.add(mi)
                    if np.isnan(movement_onset[r]):
                        movement_onset[r] = ma

    # The entries, from columns of rounded values (NaN: missing → None).
    ons = {k: np.where(has[k], on_s[k], np.nan) for k in keys}
    on_raw = {k: ons[k].tolist() for k in keys}
    on_col = {k: _nums(ons[k], 4) for k in keys}
    off_col = {k: _nums(np.where(has[k], off_s[k], np.nan), 4) for k in keys}
    mean_col = {k: _nums(mean_pct[k], 1) for k in keys}
    peak_col = {k: _nums(peak_pct[k], 1) for k in keys}
    re_col = {k: _nums(1000.0 * (ons[k] - movement_onset), 1) for k in keys}
    start_col, end_col, mo_col = _nums(s_s, 4), _nums(e_s, 4), _nums(movement_onset, 4)
    lat_col, ratio_col, coact_col = _nums(latency, 1), _nums(ratio, 3), _nums(coact, 1)
    both_l = both.tolist()
    has_l = {k: has[k].tolist() for k in keys}
    missing_ratio_ref = not (rg and rh)
    reps, notes = [], []
    for r in range(len(groups)):
        rep_notes, reasons = [], []
        if not both_l[r]:
            missing = [k for k in (GLUTE, HAM) if k in keys and on_col[k][r] is None]
            if missing:
                rep_notes.append(f"no burst detected in {', '.join(missing)}: latency and ratio are null")
        elif missing_ratio_ref:
            rep_notes.append("glute_max or hamstrings has no MVC reference: ratio is null")
        if cut[r]:
            reasons.append("rep cut by the start or end of the recording")
        for (ga, gb), hit in zip(gap_spans, gap_hits):
            if hit[r]:
                reasons.append(f"data gap at {ga:.2f}–{gb:.2f} s overlaps the rep")
        for k, unusable, clipped, moved in checks:
            if unusable:
                reasons.append(unusable)
                continue
            if clipped[r] > CLIP_REP_MAX_FRACTION:
                reasons.append(f"{k}: clipped in {100 * clipped[r]:.0f}% of the rep")
            if moved[r]:
                reasons.append(f"{k}: motion artefact at the rep")
        rep = {
            "index": r,
            "start_s": start_col[r],
            "end_s": end_col[r],
            "onset_s": {k: on_col[k][r] for k in keys},
            "offset_s": {k: off_col[k][r] for k in keys},
            "onset_latency_ms": lat_col[r],
            "firing_order": sorted((k for k in keys if has_l[k][r]), key=lambda k: on_raw[k][r]),
            "glute_hamstring_ratio": ratio_col[r],
            "mean_pct_mvc": {k: mean_col[k][r] for k in keys},
            "peak_pct_mvc": {k: peak_col[k][r] for k in keys},
            "coactivation_index": coact_col[r],
            "excluded": bool(reasons),
            "exclusion_reasons": reasons,
        }
        if movements is not None:
            rep["movement_onset_s"] = mo_col[r]
            rep["onset_re_movement_ms"] = {k: re_col[k][r] for k in keys}
        reps.append(rep)
        notes.extend(f"rep {r}: {m}" for m in rep_notes)
        notes.extend(f"rep {r} excluded: {m}" for m in reasons)
    return reps, notes, used_movements


def _default_threads() -> int:
    """Worker threads for the channels: two when this process may use two cores or more.

    Each thread holds about five channel-lengths of float64 temporaries, so two keep the peak memory
    within ≈ 3× a 4-channel recording; more threads would gain little on memory-bound steps."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, 2))


def _imu_movements(recording: Recording) -> tuple[dict | None, list[tuple[float, float]] | None, str | None]:
    """(imu info, movement (onset_s, offset_s) list, note) from the IMU stream, if there is one."""
    imu = recording.imu
    if imu is None or not imu.n_samples:
        return None, None, None
    gyr_idx = [i for i, c in enumerate(imu.channels) if c.name.lower().startswith(("gyr", "gyro"))]
    if not gyr_idx:
        return None, None, "IMU stream has no gyroscope channels: no movement onsets"
    ifs = float(imu.fs_hz)
    acc_idx = [i for i, c in enumerate(imu.channels) if c.name.lower().startswith("acc")]
    phys_imu = imu.physical()
    # Tilt needs the resting posture: a marked rest gives it. Without one, the quietest stretch
    # may be a held lift (prone hip extension holds the leg up for seconds), so tilt would call
    # the rest posture "moved"; then movements come from the gyro alone.
    rest_imu = _event_mask(recording, imu, lambda lb: lb == "rest")
    use_tilt = len(acc_idx) == 3 and rest_imu.any()
    mv = movement_segments(phys_imu[gyr_idx], fs=ifs, acc=phys_imu[acc_idx] if use_tilt else None,
                           rest=rest_imu if rest_imu.any() else None,
                           exclude=_gap_mask(recording, imu), axis=0)
    found = [(imu.t0_s + a / ifs, imu.t0_s + b / ifs) for a, b in zip(mv.onsets.tolist(), mv.offsets.tolist())]
    return {"fs_hz": ifs, "movements": len(found)}, found, None


def analyze(recording: Recording, *, mvc: dict[str, float] | None = None, method: str = DEFAULT_METHOD,
            threads: int | None = None) -> dict:
    """Analyse a recording: per-channel quality, reps with onsets/latency/order/ratio, and a summary.

    ``mvc`` gives MVC reference amplitudes by role (or channel name) in the unit of that muscle's
    envelope (the channel's unit); without it references come from ``mvc:<role>`` trials.
    ``method`` is the onset detector (see :mod:`reengage.dsp.onsets`). ``threads``: channels processed
    at once (default: 2 when two cores are usable; 1 = one after another, as in ``analyze --all``'s
    worker processes). The result does not depend on it.
    """
    n_channels = sum(1 for c in recording.emg.channels if c.kind in ("raw", "envelope"))
    workers = max(1, min(int(threads) if threads else _default_threads(), n_channels))
    # BLAS is held to one thread: its products here are thin and memory-bound, and BLAS threads competing
    # with the channel threads for the cores stall each other.
    with single_threaded_blas():
        if workers == 1:
            return _analyze(recording, mvc=mvc, method=method, pool=None)
        # This thread is one of the workers: it would only wait otherwise, and its allocations reuse the
        # main heap, where a worker thread's large arrays are page-faulted afresh far more often.
        with ThreadPoolExecutor(max_workers=workers - 1, thread_name_prefix="reengage-analyze") as pool:
            return _analyze(recording, mvc=mvc, method=method, pool=pool, helpers=workers - 1)


def _map_here_and_on(pool: ThreadPoolExecutor, helpers: int, fn, n: int) -> list:
    """``[fn(i) for i in range(n)]`` computed by this thread and ``helpers`` tasks on ``pool`` together,
    each taking the next ``i`` when it is free (the calls differ in cost)."""
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(n):
        todo.put(i)
    out: list = [None] * n

    def drain() -> None:
        while True:
            try:
                i = todo.get_nowait()
            except queue.Empty:
                return
            out[i] = fn(i)

    tasks = [pool.submit(drain) for _ in range(helpers)]
    drain()
    for task in tasks:
        task.result()
    return out


def _analyze(recording: Recording, *, mvc, method: str, pool: ThreadPoolExecutor | None, helpers: int = 0) -> dict:
    """:func:`analyze`, with the channels processed by this thread and ``helpers`` threads of ``pool``, or
    one after another without a pool."""
    # The IMU is independent of the EMG: a worker takes it now, on the core this thread leaves idle while
    # it prepares the channels.
    imu_future = pool.submit(_imu_movements, recording) if pool is not None else None
    emg = recording.emg
    fs = float(emg.fs_hz)
    n = emg.n_samples
    t0 = float(emg.t0_s)
    notes: list[str] = []
    muscle_idx = [i for i, c in enumerate(emg.channels) if c.kind in ("raw", "envelope")]
    channels = [emg.channels[i] for i in muscle_idx]
    keys = _channel_keys(channels)
    gap = _gap_mask(recording, emg)
    rest_ev = _event_mask(recording, emg, lambda lb: lb == "rest")
    mvc_ev = _event_mask(recording, emg, lambda lb: lb.startswith("mvc:"))
    rest = rest_ev & ~gap
    rest_for_detection = rest if np.count_nonzero(rest) >= 0.5 * fs else None
    if rest_for_detection is None:
        notes.append("no marked rest of at least 0.5 s: baseline taken from each channel's quietest 1 s window")

    raw_rows = [j for j, c in enumerate(channels) if c.kind == "raw"]

    to_physical = [ToPhysical([ch]) for ch in channels]

    def physical(j: int, samples: int | None = None) -> np.ndarray:
        """Channel j (its first ``samples``) in its unit, as a new float64 array."""
        i = muscle_idx[j]
        return to_physical[j](emg.data[i:i + 1, :samples])[0]

    # Channel by channel from here on: only the envelopes (float32) of all channels are kept, so the
    # peak memory stays near one extra copy of the recording per worker thread.
    mains_hz, lines, first_minute = None, (), {}
    if raw_rows and n:
        # The mains line is found on at most 60 s of every lead together (a handful of seconds of data).
        probe_n = min(n, int(60 * fs))
        probe = filters.remove_dc(np.vstack([physical(j, probe_n) for j in raw_rows]))
        mains_hz, lines = filters.mains_lines(probe, fs=fs)
        # Each row (remove_dc works row by row) is also that lead's first minute for its mains level.
        first_minute = dict(zip(raw_rows, probe))

    # With enough marked rest, every channel's baseline is that rest (the envelope only matters without):
    # one mask for all channels, read-only.
    rest_baseline = None
    if rest_for_detection is not None:
        rest_baseline = baseline_mask(n, fs=fs, rest_mask=rest_for_detection, exclude=gap)[0]

    given = {str(k): float(v) for k, v in (mvc or {}).items()}
    win = window_samples(MVC_WINDOW_MS, fs)

    def per_channel(j: int) -> tuple[Bursts | None, np.ndarray, float | None, str | None, dict]:
        """One channel from stored samples to (bursts, float32 envelope, MVC reference, its source, quality)."""
        ch, key = channels[j], keys[j]
        burst = None
        csq = None  # cumulative sum of a raw channel's power (shared by several windows)
        if ch.kind == "raw":
            row = filters.clean(physical(j), fs=fs, mains_hz=mains_hz, lines_hz=lines,
                                    overwrite_x=True) if n else np.zeros(0)  # physical() is a fresh copy
            # Gap samples hold a fill value, not signal; the filter rings across gap edges, so zero them.
            if gap.any():
                row[gap] = 0.0
            # One cumulative sum of the power serves every window over it: the 100 ms envelope (also the
            # default detector's detection envelope), the 500 ms MVC envelope and the 20 ms motion check.
            csq = power_cumsum(row)
            ms = moving_mean_from_cumsum(csq, window_samples(ENVELOPE_WINDOW_MS, fs))
            if n and method == "power_backtrack":
                burst = power_backtrack_with_power(row, fs=fs, pd=ms[None, :], rest=rest_for_detection,
                                                   exclude=gap)[0]
            elif n:
                burst = detect_bursts(row, fs=fs, method=method, rest=rest_for_detection, exclude=gap)[0]
            bm = rest_baseline if rest_baseline is not None else baseline_mask(
                n, fs=fs, rest_mask=rest_for_detection, env=ms[None, :], exclude=gap)[0]
            # Mean power of the rest, not its median: noise power adds to EMG power as a mean.
            noise = float(np.mean(np.square(row[bm]))) if bm.any() else 0.0
            # The 100 ms envelope is this same moving mean with the resting noise power removed.
            ms -= noise
            # Square root in float64, stored straight as the float32 envelope (as sqrt then astype, which
            # overflows to inf silently too).
            with np.errstate(over="ignore"):
                env32 = np.sqrt(np.maximum(ms, 0.0, out=ms), out=np.empty(n, dtype=np.float32), casting="same_kind")
            del ms
            # noise_corrected_rms over MVC_WINDOW_MS, from the shared cumulative sum, where it is used:
            # inside this muscle's MVC trials.
            def mvc_env_at(idx: np.ndarray, csq=csq, noise=noise) -> np.ndarray:
                return np.sqrt(np.maximum(moving_mean_at(csq, window_samples(MVC_WINDOW_MS, fs), idx) - noise, 0.0))
        else:
            row = physical(j)
            if n:
                burst = envelope_bursts(row, fs=fs, rest=rest_for_detection, exclude=gap)[0]
            bm = rest_baseline if rest_baseline is not None else baseline_mask(
                n, fs=fs, rest_mask=rest_for_detection, env=row[None, :], exclude=gap)[0]
            level = float(np.mean(row[bm])) if bm.any() else 0.0
            env = np.maximum(row - level, 0.0)
            env32 = env.astype(np.float32)

            def mvc_env_at(idx: np.ndarray, env=env) -> np.ndarray:
                return moving_mean(env, win)[idx]
        role = ch.role or key
        trial = _event_mask(recording, emg, lambda lb: lb == f"mvc:{role}") & ~gap
        ref, source = None, None
        for name in (key, ch.role, ch.name):
            if name and name in given:
                ref, source = given[name], "given"
                break
        if ref is None and trial.any():
            peak = float(np.max(mvc_env_at(np.flatnonzero(trial))))
            if peak > 0 and math.isfinite(peak):
                ref, source = peak, "mvc"
        ref = ref if ref is not None and ref > 0 and math.isfinite(ref) else None
        # Activity for the quality measures: the bursts and the MVC trials.
        active = spans_mask(n, burst.onsets, burst.offsets + 1) if burst is not None else np.zeros(n, dtype=bool)
        active |= mvc_ev
        q = channel_quality(stored=emg.data[muscle_idx[j]],
                             raw_dc=first_minute.get(j, row) if ch.kind == "raw" else row,
                             cleaned=row, fs=fs, baseline_mask=bm, burst_mask=active,
                             mains_hz=mains_hz if ch.kind == "raw" else None, gap_mask=gap, kind=ch.kind,
                             max_artifact_ms=150.0, power_cumsum=csq)
        return burst, env32, ref, source, q

    # Channels are independent from here to the reps: each is processed whole by one worker thread (numpy
    # and scipy.fft release the GIL), holding only its own temporaries, and leaves a float32 envelope.
    bursts: dict[str, Bursts] = {}
    envs: dict[str, np.ndarray] = {}
    refs: dict[str, float | None] = {}
    sources: dict[str, str] = {}
    quality: dict[str, dict] = {}
    if pool is not None:
        results = _map_here_and_on(pool, helpers, per_channel, len(channels))
        imu_result = imu_future.result()
    else:
        results = [per_channel(j) for j in range(len(channels))]
        imu_result = _imu_movements(recording)
    for key, (burst, env32, ref, source, q) in zip(keys, results):
        if burst is not None:
            bursts[key] = burst
        envs[key] = env32
        refs[key] = ref
        if source is not None:
            sources[key] = source
        quality[key] = q
    del results

    # The contract names two states, normalised to MVC or not; where the references came from (trials
    # or --mvc) is told per channel in "mvc_source" and in "normalization_source".
    if sources:
        normalization = "mvc"
    else:
        normalization = "none"
        notes.append("no MVC trials or --mvc values: amplitudes and the glute:hamstring ratio are not normalised "
                      "(the ratio then depends on electrode placement and gain)")
    for key in keys:
        if normalization != "none" and refs.get(key) is None:
            notes.append(f"{key}: no MVC reference (no mvc:{key} trial and no --mvc value): %MVC is null")

    # Reps.
    allowed = ~mvc_ev & ~gap
    if any(e.label == "exercise" for e in recording.events):
        allowed &= _event_mask(recording, emg, lambda lb: lb == "exercise")
    absent = [k for k in (GLUTE, HAM) if k not in keys]
    if absent and keys:
        notes.append(f"no {' or '.join(absent)} channel: onset_latency_ms and glute_hamstring_ratio need both "
                     "glute_max and hamstrings, so they are null")
    primary = [k for k in (GLUTE, HAM) if k in bursts]
    if not primary:
        primary = [k for k in keys if k in bursts]
        if keys:
            notes.append("no glute_max or hamstrings channel: reps are taken from the other muscle channels")
    groups = group_reps({k: bursts[k] for k in primary}, allowed) if n else []
    others = [k for k in keys if k not in primary and k in bursts]

    imu_info, movements, imu_note = imu_result
    if imu_note:
        notes.append(imu_note)

    gap_spans = [(g.onset_s, g.onset_s + g.duration_s) for g in recording.gaps if g.stream in ("emg", "")]
    reps, rep_notes, used_movements = _reps(
        groups=groups, bursts=bursts, primary=primary, others=others, keys=keys, envs=envs, refs=refs,
        normalization=normalization, quality=quality, n=n, fs=fs, t0=t0, gap_spans=gap_spans, movements=movements)
    notes.extend(rep_notes)

    for key in keys:
        q = quality[key]
        if not q["usable"]:
            notes.append(f"{key}: {', '.join(q['flags'])} — check the electrode and cable; its numbers are not used")
    if gap_spans:
        lost = sum(g.samples_lost for g in recording.gaps if g.stream in ("emg", ""))
        notes.append(f"{len(gap_spans)} data gap(s), {lost} samples lost; reps overlapping a gap are excluded")

    included = [r for r in reps if not r["excluded"]]
    lat = [r["onset_latency_ms"] for r in included if r["onset_latency_ms"] is not None]
    rat = [r["glute_hamstring_ratio"] for r in included if r["glute_hamstring_ratio"] is not None]
    summary = {
        "reps": len(included),
        "reps_detected": len(reps),
        "reps_excluded": len(reps) - len(included),
        "glute_first_fraction": _num(sum(1 for v in lat if v < 0) / len(lat), 3) if lat else None,
        "median_onset_latency_ms": _num(_median(lat), 1),
        "onset_latency_iqr_ms": _num(_iqr(lat), 1),
        "median_glute_hamstring_ratio": _num(_median(rat), 3),
        "glute_hamstring_ratio_iqr": _num(_iqr(rat), 3),
        "median_mean_pct_mvc": {k: _num(_median([r["mean_pct_mvc"][k] for r in included]), 1) for k in keys},
        "median_peak_pct_mvc": {k: _num(_median([r["peak_pct_mvc"][k] for r in included]), 1) for k in keys},
        "median_coactivation_index": _num(_median([r["coactivation_index"] for r in included]), 1),
        "excluded_reps": [{"index": r["index"], "reasons": r["exclusion_reasons"]} for r in reps if r["excluded"]],
        "onset_method": method,
    }
    if movements is not None:
        summary["movements"] = len(movements)
        summary["median_onset_re_movement_ms"] = {
            k: _num(_median([r["onset_re_movement_ms"].get(k) for r in included]), 1) for k in keys}
        summary["median_movement_onset_latency_ms"] = summary["median_onset_re_movement_ms"]
        unmatched = len(movements) - len(used_movements)
        if unmatched:
            notes.append(f"{unmatched} movement(s) seen by the IMU without a glute/hamstring burst")
    channels_out = {}
    for ch, key in zip(channels, keys):
        q = {k: v for k, v in quality[key].items() if not k.endswith("_mask")}
        channels_out[key] = {
            "role": ch.role,
            "name": ch.name,
            "kind": ch.kind,
            "unit": ch.unit,
            "mvc_reference": _num(refs.get(key), 6),
            "mvc_source": sources.get(key),
            "bursts": len(bursts[key]) if key in bursts else 0,
            "quality": q,
        }
    return {
        "fs_hz": fs,
        "duration_s": _num(recording.duration_s, 4),
        "normalization": normalization,
        "normalization_source": "given" if "given" in sources.values() else ("trials" if sources else None),
        "onset_method": method,
        "mains_hz": mains_hz,
        "channels": channels_out,
        "reps": reps,
        "notes": notes,
        "summary": summary,
        **({"imu": imu_info} if imu_info is not None else {}),
    }


__all__ = ["analyze", "MUSCLE_ROLES"]
