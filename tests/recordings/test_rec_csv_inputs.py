"""CSV files as real users make them (Excel in a comma-decimal locale, Arduino millis()), and every way a CSV can
be wrong: one InputError naming the file, the line and the problem; from the CLI one line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reengage.analysis import analyze
from reengage.errors import InputError
from reengage.io import load_recording
from reengage.io.csvio import read_csv_recording

REENGAGE = [sys.executable, "-m", "reengage.cli"]


def _session(n: int = 4000, fs: float = 1000.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    t = np.arange(n) / fs
    burst = ((t % 2.0) > 1.0).astype(float)
    return {"time_s": t, "glute_max": 0.02 * rng.standard_normal(n) * (1 + 20 * burst),
            "hamstrings": 0.02 * rng.standard_normal(n) * (1 + 15 * burst)}


def _write(path: Path, cols: dict[str, np.ndarray], sep: str = ",", decimal: str = ".", head: str = "",
           fmt: str = "{:.9g}") -> Path:
    lines = [sep.join(cols)]
    for row in zip(*cols.values()):
        lines.append(sep.join(fmt.format(v).replace(".", decimal) for v in row))
    path.write_text(head + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_excel_semicolons_and_decimal_commas_read_as_the_plain_csv(tmp_path):
    cols = _session()
    plain = read_csv_recording(_write(tmp_path / "plain.csv", cols))
    excel = tmp_path / "excel.csv"
    _write(excel, cols, sep=";", decimal=",")
    excel.write_bytes(b"\xef\xbb\xbf" + excel.read_bytes())  # Excel's "CSV UTF-8" byte-order mark
    back = read_csv_recording(excel)
    assert back.fs_hz == plain.fs_hz == 1000.0
    assert np.array_equal(back.emg.data, plain.emg.data)
    assert [c.role for c in back.emg.channels] == ["glute_max", "hamstrings"]
    assert analyze(back) == analyze(plain)
    hinted = _write(tmp_path / "hint.csv", cols, sep=";", decimal=",", head="sep=;\n")  # Excel's separator line
    assert np.array_equal(read_csv_recording(hinted).emg.data, plain.emg.data)


def test_a_time_column_in_milliseconds_is_converted(tmp_path):
    cols = _session()
    plain = read_csv_recording(_write(tmp_path / "s.csv", cols))
    ms = dict(cols)
    ms["time_ms"] = ms.pop("time_s") * 1000
    ms = {"time_ms": ms["time_ms"], **{k: v for k, v in ms.items() if k != "time_ms"}}
    back = read_csv_recording(_write(tmp_path / "ms.csv", ms))
    assert back.fs_hz == 1000.0 and back.duration_s == pytest.approx(plain.duration_s)
    assert analyze(back) == analyze(plain)


def test_seconds_that_are_milliseconds_are_refused_with_the_reason(tmp_path):
    cols = _session()
    cols["time_s"] = cols["time_s"] * 1000  # an Arduino's millis() under a time_s header
    path = _write(tmp_path / "arduino.csv", cols)
    with pytest.raises(InputError, match=r"arduino\.csv: time_s steps by 1 .*not seconds.*time_ms"):
        read_csv_recording(path)
    r = subprocess.run([*REENGAGE, "info", str(path)], capture_output=True, text=True)
    assert r.returncode == 2 and r.stdout == "" and r.stderr.count("\n") == 1 and "time_ms" in r.stderr
    assert "Traceback" not in r.stderr


BAD = {
    # name: (file content, what the message must say)
    "empty": ("", r"empty\.csv: file is empty"),
    "comments_only": ("# a logger's banner\n\n", r"comments_only\.csv: file is empty \(no header row\)"),
    "header_only": ("# banner\ntime_s,glute_max\n", r"header_only\.csv: line 2: a header but no samples"),
    "no_time": ("t,glute_max\n0,1\n0.001,2\n", r"no_time\.csv: line 1: no time column.*time_s.*time_ms"),
    "not_increasing": ("# banner\ntime_s,glute_max\n0,1\n0.001,2\n0.001,3\n0.003,4\n",
                       r"not_increasing\.csv: line 5: time_s is not increasing \(0\.001 then 0\.001\)"),
    "comment_inside": ("time_s,glute_max\n0,1\n# electrode re-taped\n\n0.002,2\n0.001,3\n",
                       r"comment_inside\.csv: line 6: time_s is not increasing \(0\.002 then 0\.001\)"),
    "word": ("time_s,glute_max,hamstrings\n0,1,2\n0.001,1,x\n0.002,1,2\n",
             r"word\.csv: line 3, column 3 \('hamstrings'\): 'x' is not a number"),
    "empty_cell": ("time_s,glute_max\n0,1\n0.001,\n0.002,2\n", r"empty_cell\.csv: line 3, column 2 \('glute_max'\) is empty"),
    "ragged": ("time_s,glute_max\n0,1\n0.001,1,7\n", r"ragged\.csv: line 3: 3 fields, the header \(line 1\) has 2"),
    "no_emg": ("time_s,acc_x\n0,1\n0.001,1\n", r"no_emg\.csv: no EMG channel"),
    "one_sample": ("time_s,glute_max\n0,1\n", r"one_sample\.csv: fewer than two samples"),
    "comma_decimals_in_commas": ("time_s,glute_max\n0,1,5\n0,001,2,5\n",
                                 r"comma_decimals_in_commas\.csv: line 2: 3 fields, the header \(line 1\) has 2"),
    "semicolon_word": ("time_s;glute_max\n0;1,5\n0,001;abc\n",
                       r"semicolon_word\.csv: line 3, column 2 \('glute_max'\): 'abc' is not a number \(read as "
                       r"semicolon-separated, decimal commas\)"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_every_bad_csv_is_one_input_error_naming_file_line_and_problem(tmp_path, name):
    content, pattern = BAD[name]
    path = tmp_path / f"{name}.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=pattern):
        load_recording(path)


@pytest.mark.parametrize("name", ["empty", "not_increasing", "word", "ragged", "no_emg"])
def test_the_cli_says_it_in_one_line(tmp_path, name):
    content, pattern = BAD[name]
    path = tmp_path / f"{name}.csv"
    path.write_text(content)
    for cmd in (["info", str(path)], ["analyze", str(path), "--json"]):
        r = subprocess.run([*REENGAGE, *cmd], capture_output=True, text=True)
        assert r.returncode == 2 and r.stdout == "", cmd
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr and f"{name}.csv" in r.stderr, r.stderr


def test_an_events_file_opened_as_a_recording_points_at_its_csv(tmp_path):
    path = tmp_path / "s.events.csv"
    path.write_text("onset_s,duration_s,label\n0,3,rest\n")
    with pytest.raises(InputError, match=r"s\.events\.csv: this is the events file of s\.csv, not a recording"):
        load_recording(path)


def test_events_beside_a_csv_are_read_and_bad_ones_named(tmp_path):
    cols = _session()
    path = _write(tmp_path / "s.csv", cols)
    events = tmp_path / "s.events.csv"
    events.write_text("onset_s,duration_s,label\n0,0.9,rest\n1.5,0.1,gap:emg\n1,3,exercise\n")
    rec = read_csv_recording(path)
    assert [(e.onset_s, e.duration_s, e.label) for e in rec.events] == [(0, 0.9, "rest"), (1, 3, "exercise")]
    assert [(g.stream, g.onset_s, g.samples_lost) for g in rec.gaps] == [("emg", 1.5, 100)]
    events.write_text("onset;duration;trial_type\n0;0,9;rest\n")  # BIDS names, Excel dialect
    assert [(e.onset_s, e.duration_s) for e in read_csv_recording(path).events] == [(0, 0.9)]
    events.write_text("onset_s,duration_s,label\n0,3,rest\nsoon,1,exercise\n")
    with pytest.raises(InputError, match=r"s\.events\.csv: line 3: 'soon' is not a time in seconds"):
        read_csv_recording(path)
    events.write_text("when,what\n0,rest\n")
    with pytest.raises(InputError, match=r"s\.events\.csv: line 1: an events file needs the columns onset_s"):
        read_csv_recording(path)


def test_events_are_on_the_time_column_clock(tmp_path):
    """A logger that starts its clock at 12.5 s: the events file uses the same clock as time_s."""
    cols = _session()
    cols["time_s"] = cols["time_s"] + 12.5
    path = _write(tmp_path / "late.csv", cols)
    (tmp_path / "late.events.csv").write_text("onset_s,duration_s,label\n13.5,1,mvc:glute_max\n")
    rec = read_csv_recording(path)
    assert rec.events[0].onset_s == pytest.approx(1.0) and rec.meta["time_s_start"] == 12.5


def test_info_reports_the_rate_of_a_millisecond_csv(tmp_path):
    cols = _session()
    ms = {"time_ms": cols["time_s"] * 1000, "glute_max": cols["glute_max"], "hamstrings": cols["hamstrings"]}
    path = _write(tmp_path / "ms.csv", ms)
    r = subprocess.run([*REENGAGE, "info", str(path), "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["fs_hz"] == 1000.0 and info["duration_s"] == pytest.approx(4.0)
