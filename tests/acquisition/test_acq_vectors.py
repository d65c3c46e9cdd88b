"""The C header every sketch uses and the Python codec must agree byte for byte.

The header is compiled with the host gcc (C99, and as C++ like the Arduino toolchain does) into
``vectors/emit_frames.c``; its frames are compared with the golden vectors in ``vectors/frames.txt``,
with ``encode_frame`` and with what ``FrameDecoder`` makes of them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from reengage.acquisition.protocol import (
    TYPE_EMG,
    TYPE_HELLO,
    TYPE_IMU,
    FrameDecoder,
    crc16,
    encode_frame,
    parse_hello,
)

HERE = Path(__file__).parent
VECTORS = HERE / "vectors" / "frames.txt"
FIRMWARE = HERE.parents[1] / "firmware_configs"
HEADER = FIRMWARE / "reengage_protocol.h"

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")


@pytest.fixture(scope="module")
def emit(tmp_path_factory) -> Path:
    exe = tmp_path_factory.mktemp("c") / "emit_frames"
    subprocess.run(
        ["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{FIRMWARE}",
         "-o", str(exe), str(HERE / "vectors" / "emit_frames.c")],
        check=True,
    )
    return exe


def _vectors() -> list[list[str]]:
    return [ln.split() for ln in VECTORS.read_text().splitlines() if ln and not ln.startswith("#")]


def test_header_compiles_as_cxx_like_arduino(tmp_path):
    if shutil.which("g++") is None:
        pytest.skip("needs g++")
    src = tmp_path / "t.cpp"
    src.write_text('#include "reengage_protocol.h"\nint main(){rg_block_t b; rg_block_init(&b,0,0,2,8);'
                   "int16_t v[2]={1,2}; rg_block_push(&b,v,0,0); return rg_block_seal(&b,0)==21?0:1;}\n")
    subprocess.run(["g++", "-std=c++11", "-Wall", "-Wextra", "-Werror", f"-I{FIRMWARE}", "-o",
                    str(tmp_path / "t"), str(src)], check=True)
    assert subprocess.run([str(tmp_path / "t")]).returncode == 0


def test_c_frames_equal_golden_vectors_and_python_encoder(emit):
    out = subprocess.run([str(emit), "vectors"], input=VECTORS.read_bytes(), capture_output=True, check=True)
    c_frames = dict(line.split() for line in out.stdout.decode().splitlines())
    vecs = _vectors()
    assert len(vecs) >= 8 and set(c_frames) == {v[0] for v in vecs}
    for name, t, seq, idx, tus, lid, nch, payload_hex, expected in vecs:
        payload = b"" if payload_hex == "-" else bytes.fromhex(payload_hex)
        py = encode_frame(int(t), int(seq), int(idx), int(tus), payload, n_channels=int(nch), layout_id=int(lid))
        assert c_frames[name] == expected, f"C header disagrees with golden vector {name}"
        assert py.hex() == expected, f"Python encoder disagrees with golden vector {name}"
        frames = FrameDecoder().feed(bytes.fromhex(expected))
        assert len(frames) == 1, name
        f = frames[0]
        assert (f.type, f.seq, f.sample_index, f.t_us, f.layout_id, f.n_channels, f.payload) == (
            int(t), int(seq), int(idx), int(tus), int(lid), int(nch), payload), name


def test_crc_check_value_and_random_data_agree(emit):
    out = subprocess.run([str(emit), "crc"], input=b"123456789", capture_output=True, check=True)
    assert out.stdout.strip() == b"29b1" and crc16(b"123456789") == 0x29B1
    data = np.random.default_rng(4).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    out = subprocess.run([str(emit), "crc"], input=data, capture_output=True, check=True)
    assert int(out.stdout, 16) == crc16(data)


def test_header_rejects_oversized_payload(emit):
    line = "too_long 2 0 0 0 0 0 " + "00" * 228 + "\n"
    out = subprocess.run([str(emit), "vectors"], input=line.encode(), capture_output=True, check=True)
    assert out.stdout.split() == [b"too_long", b"REJECTED"]


@pytest.mark.parametrize("nch,spf", [(2, 8), (4, 28), (4, 200)])
def test_c_block_builder_stream_decodes_exactly(emit, nch, spf):
    n = 1003
    raw = subprocess.run([str(emit), "stream", str(n), str(nch), str(spf)], capture_output=True, check=True).stdout
    dec = FrameDecoder()
    frames = []
    for i in range(0, len(raw), 61):  # arbitrary read sizes, as a serial port delivers them
        frames += dec.feed(raw[i : i + 61])
    assert dec.stats.dropped == 0 and dec.stats.bytes_skipped == 0 and dec.pending_bytes == 0
    assert frames[0].type == TYPE_HELLO
    hello = parse_hello(frames[0].text)
    assert hello.board == "host_test" and hello.streams["imu"] == (1, 6, 100.0)
    emg = [f for f in frames if f.type == TYPE_EMG]
    imu = [f for f in frames if f.type == TYPE_IMU]
    assert [f.seq for f in frames] == list(range(len(frames)))
    got = np.concatenate([f.samples for f in emg], axis=1)
    i = np.arange(n)
    want = np.stack([((i * 37 + c * 1000) % 65536 - 32768).astype(np.int16) for c in range(nch)])
    np.testing.assert_array_equal(got, want)
    per_frame = min(spf, 227 // (2 * nch))
    assert [f.sample_index for f in emg] == list(range(0, n, per_frame))
    # T_US wraps past 2**32 mid-stream; each frame carries its first sample's time.
    assert all(f.t_us == (4294000000 + f.sample_index * 1000) % 2**32 for f in emg)
    imu_data = np.concatenate([f.samples for f in imu], axis=1)
    k = np.arange(imu_data.shape[1])
    np.testing.assert_array_equal(imu_data, np.stack([k * 3 + c - 100 for c in range(6)]))


def test_control_line_parser(emit):
    lines = b"WHORU\r\nSTART\n\nhello\nSTOP\nSTATUS\n" + b"X" * 40 + b"\nSTART\n"
    out = subprocess.run([str(emit), "cmd"], input=lines, capture_output=True, check=True)
    assert out.stdout.split() == [b"1", b"2", b"255", b"3", b"4", b"255", b"2"]


def test_every_sketch_carries_an_identical_copy_of_the_header():
    sketches = sorted((FIRMWARE / "sketches").glob("*/*.ino"))
    assert sketches, "no sketches found"
    for ino in sketches:
        assert ino.parent.name == ino.stem, f"{ino}: the Arduino IDE needs folder name == sketch name"
        text = ino.read_text()
        if '#include "reengage_protocol.h"' not in text:
            continue
        copy = ino.parent / "reengage_protocol.h"
        assert copy.exists(), f"{ino.parent}: missing reengage_protocol.h (copy it from firmware_configs/)"
        assert copy.read_bytes() == HEADER.read_bytes(), f"{copy} differs from {HEADER}"
