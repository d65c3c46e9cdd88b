"""`reengage record --board plotter` end to end: a Serial Plotter sketch behind a real pty."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import tty

import numpy as np

from reengage.io.recfile import read_recording

CLI = [sys.executable, "-c", "from reengage.cli import main; main()"]


def _sketch(master: int, stop: threading.Event, fs: float) -> None:
    """Prints like `Serial.print(a); Serial.print(','); Serial.println(b);` at fs lines/s."""
    os.write(master, b"MyoWare plotter sketch\r\n")
    t0 = time.monotonic()
    i = 0
    while not stop.is_set():
        # one clock read: checking then sleeping on a second read raced under load (negative sleep → ValueError
        # killed this thread after 0.3 s, and the recorder rightly reported a silent board)
        time.sleep(max(0.0, t0 + i / fs - time.monotonic()))
        try:
            os.write(master, b"glute_max:%d,hamstrings:%d\r\n" % (i % 1024, (3 * i) % 1024))
        except OSError:
            return
        i += 1


def test_record_plotter_sketch(tmp_path):
    master, slave = os.openpty()
    tty.setraw(slave)
    stop = threading.Event()
    th = threading.Thread(target=_sketch, args=(master, stop, 500.0), daemon=True)
    th.start()
    try:
        r = subprocess.run(
            CLI + ["record", "--board", "plotter", "--port", os.ttyname(slave), "--fs", "500",
                   "--channels", "glute_max,hamstrings", "--duration", "3", "--out", str(tmp_path),
                   "--subject", "P9"],
            capture_output=True, text=True, timeout=60,
        )
    finally:
        stop.set()
        th.join(2)
        os.close(master)
        os.close(slave)
    assert r.returncode == 0, r.stderr
    rec = read_recording(r.stdout.strip())
    assert [c.name for c in rec.emg.channels] == ["glute_max", "hamstrings"]
    assert [c.role for c in rec.emg.channels] == ["glute_max", "hamstrings"]
    assert rec.fs_hz == 500.0 and rec.emg.n_samples == 1500, r.stderr  # the recorder's own account if not
    d = rec.emg.data
    # consecutive lines, whatever line the recording started on
    first = int(d[0, 0])
    k = np.arange(first, first + 1500)
    np.testing.assert_array_equal(d[0], k % 1024)
    np.testing.assert_array_equal(d[1], (3 * k) % 1024)
    acq = rec.meta["acquisition"]
    assert acq["decoder"]["rate_estimated"] is True
    assert abs(acq["decoder"]["estimated_fs_hz"] - 500) < 50


def test_plotter_needs_fs_and_channels(tmp_path):
    master, slave = os.openpty()
    try:
        for args, word in ((["--channels", "a"], "--fs"), (["--fs", "100"], "--channels"),
                           (["--fs", "100", "--channels", "a,a"], "distinct")):
            r = subprocess.run(CLI + ["record", "--board", "plotter", "--port", os.ttyname(slave),
                                      "--out", str(tmp_path)] + args, capture_output=True, text=True, timeout=30)
            assert r.returncode == 2 and word in r.stderr
            assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    finally:
        os.close(master)
        os.close(slave)
