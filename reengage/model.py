"""The one data model: a Recording is streams of samples shaped (channels, samples) plus events.

Modelled on MNE-Python's ``Raw`` (``info`` + ``annotations``): everything else in reengage talks in
:class:`Recording` (offline) and :class:`Block` (live) only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, Union

import numpy as np

MUSCLE_ROLES = ("glute_max", "glute_med", "hamstrings", "erector_spinae")
"""The closed set of muscle roles the analysis understands; other channels keep free-form names."""

ROLE_ALIASES = {
    "glute_max": "glute_max",
    "gluteus_maximus": "glute_max",
    "glute_med": "glute_med",
    "gluteus_medius": "glute_med",
    "hamstrings": "hamstrings",
    "hamstring": "hamstrings",
    "biceps_femoris": "hamstrings",
    "semitendinosus": "hamstrings",
    "erector_spinae": "erector_spinae",
    "lower_back": "erector_spinae",
}

ChannelKind = Literal["raw", "envelope", "imu"]
IMU_CHANNELS = ("acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z")


def role_for_name(name: str) -> str | None:
    """The muscle role a channel name denotes (``biceps_femoris`` → ``hamstrings``), or None."""
    return ROLE_ALIASES.get(name.strip().lower())


@dataclass(frozen=True)
class Channel:
    """One recorded signal.

    ``scale`` and ``offset`` convert stored values to ``unit``: ``physical = (stored - offset) * scale``.
    For a MyoWare RAW pin on a 10-bit Arduino the stored values are ADC counts, ``offset`` is mid-rail
    (511.5) and ``unit`` stays ``"adc"`` unless the board file gives the gain chain.
    """

    name: str
    role: str | None = None
    unit: str = "adc"
    kind: ChannelKind = "raw"
    scale: float = 1.0
    offset: float = 0.0

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "role": self.role,
            "unit": self.unit,
            "kind": self.kind,
            "scale": self.scale,
            "offset": self.offset,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Channel":
        return cls(
            name=str(d["name"]),
            role=d.get("role"),
            unit=str(d.get("unit", "adc")),
            kind=d.get("kind", "raw"),
            scale=float(d.get("scale", 1.0)),
            offset=float(d.get("offset", 0.0)),
        )


@dataclass(frozen=True)
class Event:
    """Something that happened during a session, in seconds from the recording start.

    Labels in use: ``rest``, ``mvc:<role>``, ``exercise``, ``rep``, ``cue``, ``gap``.
    """

    onset_s: float
    duration_s: float
    label: str

    def to_dict(self) -> dict:
        return {"onset_s": self.onset_s, "duration_s": self.duration_s, "label": self.label}


@dataclass(frozen=True)
class Gap:
    """Samples the board sent that never arrived (counter jump, unplug), in the stream's own time."""

    stream: str
    onset_s: float
    duration_s: float
    samples_lost: int
    reason: str = ""

    def to_dict(self) -> dict:
        return {
            "stream": self.stream,
            "onset_s": self.onset_s,
            "duration_s": self.duration_s,
            "samples_lost": self.samples_lost,
            "reason": self.reason,
        }


class ToPhysical:
    """Stored samples (channels, n) → each channel's unit: ``(stored - offset) * scale``, float64.

    Built once per channel list, so live sinks convert every block without rebuilding the factors."""

    def __init__(self, channels: list[Channel]) -> None:
        self.scale = np.array([c.scale for c in channels], dtype=np.float64)[:, None]
        self.offset = np.array([c.offset for c in channels], dtype=np.float64)[:, None]

    def __call__(self, data: np.ndarray) -> np.ndarray:
        out = np.array(data, dtype=np.float64)  # always a new array, converted in place (one copy, not three)
        out -= self.offset
        out *= self.scale
        return out


@dataclass
class Stream:
    """Channels sampled together at one rate. ``data`` is (channels, samples), stored units."""

    name: str
    fs_hz: float
    channels: list[Channel]
    data: np.ndarray
    first_sample: int = 0  # board index of data[:, 0]
    t0_s: float = 0.0  # time of data[:, 0] in seconds from the recording origin (first EMG sample)

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[-1])

    def physical(self) -> np.ndarray:
        """Samples converted to each channel's unit, float64, shaped (channels, samples)."""
        return ToPhysical(self.channels)(self.data)

    def times(self) -> np.ndarray:
        """Sample times in seconds from the recording origin."""
        return self.t0_s + np.arange(self.n_samples) / self.fs_hz

    def index(self, name: str) -> int:
        for i, c in enumerate(self.channels):
            if c.name == name:
                return i
        raise KeyError(name)


@dataclass
class Recording:
    """A whole session: streams (``emg`` and optionally ``imu``), metadata and events."""

    streams: dict[str, Stream]
    meta: dict = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    integrity: Literal["ok", "recovered", "damaged"] = "ok"
    problems: list[str] = field(default_factory=list)
    source: str = ""

    @property
    def emg(self) -> Stream:
        return self.streams["emg"]

    @property
    def imu(self) -> Stream | None:
        return self.streams.get("imu")

    @property
    def fs_hz(self) -> float:
        return self.emg.fs_hz

    @property
    def duration_s(self) -> float:
        return self.emg.n_samples / self.emg.fs_hz

    def all_channels(self) -> list[Channel]:
        return [c for s in self.streams.values() for c in s.channels]

    def info(self) -> dict:
        """The ``reengage info --json`` contract (``../shared/contracts/cli.md``) plus extras."""
        return {
            "path": self.source,
            "duration_s": round(self.duration_s, 6),
            "fs_hz": self.fs_hz,
            "samples": self.emg.n_samples,
            "channels": [
                {"name": c.name, "role": c.role, "unit": c.unit, "kind": c.kind}
                for c in self.all_channels()
            ],
            "streams": {
                n: {"fs_hz": s.fs_hz, "samples": s.n_samples, "channels": [c.name for c in s.channels]}
                for n, s in self.streams.items()
            },
            "events": [e.to_dict() for e in self.events],
            "gaps": [g.to_dict() for g in self.gaps],
            "integrity": self.integrity,
            "problems": list(self.problems),
            "meta": self.meta,
        }


@dataclass(frozen=True)
class Block:
    """A live chunk of one stream: ``data`` (channels, samples) starting at sample ``start``."""

    stream: str
    start: int
    data: np.ndarray
    host_time_ns: int = 0
    board_time_us: int | None = None

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[-1])


Item = Union[Block, Gap, Event]
"""What flows from a source (board, replayed file) to its sinks."""


class Sink(Protocol):
    """Anything fed the items of a stream: the recorder, the live publisher, an LSL outlet."""

    def handle(self, item: Item) -> None: ...

    def close(self) -> None: ...
