"""The reps are measured for all reps at once (one numpy reduction per measure and channel); this must give
exactly what the straightforward loop over reps, taking each rep's slices, gave (the former code, kept here
as the reference), on random burst layouts, overlapping rep windows included."""

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reengage.analysis import (CLIP_REP_MAX_FRACTION, EDGE_MARGIN_S, GLUTE, HAM, OTHER_MUSCLE_LEAD_S, _group_reps,
                               _num, _reps, _Spans)
from reengage.dsp.onsets import Bursts


def _mean64(v):
    return float(v.sum(dtype=np.float64)) / v.size


def _coactivation(a, b):
    tot = float(np.sum(a, dtype=np.float64) + np.sum(b, dtype=np.float64))
    if tot <= 0 or not math.isfinite(tot):
        return None
    return 100.0 * 2.0 * float(np.sum(np.minimum(a, b), dtype=np.float64)) / tot


def _reference_reps(*, groups, bursts, primary, others, keys, envs, refs, normalization, quality, n, fs, t0,
                    gap_spans, movements):
    """The rep loop as it was in analyze(), one rep at a time."""
    notes = []
    reps, used_movements = [], set()
    movement_starts = np.array([ma for ma, _ in movements]) if movements is not None else np.zeros(0)
    for g in groups:
        on_s = {k: None for k in keys}
        off_s = {k: None for k in keys}
        idx = dict(g)
        start = min(v[0] for v in g.values())
        end = max(v[1] for v in g.values())
        for k in others:
            b = bursts[k]
            lead = int(OTHER_MUSCLE_LEAD_S * fs)
            for i in range(int(np.searchsorted(b.onsets, start - lead, side="left")), len(b)):
                if b.onsets[i] > end:
                    break
                if b.offsets[i] >= start:
                    idx[k] = (int(b.onsets[i]), int(b.offsets[i]))
                    break
        for k, (a, b_) in idx.items():
            on_s[k] = t0 + a / fs
            off_s[k] = t0 + b_ / fs
        start = min(v[0] for v in idx.values())
        end = max(v[1] for v in idx.values())
        rep_notes, reasons = [], []
        latency = None
        if on_s.get(GLUTE) is not None and on_s.get(HAM) is not None:
            latency = 1000.0 * (on_s[GLUTE] - on_s[HAM])
        else:
            missing = [k for k in (GLUTE, HAM) if k in keys and on_s.get(k) is None]
            if missing:
                rep_notes.append(f"no burst detected in {', '.join(missing)}: latency and ratio are null")
        ratio = None
        if GLUTE in idx and HAM in idx:
            a = min(idx[GLUTE][0], idx[HAM][0])
            b_ = max(idx[GLUTE][1], idx[HAM][1]) + 1
            rg = refs.get(GLUTE) if normalization != "none" else 1.0
            rh = refs.get(HAM) if normalization != "none" else 1.0
            if rg and rh:
                den = _mean64(envs[HAM][a:b_]) / rh
                if den > 0:
                    ratio = (_mean64(envs[GLUTE][a:b_]) / rg) / den
            else:
                rep_notes.append("glute_max or hamstrings has no MVC reference: ratio is null")
        mean_pct, peak_pct = {}, {}
        for k in keys:
            ref = refs.get(k)
            seg = envs[k][start:end + 1]
            ok = ref is not None and seg.size and k in idx
            mean_pct[k] = _num(100.0 * _mean64(seg) / ref, 1) if ok else None
            peak_pct[k] = _num(100.0 * float(seg.max()) / ref, 1) if ok else None
        coact = None
        if GLUTE in envs and HAM in envs and GLUTE in idx and HAM in idx:
            rg = refs.get(GLUTE) if normalization != "none" else 1.0
            rh = refs.get(HAM) if normalization != "none" else 1.0
            if rg and rh:
                coact = _coactivation(envs[GLUTE][start:end + 1] / rg, envs[HAM][start:end + 1] / rh)
        s_s, e_s = t0 + start / fs, t0 + end / fs
        edge = int(round(EDGE_MARGIN_S * fs))
        if start <= edge or end >= n - 1 - edge:
            reasons.append("rep cut by the start or end of the recording")
        for ga, gb in gap_spans:
            if ga < e_s + 0.2 and gb > s_s - 0.2:
                reasons.append(f"data gap at {ga:.2f}–{gb:.2f} s overlaps the rep")
        for k in [k for k in (GLUTE, HAM) if k in quality] or primary:
            q = quality[k]
            if not q["usable"]:
                reasons.append(f"{k}: channel unusable ({', '.join(q['flags'])})")
                continue
            clip = q["clip_mask"][start:end + 1]
            clipped = np.count_nonzero(clip) / clip.size if clip.size else 0.0
            if clipped > CLIP_REP_MAX_FRACTION:
                reasons.append(f"{k}: clipped in {100 * clipped:.0f}% of the rep")
            if q["motion_mask"][start:end + 1].any():
                reasons.append(f"{k}: motion artefact at the rep")
        movement_onset, re_move = None, {}
        if movements is not None:
            first_mi = int(np.searchsorted(movement_starts, s_s - 0.5, side="left"))
            last_mi = int(np.searchsorted(movement_starts, e_s, side="right"))
            for mi in range(first_mi, last_mi):
                ma, mb = movements[mi]
                if mi not in used_movements and s_s - 0.5 <= ma <= e_s and mb >= s_s:
                    used_movements.add(mi)
                    if movement_onset is None:
                        movement_onset = ma
            re_move = {k: (_num(1000.0 * (on_s[k] - movement_onset), 1)
                           if movement_onset is not None and on_s[k] is not None else None) for k in keys}
        order = sorted((k for k in keys if on_s[k] is not None), key=lambda k: on_s[k])
        rep = {
            "index": len(reps),
            "start_s": _num(s_s, 4),
            "end_s": _num(e_s, 4),
            "onset_s": {k: _num(v, 4) for k, v in on_s.items()},
            "offset_s": {k: _num(v, 4) for k, v in off_s.items()},
            "onset_latency_ms": _num(latency, 1),
            "firing_order": order,
            "glute_hamstring_ratio": _num(ratio, 3),
            "mean_pct_mvc": mean_pct,
            "peak_pct_mvc": peak_pct,
            "coactivation_index": _num(coact, 1),
            "excluded": bool(reasons),
            "exclusion_reasons": reasons,
        }
        if movements is not None:
            rep["movement_onset_s"] = _num(movement_onset, 4)
            rep["onset_re_movement_ms"] = re_move
        reps.append(rep)
        for m in rep_notes:
            notes.append(f"rep {rep['index']}: {m}")
        for r in reasons:
            notes.append(f"rep {rep['index']} excluded: {r}")
    return reps, notes, used_movements


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
    refs = {k: (None if normalization == "none" or rng.random() < 0.15 else float(rng.uniform(0.1, 3.0)))
            for k in keys}
    quality = {}
    for k in keys:
        clip = rng.random(n) < rng.choice([0.0, 0.005, 0.05])
        motion = rng.random(n) < rng.choice([0.0, 0.001])
        quality[k] = {"usable": bool(rng.random() > 0.1), "flags": ["flat", "low_snr"], "clip_mask": clip,
                      "motion_mask": motion}
    allowed = rng.random(n) > 0.05
    primary = [k for k in (GLUTE, HAM) if k in bursts]
    groups = _group_reps({k: bursts[k] for k in primary}, allowed)
    dur = n / fs
    gaps = zip(rng.uniform(0, dur, 2), rng.uniform(0, 0.3, 2))
    gap_spans = [(t0 + a, t0 + a + d) for a, d in gaps][:rng.integers(3)]
    movements = None
    if with_movements:
        ma = np.sort(rng.uniform(t0 - 0.5, t0 + dur, rng.integers(0, 30)))
        movements = [(float(a), float(a + d)) for a, d in zip(ma, rng.uniform(0, 1.5, ma.size))]
    args = dict(groups=groups, bursts=bursts, primary=primary, others=other_keys, keys=keys, envs=envs, refs=refs,
                normalization=normalization, quality=quality, n=n, fs=fs, t0=t0, gap_spans=gap_spans,
                movements=movements)
    assert _reps(**args) == _reference_reps(**args)


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
