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

from ._checks import check_fs, check_mask, check_positive, check_signal
from ._util import as_float, moving_mean, moving_mean_from_cumsum, runs, spans_mask, window_samples
from .filters import _psd
from .local_onset import LocalOnsetOptions

SNR_MIN_DB = 3.0
CLIP_MAX_FRACTION = 0.01
FLAT_MAX_FRACTION = 0.5
MOTION_MAX_FRACTION = 0.05
# How far before a burst activity is its lead-in, never a motion artefact (ms): as far as the detector's last step
# may move an onset later (the activity it leaves before the burst).
LEAD_IN_MS = LocalOnsetOptions().max_later_ms
MAINS_MAX_DB = 0.0
FLAT_WINDOW_MS = 100.0


def clipped_mask(stored, *, min_run: int = 3) -> np.ndarray:
    """Samples held at the channel's extreme value (an ADC or amplifier at its rail).

    Parameters
    ----------
    stored : array_like, shape (samples,)
        One channel as stored (ADC counts or any unit: only equality is used). NaN (a gap's fill in a
        float recording) is allowed: it equals nothing, so it is never clipped.
    min_run : int
        Least number of equal samples at the minimum or maximum that count as clipping.

    Returns
    -------
    ndarray of bool, shape (samples,)
        True on samples at the minimum or maximum value in runs of ≥ ``min_run`` samples.
    """
    s = check_signal(stored, "stored", ndim=(1,), check_finite=False)
    if s.size == 0:
        return np.zeros(0, dtype=bool)
    if min_run <= 1:  # every sample at an extreme, no run needed
        return (s == s.max()) | (s == s.min())
    return _clipped(s, *_equal_runs(s), min_run=min_run)


def flat_mask(stored, *, fs: float, window_ms: float = FLAT_WINDOW_MS) -> np.ndarray:
    """Samples inside ``window_ms`` windows of exactly constant value (electrode off, unplugged lead,
    a stuck ADC).

    A sample is flat when the centred window around it (shrunk at the record's edges, as a moving mean's
    is) holds one value only, i.e. lies inside a run of equal samples. Found from the runs of equal
    neighbours, so the cost is one comparison per sample.

    Parameters
    ----------
    stored : array_like, shape (samples,)
        One channel as stored (ADC counts or any unit: only equality is used). NaN (a gap's fill in a
        float recording) is allowed: it equals nothing, so it is never flat.
    fs : float
        Sampling rate in Hz.
    window_ms : float
        Window length in ms.

    Returns
    -------
    ndarray of bool, shape (samples,)
    """
    s = check_signal(stored, "stored", ndim=(1,), check_finite=False)
    fs = check_fs(fs)
    w = window_samples(check_positive(window_ms, "window_ms", "ms"), fs)
    if s.size == 0:
        return np.zeros(0, dtype=bool)
    return _flat(s.size, *_equal_runs(s), w=min(w, s.size))


def _equal_runs(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs of equal neighbours: pairs k with s[k] == s[k + 1] for k in [a, b) make samples a..b one run of
    equal values. Clipping and flat lines both are such runs, so the one comparison serves both."""
    return runs(s[1:] == s[:-1])


def _clipped(s: np.ndarray, a: np.ndarray, b: np.ndarray, *, min_run: int) -> np.ndarray:
    """:func:`clipped_mask` (``min_run`` ≥ 2) from the runs of equal neighbours ``a``, ``b`` of ``s``: the runs
    of ≥ ``min_run`` samples whose value is the record's maximum or minimum."""
    long_ = (b - a + 1) >= min_run
    a, b = a[long_], b[long_]
    level = s[a]
    at_rail = (level == s.max()) | (level == s.min())
    return spans_mask(s.size, a[at_rail], b[at_rail] + 1)


def _flat(n: int, a: np.ndarray, b: np.ndarray, *, w: int) -> np.ndarray:
    """:func:`flat_mask` of ``n`` samples with window ``w`` from the runs of equal neighbours ``a``, ``b``."""
    if w <= 1:
        return np.ones(n, dtype=bool)
    half = w // 2
    long_ = (b - a + 1) >= w - half  # shorter runs cannot hold a window, even an edge one
    ra, rb = a[long_], b[long_]
    # Window of sample i: [max(i − half, 0), min(i − half + w, n)); inside [ra, rb] when both ends are.
    lo = np.where(ra > 0, ra + half, 0)
    hi = np.where(rb < n - 1, rb + half - w + 1, n - 1)
    out = spans_mask(n, lo, hi + 1)
    if w - half == 1:
        out[0] = True  # the first sample's window holds that sample alone
    return out


def mains_level_db(raw_dc, *, fs: float, mains_hz: float | None) -> float | None:
    """Mains power relative to the EMG band's power, before mains removal.

    Parameters
    ----------
    raw_dc : array_like, shape (samples,)
        One raw channel with its DC removed (a minute is plenty), in any unit.
    fs : float
        Sampling rate in Hz.
    mains_hz : float or None
        The mains frequency in Hz (None: no mains, no level).

    Returns
    -------
    float or None
        10·log10 of the power within ±1 Hz of the mains harmonics over the power of the rest of the
        20–450 Hz band (clamped to 0.45 × ``fs``), in dB; None without mains, with less than one second
        of data, at ``fs`` < 110 Hz, or when either power is zero.
    """
    x = as_float(check_signal(raw_dc, "raw_dc", ndim=(1,)))
    fs = check_fs(fs)
    if mains_hz is None or x.size < int(fs) or fs < 2 * 55:
        return None
    mains_hz = check_positive(mains_hz, "mains_hz", "Hz")
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
                    gap_mask=None, kind: str = "raw", max_artifact_ms: float = 150.0, power_cumsum=None,
                    check_finite: bool = True) -> dict:
    """The quality of one channel: whether it may produce numbers, and what is wrong with it.

    Parameters
    ----------
    stored : array_like, shape (samples,)
        The channel as stored (ADC counts or its unit): for clipping and flat lines. NaN is allowed
        there (a gap's fill in a float recording).
    raw_dc : array_like, shape (m,)
        The raw channel with DC removed, before mains removal (any length; a minute is plenty), in the
        signal's unit: for the mains level. Ignored unless ``kind == "raw"``.
    cleaned : array_like, shape (samples,)
        The cleaned channel (raw EMG) or the envelope as recorded (``kind == "envelope"``), in the
        signal's unit.
    fs : float
        Sampling rate in Hz.
    baseline_mask, burst_mask : array_like of bool, shape (samples,)
        The resting baseline and the activity (bursts and MVC trials).
    mains_hz : float or None
        The mains frequency in Hz (None: not measured).
    gap_mask : array_like of bool, shape (samples,), optional
        Samples that are not data (gaps): left out of every measure.
    kind : {"raw", "envelope"}
        Raw EMG (powers of ``cleaned``²) or an amplitude envelope (levels of ``cleaned``).
    max_artifact_ms : float
        Longest high-energy event outside the bursts that counts as a motion artefact, in ms.
    power_cumsum : array_like, shape (samples + 1,), optional
        The cumulative sum of ``cleaned``² with a leading 0, when the caller has it (saves a pass).
    check_finite : bool
        Check that the signals hold no NaN or inf (one pass each; a caller that checked already passes
        False).

    Returns
    -------
    dict
        ``snr_db`` (burst power over resting power, dB; None when either is missing), ``mains_hz``,
        ``mains_db`` (:func:`mains_level_db`), ``clipping_fraction`` (:func:`clipped_mask`, runs of ≥ 3),
        ``flat_fraction`` (:func:`flat_mask`, 100 ms), ``motion_fraction`` and ``motion_artifacts`` (short
        events above 10 × the resting power, ≥ 300 ms after and ≥ :data:`LEAD_IN_MS` before any burst), all over the
        valid samples;
        ``flags`` (a list of "flat", "clipping", "low_snr", "mains", "motion", "electrode_off"),
        ``usable`` (bool), and the boolean masks ``clip_mask`` and ``motion_mask`` (artefacts widened by
        50 ms: the samples a rep must not touch).
    """
    s = check_signal(stored, "stored", ndim=(1,), check_finite=False)
    n = int(s.size)
    c = as_float(check_signal(cleaned, "cleaned", ndim=(1,), check_finite=check_finite))
    if c.size != n:
        raise ValueError(f"cleaned must hold the {n} samples of stored, got shape {c.shape}")
    fs = check_fs(fs)
    gap = check_mask(gap_mask, n, "gap_mask")
    bm = check_mask(baseline_mask, n, "baseline_mask")
    am = check_mask(burst_mask, n, "burst_mask")
    if bm is None or am is None:
        raise ValueError("baseline_mask and burst_mask must be boolean masks over the samples, got None")
    if power_cumsum is not None and np.shape(power_cumsum) != (n + 1,):
        raise ValueError(f"power_cumsum must have {n + 1} values (a leading 0), got shape {np.shape(power_cumsum)}")
    # None: every sample valid (no gaps), so no mask to combine with.
    valid = None if gap is None or not np.any(gap) else ~gap
    nvalid = max(n if valid is None else np.count_nonzero(valid), 1)
    clip, flat = _clip_flat(s, fs)
    if valid is not None:
        clip &= valid
        flat &= valid
        bm, am = bm & valid, am & valid
    clipping_fraction = float(np.count_nonzero(clip) / nvalid)
    flat_fraction = float(np.count_nonzero(flat) / nvalid)
    act_runs = runs(am)
    p_rest, snr_db = _snr_db(c, fs, bm, am, act_runs, valid, kind, power_cumsum)
    motion_count, motion_fraction, motion = 0, 0.0, np.zeros(n, dtype=bool)
    if kind != "envelope" and p_rest and n:
        motion_count, motion_fraction, motion = _motion(c, fs, p_rest, act_runs, valid, nvalid, max_artifact_ms,
                                                        power_cumsum)
    mains_db = None
    if kind == "raw":
        mains_db = mains_level_db(check_signal(raw_dc, "raw_dc", ndim=(1,), check_finite=check_finite), fs=fs,
                                  mains_hz=mains_hz)
    flags, usable = _flags(n, flat_fraction, clipping_fraction, snr_db, mains_db, motion_fraction)
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
        "motion_mask": motion,
    }


def _clip_flat(s: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`clipped_mask` (runs of ≥ 3) and :func:`flat_mask` (100 ms) of ``s``, from one comparison pass."""
    n = s.size
    if not n:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=bool)
    eq_a, eq_b = _equal_runs(s)
    return _clipped(s, eq_a, eq_b, min_run=3), _flat(n, eq_a, eq_b, w=min(window_samples(FLAT_WINDOW_MS, fs), n))


def _snr_db(c: np.ndarray, fs: float, bm: np.ndarray, am: np.ndarray, act_runs, valid, kind: str,
            power_cumsum) -> tuple[float | None, float | None]:
    """(resting level, SNR in dB) of ``c``: the mean power (raw EMG) or mean level (envelope) over the rest
    ``bm`` and over the activity ``am`` (without activity: the 95th percentile of its 250 ms moving mean)."""
    n = c.size

    def level(sel: np.ndarray, sel_runs: tuple[np.ndarray, np.ndarray]) -> float:
        """Mean power (raw EMG: of x²) or mean envelope level over the selected samples. With the power's
        cumulative sum, from its values at the ends of the selected runs (no gather of the samples)."""
        if kind != "envelope" and power_cumsum is not None:
            a, b = sel_runs
            return float((power_cumsum[b] - power_cumsum[a]).sum() / (b - a).sum())
        v = c[sel]
        return float(np.mean(v if kind == "envelope" else v * v))

    rest_runs = runs(bm)
    p_rest = level(bm, rest_runs) if rest_runs[0].size else None
    if act_runs[0].size:
        p_act = level(am, act_runs)
    elif n and (valid is None or valid.any()):
        act = c if kind == "envelope" else c * c
        mm = moving_mean(act, window_samples(250, fs))
        p_act = float(np.percentile(mm if valid is None else mm[valid], 95))
    else:
        p_act = None
    snr_db = None
    if p_rest is not None and p_act is not None and p_rest > 0 and p_act > 0:
        # An envelope channel already holds amplitude, raw EMG is squared here: both end up as a power ratio.
        snr_db = float((20.0 if kind == "envelope" else 10.0) * np.log10(p_act / p_rest))
    return p_rest, snr_db


def _motion(c: np.ndarray, fs: float, p_rest: float, act_runs, valid, nvalid: int, max_artifact_ms: float,
            power_cumsum) -> tuple[int, float, np.ndarray]:
    """Motion artefacts of raw EMG ``c``: short energetic events outside the bursts (a burst is far longer
    than a cable tug). Returns their count, their share of the valid samples and their mask (widened)."""
    n = c.size
    w20 = window_samples(20, fs)
    pw = moving_mean(c * c, w20) if power_cumsum is None else moving_mean_from_cumsum(power_cumsum, w20)
    hot = pw > 10.0 * p_rest
    del pw
    # 10× resting power and ≥ 300 ms from any burst: the rise and fall of a real contraction
    # around its detected onset/offset must not count as an artefact. Before a burst, ≥ LEAD_IN_MS: the
    # detector's last step judges an onset against the lead-in potentials or tonic firing of up to that long
    # before it (reengage.dsp.local_onset), which are muscle, not motion.
    k = max(window_samples(300, fs), 0)
    lead = max(window_samples(LEAD_IN_MS, fs), k)
    hot &= spans_mask(n, act_runs[0] - lead, act_runs[1] + k, inside=False)
    if valid is not None:
        hot &= valid
    a, b = runs(hot)
    short = (b - a) <= window_samples(max_artifact_ms, fs)
    count = int(short.sum())
    fraction = float((b - a)[short].sum() / nvalid)
    # The artefacts, widened by 50 ms: the samples a rep must not touch.
    k = max(window_samples(50, fs), 0)
    return count, fraction, spans_mask(n, a[short] - k, b[short] + k)


def _flags(n: int, flat_fraction: float, clipping_fraction: float, snr_db, mains_db, motion_fraction: float
           ) -> tuple[list[str], bool]:
    """What is wrong with a channel, and whether it may still produce numbers."""
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
    return flags, usable


