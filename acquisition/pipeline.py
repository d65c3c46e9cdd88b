"""From frames to the data model: Blocks, Gaps and Events in the recording's time base, fed to sinks.

board ─bytes→ transport ─bytes→ decoder ─frames→ :class:`FrameAssembler` ─items→ sinks (recorder, live DSP)
"""

from __future__ import annotations

from dataclasses import dataclass
from reengage.acquisition.boards import BoardConfig
from reengage.acquisition.protocol import TYPE_EMG, TYPE_IMU, TYPE_STATUS, Frame
from reengage.model import Block, Event, Gap, Item


@dataclass
class AssemblerStats:
    samples: dict
    gaps: int = 0
    samples_lost: int = 0
    unknown_layout: int = 0
    restarts: int = 0


class FrameAssembler:
    """Turns frames into Blocks per stream and detects lost samples from each stream's sample index.

    Time origin: the first EMG sample received (``origin_index``); a STATUS event that arrives before any
    EMG frame waits until the origin is known.
    """

    def __init__(self, board: BoardConfig) -> None:
        self.board = board
        self._next: dict[str, int | None] = {s: None for s in board.streams}
        self._rebase: dict[str, int] = {s: 0 for s in board.streams}
        self.origin_index: int | None = None
        self._pending_events: list[tuple[int, str]] = []
        self._last_host_ns: dict[str, int] = {}  # arrival time of each stream's last block
        self._disconnected_ns: int | None = None  # set by mark_disconnect until data flows again
        self.stats = AssemblerStats(samples={s: 0 for s in board.streams})

    def _t(self, stream: str, index: int) -> float:
        fs = self.board.streams[stream].fs_hz
        origin_s = (self.origin_index or 0) / self.board.emg.fs_hz
        return index / fs - origin_s

    def feed(self, frames: list[Frame], host_time_ns: int = 0) -> list[Item]:
        out: list[Item] = []
        for f in frames:
            if f.type in (TYPE_EMG, TYPE_IMU):
                cfg = self.board.stream_for_layout(f.layout_id)
                if cfg is None or f.n_channels != len(cfg.channels):
                    self.stats.unknown_layout += 1
                    continue
                name = cfg.name
                idx = f.sample_index + self._rebase[name]
                nxt = self._next[name]
                if name == "emg" and self.origin_index is None:
                    self.origin_index = idx
                if nxt is not None and idx != nxt:
                    outage = self._disconnected_ns is not None
                    if idx > nxt:
                        lost = idx - nxt
                        why = "disconnected (samples counted by the board)" if outage else "frames lost (sample counter jumped)"
                    else:
                        # The board restarted its counter (reset, or power lost with the cable). Its own
                        # count is gone, so the loss is estimated from the host clock: the time between
                        # the last sample before and this frame's last sample, minus this frame.
                        elapsed_s = (host_time_ns - self._last_host_ns.get(name, host_time_ns)) * 1e-9
                        lost = max(0, int(round(elapsed_s * cfg.fs_hz)) - f.n_samples)
                        self._rebase[name] += nxt + lost - idx
                        idx = nxt + lost
                        self.stats.restarts += 1
                        why = "board restarted; samples lost estimated from the host clock"
                    if lost:
                        out.append(Gap(name, self._t(name, nxt), lost / cfg.fs_hz, lost, why))
                        self.stats.gaps += 1
                        self.stats.samples_lost += lost
                self._last_host_ns[name] = host_time_ns
                self._disconnected_ns = None
                out.append(Block(name, idx, f.samples.copy(), host_time_ns, f.t_us))
                self._next[name] = idx + f.n_samples
                self.stats.samples[name] += f.n_samples
            elif f.type == TYPE_STATUS:
                self._pending_events.append((f.sample_index + self._rebase["emg"], f.text))
        if self._pending_events and self.origin_index is not None:
            for idx, text in self._pending_events:
                ev = parse_status_event(text, self._t("emg", idx))
                if ev is not None:
                    out.append(ev)
            self._pending_events.clear()
        return out

    def mark_disconnect(self, host_time_ns: int = 0) -> None:
        """The link dropped. After a reconnect the next frame's index tells how much was lost (exactly if
        the board kept counting, estimated from the host clock if it restarted); the Gap says which."""
        self._disconnected_ns = host_time_ns or 1


def parse_status_event(text: str, onset_s: float) -> Event | None:
    """STATUS payload ``event=<label>;duration_s=<s>`` → Event; other status payloads → None."""
    fields = dict(kv.split("=", 1) for kv in text.split(";") if "=" in kv)
    if "event" not in fields:
        return None
    try:
        duration = float(fields.get("duration_s", 0.0))
    except ValueError:
        duration = 0.0
    return Event(round(onset_s, 6), duration, fields["event"])
