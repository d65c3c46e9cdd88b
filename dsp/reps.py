"""Reps from bursts: which bursts of which muscles make one repetition of an exercise."""

from __future__ import annotations

import numpy as np

from .onsets import Bursts


def group_reps(bursts: dict[str, Bursts], allowed: np.ndarray) -> list[dict[str, tuple[int, int]]]:
    """Group the bursts of several muscles into reps: bursts that overlap in time (a chain of overlaps is one
    rep) are one activation of the hip extensors.

    Parameters
    ----------
    bursts : dict of str to Bursts
        Each muscle's bursts (sample indices, offsets inclusive), e.g. from :func:`detect_bursts`.
    allowed : bool array, (samples,)
        Samples where a rep may lie (e.g. the exercise, outside MVC trials and data gaps); a burst whose onset
        or offset falls outside it is left out.

    Returns
    -------
    list of dict of str to (int, int)
        One dict per rep, in time order: muscle → (onset, offset) sample indices. Two bursts of one muscle
        in the same rep (an activation with a dip) are merged into one span.
    """
    items = []
    for key, b in bursts.items():
        for on, off in zip(b.onsets.tolist(), b.offsets.tolist()):
            if allowed[on] and allowed[off]:
                items.append((on, off, key))
    items.sort()
    groups: list[dict[str, tuple[int, int]]] = []
    end = -1
    for on, off, key in items:
        if groups and on <= end:
            g = groups[-1]
            if key in g:  # a split burst of the same muscle: one activation with a dip
                g[key] = (min(g[key][0], on), max(g[key][1], off))
            else:
                g[key] = (on, off)
            end = max(end, off)
        else:
            groups.append({key: (on, off)})
            end = off
    return groups


__all__ = ["group_reps"]
