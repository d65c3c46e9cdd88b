"""Property tests of the binary frame decoder: never raises, loses at most the damaged frame, exact counts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reengage.acquisition.protocol import TYPE_EMG, TYPE_IMU, FrameDecoder, encode_frame

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _stream(n_frames: int, seed: int, start_seq: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    frames, idx = [], {TYPE_EMG: 0, TYPE_IMU: 0}
    for k in range(n_frames):
        t = TYPE_IMU if k % 5 == 4 else TYPE_EMG
        nch = 6 if t == TYPE_IMU else 2
        ns = int(rng.integers(1, 227 // (2 * nch) + 1))
        data = rng.integers(-32768, 32768, (nch, ns), dtype=np.int16)
        frames.append(encode_frame(t, start_seq + k, idx[t], k * 8000, data, layout_id=t))
        idx[t] += ns
    return frames


def _feed_chunked(dec: FrameDecoder, data: bytes, cuts: list[int]):
    out, prev = [], 0
    for c in sorted(cuts) + [len(data)]:
        out += dec.feed(data[prev:c])
        prev = max(prev, c)
    return out


def _check_invariants(dec: FrameDecoder, frames_out, data_len: int):
    s = dec.stats
    assert s.frames == len(frames_out)
    assert s.bytes_in == data_len
    assert sum(s.dropped_by_reason.values()) == s.seq_gaps == s.dropped
    # every input byte is accounted for: in a frame, skipped, or still pending
    consumed = sum(15 + len(f.payload) + 2 for f in frames_out)
    assert consumed + s.bytes_skipped + dec.pending_bytes == data_len


@FUZZ
@given(data=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 3000), max_size=30))
def test_arbitrary_bytes_never_raise(data, cuts):
    dec = FrameDecoder()
    out = _feed_chunked(dec, data, cuts)
    _check_invariants(dec, out, len(data))


@FUZZ
@given(
    n=st.integers(3, 25),
    seed=st.integers(0, 2**32 - 1),
    garbage=st.lists(st.binary(min_size=1, max_size=40), max_size=8),
    where=st.lists(st.integers(0, 24), max_size=8),
    cuts=st.lists(st.integers(0, 6000), max_size=30),
)
def test_interleaved_garbage_loses_nothing(n, seed, garbage, where, cuts):
    frames = _stream(n, seed)
    parts = list(frames)
    for g, w in zip(garbage, where):
        # Garbage without SYNC[0] between frames: every frame must survive
        parts[min(w, n - 1)] = parts[min(w, n - 1)] + g.replace(b"\xa5", b"\x00")
    data = b"".join(parts)
    dec = FrameDecoder()
    out = _feed_chunked(dec, data, cuts)
    assert [f.seq for f in out] == list(range(n))
    assert dec.stats.dropped == 0 and dec.stats.samples_lost == {}
    _check_invariants(dec, out, len(data))


@FUZZ
@given(
    n=st.integers(4, 20),
    seed=st.integers(0, 2**32 - 1),
    damage=st.data(),
    cuts=st.lists(st.integers(0, 6000), max_size=20),
)
def test_bit_flips_and_truncation_lose_only_the_damaged_frames(n, seed, damage, cuts):
    frames = _stream(n, seed)
    # damage frames 1..n-2 (the first and last have no neighbour to reveal a SEQ gap), never adjacent
    victims = sorted(set(damage.draw(st.lists(st.integers(1, n - 2), max_size=4))))
    victims = [v for i, v in enumerate(victims) if i == 0 or v - victims[i - 1] > 1]
    parts = list(frames)
    kinds = {}
    for v in victims:
        f = bytearray(parts[v])
        kind = damage.draw(st.sampled_from(["flip", "truncate"]))
        kinds[v] = kind
        if kind == "flip":
            bit = damage.draw(st.integers(0, len(f) * 8 - 1))
            f[bit // 8] ^= 1 << (bit % 8)
        else:
            f = f[: damage.draw(st.integers(1, len(f) - 1))]
        parts[v] = bytes(f)
    # A cut frame's header may claim up to 244 bytes, so the decoder decides on it only when that many
    # have arrived: two full frames after the damage stand in for the rest of a live stream.
    tail = [encode_frame(TYPE_IMU, n + k, 10_000 + 18 * k, 0, np.ones((6, 18), np.int16), layout_id=1)
            for k in range(2)]
    frames = frames + tail
    data = b"".join(parts + tail)
    dec = FrameDecoder()
    out = _feed_chunked(dec, data, cuts)
    got = [f.seq for f in out]
    assert got == [k for k in range(n + 2) if k not in victims]
    assert dec.stats.seq_gaps == len(victims) == dec.stats.dropped
    for f in out:  # surviving frames are bit-exact
        assert encode_frame(f.type, f.seq, f.sample_index, f.t_us, f.payload, n_channels=f.n_channels,
                            layout_id=f.layout_id) == frames[f.seq]
    reasons = dec.stats.dropped_by_reason
    assert set(reasons) <= {"crc", "truncated", "header", "lost"}
    n_trunc = sum(1 for k in kinds.values() if k == "truncate")
    # a truncated frame is reported as truncated (or lost, when the cut left less than a SYNC)
    assert reasons.get("truncated", 0) + reasons.get("lost", 0) + reasons.get("header", 0) >= n_trunc
    _check_invariants(dec, out, len(data))


def test_sample_gap_per_stream_and_reset_detection():
    frames = _stream(12, 7)
    dec = FrameDecoder()
    out = dec.feed(b"".join(frames[:5] + frames[6:]))  # frame 5 (EMG) lost upstream
    lost = frames[5]
    ns = (lost[3]) // 4
    assert dec.stats.dropped_by_reason == {"lost": 1}
    assert dec.stats.samples_lost == {"emg": ns}
    # the board restarts: SEQ and SAMPLE_INDEX begin again at 0, which is no loss
    dec.feed(b"".join(_stream(3, 8)))
    assert dec.stats.resets == 1 and dec.stats.seq_gaps == 1 and dec.stats.samples_lost == {"emg": ns}
    assert len(out) == 11


def test_reset_discards_partial_frame_and_counts_loss_across_outage():
    frames = _stream(10, 3)
    dec = FrameDecoder()
    dec.feed(b"".join(frames[:4]) + frames[4][:20])
    dec.reset()  # unplug mid-frame
    assert dec.stats.truncated_tail == 1 and dec.pending_bytes == 0
    out = dec.feed(b"".join(frames[7:]))  # replug: same board, frames 4-6 never arrived
    assert [f.seq for f in out] == [7, 8, 9] and dec.stats.seq_gaps == 3


@pytest.mark.parametrize("version", [0, 2, 15])
def test_other_protocol_versions_are_rejected_and_counted(version):
    f = bytearray(encode_frame(TYPE_EMG, 0, 0, 0, np.zeros((2, 4), np.int16)))
    f[2] = (version << 4) | TYPE_EMG
    dec = FrameDecoder()
    assert dec.feed(bytes(f) * 3) == []
    assert dec.stats.other_version == (3 if version else 0) and dec.stats.bad_header == 3
