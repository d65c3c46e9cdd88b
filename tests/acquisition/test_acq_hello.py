"""HELLO verification: what the board says it is, checked against the board file; kept in the recording."""

from __future__ import annotations

import re

import subprocess
import sys
from pathlib import Path

import pytest

from reengage.acquisition.boards import board_paths, load_board
from reengage.acquisition.pipeline import decoder_for_board
from reengage.acquisition.protocol import parse_hello
from reengage.acquisition.recorder import Acquisition, Recorder, check_hello
from reengage.acquisition.serial_transport import SerialTransport
from reengage.acquisition.simboard import hello_text
from reengage.errors import DeviceError
from reengage.io.recfile import read_recording

V1_BOARDS = [p.stem for p in board_paths() if load_board(p).protocol == "reengage-v1"]


@pytest.mark.parametrize("name", V1_BOARDS)
def test_each_board_accepts_its_own_hello_and_the_sketch_agrees(name):
    board = load_board(name)
    assert check_hello(parse_hello(hello_text(board)), board) == ([], [])
    if board.sketch:  # the sketch's HELLO names this board file and its ADC
        sketch = Path(board.path).parent / board.sketch
        config = sketch.parent / "board_config.h"
        if config.exists():  # the HELLO is built by reengage_board.h from this table (run in tests/firmware)
            text = config.read_text()
            assert f'"{board.name}", /* board */' in text
            assert re.search(rf"^\s*{board.adc_bits},\s*/\* adc_bits", text, re.M)
        else:
            ino = sketch.read_text()
            assert f"board={board.name};" in ino and f"adc={board.adc_bits};" in ino


def test_mismatches_are_fatal_and_a_rename_is_a_note():
    uno, esp = load_board("uno_myoware"), load_board("esp32_myoware")
    fatal, _ = check_hello(parse_hello(hello_text(esp)), uno)
    assert "emg has 4 channels, the board file 2" in fatal
    assert "ADC is 12-bit, the board file says 10-bit" in fatal
    assert "ADC reference is 3300 mV, the board file says 5000 mV" in fatal
    slow = parse_hello(hello_text(uno).replace("emg=0,2,1000", "emg=0,2,500"))
    assert check_hello(slow, uno)[0] == ["emg runs at 500 Hz, the board file says 1000 Hz"]
    renamed = parse_hello(hello_text(uno).replace("board=uno_myoware", "board=my_uno"))
    fatal, notes = check_hello(renamed, uno)
    assert fatal == [] and notes == ["says it is my_uno but --board uno_myoware was given; the layouts agree, recording"]
    nano = load_board("nano33ble_myoware")
    sketch = "proto=1;board=nano33ble_myoware;fw=1.0.0;boot=7;emg=0,4,1000;imu=1,6,100;adc=12;vref_mv=3300;spf=28"
    assert check_hello(parse_hello(sketch), nano) == ([], [])  # the sketch's whole-Hz IMU rate is fine
    no_imu = parse_hello(";".join(kv for kv in hello_text(nano).split(";") if not kv.startswith("imu=")))
    assert check_hello(no_imu, nano) == ([], ["its HELLO announces no imu stream although the board file has one"])


def _simboard(name: str, duration_s: float = 4.0, speed: float = 2.0):
    proc = subprocess.Popen(
        [sys.executable, "-m", "reengage.acquisition.simboard", "--board", name, "--duration", str(duration_s),
         "--speed", str(speed)], stdout=subprocess.PIPE, text=True,
    )
    port = proc.stdout.readline().strip()
    assert port.startswith("/dev/"), port
    return proc, port


def test_wrong_board_through_a_pty_fails_before_any_sample(tmp_path):
    """The simulated board sends HELLO on START like the sketches; an Uno sketch read as an ESP32 stops."""
    proc, port = _simboard("uno_myoware")
    board = load_board("esp32_myoware")
    transport = SerialTransport(port, 500000)
    transport.open()
    dec = decoder_for_board(board)
    rec = Recorder.for_decoder(tmp_path / "r.rgr", dec, {})
    acq = Acquisition(dec, transport, [rec], duration_s=2.0)
    try:
        with pytest.raises(DeviceError) as ei:
            acq.run()
    finally:
        acq.transport.close()
        rec.close(acq.stats())
        proc.terminate()
        proc.wait(5)
    msg = str(ei.value)
    assert msg.startswith(f"board on {port} says it is uno_myoware but --board esp32_myoware was given: ")
    assert "emg has 2 channels, the board file 4" in msg and "\n" not in msg
    assert acq.decoder.stats.samples["emg"] == 0
    assert acq.stats()["hello"]["board"] == "uno_myoware"


def _record(*args):
    return subprocess.run([sys.executable, "-m", "reengage.cli", "record", *args], capture_output=True, text=True,
                          timeout=60)


def test_cli_renamed_board_file_warns_records_and_keeps_the_hello(tmp_path):
    proc, port = _simboard("uno_myoware")
    mine = tmp_path / "my_uno.toml"
    mine.write_text(Path(load_board("uno_myoware").path).read_text().replace('name = "uno_myoware"', 'name = "my_uno"'))
    try:
        r = _record("--board", str(mine), "--port", port, "--duration", "1.5", "--out", str(tmp_path))
    finally:
        proc.terminate()
        proc.wait(5)
    assert r.returncode == 0, r.stderr
    assert f"board on {port}: says it is uno_myoware but --board my_uno was given" in " ".join(r.stderr.split())
    hello = read_recording(r.stdout.strip()).meta["acquisition"]["hello"]
    assert hello["board"] == "uno_myoware" and hello["streams"] == {"emg": [0, 2, 1000.0]}
    assert hello["adc_bits"] == 10 and hello["vref_mv"] == 5000 and hello["fw"] == "sim-1.0.0"


def test_cli_mismatch_is_one_line(tmp_path):
    proc, port = _simboard("uno_myoware")
    twelve = tmp_path / "twelve.toml"
    twelve.write_text(Path(load_board("uno_myoware").path).read_text().replace("bits = 10", "bits = 12"))
    try:
        r = _record("--board", str(twelve), "--port", port, "--duration", "1.5", "--out", str(tmp_path))
    finally:
        proc.terminate()
        proc.wait(5)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == (
        f"reengage: error: board on {port} does not match its board file {twelve}: "
        "ADC is 10-bit, the board file says 12-bit"
    )
    assert "Traceback" not in r.stderr
    assert not list(tmp_path.rglob("*.rgr"))  # refused at the handshake: no empty recording left behind
