"""The ``reengage`` command line (contract: ``shared/contracts/cli.md``).

Data goes to stdout, progress and messages to stderr. Any :class:`ReengageError` becomes one line on
stderr and exit status 2; a traceback means a bug.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from reengage.cli_clinic import (patients_app, print_adherence, register_commands, session_app,
                                 warn_unknown_subject)
from reengage.cli_common import data_root, emit_json, err, pairs, say
from reengage.cli_tables import print_analysis, print_trend, session_line
from reengage.errors import InputError, ReengageError

class _Typer(typer.Typer):
    """Runs with ``standalone_mode=False``, so usage errors reach :func:`main` as exceptions (made one line
    there) instead of being printed by typer as a framed multi-line box."""

    def __call__(self, *args, **kwargs):
        kwargs.setdefault("standalone_mode", False)
        kwargs.setdefault("prog_name", "reengage")
        return super().__call__(*args, **kwargs)


app = _Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Measure gluteal re-engagement with surface EMG: record, replay, analyse, review.",
)
app.add_typer(patients_app, name="patients")
app.add_typer(session_app, name="session")
register_commands(app)
@app.command()
def info(
    path: Path = typer.Argument(..., help="a recording (.rgr, .csv, .edf)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON on stdout"),
) -> None:
    """What a recording holds: duration, rate, channels, samples, events, gaps, integrity."""
    from reengage.io import load_recording

    rec = load_recording(path)
    d = rec.info()
    if as_json:
        emit_json(d)
        return
    out = Console()
    out.print(f"[bold]{path}[/bold]  integrity: {d['integrity']}")
    out.print(f"{d['duration_s']:.2f} s at {d['fs_hz']:g} Hz, {d['samples']} samples")
    who = session_line(d.get("meta") or {})
    if who:
        out.print(who, markup=False, highlight=False)
    for c in d["channels"]:
        out.print(f"  {c['name']:<16} role={c['role'] or '-':<15} {c['kind']:<9} {c['unit']}")
    for e in d["events"]:
        out.print(f"  event {e['onset_s']:8.3f} s  {e['duration_s']:6.2f} s  {e['label']}")
    for g in d["gaps"]:
        out.print(f"  gap   {g['onset_s']:8.3f} s  {g['samples_lost']} samples lost ({g['reason']})")
    for p in d["problems"]:
        out.print(f"  [yellow]{p}[/yellow]")
    acq = (d.get("meta") or {}).get("acquisition") or {}
    clock = acq.get("clock") or {}
    if "fs_hz" in clock:
        out.print(
            f"  clock: {clock['fs_hz']:.3f} Hz measured ({clock['rate_error_ppm']:+.0f} ppm vs nominal), "
            f"arrival jitter median {clock['jitter_ms_median']:.2f} ms, p99 {clock['jitter_ms_p99']:.2f} ms"
            + (f" (simulated board at {clock['sim_speed']:g}× real time)" if clock.get("sim_speed") else "")
        )
    if acq:
        out.print(link_line(acq), markup=False, highlight=False, soft_wrap=True)


def link_line(acq: dict) -> str:
    """The STAT chunk's link counts as one line of ``info``: losses, then what was skipped on the line (garbage
    bytes, frames that failed their CRC or header, counter faults), which a healthy link keeps at 0."""
    dec = acq.get("decoder") or {}
    line = (f"  link: {dec.get('dropped', 0)} frames dropped {dec.get('dropped_by_reason', {})}, "
            f"{acq.get('samples_lost', 0)} samples lost, {acq.get('disconnects', 0)} disconnects")
    damaged = dec.get("crc_errors", 0) + dec.get("bad_header", 0)
    if "bytes_skipped" in dec:
        line += (f", {dec['bytes_skipped']} bytes skipped on the line ({damaged} damaged frame candidates: "
                 f"{dec.get('crc_errors', 0)} CRC, {dec.get('bad_header', 0)} header)")
    elif "bad_lines" in dec:  # a Serial Plotter board: text lines, not frames
        line += (f", {dec['bad_lines'] + dec.get('wrong_count', 0)} unreadable lines skipped, "
                 f"{dec.get('text_lines', 0)} text lines, {dec.get('overlong', 0)} overlong runs")
    faults = acq.get("counter_faults", 0)
    if faults:
        line += f", {faults} counter fault{'s' if faults != 1 else ''} (sample counter jumped; re-anchored)"
    return line


@app.command()
def analyze(
    path: Optional[Path] = typer.Argument(None, help="a recording (.rgr, .csv, .edf)"),
    as_json: bool = typer.Option(False, "--json", help="print the analysis JSON on stdout"),
    mvc: Optional[list[str]] = typer.Option(None, "--mvc", help="MUSCLE=VALUE: MVC reference amplitude"),
    channel: Optional[list[str]] = typer.Option(None, "--channel", help="MUSCLE=COLUMN: map a column to a role"),
    all_: bool = typer.Option(False, "--all", help="analyse every recording in the data root that changed"),
    data: Optional[Path] = typer.Option(None, "--data", help="data root (default recordings/ or $REENGAGE_DATA)"),
) -> None:
    """Onsets, firing order, glute:hamstring ratio per rep and per session (contract: analysis.md)."""
    if all_:
        from reengage.batch import analyze_all

        result = analyze_all(data_root(data), console=err)  # it lists the failed files on stderr
        if result.exit_code:  # the rest was analysed and kept; the status tells a script that some were not
            raise typer.Exit(result.exit_code)
        return
    if path is None:
        raise InputError("analyze: give a recording PATH or --all")
    from reengage.analysis import analyze as run_analysis
    from reengage.io import load_recording

    references = mvc_values(mvc)
    rec = load_recording(path, pairs(channel, "--channel"))
    result = run_analysis(rec, mvc=references or None)
    if as_json:
        emit_json(result)
        return
    print_analysis(result)


DEFAULT_TASK = "prone_hip_extension"


def session_task(task: str | None, protocol: str | None) -> str:
    """The exercise a session is filed under: the guided protocol's own when ``--protocol`` is given (a bridge
    protocol filed as prone hip extension would put its numbers on the wrong trend); a different ``--task``
    beside it is refused rather than guessed between."""
    if not protocol:
        return task or DEFAULT_TASK
    from reengage.acquisition.guided import get_protocol

    own = get_protocol(protocol).task
    if task and task != own:
        raise InputError(f"--task {task} conflicts with --protocol {protocol} (a {own} session): give one or the other")
    return own


@app.command()
def record(
    board: str = typer.Option(..., "--board", help="a board in firmware_configs/ or a path to a board TOML"),
    port: Optional[str] = typer.Option(None, "--port", help="serial port, e.g. /dev/ttyACM0"),
    ble: Optional[str] = typer.Option(None, "--ble", help="BLE device name or address"),
    subject: str = typer.Option("anonymous", "--subject", help="pseudonymous subject id, e.g. P001"),
    task: Optional[str] = typer.Option(None, "--task", help="exercise performed (default: the --protocol's, "
                                       "else prone_hip_extension)"),
    duration: Optional[float] = typer.Option(None, "--duration", help="seconds to record (default: until Ctrl-C)"),
    out: Optional[Path] = typer.Option(None, "--out", help="directory (default: the data root)"),
    protocol: Optional[str] = typer.Option(None, "--protocol", help="guided session, e.g. prone_hip_extension"),
    reps: Optional[int] = typer.Option(None, "--reps", min=1, help="guided session: number of reps"),
    fs: Optional[float] = typer.Option(None, "--fs", help="sampling rate of a plotter board, Hz"),
    channels: Optional[str] = typer.Option(None, "--channels", help="plotter columns, e.g. glute_max,hamstrings"),
    phase: Optional[int] = typer.Option(None, "--phase", min=1, max=3, help="rehab phase 1/2/3"),
    pain: Optional[float] = typer.Option(None, "--pain", min=0, max=10, help="pain score 0-10"),
    date: Optional[str] = typer.Option(None, "--date", help="session date YYYY-MM-DD (default today)"),
    notes: str = typer.Option("", "--notes", help="free text kept with the session"),
    sim_speed: float = typer.Option(1.0, "--sim-speed", help="simulated board: board clock / wall clock"),
    sim_seed: int = typer.Option(0, "--sim-seed", help="simulated board: random seed"),
    sim: Optional[list[str]] = typer.Option(None, "--sim", help="simulated board: KEY=VALUE profile override"),
    lsl: bool = typer.Option(False, "--lsl", help="also publish EMG/IMU/events as Lab Streaming Layer streams"),
    retest: bool = typer.Option(False, "--retest", help="guided session: after the reps, re-apply the electrodes "
                                "and repeat the MVC trials and reps (a test-retest pair)"),
    mvc_position: Optional[list[str]] = typer.Option(None, "--mvc-position", help="MUSCLE=POSITION: the MVC test "
                                                     "position used (default: the --protocol's)"),
    cue_reps: int = typer.Option(0, "--cue-reps", min=0, help="guided session: the last K reps cued \"squeeze your "
                                 "glutes first\" (the others uncued: what carried over between sessions)"),
    reference: bool = typer.Option(False, "--reference", help="guided session: a sub-maximal reference hold per "
                                   "muscle after the reps (%ref beside %MVC)"),
) -> None:
    """Record a session from a board, analyse it and add it to the catalog of the data root it was written
    under, so the dashboard lists it; prints the recording's path on stdout."""
    from reengage.acquisition.session import RecordOptions, record_session
    from reengage.batch import catalog_recording

    root = out or data_root(None)
    task = session_task(task, protocol)
    if subject != "anonymous":
        warn_unknown_subject(root, subject)
    opts = RecordOptions(
        board=board, port=port, ble=ble, subject=subject, task=task, duration_s=duration,
        out_dir=root, protocol=protocol, reps=reps, fs_hz=fs, channels=channels,
        phase=phase, pain=pain, date=date, notes=notes, sim_speed=sim_speed, sim_seed=sim_seed,
        sim_overrides=pairs(sim, "--sim"), lsl=lsl, retest=retest,
        mvc_positions=pairs(mvc_position, "--mvc-position"), cue_reps=cue_reps, reference=reference,
    )
    path = record_session(opts, console=err)  # also returns after Ctrl-C, with what was received
    print(path, flush=True)  # first: the recording is the job, the catalog entry a convenience on top
    catalog_recording(root, path, console=err)


@app.command()
def boards(as_json: bool = typer.Option(False, "--json", help="print JSON on stdout")) -> None:
    """Board descriptions in firmware_configs/ and the serial ports found now."""
    from reengage.acquisition.boards import board_paths, load_board

    found = []
    for p in board_paths():
        try:
            found.append(load_board(p).describe())
        except ReengageError as e:
            found.append({"name": p.stem, "path": str(p), "error": str(e)})
    ports = []
    try:
        from reengage.acquisition.ports import list_ports

        ports = list_ports()
    except ImportError:
        from serial.tools import list_ports as lp

        ports = [{"device": p.device, "description": p.description} for p in lp.comports()]
    result = {"boards": found, "serial_ports": ports}
    if as_json:
        emit_json(result)
        return
    out = Console(soft_wrap=True)  # one line per board, also when piped
    for b in found:
        out.print(f"[bold]{b['name']:<18}[/bold] {b.get('transport', '?'):<10} {b.get('description', b.get('error', ''))}")
    out.print(f"serial ports: {', '.join(p['device'] for p in ports) or 'none found'}")


@app.command()
def dashboard(
    data: Optional[Path] = typer.Option(None, "--data", help="data root"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to bind (loopback by default)"),
    port: int = typer.Option(8050, "--port", help="TCP port"),
    allowed_host: Optional[list[str]] = typer.Option(
        None, "--allowed-host", help="a host name the dashboard answers to besides loopback (repeatable; network mode)"),
    read_only: bool = typer.Option(False, "--read-only", help="never write to the data root: editing is unavailable"),
) -> None:
    """Serve the clinician dashboard (http://127.0.0.1:8050 by default)."""
    from reengage.dashboard.app import serve

    serve(data_root(data), host=host, port=port, allowed_hosts=allowed_host or (), read_only=read_only)


@app.command()
def demo(
    data: Optional[Path] = typer.Option(None, "--data", help="data root"),
    serve_dashboard: bool = typer.Option(True, "--serve/--no-serve", help="start the dashboard at the end"),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8050, "--port"),
    speed: float = typer.Option(20.0, "--speed", help="simulated board speed (board seconds per wall second)"),
) -> None:
    """Simulated board → six recorded sessions of P001 over twelve weeks → analysis → dashboard."""
    from reengage.demo import run_demo

    run_demo(data_root(data), speed=speed, console=err)
    if serve_dashboard:
        from reengage.dashboard.app import serve

        serve(data_root(data), host=host, port=port)


@app.command()
def replay(
    path: Path = typer.Argument(..., help="a recording (.rgr, .csv, .edf)"),
    speed: str = typer.Option("1", "--speed", help="1 = real time, 10 = ten times faster, max = as fast as possible"),
    out: Optional[Path] = typer.Option(None, "--out", help="also re-record the stream into this directory"),
    live: Optional[bool] = typer.Option(None, "--live/--no-live", help="publish to the dashboard's live view (default: when paced)"),
    as_json: bool = typer.Option(False, "--json", help="print the analysis of the replayed stream on stdout"),
    lsl: bool = typer.Option(False, "--lsl", help="also publish the stream as Lab Streaming Layer outlets"),
    lsl_wait: float = typer.Option(10.0, "--lsl-wait", min=0, help="with --lsl: seconds to wait for an inlet "
                                   "(e.g. LabRecorder) before the replay starts anyway; 0 = do not wait"),
) -> None:
    """Stream a saved recording through the live pipeline (the same sinks as a board)."""
    from reengage.replay import run_replay

    result = run_replay(path, speed, out_dir=out, live=live, analyze_result=as_json, console=err, lsl=lsl,
                        lsl_wait_s=lsl_wait)
    if as_json:
        emit_json(result)


@app.command()
def export(
    path: Path = typer.Argument(..., help="a recording (.rgr, .csv, .edf)"),
    fmt: str = typer.Option(..., "--format", help="edf | bdf | bids | csv"),
    out: Path = typer.Option(..., "--out", help="output directory (a BIDS dataset root for --format bids)"),
) -> None:
    """Write a recording as EDF+, BIDS EMG or CSV; prints the files written on stdout."""
    from reengage.io.export import export_recording

    for p in export_recording(path, fmt, out):
        print(p)


# Typer >= 0.22 carries its own click, whose exceptions derive from typer.TyperException; older typer raises
# click's own. Either way a usage error (bad option value, unknown option, missing argument) is one of these.
if hasattr(typer, "TyperException"):
    USAGE_ERRORS: tuple[type[Exception], ...] = (typer.TyperException,)
else:  # pragma: no cover - older typer
    import click

    USAGE_ERRORS = (click.ClickException,)


def _given_value(param, argv: list[str]) -> str | None:
    """What the user typed for an option a usage error is about (``--duration abc`` → ``abc``), or None."""
    for opt in getattr(param, "opts", None) or []:
        if not opt.startswith("-"):
            continue
        for k, token in enumerate(argv):
            if token == opt and k + 1 < len(argv):
                return argv[k + 1]
            if token.startswith(opt + "="):
                return token[len(opt) + 1:]
    return None


def _usage_line(e: Exception) -> str:
    """A click/typer usage error as one line naming the command, instead of typer's framed box."""
    msg = " ".join(e.format_message().split())  # a message may span lines; the contract says one
    given = _given_value(getattr(e, "param", None), sys.argv[1:])
    if given is not None and msg.startswith("Invalid value for ") and ":" in msg:
        head, tail = msg.split(":", 1)
        msg = f"{head} ({given!r}):{tail}"  # typer's number/range messages do not repeat what was typed
    ctx = getattr(e, "ctx", None)
    command = ctx.command_path.split(" ", 1)[1] if ctx is not None and " " in ctx.command_path else ""
    return f"{command}: {msg}" if command else msg


def mvc_values(mvc: list[str] | None) -> dict[str, float]:
    """``--mvc MUSCLE=V ...`` as numbers, each > 0."""
    out = {}
    for k, v in pairs(mvc, "--mvc").items():
        try:
            out[k] = float(v)
        except ValueError:
            raise InputError(f"--mvc {k}={v}: value is not a number") from None
        if not out[k] > 0:
            raise InputError(f"--mvc {k}={v}: value must be > 0")
    return out


@app.command("import")
def import_(
    path: Path = typer.Argument(..., help="a recording made elsewhere (.csv, .edf, .bdf, or another data root's .rgr)"),
    subject: str = typer.Option(..., "--subject", help="pseudonymous subject id, e.g. P001"),
    task: str = typer.Option(..., "--task", help="exercise performed, e.g. prone_hip_extension"),
    date: Optional[str] = typer.Option(None, "--date", help="session date YYYY-MM-DD (default: the file's, else today)"),
    phase: Optional[int] = typer.Option(None, "--phase", min=1, max=3, help="rehab phase 1/2/3"),
    pain: Optional[float] = typer.Option(None, "--pain", min=0, max=10, help="pain score 0-10"),
    notes: str = typer.Option("", "--notes", help="free text kept with the session"),
    mvc: Optional[list[str]] = typer.Option(None, "--mvc", help="MUSCLE=VALUE: MVC reference amplitude"),
    channel: Optional[list[str]] = typer.Option(None, "--channel", help="MUSCLE=COLUMN: map a column to a role"),
    data: Optional[Path] = typer.Option(None, "--data", help="data root (default recordings/ or $REENGAGE_DATA)"),
) -> None:
    """Bring a recording made elsewhere into the data root as a session of SUBJECT: stored, catalogued and
    analysed like a recorded one; prints the stored path on stdout."""
    from reengage.batch import catalog_recording
    from reengage.importing import import_recording

    root = data_root(data)
    references = mvc_values(mvc)
    warn_unknown_subject(root, subject)
    stored = import_recording(path, root, subject=subject, task=task, date=date, phase=phase, pain=pain,
                              notes=notes, mvc=references, channel_map=pairs(channel, "--channel"), console=err)
    print(stored, flush=True)  # first, as `record` does: the stored file is the job
    catalog_recording(root, stored, console=err)  # the --mvc references are in the file's meta


@app.command()
def trend(
    subject: str = typer.Option(..., "--subject", help="subject id, e.g. P001"),
    task: Optional[str] = typer.Option(None, "--task", help="exercise (default: the subject's most recorded)"),
    data: Optional[Path] = typer.Option(None, "--data", help="data root (default recordings/ or $REENGAGE_DATA)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON on stdout"),
) -> None:
    """The subject's course across sessions and whether it changed beyond noise (contract: docs/cli.md)."""
    from reengage.trend import subject_trend

    doc = subject_trend(data_root(data), subject, task)
    if as_json:
        for n in doc["notes"]:
            say(f"note: {n}")
        emit_json(doc)
        return
    print_trend(doc)
    print_adherence(doc)


def main() -> None:
    """The console script: every error a user can cause is one line on stderr and exit status 2."""
    try:
        rv = app()
    except USAGE_ERRORS as e:
        if type(e).__name__ == "NoArgsIsHelpError":  # `reengage` or `reengage patients` alone: the help
            e.show()
        else:
            print(f"reengage: error: {_usage_line(e)}", file=sys.stderr)
        sys.exit(2)
    except typer.Abort:
        print("reengage: interrupted", file=sys.stderr)
        sys.exit(130)
    except ReengageError as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"reengage: error: {msg}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("reengage: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()
