"""Wire protocol v1: sans-I/O frame encoder and decoder (see ``firmware_configs/PROTOCOL.md``).

The decoder is a plain object in the style of ``h11``: ``feed(bytes)`` returns the frames completed so far
and keeps counts of everything it dropped and why. It never reads a port, never sleeps and never raises on
any input, so serial, BLE and file readers share it unchanged and it can be fuzzed with random bytes.

Frame layout (little-endian)::

    0   2  SYNC          A5 5A
    2   1  VER_TYPE      high nibble protocol version (1), low nibble frame type
    3   1  LEN           payload bytes, 0..227 (a whole frame fits one BLE notification at MTU 247)
    4   2  SEQ           frame counter over all frame types, wraps at 65536
    6   4  SAMPLE_INDEX  board index of the frame's first sample in its stream (uint32)
    10  4  T_US          board clock (micros()) at the first sample (uint32, wraps)
    14  1  LAYOUT        high nibble layout id, low nibble number of interleaved channels
    15  LEN PAYLOAD      n_samples x channels int16, interleaved sample by sample
    15+LEN 2 CRC16       CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over VER_TYPE..PAYLOAD
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

SYNC = b"\xa5\x5a"
VERSION = 1
HEADER = struct.Struct("<2sBBHIIB")
HEADER_SIZE = HEADER.size  # 15
CRC_SIZE = 2
MAX_PAYLOAD = 227

TYPE_EMG = 0
TYPE_IMU = 1
TYPE_STATUS = 2
TYPE_HELLO = 3
FRAME_TYPES = {TYPE_EMG: "emg", TYPE_IMU: "imu", TYPE_STATUS: "status", TYPE_HELLO: "hello"}


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE; ``crc16(b"123456789") == 0x29B1``. AVR: ``_crc_ccitt_update``-compatible."""
    return binascii.crc_hqx(data, 0xFFFF)


class Frame(NamedTuple):
    """One decoded frame. ``samples`` is (channels, n) int16 for EMG/IMU frames, else empty.

    A named tuple, not a dataclass: the decoder builds one per frame, and a frozen dataclass costs more
    to construct than the rest of the frame's decoding.
    """

    type: int
    seq: int
    sample_index: int
    t_us: int
    layout_id: int
    n_channels: int
    payload: bytes

    @property
    def samples(self) -> np.ndarray:
        if self.n_channels == 0:
            return np.zeros((0, 0), dtype=np.int16)
        a = np.frombuffer(self.payload, dtype="<i2")
        return a.reshape(-1, self.n_channels).T

    @property
    def n_samples(self) -> int:
        return len(self.payload) // (2 * self.n_channels) if self.n_channels else 0

    @property
    def text(self) -> str:
        """Payload as text, for HELLO and STATUS frames."""
        return self.payload.decode("utf-8", errors="replace")


def encode_frame(
    frame_type: int,
    seq: int,
    sample_index: int,
    t_us: int,
    payload: bytes | np.ndarray,
    *,
    n_channels: int = 0,
    layout_id: int = 0,
) -> bytes:
    """Encode one frame. ``payload`` may be an int16 array shaped (channels, n): it is interleaved."""
    if isinstance(payload, np.ndarray):
        if payload.ndim != 2:
            raise ValueError("sample payload must be shaped (channels, samples)")
        n_channels = payload.shape[0]
        payload = np.ascontiguousarray(payload.T, dtype="<i2").tobytes()
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    if not 0 <= n_channels <= 15 or not 0 <= layout_id <= 15:
        raise ValueError("n_channels and layout_id must be 0..15")
    body = HEADER.pack(
        SYNC,
        (VERSION << 4) | (frame_type & 0x0F),
        len(payload),
        seq & 0xFFFF,
        sample_index & 0xFFFFFFFF,
        t_us & 0xFFFFFFFF,
        (layout_id << 4) | n_channels,
    ) + payload
    return body + struct.pack("<H", crc16(body[2:]))


@dataclass
class DecoderStats:
    """What the decoder saw. ``dropped`` counts frames lost (by SEQ), attributed to a reason.

    Reasons: ``crc`` (a frame arrived corrupted), ``truncated`` (a frame was cut short and the next one
    began inside it, e.g. a board reset mid-frame), ``header`` (a corrupted header), ``lost`` (no damaged
    bytes arrived at all: the frame never reached the host). ``sum(dropped_by_reason) == seq_gaps``.
    ``crc_errors`` and ``bad_header`` count rejected candidate frames, which includes SYNC look-alikes
    inside garbage, so they can exceed the frames lost.
    """

    frames: int = 0
    bytes_in: int = 0
    bytes_skipped: int = 0
    crc_errors: int = 0
    bad_header: int = 0
    other_version: int = 0  # candidates rejected only because of their version nibble
    seq_gaps: int = 0  # frames missing according to the SEQ counter
    resets: int = 0  # board restarts seen (SEQ went backwards / HELLO with SEQ 0)
    truncated_tail: int = 0  # partial frames discarded by reset() (a link dropped mid-frame)
    dropped_by_reason: dict[str, int] = field(default_factory=dict)
    samples_lost: dict[str, int] = field(default_factory=dict)  # by stream, from SAMPLE_INDEX jumps

    def _drop(self, reason: str, n: int = 1) -> None:
        self.dropped_by_reason[reason] = self.dropped_by_reason.get(reason, 0) + n

    @property
    def dropped(self) -> int:
        return sum(self.dropped_by_reason.values())

    def to_dict(self) -> dict:
        return {
            "frames": self.frames,
            "bytes_in": self.bytes_in,
            "bytes_skipped": self.bytes_skipped,
            "crc_errors": self.crc_errors,
            "bad_header": self.bad_header,
            "other_version": self.other_version,
            "seq_gaps": self.seq_gaps,
            "resets": self.resets,
            "truncated_tail": self.truncated_tail,
            "dropped": self.dropped,
            "dropped_by_reason": dict(self.dropped_by_reason),
            "samples_lost": dict(self.samples_lost),
        }


# A SEQ jump this large (half the counter) is a board restart, not 30 000 lost frames.
_SEQ_RESET = 0x8000
_SAMPLE_TYPES = (TYPE_EMG, TYPE_IMU)
_NO_DAMAGE: tuple = ()


class FrameDecoder:
    """Incremental decoder: ``feed(data) -> list[Frame]``. Never raises on any bytes.

    Two stages per call: :meth:`_find_frames` scans the bytes for frames that pass the header and CRC
    checks and notes every rejected candidate as damage; :meth:`_account` then counts what the good frames
    say is missing (SEQ gaps attributed to that damage, samples missing by SAMPLE_INDEX).

    A bad frame (CRC or header) costs one byte of rescanning, so a damaged frame never takes its
    successor with it; missing frames are counted from the SEQ counter and attributed to the damage
    seen in between; samples missing from each stream are counted from SAMPLE_INDEX.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._base = 0  # stream offset of _buf[0]
        self._last_seq: int | None = None
        self._next_index: dict[int, int] = {}  # frame type -> expected SAMPLE_INDEX of the next frame
        # Rejected candidates since the last good frame: [reason, start, claimed end] in stream offsets.
        self._damage: list[list] = []
        self.stats = DecoderStats()

    def feed(self, data: bytes) -> list[Frame]:
        self.stats.bytes_in += len(data)
        self._buf += data
        return self._account(self._find_frames())

    def _find_frames(self) -> list[tuple]:
        """Scan the buffer: every whole frame with a valid header and CRC, as (type, seq, sample index,
        t_us, layout byte, payload, damage seen since the previous good frame). Consumes what it passed."""
        buf, stats, base = self._buf, self.stats, self._base
        n = len(buf)
        pos = 0
        found: list[tuple] = []
        while True:
            start = buf.find(SYNC, pos)
            if start < 0:
                keep = 1 if n and buf[-1] == 0xA5 else 0  # maybe the first half of the next SYNC
                stats.bytes_skipped += (n - keep) - pos
                pos = n - keep
                break
            stats.bytes_skipped += start - pos
            pos = start
            if n - pos < HEADER_SIZE:
                break
            _, ver_type, length, seq, sample_index, t_us, layout = HEADER.unpack_from(buf, pos)
            ftype = ver_type & 0x0F
            nch = layout & 0x0F
            if (ver_type >> 4) != VERSION or ftype not in FRAME_TYPES or length > MAX_PAYLOAD or (
                ftype in _SAMPLE_TYPES and (nch == 0 or length % (2 * nch))
            ):
                self._reject_header(ver_type, length, base + pos)
                pos += 1
                continue
            end = pos + HEADER_SIZE + length + CRC_SIZE
            if end > n:
                break
            if buf[end - 2] | (buf[end - 1] << 8) != binascii.crc_hqx(memoryview(buf)[pos + 2 : end - 2], 0xFFFF):
                self._reject("crc", base + pos, base + end)
                pos += 1
                continue
            found.append((ftype, seq, sample_index, t_us, layout, bytes(buf[pos + HEADER_SIZE : end - 2]),
                          self._take_damage(base + pos)))
            pos = end
        del buf[:pos]
        self._base += pos
        return found

    def _reject_header(self, ver_type: int, length: int, start: int) -> None:
        ftype = ver_type & 0x0F
        if (ver_type >> 4) not in (VERSION, 0) and ftype in FRAME_TYPES and length <= MAX_PAYLOAD:
            self.stats.other_version += 1
        self._reject("header", start, start + HEADER_SIZE)

    def _reject(self, reason: str, start: int, end: int) -> None:
        """A candidate at stream offset ``start`` failed its check: it costs one byte, and is damage."""
        self.stats.bytes_skipped += 1
        if reason == "crc":
            self.stats.crc_errors += 1
        else:
            self.stats.bad_header += 1
        dmg = self._damage
        if dmg and start < dmg[-1][2]:
            # A SYNC inside a rejected candidate: usually a look-alike in its bytes. If it passed the
            # header check and reaches past the outer candidate, it is a real frame and the outer one
            # was cut short.
            if reason == "crc" and end > dmg[-1][2]:
                dmg[-1][0] = "truncated"
                dmg.append([reason, start, end])
            return
        dmg.append([reason, start, end])

    def _take_damage(self, start: int) -> list[list] | tuple:
        """The damage since the last good frame, handed to the good frame at ``start`` and forgotten."""
        dmg = self._damage
        if not dmg:
            return _NO_DAMAGE
        if start < dmg[-1][2]:
            dmg[-1][0] = "truncated"  # this frame began inside a rejected one: that one was cut
        self._damage = []
        return dmg

    def _account(self, found: list[tuple]) -> list[Frame]:
        """Good frames in order: SEQ gaps (attributed to the damage before each frame), board restarts,
        samples missing per stream by SAMPLE_INDEX."""
        stats = self.stats
        next_index = self._next_index
        out: list[Frame] = []
        for ftype, seq, sample_index, t_us, layout, payload, damage in found:
            last = self._last_seq
            if last is not None and (seq - last - 1) & 0xFFFF:
                self._seq_gap((seq - last - 1) & 0xFFFF, damage, ftype == TYPE_HELLO and seq == 0)
            self._last_seq = seq
            nch = layout & 0x0F
            if ftype in _SAMPLE_TYPES:
                expect = next_index.get(ftype)
                if expect is not None:
                    jump = (sample_index - expect) & 0xFFFFFFFF
                    if 0 < jump < 0x80000000:
                        name = FRAME_TYPES[ftype]
                        stats.samples_lost[name] = stats.samples_lost.get(name, 0) + jump
                next_index[ftype] = (sample_index + len(payload) // (2 * nch)) & 0xFFFFFFFF
            out.append(Frame(ftype, seq, sample_index, t_us, layout >> 4, nch, payload))
        stats.frames += len(out)
        return out

    def _seq_gap(self, missing: int, damage: list[list] | tuple, hello_at_zero: bool) -> None:
        """``missing`` frames by SEQ: a board restart, or losses attributed to the damage, then ``lost``."""
        stats = self.stats
        if missing >= _SEQ_RESET or hello_at_zero:
            stats.resets += 1
            self._next_index.clear()
            return
        stats.seq_gaps += missing
        for k in range(min(missing, len(damage))):
            stats._drop(damage[k][0])
        if missing > len(damage):
            stats._drop("lost", missing - len(damage))

    def reset(self) -> None:
        """The link dropped (unplug, BLE disconnect): discard a partial frame, keep the counters.

        SEQ and SAMPLE_INDEX tracking stay, so frames lost across the outage are counted when the
        same board comes back; a board that restarted is recognised by its counters going backwards.
        """
        if self._buf:
            if self._buf.find(SYNC) >= 0:
                self.stats.truncated_tail += 1
            self.stats.bytes_skipped += len(self._buf)
            self._base += len(self._buf)
            self._buf.clear()
        self._damage.clear()

    @property
    def pending_bytes(self) -> int:
        return len(self._buf)


def parse_kv(text: str) -> dict[str, str]:
    """``key=value;key=value`` (HELLO and STATUS payloads, PROTOCOL.md §3) → dict; junk is ignored."""
    out: dict[str, str] = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        key = key.strip()
        if sep and key:
            out[key] = value.strip()
    return out


@dataclass(frozen=True)
class Hello:
    """A parsed HELLO payload (PROTOCOL.md §3)."""

    proto: int
    board: str
    fw: str
    streams: dict[str, tuple[int, int, float]]  # name -> (layout id, channels, nominal fs_hz)
    boot: str | None = None
    adc_bits: int | None = None
    vref_mv: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


def parse_hello(text: str) -> Hello:
    """Parse a HELLO payload; raises ``ValueError`` naming the missing or malformed key."""
    kv = parse_kv(text)
    for key in ("proto", "board", "fw", "emg"):
        if key not in kv:
            raise ValueError(f"HELLO frame lacks '{key}' (got {text[:80]!r})")
    streams: dict[str, tuple[int, int, float]] = {}
    for name in ("emg", "imu"):
        if name in kv:
            try:
                lid, nch, fs = kv[name].split(",")
                streams[name] = (int(lid), int(nch), float(fs))
            except ValueError:
                raise ValueError(f"HELLO key '{name}' must be 'layout,channels,fs_hz', got {kv[name]!r}") from None
    try:
        proto = int(kv["proto"])
        adc = int(kv["adc"]) if "adc" in kv else None
        vref = int(kv["vref_mv"]) if "vref_mv" in kv else None
    except ValueError:
        raise ValueError(f"HELLO has a non-integer proto/adc/vref_mv: {text[:80]!r}") from None
    known = {"proto", "board", "fw", "emg", "imu", "boot", "adc", "vref_mv"}
    return Hello(
        proto=proto,
        board=kv["board"],
        fw=kv["fw"],
        streams=streams,
        boot=kv.get("boot"),
        adc_bits=adc,
        vref_mv=vref,
        extra={k: v for k, v in kv.items() if k not in known},
    )
