"""The reps are measured for all reps at once (one numpy reduction per measure and channel); this must give
exactly what the straightforward loop over reps, taking each rep's slices, gave (the former code, kept here
as the reference), on random burst layouts, overlapping rep windows included. The public dsp functions
(rep_bursts, measure_reps, check_reps, movement_onsets) are compared number by number, bit for bit."""

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reengage.dsp import RepOptions, check_reps, group_reps, measure_reps, movement_onsets
from reengage.dsp.onsets import Bursts
from reengage.dsp.reps import _Spans

OPTS = RepOptions()
GLUTE, HAM = OPTS.pair


def _mean64(v):
    return float(v.sum(dtype=np.float64)) / v.size


def _coactivation(a, b):
    tot = float(np.sum(a, dtype=np.float64) + np.sum(b, dtype=np.float64))
    if tot <= 0 or not math.isfinite(tot):
        return None
    return 100.0 * 2.0 * float(np.sum(np.minimum(a, b), dtype=np.float64)) / tot


def _ref_spans(g, bursts, others, fs):
    """The rep's bursts {key: (onset, offset)}: its group, and each other muscle's first burst that starts at
    most the lead before the group and is still on when it starts."""
    idx = dict(g)
    start = min(v[0] for v in g.values())
    end = max(v[1] for v in g.values())
    for k in others:
        b = bursts[k]
        lead = int(OPTS.other_muscle_lead_s * fs)
        for i in range(int(np.searchsorted(b.onsets, start - lead, side="left")), len(b)):
            if b.onsets[i] > end:
                break
            if b.offsets[i] >= start:
                idx[k] = (int(b.onsets[i]), int(b.offsets[i]))
                break
    return idx


def _ref_amplitudes(idx, start, end, keys, envs, refs, normalization):
    """(ratio, mean %MVC, peak %MVC, co-activation) of one rep, None where missing."""
    rg = refs.get(GLUTE) if normalization != "none" else 1.0
    rh = refs.get(HAM) if normalization != "none" else 1.0
    ratio = coact = None
    if GLUTE in idx and HAM in idx and rg and rh:
        a = min(idx[GLUTE][0], idx[HAM][0])
        b_ = max(idx[GLUTE][1], idx[HAM][1]) + 1
        den = _mean64(envs[HAM][a:b_]) / rh
        if den > 0:
            ratio = (_mean64(envs[GLUTE][a:b_]) / rg) / den
        coact = _coactivation(envs[GLUTE][start:end + 1] / rg, envs[HAM][start:end + 1] / rh)
    mean_pct, peak_pct = {}, {}
    for k in keys:
        ref = refs.get(k) if normalization != "none" else None
        seg = envs[k][start:end + 1]
        ok = ref is not None and seg.size and k in idx
        mean_pct[k] = 100.0 * _mean64(seg) / ref if ok else None
        peak_pct[k] = 100.0 * float(seg.max()) / ref if ok else None
    return ratio, mean_pct, peak_pct, coact


def _ref_checks(start, end, s_s, e_s, n, fs, gap_spans, masks):
    """(cut, gap hits, {key: (clipped fraction, motion)}) of one rep."""
    edge = int(round(OPTS.edge_margin_s * fs))
    cut = start <= edge or end >= n - 1 - edge
    gaps = [ga < e_s + 0.2 and gb > s_s - 0.2 for ga, gb in gap_spans]
    per = {}
    for k, (clip_mask, motion_mask) in masks.items():
        clip = clip_mask[start:end + 1]
        per[k] = (np.count_nonzero(clip) / clip.size if clip.size else 0.0, bool(motion_mask[start:end + 1].any()))
    return cut, gaps, per


def _ref_movements(reps_s, movements):
    """Each rep's movement onset (None: none) and the movements used, rep by rep."""
    used, out = set(), []
    starts = np.array([ma for ma, _ in movements])
    for s_s, e_s in reps_s:
        onset = None
        first_mi = int(np.searchsorted(starts, s_s - 0.5, side="left"))
        last_mi = int(np.searchsorted(starts, e_s, side="right"))
        for mi in range(first_mi, last_mi):
            ma, mb = movements[mi]
            if mi not in used and s_s - 0.5 <= ma <= e_s and mb >= s_s:
                used.add(mi)
                if onset is None:
                    onset = ma
        out.append(onset)
    return out, used


def _reference(*, groups, bursts, others, keys, envs, refs, normalization, n, fs, t0, gap_spans, masks):
    """The rep loop as it was in analyze(), one rep at a time: one dict of numbers per rep."""
    reps = []
    for g in groups:
        idx = _ref_spans(g, bursts, others, fs)
        start = min(v[0] for v in idx.values())
        end = max(v[1] for v in idx.values())
        on_s = {k: (t0 + idx[k][0] / fs if k in idx else None) for k in keys}
        latency = 1000.0 * (on_s[GLUTE] - on_s[HAM]) if on_s.get(GLUTE) is not None and \
            on_s.get(HAM) is not None else None
        ratio, mean_pct, peak_pct, coact = _ref_amplitudes(idx, start, end, keys, envs, refs, normalization)
        s_s, e_s = t0 + start / fs, t0 + end / fs
        cut, gaps, per = _ref_checks(start, end, s_s, e_s, n, fs, gap_spans, masks)
        reps.append({"on": {k: idx[k][0] if k in idx else -1 for k in keys},
                     "off": {k: idx[k][1] if k in idx else -1 for k in keys},
                     "onset_s": on_s, "start": start, "end": end, "start_s": s_s, "end_s": e_s,
                     "latency": latency, "ratio": ratio, "mean": mean_pct, "peak": peak_pct, "coact": coact,
                     "cut": cut, "gaps": gaps, "clipped": {k: v[0] for k, v in per.items()},
                     "moved": {k: v[1] for k, v in per.items()}})
    return reps


def _v(x):
    """A measured value as the reference holds it: NaN → None."""
    x = float(x)
    return None if math.isnan(x) else x


def _vectorized(m, c, keys):
    """measure_reps' and check_reps' arrays, one dict per rep like the reference's."""
    return [{"on": {k: int(m.onsets[k][r]) for k in keys}, "off": {k: int(m.offsets[k][r]) for k in keys},
             "onset_s": {k: _v(m.onset_s[k][r]) for k in keys}, "start": int(m.start[r]), "end": int(m.end[r]),
             "start_s": float(m.start_s[r]), "end_s": float(m.end_s[r]), "latency": _v(m.latency_ms[r]),
             "ratio": _v(m.ratio[r]), "mean": {k: _v(m.mean_pct_mvc[k][r]) for k in keys},
             "peak": {k: _v(m.peak_pct_mvc[k][r]) for k in keys}, "coact": _v(m.coactivation_index[r]),
             "cut": bool(c.cut[r]), "gaps": [bool(g[r]) for g in c.gaps],
             "clipped": {k: float(v[r]) for k, v in c.clipped_fraction.items()},
             "moved": {k: bool(v[r]) for k, v in c.motion.items()}} for r in range(len(m))]


def _bursts(rng, n, count, overlapping):
    """Sorted onsets; offsets in order too, unless ``overlapping`` (long bursts spanning later ones)."""
    on = np.sort(rng.choice(n - 1, size=min(count, n - 1), replace=False)).astype(np.int64)
    length = rng.integers(1, max(2, n // 8) if overlapping else max(2, n // (4 * max(count, 1))), size=on.size)
    off = np.minimum(on + length, n - 1)
    if not overlapping:
        off = np.minimum(off, np.append(on[1:] - 1, n - 1))
        off = np.maximum(off, on)
    return Bursts(on, off)


def _envelope(rng, n):
    """float32 envelope ≥ 0 with exact zeros and values many octaves apart (sums that round)."""
    env = rng.gamma(2.0, 1.0, n) * 10.0 ** rng.integers(-12, 3, size=n).clip(-12, 0)
    env[rng.random(n) < 0.1] = 0.0
    return env.astype(np.float32)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(50, 3000), nbursts=st.integers(0, 25),
       others=st.integers(0, 2), overlapping=st.booleans(), roles=st.sampled_from(["both", "glute", "ham"]),
       normalization=st.sampled_from(["mvc", "none"]), with_movements=st.booleans())
def test_rep_measures_equal_the_per_rep_loop(seed, n, nbursts, others, overlapping, roles, normalization,
                                            with_movements):
    rng = np.random.default_rng(seed)
    fs, t0 = float(rng.choice([250.0, 1000.0, 2048.0])), float(rng.choice([0.0, 12.345]))
    primary_keys = {"both": [HAM, GLUTE], "glute": [GLUTE], "ham": [HAM]}[roles]
    other_keys = [f"other{i}" for i in range(others)]
    keys = primary_keys + other_keys
    bursts = {k: _bursts(rng, n, nbursts, overlapping and k in other_keys) for k in keys}
    envs = {k: _envelope(rng, n) for k in keys}
    refs = {k: (None if rng.random() < 0.15 else float(rng.uniform(0.1, 3.0))) for k in keys}
    masks = {k: (rng.random(n) < rng.choice([0.0, 0.005, 0.05]), rng.random(n) < rng.choice([0.0, 0.001]))
             for k in rng.permutation(keys)[:rng.integers(len(keys) + 1)].tolist()}
    primary = [k for k in (GLUTE, HAM) if k in bursts]
    groups = group_reps({k: bursts[k] for k in primary}, rng.random(n) > 0.05)
    dur = n / fs
    gap_spans = [(t0 + a, t0 + a + d) for a, d in zip(rng.uniform(0, dur, 2), rng.uniform(0, 0.3, 2))]
    gap_spans = gap_spans[:rng.integers(3)]
    want = _reference(groups=groups, bursts=bursts, others=other_keys, keys=keys, envs=envs, refs=refs,
                      normalization=normalization, n=n, fs=fs, t0=t0, gap_spans=gap_spans, masks=masks)
    m = measure_reps(groups, bursts, envs, fs=fs, t0_s=t0, others=other_keys,
                     references=refs if normalization != "none" else None)
    c = check_reps(m.start, m.end, n=n, fs=fs, t0_s=t0, gaps_s=gap_spans,
                   clip_masks={k: v[0] for k, v in masks.items()}, motion_masks={k: v[1] for k, v in masks.items()})
    assert m.keys == tuple(keys) and len(m) == len(groups)
    assert _vectorized(m, c, keys) == want
    if with_movements:
        ma = np.sort(rng.uniform(t0 - 0.5, t0 + dur, rng.integers(0, 30)))
        movements = [(float(a), float(a + d)) for a, d in zip(ma, rng.uniform(0, 1.5, ma.size))]
        onsets, used = movement_onsets(m.start_s, m.end_s, movements)
        ref_onsets, ref_used = _ref_movements([(r["start_s"], r["end_s"]) for r in want], movements)
        assert [_v(v) for v in onsets] == ref_onsets and used == ref_used


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(1, 5000), count=st.integers(0, 40), disjoint=st.booleans())
def test_span_sums_and_maxima_equal_numpy_per_span_overlapping_or_not(seed, n, count, disjoint):
    rng = np.random.default_rng(seed)
    x = _envelope(rng, n)
    x[rng.random(n) < 0.01] = rng.choice([np.inf, np.nan, 1e30])
    if disjoint:
        edges = np.unique(rng.integers(0, n + 1, 2 * count))
        starts, stops = edges[:-1:2], edges[1::2]
    else:
        starts = rng.integers(0, n, count)
        stops = np.minimum(starts + rng.integers(1, n + 1, count), n)
    spans = _Spans(starts, stops, n)
    sums = spans.sums(x)
    peaks = spans.reduce(np.maximum, spans.source(x))
    want = [x[a:b].sum(dtype=np.float64) for a, b in zip(starts.tolist(), stops.tolist())]
    assert sums.tobytes() == np.array(want, dtype=np.float64).tobytes()
    assert peaks.tobytes() == np.array([x[a:b].max() for a, b in zip(starts, stops)], dtype=np.float32).tobytes()
