"""The claim ledger: each of the paper's claims (C1-C20) and figures with the book's verdict.

Each chapter ends with its rows of the ledger, and the front page shows them all:
both call the functions here (:func:`chapter_rows`), which compute every verdict
with the chapter's own library functions from the chapter's own artifacts, at the
chapter's parameters (its ``parameters`` cell, or the values a reader gave it).

A row's verdict is one of:

* *reproduced*: the book's check of the claim passes (a closed form matches
  the numerics within a stated tolerance, or a statistical claim's 95% interval
  lies on the claimed side);
* *partly*: some of the claim's checks pass and others do not;
* *not shown*: the check does not pass at the book's scale (not a refutation);
* *setup*: a construction of the paper's, built as described (nothing to test).

Where a claim is statistical the row carries the statistic's 95% interval.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from rarescale.store.files import write_atomically

REPRODUCED, PARTLY, NOT_SHOWN, DIFFERS, SETUP = ("reproduced", "partly", "not shown", "differs",
                                                 "setup")
VERDICTS = (REPRODUCED, PARTLY, NOT_SHOWN, DIFFERS, SETUP)
KINDS = ("check", "replication", "comparison", "setup")
"""What a row tests: ``check``, a closed form against numerics within a tolerance;
``replication``, a statistical claim with its test (and, in a family, its adjusted p);
``comparison``, our number against the paper's, with an interval (*differs* when the interval
excludes the paper's); ``setup``, a construction built as described."""
NUMERIC_RTOL = 1e-4
"""A closed form against a numerical evaluation of the same quantity (an optimiser, finite
differences): relative tolerance."""
LEARNED_SIGNAL = 0.5
"""C11-C13: a rare task counts as learned once its captured signal reaches this share."""
MONTE_CARLO_RTOL = 0.01
"""A closed-form expectation against a Monte Carlo average of 200,000 samples."""

CHAPTERS = ("01_phenomenology", "02_utility_ranking", "03_interference", "04_olmo_validation")


@dataclass(frozen=True)
class Row:
    """One line of the ledger."""

    claim: str
    """``C8``, or a figure of the paper (``Figure 2``)."""
    paper: str
    """What the paper says, in a short line."""
    measured: str
    """What the book measured."""
    verdict: str
    interval: str
    """The statistic's 95% interval where the claim is statistical; empty otherwise."""
    scale: str
    """Where it was checked."""
    chapter: str
    """The chapter's file stem."""
    section: str
    """The heading of the section that checks it (the link's target)."""
    kind: str = "check"
    """What the row tests (:data:`KINDS`)."""
    family: str = ""
    """A replication's family: the claim whose tests were adjusted together, and how many."""
    p: float | None = None
    """A replication's smallest p-value in its family (one-sided)."""
    p_adjusted: float | None = None
    """That p-value adjusted within the family (Holm)."""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"Row.verdict must be one of {VERDICTS}. Got {self.verdict!r}.")
        if self.kind not in KINDS:
            raise ValueError(f"Row.kind must be one of {KINDS}. Got {self.kind!r}.")
        if (self.verdict == SETUP) != (self.kind == "setup"):
            raise ValueError(f"Row {self.claim}: a setup row, and only one, has the verdict setup.")

    @property
    def link(self) -> str:
        """The section's address, relative to another page of the book."""
        from docutils.nodes import make_id

        return f"{self.chapter}.html#{make_id(self.section)}"


def _finite(x) -> float | None:
    """A number for JSON: None where it is not finite."""
    return float(x) if x is not None and np.isfinite(x) else None


def _all_or_some(ok) -> str:
    ok = list(ok)
    return REPRODUCED if all(ok) else PARTLY if any(ok) else NOT_SHOWN


def _interval(values, fmt="{:.3f}") -> str:
    from rarescale.scaling import interval

    low, high = interval(values)
    return f"[{fmt.format(low)}, {fmt.format(high)}]"


# --------------------------------------------------------------------------- chapter 1 (C1-C5)

def compute_optimal_check(law, n: float) -> float:
    """C2: relative gap between the closed-form compute-optimal size at the compute ``6·n·D*(n)``
    and the size that minimises the loss numerically along that compute."""
    from scipy.optimize import minimize_scalar

    from rarescale import scaling

    compute = 6 * n * float(scaling.compute_optimal_tokens(n, law))
    found = minimize_scalar(lambda x: float(scaling.loss(np.exp(x), compute / (6 * np.exp(x)), law)),
                            bracket=(np.log(n) - 1, np.log(n) + 1), tol=1e-12)
    return abs(np.exp(found.x) / n - 1)


def chapter1(fit, n_large, runs_file, exclude_highest, n_boot, boot_seed, **_) -> list[Row]:
    from rarescale import scaling
    from rarescale.store.artifacts import REPO_ROOT

    law = scaling.get_fit(fit)
    refit = scaling.refit_with_intervals(REPO_ROOT / runs_file, exclude_highest, n_boot, boot_seed)
    full, arrays = refit.result["full"], refit.arrays
    n_runs = len(scaling.chinchilla_runs(REPO_ROOT / runs_file, exclude_highest)[0])
    scale = f"Hoffmann et al.'s {n_runs} runs, refitted ({n_boot} bootstrap resamples)"
    chapter, real = "01_phenomenology", "C1–C5 on real data: Chinchilla's runs refitted"
    outside = scaling.outside_intervals(scaling.CHINCHILLA, arrays)
    gap = compute_optimal_check(law, n_large)
    alpha_low = scaling.interval(arrays["alpha"])[0]
    ratio_low, ratio_high = scaling.interval(arrays["small_ratio"])
    paper_ratio = float(scaling.largest_small_model(1.0, 0.0, scaling.CHINCHILLA))
    alpha_p = float((1 + np.sum(np.asarray(arrays["alpha"]) <= 0)) / (1 + len(arrays["alpha"])))
    agrees = ratio_low <= paper_ratio <= ratio_high
    return [
        Row("C1", "loss follows L(N, D) = E + A/N^α + B/D^β",
            f"refit α = {full['alpha']:.3f}, β = {full['beta']:.3f}; Chinchilla's published "
            f"constants outside the refit's intervals: "
            f"{', '.join({'alpha': 'α', 'beta': 'β'}.get(k, k) for k in outside) or 'none'}",
            REPRODUCED if not outside else PARTLY,
            f"α {_interval(arrays['alpha'])}, β {_interval(arrays['beta'])}", scale, chapter, real,
            kind="comparison"),
        Row("C2", "the compute-optimal loss is L*(N) = E + (1 + α/β)·A/N^α",
            f"closed-form optimum against numerical minimisation at N = {n_large:.0e}: relative "
            f"gap {gap:.1e}", REPRODUCED if gap < NUMERIC_RTOL else NOT_SHOWN, "",
            f"{law.name}'s fit", chapter, "C2: compute-optimal training"),
        Row("C3", "L(N, ∞) = E + A/N^α falls strictly with N",
            f"refit α = {full['alpha']:.3f} > 0", REPRODUCED if alpha_low > 0 else NOT_SHOWN,
            f"α {_interval(arrays['alpha'])}", scale, chapter, real, kind="replication",
            family="C3 (1 test)", p=alpha_p, p_adjusted=alpha_p),
        Row("C4, C5", "below N_s* ≈ 0.1·N_L no amount of data reaches the large model's "
            "compute-optimal loss",
            f"refit N_s*/N_L = {full['small_ratio']:.3f} (ε = 0) against the paper's "
            f"{paper_ratio:.3f} (Chinchilla's fit); "
            + ("the paper's value lies inside the refit's interval" if agrees else
               "the refit's interval excludes it: both place a threshold below N_L, at a larger "
               "share of it in the refit (its α and β differ from Chinchilla's)"),
            REPRODUCED if agrees else DIFFERS, _interval(arrays["small_ratio"]), scale, chapter,
            real, kind="comparison"),
    ]


# --------------------------------------------------------------------------- chapter 2 (C6-C8)

def width_alone_gain(learned, predicted, n_boot: int = 2000, seed: int = 0):
    """C8 against its shortcut: agreement of the utility rule's prediction with what the
    students learned, minus that of the best rule that uses width alone (a task is learned
    from one width on, the same for every task, chosen on the data).

    ``learned`` (widths, seeds, K), ``predicted`` (widths, K). Returns (gain, low, high)
    with a 95% interval from resampling the seeds.
    """
    learned, predicted = np.asarray(learned, bool), np.asarray(predicted, bool)
    n_w = learned.shape[0]

    def gain(seeds):
        obs = learned[:, seeds]
        rule = (obs == predicted[:, None]).mean()
        alone = max((obs == (np.arange(n_w) >= w0)[:, None, None]).mean() for w0 in range(n_w + 1))
        return rule - alone

    n_s = learned.shape[1]
    rng = np.random.default_rng(seed)
    boots = [gain(rng.integers(n_s, size=n_s)) for _ in range(n_boot)]
    low, high = np.percentile(boots, [2.5, 97.5])
    return float(gain(np.arange(n_s))), float(low), float(high)


def utility_ranking(K, m, a, b, d, mixture_seed, widths, seeds, steps, batch, lr, threshold,
                    b_range, **_) -> dict:
    """Chapter 2's mixtures and what the students learned (its width sweeps, read back or run):
    ``mixture``, ``config``, and the fidelity to C8 of the frequency (``fid``) and complexity
    (``fid_d``, Appendix D) sweeps."""
    from rarescale.book import experiments
    from rarescale.linear.mixture import TaskMixture
    from rarescale.linear.student import StudentConfig

    mixture = TaskMixture.power_law(K=K, m=m, a=a, b=b, d=d, seed=mixture_seed)
    config = StudentConfig(widths=tuple(widths), seeds=tuple(seeds), steps=steps, batch=batch, lr=lr)
    mixture_d = TaskMixture.power_law(K=K, m=m, a=0.0, b=np.linspace(*b_range, K), d=d,
                                      seed=mixture_seed, unit_trace=True)
    fid, fid_d = (experiments.fidelity(x, config, experiments.width_sweep(x, config).arrays,
                                       threshold) for x in (mixture, mixture_d))
    return {"mixture": mixture, "config": config, "fid": fid, "fid_d": fid_d}


def reduction_check(mixture, width: int = 8, samples: int = 200_000) -> tuple[float, float]:
    """C7: the mixture loss of a random width-``width`` encoder, as a Monte Carlo average over
    ``samples`` samples and in closed form."""
    from rarescale.linear import theory
    from rarescale.linear.stiefel import random_stiefel

    U = random_stiefel(mixture.d, width, np.random.default_rng(1))
    return theory.monte_carlo_loss(mixture, U, samples=samples, seed=2)[0], theory.mixture_loss(mixture, U)


def chapter2(K, m, a, b, d, widths, seeds, **params) -> list[Row]:
    found = utility_ranking(K=K, m=m, a=a, b=b, d=d, widths=widths, seeds=seeds, **params)
    mixture, fid, fid_d = found["mixture"], found["fid"], found["fid_d"]
    chapter = "02_utility_ranking"
    scale = f"linear students, d = {d}, K = {K} tasks, widths {widths[0]}–{widths[-1]}, " \
            f"{len(seeds)} seeds"
    mc, closed = reduction_check(mixture)
    rel = abs(mc / closed - 1)
    gains = [width_alone_gain(f["learned"], f["predicted"]) for f in (fid, fid_d)]
    c8 = _all_or_some(g[1] > 0 for g in gains)
    return [
        Row("C6", "a mixture of K linear tasks of frequency π_k and spectrum λ_kj, one shared "
            "encoder", f"K = {K}, {m} features each, π_k ∝ k^-{a}, λ_kj ∝ j^-{b}", SETUP, "",
            scale, chapter, "C6: the setup", kind="setup"),
        Row("C7", "the loss depends on the encoder only through tr(Uᵀ C_k U)",
            f"closed form against a 200,000-sample average: relative gap {100 * rel:.2f}%",
            REPRODUCED if rel < MONTE_CARLO_RTOL else NOT_SHOWN, "", f"d = {d}, width 8", chapter,
            "C7: the loss depends on the encoder only through $M$"),
        Row("C8", "a width-N model learns the N features of highest utility π_k λ_kj",
            f"agreement with the rule {100 * fid['agreement']:.1f}% (frequency) and "
            f"{100 * fid_d['agreement']:.1f}% (complexity, App. D); above the best width-alone "
            f"rule by {gains[0][0]:+.3f} and {gains[1][0]:+.3f}", c8,
            f"[{gains[0][1]:+.3f}, {gains[0][2]:+.3f}]; [{gains[1][1]:+.3f}, {gains[1][2]:+.3f}]",
            scale, chapter, "C8: features are learned in order of utility"),
    ]


# --------------------------------------------------------------------------- chapter 3 (C9-C14)

def riemannian_gradient_check(mixture, width: int = 8, seed: int = 1) -> float:
    """C9: relative gap between the closed-form Riemannian gradient and the tangent part of
    the loss's Euclidean gradient, taken by central differences."""
    from rarescale.linear import interference, theory
    from rarescale.linear.stiefel import random_stiefel

    U = random_stiefel(mixture.d, width, np.random.default_rng(seed))
    h, euclid = 1e-5, np.zeros_like(U)
    for idx in np.ndindex(*U.shape):
        E = np.zeros_like(U)
        E[idx] = h
        euclid[idx] = (theory.mixture_loss(mixture, U + E) - theory.mixture_loss(mixture, U - E)) / (2 * h)
    tangent = euclid - U @ (U.T @ euclid)
    closed = interference.riemannian_gradient(mixture, U)
    return float(np.linalg.norm(closed - tangent) / np.linalg.norm(closed))


def chapter3(K, m, a, b, d, mixture_seed, widths, seeds, steps, batch, lr, common_mass,
             eps_fraction, rare_task, deltas, injection_widths, injection_seeds, c12_widths,
             **_) -> list[Row]:
    from rarescale.book import experiments
    from rarescale.linear import interference, stability
    from rarescale.linear.mixture import TaskMixture
    from rarescale.linear.student import StudentConfig
    from rarescale.verdicts import size_trend

    mixture = TaskMixture.power_law(K=K, m=m, a=a, b=b, d=d, seed=mixture_seed)
    config = StudentConfig(widths=tuple(widths), seeds=tuple(seeds), steps=steps, batch=batch, lr=lr)
    common = interference.common_tasks(mixture, common_mass)
    mu = interference.common_eigenvalues(mixture, common)
    chapter = "03_interference"
    scale = f"linear students, d = {d}, K = {K} tasks, widths {widths[0]}–{widths[-1]}, " \
            f"{len(seeds)} seeds"
    gap = riemannian_gradient_check(mixture)
    sweep = experiments.signal_sweep(mixture, config, common_mass).arrays
    violations = experiments.bound_violations(sweep["common_grad"], sweep["common_bound"])
    n_c = interference.critical_width(mu, eps_fraction * mu.sum())
    signal, _ = experiments.signal_by_width(mixture, config, sweep, common)
    rare_tasks = [k for k in range(K) if k not in common]
    predicted = [interference.rare_learn_width(mu, mixture.pi[k] * mixture.spectra[k][0])
                 for k in rare_tasks]
    crossing = experiments.rare_crossings(widths, signal, rare_tasks, predicted, level=0.5)
    past = [w is not None and w >= n_c for w in crossing["measured"]]
    below_nc = float(signal[np.asarray(widths) < n_c][:, :, rare_tasks].mean(1).max())
    inj_config = config.replace(widths=tuple(injection_widths), seeds=tuple(injection_seeds),
                                schedule="constant")
    inj = experiments.injection_sweep(mixture, inj_config, rare_task - 1, deltas).arrays
    final = experiments.injection_final(mixture, inj_config, inj, rare_task - 1, deltas)
    decay = np.stack([experiments.relative_decay(final[..., s:s + 1])
                      for s in range(final.shape[-1])], axis=1)  # [width, seed]
    trend = size_trend(decay, injection_widths, -1)
    c12_mixture = stability.separated_mixture()
    c12_config = config.replace(widths=tuple(c12_widths))
    c12_loss = experiments.by_width(
        experiments.width_sweep(c12_mixture, c12_config).arrays["task_loss"][:, -1], c12_config)
    c12 = stability.c12_test(c12_mixture, c12_widths, 1 - c12_loss[:, :, 3:], [0, 1, 2], [3, 4, 5])
    return [
        Row("C9", "the task gradient on the Stiefel manifold is −2π_k (I − P) C_k U",
            f"against finite differences of the loss: relative gap {gap:.1e}",
            REPRODUCED if gap < NUMERIC_RTOL else NOT_SHOWN, "", f"d = {d}, width 8",
            chapter, "C9 and C10: common tasks pull only through their residual"),
        Row("C10", "the common tasks' gradient is bounded by their unexplained residual",
            f"{int(violations.sum())} of {violations.size} measurements above the bound",
            REPRODUCED if not violations.any() else NOT_SHOWN, "", scale, chapter,
            "C9 and C10: common tasks pull only through their residual"),
        Row("C11", "past the critical width N_c the common tasks leave room for rare ones",
            f"N_c = {n_c}; rare tasks learned (signal ≥ 0.5) from widths "
            f"{', '.join(str(w) for w in crossing['measured'])}", _all_or_some(past), "", scale,
            chapter, "C11: the critical width"),
        Row("C12", "a rare direction is learned from the width where its utility ranks among "
            "the N largest of M (N_r*)",
            f"predicted N_r* {', '.join(map(str, c12['full']))}; measured "
            f"{', '.join('none' if w is None else str(w) for w in c12['measured'])}; the "
            f"common-only rule's {', '.join(map(str, c12['common_only']))}"
            + (" (it fails)" if c12["common_only_fails"] else ""),
            REPRODUCED if c12["reproduced"] else NOT_SHOWN, "",
            f"linear students, d = 20, 3 common and 3 rare rank-one tasks, widths "
            f"{c12_widths[0]}–{c12_widths[-1]}, {len(seeds)} seeds", chapter,
            "C12 as a test that can fail"),
        Row("C13", "a rare task's captured signal is no better than random below N_c",
            f"rare tasks' signal below N_c at most {below_nc:.2f} "
            "(random = 0, learned = 1)", REPRODUCED if below_nc < LEARNED_SIGNAL else NOT_SHOWN,
            "", scale, chapter, "C13 and Figure 3: rare signal rises past $N_c$"),
        Row("C14", "across longer gaps between sightings, narrow models lose the rare task faster",
            f"relative fall of the rare signal from Δ = {deltas[0]} to {deltas[-1]}: "
            f"{100 * decay.mean(1)[0]:.0f}% at width {injection_widths[0]}, "
            f"{100 * decay.mean(1)[-1]:.1f}% at {injection_widths[-1]}",
            REPRODUCED if trend.verdict == "supported" else NOT_SHOWN,
            trend.interval("{:+.3f}").replace("per decade", "per decade of width"),
            f"widths {injection_widths[0]}–{injection_widths[-1]}, {len(injection_seeds)} seeds",
            chapter, "C14 and Figure 4: retention across gaps", kind="replication",
            family="C14 (1 test)", p=_finite(trend.p), p_adjusted=_finite(trend.p)),
    ]


# --------------------------------------------------------------------------- chapter 4 (C15-C20)

def injected_as_requested(injected, requested) -> tuple[int, int]:
    """C16's count: of the (size, seed, task, frequency) cells that ran (a finite requested
    count; an unpacked sweep runs each task at some frequencies only), how many injected exactly
    the requested number of instances."""
    injected, requested = np.asarray(injected, float), np.asarray(requested, float)
    ran = np.isfinite(requested)
    return int((ran & (injected == requested)).sum()), int(ran.sum())


def chapter4(sweep_file, capacity_test_file, **_) -> list[Row]:
    from rarescale.store.artifacts import REPO_ROOT
    from rarescale import verdicts as verdicts_
    from rarescale.book.report import sci
    from rarescale.sweeps import capacity, trends

    sweep, res = trends.load_ladder(REPO_ROOT / sweep_file)
    chapter = "04_olmo_validation"
    scale = (f"OLMo-2, {res.params.min():,}–{res.params.max():,} non-embedding parameters, "
             f"{res.tokens.max() / 1e6:.0f}M tokens, {len(res.seeds)} seeds, CPU")
    found = trends.verdicts(res, sweep.analysis)
    n_exact, n_ran = injected_as_requested(res.injected, res.requested)
    rows = [
        Row("C15", "two synthetic tasks (comparison, modular addition) on reserved tokens",
            "; ".join(t.title for t in res.tasks) + " (the paper: 100 values)", SETUP, "", scale,
            chapter, "The setup (C15–C17)", kind="setup"),
        Row("C16", "instances injected at a controlled frequency",
            f"injected = requested in {n_exact} of {n_ran} runs' tasks",
            REPRODUCED if n_exact == n_ran > 0 else NOT_SHOWN, "", scale, chapter, "The setup (C15–C17)"),
        Row("C17", "OLMo models from 4M to 4B parameters",
            f"OLMo-2's architecture, {len(res.sizes)} sizes from {res.sizes[0]} to {res.sizes[-1]}",
            SETUP, "", scale, chapter, "The setup (C15–C17)", kind="setup"),
    ]
    sections = {"C18": "C18: which sizes learn which frequencies",
                "C19": "C19: what the hidden states hold", "C20": "C20: interference and forgetting"}
    papers = {"C18": "larger models learn rarer tasks: the learning threshold falls with size",
              "C19": "larger models represent the task's operands and answer more linearly",
              "C20": "larger models show less gradient interference and forget more slowly"}
    for claim in ("C18", "C19", "C20"):
        mine = [v for v in found if v["claim"] == claim]
        ok = [v["trend"].verdict == "supported" for v in mine]
        best = min(mine, key=lambda v: np.nan_to_num(v["trend"].p_adjusted, nan=2.0))["trend"]
        rows.append(Row(claim, papers[claim], f"{sum(ok)} of {len(ok)} trends with size supported "
                        f"(Welch tests, Holm over the {len(ok)})", _all_or_some(ok),
                        "; ".join(v["trend"].interval("{:+.3f}") for v, o in zip(mine, ok) if o),
                        scale, chapter, sections[claim], kind="replication",
                        family=mine[0]["trend"].family, p=_finite(best.p),
                        p_adjusted=_finite(best.p_adjusted)))
    _, _, test = capacity.load_capacity_test(REPO_ROOT / capacity_test_file)
    g = test.registered
    rows.append(Row(
        "C4, C5 (pretraining)", "a smaller model stays below a larger one however long it trains",
        f"{test.small_size} at {test.budget:g}× the tokens against {test.large_size} at the base "
        f"budget, on {test.task} at {sci(test.frequency)} per token: {g.verdict}",
        {verdicts_.STAYS_BELOW: REPRODUCED, verdicts_.REACHES: DIFFERS}.get(g.verdict, NOT_SHOWN),
        f"gap {g.gap:+.3f} [{g.low:+.3f}, {g.high:+.3f}]",
        f"OLMo-2, {test.small_size} against {test.large_size}, up to "
        f"{test.tokens.max() / 1e6:.0f}M tokens, {len(test.large)} seeds, CPU", chapter,
        "A capacity test that can answer (C4, C5)", kind="replication",
        family="C4, C5 in pretraining (1 test: two one-sided permutation tests, gap > 0 and "
               f"gap < {g.margin:g})", p=_finite(g.p_below), p_adjusted=_finite(g.p_below)))
    return rows


# --------------------------------------------------------------------------- the ledger

def chapter_parameters(chapter: str) -> dict:
    """A chapter's parameters at their defaults, read from its ``parameters`` cell."""
    from rarescale.store.artifacts import REPO_ROOT
    from rarescale.book.parameters import notebook_defaults

    return notebook_defaults(REPO_ROOT / "book" / f"{chapter}.py")


def chapter_rows(chapter: str, namespace: dict | None = None) -> list[Row]:
    """The ledger's rows of ``chapter`` (a file stem), at its default parameters updated with
    those of them found in ``namespace`` (a chapter passes ``globals()``: its own values)."""
    params = chapter_parameters(chapter)
    params.update({k: v for k, v in (namespace or {}).items() if k in params})
    return {"01_phenomenology": chapter1, "02_utility_ranking": chapter2,
            "03_interference": chapter3, "04_olmo_validation": chapter4}[chapter](**params)


def headline_figure():
    """The front page's figure: chapter 2's Figure 2 at its default parameters, what each width
    learns of each task against the utility ranking's prediction (C8)."""
    import matplotlib.pyplot as plt

    from rarescale.book import plots

    params = chapter_parameters("02_utility_ranking")
    found = utility_ranking(**params)
    fig, ax = plt.subplots(figsize=(7.2, 4.0))
    plots.fig_task_loss_vs_width(ax, params["widths"], found["fid"]["loss"],
                                 found["fid"]["predicted_loss"], found["mixture"].pi)
    return fig


def ledger() -> list[Row]:
    """Every chapter's rows, in the order of the paper."""
    return [row for chapter in CHAPTERS for row in chapter_rows(chapter)]


PAPER_SECTIONS = (
    ("Section 2: two scaling regimes (C1–C5)", ("01_phenomenology",)),
    ("Section 3: capacity and interference in a linear model (C6–C14)",
     ("02_utility_ranking", "03_interference")),
    ("Section 4: rare tasks in pretraining (C15–C20)", ("04_olmo_validation",)),
)
"""The paper's sections and the chapters that check them (the closing page's order)."""


def findings(rows) -> list[dict]:
    """Per section of the paper (:data:`PAPER_SECTIONS`): its rows' claims by verdict, in the
    ledger's order, and the scales at which they were checked (the closing page)."""
    out = []
    for title, chapters in PAPER_SECTIONS:
        mine = [r for r in rows if r.chapter in chapters]
        by_verdict = {v: [r.claim for r in mine if r.verdict == v] for v in VERDICTS}
        scales = list(dict.fromkeys(r.scale for r in mine if r.scale))
        out.append({"section": title, "chapters": list(chapters), "rows": len(mine),
                    "claims": by_verdict, "scales": scales})
    return out


def findings_sentence(found: dict) -> str:
    """One section's findings in words: how many rows, and the claims of each verdict."""
    parts = [f"{len(claims)} {verdict} ({', '.join(claims)})"
             for verdict, claims in found["claims"].items() if claims]
    return f"Of its {found['rows']} rows, " + "; ".join(parts) + "."


def html(rows) -> str:
    """The rows as a table, each claim a link to its section."""
    from html import escape

    from rarescale.book.report import Markup, html_table

    return html_table(["claim", "the paper", "measured here", "verdict", "95% interval", "scale",
                       "test"],
                      [[Markup(f'<a href="{r.link}">{escape(r.claim)}</a>'), r.paper, r.measured,
                        r.verdict, r.interval or "–", r.scale, _test(r)] for r in rows])


def _test(row: Row) -> str:
    """The row's kind of test, and a replication's family and p-values."""
    if row.kind != "replication":
        return row.kind
    p = "" if row.p is None else f"; p = {row.p:.3g}, Holm p = {row.p_adjusted:.3g}"
    return f"replication: {row.family}{p}"


def write_json(rows, path):
    """Write the rows as JSON (atomically): ``{"rows": [{claim, paper, ...}, ...]}``."""
    text = json.dumps({"verdicts": list(VERDICTS),
                       "rows": [{**asdict(r), "link": r.link} for r in rows]}, indent=1)
    return write_atomically(path, lambda tmp: tmp.write_text(text))
