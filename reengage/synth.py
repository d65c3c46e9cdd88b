"""Realistic synthetic sEMG and thigh IMU with known truth: the simulated board's signal source and the
validation suite's ground truth.

Model (after the peer benchmark in ``shared/research/peers.md``): Gaussian noise shaped to a surface-EMG
power spectrum (Shwedyk et al. 1977, fl = 60 Hz, fh = 120 Hz, limited to 20–450 Hz) multiplied by smooth
burst envelopes (raised-cosine rise and fall, slow force wobble); additive white baseline noise set by the
SNR (burst plateau RMS over baseline RMS), mains hum with its third harmonic, and baseline wander.
Amplitudes are in mV at the electrodes; MVC trials run each muscle at 100 %MVC.

The IMU sits on the back of the thigh: in prone hip extension the thigh pitches up by ``lift_deg`` while
the hip extensors are active, so the gyro sees the angular velocity and the accelerometer the tilt of gravity.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import signal

from reengage.model import Event
from reengage.session_plan import REST_S, RETEST, mvc_plan_for, retest_gains, with_retest_gain

# The range (s) of a rep burst's rise time, drawn uniformly and independently per muscle and rep.
BURST_RISE_S = (0.04, 0.12)
DEFAULT_MVC_RMS_MV = {"glute_max": 0.60, "hamstrings": 0.80, "glute_med": 0.50, "erector_spinae": 0.45}


@dataclass
class SubjectProfile:
    """How a simulated person activates their hip extensors.

    ``onset_ms`` gives each muscle's burst onset relative to the rep's motor command, so
    ``onset_ms["glute_max"] - onset_ms["hamstrings"]`` is the true ``onset_latency_ms`` (positive: glutes
    late, the compensation pattern). ``pct_mvc`` is each muscle's plateau amplitude in %MVC during reps.
    """

    onset_ms: dict[str, float] = field(default_factory=lambda: {"hamstrings": 0.0, "glute_max": 60.0})
    pct_mvc: dict[str, float] = field(default_factory=lambda: {"hamstrings": 45.0, "glute_max": 25.0})
    mvc_rms_mv: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MVC_RMS_MV))
    onset_jitter_ms: float = 8.0
    rep_period_s: float = 5.0
    rep_duration_s: float = 2.5
    snr_db: float = 20.0
    mains_hz: float = 50.0
    mains_rel: float = 1.0  # mains amplitude relative to baseline noise RMS
    wander_rel: float = 2.0  # baseline wander amplitude relative to baseline noise RMS
    movement_delay_ms: float = 80.0  # thigh motion starts this long after the earliest EMG onset
    lift_deg: float = 15.0
    motion_transients_per_min: float = 0.0  # brief cable/skin artifacts during rests
    # What real recordings add (issue 14); every one is off by default, so existing sessions do not change.
    crosstalk: float = 0.0  # each channel picks up this fraction (amplitude) of the other muscles' signal
    ecg_rel: float = 0.0  # ECG R-wave peak relative to the plateau RMS, on the ``ecg_muscles`` leads
    ecg_muscles: tuple[str, ...] = ("erector_spinae", "glute_med")
    heart_rate_bpm: float = 72.0
    motion_lf_rel: float = 0.0  # 1–15 Hz motion artefact while the leg moves, RMS relative to the plateau RMS
    gain: dict[str, float] = field(default_factory=dict)  # recorded amplitude factor per muscle (electrode site)
    noise_scale: float = 1.0  # baseline noise RMS factor (skin impedance)
    mvc_effort: dict[str, float] = field(default_factory=dict)  # share of the true maximum reached in MVC trials

    @classmethod
    def from_latency_ratio(
        cls, onset_latency_ms: float, glute_hamstring_ratio: float, hamstring_pct_mvc: float = 40.0, **kw
    ) -> "SubjectProfile":
        """A two-muscle profile with a given glute-minus-hamstring latency and %MVC ratio."""
        return cls(
            onset_ms={"hamstrings": 0.0, "glute_max": float(onset_latency_ms)},
            pct_mvc={"hamstrings": hamstring_pct_mvc, "glute_max": hamstring_pct_mvc * glute_hamstring_ratio},
            **kw,
        )

    @property
    def muscles(self) -> list[str]:
        return list(self.pct_mvc)

    def retest(self, rng: np.random.Generator, *, gain_sd: float = 0.15, mvc_sd: float = 0.12,
               noise_sd: float = 0.3) -> "SubjectProfile":
        """The same person on another day: electrodes re-applied (each muscle's recorded amplitude × a
        log-normal factor, ``gain_sd``), another skin preparation (noise RMS × a log-normal factor,
        ``noise_sd``) and a fresh MVC (each muscle reaches 1 − |N(0, ``mvc_sd``)| of its true maximum).

        ``mvc_sd`` = 12 % is the issue's between-session MVC error per muscle (ratio moves ≈ 17 %); with MVC
        normalisation the between-day amplitude %SEM is ≈ 17 % (``shared/MISSION.md``); un-normalised amplitude
        varies more between days, hence the 15 % electrode factor on top. Neither changes the physiology
        (``onset_ms``, ``pct_mvc``), so a true change is zero across a retest."""
        from dataclasses import replace

        ms = self.muscles
        return replace(
            self,
            gain={m: float(np.exp(rng.normal(0.0, gain_sd))) for m in ms},
            noise_scale=float(self.noise_scale * np.exp(rng.normal(0.0, noise_sd))),
            mvc_effort={m: float(max(0.5, 1.0 - abs(rng.normal(0.0, mvc_sd)))) for m in ms})


@dataclass
class SynthSession:
    """A generated session: EMG in mV (muscles, n), IMU (6, m) as acc_x..z in g then gyr_x..z in deg/s."""

    fs_hz: float
    imu_fs_hz: float
    muscles: list[str]
    emg_mv: np.ndarray
    imu: np.ndarray
    events: list[Event]
    truth: dict


def semg_noise(rng: np.random.Generator, shape: tuple[int, int], fs_hz: float) -> np.ndarray:
    """Surface-EMG-like noise: unit-RMS Gaussian noise with the Shwedyk sEMG power spectrum, band-limited
    to 20–450 Hz (and 0.95 × Nyquist). Multiplied by a :func:`burst_envelope` it is a synthetic burst.

    Parameters
    ----------
    rng : numpy.random.Generator
        The random source.
    shape : (int, int)
        (channels, samples).
    fs_hz : float
        Sampling rate in Hz.

    Returns
    -------
    ndarray, shape ``shape``
        Each channel at unit RMS (dimensionless: scale it to mV).

    References
    ----------
    Shwedyk E, Balasubramanian R, Scott RN (1977). A nonstationary model for the electromyogram.
    *IEEE Trans Biomed Eng* 24:417–424 (the spectrum, with fl = 60 Hz, fh = 120 Hz).
    """
    n = shape[-1]
    white = rng.standard_normal(shape)
    spec = np.fft.rfft(white, axis=-1)
    f = np.fft.rfftfreq(n, 1.0 / fs_hz)
    fl, fh = 60.0, 120.0
    psd = (fh**4 * f**2) / ((f**2 + fl**2) * (f**2 + fh**2) ** 2)
    psd[(f < 20.0) | (f > min(450.0, 0.95 * fs_hz / 2))] = 0.0
    x = np.fft.irfft(spec * np.sqrt(psd), n=n, axis=-1)
    return x / x.std(axis=-1, keepdims=True)


def burst_envelope(t: np.ndarray, onset_s: float, rise_s: float, plateau_end_s: float, fall_s: float) -> np.ndarray:
    """The amplitude envelope of a synthetic burst: a raised-cosine rise from ``onset_s`` lasting ``rise_s``,
    a plateau, and a raised-cosine fall from ``plateau_end_s`` lasting ``fall_s``.

    Parameters
    ----------
    t : ndarray
        Times in s.
    onset_s, rise_s, plateau_end_s, fall_s : float
        The burst's onset, rise time, plateau end and fall time, in s.

    Returns
    -------
    ndarray, shape of ``t``
        0 before the onset and after the fall, 1 on the plateau (dimensionless).
    """
    up = np.clip((t - onset_s) / rise_s, 0.0, 1.0)
    down = np.clip((t - plateau_end_s) / fall_s, 0.0, 1.0)
    return 0.5 * (1 - np.cos(np.pi * up)) * 0.5 * (1 + np.cos(np.pi * down))


def mains_hum(t: np.ndarray, mains_hz: float, phase) -> np.ndarray:
    """Mains interference of unit RMS at times ``t`` (s): the line at ``mains_hz`` and its 3rd harmonic at
    0.3 of its amplitude, starting at ``phase`` (rad; an array of shape (channels, 1) gives one per channel)."""
    hum = np.sin(2 * np.pi * mains_hz * t + phase) + 0.3 * np.sin(2 * np.pi * 3 * mains_hz * t + 3 * phase)
    return np.sqrt(2) * hum / np.sqrt(1 + 0.09)


def protocol_schedule(duration_s: float, muscles: list[str], rep_period_s: float) -> tuple[list[Event], float]:
    """The session layout the simulated person follows (:mod:`reengage.session_plan`, the same as a guided
    session's): rest baseline, the MVC trials the session has room for (:func:`~reengage.session_plan.mvc_plan_for`),
    then exercise reps until the end. Returns the events and the exercise start."""
    events = [Event(0.0, REST_S, "rest")]
    t = REST_S
    plan = mvc_plan_for(duration_s, len(muscles), rep_period_s)
    if plan is not None:
        events += plan.events(muscles, t)
        t += plan.span_s(len(muscles))
    events.append(Event(t, max(0.0, duration_s - t), "exercise"))
    return events, t


# How the simulated person answers the guided protocol's other marks (``reengage record --protocol``; the
# values are this simulation's choices, picked so a cue's effect and a reference hold are visible, not sourced):
# a cued rep (``cue:on``, "squeeze your glutes first") fires glute max CUE_ONSET_SHIFT_MS earlier and
# CUE_GAIN times stronger; a ``ref:<muscle>`` hold (the test position against gravity alone) is a steady
# REF_HOLD_PCT_MVC of that muscle with the others at rest.
CUE_ONSET_SHIFT_MS = 40.0
CUE_GAIN = 1.4
REF_HOLD_PCT_MVC = 15.0


@dataclass(frozen=True)
class _Rep:
    start_s: float
    duration_s: float
    cued: bool = False


def _layout_reps(events: list[Event]) -> list[_Rep]:
    """The reps of a guided layout: one per ``rep`` event, cued when it starts inside a ``cue:on`` span."""
    cue_on = [(e.onset_s, e.onset_s + e.duration_s) for e in events if e.label == "cue:on"]
    return [_Rep(e.onset_s, e.duration_s, any(a <= e.onset_s < b for a, b in cue_on))
            for e in events if e.label == "rep"]


def synthesize(
    profile: SubjectProfile,
    duration_s: float = 30.0,
    fs_hz: float = 1000.0,
    imu_fs_hz: float = 100.0,
    seed: int = 0,
    *,
    with_mvc: bool = True,
    layout: list[Event] | None = None,
) -> SynthSession:
    """Generate one session following :func:`protocol_schedule`, with the truth of every rep.

    ``truth["reps"]`` lists per rep: ``onset_s``/``offset_s`` per muscle (first sample of the rise, last
    sample of the fall), ``onset_latency_ms`` (glute max minus hamstrings) and ``glute_hamstring_ratio``
    computed as :mod:`reengage.analysis` defines it, from the noise-free amplitude envelopes.

    ``layout``: a guided session's events (from 0 s) to follow instead: MVC trials at its ``mvc:<muscle>``
    events, a rep at each ``rep`` event (cued reps and ``ref:<muscle>`` holds as :data:`CUE_GAIN` and
    :data:`REF_HOLD_PCT_MVC` say), quiet everywhere else (a ``retest`` block: :func:`guided_blocks`).
    """
    rng = np.random.default_rng(seed)
    muscles = profile.muscles
    n = int(round(duration_s * fs_hz))
    t = np.arange(n) / fs_hz
    if layout is not None:
        events, plan = list(layout), _layout_reps(layout)
    else:
        events, ex_start = protocol_schedule(duration_s, muscles, profile.rep_period_s) if with_mvc else (
            [Event(0.0, 3.0, "rest"), Event(3.0, duration_s - 3.0, "exercise")],
            3.0,
        )
        plan = [_Rep(float(r0), profile.rep_duration_s) for r0 in
                np.arange(ex_start + 1.0, duration_s - profile.rep_duration_s - 1.0, profile.rep_period_s)]
    mvc = np.array([profile.mvc_rms_mv.get(m, 0.5) for m in muscles])
    env = _held_envelopes(profile, events, t)
    reps, movement = _rep_envelopes(rng, profile, plan, t, fs_hz, env)
    # Truth of the ratio, exactly as analysis.md defines it, on the noise-free amplitude envelopes.
    amp = env * mvc[:, None]
    if "glute_max" in muscles and "hamstrings" in muscles:
        g, h = muscles.index("glute_max"), muscles.index("hamstrings")
        for rep in reps:
            a = int(round(min(rep["onset_s"]["glute_max"], rep["onset_s"]["hamstrings"]) * fs_hz))
            b = int(round(max(rep["offset_s"]["glute_max"], rep["offset_s"]["hamstrings"]) * fs_hz))
            rep["onset_latency_ms"] = 1000.0 * (rep["onset_s"]["glute_max"] - rep["onset_s"]["hamstrings"])
            rep["glute_hamstring_ratio"] = float(
                (amp[g, a:b].mean() / mvc[g]) / (amp[h, a:b].mean() / mvc[h])
            )
    emg, clean_signal, noise_rms, transients = _recorded(rng, profile, amp, mvc, t, fs_hz, events, reps, movement)
    imu = _thigh_imu(rng, profile, movement, fs_hz, imu_fs_hz, duration_s)
    plateau = mvc * np.array([profile.pct_mvc[m] for m in muscles]) / 100.0
    gain = np.array([profile.gain.get(m, 1.0) for m in muscles])
    # Drawn after everything else, so a profile without them gives the sessions it always gave.
    emg += _real_world(rng, profile, t, movement, plateau * gain, clean_signal)
    truth = {
        "muscles": muscles,
        "mvc_rms_mv": {m: float(v) for m, v in zip(muscles, mvc)},
        "noise_rms_mv": {m: float(v) for m, v in zip(muscles, noise_rms)},
        "reps": reps,
        "snr_db": profile.snr_db,
        "mains_hz": profile.mains_hz,
        "transients_s": [float(x) for x in np.flatnonzero(np.diff((np.abs(transients).sum(0) > 0).astype(int)) == 1) / fs_hz],
    }
    return SynthSession(fs_hz, imu_fs_hz, muscles, emg, imu, events, truth)


def _held_envelopes(profile: SubjectProfile, events: list[Event], t: np.ndarray) -> np.ndarray:
    """The envelopes (%MVC / 100) of the MVC trials and the reference holds: an MVC trial runs the target
    muscle at its effort (100 %MVC) and the others co-contract at 30 %; a ``ref:`` hold runs the target at
    :data:`REF_HOLD_PCT_MVC`."""
    muscles = profile.muscles
    env = np.zeros((len(muscles), t.size))
    for ev in events:
        if ev.label.startswith("mvc:"):
            target = ev.label.split(":", 1)[1]
            for i, m in enumerate(muscles):
                effort = profile.mvc_effort.get(m, 1.0)
                level = effort if m == target else 0.3
                env[i] += level * burst_envelope(t, ev.onset_s + 0.3, 0.3, ev.onset_s + ev.duration_s - 0.4, 0.3)
        elif ev.label.startswith("ref:") and ev.label[4:] in muscles:
            i = muscles.index(ev.label[4:])
            env[i] += REF_HOLD_PCT_MVC / 100.0 * burst_envelope(t, ev.onset_s + 0.3, 0.3,
                                                                 ev.onset_s + ev.duration_s - 0.4, 0.3)
    return env


def _rep_envelopes(rng, profile: SubjectProfile, plan: list[_Rep], t: np.ndarray, fs_hz: float,
                   env: np.ndarray) -> tuple[list[dict], np.ndarray]:
    """Adds each rep's bursts to ``env`` in place; returns the reps' truth and the thigh's movement (0–1)."""
    muscles = profile.muscles
    reps = []
    movement = np.zeros(t.size)
    for k, p in enumerate(plan):
        r0 = p.start_s
        rep = {"index": k, "onset_s": {}, "offset_s": {}}
        if p.cued:
            rep["cued"] = True
        for i, m in enumerate(muscles):
            shift = -CUE_ONSET_SHIFT_MS if p.cued and m == "glute_max" else 0.0
            onset = r0 + (profile.onset_ms.get(m, 0.0) + shift + rng.normal(0.0, profile.onset_jitter_ms)) / 1000.0
            onset = round(onset * fs_hz) / fs_hz
            rise = rng.uniform(*BURST_RISE_S)
            fall = rng.uniform(0.10, 0.25)
            plateau_end = r0 + p.duration_s - fall
            wobble = 1.0 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.5, 1.5) * (t - onset) + rng.uniform(0, 6.28))
            level = profile.pct_mvc[m] / 100.0 * (CUE_GAIN if p.cued and m == "glute_max" else 1.0)
            env[i] += level * wobble * burst_envelope(t, onset, rise, plateau_end, fall)
            rep["onset_s"][m] = float(onset)
            rep["offset_s"][m] = float(plateau_end + fall)
        first = min(rep["onset_s"].values())
        move_on = first + profile.movement_delay_ms / 1000.0
        move_off = r0 + p.duration_s
        movement += burst_envelope(t, move_on, 0.4, move_off - 0.4, 0.4)
        rep["movement_onset_s"] = float(move_on)
        reps.append(rep)
    return reps, movement


def _recorded(rng, profile: SubjectProfile, amp, mvc, t, fs_hz, events, reps, movement):
    """The electrodes' signal from the amplitude envelopes ``amp`` (mV): carrier, gain, baseline noise, mains,
    wander and motion transients, in the order the generator has always drawn them. Returns (emg, the clean
    gained signal for the cross-talk or None, the noise RMS per channel, the transients)."""
    muscles = profile.muscles
    n = t.size
    emg = amp * semg_noise(rng, (len(muscles), n), fs_hz)
    gain = np.array([profile.gain.get(m, 1.0) for m in muscles])
    if np.any(gain != 1.0):
        emg *= gain[:, None]
    clean_signal = emg.copy() if profile.crosstalk > 0 and len(muscles) > 1 else None
    # Noise is set per channel from its rep plateau, as the SNR of a burst over rest.
    plateau = mvc * np.array([profile.pct_mvc[m] for m in muscles]) / 100.0
    noise_rms = profile.noise_scale * plateau / 10 ** (profile.snr_db / 20.0)
    emg += noise_rms[:, None] * rng.standard_normal((len(muscles), n))
    phase = rng.uniform(0, 2 * np.pi, size=(len(muscles), 1))
    emg += profile.mains_rel * noise_rms[:, None] * mains_hum(t, profile.mains_hz, phase)
    walk = np.cumsum(rng.standard_normal((len(muscles), n)), axis=-1)
    walk = signal.sosfiltfilt(signal.butter(2, 0.5, fs=fs_hz, output="sos"), walk, axis=-1)
    walk /= np.maximum(walk.std(axis=-1, keepdims=True), 1e-12)
    wander = 0.5 * walk + np.sin(2 * np.pi * 0.25 * t + phase)
    emg += profile.wander_rel * noise_rms[:, None] * wander / np.sqrt(1.25)
    transients = _motion_transients(rng, profile, t, events, reps, len(muscles))
    emg += transients * noise_rms[:, None] * 8.0
    return emg, clean_signal, noise_rms, transients


def guided_blocks(profile: SubjectProfile, layout: list[Event], duration_s: float, fs_hz: float = 1000.0,
                  imu_fs_hz: float = 100.0, seed: int = 0) -> Iterator[SynthSession]:
    """A guided session (``layout``: its events from 0 s, :mod:`reengage.session_plan`) as consecutive blocks,
    each synthesised only when asked for: the whole session, or with a ``retest`` event (``record --retest``)
    the first block up to it and then the retest block to ``duration_s``, quiet while the electrodes are
    re-applied and recorded through them: each channel × its re-applied gain
    (:func:`~reengage.session_plan.retest_gains`, ``truth["retest_gains"]``). Each block's ``events`` and truth
    times are from the session's start; its samples are the block's own."""
    start = next((e.onset_s for e in layout if e.label == RETEST), None)
    if start is None or not 0 < start < duration_s:
        yield synthesize(profile, duration_s, fs_hz, imu_fs_hz, seed, layout=layout)
        return
    start = float(math.floor(start))  # whole seconds: whole frames of the board on either side
    yield synthesize(profile, start, fs_hz, imu_fs_hz, seed, layout=[e for e in layout if e.onset_s < start])
    later = [replace(e, onset_s=e.onset_s - start) for e in layout if e.onset_s >= start]
    block = synthesize(profile, duration_s - start, fs_hz, imu_fs_hz, seed + 1, layout=later)
    gains = retest_gains(np.random.default_rng(seed + 7717), profile.muscles)
    block.emg_mv = with_retest_gain(block.emg_mv, fs_hz, 0.0, [gains[m] for m in profile.muscles])
    block.events = [replace(e, onset_s=e.onset_s + start) for e in block.events]
    for rep in block.truth["reps"]:
        rep["block"] = 1
        for key in ("onset_s", "offset_s"):
            rep[key] = {m: v + start for m, v in rep[key].items()}
        rep["movement_onset_s"] += start
    block.truth["retest_gains"] = gains
    block.truth["block_start_s"] = start
    yield block


def synthesize_guided(profile: SubjectProfile, layout: list[Event], duration_s: float, fs_hz: float = 1000.0,
                      imu_fs_hz: float = 100.0, seed: int = 0) -> SynthSession:
    """:func:`guided_blocks` joined into one session (truth: every block's reps, and the retest gains)."""
    blocks = list(guided_blocks(profile, layout, duration_s, fs_hz, imu_fs_hz, seed))
    out = blocks[0]
    if len(blocks) > 1:
        out.emg_mv = np.hstack([b.emg_mv for b in blocks])
        out.imu = np.hstack([b.imu for b in blocks])
        out.events = [e for b in blocks for e in b.events]
        out.truth["reps"] = [r for b in blocks for r in b.truth["reps"]]
        out.truth["retest_gains"] = blocks[1].truth["retest_gains"]
    return out


def _real_world(rng, profile, t, movement, plateau, clean_signal) -> np.ndarray:
    """What the real recordings hold and the clean model does not (issue 14), each off at its default:

    - cross-talk: each channel gets ``crosstalk`` × the mean of the other muscles' signals (same waveform,
      so correlated, unlike co-contraction). In the UCI seated knee extensions the biceps femoris' RMS during
      vastus medialis bursts is 8–23 % of the vastus' in 6 of 8 subjects (cross-talk and co-contraction
      together: an upper bound), and the raw signals correlate at |r| 0.05–0.12 (0.37 in N04);
    - ECG on trunk leads (``ecg_muscles``): a P–QRS–T complex at ``heart_rate_bpm`` (RR jitter 5 %), R peak
      ``ecg_rel`` × the plateau RMS; its QRS reaches well above 20 Hz, so the band-pass does not remove it
      (Drake & Callaghan 2006, *J Electromyogr Kinesiol* 16:175–187);
    - low-frequency motion artefact: 1–15 Hz noise while the leg moves, RMS ``motion_lf_rel`` × the plateau
      RMS. In the UCI files 15 channels hold 40–77 % of their power below 20 Hz (``shared/data`` README), i.e.
      an artefact RMS of 0.8–1.8 × the channel's RMS."""
    n_ch, n = plateau.size, t.size
    out = np.zeros((n_ch, n))
    fs = 1.0 / (t[1] - t[0]) if n > 1 else 1.0
    if clean_signal is not None:
        total = clean_signal.sum(axis=0, keepdims=True)
        out += profile.crosstalk * (total - clean_signal) / (n_ch - 1)
    leads = [i for i, m in enumerate(profile.muscles) if m in profile.ecg_muscles]
    if profile.ecg_rel > 0 and leads and n > 1:
        period = 60.0 / profile.heart_rate_bpm
        beats = np.cumsum(period * (1 + 0.05 * rng.standard_normal(int(t[-1] / period) + 2)))
        beats = beats - rng.uniform(0, period)
        ecg = np.zeros(n)
        for b in beats:
            near = np.abs(t - b) < 0.4
            d = t[near] - b
            ecg[near] += (np.exp(-0.5 * (d / 0.008) ** 2) - 0.25 * np.exp(-0.5 * ((d - 0.02) / 0.01) ** 2)
                          + 0.12 * np.exp(-0.5 * ((d + 0.16) / 0.025) ** 2) + 0.25 * np.exp(-0.5 * ((d - 0.28) / 0.04) ** 2))
        for i in leads:
            out[i] += profile.ecg_rel * plateau[i] * ecg
    if profile.motion_lf_rel > 0 and n > 1:
        lf = rng.standard_normal((n_ch, n))
        lf = signal.sosfiltfilt(signal.butter(2, [1.0, 15.0], btype="band", fs=fs, output="sos"), lf, axis=-1)
        lf /= np.maximum(lf.std(axis=-1, keepdims=True), 1e-12)
        gate = np.clip(movement, 0.0, 1.0)
        out += profile.motion_lf_rel * plateau[:, None] * lf * gate[None, :] / np.sqrt(max(np.mean(gate ** 2), 1e-12))
    return out


def _motion_transients(rng, profile, t, events, reps, n_ch) -> np.ndarray:
    """Short biphasic artifacts (a tugged cable) placed in rests between reps, away from any burst."""
    out = np.zeros((n_ch, t.size))
    if profile.motion_transients_per_min <= 0 or not reps:
        return out
    fs = 1.0 / (t[1] - t[0])
    count = rng.poisson(profile.motion_transients_per_min * t[-1] / 60.0)
    for _ in range(count):
        k = rng.integers(len(reps))
        rep = reps[k]
        end = max(rep["offset_s"].values())
        nxt = min(reps[k + 1]["onset_s"].values()) if k + 1 < len(reps) else t[-1]
        if nxt - end < 1.0:
            continue
        at = rng.uniform(end + 0.4, nxt - 0.4)
        i0 = int(at * fs)
        w = np.arange(int(0.03 * fs))
        shape = np.sin(2 * np.pi * w / w.size) * np.hanning(w.size)
        out[:, i0 : i0 + w.size] += shape[: out.shape[1] - i0] * rng.choice([-1, 1], size=(n_ch, 1))
    return out


def _thigh_imu(rng, profile, movement, fs_hz, imu_fs_hz, duration_s) -> np.ndarray:
    m = int(round(duration_s * imu_fs_hz))
    ti = np.arange(m) / imu_fs_hz
    pitch_deg = profile.lift_deg * np.interp(ti, np.arange(movement.size) / fs_hz, movement)
    gyr_y = np.gradient(pitch_deg, 1.0 / imu_fs_hz)
    th = np.deg2rad(pitch_deg)
    acc = np.vstack([np.sin(th), np.zeros(m), np.cos(th)])
    gyr = np.vstack([np.zeros(m), gyr_y, np.zeros(m)])
    acc += 0.01 * rng.standard_normal(acc.shape)
    gyr += 0.5 * rng.standard_normal(gyr.shape)
    return np.vstack([acc, gyr])
