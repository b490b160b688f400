"""The experiments of chapters 2 and 3: default configs and cached runs.

Each default is the configuration a chapter uses unless its parameters cell
says otherwise; the paper's own values (d, K, m_k, a, b, batch, lr, steps) are
not known, so ours are chosen to make the regimes visible and are stated in
the chapters. Runs are cached as artifacts keyed by the mixture, the training
config and the source of the modules that compute them.
"""

from __future__ import annotations

import numpy as np

from rarescale.linear import theory
from rarescale.store import artifacts
from rarescale.linear.mixture import TaskMixture
from rarescale.linear.student import StudentConfig, train_students

LEARNED_THRESHOLD = 0.1
"""A task counts as learned when its normalised loss is below this."""

FIGURE2_WIDTHS = (1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 28, 32, 40, 48)


def figure2_default() -> tuple[TaskMixture, StudentConfig]:
    """Figure 2: 8 tasks of 6 features, ``π_k ∝ k^−2.2``, ``λ_{k,j} ∝ j^−0.8``, ``d = 64``."""
    mix = TaskMixture.power_law(K=8, m=6, a=2.2, b=0.8, d=64, seed=0)
    cfg = StudentConfig(widths=FIGURE2_WIDTHS, seeds=(0, 1, 2), steps=4000, batch=256, lr=0.01)
    return mix, cfg


def _code() -> str:
    """Digest of every ``rarescale`` module this one can run (its imports' closure)."""
    return artifacts.code_digest(__name__)


def _cached_training(kind: str, run_config: dict, seeds, train) -> artifacts.Artifact:
    """Cache ``train()`` (a :func:`train_students` result) as an artifact; its wall time
    goes in the result, its arrays in the artifact."""

    def compute():
        out = train()
        return {"wall_time_s": float(out.pop("wall_time_s"))}, out

    return artifacts.cached(kind, run_config, compute, seed=list(seeds))


def width_sweep(mixture: TaskMixture, config: StudentConfig, kind: str = "c8_width_sweep",
                progress: bool = True) -> artifacts.Artifact:
    """Train ``config``'s sweep on ``mixture`` (cached): per-task losses against width."""
    run_config = {"mixture": mixture, "student": config, "code": _code()}
    return _cached_training(kind, run_config, config.seeds,
                            lambda: train_students(mixture, config, progress=progress))


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
    return theory.weighted_loss(mixture, task_loss)


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


# --- chapter 3: interference --------------------------------------------------------

def _common_gradient_metric(common):
    """Metric for :func:`train_students`: the common-task gradient and its C10 bound per slice."""
    from rarescale.linear import interference

    def metric(mixture, U, widths):
        grad = np.zeros(len(widths))
        bound = np.zeros(len(widths))
        for c, n in enumerate(widths):
            Uc = U[c, :, :n]
            grad[c] = np.linalg.norm(interference.common_gradient(mixture, Uc, common))
            bound[c] = interference.common_gradient_bound(mixture, Uc, common)
        return {"common_grad": grad, "common_bound": bound}

    return metric


def signal_sweep(mixture: TaskMixture, config: StudentConfig, common_mass: float = 0.9,
                 progress: bool = True) -> artifacts.Artifact:
    """Figure 3's sweep (cached): signal per task, and the common gradient against its bound."""
    from rarescale.linear import interference

    common = interference.common_tasks(mixture, common_mass)
    run_config = {"mixture": mixture, "student": config, "common": common.tolist(),
                  "code": _code()}

    return _cached_training("c13_signal_sweep", run_config, config.seeds, lambda: train_students(
        mixture, config, metrics=[_common_gradient_metric(common)], progress=progress))


def injection_sweep(mixture: TaskMixture, config: StudentConfig, rare: int, deltas,
                    kind: str = "c14_injection", progress: bool = True) -> artifacts.Artifact:
    """Figure 4 (cached): the rare task injected every ``delta`` steps, for every width.

    One stream per (delta, seed); the slices of the result are width-major over
    those streams, which are listed in ``stream_delta`` and ``stream_seed``.
    """
    from rarescale.linear.student import InjectionStream

    deltas = [int(x) for x in deltas]
    run_config = {"mixture": mixture, "student": config, "rare": int(rare), "deltas": deltas,
                  "code": _code()}

    def train():
        streams = [InjectionStream(mixture, config.batch, s, rare=rare, delta=delta)
                   for delta in deltas for s in config.seeds]
        out = train_students(mixture, config, streams=streams, progress=progress,
                             metrics=[_feature_signal_metric(mixture, rare)])
        out["stream_delta"] = np.array([st.delta for st in streams])
        out["stream_seed"] = np.array([st.seed for st in streams])
        return out

    return _cached_training(kind, run_config, config.seeds, train)


def _feature_signal_metric(mixture: TaskMixture, task: int):
    """Metric: the fraction of each of ``task``'s feature directions the encoder holds."""
    F = mixture.feature_block(task)  # (d, m_k)

    def metric(mixture_, U, widths):
        return {"rare_feature_signal": np.square(np.einsum("dj,cdn->cjn", F, U)).sum(-1)}  # (C, m_k)

    return metric


def injection_trace(mixture: TaskMixture, config: StudentConfig, rare: int, delta: int,
                    widths, evals: int = 400, progress: bool = True) -> artifacts.Artifact:
    """Figure 4b (cached): the rare signal over training, evaluated every few steps."""
    trace = config.replace(widths=tuple(widths), seeds=config.seeds[:1], evals=evals,
                           eval_spacing="linear")
    return injection_sweep(mixture, trace, rare, [delta], kind="c14_injection_trace",
                           progress=progress)


def decay_segments(eval_steps: np.ndarray, delta: int, steps: int) -> list[np.ndarray]:
    """Indices of the evaluations between injections, one array per gap.

    An injection is the update of step ``i`` (``i + 1`` a multiple of ``delta``);
    evaluation ``t`` sees updates ``0 … t − 1``, so the gap after it holds the
    evaluations at steps ``i + 1 … i + delta``.
    """
    segments = []
    for i in range(delta - 1, steps, delta):
        idx = np.flatnonzero((eval_steps >= i + 1) & (eval_steps <= i + delta))
        if len(idx) >= 3:
            segments.append(idx)
    return segments


def lr_integral(config: StudentConfig, start: int, stop) -> np.ndarray:
    """``Σ_{u=start}^{stop−1} η(u)`` for each ``stop``: the learning rate spent since ``start``."""
    rates = np.array([config.learning_rate(u) for u in range(config.steps)])
    cumulative = np.concatenate([[0.0], np.cumsum(rates)])
    return cumulative[np.asarray(stop)] - cumulative[start]


def signal_by_width(mixture: TaskMixture, config: StudentConfig, arrays: dict, common) -> tuple:
    """Final normalised signal ``Ŝ`` (widths, seeds, K) and the frequent tasks'
    residual ``R_S / tr(M_S)`` (widths, seeds), from a sweep's optimal-decoder losses."""
    from rarescale.linear import interference

    S = 1 - arrays["encoder_loss"][:, -1]  # raw signal captured per task, (C, K)
    signal = interference.normalized_signal(S, arrays["width"][:, None], mixture.d)
    encoder_loss = arrays["encoder_loss"][:, -1]
    residual = (theory.weighted_loss(mixture, encoder_loss, common)
                / theory.weighted_loss(mixture, np.ones(mixture.K), common))
    return by_width(signal, config), by_width(residual, config)


def injection_final(mixture: TaskMixture, config: StudentConfig, arrays: dict, rare: int,
                    deltas) -> np.ndarray:
    """Final normalised rare signal (widths, deltas, seeds) of an :func:`injection_sweep`."""
    from rarescale.linear import interference

    S = 1 - arrays["encoder_loss"][:, -1, rare]
    signal = interference.normalized_signal(S, arrays["width"], mixture.d)
    return signal.reshape(len(config.widths), len(deltas), -1)


def forgetting_fit(mixture: TaskMixture, trace_config: StudentConfig, arrays: dict, rare: int,
                   delta: int, fit_width: int) -> dict:
    """C14: the two-direction model against an :func:`injection_trace`.

    Fits the model's one free constant (``gain``) on the decays of ``fit_width``
    and predicts every width's decays from its competing utility. Returns the
    gain, per width the predicted and the separately fitted decay rates (log-odds
    per unit of learning rate), the RMS error of the prediction on the raw
    signal, and the model's segments as (steps, Ŝ) for drawing.
    """
    from rarescale.linear import interference

    steps = arrays["eval_steps"]
    S = 1 - arrays["encoder_loss"][:, :, rare]  # raw rare signal, (C, E)
    widths = [int(w) for w in arrays["width"]]
    segments = decay_segments(steps, delta, trace_config.steps)[1:]  # the first: decoder still zero

    def data(c):
        return [(lr_integral(trace_config, steps[i[0]], steps[i]), S[c, i]) for i in segments]

    c_fit = widths.index(fit_width)
    gain = interference.fit_forgetting_gain(data(c_fit), interference.competing_utility(
        mixture, rare, fit_width))
    out = {"gain": gain, "widths": widths, "predicted_rate": [], "fitted_rate": [],
           "rms_error": [], "segments": {}}
    for c, n in enumerate(widths):
        mu = interference.competing_utility(mixture, rare, n)
        out["predicted_rate"].append(4 * gain * mu)
        out["fitted_rate"].append(interference.fit_forgetting_gain(data(c), 0.25))
        errors, drawn = [], []
        for i, (x, s) in zip(segments, data(c)):
            model = interference.forgetting_curve(s[0], mu, x, gain)
            errors.append(model - s)
            drawn.append((steps[i], interference.normalized_signal(model, n, mixture.d)))
        out["rms_error"].append(float(np.sqrt(np.mean(np.concatenate(errors) ** 2))))
        out["segments"][n] = drawn
    return out


# --- chapter 5: sizing and mixtures --------------------------------------------------


def resampling_sweep(mixture: TaskMixture, config: StudentConfig, rare: int, width: int,
                     frequencies, progress: bool = True) -> artifacts.Artifact:
    """Train width ``width`` with task ``rare`` up-weighted to each frequency (cached).

    The other tasks are rescaled in proportion; one stream per (frequency, seed).
    """
    from rarescale.advisor import reweighted
    from rarescale.linear.student import ReweightedStream

    frequencies = [float(x) for x in frequencies]
    run = config.replace(widths=(int(width),))
    run_config = {"mixture": mixture, "student": run, "rare": int(rare),
                  "frequencies": frequencies, "code": _code()}

    def train():
        streams = [ReweightedStream(mixture, run.batch, s, pi=reweighted(mixture, rare, x).pi)
                   for x in frequencies for s in run.seeds]
        out = train_students(mixture, run, streams=streams, progress=progress)
        out["stream_frequency"] = np.repeat(frequencies, len(run.seeds))
        return out

    return _cached_training("c8_resampling", run_config, config.seeds, train)


def resampling_verdict(frequencies, rare_loss: np.ndarray, threshold: float, x_star: float) -> dict:
    """Where the re-sampled students learn the rare task, against the advisor's threshold ``x_star``.

    ``rare_loss`` is (frequencies, seeds). Returns the lowest grid frequency at which every
    seed learned it (``measured``, None if none), the grid frequencies either side of
    ``x_star`` (``last_below``, ``first_above``), whether the measurement lands on the
    first frequency above the threshold (``agrees``), and a sentence saying so.
    """
    frequencies = [float(x) for x in frequencies]
    learned_at = [x for x, ok in zip(frequencies, (np.asarray(rare_loss) < threshold).all(1)) if ok]
    measured = min(learned_at) if learned_at else None
    first_above = min((x for x in frequencies if x > x_star), default=None)
    last_below = max((x for x in frequencies if x < x_star), default=None)
    agrees = measured is not None and measured == first_above and last_below is not None
    if agrees:
        sentence = (f"learn the task from {measured:.2f} on, the first frequency of the grid above "
                    f"the advisor's threshold, and not at the last one below it, {last_below:.2f}")
    else:
        sentence = (f"learn the task from {measured} on (grid frequencies around the advisor's "
                    f"threshold: {last_below} below, {first_above} above)")
    return {"measured": measured, "first_above": first_above, "last_below": last_below,
            "agrees": agrees, "sentence": sentence}


def others_loss(mixture: TaskMixture, task_loss: np.ndarray, rare: int) -> np.ndarray:
    """The other tasks' loss under their *original* weights ``π_k tr(C_k)``, from (..., K)."""
    return theory.weighted_loss(mixture, task_loss, [k for k in range(mixture.K) if k != rare])


def widths_in_sweep(widths, wanted, every: int = 3) -> list:
    """The ``wanted`` widths that the sweep trained; every ``every``-th sweep width if none.

    Lets a chapter re-executed with its own ``widths`` keep its secondary figures.
    """
    chosen = [w for w in wanted if w in widths]
    return chosen or list(widths)[::every]


def require_width(widths, width: int, name: str) -> int:
    """``widths.index(width)``, or a one-line error naming the parameter."""
    if width not in widths:
        from rarescale.validation import ConfigError

        raise ConfigError(f"{name} must be one of the sweep's widths {list(widths)}. Got {width} instead.")
    return list(widths).index(width)


def sweep_steps_apart(widths, predicted, measured) -> list:
    """Per task, how many sweep widths lie between the measured learn width and the first
    sweep width at or above the predicted one (``None`` where either is missing)."""
    widths = list(widths)
    out = []
    for p, w in zip(predicted, measured):
        on_grid = next((i for i, x in enumerate(widths) if x >= p), None)
        out.append(None if on_grid is None or w is None else abs(widths.index(w) - on_grid))
    return out


def bound_violations(value: np.ndarray, bound: np.ndarray, rtol: float = 1e-4,
                     atol: float = 1e-5) -> np.ndarray:
    """Where ``value`` exceeds ``bound`` by more than float32 training's rounding."""
    return value > bound * (1 + rtol) + atol


def rare_crossings(widths, signal: np.ndarray, rare_tasks, predicted, level: float = 0.5) -> dict:
    """C13: the width from which each rare task's normalised signal stays at or above ``level``
    in every seed, against its predicted learn width ``N_r*`` (C12).

    ``signal`` is (widths, seeds, K). Returns per rare task the ``measured`` width (None where it
    never stays above), the ``predicted`` one, and ``in_order``: whether the rare tasks cross
    in the order the prediction gives (ties in either kept as ties).
    """
    learned = measured_learn_widths(widths, np.asarray(signal) >= level)
    measured = [learned[k] for k in rare_tasks]
    predicted = [int(p) for p in predicted]
    in_order = None not in measured and all(
        np.sign(measured[i] - measured[j]) == np.sign(predicted[i] - predicted[j])
        for i in range(len(measured)) for j in range(i + 1, len(measured)))
    return {"measured": measured, "predicted": predicted, "in_order": bool(in_order)}


def falls_at_every_gap(final: np.ndarray) -> np.ndarray:
    """C14: per width, whether the seed-mean final rare signal falls (or stays) at every larger
    gap Δ; ``final`` is (widths, deltas, seeds)."""
    return np.all(np.diff(final.mean(-1), axis=1) <= 0, axis=1)


def relative_decay(final: np.ndarray) -> np.ndarray:
    """Per width, the fall of the seed-mean signal from the first gap to the last,
    relative to the first; ``final`` is (widths, deltas, seeds)."""
    first, last = final[:, 0].mean(-1), final[:, -1].mean(-1)
    return (first - last) / np.abs(first)
