"""Unplug and re-plug through a real pseudo-terminal: nothing received is lost, the gap is recorded.

The board is a thread writing wire-protocol-v1 frames (built by the Python encoder the C header is
checked against) into a pty master at 1 kHz. "Unplug" closes the master, which makes the host's next
read fail exactly as a USB unplug does on Linux; "re-plug" makes a new pty and points the same symlink
at it (what a ``/dev/serial/by-id`` link does for a real board).
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import struct
import termios
import threading
import time
import tty

import numpy as np
import pytest

from reengage.acquisition.boards import load_board
from reengage.acquisition.pipeline import decoder_for_board
from reengage.acquisition.protocol import TYPE_EMG, TYPE_HELLO, encode_frame
from reengage.acquisition.recorder import Acquisition, Recorder
from reengage.acquisition.serial_transport import SerialTransport, open_serial
from reengage.errors import DeviceError
from reengage.io.recfile import read_recording

FS = 1000
SPF = 8


def _value(i: np.ndarray, c: int) -> np.ndarray:
    return ((i * (7 + c * 5)) % 1024).astype(np.int16)


class PtyBoard(threading.Thread):
    """An Uno-like board behind a pty at ``link``; unplugged for ``outage_s`` after ``before_s``."""

    def __init__(self, link: str, before_s: float, outage_s: float, restart: bool) -> None:
        super().__init__(daemon=True)
        self.link, self.before_s, self.outage_s, self.restart = link, before_s, outage_s, restart
        self.sent: list[tuple[int, int]] = []  # (board index of first sample, n) actually written
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def _plug(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        tmp = self.link + ".new"
        os.symlink(os.ttyname(self.slave), tmp)
        os.replace(tmp, self.link)

    def _unplug(self) -> None:
        # Let the host drain what was written, so "sent" means "was on the wire when the cable went".
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            pending = struct.unpack("i", fcntl.ioctl(self.slave, termios.FIONREAD, b"\0\0\0\0"))[0]
            if pending == 0:
                break
            time.sleep(0.002)
        os.unlink(self.link)
        os.close(self.master)
        os.close(self.slave)

    def _wait_start(self) -> None:
        buf = b""
        while b"START\n" not in buf and not self.stop.is_set():
            r, _, _ = select.select([self.master], [], [], 0.05)
            if r:
                buf += os.read(self.master, 64)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.master, view)
            except OSError as e:
                if e.errno == errno.EAGAIN:
                    time.sleep(0.001)
                    continue
                raise
            view = view[n:]

    def run(self) -> None:
        try:
            self._run()
        except BaseException as e:  # surfaced by the test
            self.error = e

    def _run(self) -> None:
        self._plug()
        self._wait_start()
        seq = 0
        base = 0  # the board's index origin (a restart sets it back to 0 at the then-current time)
        hello = b"proto=1;board=uno_myoware;fw=test;boot=1;emg=0,2,1000"
        self._write(encode_frame(TYPE_HELLO, seq, 0, 0, hello))
        seq += 1
        t0 = time.monotonic()
        k = 0  # frames generated since t0 (board time)
        unplug_at, replug_at = self.before_s, self.before_s + self.outage_s
        state = "up"
        while not self.stop.is_set():
            due = t0 + k * SPF / FS
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            elapsed = k * SPF / FS
            if state == "up" and elapsed >= unplug_at and replug_at > unplug_at:
                self._unplug()
                state = "down"
            if state == "down" and elapsed >= replug_at:
                self._plug()
                self._wait_start()
                state = "up2"
                if self.restart:  # the board lost power with the cable: counters begin again
                    base = k * SPF
                    seq = 0
                    self._write(encode_frame(TYPE_HELLO, seq, 0, 0, hello.replace(b"boot=1", b"boot=2")))
                    seq += 1
                # the board kept time while unplugged: catch up on the schedule, nothing was sent
                k = int((time.monotonic() - t0) * FS / SPF)
                continue
            idx = k * SPF - base
            if state != "down":
                i = np.arange(k * SPF, (k + 1) * SPF)
                data = np.stack([_value(i, 0), _value(i, 1)])
                self._write(encode_frame(TYPE_EMG, seq, idx, idx * 1000, data))
                self.sent.append((k * SPF, SPF))
            seq = (seq + 1) & 0xFFFF
            k += 1
        if state != "down":
            os.close(self.master)
            os.close(self.slave)


@pytest.mark.parametrize("restart", [False, True], ids=["board-kept-counting", "board-restarted"])
def test_unplug_replug_keeps_everything_and_records_the_gap(tmp_path, restart):
    link = str(tmp_path / "ttyBOARD")
    board_cfg = load_board("uno_myoware")
    board = PtyBoard(link, before_s=0.5, outage_s=0.4, restart=restart)
    board.start()
    while not os.path.islink(link):
        time.sleep(0.005)
    transport = SerialTransport(link, 500000)
    transport.open()
    out = tmp_path / "rec.rgr"
    dec = decoder_for_board(board_cfg)
    rec = Recorder.for_decoder(out, dec, {"subject": "test"})
    events = []
    acq = Acquisition(dec, transport, [rec], duration_s=1.4, reconnect_timeout_s=5.0,
                      on_disconnect=events.append, on_reconnect=lambda: events.append("back"))
    try:
        acq.run()
    finally:
        board.stop.set()
        acq.transport.close()
        rec.close(acq.stats())
        board.join(5)
    assert board.error is None, board.error
    assert acq.disconnects == 1 and events[-1] == "back"

    r = read_recording(out)
    emg = r.emg
    assert emg.n_samples == 1400 and emg.first_sample == 0, (emg.n_samples, emg.first_sample)
    assert len(r.gaps) == 1, r.gaps
    gap = r.gaps[0]
    # The board's own clock: which samples it generated and which it actually put on the wire.
    sent = np.concatenate([np.arange(a, a + n) for a, n in board.sent])
    breaks = np.flatnonzero(np.diff(sent) != 1)
    assert len(breaks) == 1  # one run before the unplug, one after the re-plug
    a = int(sent[breaks[0]]) + 1  # first sample generated while unplugged
    b = int(sent[breaks[0] + 1])  # first sample sent after the re-plug
    assert sent[0] == 0 and 500 <= a < 520, a
    lost_true = b - a
    if restart:
        # the host clock's estimate errs by the host's read latency at both ends of the outage: tens of ms on a
        # loaded 2-core CI machine (40 was exceeded once there), against a 400 ms outage
        assert abs(gap.samples_lost - lost_true) <= 100, (gap.samples_lost, lost_true)
        assert "estimated" in gap.reason
    else:
        assert gap.samples_lost == lost_true and "disconnected" in gap.reason
    assert abs(gap.onset_s - a / FS) < 1e-9
    # Every sample received sits at its place, bit-exact: 0..a-1 before, the rest after the gap.
    np.testing.assert_array_equal(emg.data[0, :a], _value(np.arange(a), 0))
    shift = gap.samples_lost - lost_true  # 0 unless the board restarted (host-clock estimate)
    start = a + gap.samples_lost
    board_idx = np.arange(start, emg.n_samples) - shift
    np.testing.assert_array_equal(emg.data[0, start:], _value(board_idx, 0))
    np.testing.assert_array_equal(emg.data[1, start:], _value(board_idx, 1))
    stats = r.meta["acquisition"]
    assert stats["disconnects"] == 1 and stats["samples_lost"] == gap.samples_lost
    # the pty board paces with time.sleep and the host stamps blocks when it reads them: under load a 1.4 s
    # recording's rate estimate moves by a few %, a wrong clock model by far more
    assert abs(stats["clock"]["rate_error_ppm"]) < 50000, stats["clock"]


def test_absent_busy_and_forbidden_ports_are_one_line_errors(tmp_path):
    with pytest.raises(DeviceError, match=r"no such serial port .*reengage boards"):
        open_serial(str(tmp_path / "ttyNOPE"))
    with pytest.raises(DeviceError, match=r"no port matches"):
        open_serial(str(tmp_path / "ttyUSB*"))
    master, slave = os.openpty()
    try:
        path = os.ttyname(slave)
        first = open_serial(path)
        with pytest.raises(DeviceError, match="busy"):
            open_serial(path)
        first.close()
        if os.geteuid() != 0:
            os.chmod(path, 0o000)
            forbidden = path
        else:  # root ignores file modes; sysfs still refuses to open this read-only file for writing
            forbidden = "/sys/kernel/notes"
        if os.path.exists(forbidden):
            with pytest.raises(DeviceError, match=r"permission denied.*dialout"):
                open_serial(forbidden)
    finally:
        os.close(master)
        os.close(slave)
    with pytest.raises(DeviceError, match="not a serial port"):
        open_serial("/proc/version")


def test_port_glob_finds_the_replugged_board(tmp_path):
    master, slave = os.openpty()
    try:
        os.symlink(os.ttyname(slave), tmp_path / "ttyACM1")
        ser = open_serial(str(tmp_path / "ttyACM*"))
        os.write(master, b"x")
        assert ser.read(1) == b"x"
        ser.close()
    finally:
        os.close(master)
        os.close(slave)
