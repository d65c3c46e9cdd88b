"""Run every ``bench/bench_*.py`` script in turn, each in its own process, and stop on the first failure.

Each script has its own options (see bench/README.md); this driver runs them all with their defaults.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
scripts = sorted(here.glob("bench_*.py"))
if not scripts:
    sys.exit("no bench_*.py scripts found in bench/")
for script in scripts:
    print(f"\n=== {script.name} ===", flush=True)
    rc = subprocess.call([sys.executable, str(script)])
    if rc != 0:
        sys.exit(f"{script.name} failed with exit status {rc}")
