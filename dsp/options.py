"""The analysis chain's settings, in one place: ``analyze`` (offline) and the live chain (streaming) read
them from here, so the two can never drift apart.

Each step has one small frozen dataclass; the defaults are the values the validation suite was run with
(``docs/validation.md``). A notebook changes a step with :func:`dataclasses.replace`, e.g.
``replace(AnalysisOptions(), envelope=EnvelopeOptions(window_ms=200.0))``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the detectors' own settings live beside them, in onsets.py
    from .onsets import BonatoOptions, EnvelopeBurstOptions, HodgesBuiOptions, PowerBacktrackOptions, SolnikOptions


@dataclass(frozen=True)
class CleanOptions:
    """Raw sEMG → cleaned: DC removed, band-passed, mains lines removed.

    ``low_hz``/``high_hz``: the SENIAM 20–450 Hz band (clamped below Nyquist); ``order``: Butterworth
    order (run zero-phase offline). ``mains_probe_s``: the mains line and its harmonics are found on at
    most this much of the record (every lead together), since the grid frequency does not change."""

    low_hz: float = 20.0
    high_hz: float = 450.0
    order: int = 4
    mains_probe_s: float = 60.0


@dataclass(frozen=True)
class EnvelopeOptions:
    """Amplitude envelopes: ``window_ms`` moving RMS (resting noise power removed) for ratios and %MVC
    (De Luca 1997: 50–250 ms); ``mvc_window_ms`` for the MVC reference, the peak of a 500 ms moving RMS
    over the trials (SENIAM; Burden 2010)."""

    window_ms: float = 100.0
    mvc_window_ms: float = 500.0


@dataclass(frozen=True)
class BaselineOptions:
    """Marked rest shorter than ``min_rest_s`` in all is not used; then each channel's quietest
    ``quiet_window_s`` is its baseline."""

    min_rest_s: float = 0.5
    quiet_window_s: float = 1.0


@dataclass(frozen=True)
class RepOptions:
    """Grouping bursts into reps and deciding which reps are measured.

    ``other_muscle_lead_s``: erector spinae / glute med may start this much before the rep proper;
    ``edge_margin_s``: a rep ending this close to an edge of the recording was cut by it;
    ``clip_max_fraction``: a rep with more of its samples clipped is excluded;
    ``max_artifact_ms``: a high-energy event outside bursts shorter than this is a motion artefact;
    ``gap_margin_s``: a data gap this close to a rep excludes it (the envelope windows reach across it);
    ``movement_lead_s``: a movement (IMU) may start this much before the rep's first onset and still be its
    movement onset (the leg starts to move as the first muscle fires, give or take the detectors' delays);
    ``pair``: the two muscles whose onset latency (first − second, ms) and amplitude ratio (first / second) each
    rep reports."""

    other_muscle_lead_s: float = 0.5
    edge_margin_s: float = 0.15
    clip_max_fraction: float = 0.01
    max_artifact_ms: float = 150.0
    gap_margin_s: float = 0.2
    movement_lead_s: float = 0.5
    pair: tuple[str, str] = ("glute_max", "hamstrings")


@dataclass(frozen=True)
class AnalysisOptions:
    """Every step's settings; ``method`` is the onset detector (``reengage.dsp.onsets.METHODS``), ``detection``
    its settings (the dataclass of that method in ``reengage.dsp.onsets``; None: its defaults) and
    ``envelope_detection`` those of the detector for channels recorded as an envelope."""

    clean: CleanOptions = field(default_factory=CleanOptions)
    envelope: EnvelopeOptions = field(default_factory=EnvelopeOptions)
    baseline: BaselineOptions = field(default_factory=BaselineOptions)
    reps: RepOptions = field(default_factory=RepOptions)
    method: str = "power_backtrack"
    detection: PowerBacktrackOptions | HodgesBuiOptions | BonatoOptions | SolnikOptions | None = None
    envelope_detection: EnvelopeBurstOptions | None = None


DEFAULT_OPTIONS = AnalysisOptions()

__all__ = ["CleanOptions", "EnvelopeOptions", "BaselineOptions", "RepOptions", "AnalysisOptions", "DEFAULT_OPTIONS"]


@dataclass(frozen=True)
class LiveOptions:
    """What only the live chain (:class:`reengage.dsp.streaming.LiveChain`) needs; every other constant is
    analyze's own (:class:`AnalysisOptions`).

    ``step_ms``: the chain runs analyze's steps every ``step_ms`` of new samples (one processing step);
    ``window_s``: over the last ``window_s`` of signal (at least the 4 s segment of the mains fit, and room
    for an MVC trial with half a reference window either side); ``settle_ms``: samples this close to the
    window's right edge are not final yet (the zero-phase band-pass and the mains fit see no signal after
    them), so the detector runs on the window without them; ``mains_probe_s``: the mains lines are found once,
    on the first ``mains_probe_s`` of the stream; ``fallback_s``: without a marked rest by then, the
    baseline is the quietest 1 s of the first window (analyze's rule without rest)."""

    step_ms: float = 50.0
    window_s: float = 6.0
    settle_ms: float = 100.0
    mains_probe_s: float = 4.0
    fallback_s: float = 6.0


__all__ += ["LiveOptions"]
