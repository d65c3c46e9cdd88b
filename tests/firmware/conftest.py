"""The unmodified Uno sketch on simavr's ATmega328P behind a real pty (``firmware_configs/simavr/uno_sim.c``).

Session fixtures build the sketch's ELF (``firmware_configs/avr_build.py``) and the harness (gcc, ``-Wall
-Wextra -Werror``) once per test session. Everything skips with the reason when simavr or avr-gcc is absent;
``make test`` installs both (``SYSTEM_PACKAGES``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from uno_emulator import HARNESS_SRC, MISSING

from reengage.firmware_configs.avr_build import build_uno_elf
from reengage.firmware_configs.simavr import build_simavr_program


@pytest.fixture(scope="session")
def uno_elf(tmp_path_factory) -> Path:
    if MISSING:
        pytest.skip(MISSING)
    return build_uno_elf(tmp_path_factory.mktemp("uno_elf"))


@pytest.fixture(scope="session")
def uno_sim(tmp_path_factory) -> Path:
    if MISSING:
        pytest.skip(MISSING)
    return build_simavr_program(HARNESS_SRC, tmp_path_factory.mktemp("uno_sim") / "uno_sim")
