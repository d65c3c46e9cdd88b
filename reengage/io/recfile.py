"""The reengage recording file (``.rgr``): append-only chunks, each with its own CRC-32.

Why this shape (see ``docs/recording-format.md``): a recorder that dies (``kill -9``, unplug, power loss)
leaves every chunk it flushed intact, so a reader recovers everything up to the last flush; a flipped
byte damages one chunk, which the reader reports with its byte offset and skips, resynchronising on the
next valid chunk. Samples are stored as the board sent them (int16 ADC counts) with per-channel scale
and offset in the header, so nothing is lost to conversion.

Layout::

    file   := MAGIC(16) chunk*
    chunk  := TAG(4 ASCII) LEN(u32 LE) PAYLOAD(LEN) CRC32(u32 LE, over TAG..PAYLOAD)
    HEAD   JSON: format version, software, board, subject, task, streams {name: fs_hz, dtype, channels}
    DATA   u8 stream id, u8 dtype code, u8 n_channels, u8 0, u64 first sample, u32 n, then the samples
           channel-major (n_channels x n), little-endian
    EVNT   JSON event {onset_s, duration_s, label}
    GAP_   JSON gap {stream, onset_s, duration_s, samples_lost, reason}
    META   JSON object merged into the header's ``meta`` (e.g. pain score entered at the end); the writer
           puts one ``{"time_origin": {"stream": "emg", "sample": N}}`` just before the first EMG DATA chunk
           so that losing that chunk does not shift the time base (files without it: origin = first EMG
           sample found)
    STAT   JSON acquisition statistics (decoder counts, clock fit), last one wins
    END_   JSON {samples: {stream: n}}: written by a clean close; its absence means "recovered"
"""

from __future__ import annotations

import json
import mmap
import os
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reengage import __version__
from reengage.errors import RecordingFormatError
from reengage.io import _rgr_schema as schema
from reengage.model import Channel, Event, Gap, Recording, Stream

MAGIC = b"\x89RGREC\r\n\x1a\n\x00\x01\x00\x00\x00\x00"  # PNG-style: catches text-mode mangling
FORMAT_VERSION = 1
EXTENSION = ".rgr"
TAGS = (b"HEAD", b"DATA", b"EVNT", b"GAP_", b"META", b"STAT", b"END_")
_CHUNK = struct.Struct("<4sI")
_DATA = struct.Struct("<BBBBQI")
DTYPES = {0: np.dtype("<i2"), 1: np.dtype("<f4"), 2: np.dtype("<f8"), 3: np.dtype("<i4")}
DTYPE_CODES = {v: k for k, v in DTYPES.items()}
MAX_CHUNK = 64 * 1024 * 1024
ORIGIN_REPEAT_S = 10.0
# What a reader may allocate for a file's sample arrays: gaps are filled, so a little more than the file, but
# never gigabytes from a few bytes (docs/recording-format.md, "What the reader trusts").
ALLOC_FACTOR = 16
ALLOC_FLOOR = 64 * 1024 * 1024


def _chunk(tag: bytes, payload: bytes) -> bytes:
    head = _CHUNK.pack(tag, len(payload))
    return head + payload + struct.pack("<I", zlib.crc32(payload, zlib.crc32(head)))


def _json(obj: dict) -> bytes:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()


@dataclass
class StreamSpec:
    """What the writer needs to know of a stream before the first sample."""

    name: str
    fs_hz: float
    channels: list[Channel]
    dtype: str = "<i2"

    def to_dict(self) -> dict:
        return {
            "fs_hz": self.fs_hz,
            "dtype": np.dtype(self.dtype).str,
            "channels": [c.to_dict() for c in self.channels],
        }


class RecordingWriter:
    """Append-only writer. Flushes to the OS after every chunk and ``fsync``s at least every
    ``sync_interval_s`` so that a crash loses at most that much (the brief: at most the last second).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        streams: list[StreamSpec],
        meta: dict | None = None,
        *,
        chunk_s: float = 0.25,
        sync_interval_s: float = 0.5,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "xb")
        self._specs = {s.name: s for s in streams}
        self._ids = {s.name: i for i, s in enumerate(streams)}
        self._pending: dict[str, list[tuple[int, np.ndarray]]] = {s.name: [] for s in streams}
        self._pending_n = {s.name: 0 for s in streams}
        self._chunk_samples = {s.name: max(1, int(round(s.fs_hz * chunk_s))) for s in streams}
        self.samples_written = {s.name: 0 for s in streams}
        self._next_index: dict[str, int | None] = {s.name: None for s in streams}
        self.origin_index: int | None = None
        self._origin_written_at: int | None = None
        self.sync_interval_s = sync_interval_s
        self._last_sync = time.monotonic()
        header = {
            "format": "reengage-recording",
            "format_version": FORMAT_VERSION,
            "software": f"reengage {__version__}",
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "meta": dict(meta or {}),
            "streams": {s.name: s.to_dict() for s in streams},
        }
        self._f.write(MAGIC)
        self._write(b"HEAD", _json(header))
        self.sync()
        self.closed = False

    def _write(self, tag: bytes, payload: bytes) -> None:
        self._f.write(_chunk(tag, payload))

    def write_block(self, stream: str, start: int, data: np.ndarray) -> None:
        """Queue samples (channels, n) whose first board index is ``start``; written in chunks."""
        spec = self._specs[stream]
        data = np.asarray(data)
        if data.ndim != 2 or data.shape[0] != len(spec.channels):
            raise ValueError(f"{stream}: expected ({len(spec.channels)}, n) samples, got {data.shape}")
        if stream == "emg" and self.origin_index is None:
            # The time origin gets its own chunk, ahead of the samples: if the first DATA chunk is later
            # damaged, event times and the other streams stay where they were. Repeated every
            # ORIGIN_REPEAT_S (55 bytes each) so one damaged copy is not enough to lose it.
            self.origin_index = int(start)
            self._write_origin()
        elif stream == "emg" and start - self._origin_written_at >= ORIGIN_REPEAT_S * spec.fs_hz:
            self._write_origin()
            self._origin_written_at = start
        nxt = self._next_index[stream]
        if nxt is not None and start != nxt:
            self._flush_stream(stream)  # a DATA chunk holds contiguous samples only
        self._pending[stream].append((start, data.astype(spec.dtype, copy=False)))
        self._pending_n[stream] += data.shape[1]
        self._next_index[stream] = start + data.shape[1]
        if self._pending_n[stream] >= self._chunk_samples[stream]:
            self._flush_stream(stream)
        self._maybe_sync()

    def _flush_stream(self, stream: str) -> None:
        parts = self._pending[stream]
        if not parts:
            return
        start = parts[0][0]
        data = np.concatenate([p[1] for p in parts], axis=1) if len(parts) > 1 else parts[0][1]
        spec = self._specs[stream]
        dt = np.dtype(spec.dtype)
        head = _DATA.pack(self._ids[stream], DTYPE_CODES[dt], data.shape[0], 0, start, data.shape[1])
        self._write(b"DATA", head + np.ascontiguousarray(data, dtype=dt).tobytes())
        self.samples_written[stream] += data.shape[1]
        self._pending[stream] = []
        self._pending_n[stream] = 0

    def _write_origin(self) -> None:
        if self._origin_written_at is None:
            self._origin_written_at = self.origin_index
        self._write(b"META", _json({"time_origin": {"stream": "emg", "sample": self.origin_index}}))

    def add_event(self, event: Event) -> None:
        self._write(b"EVNT", _json(event.to_dict()))
        self._maybe_sync()

    def add_gap(self, gap: Gap) -> None:
        self._write(b"GAP_", _json(gap.to_dict()))
        self._maybe_sync()

    def update_meta(self, meta: dict) -> None:
        self._write(b"META", _json(meta))
        self._maybe_sync()

    def write_stats(self, stats: dict) -> None:
        self._write(b"STAT", _json(stats))

    def _maybe_sync(self) -> None:
        if time.monotonic() - self._last_sync >= self.sync_interval_s:
            self.sync()

    def sync(self) -> None:
        """Write queued samples and force them to disk."""
        for name in self._pending:
            self._flush_stream(name)
        self._f.flush()
        os.fsync(self._f.fileno())
        self._last_sync = time.monotonic()

    def close(self) -> None:
        if self.closed:
            return
        for name in self._pending:
            self._flush_stream(name)
        self._write(b"END_", _json({"samples": self.samples_written}))
        self.sync()
        self._f.close()
        self.closed = True

    def __enter__(self) -> "RecordingWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def is_recording_file(path: str | os.PathLike) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC))[:6] == MAGIC[:6]
    except OSError:
        return False


class _Scanner:
    """Walks the chunks of a mapped file. After damage it resynchronises on the next tag whose chunk checks out.

    Linear in the file size whatever the damage holds: each tag is searched forward from where its last
    occurrence was found (never again over the same bytes), a candidate in damaged bytes must look like a chunk
    (a DATA header that adds up, a JSON object) before its CRC is computed, and the CRC work spent on candidates
    that fail is capped at a few times the file size. (Before, every resync searched the rest of the file for
    every tag: 1 MB of tag-like bytes took over 30 s.) ``work`` counts bytes searched and checksummed."""

    def __init__(self, buf: memoryview) -> None:
        self.buf = buf
        self.raw = buf.obj  # the mmap: find() without copying the rest of the file
        self.n = len(buf)
        self.work = 0
        self.abandoned = False  # the CRC work on failed candidates passed the budget
        self.crc_budget = 4 * self.n  # a candidate never claims more than the file: room for four of the largest
        self._next = {t: -1 for t in TAGS}  # per tag: last occurrence found (n: none after it)
        self._ahead = {t: -1 for t in TAGS}

    def next_tag(self, pos: int, cache: dict | None = None) -> int:
        """Offset of the first tag at or after ``pos`` (``n`` when none)."""
        cache = self._next if cache is None else cache
        best = self.n
        for t in TAGS:
            x = cache[t]
            if x < pos:
                x = self.raw.find(t, pos)
                self.work += (x if x >= 0 else self.n) - pos
                x = self.n if x < 0 else x
                cache[t] = x
            best = min(best, x)
        return best

    def check(self, pos: int, *, resync: bool) -> tuple[bytes, int, int] | None:
        """(tag, length, end) of an intact chunk at ``pos``; ``end`` > n for one running past the end."""
        buf, n = self.buf, self.n
        if n - pos < _CHUNK.size + 4:
            return None
        tag, length = _CHUNK.unpack_from(buf, pos)
        if tag not in TAGS or length > MAX_CHUNK:
            return None
        end = pos + _CHUNK.size + length + 4
        if end > n:
            return (tag, length, end)
        if resync and not _plausible(buf, tag, pos + _CHUNK.size, length):
            return None
        if self.crc_budget < length:
            self.abandoned = True
            return None
        self.work += length
        (crc,) = struct.unpack_from("<I", buf, end - 4)
        if crc == zlib.crc32(buf[pos:end - 4]):
            return (tag, length, end)
        self.crc_budget -= length
        return None

    def valid_chunk_after(self, start: int) -> bool:
        """True when some chunk with a matching CRC starts at or after ``start`` (the resync test)."""
        pos = start
        while True:
            pos = self.next_tag(pos, self._ahead)
            if pos >= self.n:
                return False
            hit = self.check(pos, resync=True)
            if hit is not None and hit[2] <= self.n:
                return True
            if self.abandoned:
                return False
            pos += 1


def _plausible(buf: memoryview, tag: bytes, off: int, length: int) -> bool:
    """Cheap shape test of a candidate found in damaged bytes, before its CRC is computed."""
    if tag == b"DATA":
        if length < _DATA.size:
            return False
        _, code, nch, pad, _, nsamp = _DATA.unpack_from(buf, off)
        return code in DTYPES and pad == 0 and length == _DATA.size + nch * nsamp * DTYPES[code].itemsize
    return length >= 2 and buf[off] == 0x7B  # "{": every other chunk is a JSON object


def _scan(buf: memoryview, path: Path, sc: _Scanner | None = None) -> tuple[list[tuple[bytes, int, int]], list[str], bool]:
    """Index every valid chunk as (tag, payload offset, length). Damaged chunks are reported by offset
    and skipped; the scan resynchronises on the next chunk whose CRC checks out."""
    sc = sc or _Scanner(buf)
    chunks: list[tuple[bytes, int, int]] = []
    problems: list[str] = []
    truncated = False
    pos = len(MAGIC)
    n = len(buf)
    damaged_at: int | None = None
    while pos < n and not sc.abandoned:
        if n - pos < _CHUNK.size + 4 and damaged_at is None:
            truncated = True
            problems.append(f"{path}: byte {pos}: file ends inside a chunk header; data up to it recovered")
            break
        hit = sc.check(pos, resync=damaged_at is not None)
        if hit is not None and hit[2] > n:
            if damaged_at is None and not sc.valid_chunk_after(pos + 1) and not sc.abandoned:
                # An incomplete last chunk is what a crash mid-write leaves. (A length that runs past the end
                # with intact chunks after it is a flipped length byte: damage, resync below.)
                truncated = True
                problems.append(
                    f"{path}: byte {pos}: last {hit[0].decode()} chunk incomplete "
                    f"({n - pos} of {hit[2] - pos} bytes); data up to it recovered"
                )
                break
            hit = None
        if hit is not None:
            if damaged_at is not None:
                problems.append(f"{path}: bytes {damaged_at}-{pos - 1}: damaged (checksum mismatch), skipped")
                damaged_at = None
            chunks.append((hit[0], pos + _CHUNK.size, hit[1]))
            pos = hit[2]
            continue
        if damaged_at is None:
            damaged_at = pos
        pos = sc.next_tag(pos + 1)  # resync on the next tag
    if sc.abandoned:
        problems.append(f"{path}: byte {pos}: too many chunk-like bytes after damage; resynchronisation abandoned")
    if damaged_at is not None:
        problems.append(f"{path}: bytes {damaged_at}-{n - 1}: damaged (checksum mismatch), skipped")
    return chunks, problems, truncated


def read_recording(path: str | os.PathLike, *, streams: list[str] | None = None) -> Recording:
    """Read a ``.rgr`` file. Damaged or truncated files give what is intact, with ``integrity`` set
    and the byte offsets of the damage in ``problems``. Samples lost in gaps are filled with the
    channel's zero level (``offset``) and listed in ``gaps``, never hidden."""
    path = Path(path)
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise RecordingFormatError(f"{path}: no such file") from None
    except OSError as e:
        raise RecordingFormatError(f"{path}: cannot open ({e.strerror})") from None
    with f:
        size = os.fstat(f.fileno()).st_size
        if size < len(MAGIC) or f.read(6) != MAGIC[:6]:
            raise RecordingFormatError(f"{path}: not a reengage recording (bad magic at byte 0)")
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        mv = memoryview(mm)
        try:
            return _parse(mv, path, streams)
        finally:
            mv.release()
            mm.close()


@dataclass
class _Contents:
    """What the chunks after the header say, each already checked against the schema."""

    meta: dict
    events: list[Event]
    gaps: list[Gap]
    parts: dict[str, list[tuple[int, int, int, int]]]  # stream: (first sample, n, dtype code, payload offset)
    ended: bool = False
    origin_at: int = 0  # byte offset of the chunk that gave the time origin


def _parse(buf: memoryview, path: Path, want: list[str] | None) -> Recording:
    chunks, problems, truncated = _scan(buf, path)
    if not chunks or chunks[0][0] != b"HEAD":
        raise RecordingFormatError(f"{path}: byte {len(MAGIC)}: header chunk missing or damaged")
    head = _header(buf, path, chunks[0])
    specs = head["streams"]
    c = _contents(buf, path, chunks, head, problems)
    meta = c.meta
    origin = meta.pop("time_origin", None)
    origin_index = origin["sample"] if origin is not None else None
    if origin_index is None and c.parts["emg"]:
        origin_index = min(p[0] for p in c.parts["emg"])
    fs_emg = float(specs["emg"]["fs_hz"])
    origin_s = (origin_index / fs_emg) if origin_index is not None else 0.0
    names = [n for n in specs if want is None or n in want or n == "emg"]
    spans = {n: _span(c.parts[n], origin_index if n == "emg" else None) for n in names}
    _check_allocation(path, len(buf), specs, spans, c)
    out = {name: _stream(buf, name, specs[name], c.parts[name], spans[name], origin_s, c.gaps) for name in names}
    integrity = "ok"
    if truncated or not c.ended:
        integrity = "recovered"
        if not c.ended and not truncated:
            problems.append(
                f"{path}: byte {len(buf)}: file ends without an END_ chunk (recorder did not close cleanly); "
                "data up to the last flush recovered"
            )
    if any("damaged" in p for p in problems):
        integrity = "damaged"
    return Recording(
        streams=out,
        meta=meta,
        events=sorted(c.events, key=lambda e: e.onset_s),
        gaps=c.gaps,
        integrity=integrity,
        problems=problems,
        source=str(path),
    )


def _header(buf: memoryview, path: Path, chunk: tuple[bytes, int, int]) -> dict:
    """The header's streams, checked (a header that breaks the schema is the one unrecoverable case)."""
    _, off, length = chunk
    try:
        head = schema.header(schema.load(bytes(buf[off : off + length])))
    except RecordingFormatError as e:
        raise RecordingFormatError(f"{path}: byte {off - _CHUNK.size}: header chunk unusable: {e}") from None
    return head


def _contents(buf: memoryview, path: Path, chunks: list, head: dict, problems: list[str]) -> _Contents:
    """Walk the chunks after the header; a chunk that breaks the schema is skipped and named (``damaged``)."""
    specs = head["streams"]
    names = list(specs)
    meta, dropped = schema.meta(head.get("meta") or {}, "header.meta")
    problems += [f"{path}: byte {chunks[0][1] - _CHUNK.size}: HEAD: {d}, ignored (damaged)" for d in dropped]
    meta = dict(meta)
    meta.setdefault("created_utc", head.get("created_utc"))
    meta["software"] = head.get("software")
    c = _Contents(meta, [], [], {n: [] for n in names})
    stats: dict = {}
    for tag, off, length in chunks[1:]:
        at = off - _CHUNK.size
        if tag == b"DATA":
            part = _data_part(buf, off, length, names, specs)
            if part is None:
                # A CRC-valid chunk that contradicts the header: written by something else; never guess.
                problems.append(f"{path}: byte {at}: DATA chunk does not match the header (damaged), skipped")
            else:
                c.parts[names[part[0]]].append(part[1:])
            continue
        if tag == b"END_":
            c.ended = True
            continue
        try:
            d = schema.load(bytes(buf[off : off + length]))
            if tag == b"EVNT":
                c.events.append(Event(*schema.event(d)))
            elif tag == b"GAP_":
                c.gaps.append(Gap(*schema.gap(d, specs)))
            elif tag == b"META":
                update, dropped = schema.meta(schema.obj(d, "META"), "META")
                problems += [f"{path}: byte {at}: META: {x}, ignored (damaged)" for x in dropped]
                if "time_origin" in update:
                    c.origin_at = at
                c.meta.update(update)
            elif tag == b"STAT":
                stats = schema.stats(d)
        except RecordingFormatError as e:
            problems.append(f"{path}: byte {at}: {tag.decode()} chunk unusable ({e}), skipped (damaged)")
    if stats:
        c.meta["acquisition"] = stats
    return c


def _data_part(buf: memoryview, off: int, length: int, names: list[str], specs: dict):
    """(stream id, first sample, n, dtype code, samples offset) of a DATA chunk that agrees with the header."""
    if length < _DATA.size:
        return None
    sid, code, nch, _, first, nsamp = _DATA.unpack_from(buf, off)
    ok = sid < len(names) and code in DTYPES and nch == len(specs[names[sid]]["channels"])
    # The length is what bounds the sample count: a chunk never claims more samples than its bytes hold.
    if not ok or length != _DATA.size + nch * nsamp * DTYPES[code].itemsize or first >= schema.MAX_INDEX:
        return None
    return sid, first, nsamp, code, off + _DATA.size


def _span(parts: list, origin_index: int | None) -> tuple[int, int] | None:
    """(first, last) sample index a stream's array covers; None for a stream with no samples."""
    if not parts:
        return None
    first = min(p[0] for p in parts)
    if origin_index is not None and origin_index < first:
        first = origin_index  # the first chunk(s) were lost: keep t = 0 at the origin, fill, list as a gap
    return first, max(p[0] + p[1] for p in parts)


def _check_allocation(path: Path, size: int, specs: dict, spans: dict, c: _Contents) -> None:
    """Refuse a file whose sample indices ask for more memory than its size can justify, before allocating.

    A stream's array runs from its first to its last sample index; gaps inside are filled. Real gaps (an
    unplugged cable) make it larger than the samples stored, but not by more than ``ALLOC_FACTOR`` × the file
    (or ``ALLOC_FLOOR`` for a short file): a bigger span is a corrupt or crafted sample index."""
    budget = max(ALLOC_FLOOR, ALLOC_FACTOR * size)
    total = 0
    for name, span in spans.items():
        if span is None:
            continue
        width = len(specs[name]["channels"]) * np.dtype(specs[name]["dtype"]).itemsize + 1  # + the "have" mask
        total += (span[1] - span[0]) * width
        if total <= budget:
            continue
        at, field, value = _outlier(c, name, span)
        fs = float(specs[name]["fs_hz"])
        raise RecordingFormatError(
            f"{path}: byte {at}: {field} {value} puts {span[1] - span[0]} samples "
            f"({(span[1] - span[0]) / fs / 3600:.1f} h) in stream {name}, more than a {size}-byte file can hold "
            "(a corrupt sample counter)"
        )


def _outlier(c: _Contents, name: str, span: tuple[int, int]) -> tuple[int, str, int]:
    """What to name when a span is impossible: the time origin when it lies before every sample, else the DATA
    chunk whose index lies farthest from the stream's first chunk in the file (where the recorder started)."""
    parts = c.parts[name]
    if span[0] < min(p[0] for p in parts):
        return c.origin_at, "META time_origin.sample", span[0]
    far = max(parts, key=lambda p: abs(p[0] - parts[0][0]))
    return far[3] - _DATA.size - _CHUNK.size, "DATA first sample index", far[0]


def _stream(buf: memoryview, name: str, spec: dict, parts: list, span, origin_s: float, gaps: list[Gap]) -> Stream:
    channels = [Channel.from_dict(ch) for ch in spec["channels"]]
    dt = np.dtype(spec["dtype"])
    fs = float(spec["fs_hz"])
    if span is None:
        return Stream(name, fs, channels, np.zeros((len(channels), 0), dt))
    first, last = span
    fill = np.array([round(ch.offset) if dt.kind == "i" else ch.offset for ch in channels], dtype=dt)
    data = np.empty((len(channels), last - first), dtype=dt)
    have = np.zeros(last - first, dtype=bool)
    for start, nsamp, code, off in parts:
        block = np.frombuffer(buf, dtype=DTYPES[code], count=nsamp * len(channels), offset=off)
        data[:, start - first : start - first + nsamp] = block.reshape(len(channels), nsamp)
        del block  # release the view on the mmap before it closes
        have[start - first : start - first + nsamp] = True
    if not have.all():
        data[:, ~have] = fill[:, None]
        _note_unlisted_holes(name, have, first / fs - origin_s, fs, gaps)
    return Stream(name, fs, channels, data, first_sample=first, t0_s=first / fs - origin_s)


def _note_unlisted_holes(stream: str, have: np.ndarray, t0_s: float, fs: float, gaps: list[Gap]) -> None:
    """Holes with no GAP_ chunk (a damaged DATA chunk) become gaps too, so no loss goes unreported."""
    edges = np.flatnonzero(np.diff(np.r_[1, have.astype(np.int8), 1]))
    listed = {(g.stream, round(g.onset_s * fs)) for g in gaps}
    for a, b in zip(edges[::2], edges[1::2]):
        onset = t0_s + a / fs
        if (stream, round(onset * fs)) not in listed:
            gaps.append(Gap(stream, float(onset), float((b - a) / fs), int(b - a), "damaged or missing data chunk"))


@dataclass(frozen=True)
class ChunkRef:
    """Where one intact chunk lies in a file: ``offset`` of its tag, ``payload`` offset and ``length``."""

    tag: str
    offset: int
    payload: int
    length: int


def scan_chunks(path: str | os.PathLike) -> tuple[list[ChunkRef], list[str]]:
    """The intact chunks of a ``.rgr`` file and the problems found, without decoding any samples.

    Touches each page once (for the CRC) through an mmap and holds nothing: this is what opening an
    hour-long file costs before any samples are asked for (``bench/bench_recordings.py``)."""
    path = Path(path)
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size < len(MAGIC) or f.read(6) != MAGIC[:6]:
            raise RecordingFormatError(f"{path}: not a reengage recording (bad magic at byte 0)")
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        mv = memoryview(mm)
        try:
            chunks, problems, _ = _scan(mv, path)
        finally:
            mv.release()
            mm.close()
    return [ChunkRef(t.decode(), off - _CHUNK.size, off, n) for t, off, n in chunks], problems
