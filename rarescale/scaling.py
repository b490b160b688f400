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


def fit_loss_law(N, D, L, delta: float = 1e-3, n_starts: int = 30, name: str = "fitted") -> LossLaw:
    """Fit C1's five constants to ``(N, D, loss)`` points.

    Minimises the Huber loss (``delta``) of log-loss residuals with L-BFGS, as
    Hoffmann et al. (2022) and Besiroglu et al. (2024) do. Their grid of
    initialisations (4,500 points) is first scored in one vectorised pass; the
    ``n_starts`` best seed L-BFGS runs, and the best optimum is returned.
    """
    from scipy.optimize import minimize

    N, D, L = _positive("N", N), _positive("D", D), _positive("L", L)
    if not (N.shape == D.shape == L.shape) or N.size < 5:
        raise ConfigError(f"N, D and L must have one shape with at least 5 points. "
                          f"Got shapes {N.shape}, {D.shape}, {L.shape} instead.")
    logN, logD, logL = np.log(N).ravel(), np.log(D).ravel(), np.log(L).ravel()
    grid = _init_grid()
    # score every initialisation at once: (g, 3, n) terms
    terms = np.stack([grid[:, [0]] - grid[:, [3]] * logN, grid[:, [1]] - grid[:, [4]] * logD,
                      np.broadcast_to(grid[:, [2]], (len(grid), logN.size))], axis=1)
    r = np.logaddexp.reduce(terms, axis=1) - logL
    h = np.where(np.abs(r) <= delta, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta)).sum(axis=1)
    best = None
    for theta0 in grid[np.argsort(h)[:n_starts]]:
        res = minimize(_huber_objective, theta0, args=(logN, logD, logL, delta),
                       jac=True, method="L-BFGS-B")
        if best is None or res.fun < best.fun:
            best = res
    a, b, e, alpha, beta = best.x
    return LossLaw(E=float(np.exp(e)), A=float(np.exp(a)), B=float(np.exp(b)),
                   alpha=float(alpha), beta=float(beta), name=name)


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
