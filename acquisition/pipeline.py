"""From bytes to the data model: the board file picks its decoder, which turns the link's bytes into
Blocks, Gaps and Events in the recording's time base (the interface: :mod:`reengage.acquisition.decoder`).

board ─bytes→ transport ─bytes→ decoder (:class:`V1Decoder`, plotter) ─items→ sinks (recorder, live, LSL)
"""

from __future__ import annotations

from reengage.acquisition.boards import BoardConfig, StreamConfig
from reengage.acquisition.decoder import BoardDecoder, DecodeStats
from reengage.acquisition.plotter import PlotterDecoder
from reengage.acquisition.protocol import TYPE_EMG, TYPE_HELLO, TYPE_IMU, TYPE_STATUS, Frame, FrameDecoder
from reengage.model import Block, Event, Gap, Item


class V1Decoder:
    """Wire protocol v1 (``PROTOCOL.md``): :class:`FrameDecoder` finds the frames, this turns them into Blocks
    per stream and detects lost samples from each stream's sample index (a :class:`BoardDecoder`).

    Time origin: the first EMG sample received (``origin_index``); a STATUS event that arrives before any
    EMG frame waits until the origin is known.
    """

    sample_dtype = "<i2"  # ADC counts as the board read them

    def __init__(self, board: BoardConfig) -> None:
        self.board = board
        self.frames = FrameDecoder()
        self._next: dict[str, int | None] = {s: None for s in board.streams}
        self._rebase: dict[str, int] = {s: 0 for s in board.streams}
        self.origin_index: int | None = None
        self._pending_events: list[tuple[int, str]] = []
        self._last_host_ns: dict[str, int] = {}  # arrival time of each stream's last block
        self._disconnected = False  # set by mark_disconnect until data flows again
        self._hellos_seen: set[str] = set()
        self._new_hellos: list[str] = []
        self.stats = DecodeStats(self.frames.stats, samples={s: 0 for s in board.streams})

    def _t(self, stream: str, index: int) -> float:
        fs = self.board.streams[stream].fs_hz
        origin_s = (self.origin_index or 0) / self.board.emg.fs_hz
        return index / fs - origin_s

    def feed(self, data: bytes, host_time_ns: int) -> list[Item]:
        out: list[Item] = []
        for f in self.frames.feed(data):
            if f.type in (TYPE_EMG, TYPE_IMU):
                self._samples(f, host_time_ns, out)
            elif f.type == TYPE_STATUS:
                self._pending_events.append((f.sample_index + self._rebase["emg"], f.text))
            elif f.type == TYPE_HELLO and f.payload not in self._hellos_seen:
                self._hellos_seen.add(f.payload)
                self._new_hellos.append(f.text)
        if self._pending_events and self.origin_index is not None:
            for idx, text in self._pending_events:
                ev = parse_status_event(text, self._t("emg", idx))
                if ev is not None:
                    out.append(ev)
            self._pending_events.clear()
        return out

    def _samples(self, f: Frame, host_time_ns: int, out: list[Item]) -> None:
        """An EMG/IMU frame → a Block on the recording's index, after a Gap if samples went missing."""
        cfg = self.board.stream_for_layout(f.layout_id)
        if cfg is None or f.n_channels != len(cfg.channels):
            self.stats.unknown_layout += 1
            return
        name = cfg.name
        idx = f.sample_index + self._rebase[name]
        nxt = self._next[name]
        if name == "emg" and self.origin_index is None:
            self.origin_index = idx
        if nxt is not None and idx != nxt:
            idx = self._gap(cfg, f, idx, nxt, host_time_ns, out)
        self._last_host_ns[name] = host_time_ns
        self._disconnected = False
        out.append(Block(name, idx, f.samples.copy(), host_time_ns, f.t_us))
        self._next[name] = idx + f.n_samples
        self.stats.samples[name] += f.n_samples

    def _gap(self, cfg: StreamConfig, f: Frame, idx: int, nxt: int, host_time_ns: int, out: list[Item]) -> int:
        """The frame's index ``idx`` is not the expected ``nxt``: emit the Gap; returns the frame's index."""
        name = cfg.name
        if idx > nxt:
            lost = idx - nxt
            why = ("disconnected (samples counted by the board)" if self._disconnected
                   else "frames lost (sample counter jumped)")
        else:
            # The board restarted its counter (reset, or power lost with the cable). Its own count is gone,
            # so the loss is estimated from the host clock: the time between the last sample before and
            # this frame's last sample, minus this frame.
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
        return idx

    def mark_disconnect(self, host_time_ns: int) -> None:
        """The link dropped: the partial frame goes, SEQ/SAMPLE_INDEX tracking stays. After a reconnect the
        next frame's index tells how much was lost (exactly if the board kept counting, estimated from the
        host clock if it restarted); the Gap says which."""
        self.frames.reset()
        self._disconnected = True

    def take_hellos(self) -> list[str]:
        out, self._new_hellos = self._new_hellos, []
        return out


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


DECODERS: dict[str, type] = {"reengage-v1": V1Decoder, "plotter": PlotterDecoder}  # board.protocol → decoder


def decoder_for_board(board: BoardConfig) -> BoardDecoder:
    """The decoder for the board file's ``protocol`` (validated by :func:`~reengage.acquisition.boards.load_board`)."""
    return DECODERS[board.protocol](board)
