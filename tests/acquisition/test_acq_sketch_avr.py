"""The Uno sketch builds as the Arduino IDE would build it for an Arduino Uno, and fits the ATmega328P.

Built by ``firmware_configs/avr_build.py`` (Debian's avr-gcc, Arduino's own AVR core ``arduino-core-avr``, the flags of the
core's ``platform.txt``), linked into an ELF and measured with ``avr-size``. ``make test`` installs the
toolchain; where it is missing (a bare ``pytest`` on a machine without it) the test says so and skips.
The Nano 33 BLE and ESP32 sketches need the mbed and ESP32 cores, which no package here provides.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from reengage.firmware_configs.avr_build import WARNINGS_NAME, build_uno_elf, sketch_source, toolchain_missing

FLASH_BYTES = 32 * 1024 - 512  # ATmega328P minus the Optiboot bootloader (boards.txt: upload.maximum_size)
RAM_BYTES = 2048
STACK_HEADROOM = 256  # RAM left for the stack: loop()'s text buffers and the ISR's frame live there

pytestmark = pytest.mark.skipif(toolchain_missing() is not None, reason=str(toolchain_missing()))


@pytest.fixture(scope="module")
def elf(tmp_path_factory) -> Path:
    return build_uno_elf(tmp_path_factory.mktemp("uno"))


def test_uno_sketch_compiles_without_warnings(elf):
    warnings = (elf.parent / elf.stem / WARNINGS_NAME).read_text()
    assert warnings == "", f"the sketch compiles with warnings:\n{warnings}"


def test_a_variant_overrides_the_sketch_defines_in_a_copy_only():
    src = sketch_source({"RING": 128, "FS_HZ": 500})
    assert re.search(r"^#define RING 128 +/\*", src, re.M) and re.search(r"^#define FS_HZ 500$", src, re.M)
    assert "#define RING 32 " in sketch_source(None)  # the shipped value, untouched
    with pytest.raises(KeyError, match="NO_SUCH"):
        sketch_source({"NO_SUCH": 1})


def test_uno_sketch_links_and_fits_flash_and_ram(elf):
    size = subprocess.run(["avr-size", "-A", str(elf)], capture_output=True, text=True, check=True).stdout
    sections = {m[1]: int(m[2]) for m in re.finditer(r"^\.(\w+)\s+(\d+)", size, re.M)}
    flash = sections.get("text", 0) + sections.get("data", 0)
    ram = sections.get("data", 0) + sections.get("bss", 0) + sections.get("noinit", 0)
    assert flash <= FLASH_BYTES, f"{flash} B of flash, the Uno has {FLASH_BYTES}"
    assert ram <= RAM_BYTES - STACK_HEADROOM, f"{ram} B of static RAM leaves under {STACK_HEADROOM} B for the stack"


def test_uno_sketch_installs_the_1_khz_sampling_interrupt(elf):
    # A misspelt ISR name compiles to an ordinary function and the board would never sample.
    symbols = subprocess.run(["avr-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"\bT __vector_11$", symbols, re.M), "TIMER1_COMPA_vect (vector 11) is not defined"
