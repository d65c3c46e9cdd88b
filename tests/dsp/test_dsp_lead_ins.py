"""power_backtrack drops a short burst that leads into a larger one (issue 14, sixth round): the examiner's "a short
burst followed by quiet before the main rise is ignored" across two bursts the detector kept apart
(``reengage.dsp.lead_ins``), offline and in the live chain alike."""

from __future__ import annotations

import numpy as np
import pytest

from reengage.dsp import LocalOnsetOptions, PowerBacktrackOptions, lead_ins, power_backtrack
from reengage.dsp.streaming import LiveChain

FS = 1000.0


def two_bursts(first_ms: int, gap_ms: int, first_gain: float, second_gain: float, seed: int = 5,
               start_s: float = 2.0):
    """Noise (RMS 1) for ``start_s`` + 4 s: a burst of ``first_ms`` at ``first_gain``× from ``start_s``, ``gap_ms``
    of rest, then 1 s at ``second_gain``×; returns (signal, first start, second start)."""
    x = np.random.default_rng(seed).standard_normal(int((start_s + 4) * FS))
    a = int(start_s * FS)
    x[a:a + first_ms] *= first_gain
    b = a + first_ms + gap_ms
    x[b:b + 1000] *= second_gain
    return x, a, b


def onsets(x, **local):
    opts = PowerBacktrackOptions(local_onset=LocalOnsetOptions(**local)) if local else None
    return power_backtrack(x, fs=FS, options=opts)[0].onsets


@pytest.mark.parametrize("seed", range(3))
def test_a_short_burst_before_a_larger_one_is_its_lead_in(seed):
    """200 ms at 8×, 400 ms of rest, then the contraction at 20×: one burst, dated to the contraction; with the
    rule off, the lead-in is a burst of its own."""
    x, a, b = two_bursts(200, 400, 8.0, 20.0, seed)
    on = onsets(x)
    assert on.size == 1 and abs(int(on[0]) - b) <= 40
    off = onsets(x, lead_in_max_ms=0.0)
    assert off.size == 2 and abs(int(off[0]) - a) <= 40


@pytest.mark.parametrize("first_ms, gap_ms, first_gain, second_gain", [
    (200, 400, 20.0, 8.0),   # the short burst is the larger one: a contraction, then a weaker one
    (400, 400, 8.0, 20.0),   # longer than 250 ms: a contraction of its own
    (200, 800, 8.0, 20.0),   # 800 ms of rest: too far to lead into the next
])
def test_a_short_burst_that_does_not_lead_into_a_larger_one_stays(first_ms, gap_ms, first_gain, second_gain):
    x, a, b = two_bursts(first_ms, gap_ms, first_gain, second_gain)
    on = onsets(x)
    assert on.size == 2
    assert abs(int(on[0]) - a) <= 40 and abs(int(on[1]) - b) <= 40


def test_lead_ins_checks_its_input_and_handles_short_and_single_bursts():
    x = np.random.default_rng(0).standard_normal(1000)
    assert lead_ins(x, [], [], fs=FS).size == 0
    assert not lead_ins(x, [100], [300], fs=FS).any()  # the last burst is never a lead-in
    x[100:105] *= 3.0  # a 5 ms burst (under one 10 ms bin) before a larger one
    x[400:600] *= 10.0
    assert lead_ins(x, [100, 400], [104, 599], fs=FS).tolist() == [True, False]
    with pytest.raises(ValueError, match="pair up"):
        lead_ins(x, [1, 2], [3], fs=FS)
    with pytest.raises(ValueError, match="within x"):
        lead_ins(x, [100], [1000], fs=FS)


def test_the_live_chain_never_reports_a_lead_in():
    """The live chain holds a short burst until the burst it may lead into could have been seen, so it reports
    what analyze reports: the contraction's onset, and nothing at the lead-in. (The chain's first step comes
    after the 4 s mains fit, so the bursts come after that.) Without the hold it would report the lead-in at once."""
    x, a, b = two_bursts(200, 400, 8.0, 20.0, start_s=6.0)
    rest = np.zeros(x.size, dtype=bool)
    rest[:1500] = True

    def live(hold: bool) -> list[int]:
        chain = LiveChain(FS, ["glute_max"])
        if not hold:
            chain.lead_in_max = 0
        chain.event(0.0, 1.5, "rest")
        found = []
        for i in range(0, x.size, 50):
            for step in chain.feed(x[None, i:i + 50], i):
                found += [s for c, kind, s, _ in step.detections if kind == "onset"]
        return found

    offline = power_backtrack(x, fs=FS, rest=rest)[0].onsets
    assert offline.size == 1 and abs(int(offline[0]) - b) <= 40
    found = live(hold=True)
    assert len(found) == 1 and abs(found[0] - int(offline[0])) <= 10
    unheld = live(hold=False)
    assert len(unheld) == 2 and abs(unheld[0] - a) <= 40
