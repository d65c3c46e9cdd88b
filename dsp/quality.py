"""Per-channel signal quality, so a loose electrode or a noisy cable never becomes a clinical number.

Measures (all JSON-safe floats or None):

* ``snr_db`` — burst power over resting power of the cleaned EMG (SENIAM recommends checking the
  baseline noise against the contraction level before analysis).
* ``mains_hz`` / ``mains_db`` — detected mains line and its power (fundamental and harmonics, ±1 Hz)
  relative to the 20–450 Hz EMG band, before the notch.
* ``clipping_fraction`` — share of samples held at the channel's extreme value for ≥ 3 samples
  (an ADC or amplifier at its rail).
* ``flat_fraction`` — share of 100 ms windows with no variation at all (electrode off, unplugged
  lead, a stuck ADC); data gaps are counted separately and not here.
* ``motion_fraction`` / ``motion_artifacts`` — short (< ``max_artifact_ms``) high-energy events outside
  the activation bursts (a tugged cable, a knock on the electrode).

``flags`` lists what is wrong; ``usable`` is False when a channel must not produce numbers.
"""

from __future__ import annotations

import numpy as np

from ._util import as_float, moving_mean, moving_mean_from_cumsum, runs, window_samples
from .filters import _psd

SNR_MIN_DB = 3.0
CLIP_MAX_FRACTION = 0.01
FLAT_MAX_FRACTION = 0.5
MOTION_MAX_FRACTION = 0.05
MAINS_MAX_DB = 0.0


def clipped_mask(stored, *, min_run: int = 3) -> np.ndarray:
    """Samples at the channel's minimum or maximum value in runs of ≥ ``min_run`` samples (1-D)."""
    s = np.asarray(stored)
    if s.size == 0:
        return np.zeros(0, dtype=bool)
    out = np.zeros(s.size, dtype=bool)
    for level in (s.max(), s.min()):
        at = s == level
        if np.count_nonzero(at) < min_run:  # the usual case for unclipped data: no runs to look for
            continue
        a, b = runs(at)
        for i, j in zip(a[(b - a) >= min_run], b[(b - a) >= min_run]):
            out[i:j] = True
    return out


def flat_mask(stored, *, fs: float, window_ms: float = 100.0) -> np.ndarray:
    """Samples inside ``window_ms`` windows of exactly constant value (1-D).

    A sample is flat when the centered window around it (shrunk at the record's edges, as
    :func:`moving_mean` does) holds one value only, i.e. lies inside a run of equal samples. Found
    from the runs of equal neighbours, so the cost is one comparison per sample.
    """
    s = np.asarray(stored)
    n = s.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    w = min(window_samples(window_ms, fs), n)
    out = np.zeros(n, dtype=bool)
    if w <= 1:
        out[:] = True
        return out
    half = w // 2
    if w - half == 1:
        out[0] = True  # the first sample's window holds that sample alone
    # Runs of equal values: pairs k with s[k] == s[k + 1] for k in [a, b) make samples a..b one run.
    a, b = runs(s[1:] == s[:-1])
    long_ = (b - a + 1) >= w - half  # shorter runs cannot hold a window, even an edge one
    for ra, rb in zip(a[long_].tolist(), b[long_].tolist()):
        # Window of sample i: [max(i − half, 0), min(i − half + w, n)); inside [ra, rb] when both ends are.
        lo = ra + half if ra > 0 else 0
        hi = rb + half - w + 1 if rb < n - 1 else n - 1
        if hi >= lo:
            out[lo:hi + 1] = True
    return out


def mains_level_db(raw_dc, *, fs: float, mains_hz: float | None) -> float | None:
    """Mains power (lines ±1 Hz) over EMG-band power (20–450 Hz, lines excluded), in dB."""
    x = as_float(raw_dc)
    if mains_hz is None or x.size < int(fs) or fs < 2 * 55:
        return None
    f, p = _psd(x[None, :], fs)
    p = p[0]
    top = min(450.0, 0.45 * fs)
    band = (f >= 20.0) & (f <= top)
    lines = np.zeros_like(band)
    for k in range(1, int(top // mains_hz) + 1):
        lines |= np.abs(f - k * mains_hz) <= 1.0
    emg = p[band & ~lines].sum()
    hum = p[lines].sum()
    if emg <= 0 or hum <= 0:
        return None
    return float(10 * np.log10(hum / emg))


def channel_quality(*, stored, raw_dc, cleaned, fs: float, baseline_mask, burst_mask, mains_hz: float | None,
                    gap_mask=None, kind: str = "raw", max_artifact_ms: float = 150.0) -> dict:
    """Quality of one channel (1-D arrays over the same samples)."""
    return _channel_quality(stored=stored, raw_dc=raw_dc, cleaned=cleaned, fs=fs, baseline_mask=baseline_mask,
                            burst_mask=burst_mask, mains_hz=mains_hz, gap_mask=gap_mask, kind=kind,
                            max_artifact_ms=max_artifact_ms)


def _channel_quality(*, stored, raw_dc, cleaned, fs, baseline_mask, burst_mask, mains_hz, gap_mask, kind,
                     max_artifact_ms, power_cumsum=None) -> dict:
    """:func:`channel_quality`; ``power_cumsum`` (:func:`cumsum0` of cleaned²) when the caller already has it."""
    n = int(np.asarray(stored).size)
    valid = np.ones(n, dtype=bool) if gap_mask is None else ~np.asarray(gap_mask, dtype=bool)
    nvalid = max(int(valid.sum()), 1)
    clip = clipped_mask(stored) & valid
    flat = flat_mask(stored, fs=fs) & valid
    clipping_fraction = float(clip.sum() / nvalid)
    flat_fraction = float(flat.sum() / nvalid)
    c = as_float(cleaned)

    def level(sel: np.ndarray) -> float:
        """Mean power (raw EMG: of x²) or mean envelope level over the selected samples. With the power's
        cumulative sum, from its values at the ends of the selected runs (no gather of the samples)."""
        if kind != "envelope" and power_cumsum is not None:
            a, b = runs(sel)
            return float((power_cumsum[b] - power_cumsum[a]).sum() / (b - a).sum())
        v = c[sel]
        return float(np.mean(v if kind == "envelope" else v * v))

    bm = np.asarray(baseline_mask, dtype=bool) & valid
    am = np.asarray(burst_mask, dtype=bool) & valid
    p_rest = level(bm) if bm.any() else None
    if am.any():
        p_act = level(am)
    elif n and valid.any():
        act = c if kind == "envelope" else c * c
        p_act = float(np.percentile(moving_mean(act, window_samples(250, fs))[valid], 95))
    else:
        p_act = None
    snr_db = None
    if p_rest is not None and p_act is not None and p_rest > 0 and p_act > 0:
        # An envelope channel already holds amplitude, raw EMG is squared here: both end up as a power ratio.
        snr_db = float((20.0 if kind == "envelope" else 10.0) * np.log10(p_act / p_rest))
    # Motion: short energetic events outside bursts (a burst is far longer than a cable tug).
    motion_count, motion_fraction = 0, 0.0
    if kind != "envelope" and p_rest and n:
        w20 = window_samples(20, fs)
        pw = moving_mean(c * c, w20) if power_cumsum is None else moving_mean_from_cumsum(power_cumsum, w20)
        # 10× resting power and ≥ 300 ms from any burst: the rise and fall of a real contraction
        # around its detected onset/offset must not count as an artefact.
        near_burst = _dilate(am, window_samples(300, fs))
        hot = (pw > 10.0 * p_rest) & ~near_burst & valid
        a, b = runs(hot)
        short = (b - a) <= window_samples(max_artifact_ms, fs)
        motion_count = int(short.sum())
        motion_fraction = float((b - a)[short].sum() / nvalid)
    mains_db = None if kind != "raw" else mains_level_db(raw_dc, fs=fs, mains_hz=mains_hz)
    flags = []
    if flat_fraction > FLAT_MAX_FRACTION or n == 0:
        flags.append("flat")
    if clipping_fraction > CLIP_MAX_FRACTION:
        flags.append("clipping")
    if snr_db is None or snr_db < SNR_MIN_DB:
        flags.append("low_snr")
    if mains_db is not None and mains_db > MAINS_MAX_DB:
        flags.append("mains")
    if motion_fraction > MOTION_MAX_FRACTION:
        flags.append("motion")
    electrode_off = flat_fraction > FLAT_MAX_FRACTION or clipping_fraction > 0.2 or (
        mains_db is not None and mains_db > 10.0)
    if electrode_off:
        flags.append("electrode_off")
    usable = not (electrode_off or "flat" in flags or "low_snr" in flags)
    return {
        "snr_db": None if snr_db is None else round(snr_db, 1),
        "mains_hz": mains_hz,
        "mains_db": None if mains_db is None else round(mains_db, 1),
        "clipping_fraction": round(clipping_fraction, 4),
        "flat_fraction": round(flat_fraction, 4),
        "motion_fraction": round(motion_fraction, 4),
        "motion_artifacts": motion_count,
        "flags": flags,
        "usable": bool(usable),
        "clip_mask": clip,
        "motion_mask": _dilate(hot & _short_runs_mask(hot, window_samples(max_artifact_ms, fs)), window_samples(50, fs)) if kind != "envelope" and p_rest and n else np.zeros(n, dtype=bool),
    }


def _short_runs_mask(mask: np.ndarray, max_len: int) -> np.ndarray:
    out = np.zeros(mask.size, dtype=bool)
    a, b = runs(mask)
    for i, j in zip(a, b):
        if j - i <= max_len:
            out[i:j] = True
    return out


def _dilate(mask: np.ndarray, k: int) -> np.ndarray:
    """True within ``k`` samples of any True sample."""
    if k <= 0 or not mask.any():
        return mask
    out = np.zeros(mask.size, dtype=bool)
    a, b = runs(mask)
    for i, j in zip(np.maximum(a - k, 0).tolist(), (b + k).tolist()):
        out[i:j] = True
    return out
