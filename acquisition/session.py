"""One recording session from the command line: pick the board's transport, run the acquisition into a
recorder (and the live view, and LSL with ``--lsl``), keep everything on Ctrl-C, and return the recording's path."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import threading
import sys
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from reengage.acquisition.boards import BoardConfig, load_board, with_command_line
from reengage.acquisition.decoder import BoardDecoder
from reengage.acquisition.guided import GuidedSession, Step, get_protocol, mvc_positions, retest_steps, total_s
from reengage.acquisition.live import LiveSink
from reengage.acquisition.lsl import LslSink, sink_for_board
from reengage.acquisition.pipeline import decoder_for_board
from reengage.acquisition.recorder import Acquisition, Recorder, recording_path, safe_component
from reengage.acquisition.serial_transport import SerialTransport
from reengage.errors import DeviceError, InputError, ReengageError
from reengage.model import Sink


@dataclass
class RecordOptions:
    board: str
    port: str | None = None
    ble: str | None = None
    subject: str = "anonymous"
    task: str = "prone_hip_extension"
    duration_s: float | None = None
    out_dir: Path = Path("recordings")
    protocol: str | None = None
    reps: int | None = None  # guided protocol: reps (default: the protocol's)
    fs_hz: float | None = None
    channels: str | None = None
    phase: int | None = None
    pain: float | None = None
    date: str | None = None
    notes: str = ""
    sim_speed: float = 1.0
    sim_seed: int = 0
    sim_overrides: dict = field(default_factory=dict)
    lsl: bool = False  # publish the EMG/IMU as Lab Streaming Layer outlets (acquisition/lsl.py)
    reconnect_timeout_s: float | None = None  # None: wait for an unplugged board until Ctrl-C/duration
    retest: bool = False  # guided protocol: a test-retest block after the reps (electrodes re-applied)
    mvc_positions: dict = field(default_factory=dict)  # MUSCLE → MVC test position, over the protocol's own
    cue_reps: int = 0  # guided protocol: the last cue_reps reps cued (cue:on), the others uncued (cue:off)
    reference: bool = False  # guided protocol: a sub-maximal ref:<muscle> hold per muscle after the reps


class SimulatedPort:
    """Start the simulated board process and learn the pseudo-terminal it serves.

    The process cannot outlive this one: it watches our end of its stdin pipe and, on Linux, gets SIGKILL
    when we die (:func:`~reengage.acquisition.simboard.exit_with_parent`); it runs in its own session, so a
    Ctrl-C at the terminal reaches only the recorder, which closes it. Anything that interrupts the start-up
    (Ctrl-C, SIGTERM, a board that does not start) kills it before the exception goes on."""

    def __init__(self, board: BoardConfig, duration_s: float | None, speed: float, seed: int, overrides: dict):
        cmd = [
            sys.executable, "-m", "reengage.acquisition.simboard", "--board", str(board.path),
            "--duration", str((duration_s or 3600.0) + 2.0), "--speed", str(speed), "--seed", str(seed),
            "--parent", str(os.getpid()),
        ]
        for k, v in overrides.items():
            cmd += ["--sim", f"{k}={v}"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     start_new_session=True)
        try:
            line = self.proc.stdout.readline().strip()
            if not line.startswith("/dev/"):
                raise DeviceError(f"simulated board {board.name}: did not start (got {line!r})")
        except BaseException:
            self.close()
            raise
        self.path = line

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


def session_meta(opts: RecordOptions, board: BoardConfig, started: dt.datetime) -> dict:
    date = opts.date or started.date().isoformat()
    try:
        dt.date.fromisoformat(date)
    except ValueError:
        raise InputError(f"--date {date!r}: expected YYYY-MM-DD") from None
    meta = {
        "subject": opts.subject,
        "task": opts.task,
        "session_date": date,
        "started_utc": started.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "board": board.name,
        "protocol": opts.protocol,
        "notes": opts.notes,
    }
    if opts.phase is not None:
        meta["phase"] = opts.phase
    if opts.pain is not None:
        meta["pain"] = opts.pain
    if board.transport.get("kind") == "simulated":
        # Its board clock runs sim_speed × the host's: `info` judges the measured rate against that.
        meta["sim_speed"] = opts.sim_speed
    muscles = [c.role for c in board.emg.channels if c.role]
    if opts.protocol or opts.mvc_positions:  # a guided session's MVC positions are its cues'; else only as given
        meta["mvc_positions"] = mvc_positions(muscles, opts.mvc_positions, guided=bool(opts.protocol))
    if opts.retest:
        meta["retest"] = True
    return meta


def record_session(opts: RecordOptions, console: Console | None = None) -> Path:
    """Record one session as ``opts`` say and return the recording's path.

    Always published to the dashboard's live view; Ctrl-C ends the session and keeps everything received; a
    board refused at the handshake (its HELLO does not match the board file) leaves no recording behind.
    Steps: check the options and plan (:func:`_plan`), find the board (:func:`_find_port`), open the
    transport, build the sinks (:class:`_Sinks`), run and close (:func:`_run`), report.

    A recording the disk refuses (full, file-size limit, read-only or unwritable ``--out``) raises one line
    (an :class:`InputError` naming the cause); when a file was started, its path is printed on stdout first,
    as on success, since it holds everything written before the failure.
    """
    console = console or Console(stderr=True)
    board, guide_steps = _plan(opts)
    with _sigterm_as_interrupt():
        sim, port = _find_port(opts, board)
        try:
            return _record(opts, board, guide_steps, sim, port, console)
        finally:
            if sim is not None:
                sim.close()


def _readable(path: Path) -> bool:
    """Whether the recording a failed write left behind opens (the format survives a cut anywhere)."""
    from reengage.io.recfile import read_recording

    try:
        read_recording(path)
    except (ReengageError, OSError, ValueError):
        return False
    return True


def _record(opts: RecordOptions, board: BoardConfig, guide_steps: list[Step] | None, sim: SimulatedPort | None,
            port: str, console: Console) -> Path:
    started = dt.datetime.now().astimezone()
    meta = session_meta(opts, board, started)
    decoder = decoder_for_board(board)
    # Before the port opens: a missing pylsl fails first, and LSL tools see the outlets early.
    lsl = _lsl_sink(opts, board, console)
    transport = _transport(opts, board, port)
    try:
        transport.open()
    except BaseException:
        _release(transport)
        if lsl is not None:
            lsl.close()
        raise
    path = recording_path(opts.out_dir, opts.subject, opts.task, started)
    try:
        sinks = _Sinks.build(path, decoder, meta, lsl, guide_steps, console)
    except BaseException:
        _release(transport)
        if lsl is not None:
            lsl.close()
        raise
    until = f"for {opts.duration_s:g} s" if opts.duration_s else "until you press Ctrl-C (no --duration given)"
    # Said once the board answers: a port where nothing does gets one line, the error, and no recording.
    announce = f"recording {board.name} on {port} {until} → {path}"
    try:
        acq = _run(decoder, transport, sinks, opts, reconnect=sim is None, console=console, announce=announce)
    except InputError:
        if sinks.recorder.failed and _readable(path):  # the disk refused a write: what reached it is kept
            print(path, flush=True)
        raise
    st = acq.stats()
    console.print(
        f"{sinks.recorder.writer.samples_written['emg'] / board.emg.fs_hz:.1f} s recorded, "
        f"{frame_losses(st)}, {st['samples_lost']} samples lost"
    )
    return path


def frame_losses(stats: dict) -> str:
    """What became of the frames that never made it, from the acquisition's STAT (``dropped_by_reason``,
    PROTOCOL.md §6): damaged ones (CRC, header, cut short) apart from ones lost whole, which no damaged byte
    explains (a BLE notification the stack dropped, the frames sent while the link was down)."""
    dec = stats["decoder"]
    by_reason = dec.get("dropped_by_reason")
    if by_reason is None:  # Serial Plotter text: lines that do not parse, have the wrong count or were cut
        return f"{dec['dropped']} damaged lines"
    lost = by_reason.get("lost", 0)
    damaged = dec["dropped"] - lost
    n = stats.get("disconnects", 0)
    where = f" in {n} disconnect{'s' if n != 1 else ''}" if n else ""
    return f"{damaged} damaged frame{'s' if damaged != 1 else ''}, {lost} frame{'s' if lost != 1 else ''} lost{where}"


SIGTERM_NOTE = "SIGTERM"  # the KeyboardInterrupt's argument when SIGTERM, not Ctrl-C, stopped the session


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """While recording, SIGTERM (``kill``, a service manager, a closing terminal) ends the session as Ctrl-C
    does instead of killing the process where it stands (no file close, no simulator shutdown)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread; the caller owns signals then
        return

    def stop(signum, frame):
        raise KeyboardInterrupt(SIGTERM_NOTE)  # handled as Ctrl-C is: close with everything received

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _plan(opts: RecordOptions) -> tuple[BoardConfig, list[Step] | None]:
    """Check the options, load the board; a guided session's steps (its length unless --duration is given)."""
    safe_component(opts.subject, "--subject")
    safe_component(opts.task, "--task")
    if opts.duration_s is not None and not opts.duration_s > 0:
        raise InputError(f"--duration {opts.duration_s}: must be > 0 seconds")
    board = with_command_line(load_board(opts.board), opts.fs_hz, opts.channels)
    if not opts.protocol:
        for given, name in ((opts.retest, "--retest"), (opts.cue_reps, "--cue-reps"), (opts.reference, "--reference")):
            if given:
                raise InputError(f"{name} is a step of a guided session: give --protocol NAME")
        return board, None
    muscles = [c.role for c in board.emg.channels if c.role]
    protocol = get_protocol(opts.protocol)
    marks = {"cue_reps": opts.cue_reps, "reference": opts.reference}
    steps = (retest_steps(protocol, muscles, opts.reps, **marks) if opts.retest
             else protocol.steps(muscles, opts.reps, **marks))
    if opts.duration_s is None:
        opts.duration_s = total_s(steps)
    return board, steps


def _find_port(opts: RecordOptions, board: BoardConfig) -> tuple[SimulatedPort | None, str]:
    """Where the board is: (the simulated board's process, if that is the board; the port or BLE target)."""
    kind = board.transport["kind"]
    if kind == "simulated" and opts.ble is not None:
        if opts.port:
            raise InputError(f"board {board.name} with --ble is served on a virtual radio: --port does not apply")
        return None, f"BLE {opts.ble or 'first board advertising the reengage service'} (simulated, virtual radio)"
    if kind == "simulated":
        # the simulated person performs the guided session the guide walks through (its own --sim keys win)
        layout = ({"protocol": opts.protocol, "reps": opts.reps or "", "retest": int(opts.retest),
                   "cue_reps": opts.cue_reps, "reference": int(opts.reference)} if opts.protocol else {})
        sim = SimulatedPort(board, opts.duration_s, opts.sim_speed, opts.sim_seed, {**layout, **opts.sim_overrides})
        return sim, sim.path
    if kind == "serial":
        if not opts.port:
            raise InputError(f"board {board.name} is a serial board: give --port (see `reengage boards`)")
        return None, opts.port
    if kind == "ble":
        return None, opts.ble or f"first BLE board advertising {board.transport.get('service_uuid')}"
    raise InputError(f"board {board.name}: unknown transport {kind!r}")


def _lsl_sink(opts: RecordOptions, board: BoardConfig, console: Console) -> LslSink | None:
    if not opts.lsl:
        return None
    lsl = sink_for_board(board, f"{opts.subject}:{opts.task}")
    console.print(f"LSL: publishing {', '.join(lsl.outlets)} and events as 'reengage {board.name} …'")
    return lsl


def _transport(opts: RecordOptions, board: BoardConfig, port: str):
    if board.transport["kind"] == "simulated" and opts.ble is not None:
        from reengage.acquisition.ble_simboard import simulated_ble_transport  # bleak, bumble: only for BLE

        return simulated_ble_transport(board, opts.ble, duration_s=opts.duration_s, speed=opts.sim_speed,
                                       seed=opts.sim_seed, overrides=opts.sim_overrides)
    if board.transport["kind"] == "ble":
        from reengage.acquisition.ble_transport import transport_for_board  # bleak: only for BLE boards

        return transport_for_board(board, opts.ble or "")
    return SerialTransport(port, int(board.transport.get("baudrate", 115200)))


def _release(transport) -> None:
    """Close the link; a BLE transport also ends its thread, event loop and radio (a process that records
    again, such as the dashboard, would otherwise keep one of each per session)."""
    shutdown = getattr(transport, "shutdown", None)
    if shutdown is not None:
        shutdown()
    else:
        transport.close()


@dataclass
class _Sinks:
    """Where the items go: the recorder, the live view, LSL (optional), behind the guide (optional)."""

    recorder: Recorder
    live: LiveSink
    lsl: LslSink | None
    guide: GuidedSession | None

    @classmethod
    def build(cls, path: Path, decoder: BoardDecoder, meta: dict, lsl: LslSink | None, guide_steps: list[Step] | None,
              console: Console) -> "_Sinks":
        board = decoder.board
        recorder = Recorder.for_decoder(path, decoder, meta)
        live = LiveSink(board.emg.channels, board.emg.fs_hz, session=str(path), state="recording",
                        subject=meta.get("subject"), task=meta.get("task"))
        sinks: list[Sink] = [recorder, live] + ([lsl] if lsl is not None else [])
        guide = None if guide_steps is None else GuidedSession(guide_steps, board.emg.fs_hz, sinks, console)
        return cls(recorder, live, lsl, guide)

    @property
    def entry(self) -> list[Sink]:
        """What the acquisition feeds: the guide, which passes every item on, or the sinks themselves."""
        if self.guide is not None:
            return [self.guide]
        return [self.recorder, self.live] + ([self.lsl] if self.lsl is not None else [])

    def close(self, stats: dict, discard: bool) -> None:
        """Close in order; ``discard``: the board was refused before any item was recorded, remove the file.
        The live view and LSL are closed even when the recorder's last writes fail (the error goes on)."""
        failure = None
        try:
            if self.guide is not None:
                self.guide.finish()
        except InputError as e:
            failure = e  # the guide's closing event met a full disk: still close everything, then say so
        try:
            self.recorder.close(stats)
            if discard:
                self.recorder.path.unlink(missing_ok=True)
                with contextlib.suppress(OSError):  # the subject's folder, if this file was its first
                    self.recorder.path.parent.rmdir()
        finally:
            self.live.close()
            if self.lsl is not None:
                self.lsl.close()
        if failure is not None:
            raise failure


def _run(decoder: BoardDecoder, transport, sinks: _Sinks, opts: RecordOptions, *, reconnect: bool,
         console: Console, announce: str) -> Acquisition:
    """Run until the duration or Ctrl-C (everything received is kept), then close the link and the sinks;
    ``announce`` is printed when the board first answers."""
    with Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(), TextColumn("{task.completed:.1f} s"),
        TimeElapsedColumn(), console=console, transient=True, disable=not console.is_terminal,
    ) as progress:
        bar = progress.add_task("recording", total=opts.duration_s)
        acq = Acquisition(
            decoder, transport, sinks.entry, duration_s=opts.duration_s,
            board_speed=opts.sim_speed if decoder.board.transport.get("kind") == "simulated" else 1.0,
            on_progress=lambda s: progress.update(bar, completed=s),
            # A real board that vanishes is waited for (unplug → replug); the simulated one is gone.
            reconnect_timeout_s=opts.reconnect_timeout_s if reconnect else 0,
            on_disconnect=lambda why: console.print(
                f"[yellow]board disconnected ({why}); waiting for it to come back (Ctrl-C to stop)[/yellow]"),
            on_reconnect=lambda: console.print("[green]board reconnected; the gap is recorded[/green]"),
            on_warning=lambda msg: console.print(msg, style="yellow", markup=False, highlight=False),
            on_hello=lambda hello: sinks.recorder.update_meta({"hello": hello}),
            on_answer=lambda: console.print(announce, soft_wrap=True, markup=False, highlight=False),
        )
        if sinks.lsl is not None:
            sinks.lsl.time_of = acq.clock.host_time_s  # counter-derived sample times, never chunk arrivals
        refused = False
        try:
            acq.run()
        except KeyboardInterrupt as e:
            console.print(f"stopped by {'SIGTERM' if e.args == (SIGTERM_NOTE,) else 'Ctrl-C'}; "
                          "everything received is kept")
        except DeviceError:
            # A board refused at the handshake (HELLO does not match the board file) sent no sample:
            # leave no empty recording behind in the data root.
            refused = acq.dispatched == 0
            raise
        finally:
            _release(acq.transport)
            sinks.close(acq.stats(), discard=refused)
    return acq
