"""``reengage replay FILE --lsl``: a real LSL inlet (pylsl/liblsl) on this machine receives the recording.

The replay runs as a subprocess, as a user runs it; the inlet here resolves its streams, pulls every sample and
checks values, channels, nominal rate and time stamps against the file. Discovery is limited to this machine
(``lsl_api.cfg`` through ``LSLAPICFG``) with the same settings as ``test_acq_lsl.py``: liblsl reads the first file
a process sees, and an inlet and an outlet of different sessions never meet.
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

from pylsl.util import LostError  # noqa: E402

from reengage.io.recfile import read_recording  # noqa: E402

SPEED = 4.0


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """A simulated-board recording with EMG, IMU, events and gaps (every 40th frame dropped on the line)."""
    out = tmp_path_factory.mktemp("rec")
    subject = f"R{uuid.uuid4().hex[:6]}"
    r = subprocess.run([sys.executable, "-m", "reengage.cli", "record", "--board", "simulated", "--duration", "4",
                        "--sim-speed", "10", "--sim", "drop_every=40", "--subject", subject, "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rec = read_recording(r.stdout.strip())
    assert rec.gaps and rec.events and rec.streams["imu"].n_samples
    return r.stdout.strip(), rec, subject


def _inlet(info):
    inlet = pylsl.StreamInlet(info, max_buflen=60, recover=False)
    inlet.open_stream(timeout=5.0)
    return inlet


def _pull_all(inlets: dict, timeout_s: float = 30.0) -> dict:
    """Pull every inlet in turn until each stream ends (an inlet may refuse its buffered data once its outlet
    is gone, so none is left waiting while another is read); name → (values, stamps)."""
    got = {name: ([], []) for name in inlets}
    live = set(inlets)
    deadline = time.monotonic() + timeout_s
    while live and time.monotonic() < deadline:
        for name in sorted(live):
            try:
                x, t = inlets[name].pull_chunk(timeout=0.05, max_samples=100_000)
            except LostError:  # the replay ended and this outlet is gone
                live.discard(name)
                continue
            if t:
                got[name][0].extend(x)
                got[name][1].extend(t)
    return {name: (xs, np.asarray(ts)) for name, (xs, ts) in got.items()}


def _labels(info) -> list[str]:
    out, ch = [], info.desc().child("channels").child("channel")
    while not ch.empty():
        out.append(ch.child_value("label"))
        ch = ch.next_sibling()
    return out


def _kept(rec, name: str) -> np.ndarray:
    """Indices (into the stream) of the samples that arrived: a replay does not send what a gap lost."""
    s = rec.streams[name]
    keep = np.ones(s.n_samples, bool)
    for g in rec.gaps:
        if g.stream == name:
            a = int(round((g.onset_s - s.t0_s) * s.fs_hz))
            keep[max(0, a) : max(0, a + g.samples_lost)] = False
    return np.flatnonzero(keep)


def test_replay_lsl_inlet_gets_every_sample_with_the_files_timing(lsl_cfg, recording):
    path, rec, subject = recording
    t_start = pylsl.local_clock()
    proc = subprocess.Popen([sys.executable, "-m", "reengage.cli", "replay", path, "--lsl", "--speed", str(SPEED),
                             "--no-live"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "LSLAPICFG": lsl_cfg})
    try:
        found = pylsl.resolve_bypred(f"starts-with(source_id,'reengage:replay:{subject}:')", minimum=3,
                                     timeout=30.0)
        by_id = {s.source_id().rsplit(":", 1)[1]: s for s in found}
        assert set(by_id) == {"emg", "imu", "events"}, proc.stderr.read1() if proc.poll() is not None else by_id
        emg_in, imu_in, ev_in = (_inlet(by_id[s]) for s in ("emg", "imu", "events"))
        info, iinfo = emg_in.info(timeout=5.0), imu_in.info(timeout=5.0)  # while the streams exist
        emg, imu = rec.emg, rec.streams["imu"]
        ek, ik = _kept(rec, "emg"), _kept(rec, "imu")
        got = _pull_all({"emg": emg_in, "imu": imu_in, "events": ev_in})
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    t_end = pylsl.local_clock()
    assert proc.returncode == 0, err

    assert info.type() == "EMG" and info.channel_count() == 2 and info.nominal_srate() == 1000.0
    assert _labels(info) == ["glute_max", "hamstrings"]
    assert iinfo.channel_count() == 6 and iinfo.nominal_srate() == 100.0
    assert _labels(iinfo) == ["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"]

    ex, et = np.asarray(got["emg"][0], np.float32), got["emg"][1]
    ix, it = np.asarray(got["imu"][0], np.float32), got["imu"][1]
    markers = [(x[0], t) for x, t in zip(*got["events"])]

    # Every sample that arrived when it was recorded, in physical units, bit-equal (float32), in order.
    assert ex.shape == (len(ek), 2)
    np.testing.assert_array_equal(ex, emg.physical()[:, ek].T.astype(np.float32))
    assert ix.shape == (len(ik), 6)
    np.testing.assert_array_equal(ix, imu.physical()[:, ik].T.astype(np.float32))

    # Time stamps: the file's sample times on the replay's clock (compressed by --speed), gaps included.
    assert t_start < et[0] and et[-1] < t_end
    want = (ek / emg.fs_hz) / SPEED
    np.testing.assert_allclose(et - et[0], want - want[0], atol=1e-6)
    want_i = (imu.t0_s + ik / imu.fs_hz) / SPEED
    np.testing.assert_allclose(it - et[0], want_i - want[0], atol=1e-6)

    # Events and gaps as markers, at their onsets.
    labels = [m for m, _ in markers if not m.startswith("gap ")]
    assert [lab.split(" ")[0] for lab in labels] == [e.label for e in rec.events]
    for e, (_, t) in zip(rec.events, [m for m in markers if not m[0].startswith("gap ")]):
        assert abs((t - et[0]) - (e.onset_s - ek[0] / emg.fs_hz) / SPEED) < 1e-6
    assert sum(m.startswith("gap ") for m, _ in markers) == len(rec.gaps)
