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


def _scan(buf: memoryview, path: Path) -> tuple[list[tuple[bytes, int, int]], list[str], bool]:
    """Index every valid chunk as (tag, payload offset, length). Damaged chunks are reported by offset
    and skipped; the scan resynchronises on the next chunk whose CRC checks out."""
    chunks: list[tuple[bytes, int, int]] = []
    problems: list[str] = []
    truncated = False
    pos = len(MAGIC)
    n = len(buf)
    damaged_at: int | None = None
    while pos < n:
        ok = False
        if n - pos >= _CHUNK.size + 4:
            tag, length = _CHUNK.unpack_from(buf, pos)
            if tag in TAGS and length <= MAX_CHUNK:
                end = pos + _CHUNK.size + length + 4
                if end <= n:
                    (crc,) = struct.unpack_from("<I", buf, end - 4)
                    if crc == zlib.crc32(buf[pos:end - 4]):
                        ok = True
                elif damaged_at is None and not _valid_chunk_after(buf, pos + 1):
                    # An incomplete last chunk is what a crash mid-write leaves. (A length that runs past
                    # the end with intact chunks after it is a flipped length byte: damage, resync below.)
                    truncated = True
                    problems.append(
                        f"{path}: byte {pos}: last {tag.decode()} chunk incomplete "
                        f"({n - pos} of {end - pos} bytes); data up to it recovered"
                    )
                    break
        elif damaged_at is None:
            truncated = True
            problems.append(f"{path}: byte {pos}: file ends inside a chunk header; data up to it recovered")
            break
        if ok:
            if damaged_at is not None:
                problems.append(
                    f"{path}: bytes {damaged_at}-{pos - 1}: damaged (checksum mismatch), skipped"
                )
                damaged_at = None
            chunks.append((tag, pos + _CHUNK.size, length))
            pos = end
            continue
        if damaged_at is None:
            damaged_at = pos
        raw = buf.obj  # the mmap: find() without copying the rest of the file
        nxt = [x for x in (raw.find(t, pos + 1) for t in TAGS) if x >= 0]  # resync on the next tag
        if not nxt:
            break
        pos = min(nxt)
    if damaged_at is not None:
        problems.append(f"{path}: bytes {damaged_at}-{n - 1}: damaged (checksum mismatch), skipped")
    return chunks, problems, truncated


def _valid_chunk_after(buf: memoryview, start: int) -> bool:
    """True when some chunk with a matching CRC starts at or after ``start`` (the resync test)."""
    raw = buf.obj
    n = len(buf)
    pos = start
    while True:
        cands = [x for x in (raw.find(t, pos) for t in TAGS) if x >= 0]
        if not cands:
            return False
        pos = min(cands)
        if n - pos >= _CHUNK.size + 4:
            tag, length = _CHUNK.unpack_from(buf, pos)
            end = pos + _CHUNK.size + length + 4
            if length <= MAX_CHUNK and end <= n:
                (crc,) = struct.unpack_from("<I", buf, end - 4)
                if crc == zlib.crc32(buf[pos:end - 4]):
                    return True
        pos += 1


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


def _parse(buf: memoryview, path: Path, want: list[str] | None) -> Recording:
    chunks, problems, truncated = _scan(buf, path)
    if not chunks or chunks[0][0] != b"HEAD":
        raise RecordingFormatError(f"{path}: byte {len(MAGIC)}: header chunk missing or damaged")
    header = json.loads(bytes(buf[chunks[0][1] : chunks[0][1] + chunks[0][2]]))
    specs = header["streams"]
    names = list(specs)
    meta = dict(header.get("meta", {}))
    meta.setdefault("created_utc", header.get("created_utc"))
    meta["software"] = header.get("software")
    events: list[Event] = []
    gaps: list[Gap] = []
    stats: dict = {}
    ended = False
    data_chunks: dict[str, list[tuple[int, int, int, int]]] = {n: [] for n in names}
    for tag, off, length in chunks[1:]:
        if tag == b"DATA":
            sid, code, nch, _, first, nsamp = _DATA.unpack_from(buf, off)
            ok = sid < len(names) and code in DTYPES and nch == len(specs[names[sid]]["channels"])
            if not ok or length != _DATA.size + nch * nsamp * DTYPES[code].itemsize:
                # A CRC-valid chunk that contradicts the header: written by something else; never guess.
                problems.append(f"{path}: byte {off - _CHUNK.size}: DATA chunk does not match the header (damaged), skipped")
                continue
            data_chunks[names[sid]].append((first, nsamp, code, off + _DATA.size))
        elif tag == b"EVNT":
            d = json.loads(bytes(buf[off : off + length]))
            events.append(Event(float(d["onset_s"]), float(d["duration_s"]), str(d["label"])))
        elif tag == b"GAP_":
            d = json.loads(bytes(buf[off : off + length]))
            gaps.append(Gap(d["stream"], d["onset_s"], d["duration_s"], int(d["samples_lost"]), d.get("reason", "")))
        elif tag == b"META":
            meta.update(json.loads(bytes(buf[off : off + length])))
        elif tag == b"STAT":
            stats = json.loads(bytes(buf[off : off + length]))
        elif tag == b"END_":
            ended = True
    if stats:
        meta["acquisition"] = stats
    out: dict[str, Stream] = {}
    if "emg" not in specs:
        raise RecordingFormatError(f"{path}: no EMG stream in the header")
    emg_parts = data_chunks["emg"]
    # Time origin: the first EMG sample received (written in its own META chunk since this version; older
    # files: the first EMG sample found); other streams are placed by the board's clock.
    origin = meta.pop("time_origin", None)
    origin_index = None
    if isinstance(origin, dict) and isinstance(origin.get("sample"), int):
        origin_index = origin["sample"]
    elif emg_parts:
        origin_index = min(p[0] for p in emg_parts)
    origin_s = (origin_index / float(specs["emg"]["fs_hz"])) if origin_index is not None else 0.0
    for name in names:
        if want is not None and name not in want and name != "emg":
            continue
        spec = specs[name]
        channels = [Channel.from_dict(c) for c in spec["channels"]]
        dt = np.dtype(spec["dtype"])
        parts = data_chunks[name]
        if not parts:
            out[name] = Stream(name, float(spec["fs_hz"]), channels, np.zeros((len(channels), 0), dt))
            continue
        first = min(p[0] for p in parts)
        if name == "emg" and origin_index is not None and origin_index < first:
            first = origin_index  # the first chunk(s) were lost: keep t = 0 at the origin, fill, list as a gap
        last = max(p[0] + p[1] for p in parts)
        fill = np.array([round(c.offset) if dt.kind == "i" else c.offset for c in channels], dtype=dt)
        data = np.empty((len(channels), last - first), dtype=dt)
        have = np.zeros(last - first, dtype=bool)
        for start, nsamp, code, off in parts:
            block = np.frombuffer(buf, dtype=DTYPES[code], count=nsamp * len(channels), offset=off)
            data[:, start - first : start - first + nsamp] = block.reshape(len(channels), nsamp)
            del block  # release the view on the mmap before it closes
            have[start - first : start - first + nsamp] = True
        if not have.all():
            data[:, ~have] = fill[:, None]
            _note_unlisted_holes(name, have, first / float(spec["fs_hz"]) - origin_s, float(spec["fs_hz"]), gaps)
        out[name] = Stream(
            name, float(spec["fs_hz"]), channels, data, first_sample=first,
            t0_s=first / float(spec["fs_hz"]) - origin_s,
        )
    integrity = "ok"
    if truncated or not ended:
        integrity = "recovered"
        if not ended and not truncated:
            problems.append(
                f"{path}: byte {len(buf)}: file ends without an END_ chunk (recorder did not close cleanly); "
                "data up to the last flush recovered"
            )
    if any("damaged" in p for p in problems):
        integrity = "damaged"
    return Recording(
        streams=out,
        meta=meta,
        events=sorted(events, key=lambda e: e.onset_s),
        gaps=gaps,
        integrity=integrity,
        problems=problems,
        source=str(path),
    )


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
