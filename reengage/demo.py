"""The demo: one patient (P001) over twelve weeks of rehab, recorded through the simulated board.

Early sessions show the compensation pattern (glute max fires after the hamstrings and weakly); by the end
the glutes fire first and carry more of the load. Every session goes the whole real way: simulated board
process → pseudo-terminal → serial driver → recording file → analysis → catalog.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from rich.console import Console

SUBJECT = "P001"
TASK = "prone_hip_extension"
# (weeks after the first session, onset latency ms, glute:hamstring %MVC ratio, phase, pain 0-10)
SESSIONS = [
    (0.0, 85.0, 0.45, 1, 6.0),
    (2.0, 60.0, 0.60, 1, 5.0),
    (4.5, 35.0, 0.80, 2, 4.0),
    (7.0, 10.0, 1.00, 2, 3.0),
    (9.5, -15.0, 1.20, 3, 2.0),
    (12.0, -40.0, 1.40, 3, 1.0),
]
# Room for the full guided layout (reengage.session_plan: rest, 3 rounds of MVC trials for the board's two
# muscles = 93 s) and then about ten reps, as a clinic session would have.
DURATION_S = 150.0


def demo_sessions(today: dt.date | None = None) -> list[dict]:
    today = today or dt.date.today()
    first = today - dt.timedelta(weeks=12)
    return [
        {
            "date": (first + dt.timedelta(days=round(w * 7))).isoformat(),
            "onset_latency_ms": lat,
            "glute_hamstring_ratio": ratio,
            "phase": phase,
            "pain": pain,
            "seed": 100 + i,
        }
        for i, (w, lat, ratio, phase, pain) in enumerate(SESSIONS)
    ]


def run_demo(root: Path, *, speed: float = 20.0, console: Console | None = None) -> list[Path]:
    """Record (unless already there), analyse and catalog the six demo sessions; returns their paths."""
    from reengage.acquisition.session import RecordOptions, record_session
    from reengage.batch import register_file
    from reengage.catalog import Catalog

    console = console or Console(stderr=True)
    root = Path(root)
    demo_dir = root / "demo"
    paths = []
    for k, s in enumerate(demo_sessions()):
        existing = sorted((demo_dir / SUBJECT).glob(f"{SUBJECT}_*_{TASK}_s{k + 1}.rgr")) if demo_dir.exists() else []
        if existing:
            paths.append(existing[0])
            continue
        console.print(f"[bold]demo session {k + 1}/6[/bold] ({s['date']}, phase {s['phase']})")
        path = record_session(
            RecordOptions(
                board="simulated", subject=SUBJECT, task=TASK, duration_s=DURATION_S, out_dir=demo_dir,
                phase=s["phase"], pain=s["pain"], date=s["date"], sim_speed=speed, sim_seed=s["seed"],
                notes="simulated demo session",
                sim_overrides={
                    "onset_latency_ms": s["onset_latency_ms"],
                    "glute_hamstring_ratio": s["glute_hamstring_ratio"],
                },
            ),
            console=console,
        )
        final = path.with_name(f"{SUBJECT}_{s['date'].replace('-', '')}_{TASK}_s{k + 1}.rgr")
        path.rename(final)
        paths.append(final)
    with Catalog(root) as cat:
        if not cat.has_patient(SUBJECT, registered_only=True):  # the demo patient is a registered one
            cat.add_patient(SUBJECT, note="simulated demo patient", who="reengage demo")
        for p in paths:
            if cat.needs_analysis(p):
                register_file(cat, p, console=console)
    console.print(f"demo data ready in {root}")
    return paths
