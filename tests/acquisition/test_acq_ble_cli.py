"""The simulated board over BLE: ``reengage record --board simulated --ble NAME`` end to end, and the bumble
peripheral's ``send_all`` (any iterable or async source of notification payloads)."""

from __future__ import annotations

import asyncio

from bleak import BleakClient

from reengage.acquisition.ble_transport import DEFAULT_CONTROL, DEFAULT_DATA, DEFAULT_SERVICE
from reengage.acquisition.bumble_backend import BumbleClient, SimulatedBlePeripheral, VirtualRadio

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
