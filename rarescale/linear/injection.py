"""C14's first injection: why Figure 4b shows no response to it.

Each student has a decoder per task, started at zero, and a task reaches the encoder only
through its decoder: with ``x ~ N(0, I)`` its loss is ``‖T_k − D_k Uᵀ‖²_F`` and

    ∂/∂U ‖T_k − D_k Uᵀ‖²_F = −2 (T_k − D_k Uᵀ)ᵀ D_k,

which vanishes while ``D_k = 0``. A rare task withheld until its first injection still has
its zero decoder then, so that injection trains the decoder alone and leaves the encoder
exactly where the other tasks put it; from the second injection on, the decoder it learned
carries the rare task's pull to the encoder. :func:`injection_moves` measures this by
training the same student with and without one injection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rarescale.linear.mixture import TaskMixture
from rarescale.linear.student import InjectionStream, StudentConfig, train_students


@dataclass
class _SkippingStream(InjectionStream):
    """An :class:`InjectionStream` with one injection (``skip``, 0-based) left out; its other
    samples are drawn exactly as the full stream's (the same generator, in the same order)."""

    skip: int = 0

    def tasks(self, step: int) -> np.ndarray:
        tasks = super().tasks(step)
        if self.is_injection(step) and (step + 1) // self.delta - 1 == self.skip:
            return tasks[tasks != self.rare]
        return tasks


def injection_moves(mixture: TaskMixture, config: StudentConfig, rare: int, delta: int,
                    widths, injections=(0, 1), seed: int = 0) -> dict:
    """For each injection ``i`` in ``injections`` (0: the first), how far it moves the
    encoder of each width: the largest entry of ``|U_with − U_without|`` right after it,
    between students trained identically (``config``'s schedule and learning rate, ``seed``'s
    stream and start) except that one stream skips injection ``i``.
    Returns ``{"widths": [...], "injections": [...], "encoder_change": [width, injection]}``."""
    widths = tuple(int(w) for w in widths)
    change = np.zeros((len(widths), len(injections)))
    for j, i in enumerate(injections):
        steps = (i + 1) * delta  # the injection is the update of step (i + 1)·delta − 1
        run = config.replace(widths=widths, seeds=(seed,), steps=steps, evals=2, eval_spacing="linear")
        encoders = []
        for skip in (None, i):
            stream = (InjectionStream(mixture, config.batch, seed, rare=rare, delta=delta) if skip is None
                      else _SkippingStream(mixture, config.batch, seed, rare=rare, delta=delta, skip=skip))
            final = []
            train_students(mixture, run, streams=[stream], progress=False,
                           metrics=[lambda m_, U, w_: final.append(U.copy()) or {}])
            encoders.append(final[-1])  # (width, d, widest), zero beyond each width
        change[:, j] = np.abs(encoders[0] - encoders[1]).max(axis=(1, 2))
    return {"widths": list(widths), "injections": [int(i) for i in injections], "encoder_change": change}
