"""The board decoders share one shape (acquisition/decoder.py): the same calls, the same invariants, for the
binary protocol and the Serial Plotter, so the acquisition loop never asks which one it drives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reengage.acquisition.boards import PROTOCOLS, board_paths, load_board, with_command_line
from reengage.acquisition.pipeline import DECODERS, decoder_for_board
from reengage.acquisition.protocol import TYPE_EMG, TYPE_HELLO, TYPE_STATUS, encode_frame
from reengage.acquisition.recorder import Acquisition, Recorder
from reengage.acquisition.simboard import hello_text
from reengage.errors import DeviceError
from reengage.io.recfile import read_recording
from reengage.model import Block, Event, Gap

MS = 1_000_000


def _plotter_board():
    return with_command_line(load_board("plotter"), 500.0, "glute_max,hamstrings")


def _boards():
    out = [_plotter_board()]
    out += [load_board(p) for p in board_paths() if load_board(p).protocol != "plotter"]
    return out


def _uno_frames(first_seq: int, n: int, spf: int = 8) -> bytes:
    return b"".join(encode_frame(TYPE_EMG, first_seq + k, (first_seq + k) * spf, 0,
                                 np.full((2, spf), first_seq + k, np.int16)) for k in range(n))


def test_every_protocol_a_board_file_may_name_has_a_decoder():
    assert set(DECODERS) == set(PROTOCOLS)
    for board in _boards():
        dec = decoder_for_board(board)
        assert dec.board is board and dec.sample_dtype in ("<i2", "<f4")
        assert dec.feed(b"", 0) == [] and dec.take_hellos() == []
        assert set(dec.stats.to_dict()) == {"decoder", "samples", "gaps", "samples_lost", "unknown_layout_frames",
                                            "board_restarts", "counter_faults", "counter_fault_log"}


def _check_items(board, items, dec):
    """Blocks of the board's streams and shapes; per stream, each block starts where the last ended plus the
    samples a Gap just before it declared lost."""
    nxt: dict[str, int] = {}
    lost: dict[str, int] = {}
    for it in items:
        assert isinstance(it, (Block, Gap, Event))
        if isinstance(it, Gap):
            lost[it.stream] = lost.get(it.stream, 0) + it.samples_lost
        elif isinstance(it, Block):
            assert it.data.shape == (len(board.streams[it.stream].channels), it.n_samples)
            assert it.data.dtype == np.dtype(dec.sample_dtype)
            if it.stream in nxt:
                assert it.start == nxt[it.stream] + lost.pop(it.stream, 0)
            nxt[it.stream] = it.start + it.n_samples
    got = {s: sum(it.n_samples for it in items if isinstance(it, Block) and it.stream == s) for s in board.streams}
    assert got == dec.stats.samples


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 3000), max_size=20),
       drop=st.integers(0, 3000), which=st.integers(0, 10))
def test_any_bytes_any_split_any_disconnect_never_raise(data, cuts, drop, which):
    boards = _boards()
    board = boards[which % len(boards)]
    dec = decoder_for_board(board)
    items, prev, t = [], 0, 0
    for c in sorted(cuts) + [len(data)]:
        if prev <= drop < c:
            dec.mark_disconnect(t)
        items += dec.feed(data[prev:c], t)
        dec.take_hellos()
        prev = max(prev, c)
        t += 7 * MS
    _check_items(board, items, dec)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cuts=st.lists(st.integers(0, 2000), max_size=20), garbage=st.binary(max_size=60))
def test_valid_streams_survive_any_split_through_the_same_interface(cuts, garbage):
    uno = load_board("uno_myoware")
    frames = _uno_frames(0, 30)
    lines = b"".join(b"%d,%d\r\n" % (k, -k) for k in range(200))
    for board, data, n in ((uno, garbage.replace(b"\xa5", b"") + frames, 240),
                           (_plotter_board(), b"partial\r\n" + lines, 200)):
        dec = decoder_for_board(board)
        items, prev = [], 0
        for c in sorted(cuts) + [len(data)]:
            items += dec.feed(data[prev:c], 0)
            prev = max(prev, c)
        blocks = [it for it in items if isinstance(it, Block)]
        assert not [it for it in items if isinstance(it, Gap)]
        assert sum(b.n_samples for b in blocks) == n == dec.stats.samples["emg"]
        assert blocks[0].start == dec.origin_index
        _check_items(board, items, dec)


def test_an_outage_becomes_one_gap_in_both_protocols():
    uno = decoder_for_board(load_board("uno_myoware"))
    items = uno.feed(_uno_frames(0, 5), 0)
    uno.mark_disconnect(50 * MS)
    items += uno.feed(_uno_frames(10, 5), 200 * MS)  # the board kept counting: the loss is exact
    gaps = [it for it in items if isinstance(it, Gap)]
    assert [(g.samples_lost, g.onset_s) for g in gaps] == [(40, 0.04)] and "disconnected" in gaps[0].reason

    plot = decoder_for_board(_plotter_board())
    items = plot.feed(b"x\n" + b"".join(b"%d,0\n" % k for k in range(50)), 0)
    plot.mark_disconnect(100 * MS)
    items += plot.feed(b"tail of a line\n" + b"".join(b"%d,0\n" % k for k in range(10)), 1000 * MS)
    gaps = [it for it in items if isinstance(it, Gap)]
    # no counter in text: 1 s at 500 Hz since the last line, minus the 10 lines that arrived
    assert [(g.samples_lost, g.onset_s) for g in gaps] == [(490, 0.1)] and "host clock" in gaps[0].reason
    assert plot.stats.samples_lost == 490 and plot.stats.gaps == 1


def test_hellos_are_handed_over_once_each_in_order_and_status_events_wait_for_the_origin():
    board = load_board("uno_myoware")
    dec = decoder_for_board(board)
    hello = hello_text(board).encode()
    reboot = hello_text(board, boot=2).encode()
    data = (encode_frame(TYPE_HELLO, 0, 0, 0, hello) + encode_frame(TYPE_STATUS, 1, 16, 0, b"event=rep;duration_s=2")
            + encode_frame(TYPE_HELLO, 2, 0, 0, hello) + encode_frame(TYPE_HELLO, 3, 0, 0, reboot))
    assert dec.feed(data, 0) == []  # the event waits: its time is relative to the first EMG sample
    assert dec.take_hellos() == [hello.decode(), reboot.decode()] and dec.take_hellos() == []
    emg = encode_frame(TYPE_EMG, 4, 8, 0, np.zeros((2, 8), np.int16))
    items = dec.feed(emg + encode_frame(TYPE_HELLO, 5, 0, 0, hello), 0)
    assert [type(it) for it in items] == [Block, Event] and items[1] == Event(0.008, 2.0, "rep")
    assert dec.take_hellos() == []


class _OneRead:
    """A transport whose board sends everything in one read, then vanishes."""

    port = "/dev/test"

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self) -> bytes:
        data, self.data = self.data, b""
        return data

    def close(self) -> None:
        pass


def test_a_refused_hello_in_the_same_read_as_samples_records_nothing(tmp_path):
    """The HELLO is checked before the read's items reach a sink, even when samples came with it."""
    board = load_board("uno_myoware")
    dec = decoder_for_board(board)
    wrong = hello_text(board).replace("adc=10", "adc=12").encode()
    rec = Recorder.for_decoder(tmp_path / "r.rgr", dec, {})
    acq = Acquisition(dec, _OneRead(encode_frame(TYPE_HELLO, 0, 0, 0, wrong) + _uno_frames(1, 50)), [rec])
    with pytest.raises(DeviceError, match="ADC is 12-bit, the board file says 10-bit"):
        acq.run()
    rec.close(acq.stats())
    assert acq.dispatched == 0 and read_recording(tmp_path / "r.rgr").emg.n_samples == 0
