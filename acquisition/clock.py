"""Clock alignment: map a board's sample counter (and its micros() clock) to host time.

Frames reach the host after a variable delay (USB polling, OS scheduling, BLE connection events), never
before they were sampled. So the line ``host_s = a + b · sample_index`` is fitted to the *lower envelope* of
the arrival times: a least-squares fit, then refits on the points at or below the fit (the earliest
arrivals), which converges on the minimum-latency line. ``1/b`` is the board's true sampling rate: a
16 MHz ceramic resonator is typically off by hundreds of ppm, so 30 min at "1000 Hz" can be ±0.5 s
(Chords-Arduino-Firmware#3, muse-lsl#99). The arrival jitter is the spread above that line.

A board restart (power lost with the cable) or a counter fault re-anchors the index timeline on an estimate
(the host clock's, off by the read latency at both ends of the outage: tens of ms). One line across it would
turn that offset into a rate error (30 ms over 10 s is 3000 ppm), so each stretch between re-anchorings is a
*run* with its own intercept, and all runs share one slope: the crystal does not change across an outage.
A link drop after which the board kept counting (the gap is exact) stays in the same run.

A simulated board run at ``--sim-speed X`` samples X times faster than the host clock on purpose: ``speed``
says so, and every rate is reported in board time (host rate / X) so only a real error shows as ppm. It also
spans X times less host time, and ``rate_resolution_ppm`` (the median arrival delay over that span) says how
large a rate error the fit can tell from jitter.
"""

from __future__ import annotations

import numpy as np


class ClockFit:
    """Accumulates (sample index, board micros, host ns) per frame; :meth:`report` fits and summarises."""

    def __init__(self, nominal_fs_hz: float, max_points: int = 200_000, *, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"clock speed {speed}: must be > 0 (board clock / host clock)")
        self.nominal_fs_hz = float(nominal_fs_hz)
        self.speed = float(speed)
        self._idx: list[int] = []
        self._host: list[int] = []
        self._tus: list[int] = []
        self._run: list[int] = []  # run number of each point (see the module docstring)
        self._run_no = 0
        self._last_tus: int | None = None
        self._tus_wraps = 0
        self.max_points = max_points

    def add(self, sample_index: int, host_time_ns: int, board_t_us: int | None = None) -> None:
        """One frame: the (recording-timeline) index of its last sample and when it arrived."""
        if len(self._idx) >= self.max_points:  # keep memory bounded on day-long runs: thin by two
            self._idx, self._host, self._tus = self._idx[::2], self._host[::2], self._tus[::2]
            self._run = self._run[::2]
        if board_t_us is not None:
            if self._last_tus is not None and board_t_us < self._last_tus and self._last_tus - board_t_us > 2**31:
                self._tus_wraps += 1  # micros() wraps every 71.6 min
            self._last_tus = board_t_us
            board_t_us += self._tus_wraps << 32
        self._idx.append(int(sample_index))
        self._host.append(int(host_time_ns))
        self._tus.append(-1 if board_t_us is None else int(board_t_us))
        self._run.append(self._run_no)

    def new_run(self) -> None:
        """The index timeline was re-anchored on an estimate (a board restart, a counter fault): later points
        get their own intercept, the slope stays common to all runs."""
        if self._run and self._run[-1] == self._run_no:
            self._run_no += 1

    def reset_board_clock(self) -> None:
        """The board restarted: its micros() began again and its counter with it (a new run)."""
        self._last_tus = None
        self._tus_wraps = 0
        self.new_run()

    @staticmethod
    def _envelope_fit(x: np.ndarray, y: np.ndarray, run: np.ndarray | None = None) -> tuple[np.ndarray, float]:
        """Lower-envelope fit of ``y = a[run] + b · x`` → (``a`` per run, ``b``): one slope, one intercept per
        run (``run``: 0..R-1 per point; None: one run)."""
        if run is None:
            run = np.zeros(len(x), dtype=np.intp)
        first = _runs_fit(x, y, run, np.ones(len(x), dtype=bool))
        if first is None:  # no run spans two indices: no slope to fit
            return np.zeros(int(run.max()) + 1), float("nan")
        a, b = first
        for _ in range(6):
            below = y <= a[run] + b * x
            if below.sum() < 3:
                break
            fitted = _runs_fit(x, y, run, below)
            if fitted is None:
                break
            a, b = fitted
        return a, b

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(index from the first point, host seconds from the first point, run 0..R-1) of every point."""
        x = np.asarray(self._idx, dtype=np.float64)
        y = (np.asarray(self._host, dtype=np.int64) - self._host[0]).astype(np.float64) * 1e-9
        _, run = np.unique(np.asarray(self._run), return_inverse=True)
        return x - x[0], y, run.astype(np.intp)

    def report(self) -> dict:
        n = len(self._idx)
        out: dict = {"frames": n, "nominal_fs_hz": self.nominal_fs_hz}
        if self.speed != 1.0:
            out["sim_speed"] = self.speed
            out["note"] = (f"simulated board run at {self.speed:g}× the host clock; "
                           "rates are in board time, judged against that speed")
        if n < 10:
            return out
        x, y, run = self._arrays()
        n_runs = int(run.max()) + 1
        counted = float(_run_spans(x, run, n_runs).sum())
        if counted < self.nominal_fs_hz * 0.5:  # under half a second of samples: too short to say
            return out
        a, b = self._envelope_fit(x, y, run)
        resid_ms = (y - (a[run] + b * x)) * 1e3
        fs = 1.0 / b / self.speed
        out.update({
            "fs_hz": round(fs, 4),
            "rate_error_ppm": round((fs / self.nominal_fs_hz - 1.0) * 1e6, 1) + 0.0,  # never -0.0
            "jitter_ms_median": round(float(np.median(resid_ms)), 3),
            "jitter_ms_p99": round(float(np.percentile(resid_ms, 99)), 3),
            "span_s": round(float(y[-1] - y[0]), 3),
            # What the fit can tell apart: the typical arrival delay over the host time spanned. A 10 s
            # recording at --sim-speed 10 spans 1 s of host time, so 3 ms of jitter is ±3000 ppm of noise.
            "rate_resolution_ppm": round(float(abs(np.median(resid_ms))) * 1e-3 / max(float(y[-1] - y[0]), 1e-9)
                                         * 1e6, 1),
            "method": "lower-envelope linear fit of host arrival time vs sample index",
        })
        if n_runs > 1:
            out["runs"] = n_runs
            out["method"] += (f"; {n_runs} runs (the index re-anchored on an estimate between them: a board "
                              "restart or a counter fault), one slope, an intercept each")
        tus = np.asarray(self._tus, dtype=np.int64)
        ok = tus >= 0
        if ok.sum() >= 10:
            # Board micros() vs host: the crystal's own error, independent of the sampling timer; micros()
            # restarts with the board, so per run as well.
            _, tus_run = np.unique(run[ok], return_inverse=True)
            tb = (tus[ok] - tus[ok].min()).astype(np.float64) * 1e-6
            _, bb = self._envelope_fit(tb, y[ok], tus_run.astype(np.intp))
            if bb > 0:  # a board clock that runs (T_US may be a constant 0)
                out["board_clock_error_ppm"] = round((1.0 / bb / self.speed - 1.0) * 1e6, 1) + 0.0
        return out

    def host_time_s(self, sample_index: np.ndarray) -> np.ndarray:
        """Host monotonic seconds at which the given samples were taken (for LSL time stamps), on the latest
        run's intercept."""
        if not self._idx:  # one frame is enough to anchor: the branch below extrapolates from it
            return np.asarray(sample_index, dtype=np.float64) / (self.nominal_fs_hz * self.speed)
        x, y, run = self._arrays()
        x0, y0 = float(self._idx[0]), self._host[0] * 1e-9
        last = run == run[-1]
        if x[last][-1] - x[last][0] < 10:
            return (self._host[-1] * 1e-9
                    + (np.asarray(sample_index, dtype=np.float64) - self._idx[-1]) / (self.nominal_fs_hz * self.speed))
        a, b = self._envelope_fit(x, y, run)
        return y0 + a[run[-1]] + b * (np.asarray(sample_index, dtype=np.float64) - x0)


def _run_spans(x: np.ndarray, run: np.ndarray, n_runs: int) -> np.ndarray:
    """Samples each run spans (its last point's index minus its first's)."""
    hi = np.full(n_runs, -np.inf)
    lo = np.full(n_runs, np.inf)
    np.maximum.at(hi, run, x)
    np.minimum.at(lo, run, x)
    return hi - lo


def _runs_fit(x: np.ndarray, y: np.ndarray, run: np.ndarray, use: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Least squares ``y = a[run] + b · x`` over the points ``use`` (the within-run estimator: each run
    centred on its own means). A run with no point in ``use`` gets the intercept under all its points.
    None when the chosen points fix no slope (every run a single index)."""
    n_runs = int(run.max()) + 1
    r, xs, ys = run[use], x[use], y[use]
    cnt = np.bincount(r, minlength=n_runs).astype(np.float64)
    has = cnt > 0
    mx = np.bincount(r, xs, n_runs) / np.where(has, cnt, 1.0)
    my = np.bincount(r, ys, n_runs) / np.where(has, cnt, 1.0)
    dx = xs - mx[r]
    sxx = float(np.dot(dx, dx))
    if sxx <= 0:
        return None
    b = float(np.dot(dx, ys - my[r])) / sxx
    a = my - b * mx
    if not has.all():
        under = np.full(n_runs, np.inf)
        np.minimum.at(under, run, y - b * x)
        a = np.where(has, a, under)
    return a, b
