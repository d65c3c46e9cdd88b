"""Helpers for the tests of the unmodified Uno sketch on simavr's ATmega328P (``firmware_configs/simavr/uno_sim.c``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from reengage.firmware_configs.simavr import simavr_missing
from reengage.io.recfile import read_recording

ROOT = Path(__file__).resolve().parents[2]
HARNESS_SRC = ROOT / "firmware_configs" / "simavr" / "uno_sim.c"
VREF_MV = 5000


MISSING = simavr_missing()
requires_simavr = pytest.mark.skipif(MISSING is not None, reason=str(MISSING))


def mv_to_code(mv: np.ndarray) -> np.ndarray:
    """The 10-bit code simavr's ADC gives for millivolts at Vref 5 V: ``min(1023, mV * 1023 // 5000)``."""
    return np.minimum(1023, np.asarray(mv, dtype=np.int64) * 1023 // VREF_MV).astype(np.int16)


def counter_codes(conv: np.ndarray, channel: int) -> np.ndarray:
    """The harness's counter pattern: conversion ``k`` of channel ``c`` reads ``(k * (7 + 5c)) % 1024``."""
    return ((np.asarray(conv, dtype=np.int64) * (7 + 5 * channel)) % 1024).astype(np.int16)


class UnoSim:
    """The harness as a child process; ``events`` holds its stdout lines as dicts once stopped."""

    def __init__(self, binary: Path, elf: Path, link: Path, *args: str) -> None:
        self.link = link
        self.cmd = [str(binary), str(elf), "--link", str(link), *args]
        self.events: list[dict] = []
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> UnoSim:
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not os.path.islink(self.link):
            assert self.proc.poll() is None, self.proc.communicate()
            assert time.monotonic() < deadline, "the harness never made its pty"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> list[dict]:
        if self.proc is None:
            return self.events
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=30)
        assert self.proc.returncode == 0, (self.proc.returncode, err, out)
        self.proc = None
        for line in out.splitlines():
            name, _, rest = line.partition(" ")
            if "=" not in rest:
                continue  # simavr's own "Loaded ... .text" lines
            fields = dict(kv.split("=", 1) for kv in rest.split(" ") if "=" in kv)
            self.events.append({"event": name, **fields})
        return self.events

    def event(self, name: str) -> dict:
        found = [e for e in self.events if e["event"] == name]
        assert len(found) == 1, (name, self.events)
        return found[0]


def record(link: Path, out: Path, duration_s: float, timeout_s: float = 90):
    """The real ``reengage record`` on the harness's pty link; returns (completed process, recording)."""
    cmd = [sys.executable, "-m", "reengage.cli", "record", "--board", "uno_myoware", "--port", str(link),
           "--duration", str(duration_s), "--out", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    assert r.returncode == 0, r.stderr
    return r, read_recording(r.stdout.strip().splitlines()[-1])


def assert_run(emg, start: int, stop: int, board_first: int, boot: dict) -> None:
    """Recording positions ``[start, stop)`` hold the counter pattern's board samples ``board_first…`` of the boot
    that began at harness event ``boot`` (its ``conv0``/``conv1``: conversions made before that boot's sample 0)."""
    board = board_first + np.arange(stop - start)
    for c in range(2):
        np.testing.assert_array_equal(emg.data[c, start:stop], counter_codes(board + int(boot[f"conv{c}"]), c),
                                      err_msg=f"channel {c}, recording samples {start}..{stop}")
