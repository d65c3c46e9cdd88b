"""Ctrl-C landing right after a catalog COMMIT: the user sees the KeyboardInterrupt, the row is kept."""

import numpy as np
import pytest

from reengage.catalog import Catalog
from reengage.io.recfile import RecordingWriter, StreamSpec, read_recording
from reengage.model import Channel


class InterruptAfterCommit:
    """The catalog's connection, with a Ctrl-C arriving the instant a COMMIT has taken effect."""

    def __init__(self, db):
        self._db = db

    def execute(self, sql, *args):
        result = self._db.execute(sql, *args)
        if sql == "COMMIT":
            raise KeyboardInterrupt
        return result

    def __getattr__(self, name):
        return getattr(self._db, name)


def test_interrupt_after_commit_keeps_the_row_and_raises_keyboardinterrupt(tmp_path):
    path = tmp_path / "P009" / "s.rgr"
    ch = [Channel("glute_max", "glute_max", "adc", "raw", 1.0, 511.5)]
    with RecordingWriter(path, [StreamSpec("emg", 1000.0, ch)], {"subject": "P009", "task": "bridge",
                                                                  "session_date": "2026-11-01"}) as w:
        w.write_block("emg", 0, np.full((1, 500), 512, np.int16))
    info = read_recording(path).info()
    with Catalog(tmp_path) as cat:
        real = cat.db
        cat.db = InterruptAfterCommit(real)
        with pytest.raises(KeyboardInterrupt):
            cat.register(path, info, None)
        cat.db = real
        assert not real.in_transaction
        assert [s["subject_id"] for s in cat.sessions()] == ["P009"]
