"""Replay: a saved recording as a source like any board (``shared/STYLE.md``: recording file → reader →
Blocks → the same sinks).

Items go out in the order a board would have produced them: each stream in blocks of ``block_s`` seconds,
stamped with the time its last sample was taken; events at their onset; gaps where the samples were lost
(samples inside a gap are *not* sent, as they never arrived live). ``speed`` paces the items against the
wall clock (1 = real time); ``None`` ("max") sends as fast as the sinks take them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from reengage.model import Block, Event, Gap, Item, Recording, Stream


def _gap_mask(rec: Recording, s: Stream) -> np.ndarray:
    lost = np.zeros(s.n_samples, bool)
    for g in rec.gaps:
        if g.stream == s.name:
            a = int(round((g.onset_s - s.t0_s) * s.fs_hz))
            lost[max(0, a) : max(0, a + g.samples_lost)] = True
    return lost


def iter_items(rec: Recording, block_s: float = 0.05) -> Iterator[tuple[float, Item]]:
    """``(t_s, item)`` in time order, ``t_s`` in seconds from the recording origin."""
    queue: list[tuple[float, int, int, Item]] = []
    seq = 0

    def push(t: float, order: int, item: Item) -> None:
        nonlocal seq
        queue.append((t, order, seq, item))
        seq += 1

    for s in rec.streams.values():
        if s.n_samples == 0:
            continue
        per = max(1, int(round(block_s * s.fs_hz)))
        lost = _gap_mask(rec, s)
        # Contiguous runs of samples that arrived, cut into blocks.
        edges = np.flatnonzero(np.diff(np.r_[0, (~lost).astype(np.int8), 0]))
        for a, b in zip(edges[::2], edges[1::2]):
            for i in range(a, b, per):
                j = min(b, i + per)
                push(s.t0_s + j / s.fs_hz, 1, Block(s.name, s.first_sample + i, s.data[:, i:j]))
    for g in rec.gaps:
        push(g.onset_s + g.duration_s, 0, g)  # known when data flows again, before the next block
    for e in rec.events:
        push(e.onset_s, 2, e)
    queue.sort(key=lambda x: (x[0], x[1], x[2]))
    for t, _, _, item in queue:
        yield t, item


@dataclass
class ReplayStats:
    items: int = 0
    samples: int = 0
    recording_s: float = 0.0
    wall_s: float = 0.0
    interrupted: bool = False

    @property
    def speed_x(self) -> float:
        return self.recording_s / self.wall_s if self.wall_s > 0 else float("inf")


def replay(
    rec: Recording,
    sinks: list,
    *,
    speed: float | None = None,
    block_s: float = 0.05,
    on_progress: Callable[[float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ReplayStats:
    """Feed ``rec`` through ``sinks`` (objects with ``handle(item)`` and ``close()``); sinks are closed at
    the end, also on Ctrl-C (then ``stats.interrupted`` is set and the KeyboardInterrupt re-raised after)."""
    stats = ReplayStats(recording_s=rec.duration_s)
    t0 = clock()
    last_progress = t0
    try:
        for t, item in iter_items(rec, block_s):
            if speed is not None:
                # An event marked after the last sample is sent with it, not waited for.
                ahead = min(t, stats.recording_s) / speed - (clock() - t0)
                if ahead > 0:
                    sleep(ahead)
            for s in sinks:
                s.handle(item)
            stats.items += 1
            if isinstance(item, Block) and item.stream == "emg":
                stats.samples += item.n_samples
            if on_progress is not None and clock() - last_progress > 0.1:
                on_progress(t)
                last_progress = clock()
    except KeyboardInterrupt:
        stats.interrupted = True
    finally:
        stats.wall_s = clock() - t0
        for s in sinks:
            s.close()
    if stats.interrupted:
        raise KeyboardInterrupt
    return stats


class CollectSink:
    """Builds a Recording back from the items, as a live consumer would see them: samples that never
    arrived are filled with the channel's zero level and listed as gaps (like the file reader does)."""

    def __init__(self, template: Recording) -> None:
        self.template = template
        self.blocks: dict[str, list[Block]] = {n: [] for n in template.streams}
        self.events: list[Event] = []
        self.gaps: list[Gap] = []
        self.recording: Recording | None = None

    def handle(self, item: Item) -> None:
        if isinstance(item, Block):
            self.blocks[item.stream].append(item)
        elif isinstance(item, Gap):
            self.gaps.append(item)
        elif isinstance(item, Event):
            self.events.append(item)

    def close(self) -> None:
        streams = {}
        origin_s = None
        for name, tpl in self.template.streams.items():
            blocks = self.blocks[name]
            if not blocks:
                streams[name] = Stream(name, tpl.fs_hz, tpl.channels, tpl.data[:, :0].copy(), tpl.first_sample, tpl.t0_s)
                continue
            first = min(b.start for b in blocks)
            last = max(b.start + b.n_samples for b in blocks)
            if name == "emg":
                origin_s = first / tpl.fs_hz
            fill = np.array([c.offset for c in tpl.channels], dtype=np.float64)
            if tpl.data.dtype.kind == "i":
                fill = np.round(fill)
            data = np.empty((len(tpl.channels), last - first), tpl.data.dtype)
            data[:] = fill.astype(tpl.data.dtype)[:, None]
            for b in blocks:
                data[:, b.start - first : b.start - first + b.n_samples] = b.data
            streams[name] = Stream(name, tpl.fs_hz, tpl.channels, data, first, 0.0)
        for name, s in streams.items():
            if s.n_samples:
                s.t0_s = s.first_sample / s.fs_hz - (origin_s or 0.0) if name != "emg" else 0.0
        self.recording = Recording(
            streams=streams, meta=dict(self.template.meta), events=list(self.events), gaps=list(self.gaps),
            integrity=self.template.integrity, problems=list(self.template.problems),
            source=f"replay of {self.template.source}",
        )


def parse_speed(text: str) -> float | None:
    """``1``, ``10``, ``2.5`` → that factor; ``max`` → None (as fast as possible)."""
    from reengage.errors import InputError

    if str(text).strip().lower() in ("max", "inf", "0"):
        return None
    try:
        v = float(text)
    except ValueError:
        raise InputError(f"--speed {text!r}: expected a factor like 1 or 10, or 'max'") from None
    if not v > 0:
        raise InputError(f"--speed {text!r}: must be > 0 (or 'max')")
    return v



def _register(out_dir, recorder, console) -> None:
    """``--out``: the new recording is analysed and catalogued in the data root it was written to, through the
    same path as a recorded session (:func:`reengage.batch.catalog_recording`)."""
    if recorder is None:
        return
    from pathlib import Path

    from reengage.batch import catalog_recording

    console.print(f"re-recorded → {recorder.path}")
    catalog_recording(Path(out_dir), Path(recorder.path), console=console)


LSL_WAIT_S = 10.0  # replay --lsl: how long the replay waits for an LSL inlet before it starts anyway


def _lsl_sink(rec: Recording, speed: float | None, console, wait_s: float = LSL_WAIT_S):
    """The LSL outlets of ``replay --lsl``, once an inlet has subscribed (or ``wait_s`` passed): an
    inlet gets only the samples pushed after it connected, and a fast replay would be over before a tool
    found the streams (the start of the recording lost to LabRecorder or any inlet)."""
    from reengage.acquisition.lsl import sink_for_recording

    sink = sink_for_recording(rec, speed)
    waiting = f"waiting up to {wait_s:g} s for an inlet" if wait_s > 0 else "starting without waiting for an inlet"
    console.print(f"LSL: publishing {', '.join(sink.outlets)} and events as {sink.source_id}:…; {waiting}",
                  markup=False, highlight=False)
    if wait_s > 0 and not sink.wait_for_consumers(wait_s):
        console.print("LSL: no inlet connected; replaying anyway", markup=False, highlight=False)
    return sink


def run_replay(path, speed_text: str, *, out_dir=None, live: bool | None = None, analyze_result: bool = False,
               console=None, lsl: bool = False, lsl_wait_s: float = LSL_WAIT_S) -> dict | None:
    """The ``reengage replay`` command: recording → sinks (re-recorder, live view, collector).

    ``live=None``: publish to the live view when paced (``--speed 1``/``10``); at ``max`` a viewer could not
    follow and the JSON encoding of every sample would dominate the run, so only when asked."""
    from pathlib import Path

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn

    from reengage.io import load_recording

    console = console or Console(stderr=True)
    speed = parse_speed(speed_text)
    rec = load_recording(path)
    sinks: list = []
    collector = CollectSink(rec) if analyze_result else None
    if collector is not None:
        sinks.append(collector)
    recorder = None
    if out_dir is not None:
        target = Path(out_dir) / f"{Path(path).stem}-replay.rgr"
        n = 1
        while target.exists():
            target = Path(out_dir) / f"{Path(path).stem}-replay-{n}.rgr"
            n += 1
        from reengage.acquisition.recorder import Recorder

        recorder = Recorder.for_recording(target, rec, {**rec.meta, "replayed_from": rec.source})
        sinks.append(recorder)
    if lsl:
        sinks.append(_lsl_sink(rec, speed, console, lsl_wait_s))
    if live or (live is None and speed is not None):
        from reengage.acquisition.live import LiveSink

        sinks.append(LiveSink(rec.emg.channels, rec.emg.fs_hz, session=str(rec.source), state="replaying",
                              subject=rec.meta.get("subject"), task=rec.meta.get("task")))
    label = "max" if speed is None else f"{speed:g}×"
    console.print(f"replaying {path} ({rec.duration_s:.1f} s) at {label}")
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:.1f} s"),
                  console=console, transient=True) as progress:
        bar = progress.add_task("replay", total=rec.duration_s)
        try:
            stats = replay(rec, sinks, speed=speed, on_progress=lambda t: progress.update(bar, completed=t))
        except KeyboardInterrupt:
            console.print("stopped by Ctrl-C")
            _register(out_dir, recorder, console)  # what was re-recorded is kept, as `record` keeps it
            return None
    console.print(f"replayed {stats.recording_s:.1f} s in {stats.wall_s:.2f} s ({stats.speed_x:.0f}× real time)")
    _register(out_dir, recorder, console)
    if collector is not None:
        from reengage.analysis import analyze

        return analyze(collector.recording)
    return None
