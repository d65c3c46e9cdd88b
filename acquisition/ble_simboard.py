"""The simulated board as a BLE board: ``reengage record --board simulated --ble NAME``.

The same simulated person and board as the serial simulator (:mod:`reengage.acquisition.simboard`: the same
frames for the same seed, its HELLO, its ``--sim-speed``), served the way the Nano 33 BLE sketch serves its
frames: a bumble GATT peripheral advertising as NAME on the in-process virtual radio
(:mod:`reengage.acquisition.bumble_backend`), one frame per notification, one SEQ counter over every frame it
makes, HELLO on ``WHORU`` and ``START``, a STATUS on ``STOP``. A frame due while no central is subscribed is
lost and the board keeps counting, as the sketch does. The host side is the production path unchanged:
``BleTransport`` (scan for NAME, connect, subscribe, reconnect) with ``bleak.BleakClient`` on the bumble backend.
"""

from __future__ import annotations

import asyncio
import struct
import time

from reengage.acquisition.ble_transport import DEFAULT_CONTROL, DEFAULT_DATA, DEFAULT_SERVICE, BleTransport
from reengage.acquisition.boards import BoardConfig
from reengage.acquisition.bumble_backend import BumbleClient, SimulatedBlePeripheral, VirtualRadio, bumble_scan
from reengage.acquisition.protocol import TYPE_STATUS, crc16, encode_frame
from reengage.acquisition.simboard import FAULT_KEYS, Faults, SimulatedBoard, profile_from_board, session_pieces

ADDRESS = "C4:5E:E0:51:4D:01"
DEFAULT_NAME = "reengage-sim"  # advertised when --ble "" asks for the first board with the service
LINK_DROP_KEY = "link_drop_at_s"  # --sim link_drop_at_s=T: the board walks out of range at board time T


def with_seq(frame: bytes, seq: int) -> bytes:
    """``frame`` renumbered: the sketch numbers a frame when it sends it, over every frame type."""
    body = bytearray(frame[:-2])
    struct.pack_into("<H", body, 4, seq & 0xFFFF)
    return bytes(body) + struct.pack("<H", crc16(bytes(body[2:])))


class SimulatedBleBoard:
    """The simulated board's session served on the virtual radio of the event loop :meth:`setup` runs on."""

    def __init__(self, board: BoardConfig, name: str, *, duration_s: float | None, speed: float, seed: int,
                 overrides: dict | None = None) -> None:
        overrides = dict(overrides or {})
        self.faults = Faults(**{k: int(overrides.pop(k)) for k in FAULT_KEYS if k in overrides})
        drop = overrides.pop(LINK_DROP_KEY, None)
        self.link_drop_at_s = float(drop) if drop is not None else None
        pieces = session_pieces(board, profile_from_board(board, overrides), (duration_s or 3600.0) + 3.0, seed)
        self.sim = SimulatedBoard(board, pieces)
        self.name = name or DEFAULT_NAME
        self.speed = speed
        self.seq = 0
        self.sent = self.lost = 0
        self._control: asyncio.Queue[str] | None = None
        self.peripheral: SimulatedBlePeripheral | None = None
        self._task: asyncio.Task | None = None

    async def setup(self) -> None:
        """Power the peripheral, advertise, and run the board (on the BLE transport's loop)."""
        self._control = asyncio.Queue()
        p = SimulatedBlePeripheral(VirtualRadio.get(), ADDRESS, self.name, DEFAULT_SERVICE, DEFAULT_DATA,
                                   DEFAULT_CONTROL)
        p.on_control = self._control.put_nowait
        await p.start()
        self.peripheral = p
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _send(self, frame: bytes) -> None:
        data = self.faults.apply(with_seq(frame, self.seq))
        self.seq += 1
        try:
            delivered = bool(data) and await self.peripheral.notify(data)
        except Exception:  # the link went down under the notification: lost, as writeValue loses it
            delivered = False
        if delivered:
            self.sent += 1
        else:
            self.lost += 1

    async def _command(self, line: str, started: bool) -> tuple[bool, bool]:
        """One control line → (started, streaming), answered as the sketch answers it (PROTOCOL.md §4)."""
        cmd = line.strip().upper()
        if cmd == "WHORU":
            await self._send(self.sim.hello)
            return started, started
        if cmd == "START":
            await self._send(self.sim.hello)
            return True, True
        if cmd == "STOP":
            await self._send(encode_frame(TYPE_STATUS, 0, 0, 0, b"state=stopped"))
            return started, False
        await self._send(encode_frame(TYPE_STATUS, 0, 0, 0, b"error=unknown_command"))
        return started, started

    async def _run(self) -> None:
        """The board's loop: commands, then every frame due by the board clock (from the first START)."""
        started = streaming = False
        frames = self.sim.frames()
        pending = next(frames, None)
        t0 = 0.0
        while True:
            while not self._control.empty():
                was = started
                started, streaming = await self._command(self._control.get_nowait(), started)
                if started and not was:
                    t0 = time.monotonic()
            if not started:
                await asyncio.sleep(0.005)
                continue
            now = (time.monotonic() - t0) * self.speed
            if self.link_drop_at_s is not None and now >= self.link_drop_at_s:
                self.link_drop_at_s = None
                await self.peripheral.drop_link()
            while pending is not None and pending[0] <= now:
                if streaming:
                    await self._send(pending[1])
                else:
                    self.seq += 1  # stopped: the frame is not sent, but it was counted
                pending = next(frames, None)
            await asyncio.sleep(0.002)


def simulated_ble_transport(board: BoardConfig, name: str, *, duration_s: float | None, speed: float, seed: int,
                            overrides: dict | None = None) -> BleTransport:
    """The production :class:`BleTransport` looking for ``name`` on the virtual radio, where a
    :class:`SimulatedBleBoard` advertises as ``name`` (or :data:`DEFAULT_NAME` for ``""``)."""
    sim = SimulatedBleBoard(board, name, duration_s=duration_s, speed=speed, seed=seed, overrides=overrides)
    return BleTransport(name, backend=BumbleClient, scan=bumble_scan, setup=sim.setup, scan_timeout_s=0.5)
