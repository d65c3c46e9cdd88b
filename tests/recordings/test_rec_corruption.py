"""Damaged ``.rgr`` files: truncation and flipped bytes are found by the CRCs, reported with their byte
offset, and everything intact around them is still read, in its right place in time."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reengage.errors import RecordingFormatError
from reengage.io.recfile import MAGIC, RecordingWriter, StreamSpec, read_recording, scan_chunks
from reengage.model import Channel, Event

FS = 1000.0
SECONDS = 6.0
EVENTS = [Event(0.0, 2.0, "rest"), Event(2.0, 1.5, "mvc:glute_max"), Event(4.0, 2.0, "exercise")]


def _truth():
    n = int(SECONDS * FS)
    k = np.arange(n)
    # Every sample distinct from its neighbours, so a misplaced block cannot pass for the right one.
    emg = np.stack([(k * 7) % 1024, (k * 13 + 5) % 1024]).astype("<i2")
    imu = np.stack([((np.arange(n // 10) * (c + 3)) % 30000) - 15000 for c in range(6)]).astype("<i2")
    return emg, imu


def write_reference(path, first_sample=0):
    emg, imu = _truth()
    specs = [
        StreamSpec("emg", FS, [Channel("glute_max", "glute_max", "mV", "raw", 0.0244, 511.5),
                               Channel("hamstrings", "hamstrings", "mV", "raw", 0.0244, 511.5)]),
        StreamSpec("imu", FS / 10, [Channel(n, None, "g", "imu", 1 / 8192) for n in
                                    ("acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z")]),
    ]
    events = list(EVENTS)
    with RecordingWriter(path, specs, {"subject": "P009", "task": "bridge"}) as w:
        for i in range(0, emg.shape[1], 40):  # 40 ms blocks, as a board sends them
            w.write_block("emg", first_sample + i, emg[:, i : i + 40])
            w.write_block("imu", first_sample // 10 + i // 10, imu[:, i // 10 : i // 10 + 4])
            while events and events[0].onset_s * FS <= i:
                w.add_event(events.pop(0))
    return path


class _Ref(tuple):
    def __repr__(self) -> str:  # keep hypothesis' failure reports readable
        return f"<reference {self[0]}>"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = write_reference(tmp_path_factory.mktemp("ref") / "ref.rgr")
    return _Ref((path, path.read_bytes(), scan_chunks(path)[0]))


def _damaged_copy(tmp_path, blob: bytes, name="bad.rgr") -> str:
    p = tmp_path / name
    p.write_bytes(blob)
    return str(p)


def test_clean_file_reads_back_exactly(reference):
    path, _, chunks = reference
    rec = read_recording(path)
    emg, imu = _truth()
    assert rec.integrity == "ok" and rec.problems == [] and rec.gaps == []
    assert np.array_equal(rec.emg.data, emg) and np.array_equal(rec.imu.data, imu)
    assert rec.events == EVENTS
    # The time origin is written in its own chunk before the first samples (docs/recording-format.md).
    tags = [c.tag for c in chunks]
    assert tags[:2] == ["HEAD", "META"] and tags.index("META") < tags.index("DATA") and tags[-1] == "END_"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frac=st.floats(0.0, 1.0))
def test_truncation_anywhere_recovers_the_prefix(reference, tmp_path, frac):
    path, blob, chunks = reference
    cut = int(len(blob) * frac)
    p = _damaged_copy(tmp_path, blob[:cut])
    head_end = chunks[0].payload + chunks[0].length + 4
    if cut < head_end:
        with pytest.raises(RecordingFormatError, match=r"byte (0|16)"):
            read_recording(p)
        return
    rec = read_recording(p)
    assert rec.integrity == ("ok" if cut == len(blob) else "recovered")
    emg, imu = _truth()
    n = rec.emg.n_samples
    assert np.array_equal(rec.emg.data, emg[:, :n]) and rec.emg.t0_s == 0.0
    assert np.array_equal(rec.imu.data, imu[:, : rec.imu.n_samples])
    # Everything in chunks that ended before the cut is there.
    whole = [c for c in chunks if c.payload + c.length + 4 <= cut]
    assert len([c for c in whole if c.tag == "EVNT"]) == len(rec.events)
    in_emg = sum((c.length - 16) // 4 for c in whole if c.tag == "DATA" and blob[c.payload] == 0)
    assert n == in_emg
    partial = [c for c in chunks if c.offset < cut < c.payload + c.length + 4]
    if partial:  # cut inside a chunk: its offset is named
        assert any(f"byte {partial[0].offset}:" in m for m in rec.problems), rec.problems


def _flip(blob: bytes, at: int, mask: int = 0x10) -> bytes:
    b = bytearray(blob)
    b[at] ^= mask
    return bytes(b)


def test_flipped_sample_byte_costs_one_chunk_named_by_offset(reference, tmp_path):
    path, blob, chunks = reference
    data = [c for c in chunks if c.tag == "DATA" and blob[c.payload] == 0]
    victim = data[len(data) // 2]
    at = victim.payload + 16 + 101
    rec = read_recording(_damaged_copy(tmp_path, _flip(blob, at)))
    assert rec.integrity == "damaged"
    hit = [m for m in rec.problems if "damaged" in m]
    assert len(hit) == 1
    lo, hi = (int(x) for x in hit[0].split("bytes ")[1].split(":")[0].split("-"))
    assert lo == victim.offset and lo <= at <= hi
    emg, _ = _truth()
    first = int.from_bytes(blob[victim.payload + 4 : victim.payload + 12], "little")
    n = (victim.length - 16) // 4
    keep = np.ones(emg.shape[1], bool)
    keep[first : first + n] = False
    assert rec.emg.n_samples == emg.shape[1]  # the hole is filled in place, not closed up
    assert np.array_equal(rec.emg.data[:, keep], emg[:, keep])
    assert (rec.emg.data[:, ~keep] == 512).all()  # the channel's zero level (offset 511.5, rounded)
    gap = [g for g in rec.gaps if g.stream == "emg"]
    assert len(gap) == 1 and gap[0].samples_lost == n and gap[0].onset_s == pytest.approx(first / FS)
    assert rec.events == EVENTS


def test_flipped_length_field_in_the_middle_is_damage_not_end_of_file(reference, tmp_path):
    path, blob, chunks = reference
    victim = [c for c in chunks if c.tag == "DATA"][20]
    rec = read_recording(_damaged_copy(tmp_path, _flip(blob, victim.offset + 6, 0x01)))  # +65536 bytes
    assert rec.integrity == "damaged"
    assert any(f"bytes {victim.offset}-" in m for m in rec.problems), rec.problems
    assert rec.emg.n_samples == int(SECONDS * FS) and rec.events == EVENTS


def test_losing_the_first_data_chunk_does_not_shift_time(tmp_path):
    path = write_reference(tmp_path / "late.rgr", first_sample=123_450)  # board counter not at 0
    blob = path.read_bytes()
    chunks = scan_chunks(path)[0]
    first_emg = next(c for c in chunks if c.tag == "DATA" and blob[c.payload] == 0)
    rec = read_recording(_damaged_copy(tmp_path, _flip(blob, first_emg.payload + 30)))
    emg, _ = _truth()
    lost = (first_emg.length - 16) // 4
    assert rec.integrity == "damaged"
    assert rec.emg.t0_s == 0.0 and rec.emg.n_samples == emg.shape[1]
    assert np.array_equal(rec.emg.data[:, lost:], emg[:, lost:])  # sample k stays at k / fs
    assert rec.gaps[0].onset_s == 0.0 and rec.gaps[0].samples_lost == lost
    assert rec.events == EVENTS
    assert rec.imu.t0_s == pytest.approx(0.0)


def test_files_without_time_origin_chunk_still_read(reference, tmp_path):
    """Backward compatibility: files written before the time-origin META chunk existed."""
    path, blob, chunks = reference
    meta = next(c for c in chunks if c.tag == "META")
    old = blob[: meta.offset] + blob[meta.payload + meta.length + 4 :]
    rec = read_recording(_damaged_copy(tmp_path, old))
    emg, _ = _truth()
    assert rec.integrity == "ok" and np.array_equal(rec.emg.data, emg) and rec.events == EVENTS
    assert "time_origin" not in rec.meta


def test_damaged_header_is_one_clear_line_with_offset(reference, tmp_path):
    _, blob, _ = reference
    p = _damaged_copy(tmp_path, _flip(blob, len(MAGIC) + 20))
    with pytest.raises(RecordingFormatError, match=r"byte 16: header chunk missing or damaged"):
        read_recording(p)
    r = subprocess.run([sys.executable, "-m", "reengage.cli", "info", p], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "byte 16" in r.stderr and p in r.stderr


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_flips_after_the_header_never_raise_and_keep_intact_samples(reference, tmp_path, data):
    _, blob, chunks = reference
    head_end = chunks[0].payload + chunks[0].length + 4
    b = bytearray(blob)
    for _ in range(data.draw(st.integers(1, 4))):
        b[data.draw(st.integers(head_end, len(b) - 1))] ^= data.draw(st.integers(1, 255))
    rec = read_recording(_damaged_copy(tmp_path, bytes(b)))
    if bytes(b) == blob:  # two flips of the same bits cancel out
        assert rec.integrity == "ok"
        return
    assert rec.integrity in ("damaged", "recovered")
    assert rec.problems and all("byte" in m for m in rec.problems)
    emg, _ = _truth()
    # Judge each sample by its board index (first_sample), so this holds even when every copy of the
    # time origin was hit and the time base had to fall back to the first intact EMG chunk.
    first = rec.emg.first_sample
    lost = np.zeros(rec.emg.n_samples, bool)
    for g in rec.gaps:
        if g.stream == "emg":
            a = round((g.onset_s - rec.emg.t0_s) * FS)
            lost[a : a + g.samples_lost] = True
    assert np.array_equal(rec.emg.data[:, ~lost], emg[:, first : first + rec.emg.n_samples][:, ~lost])
    assert set(rec.events) <= set(EVENTS)
