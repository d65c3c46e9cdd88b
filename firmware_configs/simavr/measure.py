"""Build the Uno sketch (or a variant of it) and measure it on an emulated ATmega328P with ``uno_measure.c``.

Used by ``bench/bench_firmware.py`` (the sweep of sample rate × channels) and ``tests/firmware/test_uno_measure.py``
(the shipped sketch's regression guard). The ELF is built by :mod:`reengage.firmware_configs.avr_build` (Debian
avr-gcc, Arduino's AVR core, the flags of the core's ``platform.txt``); the core's objects are compiled once per
output directory and reused, so a sweep recompiles only the sketch.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from reengage.firmware_configs.avr_build import WARNINGS_NAME, build_uno_elf
from reengage.firmware_configs.simavr import HERE, build_simavr_program

MEASURE_C = HERE / "uno_measure.c"


def build_measure_program(out_dir: Path) -> Path:
    """Compile ``uno_measure.c`` with ``-Wall -Wextra -Werror`` into ``out_dir``; returns the executable."""
    return build_simavr_program(MEASURE_C, Path(out_dir) / "uno_measure")


def build_elf(out_dir: Path, defines: dict[str, int] | None = None) -> Path:
    """The sketch's ELF with ``defines`` overridden (:func:`reengage.firmware_configs.avr_build.build_uno_elf`,
    the core compiled once per ``out_dir``); raises ``RuntimeError`` on a link failure or any compiler warning."""
    elf = build_uno_elf(Path(out_dir), defines)
    warnings = (elf.parent / elf.stem / WARNINGS_NAME).read_text()
    if warnings:
        raise RuntimeError(f"{elf.stem} compiles with warnings:\n{warnings}")
    return elf


def static_ram(elf: Path) -> dict[str, int]:
    """Flash and static RAM of an ELF in bytes (``avr-size -A``: text+data, data+bss+noinit)."""
    size = subprocess.run(["avr-size", "-A", str(elf)], capture_output=True, text=True, check=True).stdout
    s = {m[1]: int(m[2]) for m in re.finditer(r"^\.(\w+)\s+(\d+)", size, re.M)}
    return {"flash": s.get("text", 0) + s.get("data", 0),
            "ram": s.get("data", 0) + s.get("bss", 0) + s.get("noinit", 0)}


def measure(exe: Path, elf: Path, seconds: float = 5.0, warmup: float = 0.5) -> dict:
    """Run ``elf`` for ``warmup + seconds`` simulated seconds; the measurement program's JSON as a dict."""
    r = subprocess.run([str(exe), str(elf), str(seconds), str(warmup)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"uno_measure failed ({r.returncode}): {r.stderr.strip()}")
    return json.loads(r.stdout)
