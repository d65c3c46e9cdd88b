"""One recording session from the command line: pick the board's transport, run the acquisition into a
recorder, keep everything on Ctrl-C, and return the recording's path."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from reengage.acquisition.boards import BoardConfig, load_board
from reengage.acquisition.recorder import Acquisition, Recorder, recording_path, safe_component
from reengage.acquisition.serial_transport import SerialTransport
from reengage.errors import DeviceError, InputError


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
    live: bool = True  # publish to the dashboard's Live page on loopback
    lsl: bool = False  # publish the EMG/IMU as Lab Streaming Layer outlets (acquisition/lsl.py)
    reconnect_timeout_s: float | None = None  # None: wait for an unplugged board until Ctrl-C/duration


class SimulatedPort:
    """Start the simulated board process and learn the pseudo-terminal it serves."""

    def __init__(self, board: BoardConfig, duration_s: float | None, speed: float, seed: int, overrides: dict):
        cmd = [
            sys.executable, "-m", "reengage.acquisition.simboard", "--board", str(board.path),
            "--duration", str((duration_s or 3600.0) + 2.0), "--speed", str(speed), "--seed", str(seed),
        ]
        for k, v in overrides.items():
            cmd += ["--sim", f"{k}={v}"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("/dev/"):
            self.proc.kill()
            raise DeviceError(f"simulated board {board.name}: did not start (got {line!r})")
        self.path = line

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


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
    return meta


def record_session(opts: RecordOptions, console: Console | None = None) -> Path:
    console = console or Console(stderr=True)
    safe_component(opts.subject, "--subject")
    safe_component(opts.task, "--task")
    if opts.duration_s is not None and not opts.duration_s > 0:
        raise InputError(f"--duration {opts.duration_s}: must be > 0 seconds")
    board = load_board(opts.board)
    if board.protocol == "plotter":
        from reengage.acquisition.boards import with_plotter_channels

        board = with_plotter_channels(board, opts.fs_hz, opts.channels)
    guide_steps = None
    if opts.protocol:
        # Guided session (acquisition/guided.py): its length is the protocol's unless --duration is given.
        from reengage.acquisition.guided import get_protocol, total_s

        muscles = [c.role for c in board.emg.channels if c.role]
        guide_steps = get_protocol(opts.protocol).steps(muscles, opts.reps)
        if opts.duration_s is None:
            opts.duration_s = total_s(guide_steps)
    kind = board.transport["kind"]
    sim: SimulatedPort | None = None
    if kind == "simulated":
        sim = SimulatedPort(board, opts.duration_s, opts.sim_speed, opts.sim_seed, opts.sim_overrides)
        port = sim.path
    elif kind == "serial":
        if not opts.port:
            raise InputError(f"board {board.name} is a serial board: give --port (see `reengage boards`)")
        port = opts.port
    elif kind == "ble":
        port = opts.ble or f"first BLE board advertising {board.transport.get('service_uuid')}"
    else:
        raise InputError(f"board {board.name}: unknown transport {kind!r}")
    started = dt.datetime.now().astimezone()
    try:
        lsl = None
        if opts.lsl:  # before the port opens: a missing pylsl fails first, and LSL tools see the outlets early
            from reengage.acquisition.lsl import sink_for_board

            lsl = sink_for_board(board, f"{opts.subject}:{opts.task}")
            console.print(f"LSL: publishing {', '.join(lsl.outlets)} and events as 'reengage {board.name} …'")
        if kind == "ble":
            from reengage.acquisition.ble_transport import transport_for_board

            transport = transport_for_board(board, opts.ble or "")
        else:
            transport = SerialTransport(port, int(board.transport.get("baudrate", 115200)))
        transport.open()
        path = recording_path(opts.out_dir, opts.subject, opts.task, started)
        meta = session_meta(opts, board, started)
        recorder = Recorder.for_board(path, board, meta)
        sinks = [recorder]
        live = None
        if opts.live:
            from reengage.acquisition.live import LiveSink

            live = LiveSink(board.emg.channels, board.emg.fs_hz, session=str(path), state="recording",
                            subject=meta.get("subject"), task=meta.get("task"))
        if live is not None:
            sinks.append(live)
        if lsl is not None:
            sinks.append(lsl)
        guide = None
        if guide_steps is not None:
            from reengage.acquisition.guided import GuidedSession

            guide = GuidedSession(guide_steps, board.emg.fs_hz, sinks, console)
            sinks = [guide]
        console.print(f"recording {board.name} on {port} → {path}" + ("" if opts.duration_s else " (Ctrl-C to stop)"))
        with Progress(
            TextColumn("[progress.description]{task.description}"), BarColumn(), TextColumn("{task.completed:.1f} s"),
            TimeElapsedColumn(), console=console, transient=True,
        ) as progress:
            bar = progress.add_task("recording", total=opts.duration_s)
            acq = Acquisition(
                board, transport, sinks, duration_s=opts.duration_s,
                on_progress=lambda s: progress.update(bar, completed=s),
                # A real board that vanishes is waited for (unplug → replug); the simulated one is gone.
                reconnect_timeout_s=0 if sim is not None else opts.reconnect_timeout_s,
                on_disconnect=lambda why: console.print(f"[yellow]board disconnected ({why}); waiting for it to come back (Ctrl-C to stop)[/yellow]"),
                on_reconnect=lambda: console.print("[green]board reconnected; the gap is recorded[/green]"),
                on_warning=lambda msg: console.print(msg, style="yellow", markup=False, highlight=False),
            )
            acq.on_hello = lambda hello: recorder.writer.update_meta({"hello": hello})
            if lsl is not None:
                lsl.time_of = acq.clock.host_time_s  # counter-derived sample times, never chunk arrivals
            refused_empty = False
            try:
                acq.run()
            except KeyboardInterrupt:
                console.print("stopped by Ctrl-C; everything received is kept")
            except DeviceError:
                # A board refused at the handshake (HELLO does not match the board file) sent no sample:
                # leave no empty recording behind in the data root.
                refused_empty = not any(acq.assembler.stats.samples.values())
                raise
            finally:
                acq.transport.close()
                if guide is not None:
                    guide.finish()
                recorder.close(acq.stats())
                if refused_empty:
                    path.unlink(missing_ok=True)
                if live is not None:
                    live.close()
                if lsl is not None:
                    lsl.close()
        st = acq.stats()
        console.print(
            f"{recorder.writer.samples_written['emg'] / board.emg.fs_hz:.1f} s recorded, "
            f"{st['decoder']['dropped']} damaged frames, "
            f"{st['samples_lost']} samples lost"
        )
        return path
    finally:
        if sim is not None:
            sim.close()
