"""Project-wide pytest configuration: offline Chromium flags and a small recording factory."""

from __future__ import annotations

import numpy as np
import pytest


def pytest_setup_options():
    """Chromium flags for dash[testing] browser tests: headless CI machines have no network, so
    nothing may try to fetch updates, sync or component downloads (see ``shared/TOOLCHAIN.md``)."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    return options


@pytest.fixture
def write_rgr():
    """Write a small ``.rgr`` recording: ``write_rgr(path, meta, seconds=2.0, fs_hz=1000.0)`` → path.

    Two raw EMG channels (glute max, hamstrings) of seeded noise in 10-bit ADC counts around mid-rail."""
    from reengage.io.recfile import RecordingWriter, StreamSpec
    from reengage.model import Channel

    def write(path, meta, seconds=2.0, fs_hz=1000.0, seed=0):
        rng = np.random.default_rng(seed)
        n = int(seconds * fs_hz)
        chans = [
            Channel("glute_max", "glute_max", "adc", "raw", 1.0, 511.5),
            Channel("hamstrings", "hamstrings", "adc", "raw", 1.0, 511.5),
        ]
        data = np.clip(511.5 + 40 * rng.standard_normal((2, n)), 0, 1023).astype("<i2")
        with RecordingWriter(path, [StreamSpec("emg", fs_hz, chans)], meta) as w:
            w.write_block("emg", 0, data)
        return path

    return write
