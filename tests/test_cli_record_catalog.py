"""`reengage record` registers its session in the catalog of the data root it wrote under, with its analysis,
so the dashboard lists a new session without `analyze --all`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reengage.analysis import analyze
from reengage.catalog import Catalog
from reengage.cli import app
from reengage.errors import InputError
from reengage.io import load_recording

REENGAGE = [sys.executable, "-m", "reengage.cli"]
RECORD = ["record", "--board", "simulated", "--subject", "P9", "--task", "bridge"]


def _catalogued(root: Path) -> list[dict]:
    with Catalog(root, readonly=True) as cat:
        return cat.sessions("P9")


def _stored_analysis(root: Path, recording_id: int) -> dict | None:
    with Catalog(root, readonly=True) as cat:
        return cat.analysis(recording_id)


def _as_analyze_all_would(path: Path) -> dict:
    # Through JSON, as the catalog stores it (tuples become lists).
    return json.loads(json.dumps(analyze(load_recording(path), threads=1), allow_nan=False))


def test_record_catalogues_the_session_with_its_analysis(tmp_path):
    out = tmp_path / "data"
    r = subprocess.run([*REENGAGE, *RECORD, "--duration", "3", "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    path = Path(r.stdout.strip())
    assert path.is_file() and out.resolve() in path.resolve().parents
    [s] = _catalogued(out)
    assert (s["subject_id"], s["task"]) == ("P9", "bridge")
    assert s["path"] == path.resolve().relative_to(out.resolve()).as_posix()
    assert s["analysis_id"] is not None
    stored = _stored_analysis(out, s["recording_id"])
    assert stored == _as_analyze_all_would(path)
    assert s["reps"] == stored["summary"]["reps"]
    with Catalog(out) as cat:
        assert not cat.needs_analysis(path)  # `analyze --all` has nothing left to do
    assert "catalogued" in r.stderr


def test_a_failed_analysis_still_catalogues_the_recording(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise InputError("glute_max: the signal is flat\nsecond line never shown")

    monkeypatch.setattr("reengage.analysis.analyze", refuse)
    out = tmp_path / "data"
    r = CliRunner().invoke(app, [*RECORD, "--duration", "1", "--sim-speed", "2", "--out", str(out)])
    assert r.exit_code == 0, r.output
    path = Path(r.stdout.strip())
    assert path.is_file()
    warnings = [line for line in r.stderr.splitlines() if "analysis failed" in line]
    assert warnings == ["analysis failed (glute_max: the signal is flat); catalogued without an analysis"]
    [s] = _catalogued(out)
    assert s["analysis_id"] is None and s["reps"] is None
    assert _stored_analysis(out, s["recording_id"]) is None


def test_a_recording_without_samples_is_kept_as_an_empty_session_and_not_analysed(tmp_path, monkeypatch):
    from reengage.acquisition.boards import load_board
    from reengage.acquisition.pipeline import decoder_for_board
    from reengage.acquisition.recorder import Recorder

    def record_nothing(opts, console=None):  # Ctrl-C before the board sent its first frame
        rec = Recorder.for_decoder(Path(opts.out_dir) / "P9" / "P9_bridge.rgr", decoder_for_board(load_board("simulated")),
                                 {"subject": "P9", "task": "bridge"})
        rec.close()
        return rec.path

    def must_not_analyse(*args, **kwargs):
        raise AssertionError("an empty recording was analysed")

    monkeypatch.setattr("reengage.acquisition.session.record_session", record_nothing)
    monkeypatch.setattr("reengage.analysis.analyze", must_not_analyse)
    out = tmp_path / "data"
    r = CliRunner().invoke(app, [*RECORD, "--out", str(out)])
    assert r.exit_code == 0, r.output
    path = Path(r.stdout.strip())
    assert path.is_file()
    assert any(line.startswith(f"0 samples recorded: {path} is kept") for line in r.stderr.splitlines()), r.stderr
    with Catalog(out) as cat:
        assert cat.sessions() == []  # nothing to chart or trend
        [empty] = cat.empty_sessions("P9")  # but the session is known: the file is not lost
        assert empty["path"] == "P9/P9_bridge.rgr" and empty["analysis_id"] is None


@pytest.mark.slow
def test_ctrl_c_still_catalogues_what_was_recorded(tmp_path):
    out = tmp_path / "data"
    # A duration the test never reaches (the simulated board synthesises all of it before it starts).
    proc = subprocess.Popen([*REENGAGE, *RECORD, "--duration", "60", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60  # a safety net for a hung recorder, not a measurement
        while proc.poll() is None and time.monotonic() < deadline:
            files = list(out.rglob("*.rgr"))
            if files and files[0].stat().st_size > 20_000:  # past the header: samples are on disk
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()[1]
        os.kill(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.terminate()  # lets the recorder stop its simulated board
            proc.wait(30)
    assert proc.returncode == 0, stderr
    assert "stopped by Ctrl-C" in stderr
    path = Path(stdout.strip())
    [s] = _catalogued(out)
    assert s["analysis_id"] is not None
    assert _stored_analysis(out, s["recording_id"]) == _as_analyze_all_would(path)
