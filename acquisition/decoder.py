"""The one shape every board decoder has: bytes in, the recording's items out (sans-I/O, like ``h11``).

::

    board ─bytes→ transport ─bytes→ BoardDecoder.feed ─Blocks, Gaps, Events→ sinks (recorder, live, LSL)

The board file's ``protocol`` picks the decoder once (:func:`~reengage.acquisition.pipeline.decoder_for_board`):
``reengage-v1`` → :class:`~reengage.acquisition.pipeline.V1Decoder` (binary frames, ``PROTOCOL.md``),
``plotter`` → :class:`~reengage.acquisition.plotter.PlotterDecoder` (Arduino Serial Plotter text lines).
The acquisition loop, the recorder and the session use only this interface and never ask which one it is.

A decoder never reads a port, never sleeps and never raises on any bytes: serial, BLE and tests feed it
the same way, and hypothesis fuzzes it with random bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from reengage.acquisition.boards import BoardConfig
from reengage.model import Item


class LinkStats(Protocol):
    """What the byte-level parser saw and dropped (frames or lines); ``to_dict()['dropped']`` is its loss."""

    def to_dict(self) -> dict: ...


@dataclass
class DecodeStats:
    """Counts every decoder keeps, in the recording's STAT chunk (``reengage info``).

    ``link``: the byte-level parser's own counts (:class:`~reengage.acquisition.protocol.DecoderStats` or
    :class:`~reengage.acquisition.plotter.PlotterStats`); ``samples``: samples passed on per stream;
    ``gaps``/``samples_lost``: the Gaps emitted and the samples they cover; ``unknown_layout``: frames of a
    layout the board file lacks (ignored); ``restarts``: board restarts seen (counters went backwards);
    ``counter_faults``: sample counter jumps the board clock and the host clock both contradict (a firmware bug
    or an undetected corruption), re-anchored instead of taken as gaps, the first few described in
    ``counter_fault_log``.
    """

    link: LinkStats
    samples: dict[str, int]
    gaps: int = 0
    samples_lost: int = 0
    unknown_layout: int = 0
    restarts: int = 0
    counter_faults: int = 0
    counter_fault_log: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "decoder": self.link.to_dict(),
            "samples": dict(self.samples),
            "gaps": self.gaps,
            "samples_lost": self.samples_lost,
            "unknown_layout_frames": self.unknown_layout,
            "board_restarts": self.restarts,
            "counter_faults": self.counter_faults,
            "counter_fault_log": list(self.counter_fault_log),
        }


class BoardDecoder(Protocol):
    """The interface of every board decoder.

    ``board``: the board file it decodes for. ``sample_dtype``: how the recorder stores its samples
    (``"<i2"`` ADC counts, ``"<f4"`` values as a sketch printed them). ``origin_index``: the EMG sample
    index the recording's time 0 is at (None until the first EMG sample). ``stats``: :class:`DecodeStats`.
    """

    board: BoardConfig
    sample_dtype: str
    origin_index: int | None
    stats: DecodeStats

    def feed(self, data: bytes, host_time_ns: int) -> list[Item]:
        """Bytes as they arrived (any split) and the host monotonic time they arrived at → Blocks (in the
        recording's sample index), Gaps (samples known lost) and Events, in order."""
        ...

    def mark_disconnect(self, host_time_ns: int) -> None:
        """The link dropped: a partial frame or line is discarded; when data flows again the outage becomes a
        Gap (exact if the board kept counting, else estimated from the host clock)."""
        ...

    def take_hellos(self) -> list[str]:
        """HELLO payloads (PROTOCOL.md §3) first seen since the last call, each distinct payload once, for the
        caller to check against the board file. Empty for a protocol without HELLO."""
        ...
