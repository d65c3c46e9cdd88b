"""Build the Uno sketch into an ATmega328P ELF as the Arduino IDE does, for the tests, the emulator and benches.

Debian's avr-gcc against Arduino's own AVR core (``arduino-core-avr``), with the flags of the core's
``platform.txt``. ``make test`` installs the toolchain (``SYSTEM_PACKAGES``); :func:`toolchain_missing` says
what is absent so a caller can skip with a reason. A bench builds variants of the sketch by overriding its
``#define``s in a copy (:func:`build_uno_elf` ``defines``); the sketch on disk is never touched.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SKETCH_DIR = Path(__file__).resolve().parent / "sketches" / "uno_myoware"
AVR_CORE = Path("/usr/share/arduino/hardware/arduino/avr")
WARNINGS_NAME = "sketch.warnings"  # the compiler's warnings for the sketch itself, next to the ELF

COMMON = ["-g", "-Os", "-ffunction-sections", "-fdata-sections", "-mmcu=atmega328p", "-DF_CPU=16000000L",
          "-DARDUINO=10807", "-DARDUINO_AVR_UNO", "-DARDUINO_ARCH_AVR"]
CXX = ["-std=gnu++11", "-fpermissive", "-fno-exceptions", "-fno-threadsafe-statics"]


def toolchain_missing() -> str | None:
    """Why the Uno sketch cannot be built here (``None`` when it can)."""
    if shutil.which("avr-g++") is None or shutil.which("avr-gcc") is None:
        return "avr-gcc missing: `make test` installs gcc-avr and avr-libc"
    if not (AVR_CORE / "cores" / "arduino" / "Arduino.h").exists():
        return "Arduino's AVR core missing: `make test` installs arduino-core-avr"
    return None


def run_tool(cmd: list[str]) -> str:
    """Run a compiler or linker command; return its stderr (the warnings), or raise ``RuntimeError`` with the
    command and its stderr when it fails."""
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}\n{r.stderr}")
    return r.stderr


def _includes() -> list[str]:
    core, variant = AVR_CORE / "cores" / "arduino", AVR_CORE / "variants" / "standard"
    return [f"-I{core}", f"-I{variant}", f"-I{AVR_CORE / 'libraries' / 'EEPROM' / 'src'}", f"-I{SKETCH_DIR}"]


def _compile_core(core_dir: Path) -> list[Path]:
    """The Arduino core's objects, compiled once per ``core_dir`` and reused by every variant built there."""
    core_dir.mkdir(parents=True, exist_ok=True)
    inc = _includes()
    jobs: list[tuple[list[str], Path]] = []
    for f in sorted((AVR_CORE / "cores" / "arduino").iterdir()):
        # WString.cpp of core 1.8.7 needs DECIMAL_DIG, which Debian's avr-libc 2.0 lacks; the sketch uses no
        # String, so the linker would not pull it in anyway.
        if f.suffix not in (".c", ".cpp", ".S") or f.name == "WString.cpp":
            continue
        obj = core_dir / (f.name + ".o")
        if f.suffix == ".c":
            cmd = ["avr-gcc", "-c", *COMMON, "-std=gnu11", *inc, str(f), "-o", str(obj)]
        elif f.suffix == ".cpp":
            cmd = ["avr-g++", "-c", *COMMON, *CXX, *inc, str(f), "-o", str(obj)]
        else:
            cmd = ["avr-gcc", "-c", *COMMON, "-x", "assembler-with-cpp", *inc, str(f), "-o", str(obj)]
        jobs.append((cmd, obj))
    todo = [cmd for cmd, obj in jobs if not obj.exists()]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(run_tool, todo))
    return [obj for _, obj in jobs]


def sketch_source(defines: dict[str, object] | None = None) -> str:
    """The sketch as the IDE compiles it (``Arduino.h`` first), with ``defines`` replacing its ``#define`` values.

    Raises ``KeyError`` for a name the sketch does not ``#define``, so a misspelt variant fails loudly.
    """
    text = (SKETCH_DIR / "uno_myoware.ino").read_text()
    for name, value in (defines or {}).items():
        pattern = re.compile(rf"^(#define\s+{re.escape(name)}\s+)(\S.*?)(\s*/\*.*)?$", re.M)
        if not pattern.search(text):
            raise KeyError(f"the Uno sketch has no #define {name}")
        text = pattern.sub(lambda m: m[1] + str(value) + (m[3] or ""), text, count=1)
    return "#include <Arduino.h>\n" + text


def _variant_name(defines: dict[str, object] | None) -> str:
    if not defines:
        return "uno_myoware"
    tag = "-".join(f"{k}={v}" for k, v in sorted(defines.items()))
    return "uno_myoware-" + re.sub(r"[^A-Za-z0-9_.=-]", "_", tag)


def build_uno_elf(out_dir: Path, defines: dict[str, object] | None = None) -> Path:
    """Compile and link the Uno sketch for an Arduino Uno (ATmega328P, 16 MHz); return the ELF's path.

    Parameters
    ----------
    out_dir : Path
        Build directory. The Arduino core is compiled once into ``out_dir/core`` and reused by later calls.
    defines : dict, optional
        ``{"RING": 128, "FS_HZ": 2000}``: values replacing the sketch's own ``#define``s, in a copy; ``None``
        builds the unmodified sketch.

    Returns
    -------
    Path
        ``out_dir/uno_myoware[-NAME=VALUE…].elf``. The sketch's compiler warnings (``-Wall -Wextra``) are in
        :data:`WARNINGS_NAME` of the variant's own directory (``out_dir/<name>/``), empty when there are none.
    """
    missing = toolchain_missing()
    if missing:
        raise RuntimeError(missing)
    out_dir = Path(out_dir)
    name = _variant_name(defines)
    work = out_dir / name
    work.mkdir(parents=True, exist_ok=True)
    src = work / "uno_myoware.cpp"
    src.write_text(sketch_source(defines))
    obj = work / "sketch.o"
    warnings = run_tool(["avr-g++", "-c", *COMMON, *CXX, "-Wall", "-Wextra", *_includes(), str(src), "-o", str(obj)])
    (work / WARNINGS_NAME).write_text(warnings)
    objects = [obj, *_compile_core(out_dir / "core")]
    target = out_dir / f"{name}.elf"
    run_tool(["avr-gcc", "-Os", "-Wl,--gc-sections", "-mmcu=atmega328p", "-o", str(target), *map(str, objects), "-lm"])
    return target
