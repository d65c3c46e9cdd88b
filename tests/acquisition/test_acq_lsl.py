"""``--lsl``: a real LSL outlet (pylsl/liblsl) and a real inlet on this machine receive the recording.

Discovery is limited to this machine by an ``lsl_api.cfg`` in a temporary directory (``LSLAPICFG``), read by
liblsl once per process, so it is set before the first pylsl call of the session.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

pylsl = pytest.importorskip("pylsl")

from reengage.acquisition.boards import load_board  # noqa: E402
from reengage.acquisition.lsl import sink_for_board  # noqa: E402
from reengage.acquisition.pipeline import decoder_for_board  # noqa: E402
from reengage.acquisition.recorder import Acquisition, Recorder  # noqa: E402
from reengage.acquisition.serial_transport import SerialTransport  # noqa: E402
from reengage.io.recfile import read_recording  # noqa: E402
from pylsl.util import LostError  # noqa: E402


def _inlet(source_id: str):
    found = pylsl.resolve_byprop("source_id", source_id, minimum=1, timeout=10.0)
    assert found, f"no LSL stream {source_id}"
    inlet = pylsl.StreamInlet(found[0], max_buflen=60, recover=False)
    inlet.open_stream(timeout=5.0)
    return inlet


def _pull_all(inlet, n_expected: int | None, timeout_s: float = 5.0):
    xs, ts = [], []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            x, t = inlet.pull_chunk(timeout=0.2, max_samples=100_000)
        except LostError:  # the outlet is gone (the recording process ended)
            break
        if t:
            xs.append(np.asarray(x, dtype=np.float32))
            ts.extend(t)
        elif n_expected is None and xs:
            break
        if n_expected is not None and len(ts) >= n_expected:
            break
    if not xs:
        return np.zeros((0, 0), np.float32), np.zeros(0)
    return np.concatenate(xs), np.asarray(ts)


def _channels_xml(info) -> list[dict]:
    out = []
    ch = info.desc().child("channels").child("channel")
    while not ch.empty():
        out.append({k: ch.child_value(k) for k in ("label", "unit", "type", "muscle")})
        ch = ch.next_sibling()
    return out


SPEED = 2.0


def test_inlet_receives_every_sample_with_counter_derived_timestamps(lsl_cfg, tmp_path):
    board = load_board("simulated")
    sim = subprocess.Popen(
        [sys.executable, "-m", "reengage.acquisition.simboard", "--board", "simulated", "--duration", "5",
         "--speed", str(SPEED)], stdout=subprocess.PIPE, text=True,
    )
    try:
        port = sim.stdout.readline().strip()
        assert port.startswith("/dev/")
        sink = sink_for_board(board, f"test-{uuid.uuid4().hex[:8]}")
        emg_in, imu_in, ev_in = (_inlet(f"{sink.source_id}:{s}") for s in ("emg", "imu", "events"))
        info = emg_in.info(timeout=5.0)
        assert info.type() == "EMG" and info.channel_count() == 2 and info.nominal_srate() == 1000.0
        assert _channels_xml(info) == [
            {"label": "glute_max", "unit": "mV", "type": "EMG", "muscle": "glute_max"},
            {"label": "hamstrings", "unit": "mV", "type": "EMG", "muscle": "hamstrings"},
        ]
        imu_info = imu_in.info(timeout=5.0)
        assert imu_info.type() == "IMU" and imu_info.channel_count() == 6 and imu_info.nominal_srate() == 100.0
        assert [c["type"] for c in _channels_xml(imu_info)] == ["Accelerometer"] * 3 + ["Gyroscope"] * 3
        t_start = pylsl.local_clock()

        transport = SerialTransport(port, 500000)
        transport.open()
        dec = decoder_for_board(board)
        rec = Recorder.for_decoder(tmp_path / "r.rgr", dec, {"subject": "lsl"})
        acq = Acquisition(dec, transport, [rec, sink], duration_s=3.0)
        sink.time_of = acq.clock.host_time_s
        try:
            acq.run()
        finally:
            acq.transport.close()
            rec.close(acq.stats())
        t_end = pylsl.local_clock()
        # Pull while the outlets still exist (a closed outlet is a lost stream to a non-recovering inlet).
        r = read_recording(tmp_path / "r.rgr")
        imu = r.streams["imu"]
        emg_x, emg_t = _pull_all(emg_in, r.emg.n_samples)
        imu_x, imu_t = _pull_all(imu_in, imu.n_samples)
        want = [e.label for e in r.events]
        got, ev_t = [], []
        while len(got) < len(want):
            x, t = ev_in.pull_sample(timeout=2.0)
            if t is None:
                break
            got.append(x[0])
            ev_t.append(t)
        sink.close()
    finally:
        sim.terminate()
        sim.wait(5)

    # Every sample, in physical units, bit-equal to the recording's (float32).
    assert r.emg.n_samples == 3000 and emg_x.shape == (3000, 2)
    np.testing.assert_array_equal(emg_x, r.emg.physical().T.astype(np.float32))
    assert imu.n_samples > 250 and imu_x.shape == (imu.n_samples, 6)
    np.testing.assert_array_equal(imu_x, imu.physical().T.astype(np.float32))

    # Time stamps: the board's sample spacing on the host clock (the simulated board runs 2× fast), never
    # the arrival of 8-sample frames; within the run; on the clock fit of the whole run within 10 ms.
    period = 1.0 / (1000.0 * SPEED)
    d = np.diff(emg_t)
    assert np.all(np.abs(d / period - 1.0) < 0.3), (d.min(), d.max())
    assert abs(np.median(d) / period - 1.0) < 0.02
    assert abs((emg_t[-1] - emg_t[0]) / (2999 * period) - 1.0) < 0.02
    assert t_start < emg_t[0] and emg_t[-1] < t_end
    to_lsl = pylsl.local_clock() - time.monotonic()
    fitted = acq.clock.host_time_s(np.arange(r.emg.first_sample, r.emg.first_sample + 3000)) + to_lsl
    assert np.max(np.abs(emg_t - fitted)) < 0.010
    di = np.diff(imu_t)
    assert np.all(np.abs(di / (10 * period) - 1.0) < 0.3)
    # IMU sample k and EMG sample 10·k were taken at the same board instant.
    assert abs(imu_t[0] - emg_t[(imu.first_sample - r.emg.first_sample) * 10]) < 0.002

    assert want and [g.split(" ")[0] for g in got] == want
    onset0 = emg_t[int(round(r.events[0].onset_s * 1000))]
    assert abs(ev_t[0] - onset0) < 0.002


def test_cli_record_lsl_publishes_the_recording(lsl_cfg, tmp_path):
    """``reengage record --lsl`` in a subprocess; the inlet here sees the same physical values."""
    subject = f"L{uuid.uuid4().hex[:6]}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "reengage.cli", "record", "--board", "simulated", "--duration", "3",
         "--sim-speed", "2", "--lsl", "--subject", subject, "--out", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "LSLAPICFG": lsl_cfg},
    )
    try:
        inlet = _inlet(f"reengage:simulated:{subject}:prone_hip_extension:emg")
        x, t = _pull_all(inlet, 3000, timeout_s=30.0)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "LSL: publishing emg, imu" in err
    r = read_recording(out.strip())
    phys = r.emg.physical().T.astype(np.float32)
    # The inlet subscribes while the board is starting, so it may miss the first samples; after that
    # it holds a contiguous run of the recording up to its last sample (usually all of it).
    n = len(t)
    assert n >= 300, n
    # ADC values repeat at rest, so the first sample alone does not say where the run starts.
    starts = [k for k in np.flatnonzero((phys == x[0]).all(axis=1)) if np.array_equal(phys[k : k + n], x)]
    assert starts, "the inlet's samples are not a contiguous run of the recording"
    k = int(starts[0])
    assert k + n == len(phys)  # up to the last sample: closing the outlet does not drop its last chunk
    assert np.all(np.diff(t) > 0)


def test_missing_pylsl_is_one_line(tmp_path):
    code = (
        "import sys; sys.modules['pylsl'] = None; from reengage.cli import main; "
        "sys.argv = ['reengage', 'record', '--board', 'simulated', '--duration', '1', '--lsl', '--out', sys.argv[1]]; "
        "main()"
    )
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "install reengage[lsl]" in r.stderr, r.stderr
    assert not list(tmp_path.rglob("*.rgr"))  # nothing half-made
