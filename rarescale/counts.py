"""Whole counts that follow a fractional rate exactly over time.

Used by chapter 3's injection schedule (C14) and the OLMo injection schedule (C16).
"""

from __future__ import annotations

import math


def running_increment(rate: float, t: int) -> int:
    """Whole events at step ``t`` so that steps ``0 … t`` hold ``floor((t + 1) · rate)`` in all.

    Over any ``n`` steps the total is within one of ``n · rate``; rates below one
    give an event every ``1 / rate`` steps or so.
    """
    return int(math.floor((t + 1) * rate + 1e-9) - math.floor(t * rate + 1e-9))
