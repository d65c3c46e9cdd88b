"""Lab Streaming Layer outlets (``--lsl``): the live EMG and IMU for LabRecorder and other LSL tools.

A sink like the recorder. Each stream becomes one float32 outlet in physical units (``(stored − offset) ·
scale``), with channel labels, units and muscle roles in ``desc/channels``; events and gaps go to a string
``Markers`` outlet. Sample time stamps come from the board's sample counter mapped to host time by the
drift-corrected clock fit (``ClockFit.host_time_s``), never from when a chunk happened to arrive: arrival
times carry USB/BLE jitter and bunch a whole frame onto one instant (OpenBCI_GUI#989, research
acquisition.md §4).

Time stamps are continuous: the sink follows the fitted line, refits it every ``refit_s`` and slews onto a
new fit by at most a quarter sample per chunk, so consecutive stamps always step by the sample period ± 25 %
(LabRecorder and pyxdf's dejitter assume monotonic stamps). The first ``warmup_s`` of samples are held back
until the fit spans enough samples to give the rate (a line through two 8-sample frames with 1 ms arrival
jitter is 12 % off).

pylsl is optional (``pip install 'reengage[lsl]'``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from reengage.errors import ReengageError
from reengage.model import Block, Channel, Event, Gap, ToPhysical

# Above this the fit moved too far to slew (seconds): step onto it instead.
_STEP_S = 0.1


def import_pylsl():
    try:
        import pylsl
    except (ImportError, OSError, RuntimeError) as e:  # RuntimeError/OSError: the wheel's liblsl failed to load
        raise ReengageError(f"--lsl needs pylsl: install reengage[lsl] (pip install 'reengage[lsl]'): {e}") from None
    return pylsl


def _stream_info(pylsl, name: str, stype: str, fs_hz: float, channels: list[Channel], source_id: str,
                 model: str, chan_type: Callable[[Channel], str]):
    info = pylsl.StreamInfo(name, stype, len(channels), fs_hz, "float32", source_id)
    desc = info.desc()
    chans = desc.append_child("channels")
    for c in channels:
        ch = chans.append_child("channel")
        ch.append_child_value("label", c.name)
        ch.append_child_value("unit", c.unit or "")
        ch.append_child_value("type", chan_type(c))
        ch.append_child_value("muscle", c.role or "")
        ch.append_child_value("kind", c.kind)
    acq = desc.append_child("acquisition")
    acq.append_child_value("manufacturer", "reengage")
    acq.append_child_value("model", model)
    acq.append_child_value("timestamps", "board sample counter mapped to host time (drift-corrected fit)")
    return info


def _imu_type(c: Channel) -> str:
    unit = (c.unit or "").lower()
    if unit in ("g", "m/s^2", "m/s2", "m/s²"):
        return "Accelerometer"
    if unit in ("deg/s", "dps", "rad/s", "°/s"):
        return "Gyroscope"
    if unit in ("ut", "µt", "gauss"):
        return "Magnetometer"
    return "IMU"


class LslSink:
    """Publishes Blocks as LSL chunks and Events/Gaps as markers.

    ``streams``: stream name → (fs_hz, channels). ``time_of(emg_index)`` gives host ``time.monotonic()``
    seconds at which EMG samples (recording index timeline) were taken; other streams are mapped through the
    EMG index by their rate (every stream's counter starts at the same board instant, PROTOCOL.md §1).
    """

    def __init__(
        self,
        streams: dict[str, tuple[float, list[Channel]]],
        time_of: Callable[[np.ndarray], np.ndarray] | None,
        *,
        model: str,
        source_id: str,
        warmup_s: float = 0.3,
        refit_s: float = 0.5,
    ) -> None:
        pylsl = import_pylsl()
        self._pylsl = pylsl
        self.time_of = time_of
        self.fs_emg = float(streams["emg"][0])
        self._fs = {n: float(fs) for n, (fs, _) in streams.items()}
        self.warmup_s, self.refit_s = warmup_s, refit_s
        self.outlets = {}
        self._physical = {}
        for name, (fs, chans) in streams.items():
            if name == "emg":
                info = _stream_info(pylsl, f"reengage {model} EMG", "EMG", fs, chans, f"{source_id}:emg", model,
                                    lambda c: "EMG")
            else:
                stype = "IMU" if name == "imu" else name.upper()
                info = _stream_info(pylsl, f"reengage {model} {stype}", stype, fs, chans, f"{source_id}:{name}",
                                    model, _imu_type)
            self.outlets[name] = pylsl.StreamOutlet(info)
            self._physical[name] = ToPhysical(chans)
        minfo = pylsl.StreamInfo(f"reengage {model} events", "Markers", 1, pylsl.IRREGULAR_RATE, "string",
                                 f"{source_id}:events")
        self.markers = pylsl.StreamOutlet(minfo)
        self.source_id = source_id
        # monotonic → local_clock(): the same steady clock on Linux, but measured rather than assumed.
        self._to_lsl = min(
            (pylsl.local_clock() - time.monotonic() for _ in range(5)), key=abs
        )
        self._held: list = []
        self._first: int | None = None  # first EMG index: the recording origin
        self._ready = False
        self._line: tuple[float, float] | None = None  # target: t = a + b · emg_index (monotonic s)
        self._corr = 0.0  # our stamps = target − corr, slewed to 0
        self._fit_at = -1e9

    # -- time line ---------------------------------------------------------------------------------
    def _refit(self, k0: float) -> None:
        t = np.asarray(self.time_of(np.array([0.0, 1.0e6])), dtype=np.float64)
        a, b = float(t[0]), float(t[1] - t[0]) / 1.0e6
        if self._line is not None:
            old = self._line[0] + self._line[1] * k0 - self._corr
            self._corr = a + b * k0 - old
            if abs(self._corr) > _STEP_S:
                self._corr = 0.0
        self._line = (a, b)
        self._fit_at = time.monotonic()

    def _stamps(self, stream: str, start: int, n: int, slew: bool) -> np.ndarray:
        k = (start + np.arange(n, dtype=np.float64)) * (self.fs_emg / self._fs[stream])
        if self._line is None or time.monotonic() - self._fit_at >= self.refit_s:
            self._refit(float(k[0]))
        a, b = self._line
        if slew and self._corr:
            step = 0.25 * b
            self._corr -= max(-step, min(step, self._corr))
        return a + b * k - self._corr + self._to_lsl

    # -- sink ----------------------------------------------------------------------------------------
    def handle(self, item) -> None:
        if not self._ready:
            if isinstance(item, Block) and item.stream == "emg" and item.n_samples:
                if self._first is None:
                    self._first = item.start
                end = item.start + item.n_samples
                self._ready = end - self._first >= self.warmup_s * self.fs_emg
            self._held.append(item)
            if self._ready:
                self._release()
            return
        self._emit(item)

    def _release(self) -> None:
        held, self._held = self._held, []
        for it in held:
            self._emit(it)

    def _emit(self, item) -> None:
        if isinstance(item, Block):
            out = self.outlets.get(item.stream)
            if out is None or not item.n_samples:
                return
            if self._first is None and item.stream == "emg":
                self._first = item.start
            ts = self._stamps(item.stream, item.start, item.n_samples, slew=item.stream == "emg")
            x = self._physical[item.stream](item.data)
            out.push_chunk(np.ascontiguousarray(x.T, dtype=np.float32), ts.tolist())
        elif isinstance(item, (Event, Gap)) and self._first is not None:
            onset = item.onset_s
            k = self._first + onset * self.fs_emg
            t = self._stamps("emg", int(round(k)), 1, slew=False)[0]
            if isinstance(item, Event):
                text = item.label if not item.duration_s else f"{item.label} duration_s={item.duration_s:g}"
            else:
                text = f"gap {item.stream}: {item.samples_lost} samples lost ({item.reason})"
            self.markers.push_sample([text], float(t))

    def wait_for_consumers(self, timeout_s: float, grace_s: float = 2.0) -> bool:
        """Wait up to ``timeout_s`` for an inlet on any outlet, then up to ``grace_s`` more until every outlet
        has one (a tool subscribes to the streams it records one after the other); True if any came.

        For a source that can wait (a replay): liblsl sends an inlet only what is pushed after it connected,
        so samples pushed before are lost to it."""
        outlets = [*self.outlets.values(), self.markers]
        deadline = time.monotonic() + timeout_s
        while not any(o.have_consumers() for o in outlets):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        deadline = time.monotonic() + grace_s
        while not all(o.have_consumers() for o in outlets) and time.monotonic() < deadline:
            time.sleep(0.02)
        return True

    def close(self) -> None:
        if self._held:  # a recording shorter than the warm-up: publish it on the best fit there is
            self._ready = True
            self._release()
        # liblsl sends from its own thread and a destroyed outlet drops what it has not sent yet: give
        # connected inlets a moment to receive the last chunk, then drop the outlets (the streams end).
        if any(o.have_consumers() for o in self.outlets.values()):
            time.sleep(0.25)
        self.outlets.clear()
        self.markers = None


def sink_for_board(board, session: str, time_of: Callable[[np.ndarray], np.ndarray] | None = None) -> LslSink:
    """The ``reengage record --lsl`` sink: every stream of the board. ``time_of`` is the acquisition's
    ``clock.host_time_s``; it may be set on the sink later (the outlets exist before the port opens)."""
    streams = {name: (s.fs_hz, list(s.channels)) for name, s in board.streams.items()}
    return LslSink(streams, time_of, model=board.name, source_id=f"reengage:{board.name}:{session}")


def sink_for_recording(rec, speed: float | None) -> LslSink:
    """The ``reengage replay --lsl`` sink: stamps follow the replay's pacing from its first EMG block."""
    fs = rec.fs_hz
    factor = speed or 1.0
    t0: list[float] = []

    def time_of(k: np.ndarray) -> np.ndarray:
        if not t0:
            t0.append(time.monotonic() - rec.emg.first_sample / fs / factor)
        return t0[0] + np.asarray(k, dtype=np.float64) / fs / factor

    streams = {name: (s.fs_hz, list(s.channels)) for name, s in rec.streams.items() if s.n_samples}
    model = str(rec.meta.get("board") or "replay")
    sink = LslSink(streams, time_of, model=model, source_id=f"reengage:replay:{rec.meta.get('subject', '')}",
                   warmup_s=0.0)
    return sink
