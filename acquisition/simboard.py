"""The simulated board: a separate process that behaves like an Arduino running our sketch.

It opens a pseudo-terminal, prints the port's path on its first stdout line, waits for the host's
``START`` line (a real Uno resets when the port opens and pyserial drops bytes received before open), then
streams wire-protocol-v1 frames paced by the wall clock (``--speed`` > 1 runs the board clock faster
for demos). The person it simulates follows the guided protocol (rest, MVC trials, reps); each step is
announced in a STATUS frame, like a button on a real board. Told which guided session it is in (``--sim
protocol=NAME`` with ``reps``, ``retest``, ``cue_reps``, ``reference``: :data:`LAYOUT_KEYS`), it follows that
session's steps exactly, the retest block with re-applied electrodes included. ``STOP`` or end of input stops it.

Run: ``python -m reengage.acquisition.simboard --board simulated [--duration S] [--speed X]``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import select
import signal
import sys
import threading
import time
import tty
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from reengage.acquisition.boards import BoardConfig, load_board
from reengage.acquisition.guided import get_protocol, retest_steps
from reengage.acquisition.protocol import MAX_PAYLOAD, TYPE_EMG, TYPE_HELLO, TYPE_IMU, TYPE_STATUS, encode_frame
from reengage.model import Event
from reengage.synth import SubjectProfile, guided_blocks, synthesize


def profile_from_board(board: BoardConfig, overrides: dict | None = None) -> SubjectProfile:
    sim = {**board.simulator, **(overrides or {})}
    kw = {k: float(sim[k]) for k in ("snr_db", "mains_hz", "rep_period_s", "rep_duration_s") if k in sim}
    return SubjectProfile.from_latency_ratio(
        float(sim.get("onset_latency_ms", 60.0)),
        float(sim.get("glute_hamstring_ratio", 0.55)),
        float(sim.get("hamstring_pct_mvc", 40.0)),
        **kw,
    )


def _imu_fs(board: BoardConfig) -> float:
    return board.streams["imu"].fs_hz if "imu" in board.streams else 100.0


def board_samples(board: BoardConfig, profile: SubjectProfile, duration_s: float, seed: int, *,
                  with_mvc: bool = True):
    """The session as the board's ADC would read it: int16 per stream, plus the protocol steps."""
    session = synthesize(profile, duration_s, fs_hz=board.emg.fs_hz, imu_fs_hz=_imu_fs(board), seed=seed,
                         with_mvc=with_mvc)
    return adc_samples(board, session), session


def adc_samples(board: BoardConfig, session) -> dict:
    """A synthesised session (:class:`reengage.synth.SynthSession`) as the board's ADC reads it: int16 per
    stream."""
    emg_cfg = board.emg
    full = (1 << board.adc_bits) - 1
    rows = []
    for ch in emg_cfg.channels:
        mv = session.emg_mv[session.muscles.index(ch.role)] if ch.role in session.muscles else 0.0 * session.emg_mv[0]
        rows.append(np.clip(np.round(mv / ch.scale + ch.offset), 0, full))
    out = {"emg": np.array(rows, dtype=np.int16)}
    if "imu" in board.streams:
        imu_cfg = board.streams["imu"]
        names = ["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"]
        imu = [session.imu[names.index(c.name)] / c.scale for c in imu_cfg.channels]
        out["imu"] = np.clip(np.round(imu), -32768, 32767).astype(np.int16)
    return out


# ``--sim KEY=VALUE`` keys that tell the simulated person which guided session it is in (the recorder's
# ``--protocol NAME --reps N --retest --cue-reps K --reference``), so it follows the guide's layout step for step.
LAYOUT_KEYS = ("protocol", "reps", "retest", "cue_reps", "reference")


def guided_layout(board: BoardConfig, given: dict) -> list[Event] | None:
    """The events of the guided session ``given`` names (:data:`LAYOUT_KEYS`; None without ``protocol``): the
    guide's own steps (:mod:`reengage.acquisition.guided`), for the board's recorded muscles."""
    if not given.get("protocol"):
        return None
    muscles = [c.role for c in board.emg.channels if c.role]
    flag = {k: str(given.get(k, "0")).lower() in ("1", "true", "yes") for k in ("retest", "reference")}
    reps = int(given["reps"]) if given.get("reps") else None
    options = {"cue_reps": int(given.get("cue_reps") or 0), "reference": flag["reference"]}
    protocol = get_protocol(str(given["protocol"]))
    steps = retest_steps(protocol, muscles, reps, **options) if flag["retest"] else \
        protocol.steps(muscles, reps, **options)
    return [Event(s.onset_s, s.duration_s, s.label) for s in steps]


HELLO_EVERY_S = 5.0  # as the sketches: a HELLO on START and every 5 s while streaming


def hello_text(board: BoardConfig, boot: int = 1) -> str:
    """The HELLO payload the sketches send (PROTOCOL.md §3), built from the board file."""
    def rate(fs: float) -> str:
        return str(int(fs)) if float(fs).is_integer() else f"{fs:g}"

    parts = [f"proto=1;board={board.name};fw=sim-1.0.0;boot={boot}"]
    for name, cfg in board.streams.items():
        parts.append(f"{name}={cfg.layout_id},{len(cfg.channels)},{rate(cfg.fs_hz)}")
    parts.append(f"adc={board.adc_bits};vref_mv={int(round(board.vref_v * 1000))}")
    if board.emg.samples_per_frame:
        parts.append(f"spf={board.emg.samples_per_frame}")
    return ";".join(parts)


PIECE_S = 120.0  # board seconds synthesised at a time in a long session (a whole number of frames)
ONE_PIECE_MAX_S = 300.0  # up to this, the session is synthesised in one piece (about a second)


def session_pieces(board: BoardConfig, profile: SubjectProfile, duration_s: float, seed: int,
                   layout: list[Event] | None = None) -> Iterator[tuple]:
    """The session as (samples, events) pieces, each synthesised only when the one before has been sent.

    Synthesis time grows faster than the duration (an hour takes minutes), so a long session (above
    :data:`ONE_PIECE_MAX_S`, e.g. ``record`` without ``--duration``) comes in :data:`PIECE_S` pieces: the first
    one follows the whole protocol (rest, MVC trials, then exercise until the end of the session), each later
    one is a set of reps of its own. Start-up stays quick and memory bounded whatever the duration.

    With ``layout`` (a guided session's events, :func:`guided_layout`) the person follows it instead, one piece
    per block (:func:`reengage.synth.guided_blocks`: a ``--retest`` session's retest block is the second)."""
    if layout is not None:
        for block in guided_blocks(profile, layout, duration_s, board.emg.fs_hz, _imu_fs(board), seed):
            yield adc_samples(board, block), block.events
        return
    if duration_s <= ONE_PIECE_MAX_S:
        samples, session = board_samples(board, profile, duration_s, seed)
        yield samples, session.events
        return
    samples, session = board_samples(board, profile, PIECE_S, seed)
    events = [ev if ev.label != "exercise" else Event(ev.onset_s, duration_s - ev.onset_s, ev.label)
              for ev in session.events]
    yield samples, events
    t, k = PIECE_S, 1
    while t < duration_s:
        length = min(PIECE_S, duration_s - t)
        samples, _ = board_samples(board, profile, length, seed + 7919 * k, with_mvc=False)
        yield samples, []
        t, k = t + length, k + 1


class SimulatedBoard:
    """Frames for the whole session, interleaved by sample time as the firmware would send them.

    ``pieces``: consecutive (samples, events) stretches of the session (:func:`session_pieces`, or one
    piece); :meth:`frames` builds each piece's frames only when the frames before have been taken.
    ``hello`` is the frame sent on START (SEQ 0); the periodic HELLOs are among the frames."""

    def __init__(self, board: BoardConfig, pieces: Iterable[tuple], boot: int = 1) -> None:
        self.board = board
        self.hello_payload = hello_text(board, boot).encode()
        self.hello = encode_frame(TYPE_HELLO, 0, 0, 0, self.hello_payload)
        self._pieces = iter(pieces)

    def frames(self) -> Iterator[tuple[float, bytes]]:
        """(board time in s when the frame is complete, bytes), in sending order."""
        seq, t0_s = 1, 0.0
        for samples, events in self._pieces:
            frames, seq = self._piece_frames(samples, events, t0_s, seq)
            yield from frames
            t0_s += samples["emg"].shape[1] / self.board.emg.fs_hz

    def _piece_frames(self, samples: dict, events, t0_s: float, seq: int) -> tuple[list, int]:
        """The frames of one piece starting at board time ``t0_s`` (SEQ from ``seq``) and the next SEQ."""
        board = self.board
        emg_fs = board.emg.fs_hz
        per_stream = []
        for name, data in samples.items():
            cfg = board.streams[name]
            spf = cfg.samples_per_frame or MAX_PAYLOAD // (2 * len(cfg.channels))
            ftype = TYPE_EMG if name == "emg" else TYPE_IMU
            first = int(round(t0_s * cfg.fs_hz))
            for i in range(0, data.shape[1] - spf + 1, spf):
                per_stream.append((t0_s + (i + spf) / cfg.fs_hz, ftype, first + i, cfg, data[:, i : i + spf]))
        for ev in events:
            payload = f"event={ev.label};duration_s={ev.duration_s:.3f}".encode()
            per_stream.append((ev.onset_s, TYPE_STATUS, int(round(ev.onset_s * emg_fs)), None, payload))
        t1_s = t0_s + samples["emg"].shape[1] / emg_fs
        for k in range(int(t0_s // HELLO_EVERY_S) + 1, int(t1_s // HELLO_EVERY_S) + 1):
            t = k * HELLO_EVERY_S
            per_stream.append((t, TYPE_HELLO, int(round(t * emg_fs)), None, self.hello_payload))
        per_stream.sort(key=lambda x: (x[0], x[1]))
        frames = []
        for t_done, ftype, index, cfg, payload in per_stream:
            t_us = int(index / (cfg.fs_hz if cfg else emg_fs) * 1e6) & 0xFFFFFFFF
            if cfg is None:
                frame = encode_frame(ftype, seq, index, t_us, payload)
            else:
                frame = encode_frame(ftype, seq, index, t_us, payload, layout_id=cfg.layout_id)
            frames.append((t_done, frame))
            seq += 1
        return frames, seq


FAULT_KEYS = ("drop_every", "corrupt_every", "garbage_every")


class Faults:
    """Deterministic line faults for tests: drop, corrupt (one flipped payload byte) or precede with
    garbage every N-th frame (0 = never). A real cable does the same at random."""

    def __init__(self, drop_every: int = 0, corrupt_every: int = 0, garbage_every: int = 0) -> None:
        self.drop_every, self.corrupt_every, self.garbage_every = drop_every, corrupt_every, garbage_every
        self.count = 0

    def apply(self, frame: bytes) -> bytes:
        self.count += 1
        k = self.count
        if self.drop_every and k % self.drop_every == 0:
            return b""
        if self.corrupt_every and k % self.corrupt_every == 0:
            b = bytearray(frame)
            b[len(b) // 2] ^= 0x5A
            frame = bytes(b)
        if self.garbage_every and k % self.garbage_every == 0:
            frame = b"\x00garbage\xa5\xff" + frame
        return frame


def _write_all(fd: int, data: bytes, host_alive: Callable[[], bool]) -> bool:
    """Write everything to the non-blocking ``fd``; False when the host went away."""
    while data:
        try:
            n = os.write(fd, data)
        except BlockingIOError:
            if not host_alive():
                return False
            select.select([], [fd], [], 0.05)
            continue
        except OSError:
            return False
        data = data[n:]
    return True


def serve(board: BoardConfig, sim: SimulatedBoard, speed: float, fd: int, faults: Faults | None = None,
          host_alive: Callable[[], bool] = lambda: True) -> None:
    """Wait for START, then write frames on time; return on STOP, EOF of the host, end of session, or when
    ``host_alive()`` turns false. ``fd`` must be non-blocking: this process holds the pty's other end open
    itself, so a host killed with SIGKILL never shows as EOF and a blocking write would hang for ever."""
    faults = faults or Faults()
    buf = b""
    while b"START" not in buf:
        r, _, _ = select.select([fd], [], [], 0.5)
        if not host_alive():
            return
        if not r:
            continue
        try:
            chunk = os.read(fd, 256)
        except OSError:
            return
        if not chunk:
            return
        buf += chunk
    os.write(fd, sim.hello)  # as the sketches answer START (PROTOCOL.md §4)
    t0 = time.monotonic()
    frames = sim.frames()
    pending = next(frames, None)
    while pending is not None:
        now = (time.monotonic() - t0) * speed
        out = []
        while pending is not None and pending[0] <= now:
            out.append(faults.apply(pending[1]))
            pending = next(frames, None)
        if out and not _write_all(fd, b"".join(out), host_alive):
            return
        r, _, _ = select.select([fd], [], [], 0.002)
        if r:
            try:
                if b"STOP" in os.read(fd, 256):
                    return
            except OSError:
                return
    # Session over: stay connected until the host says STOP or goes away, as a board that stopped
    # streaming would; closing now would hang up the port under bytes the host has not read yet.
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline and host_alive():
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                chunk = os.read(fd, 256)
            except OSError:
                return
            if not chunk or b"STOP" in chunk:
                return


def exit_with_parent(parent: int) -> None:
    """Die with the recorder that started this process, however it ends (Ctrl-C, SIGTERM, SIGKILL, a crash).

    Two watches, because the pty's other end is held here and never shows the host's death: the parent's
    end of our stdin pipe closes when it dies (EOF; portable), and on Linux the kernel sends SIGKILL at the
    parent's death (``PR_SET_PDEATHSIG``, prctl(2)). A parent already gone when this runs is caught too."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass  # no prctl (an unusual libc): the stdin watch below is enough
    if os.getppid() != parent:
        os._exit(0)

    def watch() -> None:
        try:
            while os.read(sys.stdin.fileno(), 4096):
                pass
        except OSError:
            pass
        os._exit(0)  # no cleanup to wait for: the pty goes with the process

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="reengage-simboard", description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="simulated")
    ap.add_argument("--duration", type=float, default=600.0, help="seconds of session to simulate")
    ap.add_argument("--speed", type=float, default=1.0, help="board clock / wall clock")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sim", action="append", default=[], metavar="KEY=VALUE", help="override [simulator]")
    ap.add_argument("--parent", type=int, default=None, metavar="PID",
                    help="exit when process PID (the recorder, which holds our stdin pipe) ends")
    args = ap.parse_args(argv)
    if args.parent is not None:
        exit_with_parent(args.parent)
    board = load_board(args.board)
    overrides = dict(kv.split("=", 1) for kv in args.sim)
    faults = Faults(**{k: int(overrides.pop(k)) for k in FAULT_KEYS if k in overrides})
    layout = guided_layout(board, {k: overrides.pop(k) for k in LAYOUT_KEYS if k in overrides})
    pieces = session_pieces(board, profile_from_board(board, overrides), args.duration + 1.0, args.seed, layout)
    first = next(pieces)  # before the port is announced: the host may start reading at once
    sim = SimulatedBoard(board, itertools.chain([first], pieces))
    master, slave = os.openpty()
    tty.setraw(slave)  # binary-clean, like a USB CDC port
    os.set_blocking(master, False)
    parent = os.getppid()
    print(os.ttyname(slave), flush=True)
    try:
        # A recorder killed with SIGKILL leaves this process reparented: stop then, never linger.
        serve(board, sim, args.speed, master, faults, host_alive=lambda: os.getppid() == parent)
    except KeyboardInterrupt:
        pass
    finally:
        os.close(master)
        os.close(slave)
    return 0


if __name__ == "__main__":
    sys.exit(main())
