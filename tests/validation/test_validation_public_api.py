"""The validation package uses only public names of the application (issue 11: dsp is a library, and what
sits outside it reaches in through public names only), and the generator's burst model it borrows
(``reengage.synth.burst_envelope``, ``semg_noise``, ``BURST_RISE_S``) does what their docstrings say."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import reengage.validation
from reengage import synth

VALIDATION = Path(reengage.validation.__file__).parent


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            yield node.module or "", [a.name for a in node.names], node.level
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, [], 0


@pytest.mark.parametrize("path", sorted(VALIDATION.glob("*.py")), ids=lambda p: p.name)
def test_validation_imports_no_private_name(path):
    for module, names, level in _imports(path):
        assert level == 0, f"{path.name}: relative import from {module}"
        private = [part for part in module.split(".") if part.startswith("_")] + [n for n in names if n.startswith("_")]
        assert not private, f"{path.name}: from {module} import {names}"


def test_the_names_validation_takes_from_synth_are_documented_public_api():
    taken = {n for p in VALIDATION.glob("*.py") for module, names, _ in _imports(p) if module == "reengage.synth"
             for n in names}
    assert {"burst_envelope", "semg_noise", "BURST_RISE_S"} <= taken
    for name in taken - {"BURST_RISE_S"}:
        assert getattr(synth, name).__doc__, name


def test_burst_envelope_rises_holds_and_falls_in_seconds():
    t = np.arange(0, 3.0, 0.001)
    env = synth.burst_envelope(t, 0.5, 0.1, 2.0, 0.25)
    assert np.all(env[t < 0.5] == 0.0) and np.all(env[t >= 2.25] == 0.0)
    assert np.all(env[(t >= 0.6) & (t <= 2.0)] == 1.0)
    rise = env[(t >= 0.5) & (t <= 0.6)]
    assert np.all(np.diff(rise) >= 0) and np.isclose(synth.burst_envelope(np.array([0.55]), 0.5, 0.1, 2.0, 0.25)[0], 0.5)


@pytest.mark.parametrize("fs_hz", [500.0, 1000.0, 2000.0])
def test_semg_noise_is_unit_rms_and_band_limited(fs_hz):
    x = synth.semg_noise(np.random.default_rng(0), (2, int(20 * fs_hz)), fs_hz)
    assert np.allclose(np.sqrt(np.mean(x ** 2, axis=-1)), 1.0)
    f = np.fft.rfftfreq(x.shape[-1], 1.0 / fs_hz)
    p = np.abs(np.fft.rfft(x, axis=-1)) ** 2
    outside = (f < 20.0) | (f > min(450.0, 0.95 * fs_hz / 2))
    assert p[:, outside].sum() < 1e-20 * p.sum()
    peak = f[np.argmax(p.sum(axis=0))]
    assert 20.0 <= peak <= 200.0  # the Shwedyk spectrum peaks near 60–100 Hz


def test_synthesize_draws_the_rise_times_from_burst_rise_s(monkeypatch):
    def reps():
        session = synth.synthesize(synth.SubjectProfile(), duration_s=40.0, fs_hz=1000.0, seed=3, with_mvc=False)
        return [r["glute_hamstring_ratio"] for r in session.truth["reps"]]

    default = reps()
    monkeypatch.setattr(synth, "BURST_RISE_S", (0.6, 0.6))  # slow rises lower a rep's mean amplitude
    assert len(default) > 3 and reps() != default
