"""The live chain: analyze's own steps, with analyze's constants, run on a stream as it arrives.

:class:`LiveChain` is a sans-I/O object (it never reads a socket or sleeps): it is fed raw blocks
(channels, n) in physical units with the board index of their first sample, and the session's events, and
returns what analyze would say about the settled part of the signal so far (:class:`LiveStep`): the
amplitude envelope, burst onsets and offsets, reps, the %MVC references and the current amplitude.

How (``dashboard/LIVE.md`` has the why): every ``LiveOptions.step_ms`` of new samples (a fixed grid of board
indices, so the result does not depend on how the stream is cut into blocks) the same public functions
``analyze`` calls run over the last ``LiveOptions.window_s`` of signal:

* :func:`~reengage.dsp.filters.clean` with the mains lines found once, by
  :func:`~reengage.dsp.filters.mains_lines`, on the first ``LiveOptions.mains_probe_s`` of the stream;
* the resting baseline and noise power learnt once from the first marked ``rest`` (else the quietest 1 s
  window of the first window, analyze's rule without rest);
* :func:`~reengage.dsp.onsets.power_backtrack` with that explicit baseline, on the window minus its last
  ``LiveOptions.settle_ms`` (not final yet: the zero-phase band-pass and the mains fit see nothing after
  them). A burst is reported once the detector finds it there, i.e. once it has lasted the detector's own
  ``min_burst_ms``; its offset once no later activity can merge with it or move it;
* :func:`~reengage.dsp.reps.group_reps` over the bursts known so far (in-progress ones end at the settled
  edge), within the exercise and outside MVC trials and data gaps, as analyze;
* the amplitude: :func:`~reengage.dsp.normalize.noise_corrected_rms` over ``EnvelopeOptions.window_ms``,
  and the MVC reference :func:`~reengage.dsp.normalize.mvc_reference` over ``EnvelopeOptions.mvc_window_ms``.

The cost of a step is bounded by the window, so memory and CPU stay flat however long the session.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass, field

import numpy as np

from ._checks import check_fs, check_signal
from ._util import moving_mean, window_samples
from .baseline import baseline_mask
from .filters import clean, mains_lines, remove_dc
from .normalize import mvc_reference, noise_corrected_rms
from .onsets import Bursts, DetectionBaseline, PowerBacktrackOptions, power_backtrack, power_backtrack_baseline
from .options import DEFAULT_OPTIONS, AnalysisOptions, LiveOptions
from .reps import group_reps

GLUTE, HAM = "glute_max", "hamstrings"


@dataclass
class LiveStep:
    """What one processing step found; sample indices are the board's (absolute).

    ``env``: analyze's amplitude envelope (noise-corrected moving RMS, channel unit) for samples
    [``env_start``, ``settled``); ``detections``: (channel, "onset"|"offset", sample, confirmed_at) newly final;
    ``reps``: reps newly known (both primary muscles have an onset), each a dict with ``rep`` (count),
    ``onset_index`` {role: sample}, ``onset_latency_ms`` (glute max − hamstrings, or None), ``glutes_first``,
    ``confirmed_index``; ``amplitude``: each channel's noise-corrected RMS now (latest full window)."""

    end: int
    settled: int
    env_start: int
    env: np.ndarray
    detections: list = field(default_factory=list)
    reps: list = field(default_factory=list)
    amplitude: list = field(default_factory=list)


class _Track:
    """One channel's bursts: the one in progress (onset known, offset not yet final) and the recent final ones."""

    def __init__(self) -> None:
        self.open: list[int] | None = None  # [onset, offset as last seen]
        self.done: collections.deque = collections.deque(maxlen=64)  # (onset, offset), final

    def last_final(self) -> int:
        return self.done[-1][1] if self.done else -1


class LiveChain:
    """Analyze's chain over a stream (see the module docstring).

    Parameters
    ----------
    fs : float
        Sampling rate (Hz).
    roles : list of str
        Each channel's muscle role (or name), in channel order: ``glute_max`` and ``hamstrings`` make reps.
    options : AnalysisOptions
        analyze's settings (the same object analyze reads; default :data:`DEFAULT_OPTIONS`).
    live : LiveOptions
        The live-only settings: processing step, window, settling margin, mains probe.
    """

    def __init__(self, fs: float, roles: list[str], *, options: AnalysisOptions = DEFAULT_OPTIONS,
                 live: LiveOptions = LiveOptions()) -> None:
        self.fs = check_fs(fs)
        self.roles = [str(r) for r in roles]
        self.nch = len(self.roles)
        self.options, self.live = options, live
        self.step = window_samples(live.step_ms, self.fs)
        self.window = max(window_samples(live.window_s * 1000.0, self.fs), 2 * self.step)
        self.settle = window_samples(live.settle_ms, self.fs, minimum=0)
        # analyze's default detector with analyze's settings for it (the live chain runs power_backtrack: its
        # learnt baseline is what lets a short window be judged against the session's rest).
        det = options.detection
        self.detector = det if isinstance(det, PowerBacktrackOptions) else PowerBacktrackOptions()
        # An offset is final once a later run could no longer merge with the burst (min_gap_ms) nor the
        # forward search past the detection window's reach change it.
        self.off_guard = window_samples(self.detector.min_gap_ms + 2 * self.detector.detect_window_ms, self.fs)
        # A short burst may turn out to be the next one's lead-in (local_onset.lead_ins drops it): it is reported
        # once the detector could have seen that next burst, the lead-in span plus a shortest burst after its end.
        lo = self.detector.local_onset
        leads = lo is not None and lo.lead_in_max_ms > 0 and lo.lead_in_within_ms > 0
        # In samples, as lead_ins compares it: a burst of at most this many samples may be a lead-in.
        self.lead_in_max = lo.lead_in_max_ms * 1e-3 * self.fs if leads else 0.0
        self.lead_in_hold = window_samples(lo.lead_in_within_ms + self.detector.min_burst_ms
                                           + self.detector.detect_window_ms, self.fs) if leads else 0
        self.detect_reach = window_samples(self.detector.detect_window_ms, self.fs)
        self.origin: int | None = None  # board index of the first sample fed: event times count from it
        self.next_index: int | None = None
        self.buf = np.zeros((self.nch, 0))
        self.gap = np.zeros(0, dtype=bool)
        self.buf_start = 0
        self.lines: tuple[float, ...] | None = None
        self.mains_hz: float | None = None
        self.noise_power: np.ndarray | None = None
        self.detection_baseline: DetectionBaseline | None = None  # learnt once, from the rest
        self.thresholds: list | None = None
        self.baseline_source: str | None = None
        self.rests: list[tuple[int, int]] = []
        self.mvc_trials: list[tuple[int, int, int]] = []
        self.mvc_ref: dict[int, float] = {}
        self.exercise: list[tuple[int, int]] | None = None
        self.mvc_spans: list[tuple[int, int]] = []
        self.gap_spans: list[tuple[int, int]] = []
        self.amplitude: list[float] | None = None
        self.tracks = [_Track() for _ in range(self.nch)]
        self.cued: collections.deque = collections.deque(maxlen=64)
        self.rep_count = 0
        self.env_end: int | None = None
        self.peak = np.zeros(self.nch)
        self.samples_lost = 0
        self._pending: list = []  # events that came before the first sample
        self._due = False  # a grid point was crossed since the last step

    # ------------------------------------------------------------------------------------------ input

    def event(self, onset_s: float, duration_s: float, label: str) -> None:
        """An event (seconds from the first sample fed, as :class:`reengage.model.Event`)."""
        if self.origin is None:
            self._pending = (self._pending + [(onset_s, duration_s, label)])[-32:]
            return
        a = self.origin + int(round(float(onset_s) * self.fs))
        b = self.origin + int(round((float(onset_s) + float(duration_s)) * self.fs))
        if label == "rest":
            self.rests = (self.rests + [(a, b)])[-16:]
        elif label == "exercise":
            self.exercise = ((self.exercise or []) + [(a, b)])[-16:]
        elif label.startswith("mvc:"):
            self.mvc_spans = (self.mvc_spans + [(a, b)])[-16:]
            role = label[4:]
            for c, r in enumerate(self.roles):
                if r == role:
                    self.mvc_trials = (self.mvc_trials + [(c, a, b)])[-16:]

    def feed(self, data, start: int, *, steps: str = "all") -> list[LiveStep]:
        """New samples (channels, n) in physical units, the first at board index ``start``.

        ``steps="all"``: a step runs at every multiple of ``step_ms`` crossed (a fixed grid of board indices,
        so the result does not depend on how the stream is cut into blocks). ``"none"``: the samples are
        only stored; ``"last"``: one step runs at the newest sample if a grid point was crossed since the last
        step. A caller that fell behind feeds its backlog with "none" … "last": what the skipped steps would
        have found is still found, from the window."""
        if steps not in ("all", "last", "none"):
            raise ValueError("steps must be 'all', 'last' or 'none'")
        x = check_signal(data, "data", ndim=(2,))
        start = int(start)
        if x.shape[0] != self.nch:
            raise ValueError(f"data has {x.shape[0]} channels, the chain {self.nch}")
        if self.origin is None:
            self.origin = self.next_index = self.buf_start = start
            for ev in self._pending:
                self.event(*ev)
            self._pending = []
        if start < self.next_index:  # already have these samples (a duplicate or late block)
            x, start = x[:, self.next_index - start:], self.next_index
        out: list[LiveStep] = []
        if start > self.next_index:  # lost samples: zeros, marked as a gap (excluded, as analyze does)
            self.samples_lost += start - self.next_index
            self.gap_spans = (self.gap_spans + [(self.next_index, start)])[-16:]
            if start - self.next_index >= self.window:  # nothing of the window is left: start it afresh
                self.buf, self.gap = np.zeros((self.nch, 0)), np.zeros(0, dtype=bool)
                self.buf_start = self.next_index = start - self.window
            out += self._append(np.zeros((self.nch, start - self.next_index)), True, steps)
        out += self._append(x, False, steps)
        if steps == "last" and self._due:
            s = self._run()
            out += [s] if s is not None else []
        return out

    def _append(self, x: np.ndarray, is_gap: bool, steps: str) -> list[LiveStep]:
        out: list[LiveStep] = []
        i = 0
        m = x.shape[-1]
        while i < m:
            # Up to the next grid point, so each step sees exactly the window ending there.
            k = min(self.step - (self.next_index - self.origin) % self.step, m - i)
            self._store(x[:, i:i + k], is_gap)
            i += k
            if (self.next_index - self.origin) % self.step == 0:
                self._due = True
                if steps == "all":
                    s = self._run()
                    out += [s] if s is not None else []
        return out

    def _store(self, x: np.ndarray, is_gap: bool) -> None:
        self.buf = np.concatenate([self.buf, x], axis=-1)
        self.gap = np.concatenate([self.gap, np.full(x.shape[-1], is_gap)])
        self.next_index += x.shape[-1]
        extra = self.buf.shape[-1] - self.window
        if extra > 0:
            self.buf, self.gap = self.buf[:, extra:], self.gap[extra:]
            self.buf_start += extra

    # ------------------------------------------------------------------------------------------ a step

    def _run(self) -> LiveStep | None:
        """One processing step over the window ending at the newest sample."""
        self._due = False
        end = self.next_index
        if self.lines is None:
            probe = window_samples(self.live.mains_probe_s * 1000.0, self.fs)
            if end - self.origin < min(probe, self.window):
                return None
            # As analyze: DC removed from every lead, then the mains line and its harmonics, found once.
            self.mains_hz, self.lines = mains_lines(remove_dc(self.buf[:, :probe]), fs=self.fs,
                                                    high_hz=self.options.clean.high_hz)
        c = self.options.clean
        y = clean(self.buf, fs=self.fs, lines_hz=self.lines, low_hz=c.low_hz, high_hz=c.high_hz, order=c.order)
        y[:, self.gap] = 0.0  # fill values, not signal (as analyze)
        w0 = self.buf_start
        settled = end - self.settle
        ys = y[:, :settled - w0]
        if self.baseline_source != "rest":
            self._learn_baseline(y, settled)
        step = LiveStep(end, settled, settled, np.zeros((self.nch, 0)))
        if self.noise_power is None:
            return step
        self._envelope(y, step)
        self._measure_mvc(y)
        if ys.shape[-1]:
            gap = self.gap[:ys.shape[-1]]
            bursts = power_backtrack(ys, fs=self.fs, baseline=self.detection_baseline, options=self.detector,
                                     exclude=gap if gap.any() else None, check_finite=False)
            self._reconcile(bursts, step)
            self._group(step)
        return step

    def _learn_baseline(self, y: np.ndarray, settled: int) -> None:
        """The first marked rest of at least ``BaselineOptions.min_rest_s`` once it is wholly settled; before
        one arrives, after ``LiveOptions.fallback_s`` of signal, analyze's rule without rest: each channel's
        quietest ``BaselineOptions.quiet_window_s`` (here of the settled window)."""
        w0 = self.buf_start
        ys, gap = y[:, :settled - w0], self.gap[:settled - w0]
        lo = w0 if w0 == self.origin else w0 + self.settle  # the window's left edge is not final either
        mask = np.zeros(ys.shape[-1], dtype=bool)
        for a, b in self.rests:
            if settled >= b > lo:
                mask[max(a, lo) - w0:b - w0] = True
        mask &= ~gap
        opts = self.options.baseline
        if mask.sum() >= opts.min_rest_s * self.fs:
            self.rests = [(a, z) for a, z in self.rests if z > settled]
            self._set_baseline(ys, gap, mask, "rest")
        elif self.detection_baseline is None and self.next_index - self.origin >= self.live.fallback_s * self.fs:
            self._set_baseline(ys, gap, None, f"quietest {opts.quiet_window_s:g} s")

    def _set_baseline(self, ys: np.ndarray, gap: np.ndarray, rest: np.ndarray | None, source: str) -> None:
        """The detector's baseline (:func:`power_backtrack_baseline`) and the resting noise power, as analyze
        learns them from ``rest`` (None: each channel's quietest window of the detection envelope)."""
        exclude = gap if gap.any() else None
        base = power_backtrack_baseline(ys, fs=self.fs, rest=rest, exclude=exclude, options=self.detector,
                                        check_finite=False)
        opts = self.options.baseline
        pd = moving_mean(ys * ys, window_samples(self.detector.detect_window_ms, self.fs))
        mask = np.broadcast_to(rest, ys.shape) if rest is not None else baseline_mask(
            ys.shape[-1], fs=self.fs, env=pd, window_s=opts.quiet_window_s, exclude=exclude)
        # Mean power of the rest, not its median: noise power adds to EMG power as a mean (as analyze).
        self.noise_power = np.array([np.mean(ys[c, mask[c]] ** 2) for c in range(self.nch)])
        self.detection_baseline = base
        # The detection level is on the 100 ms mean power; on the envelope's scale it is this amplitude.
        self.thresholds = [math.sqrt(max(float(v) - n, 0.0)) for v, n in zip(base.detect_level, self.noise_power)]
        self.baseline_source = source

    def _envelope(self, y: np.ndarray, step: LiveStep) -> None:
        """analyze's amplitude envelope for the newly settled samples, and each channel's amplitude now."""
        w0 = self.buf_start
        env = noise_corrected_rms(y, fs=self.fs, window_ms=self.options.envelope.window_ms,
                                  noise_power=self.noise_power)
        a = max(self.env_end if self.env_end is not None else w0, w0)
        step.env_start, step.env = a, env[:, a - w0:step.settled - w0]
        self.env_end = step.settled
        if step.env.shape[-1]:
            self.peak = np.maximum(self.peak, step.env.max(axis=-1))
        # The newest sample with a whole centred window: the gauge lags the signal by half a window.
        now = y.shape[-1] - 1 - window_samples(self.options.envelope.window_ms, self.fs) // 2
        step.amplitude = self.amplitude = [float(v) for v in env[:, max(now, 0)]]

    def _measure_mvc(self, y: np.ndarray) -> None:
        """Each MVC trial's reference once the trial and half a reference window after it are settled; a
        muscle with several trials keeps the highest (as analyze)."""
        w0 = self.buf_start
        half = window_samples(self.options.envelope.mvc_window_ms, self.fs) // 2
        left = []
        for c, a, b in self.mvc_trials:
            if b + half > self.next_index - self.settle:
                left.append((c, a, b))
                continue
            mask = np.zeros(y.shape[-1], dtype=bool)
            mask[max(a - w0, 0):max(b - w0, 0)] = True
            ref = mvc_reference(y[c], fs=self.fs, mask=mask & ~self.gap,
                                window_ms=self.options.envelope.mvc_window_ms,
                                noise_power=float(self.noise_power[c]))
            if ref is not None:
                self.mvc_ref[c] = max(ref, self.mvc_ref.get(c, 0.0))
        self.mvc_trials = left

    def _reconcile(self, bursts: list[Bursts], step: LiveStep) -> None:
        """The window's bursts against each channel's known ones: a new onset once the detector finds the
        burst in the settled part; the burst in progress followed until its offset is final."""
        w0, edge = self.buf_start, step.settled
        for c, b in enumerate(bursts):
            t = self.tracks[c]
            items = list(zip((b.onsets + w0).tolist(), (b.offsets + w0).tolist()))
            if t.open is not None:
                mine = [(on, off) for on, off in items if on <= t.open[1] + 1 and off >= t.open[0]]
                if mine:
                    t.open[1] = max(off for _, off in mine)
                if not mine or t.open[1] < edge - self.off_guard:
                    self._close(c, t, step)
            for on, off in items:
                if on <= t.last_final() or (t.open is not None and on <= t.open[1]):
                    continue
                if on < w0 + self.settle and w0 != self.origin:
                    continue  # cut by the window's left edge: only a burst followed from its start is reported
                if self._may_lead_in(on, off, edge):
                    continue
                t.open = [on, off]
                step.detections.append((c, "onset", on, step.end))
                if off < edge - self.off_guard:
                    self._close(c, t, step)

    def _may_lead_in(self, on: int, off: int, edge: int) -> bool:
        """Whether a burst may still turn out to be the next one's lead-in (``local_onset.lead_ins``): still active
        at the settled edge and not yet clearly longer than a lead-in, or over, short, and the burst it may lead
        into not yet seeable. Such a burst is reported later (or never, if it is one)."""
        if not self.lead_in_max:
            return False
        if off >= edge - self.detect_reach:
            # Still active at the settled edge (its offset there may fall back by up to about half the detection
            # window, the centred P_d's reach): longer than a lead-in once it has lasted that much more.
            return edge - on <= self.lead_in_max + self.detect_reach
        return off - on + 1 <= self.lead_in_max and off + self.lead_in_hold > edge

    def _close(self, c: int, t: _Track, step: LiveStep) -> None:
        t.done.append((t.open[0], t.open[1]))
        step.detections.append((c, "offset", t.open[1], step.end))
        t.open = None

    def _group(self, step: LiveStep) -> None:
        """analyze's reps (:func:`group_reps`) over the primary muscles' known bursts, an unfinished burst
        ending at the settled edge; a rep is reported once every primary muscle has its onset in it."""
        keys = [r for r in (GLUTE, HAM) if r in self.roles] or list(dict.fromkeys(self.roles))
        chans = {k: self.roles.index(k) for k in keys}
        spans = {}
        for k, c in chans.items():
            t = self.tracks[c]
            items = list(t.done) + ([tuple(t.open)] if t.open is not None else [])
            spans[k] = [(on, off) for on, off in items if off >= step.settled - 2 * self.window]
        ons = [on for v in spans.values() for on, _ in v]
        if not ons:
            return
        base = min(ons)
        allowed = self._allowed(base, step.settled)
        groups = group_reps({k: Bursts(np.array([a - base for a, _ in v], dtype=np.int64),
                                       np.array([min(b, step.settled - 1) - base for _, b in v], dtype=np.int64))
                             for k, v in spans.items()}, allowed)
        for g in groups:
            if not all(k in g for k in keys):
                continue
            onset = {k: int(g[k][0] + base) for k in keys}
            key = tuple(sorted(onset.items()))
            if key in self.cued:
                continue
            self.cued.append(key)
            self.rep_count += 1
            lat = (onset[GLUTE] - onset[HAM]) / self.fs * 1000.0 if GLUTE in onset and HAM in onset else None
            step.reps.append({"rep": self.rep_count, "onset_index": onset,
                              "onset_latency_ms": None if lat is None else round(lat, 1),
                              "glutes_first": None if lat is None else bool(lat < 0),
                              "confirmed_index": int(step.end)})

    def _allowed(self, base: int, stop: int) -> np.ndarray:
        """Samples [base, stop) where a rep may lie: in the exercise (once one is announced), outside MVC
        trials and data gaps (analyze's rule)."""
        n = max(stop - base, 1)
        allowed = np.ones(n, dtype=bool)
        if self.exercise is not None:
            allowed[:] = False
            for a, b in self.exercise:
                allowed[max(a - base, 0):max(b - base, 0)] = True
        for a, b in self.mvc_spans + self.gap_spans:
            allowed[max(a - base, 0):max(b - base, 0)] = False
        return allowed

    # ------------------------------------------------------------------------------------------ output

    def gauge(self, role: str = GLUTE, given: float | None = None) -> tuple[float | None, str | None]:
        """``role``'s amplitude now as a percentage of: its MVC reference from the stream's trials ("%MVC"),
        else ``given`` (a reference in the envelope's unit), else this session's peak (and it says so)."""
        if role not in self.roles or self.amplitude is None:
            return None, None
        c = self.roles.index(role)
        now = self.amplitude[c]
        if c in self.mvc_ref:
            return 100.0 * now / self.mvc_ref[c], "%MVC"
        if given:
            return 100.0 * now / float(given), "%MVC (given reference)"
        if self.peak[c] > 0:
            return 100.0 * now / float(self.peak[c]), "% of this session's peak (no MVC trial)"
        return None, None


__all__ = ["LiveChain", "LiveStep"]
