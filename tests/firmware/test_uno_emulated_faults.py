"""The faults a real Uno has, on the unmodified sketch in the emulator, through the real ``reengage record``.

The harness schedules each fault in simulated time from the host's first byte (the recorder's START after
it opened the port), so it lands one second into the recording however long the recorder took to start. The
board is paced to wall time: the recorder's clocks and the USB bridge's buffer both need real timing.
Signal: the harness's counter pattern, so every received sample can be checked against the board's own index.
"""

from __future__ import annotations

import pytest
from uno_emulator import UnoSim, assert_run, record, requires_simavr

pytestmark = [requires_simavr, pytest.mark.slow]
DURATION_S = 3
FS = 1000
FRAME_BYTES, SPF = 49, 8  # the sketch's EMG frame: 15 + 8 x 2 x 2 + 2 bytes for 8 samples
BRIDGE_RING = 128
HOST_CLOCK_TOL = 100  # samples: a restarted board's gap is estimated from the host clock (read latency, load)


def _run(uno_sim, uno_elf, tmp_path, *fault: str):
    link = tmp_path / "ttyUNO"
    with UnoSim(uno_sim, uno_elf, link, "--pattern", "counter", "--pace", "1", "--fault-clock", "host",
                *fault) as sim:
        proc, rec = record(link, tmp_path / "rec", DURATION_S)
    assert len(rec.gaps) == 1, rec.gaps
    gap = rec.gaps[0]
    a = round(gap.onset_s * FS)
    assert 0 < a and a + gap.samples_lost < rec.emg.n_samples, (a, gap)  # it resumed
    return sim, proc, rec, gap, a


def test_usb_stall_loses_what_the_bridge_cannot_hold_and_the_gap_is_exact(uno_sim, uno_elf, tmp_path):
    sim, _, rec, gap, a = _run(uno_sim, uno_elf, tmp_path, "--stall", "1.0:0.3")
    emg, boot = rec.emg, sim.event("dtr_reset")
    lost_bytes = int(sim.event("end")["dropped"]) - int(boot["dropped"])
    # Nothing was lost before the stall; what was lost at its end (the bridge still full) joins the same hole.
    assert lost_bytes > 0 and sim.event("stall")["dropped"] == boot["dropped"], sim.events
    # The board never knew (an Uno has no flow control): its counter ran on, so the gap is counted, not guessed,
    # and every sample on both sides of it sits at its board index, bit-exact.
    assert "sample counter jumped" in gap.reason, gap
    assert_run(emg, 0, a, emg.first_sample, boot)
    assert_run(emg, a + gap.samples_lost, emg.n_samples, emg.first_sample + a + gap.samples_lost, boot)
    # The gap is what the bridge dropped: 300 ms less the 128 bytes it held, up to a frame cut at each end.
    assert abs(gap.samples_lost * FRAME_BYTES / SPF - lost_bytes) <= 2 * FRAME_BYTES, (gap, lost_bytes)
    held = BRIDGE_RING * SPF // FRAME_BYTES
    assert 300 - held - 2 * SPF <= gap.samples_lost <= 300 + SPF, gap
    # The damage shows in the link report: every frame missing by SEQ is counted with its cause ("truncated" or
    # "crc" when the drop cut a frame in two, "lost" when the cut fell between frames), and the counts add up.
    dec = rec.meta["acquisition"]["decoder"]
    assert dec["dropped"] >= gap.samples_lost // SPF and dec["dropped"] == dec["seq_gaps"], dec
    assert sum(dec["dropped_by_reason"].values()) == dec["seq_gaps"], dec
    assert rec.meta["acquisition"]["samples_lost"] == gap.samples_lost


def _check_restart(sim, rec, gap, a, boot_before: dict, fault: dict, boot_after: dict) -> None:
    """A restarted board: both runs exact at their own boards' indices, and the host-clock estimate of the gap
    near the truth: what the board sampled but never sent before the fault (its ring, its open frame, the
    bridge), plus the simulated time until the boot whose samples come next."""
    emg = rec.emg
    assert "board restarted" in gap.reason and "estimated" in gap.reason, gap
    assert_run(emg, 0, a, emg.first_sample, boot_before)
    # After the restart the board counts from 0 again, and its sample 0 is the first the recorder puts after the gap.
    assert_run(emg, a + gap.samples_lost, emg.n_samples, 0, boot_after)
    acq = rec.meta["acquisition"]
    assert acq["board_restarts"] == 1 and acq["decoder"]["resets"] == 1, acq
    unsent = int(fault["conv0"]) - int(boot_before["conv0"]) - (emg.first_sample + a)
    assert 0 <= unsent <= 64 + SPF + BRIDGE_RING // FRAME_BYTES * SPF, unsent
    truth = unsent + round((float(boot_after["t"]) - float(fault["t"])) * FS)
    assert abs(gap.samples_lost - truth) <= HOST_CLOCK_TOL, (gap, truth, sim.events)


def test_mcu_reset_mid_stream_is_a_new_boot_and_a_gap(uno_sim, uno_elf, tmp_path):
    sim, _, rec, gap, a = _run(uno_sim, uno_elf, tmp_path, "--reset", "1.0")
    boot, reset = sim.event("dtr_reset"), sim.event("reset")
    _check_restart(sim, rec, gap, a, boot, reset, reset)
    # The EEPROM boot counter: 0 at power-on, 1 when the port opened (DTR), 2 after the reset.
    assert rec.meta["hello"]["boot"] == "2", rec.meta["hello"]


def test_unplug_and_replug_reconnects_and_records_the_gap(uno_sim, uno_elf, tmp_path):
    sim, proc, rec, gap, a = _run(uno_sim, uno_elf, tmp_path, "--unplug", "1.0:0.4")
    assert rec.meta["acquisition"]["disconnects"] == 1, rec.meta["acquisition"]
    assert "disconnected" in proc.stderr and "reconnected" in proc.stderr, proc.stderr
    resets = [e for e in sim.events if e["event"] == "dtr_reset"]
    assert len(resets) == 2, sim.events  # the host opened the port, then the new one after the re-plug
    # Powered by its cable, the Uno was off for 400 ms, then restarted again when the recorder reopened the port.
    _check_restart(sim, rec, gap, a, resets[0], sim.event("unplug"), resets[1])
    assert gap.samples_lost >= 400 - HOST_CLOCK_TOL, gap
