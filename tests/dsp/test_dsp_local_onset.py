"""power_backtrack's last step (issue 14, fifth round): onsets judged against the baseline just before each burst
(``reengage.dsp.local_onsets``), as an examiner reads them on real muscle."""

from __future__ import annotations

import numpy as np
import pytest

from reengage.dsp import LocalOnsetOptions, PowerBacktrackOptions, local_onsets, power_backtrack

FS = 1000.0


def lead_in_then_contraction(quiet_s: float, seed: int = 3) -> tuple[np.ndarray, int, int]:
    """4 s of noise (RMS 1), a 100 ms lead-in at 6× from 1.8 s, ``quiet_s`` of rest, then a contraction at 20×
    for 1.5 s; returns (signal, lead-in start, contraction start)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(int(4 * FS))
    lead = 1800
    x[lead:lead + 100] *= 6.0
    start = lead + 100 + int(quiet_s * FS)
    x[start:start + 1500] *= 20.0
    return x, lead, start


@pytest.mark.parametrize("seed", range(4))
def test_a_lead_in_that_falls_quiet_before_the_contraction_is_not_its_onset(seed):
    """A lead-in 120 ms before the contraction is bridged into one burst by the detector (gaps ≤ 150 ms merge) and
    its onset was dated to it; the last step dates the contraction, as an examiner does."""
    x, lead, start = lead_in_then_contraction(0.12, seed)
    before = power_backtrack(x, fs=FS, options=PowerBacktrackOptions(local_onset=None))[0]
    after = power_backtrack(x, fs=FS)[0]
    assert len(before) == len(after) == 1
    assert abs(int(before.onsets[0]) - lead) <= 30  # the step has something to correct
    assert abs(int(after.onsets[0]) - start) <= 15
    assert after.offsets[0] == before.offsets[0]  # only the onset moves


def test_a_lead_in_that_runs_into_the_contraction_is_its_start():
    """A 20 ms dip is not a return to rest (the rule needs 50 ms): the lead-in is where the burst starts."""
    x, lead, _ = lead_in_then_contraction(0.02)
    b = power_backtrack(x, fs=FS)[0]
    assert len(b) == 1
    assert abs(int(b.onsets[0]) - lead) <= 30


def test_an_onset_that_leads_into_the_burst_without_falling_quiet_stays():
    """Moving an onset later needs a return to rest between the two (50 ms under twice the local baseline): a
    detector onset 30 ms before the contraction, or on potentials that lead into it, is kept."""
    x, lead, start = lead_in_then_contraction(0.2)
    assert local_onsets(x, [start - 30], [3400], fs=FS)[0] == start - 30
    assert abs(int(local_onsets(x, [start - 100], [3400], fs=FS)[0]) - start) <= 10  # 100 ms of rest: moved


def test_the_result_does_not_depend_on_where_the_record_starts():
    """Bins are counted from each burst's onset: a live chain's sliding window (the same signal from a later
    first sample) gives the same onsets as the whole record."""
    x, lead, _ = lead_in_then_contraction(0.12)
    whole = local_onsets(x, [lead], [3400], fs=FS)
    for cut in (1, 7, 333, 1000):
        assert local_onsets(x[cut:], [lead - cut], [3400 - cut], fs=FS)[0] + cut == whole[0]


def tonic_then_contraction() -> np.ndarray:
    """Rest (RMS 1) to 1.8 s, tonic firing at 4× to 2.02 s, a contraction at 30× to 3.5 s."""
    x = np.random.default_rng(5).standard_normal(int(4 * FS))
    x[1800:2020] *= 4.0
    x[2020:3500] *= 30.0
    return x


def test_the_baseline_never_reads_before_the_floor():
    """Seen with the rest before it, the tonic stretch is the departure; where a data gap ends at its start (the
    floor), the tonic stretch is all the baseline there is, and the contraction leaves it."""
    x = tonic_then_contraction()
    assert abs(int(local_onsets(x, [1800], [3499], fs=FS)[0]) - 1800) <= 10
    assert abs(int(local_onsets(x, [1800], [3499], fs=FS, floor=[1800])[0]) - 2020) <= 10


def test_the_baseline_never_reads_into_the_previous_burst():
    x = tonic_then_contraction()
    two = local_onsets(x, [1000, 1800], [1799, 3499], fs=FS)
    assert two[0] == 1000  # nothing before it but rest: stays
    assert abs(int(two[1]) - 2020) <= 10  # as with the floor at 1800


def test_keep_ms_leaves_the_detectors_onset_where_the_two_agree():
    x, lead, start = lead_in_then_contraction(0.2)
    assert local_onsets(x, [start - 100], [3400], fs=FS, options=LocalOnsetOptions(keep_ms=150.0))[0] == start - 100


def test_no_burst_no_work():
    assert local_onsets(np.zeros(100), [], [], fs=FS).size == 0


def test_a_burst_in_the_records_last_bin_is_left_alone():
    x = np.random.default_rng(0).standard_normal(1000)
    assert local_onsets(x, [995], [999], fs=FS)[0] == 995


@pytest.mark.parametrize("onsets, offsets, message", [([10], [5, 20], "pair up"), ([10], [1000], "within"),
                                                      ([10], [5], "within")])
def test_bursts_that_do_not_fit_the_signal_get_a_clear_error(onsets, offsets, message):
    with pytest.raises(ValueError, match=message):
        local_onsets(np.zeros(1000), onsets, offsets, fs=FS)


def test_a_data_gap_bounds_the_onset_and_the_baseline():
    """A burst never starts inside a data gap (the backtrack reads the envelope, which the gap's zeros do not stop:
    it stopped 2 samples inside before), and the step reads no baseline from the gap: the tonic stretch after it is
    all the baseline there is."""
    x = tonic_then_contraction()
    x[1500:1800] = 0.0
    gap = np.zeros(x.size, dtype=bool)
    gap[1500:1800] = True
    (without,) = power_backtrack(x, fs=FS, exclude=gap, options=PowerBacktrackOptions(local_onset=None))
    assert len(without) == 1 and without.onsets[0] == 1800
    (with_step,) = power_backtrack(x, fs=FS, exclude=gap)
    assert abs(int(with_step.onsets[0]) - 2020) <= 10
    # Without the gap mask the zeros read as rest, and the tonic stretch is the departure.
    (unmasked,) = power_backtrack(x, fs=FS)
    assert abs(int(unmasked.onsets[0]) - 1800) <= 15
