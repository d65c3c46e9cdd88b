"""Build the Uno sketch (or a variant of it) and measure it on an emulated ATmega328P with ``uno_measure.c``.

Used by ``bench/bench_firmware.py`` (the sweep of sample rate × channels) and ``tests/firmware/test_uno_measure.py``
(the shipped sketch's regression guard). The ELF is built as ``tests/acquisition/test_acq_sketch_avr.py``
builds it (Debian avr-gcc, Arduino's AVR core, the flags of the core's ``platform.txt``); the core's objects
are compiled once per output directory and reused, so a sweep recompiles only the sketch.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
MEASURE_C = HERE / "uno_measure.c"
SKETCH = HERE.parent / "sketches" / "uno_myoware"
AVR = Path("/usr/share/arduino/hardware/arduino/avr")
SIMAVR_INCLUDE = Path("/usr/include/simavr")

COMMON = ["-g", "-Os", "-ffunction-sections", "-fdata-sections", "-mmcu=atmega328p", "-DF_CPU=16000000L",
          "-DARDUINO=10807", "-DARDUINO_AVR_UNO", "-DARDUINO_ARCH_AVR"]
CXX = ["-std=gnu++11", "-fpermissive", "-fno-exceptions", "-fno-threadsafe-statics"]


def missing_tools() -> str | None:
    """Why the measurement cannot run here (a sentence), or None when gcc, simavr and the AVR toolchain exist."""
    if shutil.which("avr-g++") is None or not (AVR / "cores" / "arduino" / "Arduino.h").exists():
        return "AVR toolchain missing: `make test` installs gcc-avr, avr-libc and arduino-core-avr"
    if shutil.which("gcc") is None or not (SIMAVR_INCLUDE / "sim_avr.h").exists():
        return "simavr missing: `make test` installs simavr, libsimavr-dev, libsimavrparts1 and libelf-dev"
    return None


def _run(cmd: list[str]) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}\n{r.stderr}")
    return r.stderr


def build_measure_program(out_dir: Path) -> Path:
    """Compile ``uno_measure.c`` with ``-Wall -Wextra -Werror`` into ``out_dir``; returns the executable."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    exe = Path(out_dir) / "uno_measure"
    _run(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{SIMAVR_INCLUDE}", str(MEASURE_C), "-o", str(exe),
          "-lsimavr", "-lsimavrparts", "-lelf"])
    return exe


def _core_objects(out_dir: Path, inc: list[str]) -> list[Path]:
    core_dir = out_dir / "core"
    stamp = core_dir / "done"
    objects = []
    core_dir.mkdir(parents=True, exist_ok=True)
    for f in sorted((AVR / "cores" / "arduino").iterdir()):
        # WString.cpp of core 1.8.7 needs DECIMAL_DIG, which Debian's avr-libc 2.0 lacks; the sketch uses no String.
        if f.suffix not in (".c", ".cpp", ".S") or f.name == "WString.cpp":
            continue
        obj = core_dir / (f.name + ".o")
        objects.append(obj)
        if stamp.exists():
            continue
        if f.suffix == ".c":
            _run(["avr-gcc", "-c", *COMMON, "-std=gnu11", *inc, str(f), "-o", str(obj)])
        elif f.suffix == ".cpp":
            _run(["avr-g++", "-c", *COMMON, *CXX, *inc, str(f), "-o", str(obj)])
        else:
            _run(["avr-gcc", "-c", *COMMON, "-x", "assembler-with-cpp", *inc, str(f), "-o", str(obj)])
    stamp.touch()
    return objects


def sketch_variant(defines: dict[str, int] | None = None, sketch: Path = SKETCH) -> str:
    """The sketch's text with its ``#define NAME value`` lines replaced (``N_CH`` picks the pins A0…)."""
    text = (sketch / "uno_myoware.ino").read_text()
    for name, value in (defines or {}).items():
        text, n = re.subn(rf"^#define {name}\b[^\n]*$", f"#define {name} {value}", text, flags=re.M)
        if n != 1:
            raise ValueError(f"the sketch has no `#define {name}`")
    return text


def build_elf(out_dir: Path, defines: dict[str, int] | None = None, name: str = "uno_myoware",
              sketch: Path = SKETCH) -> Path:
    """Build the sketch (with ``defines`` overridden) into ``out_dir/name.elf``; raises on any warning."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    core, variant = AVR / "cores" / "arduino", AVR / "variants" / "standard"
    inc = [f"-I{core}", f"-I{variant}", f"-I{AVR / 'libraries' / 'EEPROM' / 'src'}", f"-I{sketch}"]
    objects = _core_objects(out_dir, inc)
    src = out_dir / f"{name}.cpp"
    # The IDE's .ino → .cpp step: Arduino.h first, then the sketch as written.
    src.write_text("#include <Arduino.h>\n" + sketch_variant(defines, sketch))
    obj = out_dir / f"{name}.o"
    warnings = _run(["avr-g++", "-c", *COMMON, *CXX, "-Wall", "-Wextra", *inc, str(src), "-o", str(obj)])
    if warnings:
        raise RuntimeError(f"{name} compiles with warnings:\n{warnings}")
    elf = out_dir / f"{name}.elf"
    _run(["avr-gcc", "-Os", "-Wl,--gc-sections", "-mmcu=atmega328p", "-o", str(elf), str(obj), *map(str, objects),
          "-lm"])
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
