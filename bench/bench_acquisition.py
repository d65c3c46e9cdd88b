"""Acquisition benchmark: decoder throughput vs the fastest links it serves, and pty byte→sink latency.

Figures are ratios against baselines measured in the same run (never asserted in tests):
* decoder MB/s ÷ link MB/s for 2 Mbaud serial (8N1: 0.2 MB/s) and BLE 2M PHY (0.25 MB/s raw bit rate,
  an upper bound on any notification throughput), and ÷ the speed of a bare ``crc_hqx`` pass over the
  same bytes (the floor cost of checking every frame);
* the board decoder (``decoder_for_board``: frames → Blocks on the recording's index) over the same bytes,
  as a fraction of the frame decoder alone: what turning frames into items costs;
* latency from ``os.write`` on a pty master to the Block reaching a sink, through pyserial and the board
  decoder; median and p99, and their ratio to a bare pty ``write → read`` round trip.

Run: ``.venv/bin/python bench/bench_acquisition.py``
"""

from __future__ import annotations

import binascii
import os
import threading
import time
import tty

import numpy as np

from reengage.acquisition.boards import load_board
from reengage.acquisition.pipeline import decoder_for_board
from reengage.acquisition.plotter import PlotterLineParser
from reengage.acquisition.protocol import TYPE_EMG, FrameDecoder, encode_frame
from reengage.acquisition.serial_transport import SerialTransport


def _frames(n: int, nch: int, spf: int) -> bytes:
    rng = np.random.default_rng(0)
    return b"".join(
        encode_frame(TYPE_EMG, k, k * spf, k * 1000, rng.integers(0, 1024, (nch, spf), dtype=np.int16))
        for k in range(n)
    )


def _mbps(fn, data: bytes, chunk: int, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn(data, chunk)
        best = min(best, time.perf_counter() - t)
    return len(data) / best / 1e6


def decode_all(data: bytes, chunk: int) -> None:
    d = FrameDecoder()
    for i in range(0, len(data), chunk):
        d.feed(data[i : i + chunk])


def board_decode_all(data: bytes, chunk: int) -> None:
    d = decoder_for_board(load_board("uno_myoware"))
    for i in range(0, len(data), chunk):
        d.feed(data[i : i + chunk], 0)


def crc_all(data: bytes, chunk: int) -> None:
    for i in range(0, len(data), chunk):
        binascii.crc_hqx(data[i : i + chunk], 0xFFFF)


def plot_all(data: bytes, chunk: int) -> None:
    d = PlotterLineParser(["a", "b"])
    for i in range(0, len(data), chunk):
        d.feed(data[i : i + chunk], 0)


def latency(n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    board = load_board("uno_myoware")
    master, slave = os.openpty()
    tty.setraw(slave)
    t = SerialTransport(os.ttyname(slave), handshake=False)
    t.open()
    frame_data = np.zeros((2, 8), np.int16)
    dec = decoder_for_board(board)
    lat, base = [], []
    for k in range(n):  # bare pty: write → read
        t0 = time.perf_counter_ns()
        os.write(master, b"x")
        while not t.read():
            pass
        base.append(time.perf_counter_ns() - t0)
    for k in range(n):
        f = encode_frame(TYPE_EMG, k, k * 8, k * 8000, frame_data)
        t0 = time.perf_counter_ns()
        os.write(master, f)
        got = []
        while not got:
            got = dec.feed(t.read(), 0)
        lat.append(time.perf_counter_ns() - t0)
        time.sleep(0.001)
    t.close()
    os.close(master)
    os.close(slave)
    return np.array(lat) / 1e6, np.array(base) / 1e6


def main() -> None:
    serial_2m = 2_000_000 / 10 / 1e6  # MB/s, 8N1
    ble_2m = 2_000_000 / 8 / 1e6
    uno = _frames(20_000, 2, 8)  # 49-byte frames, as the Uno sends
    ble = _frames(5_000, 4, 28)  # 241-byte frames, one per notification
    text = b"".join(b"%d,%d\r\n" % (i % 1024, (3 * i) % 1024) for i in range(200_000))
    crc_uno = _mbps(crc_all, uno, 49)
    print("decoder throughput (ratios against the link and a bare CRC pass measured now)")
    for name, data, chunk, link, lname in (
        ("uno frames, 4 KiB reads", uno, 4096, serial_2m, "2 Mbaud serial"),
        ("uno frames, 64 B reads", uno, 64, serial_2m, "2 Mbaud serial"),
        ("BLE frames, 1 per notification", ble, 241, ble_2m, "BLE 2M PHY"),
    ):
        mb = _mbps(decode_all, data, chunk)
        print(f"  {name:<32} {mb:7.2f} MB/s = {mb / link:6.1f}x {lname}; {mb / crc_uno:5.2f}x bare crc_hqx")
    frames_only = _mbps(decode_all, uno, 4096)
    mb = _mbps(board_decode_all, uno, 4096)
    print(f"  {'board decoder, uno, 4 KiB reads':<32} {mb:7.2f} MB/s = {mb / serial_2m:6.1f}x 2 Mbaud serial; "
          f"{mb / frames_only:5.2f}x the frame decoder alone")
    mb = _mbps(plot_all, text, 4096)
    print(f"  {'plotter text, 4 KiB reads':<32} {mb:7.2f} MB/s = {mb / serial_2m:6.1f}x 2 Mbaud serial")
    lat, base = latency()
    print("pty byte → sink latency (frame written to the master → Block out of the board decoder)")
    print(f"  median {np.median(lat):.3f} ms, p99 {np.percentile(lat, 99):.3f} ms; "
          f"bare pty write→read median {np.median(base):.3f} ms → {np.median(lat) / np.median(base):.2f}x, "
          f"p99 {np.percentile(lat, 99) / np.percentile(base, 99):.2f}x")


if __name__ == "__main__":
    main()
