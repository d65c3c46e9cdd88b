"""Streaming versions of the DSP steps: stateful objects fed one block (channels, samples) at a time.

Each object carries its state explicitly (filter ``zi``, the tail of a moving window, the detector's
pending run), and the offline *causal* function is the same object fed the whole array as one
block, so "streaming == offline" holds by construction and is tested block-split against
block-split (``tests/dsp/test_dsp_streaming.py``).

Onset detection causally cannot look at the future, so it uses a bounded look-ahead: an onset is
confirmed once the envelope has stayed above threshold for ``confirm_ms`` and then dated back to
the last resting sample within ``max_backtrack_ms``, minus the envelope's own group delay. The
report gives that confirmation delay separately from the onset error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from ._util import as_float, moving_mean, window_samples
from .baseline import Baseline
from .envelope import lowpass_sos
from .filters import clean_sos


class StreamingFilter:
    """A causal SOS filter over (channels, samples) blocks with its state carried between calls."""

    def __init__(self, sos: np.ndarray, n_channels: int):
        self.sos = np.asarray(sos, dtype=np.float64)
        self.zi = np.zeros((self.sos.shape[0], int(n_channels), 2))

    def process(self, x) -> np.ndarray:
        x = np.atleast_2d(as_float(x))
        if x.shape[-1] == 0:
            return x.copy()
        y, self.zi = signal.sosfilt(self.sos, x, axis=-1, zi=self.zi)
        return y


class StreamingCleaner:
    """Causal cleaning: subtract a DC offset, then band-pass 20–450 Hz and mains notches in one cascade.

    ``dc_offset`` (per channel, in the input's unit) is the ADC's zero level; when None it is taken
    as the median of the first block, since a causal filter started on a mid-rail step would ring
    for seconds.
    """

    def __init__(self, fs: float, n_channels: int, *, lines_hz: tuple[float, ...] = (), dc_offset=None,
                 low_hz: float = 20.0, high_hz: float = 450.0):
        self.fs = float(fs)
        self.filter = StreamingFilter(clean_sos(self.fs, lines_hz=tuple(lines_hz), low_hz=low_hz, high_hz=high_hz),
                                      n_channels)
        self.dc = None if dc_offset is None else np.asarray(dc_offset, dtype=np.float64).reshape(-1, 1)

    def process(self, x) -> np.ndarray:
        x = np.atleast_2d(as_float(x))
        if self.dc is None:
            self.dc = np.median(x, axis=-1, keepdims=True) if x.shape[-1] else np.zeros((x.shape[0], 1))
        return self.filter.process(x - self.dc)


class StreamingEnvelope:
    """Causal amplitude envelope: moving RMS over ``window_ms`` or linear envelope at ``cutoff_hz``.

    Equal to :func:`~reengage.dsp.envelope.moving_rms` (``causal=True``) or
    :func:`~reengage.dsp.envelope.linear_envelope` (``zero_phase=False``) of the concatenated blocks.
    """

    def __init__(self, fs: float, n_channels: int, *, method: str = "rms", window_ms: float = 50.0,
                 cutoff_hz: float = 6.0):
        if method not in ("rms", "linear"):
            raise ValueError("method must be 'rms' or 'linear'")
        self.fs = float(fs)
        self.method = method
        self.n = window_samples(window_ms, fs)
        self.tail = np.zeros((int(n_channels), self.n - 1))
        self.lp = StreamingFilter(lowpass_sos(self.fs, float(cutoff_hz), 2), n_channels) if method == "linear" else None

    @property
    def group_delay_samples(self) -> float:
        """Delay of the envelope behind the signal (samples): (n − 1)/2 for the moving RMS."""
        if self.method == "rms":
            return (self.n - 1) / 2.0
        w, gd = signal.group_delay(signal.sos2tf(self.lp.sos), w=[1e-3], fs=self.fs)
        return float(gd[0])

    def process(self, x) -> np.ndarray:
        x = np.atleast_2d(as_float(x))
        m = x.shape[-1]
        if self.method == "linear":
            return np.maximum(self.lp.process(np.abs(x)), 0.0)
        sq = np.concatenate([self.tail, x * x], axis=-1)
        # A full window exists at every output position (the tail supplies the n − 1 earlier samples).
        c = np.concatenate([np.zeros((sq.shape[0], 1)), np.cumsum(sq, axis=-1)], axis=-1)
        ms = (c[:, self.n:] - c[:, :-self.n]) / self.n if sq.shape[-1] >= self.n else np.zeros((sq.shape[0], 0))
        out = np.sqrt(np.maximum(ms[:, -m:] if m else ms[:, :0], 0.0))
        if self.n > 1:
            self.tail = sq[:, -(self.n - 1):]
        return out


@dataclass
class OnsetEvent:
    """One detected transition: ``sample`` is when it happened, ``confirmed_at`` when it was known."""

    channel: int
    kind: str  # "onset" | "offset"
    sample: int
    confirmed_at: int


class StreamingOnsetDetector:
    """Causal double-threshold detector with bounded look-ahead over an envelope stream.

    Active when the envelope stays above mean + ``h_on``·SD for ``confirm_ms`` (Hodges & Bui 1996
    with Bonato et al. 1998's hold time); the onset is dated back to the last sample below mean +
    ``h_low``·SD (at most ``max_backtrack_ms``) minus ``delay_samples`` (the envelope's group delay).
    Inactive again after ``release_ms`` below mean + ``h_low``·SD.
    """

    def __init__(self, fs: float, baseline: Baseline, *, h_on: float = 8.0, h_low: float = 3.0,
                 confirm_ms: float = 30.0, release_ms: float = 150.0, max_backtrack_ms: float = 200.0,
                 delay_samples: float = 0.0):
        self.fs = float(fs)
        self.h_on, self.h_low = float(h_on), float(h_low)
        self.set_baseline(baseline)
        mean = np.asarray(baseline.mean, dtype=np.float64)
        self.confirm = window_samples(confirm_ms, fs)
        self.release = window_samples(release_ms, fs)
        self.back = window_samples(max_backtrack_ms, fs)
        self.delay = int(round(delay_samples))
        nch = mean.size
        self.active = np.zeros(nch, dtype=bool)
        self.run = np.zeros(nch, dtype=np.int64)  # length of the current qualifying run
        self.pos = 0  # global index of the next sample
        self.history = np.zeros((nch, 0))  # the last ``back`` samples, for backtracking

    def set_baseline(self, baseline: Baseline) -> None:
        """Thresholds from a new resting ``baseline``, keeping the detector's state: a live view refines
        its baseline when a marked rest arrives mid-stream without losing a burst in progress."""
        mean = np.asarray(baseline.mean, dtype=np.float64)
        sd = np.maximum(np.asarray(baseline.sd, dtype=np.float64), 0.05 * np.abs(mean) + 1e-300)
        self.on_thr = mean + self.h_on * sd
        self.low_thr = mean + self.h_low * sd

    def process(self, env) -> list[OnsetEvent]:
        env = np.atleast_2d(as_float(env))
        m = env.shape[-1]
        events: list[OnsetEvent] = []
        hist = np.concatenate([self.history, env], axis=-1)
        h0 = self.pos - self.history.shape[-1]  # global index of hist[:, 0]
        # Most blocks change nothing: an idle channel with no sample above threshold, or an active one
        # with no quiet sample, only resets its run; skip those without the per-channel search.
        idle = np.where(self.active, ~(env <= self.low_thr[:, None]).any(axis=-1),
                        ~(env > self.on_thr[:, None]).any(axis=-1))
        self.run[idle] = 0
        for c in np.flatnonzero(~idle).tolist():
            i = 0
            row = env[c]
            while i < m:
                cond = row[i:] > self.on_thr[c] if not self.active[c] else row[i:] <= self.low_thr[c]
                need = self.confirm if not self.active[c] else self.release
                # Length of the qualifying run ending at each sample, continuing the carried run.
                false_at = np.flatnonzero(~cond)
                runlen = np.arange(1, cond.size + 1) + self.run[c]
                if false_at.size:
                    last_false = np.maximum.accumulate(np.where(~cond, np.arange(cond.size), -1))
                    runlen = np.where(last_false >= 0, np.arange(cond.size) - last_false, runlen)
                hit = np.flatnonzero(runlen >= need)
                if hit.size == 0:
                    self.run[c] = int(runlen[-1])
                    break
                k = int(hit[0])
                at = self.pos + i + k  # global index where the run reached ``need``
                start = at - need + 1
                if not self.active[c]:
                    # Back to the last quiet sample before the run, within the look-back buffer.
                    lo = max(start - self.back, h0)
                    seg = hist[c, lo - h0: start - h0 + 1]
                    quiet = np.flatnonzero(seg <= self.low_thr[c])
                    onset = lo + int(quiet[-1]) + 1 if quiet.size else lo
                    events.append(OnsetEvent(c, "onset", max(onset - self.delay, 0), at))
                else:
                    events.append(OnsetEvent(c, "offset", max(start - 1 - self.delay, 0), at))
                self.active[c] = not self.active[c]
                self.run[c] = 0
                i += k + 1
        self.pos += m
        keep = self.back + max(self.confirm, self.release) + 1
        self.history = hist[:, -keep:]
        return events


class StreamingPipeline:
    """Clean → envelope → detect, fed raw blocks; the baseline is learnt from the first ``calibrate_s``
    seconds (ask the person to rest), until then no event is emitted."""

    def __init__(self, fs: float, n_channels: int, *, lines_hz: tuple[float, ...] = (), dc_offset=None,
                 window_ms: float = 50.0, calibrate_s: float = 2.0, **detector):
        self.fs = float(fs)
        self.cleaner = StreamingCleaner(fs, n_channels, lines_hz=lines_hz, dc_offset=dc_offset)
        self.envelope = StreamingEnvelope(fs, n_channels, window_ms=window_ms)
        self.calib_n = int(round(calibrate_s * fs))
        self._calib: list[np.ndarray] = []
        self._seen = 0
        self.detector: StreamingOnsetDetector | None = None
        self._detector_kw = detector

    def process(self, x) -> tuple[np.ndarray, list[OnsetEvent]]:
        env = self.envelope.process(self.cleaner.process(x))
        if self.detector is None:
            self._calib.append(env)
            self._seen += env.shape[-1]
            if self._seen < self.calib_n:
                return env, []
            allenv = np.concatenate(self._calib, axis=-1)
            # Skip the first 0.5 s: the causal band-pass is still settling there.
            settle = min(int(0.5 * self.fs), allenv.shape[-1] // 2)
            rest = allenv[:, settle:self.calib_n]
            base = Baseline(np.median(rest, axis=-1), 1.4826 * np.median(np.abs(rest - np.median(rest, axis=-1, keepdims=True)), axis=-1))
            self.detector = StreamingOnsetDetector(self.fs, base, delay_samples=self.envelope.group_delay_samples,
                                                   **self._detector_kw)
            self.detector.pos = 0
            events = self.detector.process(allenv)
            self._calib = []
            return env, events
        return env, self.detector.process(env)


def causal_envelope(x, *, fs: float, method: str = "rms", window_ms: float = 50.0, cutoff_hz: float = 6.0) -> np.ndarray:
    """Offline causal envelope: :class:`StreamingEnvelope` fed the whole array as one block."""
    x = np.atleast_2d(as_float(x))
    return StreamingEnvelope(fs, x.shape[0], method=method, window_ms=window_ms, cutoff_hz=cutoff_hz).process(x)


def causal_onsets(env, *, fs: float, baseline: Baseline, **kw) -> list[OnsetEvent]:
    """Offline causal detection: :class:`StreamingOnsetDetector` fed the whole envelope as one block."""
    return StreamingOnsetDetector(fs, baseline, **kw).process(env)


__all__ = ["StreamingFilter", "StreamingCleaner", "StreamingEnvelope", "StreamingOnsetDetector",
           "StreamingPipeline", "OnsetEvent", "causal_envelope", "causal_onsets", "moving_mean"]
