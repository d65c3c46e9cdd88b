"""From bytes to the data model: the board file picks its decoder, which turns the link's bytes into
Blocks, Gaps and Events in the recording's time base (the interface: :mod:`reengage.acquisition.decoder`).

board ─bytes→ transport ─bytes→ decoder (:class:`V1Decoder`, plotter) ─items→ sinks (recorder, live, LSL)
"""

from __future__ import annotations

from reengage.acquisition.boards import BoardConfig, StreamConfig
from reengage.acquisition.decoder import BoardDecoder, DecodeStats
from reengage.acquisition.plotter import PlotterDecoder
from reengage.acquisition.protocol import (FRAME_TYPES, TYPE_EMG, TYPE_HELLO, TYPE_IMU, TYPE_STATUS, Frame,
                                          FrameDecoder)
from reengage.model import Block, Event, Gap, Item


class V1Decoder:
    """Wire protocol v1 (``PROTOCOL.md``): :class:`FrameDecoder` finds the frames, this turns them into Blocks
    per stream and detects lost samples from each stream's sample index (a :class:`BoardDecoder`).

    Time origin: the first EMG sample received (``origin_index``); a STATUS event that arrives before any
    EMG frame waits until the origin is known.
    """

    sample_dtype = "<i2"  # ADC counts as the board read them
    board_speed = 1.0  # board clock / host clock (a simulated board may run faster); the acquisition sets it

    def __init__(self, board: BoardConfig) -> None:
        self.board = board
        self.frames = FrameDecoder()
        self._next: dict[str, int | None] = {s: None for s in board.streams}
        self._rebase: dict[str, int] = {s: 0 for s in board.streams}
        self.origin_index: int | None = None
        self._pending_events: list[tuple[int, str]] = []
        # Each stream's last frame: (recording index, board T_US, host arrival ns), to judge the next jump.
        self._last: dict[str, tuple[int, int, int]] = {}
        self._resets_seen = 0  # FrameDecoder resets (SEQ restart, HELLO at SEQ 0) already accounted for
        # Streams not heard from since mark_disconnect: each one's first gap after a reconnect is the outage,
        # whichever stream's frame arrives first.
        self._disconnected: set[str] = set()
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
        self._resets_seen = self.frames.stats.resets
        self._last[name] = (idx, f.t_us, host_time_ns)
        self._disconnected.discard(name)
        out.append(Block(name, idx, f.samples.copy(), host_time_ns, f.t_us))
        self._next[name] = idx + f.n_samples
        self.stats.samples[name] += f.n_samples

    def _gap(self, cfg: StreamConfig, f: Frame, idx: int, nxt: int, host_time_ns: int, out: list[Item]) -> int:
        """The frame's index ``idx`` is not the expected ``nxt``: a real gap (exact, the board kept counting),
        a board restart (its counters went back: the loss is estimated from the host clock) or a counter fault
        (a jump the board clock and the host clock contradict: re-anchored). Returns the frame's index."""
        name = cfg.name
        last_idx, last_t_us, last_ns = self._last[name]
        host_s = max(0, host_time_ns - last_ns) * 1e-9 * self.board_speed
        board_s = _board_elapsed_s(last_t_us, f.t_us, host_s)
        span = nxt - last_idx  # the previous frame's samples
        counted = idx - nxt
        restarted = self.frames.stats.resets != self._resets_seen
        if restarted or counted < 0 and not _within_host(board_s, host_s):
            # The board restarted its counter (reset, or power lost with the cable): its SEQ or HELLO said so,
            # or its clock went back with it. Its own count is gone, so the loss is estimated from the host
            # clock: the time between the last sample before and this frame's last sample, minus this frame.
            elapsed_s = (host_time_ns - last_ns) * 1e-9
            lost = max(0, int(round(elapsed_s * cfg.fs_hz)) - f.n_samples)
            self.stats.restarts += 1
            why = "board restarted; samples lost estimated from the host clock"
        elif counted > 0 and _plausible(counted + span, board_s, host_s, cfg.fs_hz):
            lost = counted
            why = ("disconnected (samples counted by the board)" if name in self._disconnected
                   else "frames lost (sample counter jumped)")
        else:
            lost = self._counter_fault(cfg, f, idx, nxt, span, board_s, host_s)
            why = "sample counter fault; samples lost estimated from the board clock"
        self._rebase[name] += nxt + lost - idx
        idx = nxt + lost
        if lost:
            out.append(Gap(name, self._t(name, nxt), lost / cfg.fs_hz, lost, why))
            self.stats.gaps += 1
            self.stats.samples_lost += lost
        return idx

    def _counter_fault(self, cfg: StreamConfig, f: Frame, idx: int, nxt: int, span: int, board_s: float | None,
                       host_s: float) -> int:
        """A jump of the sample counter that neither clock backs: keep the samples, put them where the board
        clock says (the host clock if the board's is unusable too), note it; returns the samples lost."""
        elapsed_s = board_s if _within_host(board_s, host_s) else host_s
        lost = max(0, int(round(elapsed_s * cfg.fs_hz)) - span)
        if lost <= _tolerance(elapsed_s, cfg.fs_hz):
            lost = 0  # the frame follows on: jitter, not a loss
        raw = (idx - nxt) & 0xFFFFFFFF
        by_link = self.frames.stats.samples_lost  # the frame layer, without clocks, took any jump for a loss
        key = FRAME_TYPES[f.type]
        if 0 < raw < 0x80000000 and by_link.get(key, 0) >= raw:
            by_link[key] -= raw
        if lost:
            by_link[key] = by_link.get(key, 0) + lost
        st = self.stats
        st.counter_faults += 1
        if len(st.counter_fault_log) < MAX_FAULT_LOG:
            st.counter_fault_log.append({"stream": cfg.name, "onset_s": round(self._t(cfg.name, nxt), 6),
                                         "counter_jump": idx - nxt, "board_index": f.sample_index,
                                         "samples_lost_estimated": lost})
        return lost

    def mark_disconnect(self, host_time_ns: int) -> None:
        """The link dropped: the partial frame goes, SEQ/SAMPLE_INDEX tracking stays. After a reconnect the
        next frame's index tells how much was lost (exactly if the board kept counting, estimated from the
        host clock if it restarted); the Gap says which."""
        self.frames.reset()
        self._disconnected = set(self.board.streams)

    def take_hellos(self) -> list[str]:
        out, self._new_hellos = self._new_hellos, []
        return out


MAX_FAULT_LOG = 20  # counter faults described one by one in STAT; beyond that only counted
_HOST_SLACK_S = 5.0  # a frame read late (buffered) makes the host interval shorter than the board's
_HOST_SLACK_REL = 0.10
_BOARD_TOL_S = 0.002  # sampling jitter and micros() resolution between the board clock and its counter
_BOARD_TOL_REL = 0.01  # a sketch's real rate vs its nominal one
_T_US_WRAP = 1 << 32


def _board_elapsed_s(t0_us: int, t1_us: int, host_s: float) -> float | None:
    """Seconds between two frames by the board's ``micros()`` (wraps every 71.6 min: the number of wraps is
    the one nearest the host clock). None when the board clock does not run (T_US constant, e.g. 0)."""
    d = (t1_us - t0_us) % _T_US_WRAP
    if d == 0:
        return None
    wraps = max(0, round((host_s * 1e6 - d) / _T_US_WRAP))
    return (d + wraps * _T_US_WRAP) * 1e-6


def _tolerance(elapsed_s: float, fs_hz: float) -> float:
    return (_BOARD_TOL_REL * elapsed_s + _BOARD_TOL_S) * fs_hz + 1


def _within_host(board_s: float | None, host_s: float) -> bool:
    """A running board clock whose interval could have passed in ``host_s`` (board seconds)."""
    return board_s is not None and board_s <= host_s * (1 + _HOST_SLACK_REL) + _HOST_SLACK_S


def _plausible(advance: int, board_s: float | None, host_s: float, fs_hz: float) -> bool:
    """Whether the counter advancing by ``advance`` samples between two frames' first samples agrees with the
    board clock (when it runs) and is possible in the host time that passed (``host_s``, in board seconds)."""
    if advance > (host_s * (1 + _HOST_SLACK_REL) + _HOST_SLACK_S) * fs_hz:
        return False
    return board_s is None or abs(advance - board_s * fs_hz) <= _tolerance(board_s, fs_hz)


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
