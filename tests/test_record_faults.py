"""`reengage record` against faults of the board and of the disk, through a real pseudo-terminal and the real
command: a sample counter that jumps by 2³¹, a full disk or a file-size limit, an unwritable --out, a port
another program holds. Each ends in one line (or a warning) and, where a file exists, its path on stdout."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from reengage.acquisition.boards import load_board
from reengage.acquisition.protocol import TYPE_EMG, TYPE_HELLO, encode_frame
from reengage.acquisition.simboard import hello_text
from reengage.io.recfile import read_recording

from pty_peer import PtyPeer

REENGAGE = [sys.executable, "-m", "reengage.cli"]
SPF = 8  # the Uno's samples per frame at 1 kHz


def run(*args, timeout=90, preexec_fn=None):
    return subprocess.run([*REENGAGE, *args], capture_output=True, text=True, timeout=timeout,
                          preexec_fn=preexec_fn)


def uno_stream(frames: int, jump_at: int | None = None):
    """What an Uno running our sketch says: waits for START, a HELLO, then ``frames`` paced about real time;
    from frame ``jump_at`` on, its sample counter is off by 2³¹ (a firmware bug or undetected corruption)."""
    def talk(peer: PtyPeer) -> None:
        peer.wait_for(b"START")
        peer.write(encode_frame(TYPE_HELLO, 0, 0, 0, hello_text(load_board("uno_myoware")).encode()))
        for k in range(frames):
            if peer.stop.is_set():
                break
            index = k * SPF + (2**31 if jump_at is not None and k >= jump_at else 0)
            i = np.arange(k * SPF, (k + 1) * SPF)
            data = np.stack([(i * 7) % 1024, (i * 11) % 1024]).astype(np.int16)
            peer.write(encode_frame(TYPE_EMG, k + 1, index & 0xFFFFFFFF, k * SPF * 1000, data))
            if k % 25 == 24:
                time.sleep(0.2)  # about real time
    return talk


def test_a_counter_jump_of_2_31_keeps_every_sample_and_duration_is_honoured(tmp_path):
    """Before: "2147483648 samples lost", --duration ignored while the board streams, and a file that asks
    `info` for gigabytes. Now: a warning, every sample kept, the recording ends at --duration."""
    with PtyPeer(uno_stream(2500, jump_at=100)) as peer:  # 20 s of streaming, the counter off by 2³¹ from 0.8 s
        r = run("record", "--board", "uno_myoware", "--port", peer.port, "--duration", "3",
                "--out", str(tmp_path))
        assert not peer.stop.is_set()
    assert r.returncode == 0, r.stderr
    assert "counter jumped by +2147483648" in r.stderr and "samples kept" in r.stderr
    assert "0 samples lost" in r.stderr and "2147483648 samples lost" not in r.stderr
    rec = read_recording(Path(r.stdout.strip()))
    assert rec.integrity == "ok" and rec.gaps == []
    emg = rec.streams["emg"].data
    assert emg.shape[1] == 3000  # exactly --duration, every sample in order
    i = np.arange(3000)
    np.testing.assert_array_equal(emg[:, :3000], np.stack([(i * 7) % 1024, (i * 11) % 1024]))
    acq = rec.meta["acquisition"]
    assert acq["counter_faults"] == 1 and acq["samples_lost"] == 0
    info = run("info", r.stdout.strip())
    assert info.returncode == 0 and "3.00 s" in info.stdout and "1 counter fault" in info.stdout


def _recorded_through(tmp_path: Path, data: bytes) -> Path:
    """``data`` read from the line in one go, through the decoder and the recorder, closed with its STAT."""
    from reengage.acquisition.pipeline import decoder_for_board
    from reengage.acquisition.recorder import Acquisition, Recorder

    dec = decoder_for_board(load_board("uno_myoware"))
    rec = Recorder.for_decoder(tmp_path / "r.rgr", dec, {})

    class OneRead:
        reads = [data]

        def read(self) -> bytes:
            return self.reads.pop() if self.reads else b""

    acq = Acquisition(dec, OneRead(), [rec], duration_s=0.4)
    acq.run()
    rec.close(acq.stats())
    return rec.path


def test_garbage_skipped_on_the_line_shows_in_info(tmp_path):
    """It was only in the STAT JSON; `info` said "0 frames dropped" over a line full of noise."""
    board = load_board("uno_myoware")
    frames = [encode_frame(TYPE_EMG, k + 1, k * SPF, k * SPF * 1000, np.zeros((2, SPF), np.int16))
              for k in range(50)]
    damaged = bytearray(frames[10])
    damaged[20] ^= 0xFF  # CRC fails, and the SEQ gap it leaves is a dropped frame
    noise = np.random.default_rng(1).integers(0, 256, 300, dtype=np.uint8).tobytes().replace(b"\xa5", b"\x00")
    data = (encode_frame(TYPE_HELLO, 0, 0, 0, hello_text(board).encode()) + noise + b"".join(frames[:10])
            + bytes(damaged) + b"".join(frames[11:]))
    path = _recorded_through(tmp_path, data)
    r = run("info", str(path))
    assert r.returncode == 0, r.stderr
    link = [ln for ln in r.stdout.splitlines() if "link:" in ln]
    assert len(link) == 1, r.stdout
    assert "1 frames dropped" in link[0] and "bytes skipped on the line" in link[0], link[0]
    skipped = json.loads(run("info", str(path), "--json").stdout)["meta"]["acquisition"]["decoder"]
    assert skipped["bytes_skipped"] >= 300 and skipped["crc_errors"] == 1
    assert f"{skipped['bytes_skipped']} bytes skipped" in link[0] and "1 CRC" in link[0]


def _file_size_limit(limit: int):
    def apply() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # so a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_file_size_limit_mid_recording_is_one_line_exit_2_and_the_partial_file_printed(tmp_path):
    """Before: a traceback, exit 1, no path. The same path is taken by a full disk (ENOSPC)."""
    r = run("record", "--board", "simulated", "--duration", "60", "--sim-speed", "4", "--out", str(tmp_path),
            preexec_fn=_file_size_limit(24_000))
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("reengage: error:")]
    assert len(errors) == 1 and "file size limit reached (EFBIG)" in errors[0], r.stderr
    path = Path(r.stdout.strip())
    assert path.suffix == ".rgr" and str(path) in errors[0]
    assert path.stat().st_size <= 24_000
    rec = read_recording(path)
    assert 0 < rec.streams["emg"].data.shape[1] < 60_000


def test_out_that_is_a_file_is_one_line_exit_2_and_no_path(tmp_path):
    """Runs as root too (chmod does not bind root): an --out that is a file fails to create the folder."""
    out = tmp_path / "not_a_folder"
    out.write_text("x")
    r = run("record", "--board", "simulated", "--duration", "2", "--sim-speed", "4", "--out", str(out))
    assert r.returncode == 2, r.stderr
    assert r.stdout == "" and "Traceback" not in r.stderr
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith("reengage: error: not a folder (ENOTDIR)") and str(out) in line, r.stderr
    assert "give --out a folder" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder: chmod does not bind it")
def test_read_only_out_is_one_line_exit_2(tmp_path):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        r = run("record", "--board", "simulated", "--duration", "2", "--sim-speed", "4", "--out", str(out))
    finally:
        out.chmod(0o700)
    assert r.returncode == 2, r.stderr
    assert r.stdout == "" and "Traceback" not in r.stderr
    assert "permission denied (EACCES)" in r.stderr.strip().splitlines()[-1], r.stderr


def test_a_port_another_program_holds_is_one_line_exit_2(tmp_path):
    """pyserial's exclusive open takes a flock on the port; another process holding one is 'busy'."""
    master, slave = os.openpty()
    port = os.ttyname(slave)
    holder = os.open(port, os.O_RDWR | os.O_NOCTTY)
    fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as another program's exclusive open does
    try:
        r = run("record", "--board", "uno_myoware", "--port", port, "--duration", "2", "--out", str(tmp_path))
    finally:
        for fd in (holder, slave, master):
            os.close(fd)
    assert r.returncode == 2, r.stderr
    assert r.stdout == "" and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and port in lines[0] and "busy" in lines[0], r.stderr
    assert list(tmp_path.rglob("*.rgr")) == []


def test_a_full_disk_names_its_cause():
    """ENOSPC takes the EFBIG path above (a failed write in the recorder); only its words differ."""
    import errno

    from reengage.acquisition.recorder import storage_error

    e = storage_error(OSError(errno.ENOSPC, "No space left on device"), Path("/d/P1/x.rgr"), started=True)
    assert str(e).startswith("disk full (ENOSPC) while writing /d/P1/x.rgr")
    e = storage_error(OSError(errno.EROFS, "Read-only file system", "/d/P1"), Path("/d/P1/x.rgr"), started=False)
    assert str(e).startswith("read-only file system (EROFS): cannot create the recording under /d/P1")
