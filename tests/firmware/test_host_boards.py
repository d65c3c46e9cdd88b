"""The Nano 33 BLE and ESP32 sketches' logic (``reengage_board.h``) built on the host and run with fake time.

``host/board_host.c`` compiles each sketch folder's own copies of the headers and its ``board_config.h``
with gcc ``-Wall -Wextra -Werror``, feeds the logic a fake clock (on time, late, stalled) and fake sensors
(known patterns), and prints every BLE notification it sends. The project's decoder
(:class:`~reengage.acquisition.pipeline.V1Decoder`) then has to find every sample, in order, at its index,
with exact gaps where the board dropped samples, the IMU in the TOML's units and a HELLO that matches the
board's TOML.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "host"))
import fwhost  # noqa: E402
from fwhost import cmd, emg_pattern, imu_pattern  # noqa: E402

from reengage.acquisition.boards import load_board  # noqa: E402
from reengage.acquisition.pipeline import decoder_for_board  # noqa: E402
from reengage.acquisition.protocol import TYPE_HELLO, TYPE_STATUS, FrameDecoder, parse_hello, parse_kv  # noqa: E402
from reengage.acquisition.recorder import check_hello  # noqa: E402
from reengage.model import Block, Gap  # noqa: E402

pytestmark = pytest.mark.skipif(not fwhost.have_gcc(), reason="needs gcc")

NANO, ESP32 = "nano33ble_myoware", "esp32_myoware"
MAX_NOTIFY = 244  # ATT_MTU 247 - 3
FIRMWARE_BOARD = fwhost.FIRMWARE / "reengage_board.h"


@pytest.fixture(scope="module")
def exe(tmp_path_factory):
    out = tmp_path_factory.mktemp("fw")
    return {s: fwhost.build(s, out) for s in (NANO, ESP32)}


@dataclass
class Decoded:
    blocks: dict[str, list[Block]] = field(default_factory=lambda: {"emg": [], "imu": []})
    gaps: list[Gap] = field(default_factory=list)
    status: list[dict] = field(default_factory=list)
    hellos: list[str] = field(default_factory=list)
    link: dict = field(default_factory=dict)

    def stream(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(indices, samples) of a stream, in arrival order."""
        bl = self.blocks[name]
        idx = np.concatenate([np.arange(b.start, b.start + b.n_samples) for b in bl])
        return idx, np.concatenate([b.data for b in bl], axis=1)


def decode(board: str, notes: list[tuple[int, bytes]]) -> Decoded:
    """Each notification alone through the board's decoder, as the BLE transport hands them over."""
    dec = decoder_for_board(load_board(board))
    frames = FrameDecoder()
    out = Decoded()
    for t_us, payload in notes:
        assert len(payload) <= MAX_NOTIFY, "a notification longer than ATT_MTU 247 allows"
        one = frames.feed(payload)
        assert len(one) == 1 and frames.pending_bytes == 0, "not exactly one whole frame per notification"
        if one[0].type == TYPE_STATUS:
            out.status.append(parse_kv(one[0].text))
        for item in dec.feed(payload, 10**9 + t_us * 1000):
            if isinstance(item, Block):
                out.blocks[item.stream].append(item)
            elif isinstance(item, Gap):
                out.gaps.append(item)
        out.hellos += [f.text for f in one if f.type == TYPE_HELLO]
    out.link = dec.stats.link.to_dict()
    return out


def ticks(t0_ms: int, t1_ms: int, op: str = "n", step_us: int = 1000) -> list[str]:
    return [f"{op} {t}" for t in range(t0_ms * 1000, t1_ms * 1000, step_us)]


def esp_ticks(t0_ms: int, t1_ms: int, loop_every_ms: int = 5) -> list[str]:
    """The sampler every 1 ms, loop() every few ms (as the notify rate of a connection interval allows)."""
    out = []
    for ms in range(t0_ms, t1_ms):
        out.append(f"s {ms * 1000}")
        if ms % loop_every_ms == loop_every_ms - 1:
            out.append(f"l {ms * 1000 + 500}")
    return out


def test_every_sketch_carries_identical_copies_of_the_board_logic():
    shared = FIRMWARE_BOARD.read_bytes()
    for sketch in (NANO, ESP32):
        folder = fwhost.SKETCHES / sketch
        assert (folder / "reengage_board.h").read_bytes() == shared, f"{sketch}: reengage_board.h differs"
        ino = (folder / f"{sketch}.ino").read_text()
        assert '#include "board_config.h"' in ino and "rg_board_init(" in ino
        # The .ino keeps the board calls only: no framing or text building of its own.
        for logic in ("rg_block_", "rg_frame_", "rg_cmd_feed", "snprintf", "seq++"):
            assert logic not in ino, f"{sketch}.ino does {logic} itself; that belongs in reengage_board.h"


@pytest.mark.parametrize("sketch", [NANO, ESP32])
def test_logic_compiles_as_cxx11_like_the_arduino_cores(tmp_path, sketch):
    if shutil.which("g++") is None:
        pytest.skip("needs g++")
    src = tmp_path / "t.cpp"
    src.write_text('#include "board_config.h"\nstatic rg_board_t b; static rg_ring_t r;\n'
                   "static void adc(void *, int16_t *v) { v[0] = 1; }\n"
                   "int main() { rg_board_io_t io = {&r, adc, NULL, rg_ring_push}; rg_ring_init(&r);\n"
                   "  rg_board_init(&b, &RG_BOARD_CONFIG, &io, 1, 0, 0); rg_board_set_connected(&b, 1);\n"
                   "  rg_board_command(&b, (const uint8_t *)\"WHORU\", 5, 0); rg_board_tick(&b, 100000);\n"
                   "  return r.count > 0 ? 0 : 1; }\n")
    subprocess.run(["g++", "-std=c++11", "-Wall", "-Wextra", "-Werror", f"-I{fwhost.SKETCHES / sketch}",
                    "-o", str(tmp_path / "t"), str(src)], check=True)
    assert subprocess.run([str(tmp_path / "t")]).returncode == 0


@pytest.mark.parametrize("sketch", [NANO, ESP32])
def test_hello_matches_the_board_toml(exe, sketch):
    queued = sketch == ESP32  # the ESP32 queues the HELLO; its loop() sends it
    notes = fwhost.run(exe[sketch], ["k 1", cmd("WHORU")] + ["l 0"] * queued, boot=51234, queue=int(queued))
    (t, payload), = notes
    text = FrameDecoder().feed(payload)[0].text
    hello = parse_hello(text)
    board = load_board(sketch)
    assert check_hello(hello, board) == ([], [])
    assert hello.board == sketch and hello.boot == "51234" and hello.extra["spf"] == str(board.emg.samples_per_frame)
    assert hello.streams["emg"] == (0, 4, 1000.0)
    assert ("imu" in hello.streams) == ("imu" in board.streams)


def test_nano_streams_every_sample_and_imu_in_toml_units(exe):
    # loop() runs several times per sample, as on the board; 5.5 s covers one periodic HELLO.
    lines = ["k 1", cmd("WHORU")] + ticks(0, 5500, step_us=400)
    d = decode(NANO, fwhost.run(exe[NANO], lines))
    idx, data = d.stream("emg")
    assert d.gaps == [] and d.link["dropped"] == 0
    assert idx[0] == 0 and np.array_equal(idx, np.arange(len(idx))) and len(idx) >= 5500 - 28
    np.testing.assert_array_equal(data, emg_pattern(idx))
    assert all(b.n_samples == 28 for b in d.blocks["emg"])
    k, imu = d.stream("imu")
    np.testing.assert_array_equal(k, np.arange(len(k)))
    readings = 5499600 // fwhost.IMU_PERIOD_US + 1  # one per 10016 us (99.84 Hz) up to the last loop
    assert len(k) == readings // 10 * 10 == 550  # whole frames of 10
    np.testing.assert_array_equal(imu, imu_pattern(k))
    # The rails: +4.0001 g saturates at +32767 (a plain cast would overflow int16), -3.9999 g rounds to
    # -32767 (truncation would too; +0.5001 g is where they differ: 4097, not 4096), gyro beyond +-2000 saturates.
    assert imu[:3].max() == 32767 and imu[:3].min() == -32767 and 4097 in imu[:3]
    assert imu[3:].max() == 32767 and imu[3:].min() == -32768
    # Physical values back through the TOML's scale: within half an LSB unless saturated.
    acc, _ = fwhost.imu_physical(k)
    scale = np.array([c.scale for c in load_board(NANO).streams["imu"].channels[:3]])[:, None]
    inside = np.abs(acc) < 3.999
    assert np.all(np.abs(imu[:3] * scale - acc)[inside] <= 0.5 * scale.max() + 1e-9)
    assert len(d.hellos) == 2  # WHORU, and once more after 5 s of streaming


def test_nano_late_loops_jitter_or_skip_with_exact_gaps(exe):
    # A loop 1.8 ms late still takes its samples; one 7.3 ms late skips every sample more than 2 ms late.
    times = list(range(0, 100_000, 500)) + [101_800] + list(range(102_000, 200_000, 500)) + [207_300]
    times += list(range(207_500, 400_000, 500))
    d = decode(NANO, fwhost.run(exe[NANO], ["k 1"] + [f"n {t}" for t in times]))
    # What the schedule says, recomputed: sample s (due at s ms) is skipped if its first chance is > 2 ms late.
    skipped, s = [], 0
    for t in times:
        while s * 1000 <= t:
            if t - s * 1000 > 2000:
                skipped.append(s)
            s += 1
    assert skipped == [200, 201, 202, 203, 204, 205]
    idx, data = d.stream("emg")
    np.testing.assert_array_equal(idx, np.setdiff1d(np.arange(idx[-1] + 1), skipped))
    np.testing.assert_array_equal(data, emg_pattern(idx))
    assert [(g.samples_lost, round(g.onset_s * 1000)) for g in d.gaps if g.stream == "emg"] == [(6, 200)]
    assert d.link["dropped"] == 0  # nothing lost on the link: the board said so itself
    # Its next STATUS reports the 6 it dropped.
    d2 = decode(NANO, fwhost.run(exe[NANO], ["k 1"] + [f"n {t}" for t in times] + [cmd("STATUS"), cmd("STATUS")]))
    assert [s["overrun"] for s in d2.status] == ["6", "0"]


def test_nano_commands(exe):
    lines = ["k 1", cmd("WHORU")] + ticks(0, 100) + [cmd("STOP")] + ticks(100, 300)
    lines += ["c " + b"START\r\n".hex()] + ticks(300, 400) + [cmd("STATUS"), cmd("BOGUS"), "c " + (b"X" * 40).hex()]
    d = decode(NANO, fwhost.run(exe[NANO], lines))
    assert len(d.hellos) == 2  # WHORU, START ("\r\n" once: not two lines)
    assert [s["state"] for s in d.status] == ["stopped", "streaming", "streaming", "streaming"]
    assert [s.get("error") for s in d.status] == [None, None, "unknown_command", "unknown_command"]
    idx, data = d.stream("emg")
    # STOP sends the 16 samples of its partial frame at once; after START nothing of the stopped time is
    # spliced in; the last 16 samples wait in their unfinished frame.
    np.testing.assert_array_equal(idx, np.r_[0:100, 300:384])
    np.testing.assert_array_equal(data, emg_pattern(idx))
    assert [g.samples_lost for g in d.gaps if g.stream == "emg"] == [200]


def test_nano_without_imu_says_so(exe):
    d = decode(NANO, fwhost.run(exe[NANO], ["k 1"] + ticks(0, 300) + [cmd("STATUS")], imu_ok=0))
    assert d.blocks["imu"] == [] and d.status[-1]["imu"] == "absent"


def test_esp32_full_queue_drops_whole_frames_and_counts_them(exe):
    # loop() stalls for 700 ms (a slow BLE stack): the sampler keeps queueing until the 16 slots are full,
    # then drops each further frame; the host sees exact gaps, the next STATUS the same count.
    lines = ["k 1", cmd("WHORU"), "l 0"] + esp_ticks(0, 200) + [f"s {ms * 1000}" for ms in range(200, 900)]
    lines += esp_ticks(900, 1200)
    d = decode(ESP32, fwhost.run(exe[ESP32], lines, queue=1))
    idx, data = d.stream("emg")
    np.testing.assert_array_equal(data, emg_pattern(idx))
    assert np.all(np.diff(idx) > 0)
    # At 200 ms the queue is empty with 4 samples pending (200 = 7 x 28 + 4): frames 7..22 fill it,
    # frames 23..31 (up to 896 ms) are dropped.
    lost = [(g.samples_lost, round(g.onset_s * 1000)) for g in d.gaps if g.stream == "emg"]
    assert lost == [(9 * 28, 23 * 28)]
    assert np.array_equal(idx, np.setdiff1d(np.arange(idx[-1] + 1), np.arange(23 * 28, 32 * 28)))
    assert [s["overrun"] for s in d.status] == [str(9 * 28)]
    assert d.link["dropped"] == 9 and d.link["dropped_by_reason"] == {"lost": 9}


def test_esp32_disconnect_drops_the_partial_frame_and_counts_on(exe):
    lines = ["k 1", cmd("WHORU"), "l 0"] + esp_ticks(0, 110) + ["k 0"] + esp_ticks(110, 400) + ["k 1"]
    lines += esp_ticks(400, 600)
    d = decode(ESP32, fwhost.run(exe[ESP32], lines, queue=1))
    idx, data = d.stream("emg")
    np.testing.assert_array_equal(data, emg_pattern(idx))
    assert np.array_equal(idx, np.r_[0:84, 400 : 400 + len(idx) - 84])  # 110 ms: 3 whole frames went out
    assert [g.samples_lost for g in d.gaps if g.stream == "emg"] == [316]
