"""BLE driver through the real ``bleak.BleakClient`` on the project's bumble backend.

The peripheral is a bumble GATT server on an in-process virtual radio, sending one wire-protocol frame
per notification like the Nano 33 BLE / ESP32 sketches; the driver scans for it by service UUID,
connects, subscribes, and the recorder gets exact gaps when the link drops and comes back.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np

from reengage.acquisition.ble_transport import DEFAULT_CONTROL, DEFAULT_DATA, DEFAULT_SERVICE, BleTransport
from reengage.acquisition.boards import load_board
from reengage.acquisition.bumble_backend import BumbleClient, SimulatedBlePeripheral, VirtualRadio, bumble_scan
from reengage.acquisition.pipeline import decoder_for_board
from reengage.acquisition.protocol import TYPE_EMG, TYPE_IMU, encode_frame
from reengage.acquisition.recorder import Acquisition, Recorder
from reengage.io.recfile import read_recording

ADDR = "C4:5E:E0:00:00:01"
SPF = 28


def _emg(i: np.ndarray) -> np.ndarray:
    return np.stack([((i * (3 + c)) % 4096).astype(np.int16) for c in range(4)])


class BleBoard:
    """Runs on the transport's event loop: streams 4-ch EMG at 1 kHz (28 samples per notification) and
    IMU at ~100 Hz; ``drop_after_s`` walks out of range for ``outage_s`` while the board keeps counting."""

    def __init__(self, drop_after_s: float, outage_s: float) -> None:
        self.drop_after_s, self.outage_s = drop_after_s, outage_s
        self.sent: list[int] = []
        self.task = None

    async def setup(self) -> None:
        radio = VirtualRadio.get()
        self.p = SimulatedBlePeripheral(radio, ADDR, "reengage-nano33", DEFAULT_SERVICE, DEFAULT_DATA, DEFAULT_CONTROL)
        await self.p.start()
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def run(self) -> None:
        while not self.p.subscribed:
            await asyncio.sleep(0.005)
        t0 = time.monotonic()
        seq, k, dropped = 0, 0, False
        while True:
            due = t0 + k * SPF / 1000.0
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            if not dropped and k * SPF / 1000.0 >= self.drop_after_s:
                dropped = True
                await self.p.drop_link()
                await asyncio.sleep(self.outage_s)
                k = int((time.monotonic() - t0) * 1000.0 / SPF)  # it kept sampling meanwhile
                seq += k  # and numbering frames it could not send
                continue
            i = np.arange(k * SPF, (k + 1) * SPF)
            if await self.p.notify(encode_frame(TYPE_EMG, seq, k * SPF, k * SPF * 1000, _emg(i))):
                self.sent.append(k * SPF)
            seq += 1
            if k % 4 == 0:  # ~100 Hz IMU: 11 samples every 4 EMG frames (112 ms)
                j = (k // 4) * 11
                imu = np.tile(np.arange(j, j + 11, dtype=np.int16), (6, 1))
                await self.p.notify(encode_frame(TYPE_IMU, seq, j, k * SPF * 1000, imu, layout_id=1))
                seq += 1
            k += 1


def test_bleak_client_on_bumble_backend_basics():
    async def main():
        radio = VirtualRadio.get()
        p = SimulatedBlePeripheral(radio, ADDR, "reengage-x", DEFAULT_SERVICE, DEFAULT_DATA, DEFAULT_CONTROL)
        await p.start()
        found = await bumble_scan(0.3)
        assert [d.name for d in found] == ["reengage-x"] and DEFAULT_SERVICE in found[0].service_uuids
        from bleak import BleakClient

        lost = asyncio.Event()
        got = []
        async with BleakClient(ADDR, backend=BumbleClient, disconnected_callback=lambda c: lost.set()) as c:
            assert c.mtu_size == 247
            await c.start_notify(DEFAULT_DATA, lambda ch, d: got.append(bytes(d)))
            await c.write_gatt_char(DEFAULT_CONTROL, b"WHORU\n", response=True)
            for n in range(5):
                assert await p.notify(bytes([n]) * 244)  # a whole max-size frame per notification
            await asyncio.sleep(0.05)
            assert got == [bytes([n]) * 244 for n in range(5)] and p.control_lines == ["WHORU"]
            await p.drop_link()
            await asyncio.wait_for(lost.wait(), 2)
            assert not c.is_connected

    asyncio.run(main())


def test_ble_record_with_link_drop_and_reconnect(tmp_path):
    board_cfg = load_board("nano33ble_myoware")
    sim = BleBoard(drop_after_s=0.6, outage_s=0.3)
    t = BleTransport("", backend=BumbleClient, scan=bumble_scan, setup=sim.setup, scan_timeout_s=0.3)
    try:
        t.open()  # found by its service UUID
        assert t.address == ADDR
        dec = decoder_for_board(board_cfg)
        rec = Recorder.for_decoder(tmp_path / "ble.rgr", dec, {"subject": "ble"})
        acq = Acquisition(dec, t, [rec], duration_s=1.5, reconnect_timeout_s=10)
        try:
            acq.run()
        finally:
            t.close()
            rec.close(acq.stats())
        assert sim.p.control_lines[:2] == ["WHORU", "START"]
    finally:
        t.shutdown()
    r = read_recording(tmp_path / "ble.rgr")
    assert acq.disconnects == 1
    emg = r.emg
    assert emg.n_samples == 1500 and emg.data.shape[0] == 4
    sent = np.array(sim.sent)
    breaks = np.flatnonzero(np.diff(sent) != SPF)
    assert len(breaks) == 1
    a, b = int(sent[breaks[0]]) + SPF, int(sent[breaks[0] + 1])
    gaps = [g for g in r.gaps if g.stream == "emg"]
    assert len(gaps) == 1 and gaps[0].samples_lost == b - a and abs(gaps[0].onset_s - a / 1000) < 1e-9
    keep = np.r_[0:a, b:1500]
    np.testing.assert_array_equal(emg.data[:, keep], _emg(keep))
    imu = r.imu
    assert imu is not None and imu.n_samples > 50 and imu.data.shape[0] == 6
