"""subtract_lines, split into named steps (basis, weights, half-block sums, frame coefficients, the fit),
computes bit for bit what the single 133-line function did before the split. That function is kept here as
the reference (its comments and docstring dropped, see dsp/filters.py for them)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reengage.dsp._util import as_float, moving_mean, single_threaded_blas
from reengage.dsp.filters import _pieces_per_half_segment, subtract_lines


def _subtract_lines_before_split(x, *, fs: float, lines_hz, segment_s: float = 4.0, axis: int = -1,
                                 overwrite_x: bool = False) -> np.ndarray:
    """The implementation before it was split into named steps (comments and docstring dropped)."""
    x = np.moveaxis(as_float(x), axis, -1)
    lines = [float(v) for v in lines_hz if 0 < float(v) < 0.5 * fs]
    n = x.shape[-1]
    L = max(int(round(segment_s * fs)) // 2 * 2, 8)
    if not lines or n < L:
        return np.moveaxis(x if overwrite_x else x.copy(), -1, axis)
    hop = L // 2
    nblk = int(np.ceil(n / hop)) + 2  # one half-segment of padding in front, the rest behind
    lead = hop
    lead_shape = x.shape[:-1]
    spb = _pieces_per_half_segment(hop, max(1, int(0.01 * fs)))
    sub = hop // spb
    npc = -(-n // sub)
    whole = n // sub
    piece_power = np.zeros(lead_shape + (npc,))
    xr = x[..., :whole * sub].reshape(lead_shape + (whole, sub))
    piece_power[..., :whole] = np.einsum("...ij,...ij->...i", xr, xr) / sub  # Σx² per piece, no x² copy
    if npc > whole:
        piece_power[..., -1] = np.mean(x[..., whole * sub:] ** 2, axis=-1)
    local = moving_mean(piece_power, max(int(round(0.1 * fs / sub)), 1))
    floor = np.median(local, axis=-1, keepdims=True) * 1e-3 + 1e-300
    weight = np.zeros(lead_shape + (nblk * spb,))
    weight[..., lead // sub:lead // sub + npc] = 1.0 / (local + floor)
    chunk = max(1, 262_144 // hop)  # blocks per pass: bounded temporaries on hour-long records
    def padded(v: np.ndarray, b0: int, b1: int) -> np.ndarray:
        s0, s1 = b0 * hop - lead, b1 * hop - lead
        seg = np.zeros(v.shape[:-1] + (s1 - s0,))
        a, b = max(s0, 0), min(s1, n)
        if b > a:
            seg[..., a - s0:b - s0] = v[..., a:b]
        return seg.reshape(v.shape[:-1] + (b1 - b0, hop))
    k_in = np.arange(hop)
    rise = 0.5 - 0.5 * np.cos(np.pi * (k_in + 0.5) / hop)
    fall = 1.0 - rise
    cover = rise + fall
    om = [2 * np.pi * f for f in lines]
    P = np.array([np.exp(1j * o * k_in / fs) for o in om])  # (lines, hop)
    nl = len(lines)
    Pa = np.concatenate([P.real, P.imag]).T  # (hop, 2·lines): Σ w·x·cos, Σ w·x·sin
    P2 = P * P
    P2a = np.concatenate([P2.real, P2.imag]).T.reshape(spb, sub, 2 * nl).sum(axis=1)
    syn = np.concatenate([((rise / cover) * P).real, ((rise / cover) * P).imag,
                          ((fall / cover) * P).real, ((fall / cover) * P).imag])  # (4·lines, hop)
    def block_phase(b0: int, b1: int) -> np.ndarray:  # (lines, b1 − b0)
        return np.exp(1j * np.array(om)[:, None] * (np.arange(b0, b1) * hop - lead)[None, :] / fs)
    out = x if overwrite_x else x.copy()
    scratch = np.empty(chunk * hop)
    with single_threaded_blas():  # thin, memory-bound products (see single_threaded_blas)
        for r in np.ndindex(*lead_shape):
            zx = np.zeros((nl, nblk), dtype=complex)
            z2 = np.zeros((nl, nblk), dtype=complex)
            sw = np.zeros(nblk)
            for b0 in range(0, nblk, chunk):
                b1 = min(b0 + chunk, nblk)
                w = weight[r][b0 * spb:b1 * spb].reshape(b1 - b0, spb, 1)
                s0, s1 = b0 * hop - lead, b1 * hop - lead
                if s0 >= 0 and s1 <= n:  # inside the record: w·x straight into the scratch block
                    wx = np.multiply(x[r][s0:s1].reshape(b1 - b0, spb, sub), w,
                                     out=scratch[:(b1 - b0) * hop].reshape(b1 - b0, spb, sub)).reshape(b1 - b0, hop)
                else:
                    wx = padded(x[r], b0, b1)
                    wx.reshape(b1 - b0, spb, sub)[...] *= w
                w = w[..., 0]
                Bc = block_phase(b0, b1)
                sx = wx @ Pa  # (blocks, 2·lines)
                s2 = w @ P2a
                zx[:, b0:b1] = Bc.conj() * (sx[:, :nl] - 1j * sx[:, nl:]).T  # Σ w·x·(cos − i·sin)
                z2[:, b0:b1] = (Bc * Bc) * (s2[:, :nl] + 1j * s2[:, nl:]).T  # Σ w·(cos 2φ + i·sin 2φ)
                sw[b0:b1] = sub * w.sum(axis=-1)
            fc, fs_, fw = (zx.real[:, :-1] + zx.real[:, 1:], -(zx.imag[:, :-1] + zx.imag[:, 1:]), sw[:-1] + sw[1:])
            fc2, fs2 = z2.real[:, :-1] + z2.real[:, 1:], z2.imag[:, :-1] + z2.imag[:, 1:]
            gcc, gss, gcs = 0.5 * (fw + fc2), 0.5 * (fw - fc2), 0.5 * fs2
            det = gcc * gss - gcs * gcs
            det = np.where(np.abs(det) > 1e-300, det, np.inf)
            a = (gss * fc - gcs * fs_) / det
            b = (gcc * fs_ - gcs * fc) / det
            z = a - 1j * b
            pz = np.concatenate([np.zeros((nl, 1)), z, np.zeros((nl, 1))], axis=-1)
            for b0 in range(0, nblk, chunk):
                b1 = min(b0 + chunk, nblk)
                Bc = block_phase(b0, b1)
                u = pz[:, b0 + 1:b1 + 1] * Bc
                v = pz[:, b0:b1] * Bc
                coef = np.concatenate([u.real, -u.imag, v.real, -v.imag]).T  # (blocks, 4·lines)
                fit = np.matmul(coef, syn, out=scratch[:(b1 - b0) * hop].reshape(b1 - b0, hop))
                if b0 == 0:
                    fit[0] = (u[:, 0:1] * P).real.sum(axis=0)
                if b1 == nblk:
                    fit[-1] = (v[:, -1:] * P).real.sum(axis=0)
                fit = fit.reshape(-1)
                s0 = b0 * hop - lead
                a_, b_ = max(s0, 0), min(b1 * hop - lead, n)
                if b_ > a_:
                    out[r][a_:b_] -= fit[a_ - s0:b_ - s0]
    return np.moveaxis(out, -1, axis)


def _record(seed: int, shape: tuple[int, ...], fs: float, mains_hz: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = shape[-1]
    t = np.arange(n) / fs
    x = rng.standard_normal(shape) + 0.5 * np.sin(2 * np.pi * mains_hz * t + rng.uniform(0, 6))
    x[..., n // 3:n // 2] *= 8.0  # a burst: the weights must follow the local power
    return x


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([250.0, 500.0, 1000.0, 1234.0, 2000.0]),
       st.integers(1, 30_000), st.sampled_from([1, 2, 3]), st.sampled_from([0.25, 1.0, 4.0]),
       st.lists(st.sampled_from([50.0, 50.03, 60.0, 150.0, 180.0, 250.0, 5000.0]), max_size=4),
       st.booleans())
def test_subtract_lines_is_the_unsplit_implementation_bit_for_bit(seed, fs, n, rows, segment_s, lines, overwrite):
    x = _record(seed, (rows, n) if rows > 1 else (n,), fs, 50.0)
    want = _subtract_lines_before_split(x.copy(), fs=fs, lines_hz=lines, segment_s=segment_s, overwrite_x=overwrite)
    got = subtract_lines(x.copy(), fs=fs, lines_hz=lines, segment_s=segment_s, overwrite_x=overwrite)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("axis", [-1, 0])
def test_subtract_lines_on_long_records_and_axis_0_is_the_unsplit_implementation(axis):
    # Long enough for several chunks of half-blocks (262 144 samples per pass).
    x = _record(3, (2, 400_000), 1000.0, 50.02)
    x = np.ascontiguousarray(x.T) if axis == 0 else x
    want = _subtract_lines_before_split(x, fs=1000.0, lines_hz=(50.02, 150.06), axis=axis)
    got = subtract_lines(x, fs=1000.0, lines_hz=(50.02, 150.06), axis=axis)
    assert got.tobytes() == want.tobytes()
    assert np.std(got) < np.std(x)  # the line is gone: not a no-op on both sides
