"""The simulated board over BLE: ``reengage record --board simulated --ble NAME`` end to end, and the bumble
peripheral's ``send_all`` (any iterable or async source of notification payloads)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from bleak import BleakClient

from reengage.acquisition.ble_transport import DEFAULT_CONTROL, DEFAULT_DATA, DEFAULT_SERVICE, BleTransport
from reengage.acquisition.boards import load_board
from reengage.acquisition.bumble_backend import BumbleClient, SimulatedBlePeripheral, VirtualRadio, bumble_scan
from reengage.acquisition.simboard import board_samples, profile_from_board
from reengage.catalog import Catalog
from reengage.errors import DeviceError
from reengage.io.recfile import read_recording

ADDR = "C4:5E:E0:00:00:07"


def test_send_all_takes_lists_and_async_sources_and_waits_for_a_subscriber():
    async def main():
        p = SimulatedBlePeripheral(VirtualRadio.get(), ADDR, "reengage-list", DEFAULT_SERVICE, DEFAULT_DATA,
                                   DEFAULT_CONTROL)
        await p.start()

        async def paced():
            for n in range(3):
                await asyncio.sleep(0.001)
                yield bytes([0xA0 + n]) * (1 + n)

        got: list[bytes] = []
        sender = asyncio.get_running_loop().create_task(p.send_all([b"one", b"two", b"\x00" * 244]))
        await asyncio.sleep(0.05)
        assert not sender.done()  # nothing goes out before a central subscribed
        async with BleakClient(ADDR, backend=BumbleClient) as c:
            await c.start_notify(DEFAULT_DATA, lambda ch, d: got.append(bytes(d)))
            assert await asyncio.wait_for(sender, 2) == 3
            assert await p.send_all(paced()) == 3
            await asyncio.sleep(0.05)
        assert got == [b"one", b"two", b"\x00" * 244, b"\xa0", b"\xa1\xa1", b"\xa2\xa2\xa2"]
        # Nobody connected now: the payloads are lost, as a sketch's writeValue loses them.
        assert await p.send_all([b"lost"], wait_subscribed=False) == 0

    asyncio.run(main())


def _record(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reengage.cli", "record", "--board", "simulated", *args,
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)


def _expected(duration_s: float, seed: int) -> dict:
    """The simulated board's own samples for the session (as ``simboard`` synthesises it for a record)."""
    board = load_board("simulated")
    samples, _ = board_samples(board, profile_from_board(board), duration_s + 3.0, seed)
    return samples


def test_cli_record_simulated_board_over_ble(tmp_path):
    """Scanned for by name, connected, subscribed: every sample of the simulated board, 0 lost, catalogued."""
    r = _record(tmp_path, "--ble", "reengage-cli", "--duration", "3", "--sim-speed", "4", "--sim-seed", "3",
                "--subject", "B001")
    assert r.returncode == 0, r.stderr
    assert "Task was destroyed" not in r.stderr and "Traceback" not in r.stderr, r.stderr  # a clean end
    assert "on BLE reengage-cli (simulated, virtual radio)" in r.stderr and "0 samples lost" in r.stderr
    rec = read_recording(r.stdout.strip())
    want = _expected(3.0, 3)
    assert rec.emg.first_sample == 0 and rec.emg.n_samples == 3000
    np.testing.assert_array_equal(rec.emg.data, want["emg"][:, :3000])
    imu = rec.streams["imu"]
    np.testing.assert_array_equal(imu.data, want["imu"][:, imu.first_sample : imu.first_sample + imu.n_samples])
    assert imu.n_samples >= 290 and not rec.gaps
    acq = rec.meta["acquisition"]
    assert acq["samples_lost"] == 0 and acq["disconnects"] == 0 and acq["decoder"]["dropped"] == 0
    assert acq["hello"]["board"] == "simulated" and acq["hello"]["streams"]["emg"] == [0, 2, 1000.0]
    assert abs(acq["clock"]["fs_hz"] / 1000.0 - 1.0) < 0.02  # board time, judged against --sim-speed
    assert rec.events and rec.events[0].label == "rest"  # the simulated person's protocol steps (STATUS frames)
    with Catalog(tmp_path, readonly=True) as cat:
        (s,) = cat.sessions("B001")
    assert s["path"] == str(Path(r.stdout.strip()).relative_to(tmp_path)) and s["analysis_id"] and not s["error"]


def test_cli_record_over_ble_link_drop_reconnects_with_the_exact_gap(tmp_path):
    """``--sim link_drop_at_s``: the board walks out of range and keeps counting; the production BLE path
    reconnects, and every sample kept is the board's own at its own index (the gap is exact)."""
    r = _record(tmp_path, "--ble", "reengage-drop", "--duration", "4", "--sim-speed", "4",
                "--sim", "link_drop_at_s=1.5")
    assert r.returncode == 0, r.stderr
    assert "board reconnected" in r.stderr
    rec = read_recording(r.stdout.strip())
    assert rec.meta["acquisition"]["disconnects"] == 1
    gaps = [g for g in rec.gaps if g.stream == "emg"]
    assert len(gaps) == 1 and gaps[0].samples_lost > 0 and 0.5 < gaps[0].onset_s <= 1.5
    a = int(round(gaps[0].onset_s * 1000))
    b = a + gaps[0].samples_lost
    keep = np.r_[0:a, b:4000]
    assert rec.emg.n_samples == 4000
    np.testing.assert_array_equal(rec.emg.data[:, keep], _expected(4.0, 0)["emg"][:, keep])
    assert rec.meta["acquisition"]["samples_lost"] == sum(g.samples_lost for g in rec.gaps)


def test_cli_simulated_ble_refuses_a_port_in_one_line(tmp_path):
    r = _record(tmp_path, "--ble", "x", "--port", "/dev/ttyACM0", "--duration", "1")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--port does not apply" in r.stderr, r.stderr


def test_name_not_found_says_which_names_were_seen():
    async def setup():
        p = SimulatedBlePeripheral(VirtualRadio.get(), "C4:5E:E0:00:00:08", "reengage-other", DEFAULT_SERVICE,
                                   DEFAULT_DATA, DEFAULT_CONTROL)
        await p.start()

    t = BleTransport("reengage-wanted", backend=BumbleClient, scan=bumble_scan, setup=setup, scan_timeout_s=0.3)
    try:
        with pytest.raises(DeviceError) as e:
            t.open()
    finally:
        t.shutdown()
    msg = str(e.value)
    assert "'reengage-wanted'" in msg and "reengage-other (C4:5E:E0:00:00:08)" in msg and "\n" not in msg


def test_record_session_in_process_leaves_no_ble_thread(tmp_path):
    """A caller in a long-lived process (the dashboard, a notebook) records over BLE twice: the transport's
    thread, event loop and virtual radio go with each session, also when the name is not found."""
    from rich.console import Console

    from reengage.acquisition.session import RecordOptions, record_session

    before = {t for t in threading.enumerate() if t.name == "reengage-ble"}
    path = record_session(RecordOptions(board="simulated", ble="reengage-inproc", duration_s=1.0, sim_speed=4.0,
                                        out_dir=tmp_path), Console(stderr=True, quiet=True))
    assert read_recording(path).emg.n_samples == 1000
    with pytest.raises(DeviceError):  # no Bluetooth stack on this machine (or no such board): one line, no thread
        record_session(RecordOptions(board="nano33ble_myoware", ble="reengage-nowhere", duration_s=1.0,
                                     out_dir=tmp_path), Console(stderr=True, quiet=True))
    assert {t for t in threading.enumerate() if t.name == "reengage-ble" and t.is_alive()} == before
