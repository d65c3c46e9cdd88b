"""Posture and activity from a body-worn accelerometer: lying, sitting, standing, stepping, not worn.

The accelerometer reads gravity plus the body's own acceleration. A zero-phase low-pass (:func:`gravity_estimate`)
keeps gravity, whose direction in the sensor gives the segment's inclination; what the low-pass removes is the
dynamic acceleration, whose magnitude per epoch (:func:`epoch_activity`) separates stepping from standing still.

Two placements (:func:`classify_postures`):

* **thigh** (activPAL style; Grant et al. 2006, *Br J Sports Med* 40:992–997; Lyden et al. 2012, *Med Sci Sports
  Exerc* 44:2243–2252): the thigh is horizontal when sitting and vertical when standing, a ~90° change, so an
  inclination above 45° from the thigh's long axis is sitting, below is upright (standing, or stepping when the
  dynamic acceleration is high). Lying is a horizontal thigh rotated about its long axis (the sensor's face
  turned sideways or down: side or prone lying); **supine lying looks like sitting at the thigh** and is counted
  as sitting.
* **waist** (pelvis): lying is a trunk inclined more than 70° from upright; sitting and standing differ only by
  the pelvis tilt when seated (15–46° in the real recordings of ``shared/data/imu``), so the upright reference is
  the person's own: the median gravity direction while stepping (walking keeps the pelvis as when standing), and
  an epoch tilted more than ``sit_tilt_deg`` from it is sitting. This separates sitting from standing **less
  reliably** than the thigh: a person who sits with an upright pelvis reads as standing (``docs/validation.md``,
  "Posture (waist accelerometer)"). Without enough stepping the sensor's ``up_axis`` is the reference.

Sensor axes (both placements): ``up_axis`` points along the segment towards the head when upright (default +x:
reads +1 g standing); ``face_axis`` points out of the body's front surface (default +z, used for thigh lying).

Not worn (van Hees et al. 2011, *PLoS One* 6:e22922: a worn sensor is never that still for long): a run of epochs
each with a per-axis SD below ``still_sd_g`` on every axis and an orientation within ``still_tilt_deg`` of the
run's median, lasting at least ``not_worn_min_s``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from ._checks import check_fs, check_positive, check_signal

POSTURES = ("lying", "sitting", "standing", "stepping", "not_worn")
"""Epoch codes: ``POSTURES[code]`` is the posture's name."""
LYING, SITTING, STANDING, STEPPING, NOT_WORN = range(5)
PLACEMENTS = ("thigh", "waist")


@dataclass(frozen=True)
class PostureOptions:
    """Settings of :func:`classify_postures` (angles in degrees, accelerations in g, durations in s)."""

    epoch_s: float = 1.0
    gravity_cutoff_hz: float = 0.5  # below the ~1–2 Hz step rate; body sway passes as posture, not activity
    stepping_g: float = 0.10  # epoch RMS dynamic acceleration: standing still ≤ 0.09, walking ≥ 0.22 (waist data)
    thigh_sit_deg: float = 45.0  # half-way between a vertical and a horizontal thigh
    thigh_lie_rotation_deg: float = 60.0  # face axis this far from up while horizontal: lying on the side/front
    waist_lie_deg: float = 70.0  # real lying 96–108°, the most reclined sitting 65° (waist data)
    sit_tilt_deg: float = 12.0  # pelvis tilt from the own upright reference that counts as sitting (waist)
    min_reference_s: float = 10.0  # stepping needed to take the person's own upright reference (waist)
    min_bout_s: float = 5.0  # shorter lying/sitting/upright runs join their neighbours (a fidget is no posture)
    still_sd_g: float = 0.013
    still_tilt_deg: float = 5.0
    not_worn_min_s: float = 1800.0


@dataclass(frozen=True)
class PostureEpochs:
    """What :func:`classify_postures` found per epoch: ``codes`` (indices into :data:`POSTURES`),
    ``inclination_deg`` from the upright reference, ``activity_g`` (RMS dynamic acceleration), the
    ``reference`` direction used (unit vector in sensor axes) and ``reference_source`` (``"stepping"`` or
    ``"up_axis"``)."""

    codes: np.ndarray
    inclination_deg: np.ndarray
    activity_g: np.ndarray
    reference: np.ndarray
    reference_source: str


def _acc3(acc, name: str = "acc") -> np.ndarray:
    a = check_signal(acc, name, ndim=(2,))
    if a.shape[0] != 3:
        raise ValueError(f"{name} must be (3, samples): x, y, z in g, got shape {a.shape}")
    return np.asarray(a, dtype=np.float64)


def _epoch_samples(fs: float, epoch_s: float) -> int:
    n = int(round(check_positive(epoch_s, "epoch_s", "s") * fs))
    if n < 1:
        raise ValueError(f"epoch_s={epoch_s} s is shorter than one sample at {fs} Hz")
    return n


def gravity_estimate(acc, *, fs: float, cutoff_hz: float = 0.5) -> np.ndarray:
    """Gravity in the sensor's axes: the acceleration low-passed at ``cutoff_hz`` (2nd-order Butterworth,
    zero phase).

    Parameters
    ----------
    acc : array_like, shape (3, samples)
        Acceleration (x, y, z) in g, gravity included.
    fs : float
        Sampling rate in Hz.
    cutoff_hz : float
        Low-pass cutoff in Hz (below Nyquist).

    Returns
    -------
    ndarray, shape (3, samples)
        The gravity estimate in g (the input itself when the record is too short to filter).
    """
    a = _acc3(acc)
    fs = check_fs(fs)
    cutoff = check_positive(cutoff_hz, "cutoff_hz", "Hz")
    if cutoff >= fs / 2:
        raise ValueError(f"cutoff_hz={cutoff_hz} Hz must be below Nyquist ({fs / 2} Hz)")
    sos = signal.butter(2, cutoff, fs=fs, output="sos")
    if a.shape[1] <= 3 * (2 * len(sos) + 1):  # sosfiltfilt's default padding
        return a.copy()
    return signal.sosfiltfilt(sos, a, axis=-1)


def _epochs(x: np.ndarray, n_epoch: int) -> np.ndarray:
    """(..., samples) → (..., epochs, n_epoch); a last partial epoch is dropped."""
    k = x.shape[-1] // n_epoch
    return x[..., :k * n_epoch].reshape(*x.shape[:-1], k, n_epoch)


def epoch_activity(acc, *, fs: float, epoch_s: float = 1.0, cutoff_hz: float = 0.5) -> np.ndarray:
    """RMS dynamic acceleration per epoch: ``|acc − gravity|`` (gravity from :func:`gravity_estimate`).

    Parameters
    ----------
    acc : array_like, shape (3, samples)
        Acceleration in g.
    fs : float
        Sampling rate in Hz.
    epoch_s : float
        Epoch length in s (a last partial epoch is dropped).
    cutoff_hz : float
        The gravity low-pass cutoff in Hz.

    Returns
    -------
    ndarray, shape (epochs,)
        RMS dynamic acceleration in g.
    """
    a = _acc3(acc)
    fs = check_fs(fs)
    return _dynamic_rms(a, gravity_estimate(a, fs=fs, cutoff_hz=cutoff_hz), _epoch_samples(fs, epoch_s))


def epoch_gravity(acc, *, fs: float, epoch_s: float = 1.0, cutoff_hz: float = 0.5) -> np.ndarray:
    """Mean gravity direction per epoch (unit vectors; zeros where gravity vanishes).

    Parameters
    ----------
    acc : array_like, shape (3, samples)
        Acceleration in g.
    fs : float
        Sampling rate in Hz.
    epoch_s : float
        Epoch length in s.
    cutoff_hz : float
        The gravity low-pass cutoff in Hz.

    Returns
    -------
    ndarray, shape (3, epochs)
        Unit gravity direction in the sensor's axes, per epoch.
    """
    fs = check_fs(fs)
    return _gravity_direction(gravity_estimate(acc, fs=fs, cutoff_hz=cutoff_hz), _epoch_samples(fs, epoch_s))


def _dynamic_rms(a: np.ndarray, gravity: np.ndarray, n_epoch: int) -> np.ndarray:
    """RMS of ``|a − gravity|`` per epoch of ``n_epoch`` samples (:func:`epoch_activity`)."""
    dyn = np.linalg.norm(a - gravity, axis=0)
    return np.sqrt(np.mean(_epochs(dyn * dyn, n_epoch), axis=-1))


def _gravity_direction(gravity: np.ndarray, n_epoch: int) -> np.ndarray:
    """Mean gravity per epoch as unit vectors, zeros where it vanishes (:func:`epoch_gravity`)."""
    g = np.mean(_epochs(gravity, n_epoch), axis=-1)
    norm = np.linalg.norm(g, axis=0)
    return np.divide(g, norm, out=np.zeros_like(g), where=norm > 1e-9)


def inclination_deg(directions, reference) -> np.ndarray:
    """Angle between each direction and ``reference``, in degrees (0–180).

    Parameters
    ----------
    directions : array_like, shape (3, n)
        Vectors in the sensor's axes (any length > 0).
    reference : array_like, shape (3,)
        The reference direction (any length > 0).

    Returns
    -------
    ndarray, shape (n,)
        The angles in degrees.
    """
    d = _acc3(directions, "directions")
    r = np.asarray(check_signal(reference, "reference", ndim=(1,)), dtype=np.float64)
    if r.shape != (3,) or not np.linalg.norm(r) > 0:
        raise ValueError(f"reference must be a non-zero 3-vector, got {reference!r}")
    norm = np.maximum(np.linalg.norm(d, axis=0), 1e-12)
    return np.degrees(np.arccos(np.clip((r / np.linalg.norm(r)) @ d / norm, -1.0, 1.0)))


def not_worn_epochs(acc, *, fs: float, epoch_s: float = 1.0, still_sd_g: float = 0.013,
                    still_tilt_deg: float = 5.0, min_s: float = 1800.0) -> np.ndarray:
    """Epochs in a long stretch without movement and with a constant orientation: the sensor is off the body.

    Parameters
    ----------
    acc : array_like, shape (3, samples)
        Acceleration in g.
    fs : float
        Sampling rate in Hz.
    epoch_s : float
        Epoch length in s.
    still_sd_g : float
        An epoch is still when every axis's SD within it is below this (g).
    still_tilt_deg : float
        Every still epoch of a run stays within this angle (degrees) of the run's median direction.
    min_s : float
        Shortest run of still epochs counted as not worn (s).

    Returns
    -------
    ndarray of bool, shape (epochs,)
        True where the sensor was not worn.
    """
    a = _acc3(acc)
    fs = check_fs(fs)
    n_epoch = _epoch_samples(fs, epoch_s)
    ep = _epochs(a, n_epoch)
    still = np.all(np.std(ep, axis=-1) < check_positive(still_sd_g, "still_sd_g", "g"), axis=0)
    mean = ep.mean(axis=-1)
    out = np.zeros(still.size, dtype=bool)
    shortest = check_positive(min_s, "min_s", "s") / (n_epoch / fs)
    for start, stop in _runs(still, True):
        if stop - start < shortest:
            continue
        tilt = inclination_deg(mean[:, start:stop], np.median(mean[:, start:stop], axis=1))
        out[start:stop] = bool(np.all(tilt <= still_tilt_deg))
    return out


def _runs(values: np.ndarray, value=None) -> list[tuple[int, int]]:
    """(start, stop) of each run of equal values (only runs equal to ``value`` when given)."""
    if values.size == 0:
        return []
    edges = np.flatnonzero(values[1:] != values[:-1]) + 1
    starts = np.concatenate(([0], edges))
    stops = np.concatenate((edges, [values.size]))
    return [(int(a), int(b)) for a, b in zip(starts, stops) if value is None or values[a] == value]


def _merge_short(codes: np.ndarray, shortest: int) -> np.ndarray:
    """Runs shorter than ``shortest`` epochs take the code of their longer neighbour, shortest run first."""
    codes = codes.copy()
    while True:
        runs = _runs(codes)
        short = [(b - a, a, b) for a, b in runs if b - a < shortest and codes[a] != NOT_WORN]
        if not short or len(runs) == 1:
            return codes
        _, a, b = min(short)
        left = next((r for r in runs if r[1] == a), None)
        right = next((r for r in runs if r[0] == b), None)
        pick = max((r for r in (left, right) if r is not None), key=lambda r: r[1] - r[0])
        codes[a:b] = codes[pick[0]]


def _reference(up: np.ndarray, gdir: np.ndarray, activity: np.ndarray, opts: PostureOptions,
               placement: str) -> tuple[np.ndarray, str]:
    """The upright direction: for the waist, the median gravity direction while stepping upright, else ``up``."""
    if placement == "waist":
        walking = (activity > opts.stepping_g) & (inclination_deg(gdir, up) < 45.0)
        if walking.sum() * opts.epoch_s >= opts.min_reference_s:
            ref = np.median(gdir[:, walking], axis=1)
            if np.linalg.norm(ref) > 0:
                return ref / np.linalg.norm(ref), "stepping"
    return up / np.linalg.norm(up), "up_axis"


def classify_postures(acc, *, fs: float, placement: str = "thigh", up_axis=(1.0, 0.0, 0.0),
                      face_axis=(0.0, 0.0, 1.0), options: PostureOptions | None = None) -> PostureEpochs:
    """Posture per epoch (codes into :data:`POSTURES`) from a thigh or waist accelerometer (module docstring).

    Parameters
    ----------
    acc : array_like, shape (3, samples)
        Acceleration (x, y, z) in g, gravity included.
    fs : float
        Sampling rate in Hz.
    placement : {"thigh", "waist"}
        Where the sensor is worn.
    up_axis : array_like, shape (3,)
        The sensor direction along the segment towards the head when upright.
    face_axis : array_like, shape (3,)
        The sensor direction out of the body's front (thigh lying).
    options : PostureOptions, optional
        Thresholds and durations.

    Returns
    -------
    PostureEpochs
        Codes, inclination (degrees), activity (g) per epoch and the upright reference used.
    """
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {', '.join(PLACEMENTS)}, got {placement!r}")
    opts = options or PostureOptions()
    a = _acc3(acc)
    fs = check_fs(fs)
    up = np.asarray(check_signal(up_axis, "up_axis", ndim=(1,)), dtype=np.float64)
    face = np.asarray(check_signal(face_axis, "face_axis", ndim=(1,)), dtype=np.float64)
    # one gravity estimate (a zero-phase filter over the whole recording) serves direction and activity
    gravity, n_epoch = gravity_estimate(a, fs=fs, cutoff_hz=opts.gravity_cutoff_hz), _epoch_samples(fs, opts.epoch_s)
    gdir, activity = _gravity_direction(gravity, n_epoch), _dynamic_rms(a, gravity, n_epoch)
    ref, source = _reference(up, gdir, activity, opts, placement)
    incl = inclination_deg(gdir, ref)
    if placement == "thigh":
        horizontal = incl > opts.thigh_sit_deg
        lying = horizontal & (inclination_deg(gdir, face) > opts.thigh_lie_rotation_deg)
        codes = np.where(lying, LYING, np.where(horizontal, SITTING, STANDING))
    else:
        codes = np.where(incl > opts.waist_lie_deg, LYING, np.where(incl > opts.sit_tilt_deg, SITTING, STANDING))
    codes = _merge_short(codes.astype(np.int8), int(np.ceil(opts.min_bout_s / opts.epoch_s)))
    codes[(codes == STANDING) & (activity > opts.stepping_g)] = STEPPING
    off = not_worn_epochs(a, fs=fs, epoch_s=opts.epoch_s, still_sd_g=opts.still_sd_g,
                          still_tilt_deg=opts.still_tilt_deg, min_s=opts.not_worn_min_s)
    codes[off] = NOT_WORN
    return PostureEpochs(codes, incl, activity, ref, source)


_GROUP = {LYING: "lie", SITTING: "sit", STANDING: "stand", STEPPING: "stand"}


def posture_transitions(codes, *, epoch_s: float = 1.0, activity=None) -> list[tuple[float, str]]:
    """Changes between lying, sitting and upright (standing or stepping) as ``(t_s, kind)``, kind e.g.
    ``"sit_to_stand"``, ``"stand_to_lie"``. Changes to or from not worn are none.

    Parameters
    ----------
    codes : array_like of int, shape (epochs,)
        Posture codes (:data:`POSTURES`).
    epoch_s : float
        Epoch length in s.
    activity : array_like, shape (epochs,), optional
        Activity per epoch (g): the change is placed in the more active of the two epochs either side of the
        boundary (the movement itself), at its centre; without it, at the boundary.

    Returns
    -------
    list of (float, str)
        Time in s from the first sample and kind, in time order.
    """
    c = np.asarray(check_signal(codes, "codes", ndim=(1,)), dtype=np.int64)
    epoch_s = check_positive(epoch_s, "epoch_s", "s")
    act = None if activity is None else np.asarray(check_signal(activity, "activity", ndim=(1,)), dtype=float)
    group = np.array([_GROUP.get(int(k), "") for k in c], dtype=object)
    out = []
    for (a0, b0), (a1, _b1) in zip(_runs(group)[:-1], _runs(group)[1:]):
        before, after = group[a0], group[a1]
        if not before or not after:
            continue
        t = b0 * epoch_s
        if act is not None and act.size == c.size:
            t = (b0 - 0.5 if act[b0 - 1] > act[b0] else b0 + 0.5) * epoch_s
        out.append((round(float(t), 3), f"{before}_to_{after}"))
    return out


def sitting_bouts(codes, *, epoch_s: float = 1.0, transitions=None) -> list[tuple[float, float]]:
    """Runs of sitting as ``(start_s, end_s)``; an edge at a transition of ``transitions`` takes its time.

    Parameters
    ----------
    codes : array_like of int, shape (epochs,)
        Posture codes (:data:`POSTURES`).
    epoch_s : float
        Epoch length in s.
    transitions : list of (float, str), optional
        :func:`posture_transitions` output, whose times refine the bout edges.

    Returns
    -------
    list of (float, float)
        Start and end in s.
    """
    c = np.asarray(check_signal(codes, "codes", ndim=(1,)), dtype=np.int64)
    epoch_s = check_positive(epoch_s, "epoch_s", "s")
    times = np.array([t for t, _ in transitions or []], dtype=float)

    def edge(k: int) -> float:
        t = k * epoch_s
        near = times[np.abs(times - t) <= epoch_s] if times.size else times
        return float(near[0]) if near.size else float(t)

    return [(edge(a), edge(b)) for a, b in _runs(c, SITTING)]
