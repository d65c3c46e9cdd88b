"""A sample counter that jumps (a CRC-valid frame whose SAMPLE_INDEX is off by 2³¹: a firmware bug or an
undetected corruption) must not become a 24-day gap: a jump is a gap only when the board clock (T_US) and the
host clock agree it could be one; otherwise the frame is re-anchored, its samples kept, the fault counted."""

from __future__ import annotations

import numpy as np

from reengage.acquisition.boards import load_board
from reengage.acquisition.pipeline import decoder_for_board
from reengage.acquisition.protocol import TYPE_EMG, TYPE_HELLO, encode_frame
from reengage.acquisition.simboard import hello_text
from reengage.model import Block, Gap

SPF = 8  # samples per frame; the Uno runs at 1 kHz: a frame every 8 ms
FRAME_NS = 8_000_000


def _frame(seq: int, index: int, t_us: int) -> bytes:
    data = np.stack([np.arange(SPF) + seq * SPF, np.full(SPF, seq)]).astype(np.int16)
    return encode_frame(TYPE_EMG, seq, index, t_us, data)


def _run(frames: list[tuple[int, int, int, int]]):
    """Feed (seq, sample index, t_us, host ns) one frame per read; the items and the decoder."""
    dec = decoder_for_board(load_board("uno_myoware"))
    items = []
    for seq, index, t_us, host_ns in frames:
        items += dec.feed(_frame(seq, index, t_us), host_ns)
    return items, dec


def _steady(seqs, index_offset=0, t0_us=0, host0_ns=0):
    return [(k, (k * SPF + index_offset) & 0xFFFFFFFF, (t0_us + k * SPF * 1000) & 0xFFFFFFFF,
             host0_ns + k * FRAME_NS) for k in seqs]


def _contiguous(items) -> list[Block]:
    blocks = [it for it in items if isinstance(it, Block)]
    for a, b in zip(blocks, blocks[1:]):
        assert b.start == a.start + a.n_samples, (a.start, b.start)
    return blocks


def test_a_jump_of_2_31_is_a_counter_fault_not_a_gap_and_every_sample_is_kept():
    frames = _steady(range(10)) + _steady(range(10, 30), index_offset=2**31)  # the counter stays jumped
    items, dec = _run(frames)
    assert not [it for it in items if isinstance(it, Gap)]
    blocks = _contiguous(items)
    assert len(blocks) == 30 and blocks[-1].start + SPF == 30 * SPF  # a sane length: 240 samples, not 2³¹
    assert dec.stats.counter_faults == 1 and dec.stats.samples_lost == 0 and dec.stats.restarts == 0
    log = dec.stats.counter_fault_log
    assert log == [{"stream": "emg", "onset_s": 0.08, "counter_jump": 2**31, "board_index": 2**31 + 80,
                    "samples_lost_estimated": 0}]
    assert dec.stats.to_dict()["counter_faults"] == 1


def test_a_single_corrupt_index_forward_or_backwards_costs_nothing():
    for bad_index in (2**31 + 80, 5 * SPF, 0xFFFFFFF0):  # forward 2³¹, backwards, just below the wrap
        frames = _steady(range(20))
        frames[10] = (10, bad_index, frames[10][2], frames[10][3])
        items, dec = _run(frames)
        assert not [it for it in items if isinstance(it, Gap)], bad_index
        assert len(_contiguous(items)) == 20
        assert dec.stats.counter_faults == 2 and dec.stats.restarts == 0  # off, then back on
        assert not any(dec.stats.to_dict()["decoder"]["samples_lost"].values()), bad_index


def test_a_fault_with_real_losses_puts_the_samples_where_the_board_clock_says():
    frames = _steady(range(10)) + _steady(range(15, 25), index_offset=2**31)  # 5 frames lost as well
    items, dec = _run(frames)
    gaps = [it for it in items if isinstance(it, Gap)]
    assert [(g.samples_lost, g.onset_s) for g in gaps] == [(5 * SPF, 0.08)] and "counter fault" in gaps[0].reason
    assert dec.stats.counter_faults == 1
    assert dec.stats.samples_lost == 5 * SPF == dec.stats.to_dict()["decoder"]["samples_lost"]["emg"]


def test_a_jump_whose_board_clock_jumped_too_is_judged_by_the_host_clock():
    frames = _steady(range(10))
    frames += [(k, 2**31 + k * SPF, 123_456_789 + k * SPF * 1000, k * FRAME_NS) for k in range(10, 20)]
    items, dec = _run(frames)
    assert not [it for it in items if isinstance(it, Gap)]  # 8 ms of host time passed: no room for a loss
    assert len(_contiguous(items)) == 20 and dec.stats.counter_faults == 1


def test_a_real_gap_after_an_outage_stays_exact():
    dec = decoder_for_board(load_board("uno_myoware"))
    items = []
    for seq, index, t_us, host in _steady(range(5)):
        items += dec.feed(_frame(seq, index, t_us), host)
    dec.mark_disconnect(50 * 10**6)
    for seq, index, t_us, host in _steady(range(2000, 2005)):  # 16 s later, the board kept counting
        items += dec.feed(_frame(seq, index, t_us), host + 10**8)
    gaps = [it for it in items if isinstance(it, Gap)]
    assert [(g.samples_lost, g.onset_s) for g in gaps] == [(1995 * SPF, 0.04)] and "disconnected" in gaps[0].reason
    assert dec.stats.counter_faults == 0


def test_an_outage_longer_than_the_board_clock_wrap_stays_exact():
    """micros() wraps every 71.6 min: the host clock says how many times it did."""
    two_hours = 2 * 3600 * 1000  # samples at 1 kHz
    frames = _steady(range(5))
    later = [(k, k * SPF + two_hours, (k * SPF + two_hours) * 1000 & 0xFFFFFFFF, (k * SPF + two_hours) * 10**6)
             for k in range(5, 10)]
    items, dec = _run(frames + later)
    gaps = [it for it in items if isinstance(it, Gap)]
    assert [g.samples_lost for g in gaps] == [two_hours] and dec.stats.counter_faults == 0


def test_a_board_restart_is_still_a_restart():
    board = load_board("uno_myoware")
    dec = decoder_for_board(board)
    hello = hello_text(board).encode()
    items = dec.feed(encode_frame(TYPE_HELLO, 0, 0, 0, hello), 0)
    for seq, index, t_us, host in _steady(range(1, 200), t0_us=2_000_000):
        items += dec.feed(_frame(seq, index, t_us), host)
    back = 199 * FRAME_NS + 2 * 10**9  # reset: 2 s of bootloader, counters and clock from the start
    items += dec.feed(encode_frame(TYPE_HELLO, 0, 0, 0, hello.replace(b"boot=", b"boot=9")), back)
    for seq, index, t_us, host in _steady(range(1, 10), t0_us=2_000_000, host0_ns=back):
        items += dec.feed(_frame(seq, index, t_us), host)
    assert dec.stats.restarts == 1 and dec.stats.counter_faults == 0
    gaps = [it for it in items if isinstance(it, Gap)]
    assert len(gaps) == 1 and "restarted" in gaps[0].reason


class _Streaming:
    """A board that never stops: frames as long as the recorder reads, within a bound no test should reach."""

    def __init__(self, frames):
        self.frames = iter(frames)

    def read(self) -> bytes:
        try:
            seq, index, t_us, _ = next(self.frames)
        except StopIteration:
            raise AssertionError("the recorder read on past --duration") from None
        return _frame(seq, index, t_us)

    def close(self) -> None:
        pass


def test_a_real_gap_across_the_end_of_duration_ends_the_run(tmp_path):
    """The first block after the gap starts past --duration: the duration is reached (it waited for ever)."""
    from reengage.acquisition.recorder import Acquisition

    frames = _steady(range(50)) + _steady(range(200, 5000))  # 1.2 s lost from 0.4 s; --duration 1 s
    dec = decoder_for_board(load_board("uno_myoware"))
    items: list = []

    class Keep:
        def handle(self, item):
            items.append(item)

    Acquisition(dec, _Streaming(frames), [Keep()], duration_s=1.0, answer_timeout_s=None).run()
    assert sum(b.n_samples for b in items if isinstance(b, Block)) == 50 * SPF
    assert [g.samples_lost for g in items if isinstance(g, Gap)] == [150 * SPF]
