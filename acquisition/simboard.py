"""The simulated board: a separate process that behaves like an Arduino running our sketch.

It opens a pseudo-terminal, prints the port's path on its first stdout line, waits for the host's
``START`` line (a real Uno resets when the port opens and pyserial drops bytes received before open), then
streams wire-protocol-v1 frames paced by the wall clock (``--speed`` > 1 runs the board clock faster
for demos). The person it simulates follows the guided protocol (rest, MVC trials, reps); each step is
announced in a STATUS frame, like a button on a real board. ``STOP`` or end of input stops it.

Run: ``python -m reengage.acquisition.simboard --board simulated [--duration S] [--speed X]``.
"""

from __future__ import annotations

import argparse
import os
import select
import sys
import time
import tty
from collections.abc import Callable

import numpy as np

from reengage.acquisition.boards import BoardConfig, load_board
from reengage.acquisition.protocol import MAX_PAYLOAD, TYPE_EMG, TYPE_HELLO, TYPE_IMU, TYPE_STATUS, encode_frame
from reengage.synth import SubjectProfile, synthesize


def profile_from_board(board: BoardConfig, overrides: dict | None = None) -> SubjectProfile:
    sim = {**board.simulator, **(overrides or {})}
    kw = {k: float(sim[k]) for k in ("snr_db", "mains_hz", "rep_period_s", "rep_duration_s") if k in sim}
    return SubjectProfile.from_latency_ratio(
        float(sim.get("onset_latency_ms", 60.0)),
        float(sim.get("glute_hamstring_ratio", 0.55)),
        float(sim.get("hamstring_pct_mvc", 40.0)),
        **kw,
    )


def board_samples(board: BoardConfig, profile: SubjectProfile, duration_s: float, seed: int):
    """The session as the board's ADC would read it: int16 per stream, plus the protocol steps."""
    emg_cfg = board.emg
    session = synthesize(
        profile, duration_s, fs_hz=emg_cfg.fs_hz,
        imu_fs_hz=board.streams["imu"].fs_hz if "imu" in board.streams else 100.0, seed=seed,
    )
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
    return out, session


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


class SimulatedBoard:
    """Frames for the whole session, interleaved by sample time as the firmware would send them.

    ``hello`` is the frame sent on START (SEQ 0); the periodic HELLOs are among ``frames``."""

    def __init__(self, board: BoardConfig, samples: dict[str, np.ndarray], events, boot: int = 1) -> None:
        self.board = board
        frames: list[tuple[float, bytes]] = []  # (board time in s when the frame is complete, bytes)
        hello = hello_text(board, boot).encode()
        self.hello = encode_frame(TYPE_HELLO, 0, 0, 0, hello)
        seq = 1
        emg_fs = board.emg.fs_hz
        per_stream = []
        for name, data in samples.items():
            cfg = board.streams[name]
            spf = cfg.samples_per_frame or MAX_PAYLOAD // (2 * len(cfg.channels))
            ftype = TYPE_EMG if name == "emg" else TYPE_IMU
            for i in range(0, data.shape[1] - spf + 1, spf):
                t_done = (i + spf) / cfg.fs_hz
                per_stream.append((t_done, ftype, i, cfg, data[:, i : i + spf]))
        for ev in events:
            payload = f"event={ev.label};duration_s={ev.duration_s:.3f}".encode()
            per_stream.append((ev.onset_s, TYPE_STATUS, int(round(ev.onset_s * emg_fs)), None, payload))
        duration_s = samples["emg"].shape[1] / emg_fs
        for k in range(1, int(duration_s // HELLO_EVERY_S) + 1):
            t = k * HELLO_EVERY_S
            per_stream.append((t, TYPE_HELLO, int(round(t * emg_fs)), None, hello))
        per_stream.sort(key=lambda x: (x[0], x[1]))
        for t_done, ftype, index, cfg, payload in per_stream:
            t_us = int(index / (cfg.fs_hz if cfg else emg_fs) * 1e6)
            if cfg is None:
                frame = encode_frame(ftype, seq, index, t_us, payload)
            else:
                frame = encode_frame(ftype, seq, index, t_us, payload, layout_id=cfg.layout_id)
            frames.append((t_done, frame))
            seq += 1
        self.frames = frames


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
    i = 0
    frames = sim.frames
    while i < len(frames):
        now = (time.monotonic() - t0) * speed
        out = []
        while i < len(frames) and frames[i][0] <= now:
            out.append(faults.apply(frames[i][1]))
            i += 1
        if out:
            data = b"".join(out)
            while data:
                try:
                    n = os.write(fd, data)
                except BlockingIOError:
                    if not host_alive():
                        return
                    select.select([], [fd], [], 0.05)
                    continue
                except OSError:
                    return  # the host went away
                data = data[n:]
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="reengage-simboard", description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="simulated")
    ap.add_argument("--duration", type=float, default=600.0, help="seconds of session to simulate")
    ap.add_argument("--speed", type=float, default=1.0, help="board clock / wall clock")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sim", action="append", default=[], metavar="KEY=VALUE", help="override [simulator]")
    args = ap.parse_args(argv)
    board = load_board(args.board)
    overrides = dict(kv.split("=", 1) for kv in args.sim)
    faults = Faults(**{k: int(overrides.pop(k)) for k in FAULT_KEYS if k in overrides})
    profile = profile_from_board(board, overrides)
    samples, session = board_samples(board, profile, args.duration + 1.0, args.seed)
    sim = SimulatedBoard(board, samples, session.events)
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
