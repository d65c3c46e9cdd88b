"""The sketches' board logic through the project's BLE path into a recording.

The host build of ``reengage_board.h`` (``host/board_host.c``, one process per board) runs as the firmware
of a :class:`~reengage.acquisition.bumble_backend.SimulatedBlePeripheral`: its clock follows the wall
clock (1 ms steps, in bursts), the central's control writes (WHORU, START from the real
:class:`~reengage.acquisition.ble_transport.BleTransport`) go to its command handler, and each frame it
emits is one notification on the virtual radio. The recording the real recorder writes must hold exactly
the fake sensors' patterns, and the HELLO must pass the recorder's check against the board's TOML.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "host"))
import fwhost  # noqa: E402

from reengage.acquisition.ble_transport import (  # noqa: E402
    DEFAULT_CONTROL, DEFAULT_DATA, DEFAULT_SERVICE, BleTransport)
from reengage.acquisition.boards import load_board  # noqa: E402
from reengage.acquisition.bumble_backend import (  # noqa: E402
    BumbleClient, SimulatedBlePeripheral, VirtualRadio, bumble_scan)
from reengage.acquisition.pipeline import decoder_for_board  # noqa: E402
from reengage.acquisition.protocol import TYPE_EMG, TYPE_IMU, FrameDecoder  # noqa: E402
from reengage.acquisition.recorder import Acquisition, Recorder  # noqa: E402
from reengage.io.recfile import read_recording  # noqa: E402

pytestmark = pytest.mark.skipif(not fwhost.have_gcc(), reason="needs gcc")

ADDR = "C4:5E:E0:00:00:15"


class HostFirmwarePeripheral:
    """A bumble peripheral whose firmware is the host build of a sketch's logic (runs on the BLE loop)."""

    def __init__(self, exe: Path, name: str, queued: bool) -> None:
        self.board = fwhost.LiveBoard(exe, imu_ok=1, boot=4242, queue=int(queued))
        self.name, self.queued = name, queued
        self.sent: list[bytes] = []
        self.controls: list[str] = []
        self.task = None

    async def setup(self) -> None:
        self.p = SimulatedBlePeripheral(VirtualRadio.get(), ADDR, self.name, DEFAULT_SERVICE, DEFAULT_DATA,
                                        DEFAULT_CONTROL)
        self.p.on_control = self.controls.append
        await self.p.start()
        self.task = asyncio.get_running_loop().create_task(self.run())

    def _lines(self, ms0: int, ms1: int) -> list[str]:
        """The firmware's work for board time [ms0, ms1): the Nano's loop() several times per sample; the
        ESP32's sampler every 1 ms and its loop() every 2 ms."""
        out = []
        for ms in range(ms0, ms1):
            if self.queued:
                out.append(f"s {ms * 1000}")
                out += [f"l {ms * 1000 + 500}"] if ms % 2 else []
            else:
                out += [f"n {ms * 1000}", f"n {ms * 1000 + 500}"]
        return out

    async def run(self) -> None:
        t0, done_ms, linked = time.monotonic(), 0, False
        while True:
            await asyncio.sleep(0.003)
            lines = []
            if self.p.subscribed != linked:
                linked = self.p.subscribed
                lines.append(f"k {int(linked)}")
            while self.controls:
                lines.append(fwhost.cmd(self.controls.pop(0)))
            now_ms = int((time.monotonic() - t0) * 1000)
            lines += self._lines(done_ms, now_ms)
            done_ms = max(done_ms, now_ms)
            for _t, payload in self.board.send(lines):
                if await self.p.notify(payload):
                    self.sent.append(payload)


def _first_index(sent: list[bytes], ftype: int) -> int:
    dec = FrameDecoder()
    return next(f.sample_index for p in sent for f in dec.feed(p) if f.type == ftype)


@pytest.mark.parametrize("sketch,name", [("nano33ble_myoware", "reengage-nano33"), ("esp32_myoware", "reengage-esp32")])
def test_sketch_logic_records_exactly_over_ble(tmp_path, sketch, name):
    exe = fwhost.build(sketch, tmp_path)
    fw = HostFirmwarePeripheral(exe, name, queued=sketch == "esp32_myoware")
    board_cfg = load_board(sketch)
    t = BleTransport(name, backend=BumbleClient, scan=bumble_scan, setup=fw.setup, scan_timeout_s=0.3)
    hellos: list[dict] = []
    try:
        t.open()
        dec = decoder_for_board(board_cfg)
        rec = Recorder.for_decoder(tmp_path / "fw.rgr", dec, {"subject": "fw"})
        acq = Acquisition(dec, t, [rec], duration_s=1.5, reconnect_timeout_s=10, on_hello=hellos.append)
        try:
            acq.run()  # a HELLO that disagrees with the TOML would stop it with a DeviceError
        finally:
            t.close()
            rec.close(acq.stats())
    finally:
        t.shutdown()
        fw.board.close()
    assert fw.p.control_lines[:2] == ["WHORU", "START"]  # the STOP at close may still be on its way
    assert hellos and hellos[0]["board"] == sketch and hellos[0]["boot"] == "4242"
    r = read_recording(tmp_path / "fw.rgr")
    assert r.gaps == [] and r.emg.n_samples == 1500
    origin = _first_index(fw.sent, TYPE_EMG)  # the board streamed (unsent) from its boot, before the link
    assert origin > 0
    np.testing.assert_array_equal(r.emg.data, fwhost.emg_pattern(origin + np.arange(1500)))
    if "imu" in board_cfg.streams:
        imu = r.imu
        k = _first_index(fw.sent, TYPE_IMU) + np.arange(imu.n_samples)
        assert imu.n_samples >= 100
        np.testing.assert_array_equal(imu.data, fwhost.imu_pattern(k))
        acc, gyr = fwhost.imu_physical(k)
        phys = imu.physical()  # through the TOML's scale: g and deg/s again, within half an LSB or saturated
        assert np.all((np.abs(phys[:3] - acc) <= 0.5 / 8192 + 1e-9) | (np.abs(acc) > 3.99))
        assert np.all((np.abs(phys[3:] - gyr) <= 0.5 / 16.384 + 1e-9) | (np.abs(gyr) > 1999))
    else:
        assert r.imu is None
