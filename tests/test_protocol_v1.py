"""Wire protocol v1: frames round-trip, and a damaged byte costs exactly the frame it hits."""

import numpy as np

from reengage.acquisition.protocol import TYPE_EMG, TYPE_STATUS, FrameDecoder, crc16, encode_frame


def _frames(n, n_ch=2, spf=8, seed=0):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 1024, size=(n, n_ch, spf), dtype=np.int16)
    return data, [encode_frame(TYPE_EMG, k, k * spf, k * 8000, data[k]) for k in range(n)]


def test_crc_check_value():
    assert crc16(b"123456789") == 0x29B1


def test_round_trip_in_arbitrary_pieces():
    data, frames = _frames(50)
    stream = b"".join(frames)
    dec = FrameDecoder()
    got = []
    rng = np.random.default_rng(1)
    pos = 0
    while pos < len(stream):
        step = int(rng.integers(1, 40))
        got += dec.feed(stream[pos : pos + step])
        pos += step
    assert len(got) == 50
    assert [f.seq for f in got] == list(range(50))
    np.testing.assert_array_equal(np.stack([f.samples for f in got]), data)
    assert dec.stats.dropped == 0 and dec.stats.bytes_skipped == 0


def test_corrupted_byte_costs_one_frame_and_is_counted():
    data, frames = _frames(20)
    damaged = bytearray(b"".join(frames))
    hit = 7 * len(frames[0]) + 20  # a payload byte of frame 7
    damaged[hit] ^= 0x40
    dec = FrameDecoder()
    got = dec.feed(bytes(damaged))
    assert [f.seq for f in got] == [k for k in range(20) if k != 7]
    assert dec.stats.crc_errors == 1
    assert dec.stats.seq_gaps == 1
    np.testing.assert_array_equal(got[7].samples, data[8])


def test_garbage_between_frames_is_skipped():
    _, frames = _frames(3)
    dec = FrameDecoder()
    got = dec.feed(b"\x00\xa5garbage\xa5" + frames[0] + b"\xa5\x5a\xff" + frames[1] + frames[2])
    assert [f.seq for f in got] == [0, 1, 2]
    assert dec.stats.seq_gaps == 0


def test_status_frame_text():
    f = FrameDecoder().feed(encode_frame(TYPE_STATUS, 0, 3000, 0, b"event=rest;duration_s=3.000"))[0]
    assert f.type == TYPE_STATUS and f.text == "event=rest;duration_s=3.000" and f.sample_index == 3000
