"""Section 2 of the paper: the phenomenological model (claims C1-C5).

A loss law ``L(N, D) = E + A / N^α + B / D^β`` (C1) says what a model of ``N``
parameters reaches after ``D`` tokens. Training compute-optimally (C2) fixes
``D`` as a function of ``N``; the asymptotic loss ``L(N, ∞)`` (C3) says what a
model of size ``N`` can reach at all. Comparing the two gives the paper's
Definitions 1 and 2 (C4, C5): when a smaller model can catch up with a larger
one by training on more data, and when only a larger model will do.

Every function is vectorised over numpy arrays of ``N`` (and ``D``, ``C``) and
takes the fit as ``law=`` (default :data:`CHINCHILLA`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from numbers import Real

import numpy as np

from rarescale.validation import ConfigError, check_all, positive


@dataclass(frozen=True)
class LossLaw:
    """A fit of the loss law C1, ``L(N, D) = E + A / N^alpha + B / D^beta``."""

    E: float
    """Irreducible loss (nats per token)."""
    A: float
    """Scale of the model-size term."""
    B: float
    """Scale of the data term."""
    alpha: float
    """Parameter exponent."""
    beta: float
    """Data exponent."""
    name: str = "custom"
    """Label used in tables and legends."""

    _constraints = {"E": positive(), "A": positive(), "B": positive(),
                    "alpha": positive(), "beta": positive()}

    def __post_init__(self):
        check_all("LossLaw", {k: getattr(self, k) for k in self._constraints}, self._constraints)

    def replace(self, **changes) -> "LossLaw":
        return replace(self, **changes)


# Hoffmann et al. 2022, approach 3.
CHINCHILLA = LossLaw(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28, name="Chinchilla")
# Besiroglu et al. 2024, the replication of approach 3.
BESIROGLU = LossLaw(E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658, name="Besiroglu")
FITS = {"chinchilla": CHINCHILLA, "besiroglu": BESIROGLU}


def get_fit(name_or_law) -> LossLaw:
    """A :class:`LossLaw` from itself or from a name in :data:`FITS`."""
    if isinstance(name_or_law, LossLaw):
        return name_or_law
    try:
        return FITS[str(name_or_law).lower()]
    except KeyError:
        raise ConfigError(f"fit must be one of {', '.join(map(repr, FITS))} or a LossLaw. "
                          f"Got {name_or_law!r} instead.") from None


def _positive(name: str, x) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(x) & (x > 0)):
        bad = x[~(np.isfinite(x) & (x > 0))].ravel()[0]
        raise ConfigError(f"{name} must be positive and finite. Got {bad!r} instead.")
    return x


def loss(N, D, law: LossLaw = CHINCHILLA):
    """C1: ``L(N, D) = E + A / N^α + B / D^β``; ``D = inf`` gives the asymptote."""
    N = _positive("N", N)
    D = np.asarray(D, dtype=float)
    if np.any(~(D > 0)):
        raise ConfigError(f"D must be positive. Got {D[~(D > 0)].ravel()[0]!r} instead.")
    return law.E + law.A / N**law.alpha + law.B / D**law.beta


def asymptotic_loss(N, law: LossLaw = CHINCHILLA):
    """C3: ``L(N, ∞) = E + A / N^α``, what size ``N`` reaches with unlimited data."""
    N = _positive("N", N)
    return law.E + law.A / N**law.alpha


def compute_optimal_tokens(N, law: LossLaw = CHINCHILLA):
    """C2: ``D*(N) = (β B N^α / (α A))^(1/β)``, the tokens at which size ``N`` is compute-optimal.

    At ``D*(N)`` the two reducible terms balance as ``α A / N^α = β B / D^β``,
    the first-order condition of minimising ``L`` along ``6 N D = C``.
    """
    N = _positive("N", N)
    return (law.beta * law.B * N**law.alpha / (law.alpha * law.A)) ** (1 / law.beta)


def compute_optimal_loss(N, law: LossLaw = CHINCHILLA):
    """C2: ``L*(N) = L(N, D*(N)) = E + (1 + α/β) A / N^α``."""
    N = _positive("N", N)
    return law.E + (1 + law.alpha / law.beta) * law.A / N**law.alpha


def optimal_params(C, law: LossLaw = CHINCHILLA):
    """C2 frontier: ``N_opt(C) = G (C/6)^(β/(α+β))`` with ``G = (α A / (β B))^(1/(α+β))``."""
    C = _positive("C", C)
    G = (law.alpha * law.A / (law.beta * law.B)) ** (1 / (law.alpha + law.beta))
    return G * (C / 6) ** (law.beta / (law.alpha + law.beta))


def optimal_tokens(C, law: LossLaw = CHINCHILLA):
    """C2 frontier: ``D_opt(C) = (C/6) / N_opt(C)``."""
    C = _positive("C", C)
    return (C / 6) / optimal_params(C, law)


def largest_small_model(n_large, eps=0.0, law: LossLaw = CHINCHILLA):
    """C5 (Definition 2): ``N_s*(ε) = (A / (L*(N_L) + ε − E))^(1/α)``.

    No model below ``N_s*`` reaches the large model's compute-optimal loss (plus
    ``ε``), whatever its data. For ``ε = 0`` this is ``N_L (1 + α/β)^(−1/α)``;
    with Chinchilla's fit about ``0.0965 N_L``.
    """
    eps = np.asarray(eps, dtype=float)
    if np.any(~np.isfinite(eps) | (eps < 0)):
        raise ConfigError(f"eps must be >= 0 and finite. Got {eps.ravel()[0]!r} instead.")
    gap = compute_optimal_loss(n_large, law) + eps - law.E
    return (law.A / gap) ** (1 / law.alpha)


def data_scaling_suffices(n_small, n_large, law: LossLaw = CHINCHILLA):
    """C4 (Definition 1): a smaller model can recover the larger one's loss through data.

    True where ``N_s < N_L``, ``L(N_s, ∞) ≤ L*(N_L)`` and ``L*(N_s) > L*(N_L)``:
    the smaller model is worse at its own compute optimum but not in the limit.
    """
    n_small, n_large = _positive("n_small", n_small), _positive("n_large", n_large)
    target = compute_optimal_loss(n_large, law)
    return ((n_small < n_large) & (asymptotic_loss(n_small, law) <= target)
            & (compute_optimal_loss(n_small, law) > target))


# --- fitting a loss law to (N, D, loss) points ------------------------------------------


def _huber_objective(theta, logN, logD, logL, delta):
    """Huber loss of ``log L̂ − log L`` and its gradient; ``theta = (a, b, e, α, β)``.

    ``log L̂ = logsumexp(a − α log N, b − β log D, e)``, i.e. ``A = e^a``,
    ``B = e^b``, ``E = e^e``, as in Hoffmann et al. (2022).
    """
    a, b, e, alpha, beta = theta
    terms = np.stack([a - alpha * logN, b - beta * logD, np.full_like(logN, e)])  # (3, n)
    top = terms.max(axis=0)
    w = np.exp(terms - top)
    s = w.sum(axis=0)
    pred = top + np.log(s)
    w /= s  # softmax weights, (3, n)
    r = pred - logL
    small = np.abs(r) <= delta
    value = np.where(small, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta)).sum()
    dr = np.clip(r, -delta, delta)  # Huber derivative
    grad = np.array([(dr * w[0]).sum(), (dr * w[1]).sum(), (dr * w[2]).sum(),
                     -(dr * w[0] * logN).sum(), -(dr * w[1] * logD).sum()])
    return value, grad


def _init_grid():
    """Hoffmann et al.'s grid of initialisations (a, b, e, α, β)."""
    axes = [np.arange(0, 26, 5.0), np.arange(0, 26, 5.0), np.arange(-1, 1.5, 0.5),
            np.arange(0, 2.5, 0.5), np.arange(0, 2.5, 0.5)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 5)


POLISH = {"gtol": 1e-12, "ftol": 1e-15, "maxiter": 20_000, "maxcor": 50}
"""L-BFGS options of the final run from the best start."""


def _as_theta(law: LossLaw) -> np.ndarray:
    return np.array([np.log(law.A), np.log(law.B), np.log(law.E), law.alpha, law.beta])


def fit_loss_law(N, D, L, delta: float = 1e-3, n_starts: int = 30, name: str = "fitted",
                 start: LossLaw | None = None) -> LossLaw:
    """Fit C1's five constants to ``(N, D, loss)`` points.

    Minimises the Huber loss (``delta``) of log-loss residuals with L-BFGS, as
    Hoffmann et al. (2022) and Besiroglu et al. (2024) do. Their grid of
    initialisations (4,500 points) is first scored in one vectorised pass; the
    ``n_starts`` best seed L-BFGS runs, and the best optimum is polished by one
    more run with tight tolerances (the objective is small in absolute terms, and
    L-BFGS's default tolerances stop short of the optimum on real data). With
    ``start`` (a law fitted to similar data, as in a bootstrap), L-BFGS also runs
    from it, and ``n_starts`` may be 0.
    """
    from scipy.optimize import minimize

    N, D, L = _positive("N", N), _positive("D", D), _positive("L", L)
    if not (N.shape == D.shape == L.shape) or N.size < 5:
        raise ConfigError(f"N, D and L must have one shape with at least 5 points. "
                          f"Got shapes {N.shape}, {D.shape}, {L.shape} instead.")
    logN, logD, logL = np.log(N).ravel(), np.log(D).ravel(), np.log(L).ravel()
    starts = []
    if n_starts:
        grid = _init_grid()
        # score every initialisation at once: (g, 3, n) terms
        terms = np.stack([grid[:, [0]] - grid[:, [3]] * logN, grid[:, [1]] - grid[:, [4]] * logD,
                          np.broadcast_to(grid[:, [2]], (len(grid), logN.size))], axis=1)
        r = np.logaddexp.reduce(terms, axis=1) - logL
        h = np.where(np.abs(r) <= delta, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta)).sum(axis=1)
        starts = list(grid[np.argsort(h)[:n_starts]])
    if start is not None:
        starts.insert(0, _as_theta(start))
    if not starts:
        raise ConfigError("fit_loss_law needs n_starts >= 1 or a start law.")
    best = None
    for theta0 in starts:
        res = minimize(_huber_objective, theta0, args=(logN, logD, logL, delta),
                       jac=True, method="L-BFGS-B")
        if best is None or res.fun < best.fun:
            best = res
    best = minimize(_huber_objective, best.x, args=(logN, logD, logL, delta), jac=True,
                    method="L-BFGS-B", options=POLISH)
    a, b, e, alpha, beta = best.x
    return LossLaw(E=float(np.exp(e)), A=float(np.exp(a)), B=float(np.exp(b)),
                   alpha=float(alpha), beta=float(beta), name=name)


def chinchilla_runs(path, exclude_highest: int = 5):
    """``(N, D, L)`` of Hoffmann et al.'s runs as extracted by Besiroglu et al. (``book/data``).

    Tokens are ``FLOP / (6 N)``. The replication leaves out the ``exclude_highest``
    runs of highest loss (5 in its fit).
    """
    import csv
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"chinchilla_runs: data file not found: {path}")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    N = np.array([float(r["Model Size"]) for r in rows])
    C = np.array([float(r["Training FLOP"]) for r in rows])
    L = np.array([float(r["loss"]) for r in rows])
    keep = np.argsort(L)[: len(L) - exclude_highest] if exclude_highest else np.arange(len(L))
    keep = np.sort(keep)
    return N[keep], C[keep] / (6 * N[keep]), L[keep]


def bootstrap_fits(N, D, L, n_boot: int = 1000, seed: int = 0, progress: bool = False) -> dict:
    """Refit the loss law to ``n_boot`` resamples of the runs (with replacement).

    Each refit runs L-BFGS from the fit to all the runs, to tight tolerances: on
    the replication's data it lands on the same optimum as the full search from
    30 grid points (a test checks this), in a fraction of the time. Returns the
    full fit's constants and, per resample, ``E, A, B, alpha, beta`` (arrays).
    """
    full = fit_loss_law(N, D, L)
    rng = np.random.default_rng(seed)
    keys = ("E", "A", "B", "alpha", "beta")
    out = {k: np.empty(n_boot) for k in keys}
    steps = range(n_boot)
    if progress:
        import sys

        from tqdm import tqdm
        steps = tqdm(steps, desc="bootstrap", leave=False, disable=not sys.stderr.isatty())
    for i in steps:
        idx = rng.integers(0, len(N), len(N))
        law = fit_loss_law(N[idx], D[idx], L[idx], n_starts=0, start=full)
        for k in keys:
            out[k][i] = getattr(law, k)
    return {"full": {k: getattr(full, k) for k in keys}, **out}


def synthetic_runs(law: LossLaw, n_points: int, noise: float, seed: int,
                   n_range=(1e7, 1e10), tokens_per_param=(2.0, 200.0)):
    """Noisy ``(N, D, L)`` points from ``law``, for checking :func:`fit_loss_law`.

    ``N`` is log-uniform in ``n_range``, ``D / N`` log-uniform in
    ``tokens_per_param`` (around Chinchilla's 20), and each loss is multiplied by
    ``exp(noise · z)`` with ``z`` standard normal.
    """
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(*np.log(n_range), n_points))
    D = N * np.exp(rng.uniform(*np.log(tokens_per_param), n_points))
    L = loss(N, D, law) * np.exp(noise * rng.standard_normal(n_points))
    return N, D, L


def small_model_table(laws, n_large: float, eps_values) -> list[dict]:
    """C5 for several fits and tolerances: ``N_s*(ε)`` and ``N_s*/N_L`` as rows."""
    rows = []
    for law in laws:
        for eps in eps_values:
            n_small = float(largest_small_model(n_large, eps, law))
            rows.append({"fit": law.name, "eps": float(eps), "n_small": n_small,
                         "ratio": n_small / n_large})
    return rows


CHINCHILLA_70B_FLOP = 5.76e23
"""Training compute of Chinchilla (70B parameters, 1.4T tokens): where chapter 1 quotes the
compute-optimal tokens per parameter."""


def derived(law: LossLaw, compute: float = CHINCHILLA_70B_FLOP) -> dict:
    """What C5 and C2 read off a fit: ``alpha/beta``, ``N_s*/N_L`` at ε = 0, and the
    compute-optimal tokens per parameter at ``compute`` FLOP."""
    n_opt = float(optimal_params(compute, law))
    return {"alpha_over_beta": law.alpha / law.beta,
            "small_ratio": float(largest_small_model(1.0, 0.0, law)),
            "tokens_per_param": float(optimal_tokens(compute, law)) / n_opt}


def refit_with_intervals(path, exclude_highest: int = 5, n_boot: int = 1000, seed: int = 0,
                         compute: float = CHINCHILLA_70B_FLOP, progress: bool = True):
    """C1 on real runs: the fit to Hoffmann et al.'s runs and ``n_boot`` bootstrap refits, with
    the derived quantities of each, cached as the artifact ``c1_chinchilla_refit``."""
    import hashlib
    from pathlib import Path

    from rarescale.store.artifacts import cached, code_digest

    N, D, L = chinchilla_runs(path, exclude_highest)
    config = {"data_sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(),
              "exclude_highest": exclude_highest, "n_boot": n_boot, "seed": seed,
              "compute": compute, "code": code_digest(__name__)}

    def compute_fits():
        boot = bootstrap_fits(N, D, L, n_boot, seed, progress)
        laws = [LossLaw(**{k: boot[k][i] for k in ("E", "A", "B", "alpha", "beta")})
                for i in range(n_boot)]
        extra = [derived(law, compute) for law in laws]
        full = LossLaw(**boot.pop("full"))
        arrays = {**boot, **{k: np.array([e[k] for e in extra]) for k in extra[0]}}
        return {"full": {**{k: getattr(full, k) for k in ("E", "A", "B", "alpha", "beta")},
                         **derived(full, compute)}, "n_runs": int(len(N))}, arrays

    return cached("c1_chinchilla_refit", config, compute_fits, seed=seed)


def interval(samples, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` percentile interval of bootstrap samples."""
    low, high = np.percentile(np.asarray(samples, float), [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)


def outside_intervals(law: LossLaw, samples: dict, level: float = 0.95) -> list[str]:
    """The constants of ``law`` that lie outside the bootstrap intervals of ``samples``."""
    out = []
    for k in ("E", "A", "B", "alpha", "beta"):
        low, high = interval(samples[k], level)
        if not low <= getattr(law, k) <= high:
            out.append(k)
    return out
