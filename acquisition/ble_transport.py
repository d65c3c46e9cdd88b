"""BLE transport (bleak): find a board by name or service UUID, connect, subscribe, reconnect.

Each notification carries one whole frame (PROTOCOL.md §5); the bytes go to the same sans-I/O
``FrameDecoder`` as serial, so a notification the stack dropped shows up as a SEQ/SAMPLE_INDEX gap.
bleak is asyncio; the recorder loop is synchronous, so the client lives in its own thread and event
loop, and notifications cross over through a queue (copied out of the callback at once: bleak may
reuse the buffer, a cause of repeated samples in Myo tools, myo-python#30).

The backend is injectable: on a real machine bleak's platform backend, in tests and for the simulated
board (``record --board simulated --ble NAME``, :mod:`reengage.acquisition.ble_simboard`) the
bumble virtual radio (:mod:`reengage.acquisition.bumble_backend`).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Awaitable, Callable

from bleak import BleakClient

from reengage.acquisition.backoff import reopen_with_backoff
from reengage.errors import DeviceError, Disconnected

DEFAULT_SERVICE = "6e0f0001-5c3b-4a5e-9b1f-7265656e6761"
DEFAULT_DATA = "6e0f0002-5c3b-4a5e-9b1f-7265656e6761"
DEFAULT_CONTROL = "6e0f0003-5c3b-4a5e-9b1f-7265656e6761"


async def bleak_scan(timeout_s: float = 5.0):
    """Scan with bleak's platform backend; a missing Bluetooth stack is a one-line DeviceError."""
    from bleak import BleakScanner

    from reengage.acquisition.bumble_backend import BleDeviceInfo

    try:
        found = await BleakScanner.discover(timeout=timeout_s, return_adv=True)
    except (FileNotFoundError, OSError) as e:
        raise DeviceError(f"Bluetooth is not available on this machine ({type(e).__name__}: {e})") from None
    except Exception as e:  # bleak raises backend-specific errors (BleakDBusError, BleakError)
        raise DeviceError(f"Bluetooth scan failed: {e}") from None
    return [BleDeviceInfo(d.address, adv.local_name or d.name, [u.lower() for u in adv.service_uuids])
            for d, adv in found.values()]


def match_device(devices, wanted: str, service_uuid: str, name_prefix: str | None):
    """``wanted`` is an address, an exact name, or "" for the first device advertising the service."""
    w = wanted.lower()
    for d in devices:
        if w and (d.address.lower() == w or (d.name or "").lower() == w):
            return d
    if not w:
        for d in devices:
            if service_uuid.lower() in d.service_uuids or (name_prefix and (d.name or "").startswith(name_prefix)):
                return d
    return None


class BleTransport:
    """``read()`` → bytes of the notifications received since the last call (``b''`` after a short wait).

    Raises :class:`Disconnected` once per link loss; :meth:`reconnect` then retries with backoff
    (an immediate first retry: BlueZ's ``le-connection-abort-by-local`` usually clears at once, bleak#1255).
    """

    def __init__(
        self,
        wanted: str,
        *,
        service_uuid: str = DEFAULT_SERVICE,
        data_uuid: str = DEFAULT_DATA,
        control_uuid: str = DEFAULT_CONTROL,
        name_prefix: str | None = "reengage",
        backend=None,
        scan: Callable[[float], Awaitable[list]] | None = None,
        setup: Callable[[], Awaitable[None]] | None = None,
        scan_timeout_s: float = 5.0,
        read_timeout_s: float = 0.05,
    ) -> None:
        self.wanted = wanted
        self.service_uuid, self.data_uuid, self.control_uuid = service_uuid, data_uuid, control_uuid
        self.name_prefix = name_prefix
        self.backend = backend
        self._scan = scan or bleak_scan
        self._setup = setup
        self.scan_timeout_s = scan_timeout_s
        self.read_timeout_s = read_timeout_s
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="reengage-ble", daemon=True)
        self._thread.start()
        self._client: BleakClient | None = None
        self.address: str | None = None
        self._lost = threading.Event()
        if setup is not None:
            self._run(setup(), 30)

    def _run(self, coro, timeout: float):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _connect(self) -> None:
        if self.address is None:
            devices = await self._scan(self.scan_timeout_s)
            dev = match_device(devices, self.wanted, self.service_uuid, self.name_prefix)
            if dev is None:
                names = ", ".join(f"{d.name or '?'} ({d.address})" for d in devices) or "none"
                what = f"named or at {self.wanted!r}" if self.wanted else f"advertising service {self.service_uuid}"
                raise DeviceError(f"no BLE board {what} found in {self.scan_timeout_s:g} s; devices seen: {names}")
            self.address = dev.address
        kwargs = {"backend": self.backend} if self.backend is not None else {}
        client = BleakClient(self.address, disconnected_callback=self._on_disconnect, timeout=10.0, **kwargs)
        await client.connect()
        self._lost.clear()
        await client.start_notify(self.data_uuid, self._on_notify)
        await client.write_gatt_char(self.control_uuid, b"WHORU\n", response=True)
        await client.write_gatt_char(self.control_uuid, b"START\n", response=True)
        self._client = client

    def _on_notify(self, _char, data: bytearray) -> None:
        self._q.put(bytes(data))

    def _on_disconnect(self, _client) -> None:
        self._lost.set()
        self._q.put(None)

    def open(self) -> None:
        try:
            self._run(self._connect(), self.scan_timeout_s + 15)
        except DeviceError:
            raise
        except Exception as e:
            raise DeviceError(f"BLE board {self.address or self.wanted}: cannot connect ({type(e).__name__}: {e})") from None

    def read(self) -> bytes:
        try:
            first = self._q.get(timeout=self.read_timeout_s)
        except queue.Empty:
            return b""
        parts = [first]
        while True:
            try:
                parts.append(self._q.get_nowait())
            except queue.Empty:
                break
        if any(p is None for p in parts):
            data = b"".join(p for p in parts[: parts.index(None)])
            if data:  # deliver what arrived before the drop, then report it
                self._q.put(None)
                return data
            raise Disconnected(f"BLE board {self.address}: link lost")
        return b"".join(parts)

    def reconnect(self, timeout_s: float | None = None) -> bool:
        # BlueZ's le-connection-abort-by-local usually clears on an immediate retry (bleak#1255).
        return reopen_with_backoff(self.open, timeout_s, first_delay_s=0.1, max_delay_s=2.0)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            async def bye():
                try:
                    if client.is_connected:
                        await client.write_gatt_char(self.control_uuid, b"STOP\n", response=True)
                        await client.disconnect()
                except Exception:
                    pass
            try:
                self._run(bye(), 5)
            except Exception:
                pass

    def shutdown(self) -> None:
        self.close()

        async def cancel_the_rest():
            # a task left pending (a simulated board's loop, a bumble timer) would be garbage-collected with the
            # loop and print "Task was destroyed but it is pending!" after the recording's own last line
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in rest:
                t.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        try:
            self._run(cancel_the_rest(), 5)
        except Exception:
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(2)


def transport_for_board(board, wanted: str) -> BleTransport:
    """A :class:`BleTransport` with the UUIDs of a ``transport.kind = "ble"`` board file."""
    t = board.transport
    return BleTransport(
        wanted,
        service_uuid=str(t.get("service_uuid", DEFAULT_SERVICE)).lower(),
        data_uuid=str(t.get("data_characteristic_uuid", DEFAULT_DATA)).lower(),
        control_uuid=str(t.get("control_characteristic_uuid", DEFAULT_CONTROL)).lower(),
        name_prefix=t.get("name_prefix", "reengage"),
    )
