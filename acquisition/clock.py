"""Clock alignment: map a board's sample counter (and its micros() clock) to host time.

Frames reach the host after a variable delay (USB polling, OS scheduling, BLE connection events), never
before they were sampled. So the line ``host_s = a + b · sample_index`` is fitted to the *lower envelope* of
the arrival times: a least-squares fit, then refits on the points at or below the fit (the earliest
arrivals), which converges on the minimum-latency line. ``1/b`` is the board's true sampling rate: a
16 MHz ceramic resonator is typically off by hundreds of ppm, so 30 min at "1000 Hz" can be ±0.5 s
(Chords-Arduino-Firmware#3, muse-lsl#99). The arrival jitter is the spread above that line.

A simulated board run at ``--sim-speed X`` samples X times faster than the host clock on purpose: ``speed``
says so, and every rate is reported in board time (host rate / X) so only a real error shows as ppm.
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
        self._last_tus: int | None = None
        self._tus_wraps = 0
        self.max_points = max_points

    def add(self, sample_index: int, host_time_ns: int, board_t_us: int | None = None) -> None:
        """One frame: the (recording-timeline) index of its last sample and when it arrived."""
        if len(self._idx) >= self.max_points:  # keep memory bounded on day-long runs: thin by two
            self._idx, self._host, self._tus = self._idx[::2], self._host[::2], self._tus[::2]
        if board_t_us is not None:
            if self._last_tus is not None and board_t_us < self._last_tus and self._last_tus - board_t_us > 2**31:
                self._tus_wraps += 1  # micros() wraps every 71.6 min
            self._last_tus = board_t_us
            board_t_us += self._tus_wraps << 32
        self._idx.append(int(sample_index))
        self._host.append(int(host_time_ns))
        self._tus.append(-1 if board_t_us is None else int(board_t_us))

    def reset_board_clock(self) -> None:
        """The board restarted: its micros() began again (the index timeline continues)."""
        self._last_tus = None
        self._tus_wraps = 0
        self._tus = [-1] * len(self._tus)

    @staticmethod
    def _envelope_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        b, a = np.polyfit(x, y, 1)
        for _ in range(6):
            below = y <= a + b * x
            if below.sum() < 3:
                break
            b, a = np.polyfit(x[below], y[below], 1)
        return float(a), float(b)

    def report(self) -> dict:
        n = len(self._idx)
        out: dict = {"frames": n, "nominal_fs_hz": self.nominal_fs_hz}
        if self.speed != 1.0:
            out["sim_speed"] = self.speed
            out["note"] = (f"simulated board run at {self.speed:g}× the host clock; "
                           "rates are in board time, judged against that speed")
        if n < 10:
            return out
        x = np.asarray(self._idx, dtype=np.float64)
        y = (np.asarray(self._host, dtype=np.int64) - self._host[0]).astype(np.float64) * 1e-9
        if x[-1] - x[0] < self.nominal_fs_hz * 0.5:  # under half a second of samples: too short to say
            return out
        x0 = x - x[0]
        a, b = self._envelope_fit(x0, y)
        resid_ms = (y - (a + b * x0)) * 1e3
        fs = 1.0 / b / self.speed
        out.update({
            "fs_hz": round(fs, 4),
            "rate_error_ppm": round((fs / self.nominal_fs_hz - 1.0) * 1e6, 1),
            "jitter_ms_median": round(float(np.median(resid_ms)), 3),
            "jitter_ms_p99": round(float(np.percentile(resid_ms, 99)), 3),
            "span_s": round(float(y[-1] - y[0]), 3),
            "method": "lower-envelope linear fit of host arrival time vs sample index",
        })
        tus = np.asarray(self._tus, dtype=np.int64)
        ok = tus >= 0
        if ok.sum() >= 10:
            # Board micros() vs host: the crystal's own error, independent of the sampling timer.
            tb = (tus[ok] - tus[ok][0]).astype(np.float64) * 1e-6
            _, bb = self._envelope_fit(tb, y[ok])
            out["board_clock_error_ppm"] = round((1.0 / bb / self.speed - 1.0) * 1e6, 1)
        return out

    def host_time_s(self, sample_index: np.ndarray) -> np.ndarray:
        """Host monotonic seconds at which the given samples were taken (for LSL time stamps)."""
        if not self._idx:  # one frame is enough to anchor: the branch below extrapolates from it
            return np.asarray(sample_index, dtype=np.float64) / (self.nominal_fs_hz * self.speed)
        x = np.asarray(self._idx, dtype=np.float64)
        y = np.asarray(self._host, dtype=np.float64) * 1e-9
        if x[-1] - x[0] < 10:
            return y[-1] + (np.asarray(sample_index, dtype=np.float64) - x[-1]) / (self.nominal_fs_hz * self.speed)
        a, b = self._envelope_fit(x - x[0], y - y[0])
        return y[0] + a + b * (np.asarray(sample_index, dtype=np.float64) - x[0])
