"""A :class:`~reengage.model.Recording` → the ``reengage analyze --json`` document.

The shape is fixed by ``shared/contracts/analysis.md``; every number is a plain float rounded to a
sensible precision or ``null`` (never NaN). ``analyze`` is the public verbs of :mod:`reengage.dsp` in order,
with the settings of :mod:`reengage.dsp.options`; this module turns the recording's events into masks, runs
the channels on worker threads and writes the JSON:

clean (:func:`~reengage.dsp.channel.find_mains`, :func:`~reengage.dsp.channel.clean_emg`) → envelope
(:func:`~reengage.dsp.channel.emg_power`, :func:`~reengage.dsp.baseline.baseline_mask`,
:func:`~reengage.dsp.channel.resting_power`, :func:`~reengage.dsp.channel.rms_envelope`) → normalise
(:func:`~reengage.dsp.channel.mvc_peak`) → detect (:mod:`reengage.dsp.onsets`) → quality
(:func:`~reengage.dsp.quality.channel_quality`) → group reps (:func:`~reengage.dsp.reps.group_reps`) → measure
reps (:func:`~reengage.dsp.reps.measure_reps`, :func:`~reengage.dsp.reps.check_reps`,
:func:`~reengage.dsp.reps.movement_onsets`) → summarise (here).

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
from dataclasses import dataclass, replace

import numpy as np

from reengage.dsp import single_threaded_blas
from reengage.dsp.baseline import baseline_mask
from reengage.dsp.channel import (EmgPower, Mains, clean_emg, emg_power, envelope_mvc_peak, find_mains, mvc_peak,
                                  probe_samples, resting_power, rms_envelope, stored_envelope)
from reengage.dsp.imu import movement_segments
from reengage.dsp.masks import bursts_mask, intervals_mask
from reengage.dsp.onsets import (DEFAULT_METHOD, Bursts, PowerBacktrackOptions, detect_bursts, envelope_bursts,
                                 power_backtrack)
from reengage.dsp.options import DEFAULT_OPTIONS, AnalysisOptions
from reengage.dsp.quality import channel_quality
from reengage.dsp.reps import RepChecks, RepMeasures, check_reps, group_reps, measure_reps, movement_onsets
from reengage.errors import InputError
from reengage.model import MUSCLE_ROLES, Recording, ToPhysical
from reengage.session_plan import REF_LEVEL_SKIP_S
from reengage.session_plan import RETEST


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


def _quartiles(vals) -> tuple[float, float] | None:
    """(first, third) quartile of the finite values (numpy's linear interpolation), None under two values."""
    v = [x for x in vals if x is not None and math.isfinite(x)]
    if len(v) < 2:
        return None
    q1, q3 = np.percentile(v, [25, 75])
    return float(q1), float(q3)


def _iqr(vals):
    q = _quartiles(vals)
    return None if q is None else q[1] - q[0]


def _nums_or_none(pair, nd: int):
    return None if pair is None else [_num(v, nd) for v in pair]


def _gap_mask(recording: Recording, stream) -> np.ndarray:
    gaps = [(g.onset_s, g.duration_s) for g in recording.gaps if g.stream in (stream.name, "")]
    return intervals_mask(stream.n_samples, fs=stream.fs_hz, intervals_s=gaps, t0_s=stream.t0_s)


def _event_mask(recording: Recording, stream, pred) -> np.ndarray:
    spans = [(e.onset_s, e.duration_s) for e in recording.events if pred(e.label)]
    return intervals_mask(stream.n_samples, fs=stream.fs_hz, intervals_s=spans, t0_s=stream.t0_s)


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


def _check_samples(recording: Recording) -> None:
    """The stored EMG checked once, here: every step after this is called with ``check_finite=False``."""
    emg = recording.emg
    data = emg.data
    if data.ndim != 2 or not (np.issubdtype(data.dtype, np.number) or data.dtype == bool):
        raise InputError(f"cannot analyse this recording: EMG samples must be numbers shaped (channels, samples), "
                         f"got {data.dtype} {data.shape}")
    if not np.issubdtype(data.dtype, np.inexact):
        return  # integer ADC counts are finite
    for i, ch in enumerate(emg.channels):
        if ch.kind in ("raw", "envelope") and not np.isfinite(data[i]).all():
            bad = int(np.flatnonzero(~np.isfinite(data[i]))[0])
            raise InputError(f"cannot analyse this recording: channel {ch.name!r} holds NaN or inf (first at sample "
                             f"{bad}, {emg.t0_s + bad / emg.fs_hz:.3f} s)")


class _Setup:
    """The recording-level part of the chain: which channels are muscles and their output keys, the events as
    sample masks, the baseline when rest is marked, and the mains lines (found once, on every raw lead)."""

    def __init__(self, recording: Recording, options: AnalysisOptions, mvc: dict | None = None):
        self.recording, self.options = recording, options
        emg = self.emg = recording.emg
        self.fs, self.n, self.t0 = float(emg.fs_hz), emg.n_samples, float(emg.t0_s)
        self.muscle_idx = [i for i, c in enumerate(emg.channels) if c.kind in ("raw", "envelope")]
        self.channels = [emg.channels[i] for i in self.muscle_idx]
        self.keys = _channel_keys(self.channels)
        self.given = {str(k): float(v) for k, v in (mvc or {}).items()}
        self.gap = _gap_mask(recording, emg)
        self.block_refs: dict[str, list] = {}  # a retest session's MVC reference per block (_block_references)
        self.mvc_ev = _event_mask(recording, emg, lambda lb: lb.startswith("mvc:"))
        rest = _event_mask(recording, emg, lambda lb: lb == "rest") & ~self.gap
        bo = options.baseline
        self.rest = rest if np.count_nonzero(rest) >= bo.min_rest_s * self.fs else None
        # With enough marked rest, every channel's baseline is that rest (the envelope only matters without):
        # one mask for all channels, read-only.
        self.rest_baseline = None if self.rest is None else baseline_mask(
            self.n, fs=self.fs, rest_mask=self.rest, exclude=self.gap, window_s=bo.quiet_window_s,
            min_rest_s=bo.min_rest_s)[0]
        self.to_physical = [ToPhysical([ch]) for ch in self.channels]
        raw_rows = [j for j, c in enumerate(self.channels) if c.kind == "raw"]
        self.mains, self.first_minute = Mains(None, (), np.zeros((0, 0))), {}
        if raw_rows and self.n:
            # The mains line is found on at most a minute of every lead together (a handful of seconds of data).
            probe_n = probe_samples(self.n, self.fs, options.clean)
            self.mains = find_mains(np.vstack([self.physical(j, probe_n) for j in raw_rows]), fs=self.fs,
                                    options=options.clean, check_finite=False)
            # Each row is also that lead's first minute for its mains level.
            self.first_minute = dict(zip(raw_rows, self.mains.probe))

    def physical(self, j: int, samples: int | None = None) -> np.ndarray:
        """Channel j (its first ``samples``) in its unit, as a new float64 array."""
        i = self.muscle_idx[j]
        return self.to_physical[j](self.emg.data[i:i + 1, :samples])[0]


def _front(s: _Setup, j: int) -> tuple[np.ndarray, EmgPower | None, np.ndarray]:
    """Channel j cleaned, its power, and its baseline: (cleaned row, or the stored envelope; EmgPower, None for
    an envelope channel; baseline mask)."""
    o = s.options
    if s.channels[j].kind == "raw":
        # physical() is a fresh copy: the cleaning works in it.
        row = clean_emg(s.physical(j), fs=s.fs, lines_hz=s.mains.lines_hz, exclude=s.gap, options=o.clean,
                        check_finite=False, overwrite_x=True)
        # One running sum of the power serves every window over it: the 100 ms envelope (also the default
        # detector's detection envelope), the 500 ms MVC envelope and the 20 ms motion check.
        power = emg_power(row, fs=s.fs, options=o.envelope, check_finite=False)
        level = power.mean
    else:
        row, power = s.physical(j), None
        level = row
    bm = s.rest_baseline if s.rest_baseline is not None else baseline_mask(
        s.n, fs=s.fs, rest_mask=None, env=level[None, :], exclude=s.gap, window_s=o.baseline.quiet_window_s,
        min_rest_s=o.baseline.min_rest_s)[0]
    return row, power, bm


def _envelope(row: np.ndarray, power: EmgPower | None, bm: np.ndarray) -> tuple[np.ndarray, float, np.ndarray | None]:
    """(float32 envelope, noise power or resting level, float64 envelope of an envelope channel): the 100 ms
    RMS with the resting noise power removed, computed in ``power.mean`` (which it overwrites)."""
    if power is not None:
        noise = resting_power(row, bm)
        return rms_envelope(power, noise, overwrite=True), noise, None
    env, level = stored_envelope(row, bm, check_finite=False)
    return env.astype(np.float32), level, env


@dataclass(frozen=True)
class ChannelEnvelopes:
    """The envelope each muscle channel's numbers are measured on, as ``analyze`` computes it.

    ``keys``: the channel keys of ``analyze``'s JSON (role, or name when the role is missing or taken);
    ``names``, ``roles``, ``units``: per channel; ``fs_hz``: sampling rate, Hz; ``t0_s``: time of sample 0 from the
    recording origin, s; ``envelope``: float32 (channels, samples) in each channel's unit: the noise-corrected
    100 ms RMS of the cleaned raw channel, or the stored envelope less its resting level."""

    keys: tuple[str, ...]
    names: tuple[str, ...]
    roles: tuple[str | None, ...]
    units: tuple[str, ...]
    fs_hz: float
    t0_s: float
    envelope: np.ndarray


def channel_envelopes(recording: Recording, *, options: AnalysisOptions | None = None) -> ChannelEnvelopes:
    """The envelopes ``analyze`` measures every rep on (same cleaning, mains lines, gap zeroing, noise-corrected
    RMS), for display beside the numbers; the recording's EMG muscle channels only."""
    opts = options or DEFAULT_OPTIONS
    _check_samples(recording)
    with single_threaded_blas():
        s = _Setup(recording, opts)
        env = np.empty((len(s.channels), s.n), dtype=np.float32)
        for j in range(len(s.channels)):
            env[j] = _envelope(*_front(s, j))[0]
    return ChannelEnvelopes(keys=tuple(s.keys), names=tuple(c.name for c in s.channels),
                            roles=tuple(c.role for c in s.channels), units=tuple(c.unit for c in s.channels),
                            fs_hz=s.fs, t0_s=s.t0, envelope=env)


def _detect(s: _Setup, j: int, row: np.ndarray, power: EmgPower | None) -> Bursts | None:
    """Channel j's bursts (None for an empty record)."""
    if not s.n:
        return None
    o = s.options
    if power is None:
        return envelope_bursts(row, fs=s.fs, rest=s.rest, exclude=s.gap, options=o.envelope_detection,
                               check_finite=False)[0]
    detect_ms = (o.detection or PowerBacktrackOptions()).detect_window_ms if o.method == "power_backtrack" else None
    if detect_ms == o.envelope.window_ms:
        # Its detection envelope is the envelope's mean power (same window): passed, not computed again.
        return power_backtrack(row, fs=s.fs, rest=s.rest, exclude=s.gap, options=o.detection, power_mean=power.mean,
                               check_finite=False)[0]
    return detect_bursts(row, fs=s.fs, method=o.method, rest=s.rest, exclude=s.gap, options=o.detection,
                         check_finite=False)[0]


def _mvc_reference(s: _Setup, j: int, power: EmgPower | None, noise: float,
                   env: np.ndarray | None) -> tuple[float | None, str | None]:
    """(MVC reference, where it came from): a given value (by key, role or name), else the peak of the
    channel's MVC trials, else (None, None)."""
    ch, key = s.channels[j], s.keys[j]
    ref, source = None, None
    for name in (key, ch.role, ch.name):
        if name and name in s.given:
            ref, source = s.given[name], "given"
            break
    if ref is None:
        role = ch.role or key
        trial = _event_mask(s.recording, s.emg, lambda lb: lb == f"mvc:{role}") & ~s.gap
        if trial.any():
            eo = s.options.envelope
            peak = mvc_peak(power, fs=s.fs, mask=trial, noise_power=noise, options=eo) if power is not None \
                else envelope_mvc_peak(env, fs=s.fs, mask=trial, options=eo)
            if peak is not None:
                ref, source = peak, "mvc"
            if any(e.label == RETEST for e in s.recording.events):
                s.block_refs[key] = _block_references(s, trial, power, noise, env)
    return (ref if ref is not None and ref > 0 and math.isfinite(ref) else None), source


def _block_references(s: _Setup, trial: np.ndarray, power: EmgPower | None, noise: float,
                      env: np.ndarray | None) -> list[float | None]:
    """A retest session's MVC reference of one channel per block (before the ``retest`` event, inside it), each
    from that block's own trials, as :func:`_mvc_reference` takes the peak over all of them."""
    inside = _event_mask(s.recording, s.emg, lambda lb: lb == RETEST)
    out = []
    for mask in (trial & ~inside, trial & inside):
        eo = s.options.envelope
        peak = None if not mask.any() else (
            mvc_peak(power, fs=s.fs, mask=mask, noise_power=noise, options=eo) if power is not None
            else envelope_mvc_peak(env, fs=s.fs, mask=mask, options=eo))
        out.append(peak if peak is not None and peak > 0 and math.isfinite(peak) else None)
    return out


def _retest_span(recording: Recording) -> tuple[float, float] | None:
    return next(((e.onset_s, e.onset_s + e.duration_s) for e in recording.events if e.label == RETEST), None)


def _block_normalised(s: _Setup, m: RepMeasures, refs: dict, measure) -> RepMeasures:
    """A retest session's reps, each normalised by its own block's MVC trials (``s.block_refs``; a block
    without trials of a muscle keeps the session's reference): the re-applied electrodes' gain differs, so one
    reference for both blocks puts one of them off by the gain ratio. ``measure(references)`` measures the reps
    again with other references. Without a retest block (every other session), ``m`` as it is."""
    span = _retest_span(s.recording)
    if span is None or not s.block_refs:
        return m
    second = (m.start_s >= span[0]) & (m.start_s < span[1])
    for b, mask in ((0, ~second), (1, second)):
        block = {k: (s.block_refs.get(k) or [None, None])[b] or ref for k, ref in refs.items()}
        if not mask.any() or block == refs:
            continue
        o = measure(block)
        # RepMeasures counts reps in len(), which NamedTuple._replace relies on for its fields: rebuilt by name.
        m = RepMeasures(**{**m._asdict(), "ratio": np.where(mask, o.ratio, m.ratio),
                           "coactivation_index": np.where(mask, o.coactivation_index, m.coactivation_index),
                           "mean_pct_mvc": {k: np.where(mask, o.mean_pct_mvc[k], v) for k, v in m.mean_pct_mvc.items()},
                           "peak_pct_mvc": {k: np.where(mask, o.peak_pct_mvc[k], v) for k, v in m.peak_pct_mvc.items()}})
    return m


def retest_summary(recording: Recording, reps: list[dict], block_refs: dict, pair: tuple[str, str],
                   normalised: bool) -> dict | None:
    """``summary.retest`` of a session with a retest block (``record --retest``): each block's median
    ``glute_hamstring_ratio`` and ``onset_latency_ms`` over its own reps not excluded, as ``[first block, retest
    block]``, and each channel's MVC reference per block (``mvc_reference``). The reps are already normalised by
    their own block's MVC trials (:func:`_block_normalised`); a block's ratio is null when either muscle of the
    pair has no trials in it (its reps then rest on the other block's gain) or the session is not ``normalised``
    to MVC. None without a retest block."""
    span = _retest_span(recording)
    if span is None:
        return None
    g, h = pair
    blocks: list[list[dict]] = [[], []]
    for r in reps:
        if not r["excluded"] and r["start_s"] is not None:
            blocks[int(span[0] <= r["start_s"] < span[1])].append(r)
    ratios, latencies = [], []
    for b, rs in enumerate(blocks):
        own = normalised and (block_refs.get(g) or [None, None])[b] and (block_refs.get(h) or [None, None])[b]
        rat = [r["glute_hamstring_ratio"] for r in rs if r["glute_hamstring_ratio"] is not None] if own else []
        ratios.append(_num(_median(rat), 3))
        latencies.append(_num(_median([r["onset_latency_ms"] for r in rs if r["onset_latency_ms"] is not None]), 1))
    return {"glute_hamstring_ratio": ratios, "onset_latency_ms": latencies,
            "mvc_reference": {k: [_num(v, 6) for v in refs] for k, refs in block_refs.items()}}


def _channel(s: _Setup, j: int) -> tuple[Bursts | None, np.ndarray, float | None, str | None, dict]:
    """One channel from stored samples to (bursts, float32 envelope, MVC reference, its source, quality)."""
    ch = s.channels[j]
    row, power, bm = _front(s, j)
    burst = _detect(s, j, row, power)
    env32, noise, env = _envelope(row, power, bm)
    ref, source = _mvc_reference(s, j, power, noise, env)
    # Activity for the quality measures: the bursts and the MVC trials.
    active = bursts_mask(s.n, burst) if burst is not None else np.zeros(s.n, dtype=bool)
    active |= s.mvc_ev
    raw = ch.kind == "raw"
    q = channel_quality(stored=s.emg.data[s.muscle_idx[j]], raw_dc=s.first_minute.get(j, row) if raw else row,
                        cleaned=row, fs=s.fs, baseline_mask=bm, burst_mask=active,
                        mains_hz=s.mains.mains_hz if raw else None, gap_mask=s.gap, kind=ch.kind,
                        max_artifact_ms=s.options.reps.max_artifact_ms,
                        power_cumsum=power.cumsum if power is not None else None, check_finite=False)
    return burst, env32, ref, source, q


def _group(s: _Setup, bursts: dict[str, Bursts], notes: list[str]) -> tuple[list[dict], list[str], list[str]]:
    """(groups, primary keys, other keys): reps are grouped from the pair's bursts (or, without either, from all
    muscles'), inside the exercise and outside MVC trials and gaps."""
    pair, keys = s.options.reps.pair, s.keys
    allowed = ~s.mvc_ev & ~s.gap
    if any(e.label == "exercise" for e in s.recording.events):
        allowed &= _event_mask(s.recording, s.emg, lambda lb: lb == "exercise")
    absent = [k for k in pair if k not in keys]
    if absent and keys:
        notes.append(f"no {' or '.join(absent)} channel: onset_latency_ms and glute_hamstring_ratio need both "
                     "glute_max and hamstrings, so they are null")
    primary = [k for k in pair if k in bursts]
    if not primary:
        primary = [k for k in keys if k in bursts]
        if keys:
            notes.append("no glute_max or hamstrings channel: reps are taken from the other muscle channels")
    groups = group_reps({k: bursts[k] for k in primary}, allowed) if s.n else []
    return groups, primary, [k for k in keys if k not in primary and k in bursts]


def _exclusions(m: RepMeasures, c: RepChecks, checked: list[str], unusable: dict[str, str], gap_spans,
                clip_max: float) -> list[list[str]]:
    """Each rep's exclusion reasons, in order: cut by an edge, data gaps, then per checked muscle."""
    cut = c.cut.tolist()
    gaps = [g.tolist() for g in c.gaps]
    clipped = {k: v.tolist() for k, v in c.clipped_fraction.items()}
    moved = {k: v.tolist() for k, v in c.motion.items()}
    out = []
    for r in range(len(m)):
        reasons = ["rep cut by the start or end of the recording"] if cut[r] else []
        for (ga, gb), hit in zip(gap_spans, gaps):
            if hit[r]:
                reasons.append(f"data gap at {ga:.2f}–{gb:.2f} s overlaps the rep")
        for k in checked:
            if k in unusable:
                reasons.append(unusable[k])
                continue
            if clipped[k][r] > clip_max:
                reasons.append(f"{k}: clipped in {100 * clipped[k][r]:.0f}% of the rep")
            if moved[k][r]:
                reasons.append(f"{k}: motion artefact at the rep")
        out.append(reasons)
    return out


def _rep_entries(m: RepMeasures, reasons: list[list[str]], movement_onset: np.ndarray | None, pair,
                 missing_ratio_ref: bool) -> tuple[list[dict], list[str]]:
    """The reps' JSON entries and notes, from columns of rounded values (NaN: missing → None)."""
    keys, (first, second) = m.keys, pair
    on_raw = {k: m.onset_s[k].tolist() for k in keys}
    on_col = {k: _nums(m.onset_s[k], 4) for k in keys}
    off_col = {k: _nums(m.offset_s[k], 4) for k in keys}
    mean_col = {k: _nums(m.mean_pct_mvc[k], 1) for k in keys}
    peak_col = {k: _nums(m.peak_pct_mvc[k], 1) for k in keys}
    start_col, end_col = _nums(m.start_s, 4), _nums(m.end_s, 4)
    lat_col, ratio_col, coact_col = _nums(m.latency_ms, 1), _nums(m.ratio, 3), _nums(m.coactivation_index, 1)
    if movement_onset is not None:
        mo_col = _nums(movement_onset, 4)
        re_col = {k: _nums(1000.0 * (m.onset_s[k] - movement_onset), 1) for k in keys}
    has_l = {k: (m.onsets[k] >= 0).tolist() for k in keys}
    both_l = [False] * len(m) if first not in keys or second not in keys else \
        [a and b for a, b in zip(has_l[first], has_l[second])]
    reps, notes = [], []
    for r in range(len(m)):
        rep_notes = []
        if not both_l[r]:
            missing = [k for k in pair if k in keys and on_col[k][r] is None]
            if missing:
                rep_notes.append(f"no burst detected in {', '.join(missing)}: latency and ratio are null")
        elif missing_ratio_ref:
            rep_notes.append("glute_max or hamstrings has no MVC reference: ratio is null")
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
            "excluded": bool(reasons[r]),
            "exclusion_reasons": reasons[r],
        }
        if movement_onset is not None:
            rep["movement_onset_s"] = mo_col[r]
            rep["onset_re_movement_ms"] = {k: re_col[k][r] for k in keys}
        reps.append(rep)
        # Notes are read by people, who count reps from 1 (the dashboard's and the CLI's tables); the index
        # in brackets is the rep's "index" in this document.
        notes.extend(f"rep {r + 1} (index {r}): {t}" for t in rep_notes)
        notes.extend(f"rep {r + 1} (index {r}) excluded: {t}" for t in reasons[r])
    return reps, notes


def _reps(s: _Setup, groups, bursts, others, checked, envs, refs, normalization, quality, gap_spans,
          movements) -> tuple[list[dict], list[str], set[int]]:
    """The reps' entries, their notes (in order) and the indices of the movements they used: measure_reps,
    check_reps and movement_onsets, written as JSON."""
    if not groups:
        return [], [], set()
    ro = s.options.reps
    def measure(references):
        return measure_reps(groups, bursts, envs, fs=s.fs, t0_s=s.t0, others=others, options=ro,
                            references=references, check_finite=False)

    m = measure(refs if normalization != "none" else None)
    if normalization == "mvc":
        m = _block_normalised(s, m, refs, measure)
    usable = [k for k in checked if quality[k]["usable"]]
    c = check_reps(m.start, m.end, n=s.n, fs=s.fs, t0_s=s.t0, gaps_s=gap_spans, options=ro,
                   clip_masks={k: quality[k]["clip_mask"] for k in usable},
                   motion_masks={k: quality[k]["motion_mask"] for k in usable})
    unusable = {k: f"{k}: channel unusable ({', '.join(quality[k]['flags'])})" for k in checked
                if not quality[k]["usable"]}
    reasons = _exclusions(m, c, checked, unusable, gap_spans, ro.clip_max_fraction)
    movement_onset, used = (None, set()) if movements is None else movement_onsets(m.start_s, m.end_s, movements,
                                                                                   options=ro)
    rg, rh = (refs.get(k) for k in ro.pair) if normalization != "none" else (1.0, 1.0)
    reps, notes = _rep_entries(m, reasons, movement_onset, ro.pair, missing_ratio_ref=not (rg and rh))
    notes += _protocol_marks(s, m, envs, reps)
    return reps, notes, used


def _protocol_marks(s: _Setup, m: RepMeasures, envs: dict, reps: list[dict]) -> list[str]:
    """Adds to each rep, in place, ``cued`` when the session has ``cue:on``/``cue:off`` marks (a rep is cued when
    its middle lies in a ``cue:on`` span) and ``pct_ref`` when it has ``ref:<muscle>`` holds (the rep's mean
    envelope over the hold's level, %; the hold's level is its mean envelope without its first and last
    second, reengage.session_plan). Returns notes. Nothing is added to a session without the marks."""
    events = s.recording.events
    cue_on = [(e.onset_s, e.onset_s + e.duration_s) for e in events if e.label == "cue:on"]
    if cue_on or any(e.label == "cue:off" for e in events):
        for rep, a, b in zip(reps, m.start_s.tolist(), m.end_s.tolist()):
            mid = (a + b) / 2
            rep["cued"] = any(lo <= mid < hi for lo, hi in cue_on)
    levels, notes = {}, []
    if not any(e.label.startswith("ref:") for e in events):
        return notes
    for k in s.keys:
        spans = [(e.onset_s + REF_LEVEL_SKIP_S, e.duration_s - 2 * REF_LEVEL_SKIP_S) for e in events
                 if e.label == f"ref:{k}" and e.duration_s > 2 * REF_LEVEL_SKIP_S]
        mask = intervals_mask(s.n, fs=s.fs, intervals_s=spans, t0_s=s.t0) & ~s.gap
        env = envs.get(k)
        level = float(np.mean(env[mask], dtype=np.float64)) if env is not None and spans and mask.any() else 0.0
        levels[k] = level if level > 0 else None
        if levels[k] is None:
            notes.append(f"{k}: no usable ref:{k} hold: pct_ref is null")
    for r, rep in enumerate(reps):
        a, b = int(m.start[r]), int(m.end[r]) + 1
        rep["pct_ref"] = {k: _num(100.0 * float(np.mean(envs[k][a:b], dtype=np.float64)) / levels[k], 1)
                          if levels[k] and m.onsets[k][r] >= 0 else None for k in s.keys}
    return notes


def summarize_reps(reps: list[dict], keys: list[str], method: str, movements) -> dict:
    """The analysis JSON's ``summary`` over the reps not excluded: ``reps`` as in the JSON's ``reps`` list,
    ``keys`` the channel keys, ``method`` the onset method's name, ``movements`` the IMU movements or None.
    Public so a clinician's corrections (an excluded rep, a moved onset) re-summarise exactly as analyze does."""
    everything = [r for r in reps if not r["excluded"]]
    # With cue marks, the session's medians are of the uncued reps: the values comparable between sessions
    # (carried over); "cue_effect" sets today's cued reps beside them.
    cued = any("cued" in r for r in reps)
    included = [r for r in everything if not r.get("cued")]
    lat = [r["onset_latency_ms"] for r in included if r["onset_latency_ms"] is not None]
    rat = [r["glute_hamstring_ratio"] for r in included if r["glute_hamstring_ratio"] is not None]
    summary = {
        "reps": len(everything),
        "reps_detected": len(reps),
        "reps_excluded": len(reps) - len(everything),
        "glute_first_fraction": _num(sum(1 for v in lat if v < 0) / len(lat), 3) if lat else None,
        "median_onset_latency_ms": _num(_median(lat), 1),
        "onset_latency_iqr_ms": _num(_iqr(lat), 1),
        "median_glute_hamstring_ratio": _num(_median(rat), 3),
        "glute_hamstring_ratio_iqr": _num(_iqr(rat), 3),
        # The quartiles themselves (the IQR is their difference): a chart draws the spread where it lies,
        # which is rarely symmetric about the median over ten reps.
        "onset_latency_quartiles_ms": _nums_or_none(_quartiles(lat), 1),
        "glute_hamstring_ratio_quartiles": _nums_or_none(_quartiles(rat), 3),
        "median_mean_pct_mvc": {k: _num(_median([r["mean_pct_mvc"][k] for r in included]), 1) for k in keys},
        "median_peak_pct_mvc": {k: _num(_median([r["peak_pct_mvc"][k] for r in included]), 1) for k in keys},
        "median_coactivation_index": _num(_median([r["coactivation_index"] for r in included]), 1),
        "excluded_reps": [{"index": r["index"], "reasons": r["exclusion_reasons"]} for r in reps if r["excluded"]],
        "onset_method": method,
    }
    if any("pct_ref" in r for r in reps):
        summary["median_mean_pct_ref"] = {k: _num(_median([r["pct_ref"][k] for r in included]), 1) for k in keys}
    if cued:
        summary["cue_effect"] = cue_effect(everything, keys)
    if movements is not None:
        summary["movements"] = len(movements)
        summary["median_onset_re_movement_ms"] = {
            k: _num(_median([r["onset_re_movement_ms"].get(k) for r in included]), 1) for k in keys}
    return summary


def cue_effect(reps: list[dict], keys: list[str]) -> dict:
    """Today's effect of the glute cue: medians of the cued and the uncued reps of ``reps`` (those not excluded)."""
    out = {}
    groups = (("cued", [r for r in reps if r.get("cued")]), ("uncued", [r for r in reps if not r.get("cued")]))
    for name, rs in groups:
        out[f"{name}_reps"] = len(rs)
    for name, rs in groups:
        out[f"median_glute_hamstring_ratio_{name}"] = _num(_median(
            [r["glute_hamstring_ratio"] for r in rs if r["glute_hamstring_ratio"] is not None]), 3)
        out[f"median_onset_latency_ms_{name}"] = _num(_median(
            [r["onset_latency_ms"] for r in rs if r["onset_latency_ms"] is not None]), 1)
        out[f"median_mean_pct_mvc_{name}"] = {k: _num(_median([r["mean_pct_mvc"][k] for r in rs]), 1) for k in keys}
    return out


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


def _options(method: str, options: AnalysisOptions | None) -> AnalysisOptions:
    """The options analyze runs with: ``method`` given (not the default) must agree with ``options.method``."""
    if options is None:
        return replace(DEFAULT_OPTIONS, method=method)
    if method != DEFAULT_METHOD and method != options.method:
        raise ValueError(f"method={method!r} and options.method={options.method!r} disagree: give one of them")
    return options


def analyze(recording: Recording, *, mvc: dict[str, float] | None = None, method: str = DEFAULT_METHOD,
            threads: int | None = None, options: AnalysisOptions | None = None) -> dict:
    """Analyse a recording: per-channel quality, reps with onsets/latency/order/ratio, and a summary.

    ``mvc`` gives MVC reference amplitudes by role (or channel name) in the unit of that muscle's
    envelope (the channel's unit); without it references come from ``mvc:<role>`` trials.
    ``method`` is the onset detector (see :mod:`reengage.dsp.onsets`); ``options`` every step's settings
    (:class:`~reengage.dsp.options.AnalysisOptions`, default :data:`~reengage.dsp.options.DEFAULT_OPTIONS`), whose
    ``method`` is used unless ``method`` is given too. ``threads``: channels processed at once (default: 2 when
    two cores are usable; 1 = one after another, as in ``analyze --all``'s worker processes). The result does
    not depend on it.
    """
    opts = _options(method, options)
    _check_samples(recording)
    n_channels = sum(1 for c in recording.emg.channels if c.kind in ("raw", "envelope"))
    workers = max(1, min(int(threads) if threads else _default_threads(), n_channels))
    # BLAS is held to one thread: its products here are thin and memory-bound, and BLAS threads competing
    # with the channel threads for the cores stall each other.
    with single_threaded_blas():
        if workers == 1:
            return _analyze(recording, mvc=mvc, options=opts, pool=None)
        # This thread is one of the workers: it would only wait otherwise, and its allocations reuse the
        # main heap, where a worker thread's large arrays are page-faulted afresh far more often.
        with ThreadPoolExecutor(max_workers=workers - 1, thread_name_prefix="reengage-analyze") as pool:
            return _analyze(recording, mvc=mvc, options=opts, pool=pool, helpers=workers - 1)


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


def _analyze(recording: Recording, *, mvc, options: AnalysisOptions, pool: ThreadPoolExecutor | None,
             helpers: int = 0) -> dict:
    """:func:`analyze`, with the channels processed by this thread and ``helpers`` threads of ``pool``, or
    one after another without a pool."""
    # The IMU is independent of the EMG: a worker takes it now, on the core this thread leaves idle while
    # it prepares the channels.
    imu_future = pool.submit(_imu_movements, recording) if pool is not None else None
    s = _Setup(recording, options, mvc)
    keys = s.keys
    notes: list[str] = []
    if s.rest is None:
        bo = options.baseline
        notes.append(f"no marked rest of at least {bo.min_rest_s:g} s: baseline taken from each channel's quietest "
                     f"{bo.quiet_window_s:g} s window")
    # Channels are independent from here to the reps: each is processed whole by one worker thread (numpy
    # and scipy.fft release the GIL), holding only its own temporaries, and leaves a float32 envelope, so the
    # peak memory stays near one extra copy of the recording per worker thread.
    if pool is not None:
        results = _map_here_and_on(pool, helpers, lambda j: _channel(s, j), len(keys))
        imu_info, movements, imu_note = imu_future.result()
    else:
        results = [_channel(s, j) for j in range(len(keys))]
        imu_info, movements, imu_note = _imu_movements(recording)
    bursts = {k: r[0] for k, r in zip(keys, results) if r[0] is not None}
    envs = {k: r[1] for k, r in zip(keys, results)}
    refs = {k: r[2] for k, r in zip(keys, results)}
    sources = {k: r[3] for k, r in zip(keys, results) if r[3] is not None}
    quality = {k: r[4] for k, r in zip(keys, results)}
    del results

    # The contract names two states, normalised to MVC or not; where the references came from (trials
    # or --mvc) is told per channel in "mvc_source" and in "normalization_source".
    normalization = "mvc" if sources else "none"
    if not sources:
        notes.append("no MVC trials or --mvc values: amplitudes and the glute:hamstring ratio are not normalised "
                     "(the ratio then depends on electrode placement and gain)")
    notes.extend(f"{k}: no MVC reference (no mvc:{k} trial and no --mvc value): %MVC is null" for k in keys
                 if normalization != "none" and refs.get(k) is None)

    groups, primary, others = _group(s, bursts, notes)
    if imu_note:
        notes.append(imu_note)
    gap_spans = [(g.onset_s, g.onset_s + g.duration_s) for g in recording.gaps if g.stream in ("emg", "")]
    checked = [k for k in options.reps.pair if k in quality] or primary
    reps, rep_notes, used_movements = _reps(s, groups, bursts, others, checked, envs, refs, normalization, quality,
                                            gap_spans, movements)
    notes.extend(rep_notes)
    for key in keys:
        q = quality[key]
        if not q["usable"]:
            notes.append(f"{key}: {', '.join(q['flags'])} — check the electrode and cable; its numbers are not used")
    if gap_spans:
        lost = sum(g.samples_lost for g in recording.gaps if g.stream in ("emg", ""))
        notes.append(f"{len(gap_spans)} data gap(s), {lost} samples lost; reps overlapping a gap are excluded")
    summary = summarize_reps(reps, keys, options.method, movements)
    retest = retest_summary(recording, reps, s.block_refs, options.reps.pair, normalization == "mvc")
    if retest is not None:
        summary["retest"] = retest
    if movements is not None and len(movements) > len(used_movements):
        notes.append(f"{len(movements) - len(used_movements)} movement(s) seen by the IMU without a glute/hamstring "
                     "burst")
    doc = _document(s, recording, options.method, bursts, envs, refs, sources, quality, normalization, reps, notes,
                    summary, imu_info)
    positions = (recording.meta or {}).get("mvc_positions")
    if isinstance(positions, dict):  # which MVC test position each muscle's reference came from (record)
        doc["mvc_positions"] = {str(k): str(v) for k, v in positions.items()}
    return doc


def _burst_entries(s: _Setup, key: str, burst: Bursts | None, env: np.ndarray, ref: float | None) -> list[dict]:
    """``channels.<key>.detected_bursts``: every burst the channel's detector found, as ``analyze`` found it (the
    bursts it counts in ``bursts`` and groups into reps): ``onset_s`` and ``offset_s`` (its first and last active
    sample, s, rounded as a rep's) and ``peak_pct_mvc``, the envelope's peak over the burst in %MVC (null without
    a reference; in a retest session a burst in the retest block is normalised by that block's trials, as its
    rep is)."""
    if burst is None or not len(burst):
        return []
    on_s, off_s = s.t0 + burst.onsets / s.fs, s.t0 + burst.offsets / s.fs
    peak = np.full(len(burst), np.nan)
    if ref is not None:
        span = _retest_span(s.recording)
        block = s.block_refs.get(key) or [None, None]
        for i, (a, b) in enumerate(zip(burst.onsets.tolist(), burst.offsets.tolist())):
            own = ref if span is None else (block[int(span[0] <= on_s[i] < span[1])] or ref)
            peak[i] = 100.0 * float(np.max(env[a:b + 1])) / own
    return [{"onset_s": a, "offset_s": b, "peak_pct_mvc": p}
            for a, b, p in zip(_nums(on_s, 4), _nums(off_s, 4), _nums(peak, 1))]


def _shared_role_notes(s: _Setup) -> list[str]:
    """A note per muscle role that more than one channel has (the UCI files' biceps femoris and semitendinosus
    are both hamstrings): the first in column order takes the role's key, the others keep their names and are
    reported, not grouped into reps as that role. Said so, with how to choose the other."""
    notes = []
    for role in dict.fromkeys(c.role for c in s.channels if c.role):
        names = [c.name for c in s.channels if c.role == role]
        taken = next((c.name for c, k in zip(s.channels, s.keys) if c.role == role and k == role), None)
        if len(names) < 2 or taken is None:
            continue
        rest = [n for n in names if n != taken]
        notes.append(f"{len(names)} channels have the role {role} ({', '.join(names)}): {taken}, the first in column "
                     f"order, is reported as {role} and used for the reps; {', '.join(rest)} "
                     f"{'is' if len(rest) == 1 else 'are'} reported under {'its' if len(rest) == 1 else 'their'} own "
                     f"name. To use {rest[0]} as {role}: --channel {role}={rest[0]}")
    return notes


def _document(s: _Setup, recording: Recording, method: str, bursts, envs, refs, sources, quality, normalization,
              reps, notes, summary, imu_info) -> dict:
    """The JSON document (``shared/contracts/analysis.md``)."""
    channels_out = {}
    for ch, key in zip(s.channels, s.keys):
        q = {k: v for k, v in quality[key].items() if not k.endswith("_mask")}
        channels_out[key] = {
            "role": ch.role,
            "name": ch.name,
            "kind": ch.kind,
            "unit": ch.unit,
            "mvc_reference": _num(refs.get(key), 6),
            "mvc_source": sources.get(key),
            "bursts": len(bursts[key]) if key in bursts else 0,
            "detected_bursts": _burst_entries(s, key, bursts.get(key), envs[key],
                                              refs.get(key) if normalization != "none" else None),
            "quality": q,
        }
    return {
        "fs_hz": s.fs,
        "duration_s": _num(recording.duration_s, 4),
        "normalization": normalization,
        "normalization_source": "given" if "given" in sources.values() else ("trials" if sources else None),
        "onset_method": method,
        "mains_hz": s.mains.mains_hz,
        "channels": channels_out,
        "reps": reps,
        "notes": notes + _shared_role_notes(s),
        "summary": summary,
        **({"imu": imu_info} if imu_info is not None else {}),
    }


__all__ = ["analyze", "channel_envelopes", "ChannelEnvelopes", "MUSCLE_ROLES", "summarize_reps"]
