"""What the Uno firmware sustains on an emulated ATmega328P: sample rate × channels, ISR CPU share, RAM.

Each sketch variant (``#define`` overrides of the unmodified sketch: FS_HZ, N_CH, SPF, RING) is built with
avr-gcc and run unpaced in simavr by ``firmware_configs/simavr/uno_measure.c``, whose host reads every byte at
once, so every loss counted is the firmware's own. A variant *sustains* its rate when, over the measured
window, no SAMPLE_INDEX gap appears, no STATUS frame reports an overrun, every value matches the ADC pattern
fed in, every frame's CRC is good, and the Timer1 interrupt ran once per period (none merged by an ISR
longer than the period). Figures are simulated time and cycles, so they do not depend on this machine.

    .venv/bin/python bench/bench_firmware.py [--seconds 5] [--out DIR]

Prints a table per section and, last, one JSON line with everything. Skips (exit 0) when simavr or the AVR
toolchain is missing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from reengage.firmware_configs.simavr import measure, simavr_missing

TIMER_HZ = 250_000  # Timer1 at 16 MHz / 64: only its divisors give an exact FS_HZ (OCR1A = 250000/FS − 1)
RATES = [r for r in range(500, 12_501) if TIMER_HZ % r == 0]
CHANNELS = [1, 2, 3, 4, 5, 6]
RINGS = [16, 32, 64]
SPFS = [4, 8, 16, 24]
LINK_BYTES_PER_S = 50_000  # 500 000 baud, 8N1: 10 bits a byte


def sustained(r: dict) -> bool:
    """True when the run lost nothing and the timer interrupt kept its period (see the module docstring)."""
    ticks = r["vectors"].get("11", {}).get("count", 0)
    expected = r["expected_window_samples"]
    return (r["lost_gap"] == 0 and r["overrun_reported"] == 0 and r["value_errors"] == 0 and r["crc_errors"] == 0
            and r["samples"] > 0 and ticks >= expected - 1)


class Bench:
    def __init__(self, out: Path, seconds: float):
        self.out, self.seconds = out, seconds
        self.exe = measure.build_measure_program(out)
        self.runs: list[dict] = []

    def run(self, **defines: int) -> dict:
        """Build and measure one variant; a variant that does not link (RAM) is reported, not raised."""
        row: dict = {"defines": defines}
        try:
            elf = measure.build_elf(self.out, defines)
        except RuntimeError as e:
            row.update(builds=False, why=str(e).strip().splitlines()[-1][:160])
            self.runs.append(row)
            return row
        row.update(builds=True, **measure.static_ram(elf))
        try:
            r = measure.measure(self.exe, elf, self.seconds)
        except RuntimeError as e:  # e.g. the stack runs into the static data and the core crashes
            row.update(runs=False, why=str(e)[:160])
            self.runs.append(row)
            return row
        row.update(runs=True, sustained=sustained(r), **{k: r[k] for k in (
            "fs_hz", "n_ch", "spf", "window_samples", "expected_window_samples", "lost_gap", "overrun_reported",
            "ring_len", "ring_max_fill", "stack_peak_bytes", "free_ram_min_bytes", "link_bytes_per_s",
            "timer1_isr_share", "other_isr_share", "loop_share", "timer1_mean_us", "timer1_max_us")})
        self.runs.append(row)
        return row

    def limit(self, n_ch: int, **defines: int) -> dict | None:
        """The last sustained run of a rising rate scan (stops at the first rate that is not sustained)."""
        best = None
        for fs in RATES:
            row = self.run(FS_HZ=fs, N_CH=n_ch, **defines)
            if not row.get("sustained"):
                break
            best = row
        return best


def _fmt(row: dict | None) -> str:
    if row is None:
        return "none sustained"
    if not row.get("builds"):
        return f"does not build: {row['why']}"
    if not row.get("runs"):
        return f"RAM {row['ram']} B, does not run: {row['why']}"
    return (f"{row['fs_hz']:>6} Hz × {row['n_ch']}  SPF {row['spf']:>2}  RING {row['ring_len']:>2}  "
            f"ISR {100 * row['timer1_isr_share']:5.1f} % ({row['timer1_mean_us']:.0f} µs)  other ISRs "
            f"{100 * row['other_isr_share']:4.1f} %  loop {100 * row['loop_share']:5.1f} %  ring max "
            f"{row['ring_max_fill']:>2}  link {row['link_bytes_per_s'] / LINK_BYTES_PER_S * 100:4.1f} %  "
            f"RAM {row['ram']} B + stack {row['stack_peak_bytes']} B (free {row['free_ram_min_bytes']} B)  "
            f"lost {row['lost_gap']}  {'ok' if row['sustained'] else 'NOT SUSTAINED'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="simulated seconds measured per variant")
    ap.add_argument("--out", type=Path, help="build directory (default: a temporary one)")
    args = ap.parse_args()
    why = simavr_missing()
    if why:
        print(f"skipped: {why}")
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-firmware-") as tmp:
        b = Bench(args.out or Path(tmp), args.seconds)
        summary: dict = {"seconds": args.seconds}
        print(f"shipped sketch ({args.seconds:g} simulated s):")
        summary["shipped"] = b.run()
        print("  " + _fmt(summary["shipped"]))
        print("highest sustained rate per channel count and ring size (shipped SPF):")
        summary["limits"] = {}
        for ring in RINGS:
            for n in CHANNELS:
                row = b.limit(n, RING=ring)
                summary["limits"][f"{n}ch_ring{ring}"] = row
                print(f"  N_CH {n} RING {ring:>2}: " + _fmt(row if row else b.runs[-1]))
        print("samples per frame at 2 channels (shipped RING), at the 2-channel limit and one rate above:")
        summary["spf"] = [b.run(FS_HZ=fs, N_CH=2, SPF=spf) for fs in (2500, 3125) for spf in SPFS]
        for row in summary["spf"]:
            print("  " + _fmt(row))
        print(json.dumps({"bench": "firmware", **summary, "runs": b.runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
