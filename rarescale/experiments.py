"""The experiments of chapters 2 and 3: default configs and cached runs.

Each default is the configuration a chapter uses unless its parameters cell
says otherwise; the paper's own values (d, K, m_k, a, b, batch, lr, steps) are
not known, so ours are chosen to make the regimes visible and are stated in
the chapters. Runs are cached as artifacts keyed by the mixture, the training
config and the source of the modules that compute them.
"""

from __future__ import annotations

import numpy as np

from rarescale import artifacts, mixture as mixture_module, student as student_module, theory
from rarescale.mixture import TaskMixture
from rarescale.student import StudentConfig, train_students

LEARNED_THRESHOLD = 0.1
"""A task counts as learned when its normalised loss is below this."""

FIGURE2_WIDTHS = (1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 28, 32, 40, 48)


def figure2_default() -> tuple[TaskMixture, StudentConfig]:
    """Figure 2: 8 tasks of 6 features, ``π_k ∝ k^−2.2``, ``λ_{k,j} ∝ j^−0.8``, ``d = 64``."""
    mix = TaskMixture.power_law(K=8, m=6, a=2.2, b=0.8, d=64, seed=0)
    cfg = StudentConfig(widths=FIGURE2_WIDTHS, seeds=(0, 1, 2), steps=4000, batch=256, lr=0.01)
    return mix, cfg


def appendix_d_default() -> tuple[TaskMixture, StudentConfig]:
    """Appendix D: equal frequencies, complexity ``b_k`` from 0.4 to 3.5, unit-trace spectra."""
    mix = TaskMixture.power_law(K=8, m=6, a=0.0, b=np.linspace(0.4, 3.5, 8), d=64, seed=0,
                                unit_trace=True)
    cfg = StudentConfig(widths=FIGURE2_WIDTHS, seeds=(0, 1, 2), steps=4000, batch=256, lr=0.01)
    return mix, cfg


def _code() -> str:
    return artifacts.source_digest(mixture_module, student_module, theory)


def width_sweep(mixture: TaskMixture, config: StudentConfig, kind: str = "c8_width_sweep",
                progress: bool = True) -> artifacts.Artifact:
    """Train ``config``'s sweep on ``mixture`` (cached): per-task losses against width."""
    run_config = {"mixture": mixture, "student": config, "code": _code()}

    def compute():
        out = train_students(mixture, config, progress=progress)
        return {"wall_time_s": float(out.pop("wall_time_s"))}, out

    return artifacts.cached(kind, run_config, compute, seed=list(config.seeds))


def by_width(values: np.ndarray, config: StudentConfig) -> np.ndarray:
    """Reshape a per-slice array (C, ...) to (widths, seeds, ...)."""
    return values.reshape(len(config.widths), -1, *values.shape[1:])


def fidelity(mixture: TaskMixture, config: StudentConfig, arrays: dict,
             threshold: float = LEARNED_THRESHOLD) -> dict:
    """How well the trained students match C8's predictions, at the end of training.

    ``overlap`` (widths,) mean over seeds of the subspace overlap with the
    top-``N`` eigenspace of ``M``; ``learned`` (widths, seeds, K) measured
    normalised loss below ``threshold``; ``predicted`` (widths, K) the optimal
    width-``N`` model's loss below it; ``agreement`` the fraction of
    (width, seed, task) triples where the two agree.
    """
    loss = by_width(arrays["task_loss"][:, -1], config)  # (W, S, K)
    overlap = by_width(arrays["overlap"][:, -1], config)  # (W, S)
    predicted_loss = np.array([theory.predicted_task_loss(mixture, n) for n in config.widths])
    learned = loss < threshold
    predicted = predicted_loss < threshold
    return {"overlap": overlap.mean(1), "overlap_min": overlap.min(1), "loss": loss,
            "predicted_loss": predicted_loss, "learned": learned, "predicted": predicted,
            "agreement": float((learned == predicted[:, None, :]).mean())}


def total_loss(mixture: TaskMixture, task_loss: np.ndarray) -> np.ndarray:
    """Mixture loss ``Σ_k π_k tr(C_k) ℓ_k`` from normalised per-task losses ``ℓ`` (..., K)."""
    return task_loss @ (np.asarray(mixture.pi) * mixture.traces)


def budget_check(mixture: TaskMixture, config: StudentConfig, widths, factor: int = 10,
                 progress: bool = True) -> artifacts.Artifact:
    """Train ``widths`` (first seed only) for ``factor`` times the steps (cached; paper Fig. 21)."""
    long = config.replace(widths=tuple(widths), seeds=config.seeds[:1], steps=config.steps * factor)
    return width_sweep(mixture, long, kind="c8_budget_check", progress=progress)


def learned_changes(short: np.ndarray, long: np.ndarray, threshold: float = LEARNED_THRESHOLD):
    """Where ``loss < threshold`` differs between two (widths, K) final-loss arrays."""
    return (short < threshold) != (long < threshold)


def measured_learn_widths(widths, learned: np.ndarray) -> list:
    """Per task, the smallest width of the sweep from which every seed has it learned.

    ``learned`` is (widths, seeds, K) booleans; a task counts from width ``w`` on
    if it is learned at ``w`` and at every larger width of the sweep. ``None``
    where it is not learned at the widest width.
    """
    order = np.argsort(widths)
    ws = np.asarray(widths)[order]
    ok = learned.all(axis=1)[order]  # (widths ascending, K)
    # stays[i, k]: learned at the i-th width and at every larger one
    stays = np.logical_and.accumulate(ok[::-1], axis=0)[::-1]
    return [int(ws[stays[:, k].argmax()]) if stays[:, k].any() else None
            for k in range(ok.shape[1])]
