"""Random encoders on the Stiefel manifold and the signal they capture.

Used by C7 (the encoder ``U`` has orthonormal columns) and C13 (the random
baseline of the captured signal).
"""

from __future__ import annotations

import numpy as np

from numbers import Integral

from rarescale.linear.interference import signal_captured
from rarescale.validation import Interval, check


def random_stiefel(d: int, n: int, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
    """Encoders ``U`` drawn uniformly (Haar) from the Stiefel manifold ``V_n(R^d)``.

    Returns shape ``(d, n)``, or ``(size, d, n)`` when ``size`` is given; the
    columns of each are orthonormal. The Q factor of a Gaussian matrix, with the
    signs fixed by the diagonal of R, is Haar-distributed.
    """
    check("random_stiefel", "d", d, Interval(Integral, 1, None))
    check("random_stiefel", "n", n, Interval(Integral, 1, d))
    shape = (d, n) if size is None else (size, d, n)
    q, r = np.linalg.qr(rng.standard_normal(shape))
    signs = np.sign(np.diagonal(r, axis1=-2, axis2=-1))  # (..., n)
    return q * signs[..., None, :]


def random_baseline_check(d: int, widths, rank: int, samples: int, seed: int) -> dict:
    """Monte Carlo of ``E[S(U)]`` for uniform ``U`` against the closed form ``N/d`` (C13).

    The covariance is a rank-``rank`` projector with a random orientation, so
    the check does not lean on any special basis. Returns, per width, the mean,
    its standard error and ``N/d``.
    """
    rng = np.random.default_rng(seed)
    F = random_stiefel(d, rank, rng)  # (d, rank), orthonormal columns
    C = F @ F.T
    means, sems = [], []
    for n in widths:
        s = signal_captured(random_stiefel(d, int(n), rng, size=samples), C, normalized=False)
        means.append(s.mean())
        sems.append(s.std(ddof=1) / np.sqrt(samples))
    widths = np.asarray(widths)
    return {"widths": widths, "mean": np.array(means), "sem": np.array(sems),
            "closed_form": widths / d}


def random_baseline(d: int, widths, rank: int, samples: int, seed: int):
    """:func:`random_baseline_check`, cached as the artifact ``c13_random_baseline``."""
    from rarescale.store.artifacts import cached, code_digest

    config = dict(d=d, widths=list(widths), rank=rank, samples=samples, seed=seed,
                  code=code_digest(__name__))
    params = {k: v for k, v in config.items() if k != "code"}
    return cached("c13_random_baseline", config,
                  lambda: ({}, random_baseline_check(**params)), seed=seed)
