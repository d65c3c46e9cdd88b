"""reengage: measure whether a person's glutes have woken up, with surface EMG.

Sub-packages: :mod:`reengage.acquisition` (boards, transports, decoding, recording),
:mod:`reengage.dsp` (pure signal processing), :mod:`reengage.dashboard` (clinician app),
:mod:`reengage.io` (recording files, CSV, EDF+).
"""

__version__ = "0.1.0"
