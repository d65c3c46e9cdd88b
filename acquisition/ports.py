"""Serial port discovery and re-discovery: which port is which board, and where did it come back?

USB ids identify the adapter, not the sketch: a CH340 Nano and a CH340 ESP32 look the same, so a port is
matched to *candidate* boards (every board file whose ``transport.usb_ids`` lists it) plus a generic
chip name for the common USB-serial bridges.
"""

from __future__ import annotations

import glob
import os

from serial.tools import list_ports as _lp

from reengage.errors import BoardConfigError

# Chips seen on Arduino-compatible boards (VID:PID). Board files add their own ids.
KNOWN_USB = {
    "2341:0043": "Arduino Uno R3 (16U2)",
    "2341:0001": "Arduino Uno (8U2)",
    "2a03:0043": "Arduino Uno R3 (arduino.org)",
    "2341:0058": "Arduino Nano Every",
    "2341:805a": "Arduino Nano 33 BLE (sketch running)",
    "2341:005a": "Arduino Nano 33 BLE (bootloader)",
    "2341:8063": "Arduino Nano 33 BLE Sense Rev2",
    "1a86:7523": "CH340 USB-serial (Nano clones, ESP32 DevKits)",
    "1a86:55d4": "CH9102 USB-serial (ESP32 DevKits)",
    "10c4:ea60": "CP210x USB-serial (ESP32 DevKits)",
    "0403:6001": "FTDI FT232 USB-serial",
    "303a:1001": "ESP32-S3/C3 native USB (JTAG/serial)",
}


def _vid_pid(p) -> str | None:
    if p.vid is None or p.pid is None:
        return None
    return f"{p.vid:04x}:{p.pid:04x}"


def board_usb_ids() -> dict[str, list[str]]:
    """VID:PID → names of the board files that list it."""
    from reengage.acquisition.boards import board_paths, load_board

    out: dict[str, list[str]] = {}
    for path in board_paths():
        try:
            b = load_board(path)
        except BoardConfigError:
            continue
        for usb in b.transport.get("usb_ids", []) or []:
            out.setdefault(str(usb).lower(), []).append(b.name)
    return out


def list_ports() -> list[dict]:
    """Serial ports present now, each with its USB id, the chip and the boards it may be."""
    ids = board_usb_ids()
    found = []
    for p in sorted(_lp.comports(), key=lambda p: p.device):
        usb = _vid_pid(p)
        found.append({
            "device": p.device,
            "description": p.description,
            "usb_id": usb,
            "serial_number": p.serial_number,
            "chip": KNOWN_USB.get(usb or "", None),
            "boards": ids.get(usb or "", []),
        })
    return found


def resolve_port(spec: str) -> str | None:
    """The device ``spec`` names now, or None if absent.

    ``spec`` is a path (a symlink such as ``/dev/serial/by-id/usb-Arduino…`` survives re-plugging and is
    the best choice on Linux) or a glob such as ``/dev/ttyACM*``: a re-plugged board often comes back as
    ``ttyACM1``, and the glob finds it (the first match in sorted order).
    """
    if any(ch in spec for ch in "*?["):
        matches = sorted(glob.glob(spec))
        return matches[0] if matches else None
    return spec if os.path.exists(spec) else None


def describe_absent(spec: str) -> str:
    """One line for "the port is not there", listing what is."""
    here = [p["device"] for p in list_ports()]
    hint = f"ports present: {', '.join(here)}" if here else "no serial ports present"
    where = "no port matches" if any(ch in spec for ch in "*?[") else "no such serial port"
    return f"{spec}: {where} (is the board plugged in? {hint}; see `reengage boards`)"

