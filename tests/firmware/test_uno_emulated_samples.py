"""The unmodified Uno sketch, on an emulated ATmega328P, recorded by the real ``reengage record``: exact samples.

The harness answers every ADC conversion with the next value of a known signal; the recording must hold those
values after 10-bit quantisation, sample for sample, in order, at 1000 Hz, with nothing lost. This runs the
sketch's timer ISR, ring buffer, framing and CRC, the UART at 500 000 baud, and the whole host path.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
from uno_emulator import ROOT, UnoSim, counter_codes, mv_to_code, record, requires_simavr

pytestmark = requires_simavr

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
UCI = DATA / "uci_A01_knee_flexion_standing.csv"
DURATION_S = 3
MID_RAIL_MV = 2500  # MyoWare 2.0 RAW sits at half its 5 V supply


def _myoware_raw_mv(emg_mv: np.ndarray, gain: float) -> np.ndarray:
    """Electrode millivolts → the MyoWare RAW pin's millivolts (gain around mid-rail, clipped to the rails)."""
    return np.clip(np.rint(MID_RAIL_MV + gain * emg_mv), 0, 5000).astype(np.int64)


def _check_exact(rec, sim, expected) -> None:
    """``expected(k, c)``: the code of conversion ``k`` of channel ``c``."""
    emg = rec.emg
    assert emg.fs_hz == 1000.0
    assert emg.n_samples == DURATION_S * 1000, emg.n_samples
    assert rec.gaps == [], rec.gaps
    acq = rec.meta["acquisition"]
    assert acq["samples_lost"] == 0 and acq["decoder"]["dropped"] == 0, acq
    # Opening the port reset the board (DTR): its sample 0 is the conversion after those made before. Without an
    # overrun the ISR converts once per channel per sample, so from there on board sample i is conversion i.
    boot = sim.event("dtr_reset")
    idx = emg.first_sample + np.arange(emg.n_samples)
    for c in range(2):
        conv = idx + int(boot[f"conv{c}"])
        np.testing.assert_array_equal(emg.data[c], expected(conv, c), err_msg=f"channel {c}")


@pytest.mark.slow
def test_counter_pattern_is_recorded_sample_for_sample(uno_sim, uno_elf, tmp_path):
    link = tmp_path / "ttyUNO"
    with UnoSim(uno_sim, uno_elf, link, "--pattern", "counter", "--pace", "1") as sim:
        _, rec = record(link, tmp_path / "rec", DURATION_S)
    _check_exact(rec, sim, counter_codes)
    # Before the host opened the port the bridge dropped what nobody read; after it, nothing.
    assert sim.event("end")["dropped"] == sim.event("dtr_reset")["dropped"], sim.events
    # The recorder's handshake reached the sketch's UART, and the HELLO it checked was the sketch's own.
    assert [e["line"] for e in sim.events if e["event"] == "host"] == ["START", "STOP"], sim.events
    assert rec.meta["hello"]["board"] == "uno_myoware" and rec.meta["hello"]["streams"]["emg"] == [0, 2, 1000.0]


@pytest.mark.slow
@pytest.mark.skipif(not UCI.exists(), reason=f"{UCI} absent (the project's shared data)")
def test_a_real_emg_recording_fed_to_the_adc_comes_back_exactly(uno_sim, uno_elf, tmp_path):
    board = tomllib.loads((ROOT / "firmware_configs" / "uno_myoware.toml").read_text())
    gains = [ch["gain"] for ch in board["streams"]["emg"]["channels"]]
    # rectus femoris → A0 (glute_max), biceps femoris → A1 (hamstrings); UCI's EMG is in mV
    emg_mv = np.loadtxt(UCI, delimiter=",", skiprows=1, usecols=(1, 2)).T
    mv = np.stack([_myoware_raw_mv(emg_mv[c], gains[c]) for c in range(2)])
    assert np.ptp(mv[0]) > 20 and np.ptp(mv[1]) > 20  # the signal moves the ADC, not a flat line
    feed = tmp_path / "adc_mv.txt"
    np.savetxt(feed, mv.T, fmt="%d")
    link = tmp_path / "ttyUNO"
    with UnoSim(uno_sim, uno_elf, link, "--adc", str(feed), "--pace", "1") as sim:
        _, rec = record(link, tmp_path / "rec", DURATION_S)
    n = mv.shape[1]  # the harness wraps around at the end of the file
    _check_exact(rec, sim, lambda k, c: mv_to_code(mv[c][k % n]))
