"""Serial transport (pyserial): a byte source for the sans-I/O decoders.

Facts this relies on (verified, see ``shared/TOOLCHAIN.md``): pyserial clears the input buffer on open,
so the host sends ``START`` after opening; a read timeout returns ``b''``; an unplugged device makes the
next read raise ``SerialException`` ("device reports readiness to read but returned no data"), and a
large read can lose the partial data then, so we read ``in_waiting or 1`` bytes.
"""

from __future__ import annotations

import errno
import termios

import serial

from reengage.acquisition.backoff import reopen_with_backoff
from reengage.errors import DeviceError, Disconnected


def open_serial(port: str, baudrate: int = 500000, timeout_s: float = 0.05) -> serial.Serial:
    """Open ``port`` (a path, a stable symlink or a glob such as ``/dev/ttyACM*``) or raise
    :class:`DeviceError` with a one-line explanation of what to do."""
    from reengage.acquisition.ports import describe_absent, resolve_port

    device = resolve_port(port)
    if device is None:
        raise DeviceError(describe_absent(port))
    try:
        return serial.Serial(device, baudrate=baudrate, timeout=timeout_s, exclusive=True)
    except serial.SerialException as e:
        code = getattr(e, "errno", None)
        text = str(e)
        if code == errno.ENOENT or "No such file" in text or "could not open port" in text and "2]" in text:
            raise DeviceError(describe_absent(port)) from None
        if code == errno.EACCES or "Permission denied" in text:
            raise DeviceError(
                f"{port}: permission denied; add yourself to the serial group "
                f"(`sudo usermod -aG dialout $USER`, then log out and in)"
            ) from None
        if code == errno.EBUSY or "busy" in text.lower() or "lock" in text.lower():
            raise DeviceError(f"{port}: port is busy (another program, e.g. the Arduino Serial Monitor, has it open)") from None
        if code == errno.ENOTTY or "Inappropriate ioctl" in text:
            raise DeviceError(f"{port}: not a serial port (a file, not a tty device; see `reengage boards`)") from None
        raise DeviceError(f"{port}: cannot open serial port ({text})") from None


class SerialTransport:
    """Open a port, say START, hand out bytes as they come, say STOP at the end."""

    def __init__(self, port: str, baudrate: int = 500000, *, handshake: bool = True) -> None:
        self.port = port
        self.baudrate = baudrate
        self.handshake = handshake
        self._ser: serial.Serial | None = None

    def open(self) -> None:
        self._ser = open_serial(self.port, self.baudrate)
        if self.handshake:
            try:
                self._ser.write(b"START\n")
                self._ser.flush()
            except (serial.SerialException, OSError, termios.error) as e:
                # The device vanished between open and the handshake (a flaky cable, a re-plug race).
                self._close_quietly()
                raise DeviceError(f"{self.port}: went away while opening ({e})") from None

    def read(self) -> bytes:
        """Bytes available now (``b''`` after a short timeout). Raises :class:`Disconnected`."""
        ser = self._ser
        if ser is None:
            raise Disconnected(f"{self.port}: not open")
        try:
            return ser.read(ser.in_waiting or 1)
        except (serial.SerialException, OSError) as e:
            self._close_quietly()
            raise Disconnected(f"{self.port}: {e}") from None

    def reconnect(self, timeout_s: float | None = None) -> bool:
        """Wait for the port to come back (same path, symlink or glob) and reopen it, with backoff.

        Returns False if ``timeout_s`` passes first. Busy or not-yet-
        permitted ports (udev applies permissions a moment after the node appears) are retried too.
        """
        self._close_quietly()
        return reopen_with_backoff(self.open, timeout_s, first_delay_s=0.05, max_delay_s=1.0)

    def close(self) -> None:
        if self._ser is not None and self.handshake:
            try:
                self._ser.write(b"STOP\n")
                self._ser.flush()
            except (serial.SerialException, OSError, termios.error):
                pass  # the board may already be gone (unplugged, or the simulator ended)
        self._close_quietly()

    def _close_quietly(self) -> None:
        if self._ser is not None:
            try:
                self._ser.close()
            except (serial.SerialException, OSError, termios.error):
                pass
            self._ser = None
