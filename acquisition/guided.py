"""Guided sessions: ``reengage record --protocol NAME`` walks the person through a rest baseline, three
rounds of MVC trials (one per recorded muscle each round) and N reps, with countdowns and cues on stderr,
and writes each step as an event.

Timing follows the **board's sample clock**, not the wall clock: the guide is a pipeline sink, and a step
begins when the EMG block carrying its first sample arrives. Events are therefore exactly at the step's
sample time whatever the USB latency, and a simulated board run at ``--sim-speed 8`` is guided eight times
faster and stays aligned.

Layout (:mod:`reengage.session_plan`, the same one the simulated person follows):

    rest 3 s │ 3 rounds of: MVC <muscle> 5 s, rest 10 s │ … per muscle │ get ready 1 s │ rep every period_s × N

With ``cue_reps=K`` the last K reps are cued ("squeeze your glutes first, then lift", a ``cue:on`` span) and
the others are told the movement alone (a ``cue:off`` span); with ``reference`` each muscle then holds a
sub-maximal reference contraction (``ref:<muscle>`` 5 s, rest 5 s), after the reps so that everything before
them stays where the simulated person expects it (:mod:`reengage.session_plan`).

MVC positions are the manual muscle testing positions (Hislop & Montgomery, *Daniels and Worthingham's
Muscle Testing*), as used for sEMG normalisation in SENIAM (Hermens et al. 2000): a 5 s maximal effort against
manual resistance, three times per muscle (MISSION: e.g. 3 × 5 s), each muscle resting while the others work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.console import Console

from reengage.errors import InputError
from reengage.model import Block, Event
from reengage.session_plan import CUE, MVC_PLAN, READY_S, REF_HOLD_S, REST_S, cue_events, reference_events
from reengage.session_plan import RETEST, RETEST_REAPPLY, RETEST_REAPPLY_S, retest_events

COUNTDOWN_S = 3
BOARD_STEP_LABELS = ("rest", "exercise", "rep")  # what a board's button/simulator may also announce

MVC_CUES = {
    "glute_max": "lying prone, knee bent 90°: lift the thigh off the table and push up as hard as you can against the hand",
    "glute_med": "lying on your side, top leg straight: lift it up and slightly back as hard as you can against the hand",
    "hamstrings": "lying prone, knee bent 45°: pull the heel towards the buttock as hard as you can against the hand",
    "erector_spinae": "lying prone, hands by your sides: lift the chest as hard as you can against the hand",
}

# The sub-maximal reference holds (``ref:<muscle>``, reengage.session_plan): each muscle's test position held
# against gravity alone, the same every session so the level is comparable between days.
REF_CUES = {
    "glute_max": "lying prone, knee bent 90°: lift the thigh just off the table and hold it there, no push",
    "glute_med": "lying on your side, top leg straight: lift it a hand's width and hold it there",
    "hamstrings": "lying prone: bend the knee to 45° and hold the lower leg there, no pull",
    "erector_spinae": "lying prone, hands by your sides: lift the chest just off the table and hold",
}
CUE_OFF_SAY = "these reps without a cue: move as you usually do"


@dataclass(frozen=True)
class Protocol:
    name: str
    title: str
    setup: str  # how to get into position
    lift: str  # concentric cue
    lower: str  # eccentric cue
    reps: int = 10
    period_s: float = 5.0  # one rep every period_s
    rep_s: float = 2.5  # lift + hold + lower
    plain: str = ""  # the movement without the glute cue: what an uncued rep (--cue-reps) is told

    @property
    def task(self) -> str:
        """The task a session of this protocol records (the recording's ``task``): the exercise's own name."""
        return self.name

    def steps(self, muscles: list[str], reps: int | None = None, *, cue_reps: int = 0,
              reference: bool = False) -> list["Step"]:
        """The session's steps: rest, MVC rounds, the reps (the last ``cue_reps`` of them cued, marked by
        ``cue:off``/``cue:on`` steps) and, with ``reference``, one sub-maximal ``ref:<muscle>`` hold each."""
        n = self.reps if reps is None else reps
        if not 0 <= cue_reps <= n:
            raise InputError(f"--cue-reps {cue_reps}: must be between 0 and the number of reps ({n})")
        out = [Step(0.0, REST_S, "rest", "Rest baseline: lie still and relax completely")]
        out += _mvc_steps(muscles, REST_S)
        t = REST_S + MVC_PLAN.span_s(len(muscles))
        out.append(Step(t, READY_S + n * self.period_s, "exercise", f"{self.title}: {self.setup}"))
        t += READY_S
        onsets = [t + k * self.period_s for k in range(n)]
        cues = {ev.label: ev for ev in cue_events(onsets, self.rep_s, cue_reps)}
        first_cued = n - cue_reps if cue_reps else n
        for k, on in enumerate(onsets):
            if k == first_cued:  # said in the rest before the first cued rep
                ev = cues["cue:on"]
                out.append(Step(ev.onset_s, ev.duration_s, ev.label, f"From now on: {CUE}"))
            lift = self.lift if not cue_reps else f"{CUE}, {self.plain}" if k >= first_cued else self.plain
            out.append(Step(on, self.rep_s, "rep", f"Rep {k + 1}/{n}: {lift}", countdown=k == 0, lower=self.lower))
            if k == 0 and "cue:off" in cues:  # after rep 1's step, which carries the countdown
                ev = cues["cue:off"]
                out.append(Step(ev.onset_s, ev.duration_s, ev.label, CUE_OFF_SAY))
        if reference:
            out += _reference_steps(muscles, t + n * self.period_s)
        return out


def _mvc_steps(muscles: list[str], start_s: float) -> list["Step"]:
    out, mvc = [], MVC_PLAN
    for ev in mvc.events(muscles, start_s):
        if ev.label == "rest":
            out.append(Step(ev.onset_s, ev.duration_s, "rest", "Relax"))
            continue
        m = ev.label.split(":", 1)[1]
        k = sum(1 for s in out if s.label == ev.label) + 1
        cue = MVC_CUES.get(m, f"contract {m} as hard as you can")
        out.append(Step(ev.onset_s, ev.duration_s, ev.label,
                        f"MVC {m.replace('_', ' ')} ({k}/{mvc.trials}): {cue}", countdown=True))
    return out


def _reference_steps(muscles: list[str], start_s: float) -> list["Step"]:
    """After the reps, so the rest of the layout (and the simulated person following it) is unchanged."""
    out = []
    for ev in reference_events(muscles, start_s):
        if ev.label == "rest":
            out.append(Step(ev.onset_s, ev.duration_s, "rest", "Relax"))
            continue
        m = ev.label.split(":", 1)[1]
        cue = REF_CUES.get(m, f"hold {m} gently, the same way every session")
        out.append(Step(ev.onset_s, ev.duration_s, ev.label,
                        f"Reference {m.replace('_', ' ')} ({REF_HOLD_S:g} s, not maximal): {cue}", countdown=True))
    return out


@dataclass(frozen=True)
class Step:
    onset_s: float
    duration_s: float
    label: str
    cue: str
    countdown: bool = False
    lower: str = ""

    @property
    def end_s(self) -> float:
        return self.onset_s + self.duration_s


PROTOCOLS = {
    p.name: p
    for p in (
        Protocol("prone_hip_extension", "Prone hip extension", "lie face down, knee bent 90°",
                 "squeeze the buttock, lift the thigh", "lower slowly",
                 plain="lift the thigh"),
        Protocol("bridge", "Glute bridge", "lie on your back, knees bent, feet flat",
                 "squeeze the buttocks, lift the hips", "roll down slowly",
                 plain="lift the hips"),
        Protocol("clamshell", "Clamshell", "lie on your side, hips and knees bent, heels together",
                 "open the top knee, keep the feet together", "close slowly",
                 plain="open the top knee, keep the feet together"),
        Protocol("side_lying_abduction", "Side-lying hip abduction", "lie on your side, bottom knee bent, top leg straight",
                 "lift the top leg up and slightly back", "lower slowly",
                 plain="lift the top leg up and slightly back"),
        Protocol("hip_thrust", "Hip thrust", "shoulders on the bench, feet flat, knees bent",
                 "drive through the heels, hips up to a straight line", "lower slowly",
                 plain="drive through the heels, hips up to a straight line"),
        Protocol("single_leg_deadlift", "Single-leg deadlift", "stand on the test leg, knee soft",
                 "hinge forward, then squeeze the buttock to stand up", "hinge forward again slowly",
                 plain="hinge forward, then stand up"),
    )
}


def get_protocol(name: str) -> Protocol:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise InputError(f"--protocol {name!r}: unknown (have {', '.join(PROTOCOLS)})") from None


def total_s(steps: list[Step]) -> float:
    return max(s.end_s for s in steps)


class GuidedSession:
    """A sink in front of the recorder and live view: passes every item on, and on each EMG block moves
    the protocol forward by the samples' own clock, emitting the step events to the same sinks.

    The board's own step announcements (``rest``/``mvc:*``/``exercise``/``rep`` STATUS events, and any label the
    guide's own steps carry, e.g. a simulated person's ``retest``/``cue:on``/``ref:*``) are not passed on while a
    protocol runs: the guide is what the person was asked to do; other events pass."""

    def __init__(self, steps: list[Step], fs_hz: float, sinks: list, console: Console | None = None) -> None:
        self.steps = sorted(steps, key=lambda s: s.onset_s)
        self.fs_hz = fs_hz
        self.sinks = sinks
        self.console = console or Console(stderr=True)
        self.origin: int | None = None
        self.now_s = 0.0
        self._next = 0  # index of the next step to begin
        self._own_labels = frozenset(BOARD_STEP_LABELS) | {s.label for s in self.steps}
        self._said: set[tuple[int, str]] = set()
        self.swallowed = 0
        self.done = False

    def _emit(self, ev: Event) -> None:
        for s in self.sinks:
            s.handle(ev)

    def handle(self, item) -> None:
        if isinstance(item, Event) and (item.label in self._own_labels or item.label.startswith("mvc:")):
            self.swallowed += 1
            return
        for s in self.sinks:
            s.handle(item)
        if isinstance(item, Block) and item.stream == "emg":
            if self.origin is None:
                self.origin = item.start
            self.advance((item.start + item.n_samples - self.origin) / self.fs_hz)

    def advance(self, now_s: float) -> None:
        """Everything due by ``now_s`` (sample time): step events, cues, countdown ticks."""
        self.now_s = now_s
        while self._next < len(self.steps) and self.steps[self._next].onset_s <= now_s + 1e-9:
            step = self.steps[self._next]
            self._emit(Event(round(step.onset_s, 6), step.duration_s, step.label))
            style = ("bold green" if step.label in ("rep", "exercise") else
                     "bold cyan" if step.label.startswith(("mvc:", "ref:")) else
                     "bold magenta" if step.label.startswith("cue:") else "bold")
            self.console.print(f"[{style}]▶ {step.cue}[/{style}]  [dim]({step.onset_s:.1f} s)[/dim]")
            self._next += 1
        # Countdown to the next step that asks for one, once per second of sample time.
        if self._next < len(self.steps):
            nxt = self.steps[self._next]
            left = nxt.onset_s - now_s
            k = math.ceil(left - 1e-9)
            if nxt.countdown and 1 <= k <= COUNTDOWN_S and (self._next, f"cd{k}") not in self._said:
                self._said.add((self._next, f"cd{k}"))
                self.console.print(f"   [yellow]{nxt.label.replace(':', ' ')} in {k}…[/yellow]")
        # The "lower" cue half-way through each rep.
        for i in range(max(0, self._next - 2), self._next):
            s = self.steps[i]
            if s.lower and now_s >= s.onset_s + s.duration_s * 0.6 and (i, "lower") not in self._said:
                self._said.add((i, "lower"))
                self.console.print(f"   [green]{s.lower}[/green]")
        if not self.done and now_s >= total_s(self.steps) - 1e-9:
            self.done = True
            self.console.print("[bold]✔ protocol complete[/bold]")

    def finish(self) -> None:
        """At the end of the session (also after Ctrl-C): mark where an unfinished protocol stopped."""
        if not self.done and self.origin is not None:
            self._emit(Event(round(self.now_s, 6), 0.0, "stopped"))
            self.console.print(f"[yellow]protocol stopped at {self.now_s:.1f} s; everything so far is kept[/yellow]")

    def close(self) -> None:
        self.finish()


# The MVC test position behind each muscle's reference (meta["mvc_positions"], analysis JSON ``mvc_positions``):
# the positions MVC_CUES describe. A %MVC taken in another position is not comparable (a hamstring MVC knee-flexed
# lowers the ratio; MISSION "Conventions that change the numbers"), so ``reengage trend`` warns when they differ.
MVC_POSITIONS = {
    "glute_max": "prone_knee_flexed_hip_extension",
    "glute_med": "side_lying_abduction",
    "hamstrings": "prone_knee_flexion_45",
    "erector_spinae": "prone_trunk_extension",
}
_POSITION_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


def mvc_positions(muscles: list[str], given: dict[str, str] | None = None, *, guided: bool = True) -> dict[str, str]:
    """Each recorded muscle's MVC test position: ``given`` (``record --mvc-position MUSCLE=POSITION``) over the
    guided protocol's own (:data:`MVC_POSITIONS`, only when ``guided``: an unguided session's MVCs were taken
    however the clinician chose); a muscle with neither is left out (unknown). A given muscle
    that is not recorded, or a position that is not a lower-case word (``a-z 0-9 _ -``), is an InputError."""
    given = dict(given or {})
    for m, pos in given.items():
        if m not in muscles:
            raise InputError(f"--mvc-position {m}={pos}: {m} is not among the recorded muscles "
                             f"({', '.join(muscles) or 'none'})")
        if not pos or not set(pos) <= _POSITION_CHARS:
            raise InputError(f"--mvc-position {m}={pos!r}: name the position in lower-case words joined by _, "
                             f"e.g. {MVC_POSITIONS.get(m, 'standing_squeeze')}")
    defaults = MVC_POSITIONS if guided else {}
    return {m: given.get(m, defaults.get(m)) for m in muscles if m in given or m in defaults}


REAPPLY_CUE = ("Retest: take the electrodes off, wipe the skin, and put new electrodes on the same marks; "
               "then the MVC trials and the reps again")


def retest_steps(protocol: Protocol, muscles: list[str], reps: int | None = None, **options) -> list[Step]:
    """A guided session with a test-retest block (``record --retest``): ``protocol``'s steps, then the electrodes
    re-applied (a timed ``retest:reapply`` step with a countdown) and the same steps again, shifted, inside one
    ``retest`` step; the layout is :func:`reengage.session_plan.retest_events`, which the simulated person follows.
    ``options`` go to :meth:`Protocol.steps` for both blocks."""
    first = protocol.steps(muscles, reps, **options)
    start = total_s(first)
    layout = retest_events([Event(s.onset_s, s.duration_s, s.label) for s in first], start)
    out = list(first)
    out.append(Step(start, layout[0].duration_s, RETEST, "Retest block: the same session again"))
    out.append(Step(start, RETEST_REAPPLY_S, RETEST_REAPPLY, REAPPLY_CUE))
    for s, ev in zip(first, layout[2:]):
        out.append(Step(ev.onset_s, s.duration_s, s.label, f"(retest) {s.cue}", countdown=s.countdown or
                        s is first[0], lower=s.lower))
    return out
