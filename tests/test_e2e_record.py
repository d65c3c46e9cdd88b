"""End to end through a real pseudo-terminal: simulated board process → `reengage record` → recording."""

import json
import os
import subprocess
import sys

import pytest

from reengage.io.recfile import read_recording

REENGAGE = [sys.executable, "-m", "reengage.cli"]


def run(*args, timeout=60):
    return subprocess.run([*REENGAGE, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_record_simulated_board_through_pty(tmp_path):
    r = run(
        "record", "--board", "simulated", "--duration", "6", "--subject", "P042",
        "--task", "prone_hip_extension", "--out", str(tmp_path), "--sim-speed", "3",
    )
    assert r.returncode == 0, r.stderr
    path = r.stdout.strip()
    assert path.endswith(".rgr") and "/P042/" in path
    assert "/dev/pts/" in r.stderr  # it really went through a pseudo-terminal
    info = json.loads(run("info", path, "--json").stdout)
    assert info["samples"] == 6000
    assert info["fs_hz"] == 1000.0
    assert info["integrity"] == "ok"
    assert [c["name"] for c in info["channels"]][:2] == ["glute_max", "hamstrings"]
    assert [c["kind"] for c in info["channels"]] == ["raw", "raw"] + ["imu"] * 6
    assert info["streams"]["imu"]["samples"] >= 590
    assert info["gaps"] == []
    assert info["events"][0]["label"] == "rest"
    assert info["meta"]["subject"] == "P042"
    assert info["meta"]["acquisition"]["decoder"]["dropped"] == 0


def test_record_refuses_unsafe_subject(tmp_path):
    r = run("record", "--board", "simulated", "--duration", "1", "--subject", "../etc", "--out", str(tmp_path))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "--subject" in r.stderr


def test_record_unknown_board_is_one_line(tmp_path):
    r = run("record", "--board", "no_such_board", "--duration", "1", "--out", str(tmp_path))
    assert r.returncode == 2
    assert "unknown board 'no_such_board'" in r.stderr and "simulated" in r.stderr
    assert "Traceback" not in r.stderr


def test_serial_port_absent_is_one_line(tmp_path):
    board = tmp_path / "b.toml"
    board.write_text(
        '[board]\nname="b"\n[transport]\nkind="serial"\nbaudrate=115200\n'
        '[streams.emg]\nfs_hz=1000.0\n[[streams.emg.channels]]\nname="glute_max"\nrole="glute_max"\n'
    )
    r = run("record", "--board", str(board), "--port", "/dev/ttyNOPE9", "--duration", "1", "--out", str(tmp_path))
    assert r.returncode == 2
    assert "/dev/ttyNOPE9" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def gap_mask(rec):
    """The EMG samples that lie in a recorded gap (filled, never received)."""
    import numpy as np

    emg = rec.emg
    lost = np.zeros(emg.n_samples, dtype=bool)
    for g in rec.gaps:
        if g.stream in ("emg", ""):
            a = int(round((g.onset_s - emg.t0_s) * emg.fs_hz))
            lost[max(a, 0):max(a + g.samples_lost, 0)] = True
    return lost


def test_line_faults_cost_only_the_damaged_frames(tmp_path):
    """Every 50th frame lost and every 37th corrupted on the wire: the recording holds every other sample,
    and each loss is a gap event with the exact number of samples lost, none silently."""
    r = run(
        "record", "--board", "simulated", "--duration", "5", "--out", str(tmp_path), "--sim-speed", "2.5",
        "--sim", "drop_every=50", "--sim", "corrupt_every=37", "--sim", "garbage_every=11",
    )
    assert r.returncode == 0, r.stderr
    info = json.loads(run("info", r.stdout.strip(), "--json").stdout)
    acq = info["meta"]["acquisition"]
    emg_gaps = [g for g in info["gaps"] if g["stream"] == "emg"]
    lost = sum(g["samples_lost"] for g in emg_gaps)
    assert lost > 0 and all(g["samples_lost"] % 8 == 0 for g in emg_gaps)  # whole 8-sample frames
    # The file spans the full 5 s of board time; the received samples are exactly span minus losses.
    assert info["samples"] == 5000
    # Every sample received up to the 5 s mark is in the file: the span minus the losses. The decoder may have
    # decoded a few frames more in the read that crossed the mark (trimmed from the file), never fewer.
    assert acq["samples"]["emg"] >= 5000 - lost
    rec = read_recording(r.stdout.strip())
    assert int((~gap_mask(rec)).sum()) == 5000 - lost
    assert acq["decoder"]["dropped_by_reason"].get("crc", 0) >= 1
    assert acq["samples_lost"] == sum(g["samples_lost"] for g in info["gaps"])


@pytest.mark.slow
def test_board_identity_survives_a_crash(tmp_path):
    """The board's HELLO (board, firmware, layout) is on disk as soon as it checks out, not only at a clean
    close: a recorder killed mid-session still says which board and firmware made the file."""
    import signal
    import time

    from reengage.io.recfile import read_recording

    proc = subprocess.Popen(
        [*REENGAGE, "record", "--board", "simulated", "--duration", "60", "--out", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        files = []
        while time.monotonic() < deadline:
            files = list(tmp_path.rglob("*.rgr"))
            if files and files[0].stat().st_size > 8000:  # > 1 s of samples flushed
                break
            time.sleep(0.1)
        assert files, "no recording appeared"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    rec = read_recording(files[0])
    assert rec.integrity == "recovered"
    assert rec.meta["hello"]["board"] == "simulated"
    assert rec.meta["hello"]["streams"]["emg"] == [0, 2, 1000]


def _simboard_child_of(parent: int) -> int | None:
    """The simulated board process started by ``parent``, from /proc (ps truncates long command lines)."""
    from pathlib import Path

    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
        if ppid == parent and b"reengage.acquisition.simboard" in cmd:
            return int(p.name)
    return None


@pytest.mark.slow
def test_simulated_board_does_not_outlive_a_killed_recorder(tmp_path):
    """kill -9 of `reengage record` must not leave the simulated board process running (it holds its own
    end of the pty, so it only notices through being reparented)."""
    import signal
    import time

    proc = subprocess.Popen(
        [*REENGAGE, "record", "--board", "simulated", "--duration", "60", "--out", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        child = None
        while time.monotonic() < deadline and child is None:
            child = _simboard_child_of(proc.pid)
            time.sleep(0.1)
        assert child is not None, "the simulated board process did not start"
        while time.monotonic() < deadline:  # kill it while it streams, not while it waits for START
            files = list(tmp_path.rglob("*.rgr"))
            if files and files[0].stat().st_size > 8000:
                break
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        try:  # reap it if it became our zombie (it is reparented to init, normally)
            os.waitpid(child, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.1)
    os.kill(child, 9)
    pytest.fail("the simulated board kept running 5 s after its recorder was killed")
