"""The Uno sketch on simavr's emulated ATmega328P: the test harness (``uno_sim.c``) and the throughput
measurement (``uno_measure.c``, :mod:`.measure`), both small C programs linked against simavr."""

from __future__ import annotations

import shutil
from pathlib import Path

from reengage.firmware_configs.avr_build import run_tool, toolchain_missing

HERE = Path(__file__).resolve().parent
SIMAVR_INCLUDE = Path("/usr/include/simavr")


def simavr_missing() -> str | None:
    """Why a simavr program cannot be built and run here (a sentence), or None when gcc, simavr's headers and
    the AVR toolchain for the sketch are all present."""
    missing = toolchain_missing()
    if missing:
        return missing
    if shutil.which("gcc") is None or not (SIMAVR_INCLUDE / "sim_avr.h").exists():
        return "simavr missing: `make test` installs simavr, libsimavr-dev, libsimavrparts1 and libelf-dev"
    return None


def build_simavr_program(source: Path, exe: Path) -> Path:
    """Compile ``source`` (one C file of this folder) against simavr with ``-Wall -Wextra -Werror`` into
    ``exe``; raises ``RuntimeError`` with gcc's messages when it fails."""
    Path(exe).parent.mkdir(parents=True, exist_ok=True)
    run_tool(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{SIMAVR_INCLUDE}", str(source), "-o", str(exe),
              "-lsimavr", "-lsimavrparts", "-lelf", "-lm", "-lpthread"])
    return Path(exe)
