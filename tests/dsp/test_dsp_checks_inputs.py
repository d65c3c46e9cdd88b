"""Every public function of the dsp library modules rejects bad input with a ValueError that names the
argument: NaN or inf in a signal, a signal of the wrong dimensions, a sampling rate that is not a positive
finite number, a mask over the wrong number of samples. ``check_finite=False`` skips the finite check only."""

from __future__ import annotations

import numpy as np
import pytest

from reengage.dsp import baseline, envelope, filters, imu, normalize, quality
from reengage.dsp._checks import check_signal

FS = 1000.0
N = 3000
_rng = np.random.default_rng(5)
X2 = _rng.standard_normal((2, N))
X1 = X2[0].copy()
MASK = np.zeros(N, bool)
MASK[:1000] = True
GYR = _rng.standard_normal((3, N))
ACC = np.vstack([np.zeros(N), np.zeros(N), np.ones(N)]) + 0.01 * _rng.standard_normal((3, N))
SPEC = np.fft.rfft(X2, axis=-1)
FREQS = np.fft.rfftfreq(N, 1.0 / FS)


def _quality(**kw):
    args = dict(stored=X1, raw_dc=X1, cleaned=X1, fs=FS, baseline_mask=MASK, burst_mask=~MASK, mains_hz=50.0,
                gap_mask=np.zeros(N, bool), power_cumsum=np.concatenate([[0.0], np.cumsum(X1 * X1)]))
    args.update(kw)
    return quality.channel_quality(**args)


# name: (function, good keyword arguments, {signal argument: a value of the wrong dimensions}, fs argument
# or None, mask arguments)
CASES = {
    "remove_dc": (filters.remove_dc, dict(x=X2), {"x": X2[None]}, None, ()),
    "bandpass": (filters.bandpass, dict(x=X2, fs=FS), {"x": X2[None]}, "fs", ()),
    "bandpass_sos": (filters.bandpass_sos, dict(fs=FS), {}, "fs", ()),
    "clamp_band": (filters.clamp_band, dict(fs=FS), {}, "fs", ()),
    "filtfilt_fft": (filters.filtfilt_fft, dict(x=X2, sos=filters.bandpass_sos(FS)), {"x": X2[None]}, None, ()),
    "detect_mains_hz": (filters.detect_mains_hz, dict(x=X2, fs=FS), {"x": X2[None]}, "fs", ()),
    "present_harmonics": (filters.present_harmonics, dict(x=X2, fs=FS, mains_hz=50.0), {"x": X2[None]}, "fs", ()),
    "notch_sos": (filters.notch_sos, dict(fs=FS, lines_hz=(50.0,)), {}, "fs", ()),
    "clean_sos": (filters.clean_sos, dict(fs=FS, lines_hz=(50.0,)), {}, "fs", ()),
    "refine_line_hz": (filters.refine_line_hz, dict(x=X2, fs=FS, line_hz=50.0), {"x": X2[None]}, "fs", ()),
    "subtract_lines": (filters.subtract_lines, dict(x=X2, fs=FS, lines_hz=(50.0,), segment_s=1.0),
                       {"x": X2[None]}, "fs", ()),
    "spectrum_interpolate": (filters.spectrum_interpolate, dict(spec=SPEC, freqs=FREQS, lines_hz=(50.0,)),
                             {"spec": SPEC[None], "freqs": FREQS[None]}, None, ()),
    "mains_lines": (filters.mains_lines, dict(x=X2, fs=FS), {"x": X2[None]}, "fs", ()),
    "clean": (filters.clean, dict(x=X2, fs=FS), {"x": X2[None]}, "fs", ()),
    "moving_rms": (envelope.moving_rms, dict(x=X2, fs=FS), {"x": X2[None]}, "fs", ()),
    "lowpass_sos": (envelope.lowpass_sos, dict(fs=FS, cutoff_hz=6.0), {}, "fs", ()),
    "linear_envelope": (envelope.linear_envelope, dict(x=X2, fs=FS), {"x": X2[None]}, "fs", ()),
    "linear_envelope_cumsum": (envelope.linear_envelope_cumsum, dict(x=X2, fs=FS), {"x": X2[None]}, "fs", ()),
    "tkeo": (envelope.tkeo, dict(x=X2), {"x": X2[None]}, None, ()),
    "robust_stats": (baseline.robust_stats, dict(values=X1), {"values": X2}, None, ()),
    "quietest_window": (baseline.quietest_window, dict(env=np.abs(X2), fs=FS, exclude=MASK),
                        {"env": X2[None]}, "fs", ("exclude",)),
    "baseline_mask": (baseline.baseline_mask, dict(n=N, fs=FS, rest_mask=MASK, env=np.abs(X2), exclude=~MASK),
                      {"env": X2[None]}, "fs", ("rest_mask", "exclude")),
    "baseline_stats": (baseline.baseline_stats, dict(env=np.abs(X2), mask=MASK), {"env": X2[None]}, None, ("mask",)),
    "noise_corrected_rms": (normalize.noise_corrected_rms, dict(x=X2, fs=FS, window_ms=100.0),
                            {"x": X2[None]}, "fs", ()),
    "mvc_reference": (normalize.mvc_reference, dict(x=X1, fs=FS, mask=MASK), {"x": X2}, "fs", ("mask",)),
    "percent_mvc": (normalize.percent_mvc, dict(env=np.abs(X2), reference=1.0), {"env": X2[None]}, None, ()),
    "gyro_magnitude": (imu.gyro_magnitude, dict(gyr=GYR, fs=100.0), {"gyr": GYR[0]}, "fs", ()),
    "tilt_deg": (imu.tilt_deg, dict(acc=ACC, fs=100.0, rest=MASK, exclude=~MASK), {"acc": ACC[0]}, "fs",
                 ("rest", "exclude")),
    "movement_segments": (imu.movement_segments, dict(gyr=GYR, fs=100.0, acc=ACC, rest=MASK, exclude=~MASK),
                          {"gyr": GYR[0], "acc": ACC[0]}, "fs", ("rest", "exclude")),
    "clipped_mask": (quality.clipped_mask, dict(stored=X1), {"stored": X2}, None, ()),
    "flat_mask": (quality.flat_mask, dict(stored=X1, fs=FS), {"stored": X2}, "fs", ()),
    "mains_level_db": (quality.mains_level_db, dict(raw_dc=X1, fs=FS, mains_hz=50.0), {"raw_dc": X2}, "fs", ()),
    "channel_quality": (_quality, {}, {"stored": X2, "cleaned": X2, "raw_dc": X2}, "fs",
                        ("baseline_mask", "burst_mask", "gap_mask")),
}
# NaN is allowed by design where gaps may be marked so: robust_stats leaves it out, and the stored samples
# (a float recording's gap fill) equal nothing, so they are neither clipped nor flat.
NAN_ALLOWED = {("robust_stats", "values"), ("clipped_mask", "stored"), ("flat_mask", "stored"),
               ("channel_quality", "stored")}
BAD_FS = [0.0, -1000.0, float("nan"), float("inf"), "fast", None]
HOT_PATH = {"clean": dict(x=X2, fs=FS), "remove_dc": dict(x=X2), "mains_lines": dict(x=X2, fs=FS),
            "filtfilt_fft": dict(x=X2, sos=filters.bandpass_sos(FS)),
            "linear_envelope_cumsum": dict(x=X2, fs=FS), "subtract_lines": dict(x=X2, fs=FS, lines_hz=(50.0,))}


def _call(name, **override):
    fn, kw, _, _, _ = CASES[name]
    # Copies: spectrum_interpolate works in place.
    return fn(**{k: v.copy() if isinstance(v, np.ndarray) else v for k, v in {**kw, **override}.items()})


def _with(value, bad):
    a = np.array(value, dtype=np.result_type(np.asarray(value).dtype, np.float64))
    a.flat[7] = bad
    return a


def _good_args(name):
    fn, kw, *_ = CASES[name]
    return {**kw} if fn is not _quality else {"stored": X1, "cleaned": X1, "raw_dc": X1}


def test_every_case_passes_with_good_input():
    for name in CASES:
        _call(name)


@pytest.mark.parametrize("name,arg", sorted(NAN_ALLOWED))
def test_nan_is_allowed_where_it_marks_gaps(name, arg):
    _call(name, **{arg: _with(_good_args(name)[arg], np.nan)})


@pytest.mark.parametrize("name,arg,bad", [(name, arg, bad) for name, (_, _, wrong, _, _) in CASES.items()
                                          for arg in wrong if (name, arg) not in NAN_ALLOWED
                                          for bad in (np.nan, np.inf, -np.inf)])
def test_nan_or_inf_in_a_signal_names_it(name, arg, bad):
    value = _good_args(name)[arg]
    with pytest.raises(ValueError, match=rf"^{arg} holds NaN or inf"):
        _call(name, **{arg: _with(value, bad)})


# A single value is a valid input here: a rep's mean envelope in %MVC.
SCALAR_OK = {"percent_mvc"}


@pytest.mark.parametrize("name,arg", [(name, arg) for name, (_, _, wrong, _, _) in CASES.items() for arg in wrong])
def test_a_signal_of_the_wrong_dimensions_names_it(name, arg):
    with pytest.raises(ValueError, match=rf"^{arg} must be [0-9]-D"):
        _call(name, **{arg: CASES[name][2][arg]})


# A single value is a valid input here: a rep's mean envelope in %MVC.
SCALAR_OK = {"percent_mvc"}


@pytest.mark.parametrize("name,arg", [(name, arg) for name, (_, _, wrong, _, _) in CASES.items() for arg in wrong])
def test_a_scalar_or_a_non_numeric_signal_names_it(name, arg):
    if name in SCALAR_OK:
        assert np.ndim(_call(name, **{arg: 1.0})) == 0
    else:
        with pytest.raises(ValueError, match=rf"^{arg} must be"):
            _call(name, **{arg: 1.0})
    with pytest.raises(ValueError, match=rf"^{arg} must be a numeric array"):
        _call(name, **{arg: np.array(["a"] * N)})


@pytest.mark.parametrize("name,fs", [(name, fs) for name, case in CASES.items() if case[3] for fs in BAD_FS])
def test_a_bad_sampling_rate_names_fs(name, fs):
    with pytest.raises(ValueError, match=r"^fs must be a (positive, finite )?sampling rate in Hz"):
        _call(name, fs=fs)


@pytest.mark.parametrize("name,arg", [(name, arg) for name, case in CASES.items() for arg in case[4]])
def test_a_mask_of_the_wrong_length_names_it(name, arg):
    for wrong in (np.ones(N - 1, bool), np.ones(N + 1, bool), np.ones(0, bool)):
        with pytest.raises(ValueError, match=rf"^{arg} must be a boolean mask over the {N} samples"):
            _call(name, **{arg: wrong})


@pytest.mark.parametrize("name,arg,value", [
    ("bandpass_sos", "low_hz", -20.0), ("bandpass_sos", "high_hz", float("nan")),
    ("lowpass_sos", "cutoff_hz", 0.0), ("moving_rms", "window_ms", -1.0), ("noise_corrected_rms", "window_ms", 0.0),
    ("noise_corrected_rms", "noise_power", float("nan")), ("subtract_lines", "segment_s", 0.0),
    ("present_harmonics", "mains_hz", -50.0), ("refine_line_hz", "line_hz", float("inf")),
    ("mains_lines", "mains_hz", -50.0), ("notch_sos", "quality", 0.0), ("quietest_window", "window_s", 0.0),
    ("baseline_mask", "window_s", -1.0), ("baseline_mask", "n", -1), ("baseline_mask", "n", 2.5),
    ("flat_mask", "window_ms", float("nan")), ("mains_level_db", "mains_hz", 0.0),
    ("filtfilt_fft", "sos", np.ones((2, 5))), ("filtfilt_fft", "sos", np.full((1, 6), np.nan)),
    ("filtfilt_fft", "block", 0), ("clean", "mains_method", "lowpass"),
    ("channel_quality", "power_cumsum", np.zeros(N)),
])
def test_other_bad_arguments_are_named(name, arg, value):
    with pytest.raises(ValueError, match=rf"^{arg} (must|holds NaN)"):
        _call(name, **{arg: value})


@pytest.mark.parametrize("name,axis", [("remove_dc", 2), ("bandpass", -3), ("tkeo", 5), ("moving_rms", 2),
                                       ("gyro_magnitude", 2)])
def test_an_axis_out_of_range_names_the_array(name, axis):
    with pytest.raises(ValueError, match=r"^axis .* out of range for (x|gyr)"):
        _call(name, axis=axis)


def test_shape_mismatches_between_arguments_are_named():
    with pytest.raises(ValueError, match=r"^cleaned must hold"):
        _quality(cleaned=X1[:-1])
    with pytest.raises(ValueError, match=r"^acc must hold"):
        imu.movement_segments(GYR, fs=100.0, acc=ACC[:, :-1])
    with pytest.raises(ValueError, match=r"^freqs must hold"):
        filters.spectrum_interpolate(SPEC.copy(), FREQS[:-1], (50.0,))
    with pytest.raises(ValueError, match=r"^env must hold"):
        baseline.baseline_mask(N + 1, fs=FS, env=np.abs(X2))
    with pytest.raises(ValueError, match=r"^mask must have one row"):
        baseline.baseline_stats(np.abs(X2), np.ones((3, N), bool))


@pytest.mark.parametrize("name", sorted(HOT_PATH))
def test_check_finite_false_skips_only_the_finite_check(name):
    fn = getattr(filters, name, None) or getattr(envelope, name)
    kw = HOT_PATH[name]
    bad = _with(kw["x"], np.nan)
    with pytest.raises(ValueError, match=r"^x holds NaN or inf \(first at index \(0, 7\)\)"):
        fn(**{**kw, "x": bad})
    with np.errstate(all="ignore"):
        fn(**{**kw, "x": bad, "check_finite": False})  # NaN in, garbage out, no error
    with pytest.raises(ValueError, match=r"^x must be 1-D or 2-D"):
        fn(**{**kw, "x": X2[None], "check_finite": False})


def test_channel_quality_check_finite_false_skips_the_finite_check():
    bad = _with(X1, np.inf)
    with pytest.raises(ValueError, match=r"^cleaned holds NaN or inf"):
        _quality(cleaned=bad)
    with np.errstate(all="ignore"):
        _quality(cleaned=bad, check_finite=False)


def test_the_finite_check_is_exact_when_the_sum_overflows():
    big = np.full(10, 1e308)  # finite values whose sum is inf: the exact test decides
    assert check_signal(big, "x") is big
    with pytest.raises(ValueError, match=r"^x holds NaN or inf \(first at index \(3,\)\)"):
        check_signal(np.r_[big[:3], np.nan, big], "x")
    assert check_signal(np.array([np.inf, 1.0]), "x", check_finite=False).shape == (2,)
    assert check_signal(np.arange(5), "x").dtype.kind == "i"  # integers are always finite
    with pytest.raises(ValueError, match=r"^x holds NaN or inf \(first at index \(0, 1\)\)"):
        check_signal(np.array([[1.0, -np.inf, np.inf]]), "x")
