"""Validation of the analysis on signals with known truth: the synthetic sessions (``synthrec``) and the
scoring suite (``python -m reengage.validation``). Uses only the public names of ``reengage.dsp``,
``reengage.synth`` and ``reengage.analysis``; the dsp library itself knows nothing of it."""
