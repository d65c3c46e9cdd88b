"""A CSV header with 100 000 columns is refused from the header line, before its body is parsed (issue 13)."""

from __future__ import annotations

import numpy as np
import pytest

from reengage.errors import InputError
from reengage.io import csvio, load_recording


def _csv(path, n_channels: int, rows: int = 50) -> str:
    t = np.arange(rows) / 1000.0
    head = "time_s," + ",".join(f"ch{i}" for i in range(n_channels))
    body = "\n".join(f"{x:.3f}," + ",".join(["0.5"] * n_channels) for x in t)
    path.write_text(head + "\n" + body + "\n")
    return str(path)


def test_100000_columns_refused_before_the_body_is_parsed(tmp_path, monkeypatch):
    path = _csv(tmp_path / "wide.csv", 100_000, rows=3)

    def no_parsing(*a, **k):
        raise AssertionError("the body was parsed")

    monkeypatch.setattr(csvio.pd, "read_csv", no_parsing)
    with pytest.raises(InputError, match=r"wide\.csv: line 1: 100001 columns; reengage reads a time column and at "
                                         r"most 64 channels$"):
        load_recording(path)


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_the_limit_is_the_channel_count(tmp_path, sep):
    ok = _csv(tmp_path / "ok.csv", csvio.MAX_CHANNELS)
    bad = _csv(tmp_path / "bad.csv", csvio.MAX_CHANNELS + 1)
    for p in (ok, bad):
        text = open(p).read().replace(",", sep)
        open(p, "w").write(text)
    assert load_recording(ok).emg.data.shape[0] == csvio.MAX_CHANNELS
    with pytest.raises(InputError, match="66 columns"):
        load_recording(bad)


def test_a_deeply_nested_sidecar_is_named_not_a_traceback(tmp_path):
    path = _csv(tmp_path / "rec.csv", 2)
    (tmp_path / "rec.json").write_text('{"reengage": ' + "[" * 100_000 + "]" * 100_000 + "}")
    rec = load_recording(path)
    assert rec.emg.data.shape == (2, 50)
    assert len(rec.problems) == 1 and "rec.json: not readable JSON" in rec.problems[0]
