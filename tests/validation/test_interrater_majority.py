"""Three markers and their majority (``reengage.validation.interrater``): the majority reference keeps what more
than half of the markers agree on, and Fleiss' kappa is the textbook figure."""

from __future__ import annotations

from pathlib import Path

import pytest

from reengage.validation.interrater import fleiss_kappa, majority_rows, write_reference

HEADER = "file,channel,window_start_s,window_end_s,onset_s,clarity,split,note\n"


def marker(tmp_path: Path, name: str, calls: list[tuple[str, str]]) -> Path:
    """A reference of four windows with the given (onset_s, clarity) calls."""
    p = tmp_path / f"{name}.csv"
    p.write_text(HEADER + "".join(f"a.csv,m,{w}.0,{w + 1}.0,{on},{clarity},tune,\n"
                                  for w, (on, clarity) in enumerate(calls)))
    return p


def test_majority_keeps_what_two_of_three_agree_on(tmp_path):
    m1 = marker(tmp_path, "m1", [("0.50", "clear"), ("1.50", "clear"), ("", "clear"), ("3.50", "clear")])
    m2 = marker(tmp_path, "m2", [("0.53", "clear"), ("1.70", "clear"), ("", "clear"), ("", "unclear")])
    m3 = marker(tmp_path, "m3", [("0.51", "clear"), ("1.52", "clear"), ("2.40", "clear"), ("3.80", "clear")])
    rows = majority_rows((m1, m2, m3))
    # Window 0: all three within 50 ms, the median; window 1: two of three (1.50, 1.52), the median of those two.
    assert rows[0]["onset_s"] == pytest.approx(0.51) and rows[0]["clarity"] == "clear"
    assert rows[1]["onset_s"] == pytest.approx(1.51) and rows[1]["clarity"] == "clear"
    # Window 2: two call it "no burst"; window 3: two onsets 300 ms apart and an unclear call, so no majority.
    assert rows[2]["onset_s"] is None and rows[2]["clarity"] == "clear"
    assert rows[3]["onset_s"] is None and rows[3]["clarity"] == "unclear"
    # The majority is a reference the scorer reads.
    back = write_reference(rows, tmp_path / "majority.csv").read_text().splitlines()
    assert back[0] + "\n" == HEADER and len(back) == 5


def test_fleiss_kappa_matches_the_worked_example():
    # Fleiss (1971) as worked on Wikipedia: 10 items, 14 raters, 5 categories; kappa 0.210.
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
             [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    labels = [[c for c, k in enumerate(row) for _ in range(k)] for row in table]
    assert fleiss_kappa([[str(c) for c in item] for item in labels]) == pytest.approx(0.210, abs=0.001)


def test_fleiss_kappa_is_one_when_the_raters_agree():
    assert fleiss_kappa([["clear", "clear", "clear"], ["unclear", "unclear", "unclear"]]) == 1.0
