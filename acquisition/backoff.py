"""Reopening a device that went away, with exponential backoff (shared by the serial and BLE transports)."""

from __future__ import annotations

import time
from collections.abc import Callable

from reengage.errors import DeviceError


def reopen_with_backoff(
    open_device: Callable[[], None],
    timeout_s: float | None,
    *,
    first_delay_s: float,
    max_delay_s: float,
) -> bool:
    """Call ``open_device`` until it stops raising :class:`DeviceError`; True once it succeeds.

    False when ``timeout_s`` (None: no limit; Ctrl-C interrupts the wait) passes first. The delay
    doubles from ``first_delay_s`` up to ``max_delay_s`` so a board that needs seconds to re-enumerate is
    not hammered, and one that is back at once is reopened at once.
    """
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    delay = 0.0
    while True:
        try:
            open_device()
            return True
        except DeviceError:
            pass
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(max(delay * 2, first_delay_s), max_delay_s)
