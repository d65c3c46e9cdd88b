"""The recorder: a sink that appends every Block, Gap and Event to a crash-safe ``.rgr`` file, and the
loop that drives a board's bytes through its decoder (:mod:`reengage.acquisition.decoder`) into the sinks."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import re
import time
from collections.abc import Callable
from pathlib import Path

from reengage.acquisition.boards import BoardConfig
from reengage.acquisition.clock import ClockFit
from reengage.acquisition.decoder import BoardDecoder
from reengage.acquisition.protocol import Hello, parse_hello
from reengage.errors import DeviceError, Disconnected, InputError
from reengage.io.recfile import EXTENSION, RecordingWriter, StreamSpec
from reengage.model import Block, Event, Gap, Item, Recording, Sink

_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


def safe_component(text: str, what: str) -> str:
    """A subject or task id as a file-name component; anything else is refused, never sanitised silently."""
    if not text or _SAFE.search(text) or len(text) > 64:
        raise InputError(f"{what} {text!r}: use 1-64 letters, digits, '_' or '-'")
    return text


def recording_path(out_dir: Path, subject: str, task: str, when: dt.datetime) -> Path:
    stem = f"{subject}_{when:%Y%m%dT%H%M%S}_{task}"
    p = Path(out_dir) / subject / f"{stem}{EXTENSION}"
    n = 1
    while p.exists():
        p = Path(out_dir) / subject / f"{stem}-{n}{EXTENSION}"
        n += 1
    return p


# What each errno means to someone recording, and what to do about it.
_STORAGE_CAUSES = {
    errno.ENOSPC: ("disk full", "free some space"),
    errno.EDQUOT: ("disk quota exceeded", "free some space or ask for a larger quota"),
    errno.EFBIG: ("file size limit reached", "raise the limit (`ulimit -f`) or record shorter sessions"),
    errno.EROFS: ("read-only file system", "give --out a writable folder"),
    errno.EACCES: ("permission denied", "give --out a folder you may write to"),
    errno.EPERM: ("operation not permitted", "give --out a folder you may write to"),
    errno.ENOTDIR: ("not a folder", "give --out a folder, not a file"),
    errno.EEXIST: ("not a folder", "give --out a folder, not a file"),
}


def storage_error(e: OSError, path: Path, started: bool) -> InputError:
    """The one line for a recording the disk refused (full, file-size limit, read-only or unwritable folder);
    ``started``: the file exists and holds what was written before the failure. An :class:`InputError`: the
    --out given cannot take the recording."""
    code = e.errno or 0
    cause, todo = _STORAGE_CAUSES.get(code, (e.strerror or str(e), "check the disk"))
    name = errno.errorcode.get(code, "OSError")
    if started:
        return InputError(f"{cause} ({name}) while writing {path}: recording stopped, everything before it "
                          f"is kept; {todo}")
    where = e.filename or path.parent
    return InputError(f"{cause} ({name}): cannot create the recording under {where}; {todo}")


class Recorder:
    """Sink that writes to a RecordingWriter. Events and gaps go straight to disk; samples in 0.25 s
    chunks, synced at least twice a second. Used by ``record`` (from a board) and ``replay`` (from a file).
    A write that fails (disk full, file-size limit, …) raises :func:`storage_error`'s one line and sets
    ``failed``; the file is kept as far as it got (the format survives a truncation)."""

    def __init__(self, path: Path, specs: list[StreamSpec], meta: dict) -> None:
        try:
            self.writer = RecordingWriter(path, specs, meta)
        except OSError as e:
            raise storage_error(e, Path(path), started=Path(path).is_file()) from None
        self.path = self.writer.path
        self.failed = False

    @classmethod
    def for_decoder(cls, path: Path, decoder: BoardDecoder, meta: dict) -> "Recorder":
        """A recorder for what ``decoder`` produces: its board's streams, in its ``sample_dtype``."""
        streams = decoder.board.streams.values()
        return cls(path, [StreamSpec(s.name, s.fs_hz, s.channels, decoder.sample_dtype) for s in streams], meta)

    @classmethod
    def for_recording(cls, path: Path, template: Recording, meta: dict) -> "Recorder":
        specs = [StreamSpec(s.name, s.fs_hz, s.channels, s.data.dtype.str) for s in template.streams.values()]
        return cls(path, specs, meta)

    def handle(self, item: Item) -> None:
        if self.failed:
            return  # the disk refused once: later items are not recorded (the error is on its way up)
        try:
            if isinstance(item, Block):
                self.writer.write_block(item.stream, item.start, item.data)
            elif isinstance(item, Gap):
                self.writer.add_gap(item)
            elif isinstance(item, Event):
                self.writer.add_event(item)
        except OSError as e:
            raise self._failure(e) from None

    def update_meta(self, meta: dict) -> None:
        if self.failed:
            return
        try:
            self.writer.update_meta(meta)
        except OSError as e:
            raise self._failure(e) from None

    def close(self, stats: dict | None = None) -> None:
        """Write the STAT and END chunks and close. After a failed write only the file is let go of: what
        reached the disk is the recording."""
        if self.failed:
            with contextlib.suppress(OSError):
                self.writer.close()
            return
        try:
            if stats:
                self.writer.write_stats(stats)
            self.writer.close()
        except OSError as e:
            raise self._failure(e) from None

    def _failure(self, e: OSError) -> InputError:
        self.failed = True
        return storage_error(e, self.path, started=True)


ANSWER_TIMEOUT_S = 5.0  # an Uno resets when its port opens and its bootloader waits ~1.5 s before the sketch
_FAULTS_SHOWN = 3  # counter faults warned about one by one
STALL_S = 3.0  # host seconds without a valid frame before a streaming board is reported silent


class Acquisition:
    """Drives transport → decoder → sinks until the duration is reached (or Ctrl-C).

    ``decoder``: the board's :class:`~reengage.acquisition.decoder.BoardDecoder` (``decoder_for_board``).
    After a disconnect the transport's ``reconnect`` waits for the board (``reconnect_timeout_s``, None: until
    Ctrl-C or the duration; 0: give up at once); samples lost meanwhile appear as a Gap when data flows again.
    ``on_answer`` is called once, when the first valid data arrives. ``on_hello`` is called with each new
    HELLO once it checks out, so the recorder can keep it at once (STAT is only written at a clean close, and
    a crash must not lose which board and firmware made the file).

    A watchdog on the host clock: nothing valid (a frame, a HELLO or a plotter line) within
    ``answer_timeout_s`` of the start raises :class:`DeviceError` (a port with no board, or one running
    another sketch or baud rate); a board that falls silent for ``stall_s`` is reported once, and with a
    duration the run ends when the host clock reaches it (``duration_s / board_speed`` after the first valid
    data) instead of waiting for samples that never come. ``board_speed``: board clock / host clock (the
    simulated board's ``--sim-speed``; 1 for real boards), which the clock fit is judged against too.
    """

    def __init__(
        self,
        decoder: BoardDecoder,
        transport,
        sinks: list[Sink],
        *,
        duration_s: float | None = None,
        on_progress: Callable[[float], None] | None = None,
        reconnect_timeout_s: float | None = None,
        on_disconnect: Callable[[str], None] | None = None,
        on_reconnect: Callable[[], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
        on_hello: Callable[[dict], None] | None = None,
        answer_timeout_s: float | None = ANSWER_TIMEOUT_S,
        stall_s: float = STALL_S,
        board_speed: float = 1.0,
        on_answer: Callable[[], None] | None = None,
    ) -> None:
        self.decoder = decoder
        self.board = decoder.board
        self.transport = transport
        self.sinks = sinks
        self.clock = ClockFit(self.board.emg.fs_hz, speed=board_speed)
        self.board_speed = board_speed
        if hasattr(decoder, "board_speed"):  # a decoder that judges counter jumps against the host clock
            decoder.board_speed = board_speed
        self._faults_seen = 0
        self.answer_timeout_s = answer_timeout_s
        self.stall_s = stall_s
        self.bytes_in = 0
        self._started_ns = 0
        self._first_valid_ns: int | None = None
        self._last_valid_ns: int | None = None
        self._stall_reported = False
        self.on_answer = on_answer
        self._restarts_seen = 0
        self._faults_fitted = 0  # counter faults the clock fit has begun a new run for
        self.duration_s = duration_s
        self.on_progress = on_progress
        self.disconnects = 0
        self.reconnect_timeout_s = reconnect_timeout_s
        self.on_disconnect = on_disconnect
        self.on_reconnect = on_reconnect
        self.on_warning = on_warning
        self.on_hello = on_hello
        self.hello: dict | None = None  # the board's last HELLO (PROTOCOL.md §3), kept in the STAT chunk
        self._emg_written = 0  # EMG samples passed to the sinks since the origin (for --duration)
        self.dispatched = 0  # items passed to the sinks (0 after a refused HELLO: nothing was recorded)

    @property
    def seconds_received(self) -> float:
        return self.decoder.stats.samples["emg"] / self.board.emg.fs_hz

    def _dispatch(self, items: list[Item]) -> None:
        self.dispatched += len(items)
        for item in items:
            for s in self.sinks:
                s.handle(item)

    def run(self) -> None:
        target = None if self.duration_s is None else int(round(self.duration_s * self.board.emg.fs_hz))
        last_progress = 0.0
        self._started_ns = time.monotonic_ns()
        while True:
            try:
                data = self.transport.read()
            except Disconnected as e:
                if self._reconnect(str(e)):
                    continue
                break
            now_ns = time.monotonic_ns()
            if data:
                self._feed(data, now_ns, target)
                if self.on_progress and time.monotonic() - last_progress > 0.2:
                    self.on_progress(self.seconds_received)
                    last_progress = time.monotonic()
                if target is not None and self._emg_written >= target:
                    break
            if self._watchdog(now_ns):
                break

    def _feed(self, data: bytes, now_ns: int, target: int | None) -> None:
        """Bytes from the link → decoder → (HELLO checks, clock) → sinks."""
        self.bytes_in += len(data)
        items = self.decoder.feed(data, now_ns)
        hellos = self.decoder.take_hellos()
        for text in hellos:
            self._check_hello(text)  # before the items reach a sink: a refused board records nothing
        if items or hellos:
            self._valid(now_ns)
        self._clock(items, now_ns)
        self._report_counter_faults()
        if target is not None:
            items = self._trim(items, target)
        self._dispatch(items)

    def _report_counter_faults(self) -> None:
        st = self.decoder.stats
        if st.counter_faults == self._faults_seen:
            return
        first_unseen, self._faults_seen = self._faults_seen + 1, st.counter_faults
        if first_unseen > _FAULTS_SHOWN:
            return  # a board whose counter keeps jumping: counted in STAT (`reengage info`), not a flood here
        last = st.counter_fault_log[-1] if st.counter_fault_log else {}
        jump = f" by {last['counter_jump']:+d}" if "counter_jump" in last else ""
        more = "; further ones are only counted" if st.counter_faults >= _FAULTS_SHOWN else ""
        self._warn(f"board on {self._where()}: its sample counter jumped{jump} against its own clock "
                   f"(counter fault {st.counter_faults}); samples kept, re-anchored on the board clock{more}")

    def _valid(self, now_ns: int) -> None:
        if self._first_valid_ns is None:
            self._first_valid_ns = now_ns
            if self.on_answer:
                self.on_answer()
        if self._stall_reported:
            self._stall_reported = False
            silent_s = (now_ns - (self._last_valid_ns or now_ns)) * 1e-9
            self._warn(f"board on {self._where()} is sending again after {silent_s:.0f} s of silence")
        self._last_valid_ns = now_ns

    def _watchdog(self, now_ns: int) -> bool:
        """Nothing answering at all → DeviceError; a silent board → one warning, and True (end the run) once
        the host clock has reached the duration."""
        if self._last_valid_ns is None:
            if self.answer_timeout_s is not None and now_ns - self._started_ns > self.answer_timeout_s * 1e9:
                raise DeviceError(self._nothing_answers())
            return False
        silent_s = (now_ns - self._last_valid_ns) * 1e-9
        if silent_s < self.stall_s:
            return False
        if not self._stall_reported:
            self._stall_reported = True
            then = ("the recording ends at --duration by the host clock unless it resumes"
                    if self.duration_s is not None else "waiting for it (Ctrl-C to stop)")
            self._warn(f"board on {self._where()} has sent nothing for {silent_s:.0f} s "
                       f"({self.seconds_received:.1f} s received; reset, unpowered or a loose cable?); {then}")
        if self.duration_s is None or self._first_valid_ns is None:
            return False
        return (now_ns - self._first_valid_ns) * 1e-9 >= self.duration_s / self.board_speed

    def _nothing_answers(self) -> str:
        """The one line for a port where no board speaks the board file's protocol."""
        board = self.board
        what = "Serial Plotter line" if board.protocol == "plotter" else f"valid {board.protocol} frame"
        heard = (f"{self.bytes_in} bytes arrived but none made a {what}"
                 if self.bytes_in else "not a byte arrived")
        sketch = f"sketch {board.sketch}" if board.sketch else "a sketch printing Serial Plotter lines"
        if board.transport.get("kind") == "ble":
            link, check = "", "the sketch is flashed and the board is powered and in range"
        else:
            link = f" at {board.transport.get('baudrate', 115200)} baud"
            check = "the sketch is flashed, the baud rate matches and the cable carries data"
        return (
            f"nothing answers on {self._where()}: no {what} in {self.answer_timeout_s:g} s ({heard}); expected "
            f"board {board.path.name} running {sketch}{link}: check that {check} "
            f"(`reengage boards` lists boards and ports)"
        )

    def _where(self) -> str:
        return getattr(self.transport, "port", None) or getattr(self.transport, "address", None) or "the link"

    def _reconnect(self, why: str) -> bool:
        """The link dropped: True once the transport is back, False to end the run."""
        self.disconnects += 1
        # The decoder keeps SEQ/SAMPLE_INDEX tracking: if the same board comes back still counting, the gap
        # is exact; a restarted board is recognised by its counters going backwards.
        self.decoder.mark_disconnect(time.monotonic_ns())
        if self.on_disconnect:
            self.on_disconnect(why)
        if self.reconnect_timeout_s == 0 or not self.transport.reconnect(self.reconnect_timeout_s):
            return False
        if self.on_reconnect:
            self.on_reconnect()
        if self._last_valid_ns is not None:  # the outage was reported as a disconnect, not as a silence
            self._last_valid_ns = time.monotonic_ns()
        else:
            self._started_ns = time.monotonic_ns()
        return True

    def _check_hello(self, text: str) -> None:
        """Every new HELLO (START, WHORU, after a re-plug, a new boot) is checked against the board file."""
        where = self._where()
        try:
            hello = parse_hello(text)
        except ValueError as e:
            self._warn(f"board on {where} sent an unreadable HELLO ({e}); trusting --board {self.board.name}")
            return
        self.hello = {"board": hello.board, "fw": hello.fw, "proto": hello.proto, "boot": hello.boot,
                      "streams": {k: list(v) for k, v in hello.streams.items()},
                      "adc_bits": hello.adc_bits, "vref_mv": hello.vref_mv, **hello.extra}
        fatal, notes = check_hello(hello, self.board)
        if fatal:
            if hello.board != self.board.name:
                head = f"board on {where} says it is {hello.board} but --board {self.board.name} was given"
            else:
                head = f"board on {where} does not match its board file {self.board.path}"
            raise DeviceError(f"{head}: {'; '.join(fatal)}")
        for n in notes:
            self._warn(f"board on {where}: {n}")
        if self.on_hello:
            self.on_hello(self.hello)

    def _warn(self, msg: str) -> None:
        if self.on_warning:
            self.on_warning(msg)

    def _clock(self, items: list[Item], now_ns: int) -> None:
        st = self.decoder.stats
        if st.restarts != self._restarts_seen:
            self._restarts_seen = st.restarts
            self.clock.reset_board_clock()
        if st.counter_faults != self._faults_fitted:  # the index was re-anchored on the board clock's estimate
            self._faults_fitted = st.counter_faults
            self.clock.new_run()
        fs = self.board.emg.fs_hz
        for it in items:
            if isinstance(it, Block) and it.stream == "emg" and it.n_samples:
                last = it.start + it.n_samples - 1
                t_us = None
                if it.board_time_us is not None:
                    t_us = (it.board_time_us + int(round((it.n_samples - 1) * 1e6 / fs))) & 0xFFFFFFFF
                self.clock.add(last, now_ns, t_us)

    def _trim(self, items: list[Item], target: int) -> list[Item]:
        """Stop exactly at the requested duration: the last EMG block is cut, later items dropped."""
        out = []
        origin = self.decoder.origin_index or 0
        for it in items:
            if isinstance(it, Block) and it.stream == "emg":
                room = origin + target - it.start
                if room <= 0:
                    self._emg_written = target  # a gap ran past the end: the duration is reached
                    continue
                if room < it.n_samples:
                    it = Block(it.stream, it.start, it.data[:, :room], it.host_time_ns, it.board_time_us)
                self._emg_written = it.start + it.n_samples - origin
            out.append(it)
        return out

    def stats(self) -> dict:
        return {
            **self.decoder.stats.to_dict(),
            "disconnects": self.disconnects,
            "clock": self.clock.report(),
            **({"hello": self.hello} if self.hello else {}),
        }


def check_hello(hello: Hello, board: BoardConfig) -> tuple[list[str], list[str]]:
    """HELLO vs the board file → (fatal mismatches, notes). Fatal: anything that would misread the data
    (channel count, rate, layout id, ADC bits or reference: wrong counts, wrong times or wrong millivolts).
    A different name over an identical layout is a note: a renamed copy of a board file is legitimate."""
    fatal: list[str] = []
    notes: list[str] = []
    for name, (layout, nch, fs) in hello.streams.items():
        cfg = board.streams.get(name)
        if cfg is None:
            notes.append(f"it sends an {name} stream the board file lacks (ignored)")
            continue
        if nch != len(cfg.channels):
            fatal.append(f"{name} has {nch} channels, the board file {len(cfg.channels)}")
        # Sketches print whole Hz (BMI270 "100 Hz" is 99.84 Hz in its TOML): only a real difference counts.
        if abs(fs - cfg.fs_hz) > 0.01 * cfg.fs_hz:
            fatal.append(f"{name} runs at {fs:g} Hz, the board file says {cfg.fs_hz:g} Hz")
        if layout != cfg.layout_id:
            fatal.append(f"{name} uses layout id {layout}, the board file {cfg.layout_id}")
    for name in board.streams:
        if name not in hello.streams and name != "emg":
            notes.append(f"its HELLO announces no {name} stream although the board file has one")
    if hello.adc_bits is not None and hello.adc_bits != board.adc_bits:
        fatal.append(f"ADC is {hello.adc_bits}-bit, the board file says {board.adc_bits}-bit")
    if hello.vref_mv is not None and abs(hello.vref_mv - board.vref_v * 1000.0) > 1.0:
        fatal.append(f"ADC reference is {hello.vref_mv} mV, the board file says {board.vref_v * 1000:g} mV")
    if hello.proto != 1:
        fatal.append(f"it speaks protocol v{hello.proto}, this host v1")
    if not fatal and hello.board != board.name:
        notes.append(f"says it is {hello.board} but --board {board.name} was given; the layouts agree, recording")
    return fatal, notes
