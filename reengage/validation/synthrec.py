"""Turn a :class:`reengage.synth.SynthSession` into a :class:`~reengage.model.Recording`.

Used by the validation suite and the benchmarks; optionally stores the EMG as 10-bit ADC counts
around mid-rail, the way an Arduino reading a MyoWare RAW pin delivers it.
"""

from __future__ import annotations

import numpy as np

from reengage.model import IMU_CHANNELS, Channel, Recording, Stream


def session_recording(session, *, adc_bits: int | None = None, adc_headroom: float = 1.5) -> Recording:
    """A Recording of ``session``: EMG in mV (or ADC counts when ``adc_bits``), IMU in g and deg/s.

    With ``adc_bits`` the full scale is ``adc_headroom`` × the largest |EMG| sample, so the ADC does
    not clip; the step size is what the quantisation costs.
    """
    emg = np.asarray(session.emg_mv, dtype=np.float64)
    if adc_bits:
        full = 2 ** int(adc_bits) - 1
        mid = full / 2.0
        lsb = adc_headroom * float(np.max(np.abs(emg))) / mid if emg.size else 1.0
        counts = np.clip(np.round(emg / lsb + mid), 0, full).astype(np.int16 if adc_bits <= 15 else np.int32)
        chans = [Channel(m, role=m, unit="mV", kind="raw", scale=lsb, offset=mid) for m in session.muscles]
        data = counts
    else:
        chans = [Channel(m, role=m, unit="mV", kind="raw") for m in session.muscles]
        data = emg
    streams = {"emg": Stream("emg", float(session.fs_hz), chans, data)}
    if session.imu is not None and np.size(session.imu):
        units = ["g"] * 3 + ["deg/s"] * 3
        ichans = [Channel(name, role=None, unit=u, kind="imu") for name, u in zip(IMU_CHANNELS, units)]
        streams["imu"] = Stream("imu", float(session.imu_fs_hz), ichans, np.asarray(session.imu, dtype=np.float64))
    return Recording(streams=streams, events=list(session.events), source="synth")
