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

import numpy as np

SYNC = b"\xa5\x5a"
VERSION = 1
HEADER = struct.Struct("<2sBBHIIB")
HEADER_SIZE = HEADER.size  # 15
CRC_SIZE = 2
MAX_PAYLOAD = 227
MAX_FRAME = HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE  # 244

TYPE_EMG = 0
TYPE_IMU = 1
TYPE_STATUS = 2
TYPE_HELLO = 3
FRAME_TYPES = {TYPE_EMG: "emg", TYPE_IMU: "imu", TYPE_STATUS: "status", TYPE_HELLO: "hello"}


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE; ``crc16(b"123456789") == 0x29B1``. AVR: ``_crc_ccitt_update``-compatible."""
    return binascii.crc_hqx(data, 0xFFFF)


@dataclass(frozen=True)
class Frame:
    """One decoded frame. ``samples`` is (channels, n) int16 for EMG/IMU frames, else empty."""

    type: int
    seq: int
    sample_index: int
    t_us: int
    layout_id: int
    n_channels: int
    payload: bytes
    offset: int = 0  # byte offset of the frame's first SYNC byte in the decoder's input stream

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
    """What the decoder saw. ``dropped`` counts frames lost, by reason."""

    frames: int = 0
    bytes_in: int = 0
    bytes_skipped: int = 0
    crc_errors: int = 0
    bad_header: int = 0
    seq_gaps: int = 0  # frames missing according to the SEQ counter
    dropped_by_reason: dict[str, int] = field(default_factory=dict)

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
            "seq_gaps": self.seq_gaps,
            "dropped": self.dropped,
            "dropped_by_reason": dict(self.dropped_by_reason),
        }


class FrameDecoder:
    """Incremental decoder: ``feed(data) -> list[Frame]``. Never raises on any bytes.

    A bad frame (CRC or header) costs one byte of rescanning, so a damaged frame never takes its
    successor with it; missing frames are counted from the SEQ counter.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._base = 0  # stream offset of _buf[0]
        self._last_seq: int | None = None
        self.stats = DecoderStats()

    def feed(self, data: bytes) -> list[Frame]:
        self.stats.bytes_in += len(data)
        self._buf += data
        out: list[Frame] = []
        buf = self._buf
        pos = 0
        n = len(buf)
        while True:
            start = buf.find(SYNC, pos)
            if start < 0:
                # Keep a trailing A5 that may be the first half of the next SYNC.
                keep = 1 if n and buf[-1] == 0xA5 else 0
                self.stats.bytes_skipped += (n - keep) - pos
                pos = n - keep
                break
            self.stats.bytes_skipped += start - pos
            pos = start
            if n - pos < HEADER_SIZE:
                break
            _, ver_type, length, seq, sample_index, t_us, layout = HEADER.unpack_from(buf, pos)
            n_channels = layout & 0x0F
            bad = (
                (ver_type >> 4) != VERSION
                or (ver_type & 0x0F) not in FRAME_TYPES
                or length > MAX_PAYLOAD
                or ((ver_type & 0x0F) in (TYPE_EMG, TYPE_IMU) and (n_channels == 0 or length % (2 * n_channels)))
            )
            if bad:
                self.stats.bad_header += 1
                self.stats._drop("header")
                self.stats.bytes_skipped += 1
                pos += 1
                continue
            end = pos + HEADER_SIZE + length + CRC_SIZE
            if end > n:
                break
            (crc,) = struct.unpack_from("<H", buf, end - CRC_SIZE)
            if crc != crc16(bytes(buf[pos + 2 : end - CRC_SIZE])):
                self.stats.crc_errors += 1
                self.stats._drop("crc")
                self.stats.bytes_skipped += 1
                pos += 1
                continue
            if self._last_seq is not None:
                missing = (seq - self._last_seq - 1) & 0xFFFF
                if missing:
                    self.stats.seq_gaps += missing
            self._last_seq = seq
            out.append(
                Frame(
                    type=ver_type & 0x0F,
                    seq=seq,
                    sample_index=sample_index,
                    t_us=t_us,
                    layout_id=layout >> 4,
                    n_channels=n_channels,
                    payload=bytes(buf[pos + HEADER_SIZE : end - CRC_SIZE]),
                    offset=self._base + pos,
                )
            )
            self.stats.frames += 1
            pos = end
        del buf[:pos]
        self._base += pos
        return out

    def reset_sequence(self) -> None:
        """Forget the last SEQ (after a reconnect the board may restart its counter)."""
        self._last_seq = None

    @property
    def pending_bytes(self) -> int:
        return len(self._buf)
