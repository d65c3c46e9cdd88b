"""Boards as data: every board is a TOML file in ``firmware_configs/`` (BrainFlow's board descriptors).

Code never branches on a board's name; it reads the transport, streams and channels from here. Files are
validated on load and every error names the file and the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from reengage.errors import BoardConfigError
from reengage.model import MUSCLE_ROLES, Channel

TRANSPORTS = ("serial", "ble", "simulated")
PROTOCOLS = ("reengage-v1", "plotter")
KINDS = ("raw", "envelope", "imu")


@dataclass(frozen=True)
class StreamConfig:
    name: str
    fs_hz: float
    layout_id: int
    channels: list[Channel]
    samples_per_frame: int = 0  # what the firmware packs per frame; 0 = as many as fit


@dataclass(frozen=True)
class BoardConfig:
    name: str
    path: Path
    description: str
    protocol: str
    transport: dict
    adc_bits: int
    vref_v: float
    streams: dict[str, StreamConfig]
    sketch: str | None = None
    simulator: dict = field(default_factory=dict)

    @property
    def emg(self) -> StreamConfig:
        return self.streams["emg"]

    def stream_for_layout(self, layout_id: int) -> StreamConfig | None:
        for s in self.streams.values():
            if s.layout_id == layout_id:
                return s
        return None

    def describe(self) -> dict:
        return {
            "name": self.name,
            "path": str(self.path),
            "description": self.description,
            "protocol": self.protocol,
            "transport": self.transport.get("kind"),
            "sketch": self.sketch,
            "streams": {
                n: {"fs_hz": s.fs_hz, "channels": [c.name for c in s.channels]} for n, s in self.streams.items()
            },
        }


def config_dir() -> Path:
    return Path(str(resources.files("reengage.firmware_configs")))


def board_paths() -> list[Path]:
    return sorted(config_dir().glob("*.toml"))


def load_board(name_or_path: str | Path) -> BoardConfig:
    """Load a board by name (a file in ``firmware_configs/``) or by path to a TOML file."""
    p = Path(name_or_path)
    if p.suffix != ".toml":
        p = config_dir() / f"{name_or_path}.toml"
        if not p.exists():
            known = ", ".join(b.stem for b in board_paths())
            raise BoardConfigError(f"unknown board {str(name_or_path)!r}; known boards: {known}")
    try:
        raw = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise BoardConfigError(f"{p}: no such board file") from None
    except tomllib.TOMLDecodeError as e:
        raise BoardConfigError(f"{p}: invalid TOML: {e}") from None
    return parse_board(raw, p)


def _req(d: dict, key: str, typ, where: str, path: Path):
    if key not in d:
        raise BoardConfigError(f"{path}: missing key {where}{key}")
    v = d[key]
    if typ is float and isinstance(v, int) and not isinstance(v, bool):
        v = float(v)
    if not isinstance(v, typ) or isinstance(v, bool) and typ is not bool:
        raise BoardConfigError(f"{path}: key {where}{key} must be {typ.__name__}, got {v!r}")
    return v


def parse_board(raw: dict, path: Path) -> BoardConfig:
    board = raw.get("board")
    if not isinstance(board, dict):
        raise BoardConfigError(f"{path}: missing table [board]")
    name = _req(board, "name", str, "board.", path)
    protocol = board.get("protocol", "reengage-v1")
    if protocol not in PROTOCOLS:
        raise BoardConfigError(f"{path}: key board.protocol must be one of {PROTOCOLS}, got {protocol!r}")
    transport = raw.get("transport")
    if not isinstance(transport, dict):
        raise BoardConfigError(f"{path}: missing table [transport]")
    kind = _req(transport, "kind", str, "transport.", path)
    if kind not in TRANSPORTS:
        raise BoardConfigError(f"{path}: key transport.kind must be one of {TRANSPORTS}, got {kind!r}")
    adc = raw.get("adc", {})
    bits = int(adc.get("bits", 10))
    vref = float(adc.get("vref_v", 5.0))
    if not 8 <= bits <= 16 or vref <= 0:
        raise BoardConfigError(f"{path}: key adc.bits must be 8..16 and adc.vref_v > 0")
    streams_raw = raw.get("streams")
    if not isinstance(streams_raw, dict) or "emg" not in streams_raw:
        raise BoardConfigError(f"{path}: missing table [streams.emg]")
    streams: dict[str, StreamConfig] = {}
    layouts: set[int] = set()
    for sname, s in streams_raw.items():
        where = f"streams.{sname}."
        fs = _req(s, "fs_hz", float, where, path)
        if fs <= 0:
            raise BoardConfigError(f"{path}: key {where}fs_hz must be > 0")
        layout = int(s.get("layout_id", len(streams)))
        if layout in layouts or not 0 <= layout <= 15:
            raise BoardConfigError(f"{path}: key {where}layout_id must be unique and 0..15")
        layouts.add(layout)
        chans = s.get("channels")
        if not isinstance(chans, list) or not chans:
            raise BoardConfigError(f"{path}: missing key {where}channels (a list of [[{where}channels]] tables)")
        if len(chans) > 15:
            raise BoardConfigError(f"{path}: key {where}channels: at most 15 channels per stream")
        channels = [_channel(c, f"{where}channels[{i}].", path, bits, vref, sname) for i, c in enumerate(chans)]
        names = [c.name for c in channels]
        if len(set(names)) != len(names):
            raise BoardConfigError(f"{path}: key {where}channels: duplicate channel names {names}")
        spf = int(s.get("samples_per_frame", 0))
        if spf < 0 or spf * 2 * len(channels) > 227:
            raise BoardConfigError(f"{path}: key {where}samples_per_frame: a frame holds at most 227 payload bytes")
        streams[sname] = StreamConfig(sname, fs, layout, channels, spf)
    return BoardConfig(
        name=name,
        path=path,
        description=str(board.get("description", "")),
        protocol=protocol,
        transport=dict(transport),
        adc_bits=bits,
        vref_v=vref,
        streams=streams,
        sketch=board.get("sketch"),
        simulator=dict(raw.get("simulator", {})),
    )


def _channel(c: dict, where: str, path: Path, bits: int, vref: float, stream: str) -> Channel:
    if not isinstance(c, dict):
        raise BoardConfigError(f"{path}: key {where[:-1]} must be a table")
    name = _req(c, "name", str, where, path)
    role = c.get("role")
    if role is not None and role not in MUSCLE_ROLES:
        raise BoardConfigError(f"{path}: key {where}role must be one of {MUSCLE_ROLES}, got {role!r}")
    kind = c.get("kind", "imu" if stream == "imu" else "raw")
    if kind not in KINDS:
        raise BoardConfigError(f"{path}: key {where}kind must be one of {KINDS}, got {kind!r}")
    full_scale = (1 << bits) - 1
    if kind == "imu" or "scale" in c:
        scale = float(c.get("scale", 1.0))
        return Channel(name, role, str(c.get("unit", "")), kind, scale, float(c.get("offset", 0.0)))
    # MyoWare RAW rides on REF at mid-supply; with the amplifier gain we can report mV at the electrodes.
    offset = float(c.get("offset", full_scale / 2 if kind == "raw" else 0.0))
    gain = c.get("gain")
    if gain is not None:
        if not isinstance(gain, (int, float)) or gain <= 0:
            raise BoardConfigError(f"{path}: key {where}gain must be a positive number")
        return Channel(name, role, "mV", kind, vref * 1000.0 / full_scale / float(gain), offset)
    return Channel(name, role, "adc", kind, 1.0, offset)


def with_command_line(board: BoardConfig, fs_hz: float | None, channels: str | None) -> BoardConfig:
    """The board as ``reengage record`` completes it. A ``protocol = "plotter"`` board takes its rate and
    columns from the command line (``--fs 1000 --channels glute_max,hamstrings``; a muscle name sets the
    channel's role): text lines carry neither. Any other board file is complete as it is."""
    from dataclasses import replace

    from reengage.errors import InputError
    from reengage.model import role_for_name

    if board.protocol != "plotter":
        return board
    if fs_hz is None or not fs_hz > 0:
        raise InputError(f"board {board.name} prints text lines with no rate: give --fs HZ (the sketch's sampling rate)")
    if not channels:
        raise InputError(f"board {board.name}: give --channels NAME,NAME,... (one name per printed column)")
    names = [c.strip() for c in channels.split(",")]
    if any(not n for n in names) or len(set(names)) != len(names) or len(names) > 15:
        raise InputError(f"--channels {channels!r}: 1-15 distinct, non-empty names separated by commas")
    template = board.emg.channels[0]
    chans = [Channel(n, role_for_name(n), "adc", template.kind, 1.0, 0.0) for n in names]
    emg = replace(board.emg, fs_hz=float(fs_hz), channels=chans)
    return replace(board, streams={"emg": emg})
