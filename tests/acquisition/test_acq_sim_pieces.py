"""The simulated board synthesises a long session in pieces (start-up stays quick, whatever the duration)
and the pieces join into one seamless stream: consecutive SEQ and sample counters, HELLOs every 5 s."""

from __future__ import annotations

import itertools

from reengage.acquisition.boards import load_board
from reengage.acquisition.guided import PROTOCOLS, get_protocol
from reengage.acquisition.pipeline import decoder_for_board
from reengage.acquisition.protocol import TYPE_HELLO
from reengage.acquisition.simboard import (
    HELLO_EVERY_S, ONE_PIECE_MAX_S, PIECE_S, SimulatedBoard, profile_from_board, session_pieces,
)
from reengage.model import Event, Gap


def test_long_session_comes_in_pieces_that_join_seamlessly():
    board = load_board("simulated")
    duration_s = ONE_PIECE_MAX_S + 60.0
    pieces = session_pieces(board, profile_from_board(board), duration_s, seed=4)
    first = next(pieces)
    assert first[0]["emg"].shape[1] == PIECE_S * board.emg.fs_hz  # only the first piece before the port opens
    sim = SimulatedBoard(board, itertools.chain([first], pieces))
    decoder = decoder_for_board(board)
    items = decoder.feed(sim.hello, 0)
    times, hellos = [], 0
    for t_done, frame in sim.frames():
        times.append(t_done)
        hellos += (frame[2] & 0x0F) == TYPE_HELLO
        items += decoder.feed(frame, 0)
    assert times == sorted(times)
    assert not [it for it in items if isinstance(it, Gap)]
    assert decoder.stats.samples["emg"] == duration_s * board.emg.fs_hz
    assert decoder.stats.samples["imu"] == duration_s * board.streams["imu"].fs_hz
    assert decoder.stats.to_dict()["decoder"]["dropped"] == 0
    assert hellos == int(duration_s // HELLO_EVERY_S)  # every 5 s of board time, across the joins
    events = [it for it in items if isinstance(it, Event)]
    exercise = [e for e in events if e.label == "exercise"]
    assert len(exercise) == 1 and abs(exercise[0].onset_s + exercise[0].duration_s - duration_s) < 1e-6
    assert [e.label for e in events if e.label.startswith("mvc:")]  # the protocol is in the first piece


def test_short_session_is_one_piece():
    board = load_board("simulated")
    assert len(list(session_pieces(board, profile_from_board(board), 20.0, seed=1))) == 1


def test_every_protocol_names_its_task():
    assert get_protocol("bridge").task == "bridge"
    assert {p.task for p in PROTOCOLS.values()} == set(PROTOCOLS)
