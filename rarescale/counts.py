"""Whole counts over training steps: events at a fractional rate, and evaluation steps.

``running_increment`` is used by chapter 3's injection schedule (C14) and the OLMo
injection schedule (C16); ``eval_steps`` by the student sweeps and the OLMo runs.
"""

from __future__ import annotations

import math

import numpy as np


def running_increment(rate: float, t: int) -> int:
    """Whole events at step ``t`` so that steps ``0 … t`` hold ``floor((t + 1) · rate)`` in all.

    Over any ``n`` steps the total is within one of ``n · rate``; rates below one
    give an event every ``1 / rate`` steps or so.
    """
    return int(math.floor((t + 1) * rate + 1e-9) - math.floor(t * rate + 1e-9))


def eval_steps(steps: int, evals: int, spacing: str = "log") -> np.ndarray:
    """Evaluation steps in ``[0, steps]`` (``steps`` = after the last update)."""
    if spacing == "linear":
        return np.unique(np.round(np.linspace(0, steps, evals)).astype(int))
    s = np.unique(np.round(np.geomspace(1, steps, evals - 1)).astype(int))
    return np.concatenate([[0], s])
