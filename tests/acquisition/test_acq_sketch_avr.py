"""The Uno sketch builds as the Arduino IDE would build it for an Arduino Uno, and fits the ATmega328P.

Compiled with Debian's avr-gcc against Arduino's own AVR core (``arduino-core-avr``), with the flags of the
core's ``platform.txt``, linked into an ELF and measured with ``avr-size``. ``make test`` installs the
toolchain; where it is missing (a bare ``pytest`` on a machine without it) the test says so and skips.
The Nano 33 BLE and ESP32 sketches need the mbed and ESP32 cores, which no package here provides.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

SKETCH = Path(__file__).resolve().parents[2] / "firmware_configs" / "sketches" / "uno_myoware"
AVR = Path("/usr/share/arduino/hardware/arduino/avr")
FLASH_BYTES = 32 * 1024 - 512  # ATmega328P minus the Optiboot bootloader (boards.txt: upload.maximum_size)
RAM_BYTES = 2048
STACK_HEADROOM = 256  # RAM left for the stack: loop()'s text buffers and the ISR's frame live there

COMMON = ["-g", "-Os", "-ffunction-sections", "-fdata-sections", "-mmcu=atmega328p", "-DF_CPU=16000000L",
          "-DARDUINO=10807", "-DARDUINO_AVR_UNO", "-DARDUINO_ARCH_AVR"]
CXX = ["-std=gnu++11", "-fpermissive", "-fno-exceptions", "-fno-threadsafe-statics"]

pytestmark = pytest.mark.skipif(
    shutil.which("avr-g++") is None or not (AVR / "cores" / "arduino" / "Arduino.h").exists(),
    reason="AVR toolchain missing: `make test` installs gcc-avr, avr-libc and arduino-core-avr",
)


def _run(cmd: list[str]) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stderr}"
    return r.stderr


@pytest.fixture(scope="module")
def elf(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("uno")
    core, variant = AVR / "cores" / "arduino", AVR / "variants" / "standard"
    inc = [f"-I{core}", f"-I{variant}", f"-I{AVR / 'libraries' / 'EEPROM' / 'src'}", f"-I{SKETCH}"]
    # The IDE's .ino → .cpp step: Arduino.h first, then the sketch as written.
    src = out / "uno_myoware.cpp"
    src.write_text("#include <Arduino.h>\n" + (SKETCH / "uno_myoware.ino").read_text())
    warnings = _run(["avr-g++", "-c", *COMMON, *CXX, "-Wall", "-Wextra", *inc, str(src), "-o", str(out / "sketch.o")])
    assert warnings == "", f"the sketch compiles with warnings:\n{warnings}"
    objects = [out / "sketch.o"]
    for f in sorted(core.iterdir()):
        # WString.cpp of core 1.8.7 needs DECIMAL_DIG, which Debian's avr-libc 2.0 lacks; the sketch uses no
        # String, so the linker would not pull it in anyway.
        if f.suffix not in (".c", ".cpp", ".S") or f.name == "WString.cpp":
            continue
        obj = out / (f.name + ".o")
        if f.suffix == ".c":
            _run(["avr-gcc", "-c", *COMMON, "-std=gnu11", *inc, str(f), "-o", str(obj)])
        elif f.suffix == ".cpp":
            _run(["avr-g++", "-c", *COMMON, *CXX, *inc, str(f), "-o", str(obj)])
        else:
            _run(["avr-gcc", "-c", *COMMON, "-x", "assembler-with-cpp", *inc, str(f), "-o", str(obj)])
        objects.append(obj)
    target = out / "uno_myoware.elf"
    _run(["avr-gcc", "-Os", "-Wl,--gc-sections", "-mmcu=atmega328p", "-o", str(target), *map(str, objects), "-lm"])
    return target


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
