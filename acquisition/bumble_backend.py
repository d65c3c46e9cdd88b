"""A bleak backend on Google's bumble: a complete BLE stack on an in-process virtual radio.

This machine (and CI) has no Bluetooth radio, no BlueZ and no ``/dev/vhci``, but bumble runs real
controllers on a :class:`bumble.link.LocalLink`. :class:`BumbleClient` is a ``BaseBleakClient`` subclass,
passed as ``bleak.BleakClient(address, backend=BumbleClient)``, so the production BLE driver runs
unchanged (connect, service discovery, notifications, ``disconnected_callback``) against
:class:`SimulatedBlePeripheral`, a GATT peripheral that sends the firmware's frames. bleak publishes no
bumble backend (hbldh/bleak#1681 was closed), so reengage owns this one. Used by the tests and by
``reengage record --board simulated --ble NAME`` (:mod:`reengage.acquisition.ble_simboard`).
"""

from __future__ import annotations

import asyncio
import uuid as _uuid
from collections.abc import AsyncIterable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bumble.controller import Controller
from bumble.core import AdvertisingData, UUID
from bumble.device import Device, Peer
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink


class VirtualRadio:
    """One virtual radio link per event loop: a central (used by :class:`BumbleClient`) and peripherals."""

    _by_loop: dict[int, "VirtualRadio"] = {}

    def __init__(self) -> None:
        self.link = LocalLink()
        self._n = 0
        self.central = self._device("F0:F0:F0:F0:F0:F0")
        self._central_on = False
        self.peripherals: dict[str, "SimulatedBlePeripheral"] = {}

    @classmethod
    def get(cls) -> "VirtualRadio":
        loop = asyncio.get_running_loop()
        radio = cls._by_loop.get(id(loop))
        if radio is None or radio._loop is not loop:
            radio = cls()
            radio._loop = loop
            cls._by_loop[id(loop)] = radio
        return radio

    def _device(self, address: str) -> Device:
        self._n += 1
        ctrl = Controller(f"C{self._n}", link=self.link, public_address=address)
        return Device(address=Address(address), host=Host(ctrl, AsyncPipeSink(ctrl)))

    async def power_central(self) -> Device:
        if not self._central_on:
            await self.central.power_on()
            self._central_on = True
        return self.central

    async def scan(self, timeout_s: float = 1.0) -> list[dict]:
        """Advertisements heard in ``timeout_s``: address, name, service UUIDs (bleak's scanner shape)."""
        central = await self.power_central()
        seen: dict[str, dict] = {}

        def on_adv(adv) -> None:
            name = adv.data.get(AdvertisingData.COMPLETE_LOCAL_NAME)
            uuids = adv.data.get(AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS) or []
            seen[str(adv.address)] = {
                "address": str(adv.address).split("/")[0],
                "name": name if isinstance(name, str) else (name.decode() if name else None),
                "service_uuids": [uuid_str(u) for u in uuids],
            }

        central.on("advertisement", on_adv)
        await central.start_scanning(filter_duplicates=True)
        await asyncio.sleep(timeout_s)
        await central.stop_scanning()
        central.remove_listener("advertisement", on_adv)
        return list(seen.values())


class SimulatedBlePeripheral:
    """A reengage BLE board on the virtual radio: data characteristic (NOTIFY) and control (WRITE)."""

    def __init__(self, radio: VirtualRadio, address: str, name: str, service_uuid: str,
                 data_uuid: str, control_uuid: str) -> None:
        self.radio = radio
        self.address = address
        self.name = name
        self.device = radio._device(address)
        self.control_lines: list[str] = []
        self.on_control: Callable[[str], None] | None = None
        self.data_char = Characteristic(
            data_uuid, Characteristic.Properties.NOTIFY | Characteristic.Properties.READ,
            Characteristic.READABLE, b"",
        )
        self.control_char = Characteristic(
            control_uuid,
            Characteristic.Properties.WRITE | Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
            Characteristic.WRITEABLE, CharacteristicValue(write=self._on_write),
        )
        self.device.add_service(Service(service_uuid, [self.data_char, self.control_char]))
        self.device.advertising_data = bytes(AdvertisingData([
            (AdvertisingData.FLAGS, bytes([0x06])),
            (AdvertisingData.COMPLETE_LOCAL_NAME, name.encode()),
            (AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS, bytes(UUID(service_uuid).to_bytes())),
        ]))
        self.connection = None
        radio.peripherals[address.upper()] = self

    def _on_write(self, connection, value: bytes) -> None:
        for line in bytes(value).decode("ascii", "replace").splitlines():
            self.control_lines.append(line)
            if self.on_control:
                self.on_control(line)

    async def start(self) -> None:
        await self.device.power_on()
        self.device.on("connection", self._on_connection)
        await self.device.start_advertising(auto_restart=True, advertising_interval_min=20, advertising_interval_max=20)

    def _on_connection(self, connection) -> None:
        self.connection = connection
        connection.on("disconnection", lambda *_: setattr(self, "connection", None))

    @property
    def subscribed(self) -> bool:
        if self.connection is None:
            return False
        h = self.data_char.handle
        return any(cccd.get(h, b"\0\0") != b"\0\0" for cccd in self.device.gatt_server.subscribers.values())

    async def notify(self, frame: bytes) -> bool:
        """Send one notification; False if nobody is connected and subscribed (the frame is lost)."""
        if not self.subscribed:
            return False
        await self.device.notify_subscribers(self.data_char, frame)
        return True

    async def send_all(self, payloads: Iterable[bytes] | AsyncIterable[bytes], *,
                       wait_subscribed: bool = True) -> int:
        """Notify each payload in order, as a sketch hands its frames to the BLE stack; returns how many
        were delivered.

        ``payloads``: any iterable or async iterable of bytes (an async generator can pace them). With
        ``wait_subscribed`` nothing is taken from it before a central has subscribed; a payload due while
        nobody is subscribed (the link dropped) is lost, as the sketch's ``writeValue`` loses it."""
        while wait_subscribed and not self.subscribed:
            await asyncio.sleep(0.005)
        sent = 0
        if isinstance(payloads, AsyncIterable):
            async for payload in payloads:
                sent += await self.notify(payload)
        else:
            for payload in payloads:
                sent += await self.notify(payload)
        return sent

    async def drop_link(self) -> None:
        """The board walks out of range: the link goes down from the peripheral side."""
        if self.connection is not None:
            await self.connection.disconnect()


class BumbleClient(BaseBleakClient):
    """``bleak.BleakClient(address, backend=BumbleClient)`` on the :class:`VirtualRadio` of this loop."""

    def __init__(self, address_or_ble_device, **kwargs: Any) -> None:
        kwargs.setdefault("disconnected_callback", None)
        kwargs.setdefault("timeout", 10.0)
        super().__init__(address_or_ble_device, **kwargs)
        self._conn = None
        self._peer: Peer | None = None
        self._chars: dict[int, Any] = {}
        self._mtu = 23

    @property
    def name(self) -> str:
        p = VirtualRadio.get().peripherals.get(self.address.upper())
        return p.name if p else self.address

    @property
    def mtu_size(self) -> int:
        return self._mtu

    @property
    def is_connected(self) -> bool:
        return self._conn is not None

    async def connect(self, pair: bool = False, **kwargs: Any) -> None:
        radio = VirtualRadio.get()
        central = await radio.power_central()
        try:
            conn = await asyncio.wait_for(central.connect(Address(self.address)), self._timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"{self.address}: no connection within {self._timeout} s") from None
        self._conn = conn
        conn.on("disconnection", self._on_disconnection)
        peer = Peer(conn)
        self._mtu = await peer.request_mtu(247)
        await peer.discover_services()
        collection = BleakGATTServiceCollection()
        for s in peer.services:
            await s.discover_characteristics()
            bs = BleakGATTService(s, s.handle, uuid_str(s.uuid))
            collection.add_service(bs)
            for c in s.characteristics:
                props = [name.lower().replace("_", "-") for name in str(c.properties).split("|")]
                bc = BleakGATTCharacteristic(c, c.handle, uuid_str(c.uuid), props,
                                             lambda: self._mtu - 3, bs)
                collection.add_characteristic(bc)
                self._chars[c.handle] = c
        self.services = collection
        self._peer = peer

    def _on_disconnection(self, *_: Any) -> None:
        self._conn = None
        self._peer = None
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        if self._conn is not None:
            cb, self._disconnected_callback = self._disconnected_callback, None  # solicited: no callback
            try:
                await self._conn.disconnect()
            finally:
                self._disconnected_callback = cb
                self._conn = None

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("pairing is not used by reengage boards")

    async def unpair(self) -> None:
        raise NotImplementedError("pairing is not used by reengage boards")

    def _need_peer(self) -> Peer:
        if self._peer is None:
            raise ConnectionError(f"{self.address}: not connected")
        return self._peer

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, **kwargs: Any) -> bytearray:
        return bytearray(await self._need_peer().read_value(self._chars[characteristic.handle]))

    async def read_gatt_descriptor(self, descriptor: BleakGATTDescriptor, **kwargs: Any) -> bytearray:
        raise NotImplementedError

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data, response: bool) -> None:
        await self._need_peer().write_value(self._chars[characteristic.handle], bytes(data), with_response=response)

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data) -> None:
        raise NotImplementedError

    async def start_notify(self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback,
                           **kwargs: Any) -> None:
        await self._need_peer().subscribe(self._chars[characteristic.handle], lambda v: callback(bytearray(v)))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        if self._peer is not None:
            await self._peer.unsubscribe(self._chars[characteristic.handle])


@dataclass
class BleDeviceInfo:
    address: str
    name: str | None
    service_uuids: list[str]


async def bumble_scan(timeout_s: float = 1.0) -> list[BleDeviceInfo]:
    """Scanner with the same result shape as :func:`reengage.acquisition.ble_transport.bleak_scan`."""
    return [BleDeviceInfo(d["address"], d["name"], d["service_uuids"]) for d in await VirtualRadio.get().scan(timeout_s)]


def uuid_str(u) -> str:
    """bumble UUID → the lower-case 128-bit form bleak uses (16-bit ones on the Bluetooth base)."""
    raw = bytes(u.to_bytes())
    if len(raw) == 2:
        return f"0000{raw[::-1].hex()}-0000-1000-8000-00805f9b34fb"
    return str(_uuid.UUID(bytes=raw[::-1]))

