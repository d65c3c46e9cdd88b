"""Serial Plotter text decoder: separators, labels, partial first line, lines cut by a reset, fuzzing."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reengage.acquisition.plotter import PlotterLineParser

MS = 1_000_000


def _collect(chunks):
    if not chunks:
        return np.zeros((0,)), []
    return np.concatenate([c.values for c in chunks], axis=1), [
        i for c in chunks for i in range(c.start, c.start + c.n_samples)
    ]


def test_separators_labels_and_first_line():
    d = PlotterLineParser(["glute_max", "hamstrings"])
    data = b"3,512\r\n512,300\r\n513\t301\r\n514 302\n515, 303\r\nglute_max:516,hamstrings:304\r\nhamstrings:305 glute_max:517\n"
    vals, idx = _collect(d.feed(data, 0))
    assert d.stats.partial_first == 1
    np.testing.assert_array_equal(vals, [[512, 513, 514, 515, 516, 517], [300, 301, 302, 303, 304, 305]])
    assert idx == list(range(6)) and d.stats.samples_lost == 0


def test_other_labels_are_positional_and_floats_accepted():
    d = PlotterLineParser(["glute_max", "hamstrings"], drop_first_line=False)
    vals, _ = _collect(d.feed(b"EMG1:1.5,EMG2:-2e1\nStarting sensor\n", 0))
    np.testing.assert_array_equal(vals, [[1.5], [-20.0]])
    assert d.stats.text_lines == 1 and d.stats.samples_lost == 0


def test_line_cut_by_reset_is_one_lost_sample_and_indices_stay_right():
    d = PlotterLineParser(["a", "b"], drop_first_line=False)
    out = d.feed(b"1,2\n3,4\n5,", 0)
    # the board resets: 1.6 s of silence (bootloader), then it starts a fresh line
    out += d.feed(b"7,8\n", 1600 * MS)
    vals, idx = _collect(out)
    np.testing.assert_array_equal(vals, [[1, 3, 7], [2, 4, 8]])
    assert idx == [0, 1, 3]  # the cut line was sample 2: lost, and counted
    assert d.stats.cut_lines == 1 and d.stats.samples_lost == 1


def test_wrong_count_and_garbage_lines_are_counted():
    d = PlotterLineParser(["a", "b"], drop_first_line=False)
    vals, idx = _collect(d.feed(b"1,2\n3\n4,5,6\n\xff\xfe1,2\nx:1,y\n7,8\n", 0))
    np.testing.assert_array_equal(vals, [[1, 7], [2, 8]])
    assert idx == [0, 5]
    assert d.stats.wrong_count == 2 and d.stats.bad_lines == 2 and d.stats.samples_lost == 4


def test_reset_drops_partial_and_next_first_line():
    d = PlotterLineParser(["a"], drop_first_line=False)
    d.feed(b"1\n2\n3", 0)
    d.reset()
    vals, idx = _collect(d.feed(b"99\n4\n", 10 * MS))
    np.testing.assert_array_equal(vals, [[4]])
    assert idx == [3] and d.stats.cut_lines == 1 and d.stats.partial_first == 1


def test_rate_is_estimated_from_host_time():
    d = PlotterLineParser(["a"], drop_first_line=False)
    t = 0
    for k in range(0, 400, 8):  # 8 lines per USB packet every 40 ms = 200 Hz
        d.feed(b"".join(b"%d\n" % i for i in range(k, k + 8)), t)
        t += 40 * MS
    assert d.stats.rate_estimated and abs(d.stats.estimated_fs_hz - 200.0) < 2.0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2000), cuts=st.lists(st.integers(0, 2000), max_size=20), n=st.integers(1, 4))
def test_fuzz_never_raises_on_arbitrary_bytes(data, cuts, n):
    d = PlotterLineParser([f"c{i}" for i in range(n)])
    t = 0
    prev = 0
    total = 0
    for c in sorted(cuts) + [len(data)]:
        for ch in d.feed(data[prev:c], t):
            assert ch.values.shape == (n, ch.n_samples) and np.isfinite(ch.values).all()
            total += ch.n_samples
        prev = max(prev, c)
        t += 300 * MS
    assert total == d.stats.samples
    assert d.next_index == d.stats.samples + d.stats.samples_lost


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(st.lists(st.integers(-5000, 5000), min_size=3, max_size=3), min_size=1, max_size=60),
    seps=st.lists(st.sampled_from([b",", b"\t", b" ", b", "]), min_size=1, max_size=4),
    eol=st.sampled_from([b"\n", b"\r\n"]),
    cuts=st.lists(st.integers(0, 3000), max_size=15),
    labelled=st.booleans(),
)
def test_fuzz_valid_lines_survive_any_chunking(rows, seps, eol, cuts, labelled):
    names = ["glute_max", "glute_med", "hamstrings"]
    lines = []
    for k, r in enumerate(rows):
        sep = seps[k % len(seps)]
        parts = [(f"{names[i]}:{v}" if labelled else str(v)).encode() for i, v in enumerate(r)]
        lines.append(sep.join(parts) + eol)
    data = b"garbage-partial" + eol + b"".join(lines)
    d = PlotterLineParser(names)
    out = []
    prev = 0
    for c in sorted(cuts) + [len(data)]:
        out += d.feed(data[prev:c], 0)  # same host time: no silence, nothing is "cut"
        prev = max(prev, c)
    vals, idx = _collect(out)
    np.testing.assert_array_equal(vals, np.array(rows).T)
    assert idx == list(range(len(rows))) and d.stats.samples_lost == 0


@settings(max_examples=80, deadline=None)
@given(
    n_rows=st.integers(5, 40),
    cut_at=st.integers(1, 38),
    keep=st.integers(1, 3),
)
def test_fuzz_reset_mid_line_loses_exactly_that_line(n_rows, cut_at, keep):
    cut_at = min(cut_at, n_rows - 2)
    lines = [b"%d,%d\n" % (k, -k) for k in range(n_rows)]
    d = PlotterLineParser(["a", "b"], drop_first_line=False)
    before = b"".join(lines[:cut_at]) + lines[cut_at][:keep]
    out = d.feed(before, 0)
    out += d.feed(b"".join(lines[cut_at + 1 :]), 2000 * MS)
    vals, idx = _collect(out)
    expect = [k for k in range(n_rows) if k != cut_at]
    # the fragment before the silence is dropped; the first full line after it starts fresh
    np.testing.assert_array_equal(vals[0], expect)
    assert idx == expect and d.stats.samples_lost == 1
