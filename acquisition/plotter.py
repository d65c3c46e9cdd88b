"""Arduino Serial Plotter text lines: a sans-I/O decoder for the sketches most hobbyists already run.

A Serial Plotter sketch prints one line per sample, values separated by commas, tabs or spaces, each
optionally labelled (``glute:512,ham:300``). There is no counter and no board clock, so:

* samples are timestamped on the host (the ``host_time_ns`` passed to :meth:`PlotterLineParser.feed`) and the
  rate is *estimated* (:attr:`PlotterStats.estimated_fs_hz`), never trusted;
* the first line after opening the port is always dropped: pyserial flushes the input on open, so it
  starts mid-line and ``23,512`` (the tail of ``1023,512``) would parse as a plausible, wrong sample;
* a line interrupted by a reset or an outage (its bytes straddle a silence longer than ``cut_gap_s``,
  or it does not parse, or it has the wrong number of values) is dropped and counted as one lost sample,
  so the sample index of the following lines stays right and the recording gets a gap, not a splice.

:class:`PlotterLineParser` turns bytes into rows of values; :class:`PlotterDecoder` puts them on the recording's
timeline as Blocks and Gaps: the :class:`~reengage.acquisition.decoder.BoardDecoder` of ``protocol = "plotter"``
boards. Like the binary protocol's, it never reads a port, never sleeps and never raises on any input.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from reengage.acquisition.boards import BoardConfig
from reengage.acquisition.decoder import DecodeStats
from reengage.model import Block, Gap, Item

_SPLIT = re.compile(rb"[,\t ;]+")
_MAX_LINE = 4096  # a "line" longer than this is binary noise or a wrong baud rate


@dataclass(frozen=True)
class PlotterChunk:
    """Consecutive samples: ``values`` (channels, n) float64, ``host_time_ns`` (n,) arrival times."""

    start: int
    values: np.ndarray
    host_time_ns: np.ndarray

    @property
    def n_samples(self) -> int:
        return int(self.values.shape[1])


@dataclass
class PlotterStats:
    lines: int = 0  # complete lines seen
    samples: int = 0  # lines decoded into samples
    partial_first: int = 0  # first line after open/reset, dropped on purpose
    text_lines: int = 0  # lines with no digits (banners, "Starting...")
    bad_lines: int = 0  # lines that do not parse (counted as lost samples)
    wrong_count: int = 0  # lines with the wrong number of values (counted as lost samples)
    cut_lines: int = 0  # lines split by a silence longer than cut_gap_s (counted as lost samples)
    overlong: int = 0  # runs of more than 4096 bytes without a newline
    bytes_in: int = 0
    estimated_fs_hz: float | None = None
    rate_estimated: bool = True  # always: text lines carry no board clock
    first_problem: str = ""

    @property
    def samples_lost(self) -> int:
        return self.bad_lines + self.wrong_count + self.cut_lines

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["samples_lost"] = self.samples_lost
        d["dropped"] = self.samples_lost  # lines lost: the plotter counterpart of dropped frames
        return d


class PlotterLineParser:
    """``feed(data, host_time_ns) -> list[PlotterChunk]``: text lines → rows of values, numbered.

    ``channels``: the names given with ``--channels``; each line must hold exactly that many values.
    If the lines are labelled with those very names, values are taken by label (order-free); any other
    labels are taken by position.
    """

    def __init__(self, channels: list[str], *, cut_gap_s: float = 0.25, drop_first_line: bool = True) -> None:
        if not channels:
            raise ValueError("plotter decoder needs at least one channel name")
        self._n = len(channels)
        self._pos = {name: i for i, name in enumerate(channels)}
        self.cut_gap_ns = int(cut_gap_s * 1e9)
        self._drop_first = drop_first_line
        self._buf = bytearray()
        self._last_byte_ns: int | None = None
        self._next_index = 0
        self._fit_t: list[int] = []  # (sample index, host time) pairs for the rate estimate
        self._fit_i: list[int] = []
        self.stats = PlotterStats()

    @property
    def next_index(self) -> int:
        return self._next_index

    def reset(self) -> None:
        """The port closed or the board restarted: the partial line is gone, and the next is partial."""
        if self._buf:
            self._lose("cut_lines", "line cut by a disconnect")
        self._buf.clear()
        self._drop_first = True
        self._last_byte_ns = None

    def _lose(self, counter: str, why: str) -> None:
        setattr(self.stats, counter, getattr(self.stats, counter) + 1)
        if not self.stats.first_problem:
            self.stats.first_problem = why
        self._next_index += 1

    def feed(self, data: bytes, host_time_ns: int) -> list[PlotterChunk]:
        st = self.stats
        st.bytes_in += len(data)
        if (
            self._buf
            and self._last_byte_ns is not None
            and host_time_ns - self._last_byte_ns > self.cut_gap_ns
        ):
            # The board went quiet mid-line (reset, cable): the line's tail belongs to another sample.
            self._buf.clear()
            if self._drop_first:
                self._drop_first = False
                st.partial_first += 1
            else:
                st.lines += 1
                self._lose("cut_lines", "line cut by a silence (board reset or unplug)")
        if data:
            self._last_byte_ns = host_time_ns
        self._buf += data
        buf = self._buf
        chunks: list[PlotterChunk] = []
        rows: list[list[float]] = []
        row_start = self._next_index
        start = 0
        while True:
            nl = -1
            for sep in (b"\n", b"\r"):
                k = buf.find(sep, start)
                if k >= 0 and (nl < 0 or k < nl):
                    nl = k
            if nl < 0:
                break
            line = bytes(buf[start:nl])
            start = nl + 1
            if not line.strip():
                continue  # "\r\n" yields an empty line between the separators
            st.lines += 1
            if self._drop_first:
                self._drop_first = False
                st.partial_first += 1
                continue
            values = self._parse(line)
            if values is None:
                if rows:
                    chunks.append(self._chunk(row_start, rows, host_time_ns))
                    rows = []
                row_start = self._next_index
                continue
            if not rows:
                row_start = self._next_index
            rows.append(values)
            self._next_index += 1
            st.samples += 1
        del buf[:start]
        if len(buf) > _MAX_LINE:
            st.overlong += 1
            if not self._drop_first:
                self._lose("bad_lines", "no newline in 4096 bytes (binary data or wrong baud rate?)")
            buf.clear()
        if rows:
            chunks.append(self._chunk(row_start, rows, host_time_ns))
        return chunks

    def _parse(self, line: bytes) -> list[float] | None:
        st = self.stats
        if not any(48 <= b <= 57 for b in line):
            st.text_lines += 1
            return None
        fields = [f for f in _SPLIT.split(line.strip()) if f]
        labels: list[str | None] = []
        values: list[float] = []
        try:
            for f in fields:
                label, colon, num = f.rpartition(b":")
                v = float(num)
                if not math.isfinite(v):
                    raise ValueError
                values.append(v)
                labels.append(label.decode("ascii") if colon else None)
        except (ValueError, UnicodeDecodeError):
            self._lose("bad_lines", f"unparsable line {line[:40]!r}")
            return None
        if len(values) != self._n:
            self._lose("wrong_count", f"line with {len(values)} values, expected {self._n}: {line[:40]!r}")
            return None
        if all(lb is not None and lb in self._pos for lb in labels) and len(set(labels)) == self._n:
            ordered = [0.0] * self._n
            for lb, v in zip(labels, values):
                ordered[self._pos[lb]] = v  # type: ignore[index]
            return ordered
        return values

    def _chunk(self, start: int, rows: list[list[float]], host_time_ns: int) -> PlotterChunk:
        n = len(rows)
        values = np.asarray(rows, dtype=np.float64).T.reshape(self._n, n)
        times = np.full(n, host_time_ns, dtype=np.int64)
        self._update_rate(start + n - 1, host_time_ns)
        return PlotterChunk(start, values, times)

    def _update_rate(self, last_index: int, host_time_ns: int) -> None:
        # Lines arrive in bursts (USB packets), so the rate is the slope of index vs arrival time over
        # the whole run, not 1/interval of the last two lines.
        self._fit_i.append(last_index)
        self._fit_t.append(host_time_ns)
        if len(self._fit_i) > 512:
            del self._fit_i[:256], self._fit_t[:256]
        if len(self._fit_i) >= 3:
            t = np.asarray(self._fit_t, dtype=np.float64) * 1e-9
            i = np.asarray(self._fit_i, dtype=np.float64)
            if t[-1] - t[0] > 0.05:
                slope = np.polyfit(t - t[0], i - i[0], 1)[0]
                if slope > 0:
                    self.stats.estimated_fs_hz = float(slope)


class PlotterDecoder:
    """Plotter bytes → Blocks and Gaps on the recording timeline: the
    :class:`~reengage.acquisition.decoder.BoardDecoder` of ``protocol = "plotter"`` boards."""

    sample_dtype = "<f4"  # sketches print floats as often as ADC counts: stored as printed
    origin_index = 0  # no board counter: the first line decoded is sample 0

    def __init__(self, board: BoardConfig) -> None:
        self.board = board
        self.fs_hz = board.emg.fs_hz
        self.lines = PlotterLineParser([c.name for c in board.emg.channels])
        self._offset = 0  # added to line indices after outages (host-clock estimates)
        self._next = 0
        self._last_host_ns: int | None = None
        self._disconnected = False
        self.stats = DecodeStats(self.lines.stats, samples={s: 0 for s in board.streams})

    def mark_disconnect(self, host_time_ns: int) -> None:
        self.lines.reset()
        self._disconnected = True

    def take_hellos(self) -> list[str]:
        return []  # text lines carry no HELLO: the board file is all there is to trust

    def feed(self, data: bytes, host_time_ns: int) -> list[Item]:
        out: list[Item] = []
        for ch in self.lines.feed(data, host_time_ns):
            start = ch.start + self._offset
            if self._disconnected and self._last_host_ns is not None:
                # No counter in text lines: the outage is measured on the host clock.
                elapsed_s = (host_time_ns - self._last_host_ns) * 1e-9
                est = max(0, int(round(elapsed_s * self.fs_hz)) - ch.n_samples)
                if self._next + est > start:
                    self._offset += self._next + est - start
                    start = self._next + est
            self._disconnected = False
            if start > self._next:
                lost = start - self._next
                why = ("plotter lines lost or unparsable" if lost <= 3
                       else "disconnected; samples lost estimated from the host clock")
                out.append(Gap("emg", self._next / self.fs_hz, lost / self.fs_hz, lost, why))
                self.stats.gaps += 1
                self.stats.samples_lost += lost
            out.append(Block("emg", start, ch.values.astype(np.float32), host_time_ns, None))
            self._next = start + ch.n_samples
            self._last_host_ns = host_time_ns
            self.stats.samples["emg"] += ch.n_samples
        return out
