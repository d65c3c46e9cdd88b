"""Build and drive ``board_host.c``: a sketch's board logic on the host, with fake time and fake sensors.

The patterns here are the ones ``board_host.c`` generates (its header comment), recomputed independently
so a test can say what every decoded sample must be.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
FIRMWARE = HERE.parents[2] / "firmware_configs"
SKETCHES = FIRMWARE / "sketches"
CFLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"]
IMU_PERIOD_US = 10016


def have_gcc() -> bool:
    return shutil.which("gcc") is not None


def build(sketch: str, out_dir: Path) -> Path:
    """Compile the harness against ``sketches/<sketch>``'s own copies of the headers and its board_config.h."""
    exe = out_dir / f"board_host_{sketch}"
    subprocess.run(["gcc", *CFLAGS, f"-I{SKETCHES / sketch}", "-o", str(exe), str(HERE / "board_host.c")],
                   check=True, capture_output=True)
    return exe


def _parse(out: str) -> list[list[tuple[int, bytes]]]:
    """stdout → per command, the notifications it caused as (micros, payload)."""
    answers: list[list[tuple[int, bytes]]] = [[]]
    for line in out.splitlines():
        if line == ".":
            answers.append([])
        else:
            tag, t, hexdata = line.split()
            assert tag == "N", line
            answers[-1].append((int(t), bytes.fromhex(hexdata)))
    assert answers[-1] == [], "output after the last answer"
    return answers[:-1]


def run(exe: Path, lines: list[str], *, imu_ok: int = 1, boot: int = 7, queue: int = 0) -> list[tuple[int, bytes]]:
    """Run a whole script of commands; every notification in order."""
    out = subprocess.run([str(exe), str(imu_ok), str(boot), str(queue)], input="\n".join(lines) + "\n",
                         capture_output=True, text=True, check=True).stdout
    answers = _parse(out)
    assert len(answers) == len([ln for ln in lines if ln]), "the harness did not answer every command"
    return [n for a in answers for n in a]


class LiveBoard:
    """The harness as a coprocess, one batch of commands at a time (for the BLE peripheral)."""

    def __init__(self, exe: Path, *, imu_ok: int = 1, boot: int = 7, queue: int = 0) -> None:
        self.proc = subprocess.Popen([str(exe), str(imu_ok), str(boot), str(queue)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)

    def send(self, lines: list[str]) -> list[tuple[int, bytes]]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write("".join(ln + "\n" for ln in lines))
        self.proc.stdin.flush()
        out = []
        for _ in lines:
            while (line := self.proc.stdout.readline()) != ".\n":
                assert line, "the harness exited"
                tag, t, hexdata = line.split()
                out.append((int(t), bytes.fromhex(hexdata)))
        return out

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)


def cmd(text: str) -> str:
    """A control-characteristic write as a harness line."""
    return "c " + text.encode().hex()


def emg_pattern(index: np.ndarray, n_ch: int = 4) -> np.ndarray:
    """What the fake ADC reads for these sample indices: (channels, samples) int16."""
    index = np.asarray(index, dtype=np.int64)
    return np.stack([((index * (3 + c) + 100 * c) % 4096).astype(np.int16) for c in range(n_ch)])


def _scale(x: np.ndarray, lsb: float) -> np.ndarray:
    """The firmware's rounding in float32: nearest, half away from zero, saturated to int16."""
    y = x.astype(np.float32) * np.float32(lsb)
    r = np.where(y >= 0, (y + np.float32(0.5)).astype(np.int64), -((-y + np.float32(0.5)).astype(np.int64)))
    return np.clip(r, -32768, 32767).astype(np.int16)


def imu_physical(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The fake IMU's k-th readings in g and deg/s, float32 as the C code computes them: (3, n) each."""
    k = np.asarray(k, dtype=np.int64)
    acc = np.stack([((k + a) % 17 - 8).astype(np.float32) * np.float32(0.5) + np.float32(0.0001) for a in range(3)])
    gyr = np.stack([((k + 2 * a) % 23 - 11).astype(np.float32) * np.float32(190.0) + np.float32(0.3)
                    for a in range(3)])
    return acc, gyr


def imu_pattern(k: np.ndarray) -> np.ndarray:
    """The IMU frames' int16 for readings k at the Nano's scale (TOML: 1/8192 g, 2000/32768 deg/s per LSB)."""
    acc, gyr = imu_physical(k)
    return np.concatenate([_scale(acc, 8192.0), _scale(gyr, 16.384)])
