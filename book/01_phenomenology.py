# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version,-jupytext.text_representation.format_version
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The phenomenological model: when only model scaling helps (C1–C5)
#
# ## Overview
#
# Section 2 of the paper {cite:p}`huang2026larger` argues from nothing more than a power-law fit of loss that a larger
# model must learn some part of the data distribution that a smaller model never learns, even
# with unlimited data. This chapter follows that argument with two published fits:
#
# - **C1** the loss law $L(N, D)$;
# - **C2** the compute-optimal loss $L^*(N)$ of a model of size $N$, and the compute frontier;
# - **C3** the asymptotic loss $L(N, \infty)$;
# - **C4** Definition 1: when *data scaling suffices* for a smaller model to catch up;
# - **C5** Definition 2: the largest "small" model $N_s^*$, below which *learning requires
#   model scaling*.
#
# Then we refit the law to the real runs behind Chinchilla's fit, with intervals on every
# constant, and fit it to noisy synthetic runs, so a reader can bring their own.
#
# ## C1: the loss law
#
# {cite:t}`hoffmann2022training` model the loss of a model with $N$ parameters trained on $D$ tokens as
#
# ```{math}
# :label: loss_law
# L(N, D) = E + \frac{A}{N^{\alpha}} + \frac{B}{D^{\beta}},
# ```
#
# with $E$ the irreducible loss, the form of the earlier power laws in $N$ and $D$ of
# {cite:t}`kaplan2020scaling` with a floor. We ship two published fits of their approach 3: Chinchilla's
# own, and the replication of {cite:t}`besiroglu2024chinchilla`. The parameters of this chapter are the
# fit, the size $N_L$ of the "large" model, and the tolerances $\varepsilon$ of Definition 2:

# %% tags=["parameters", "hide-input"]
fit = "chinchilla"  # loss-law fit: "chinchilla" or "besiroglu"
n_large = 4e9  # the "large" model N_L (parameters); the paper's largest OLMo has 4B
eps = 0.0  # tolerance of Definition 2 for the figure (nats per token)
eps_values = [0.0, 0.01, 0.05]  # tolerances for the table (nats per token)
fit_points = 60  # synthetic runs for the fitting check
fit_noise = 0.005  # multiplicative noise on their loss (0.005 = 0.5%)
fit_seed = 0  # seed of the synthetic runs
runs_file = "book/data/chinchilla_svg_extracted_data.csv"  # Hoffmann et al.'s runs (book/data/README.md)
exclude_highest = 5  # runs of highest loss left out, as the replication does
n_boot = 1000  # bootstrap refits (resampling runs)
boot_seed = 0  # seed of the resampling

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML

from rarescale import scaling
from rarescale.book import ledger, plots
from rarescale.book.report import glue, html_table, sci

law = scaling.get_fit(fit)
law

# %% [markdown]
# ## C2: compute-optimal training
#
# With compute $C \approx 6ND$, minimising {eq}`loss_law` along $6ND = C$ balances the two
# reducible terms, $\alpha A / N^{\alpha} = \beta B / D^{\beta}$. So a model of size $N$ is
# compute-optimal after $D^*(N) = (\beta B N^{\alpha} / (\alpha A))^{1/\beta}$ tokens, where
#
# ```{math}
# :label: compute_optimal_loss
# L^*(N) = L(N, D^*(N)) = E + \left(1 + \frac{\alpha}{\beta}\right) \frac{A}{N^{\alpha}}.
# ```
#
# A larger model reaches a lower $L^*$. But compute-optimal training says how to spend a
# budget, not what a model can express: a smaller model trained on more data than $D^*$ keeps
# improving. For the large model of this chapter:

# %%
d_large = float(scaling.compute_optimal_tokens(n_large, law))

# %% tags=["remove-input"]
glue("c2_n_large", sci(n_large), display=False)
glue("c2_d_large", sci(d_large), display=False)
glue("c2_tokens_per_param", d_large / n_large, display=False)
glue("c2_loss_large", float(scaling.compute_optimal_loss(n_large, law)), display=False)

# %% [markdown]
# a model of {glue:text}`c2_n_large` parameters is compute-optimal after
# {glue:text}`c2_d_large` tokens ({glue:text}`c2_tokens_per_param:.1f` tokens per parameter),
# where it reaches $L^* =$ {glue:text}`c2_loss_large:.3f` nats per token.
#
# ## C3: the asymptotic loss
#
# With unlimited data the data term vanishes:
#
# ```{math}
# :label: asymptotic_loss
# L(N, \infty) = E + \frac{A}{N^{\alpha}},
# ```
#
# which still falls strictly with $N$. Under the power law, some part of the distribution is
# only ever learned by scaling the model. (Power laws need not hold asymptotically; the paper
# calls the argument phenomenological for that reason, and sections 3 and 4 test its
# consequences directly.)
#
# ## C4 and C5: when does data suffice?
#
# A smaller model $N_s < N_L$ can **recover the large model's loss through data**
# (Definition 1) if $L(N_s, \infty) \le L^*(N_L)$ although $L^*(N_s) > L^*(N_L)$: it is merely
# undertrained. Solving $L(N_s, \infty) = L^*(N_L) + \varepsilon$ gives the **largest small
# model** of Definition 2,
#
# ```{math}
# :label: largest_small_model
# N_s^*(\varepsilon) = \left(\frac{A}{L^*(N_L) + \varepsilon - E}\right)^{1/\alpha},
# \qquad N_s^*(0) = N_L \left(1 + \frac{\alpha}{\beta}\right)^{-1/\alpha}.
# ```
#
# Below $N_s^*$ no amount of data reaches the large model's compute-optimal loss: learning
# what it learns requires a larger model.

# %%
fig, ax = plt.subplots(figsize=(9.2, 4.2), layout="constrained")
plots.fig_scaling_regimes(ax, law, n_large, eps)
glue("fig_c5_regimes", fig, display=False)
plt.close(fig)
n_small = float(scaling.largest_small_model(n_large, eps, law))

# %% tags=["remove-input"]
glue("c5_n_small", sci(n_small), display=False)
glue("c5_ratio", n_small / n_large, display=False)
glue("c5_law_name", law.name, display=False)
glue("c5_multiples", ", ".join(f"{m:g}" for m in plots.REGIME_DATA_MULTIPLES[:-1])
     + f" and {plots.REGIME_DATA_MULTIPLES[-1]:g}", display=False)

# %% [markdown]
# ```{glue:figure} fig_c5_regimes
# :name: fig-c5-regimes
#
# The two scaling regimes (paper Figure 1) for the {glue:text}`c5_law_name` fit. Models between
# $N_s^*$ and $N_L$ reach the large model's compute-optimal loss (horizontal line) with
# enough data; models below $N_s^*$ never do: their asymptote (dashed) stays above it. Dotted:
# the loss at a fixed number of tokens, {glue:text}`c5_multiples` times the large model's compute-optimal
# $D^*(N_L)$ (labelled at left).
# ```
#
# For $N_L =$ {glue:text}`c2_n_large` the boundary lies at $N_s^* =$ {glue:text}`c5_n_small`
# parameters, {glue:text}`c5_ratio:.4f` of the large model (refitted to the runs behind the
# published fits, with a 95% interval: {glue:text}`refit_small_ratio`; see below). Notice that the ratio does not
# depend on $N_L$ at $\varepsilon = 0$: under the power law, every model has a fixed fraction
# below which data cannot substitute for parameters. A tolerance $\varepsilon > 0$ moves the
# boundary down, and since $L^*(N_L)$ approaches $E$ as $N_L$ grows, the same $\varepsilon$
# matters more for larger $N_L$. Both fits, at this $N_L$:

# %%
rows = scaling.small_model_table([scaling.CHINCHILLA, scaling.BESIROGLU], n_large, eps_values)
HTML(html_table(["fit", "ε (nats/token)", "N_s*", "N_s* / N_L"],
                [(r["fit"], f"{r['eps']:g}", sci(r["n_small"], 3), f"{r['ratio']:.4f}")
                 for r in rows], caption=f"Largest small model for N_L = {sci(n_large)}"))

# %% tags=["remove-input"]
ratios = {r["fit"]: r["ratio"] for r in rows if r["eps"] == 0}
glue("c5_ratio_chinchilla", ratios["Chinchilla"], display=False)
glue("c5_ratio_besiroglu", ratios["Besiroglu"], display=False)
for law_ in (scaling.CHINCHILLA, scaling.BESIROGLU):
    glue(f"alpha_over_beta_{law_.name.lower()}", law_.alpha / law_.beta, display=False)

# %% [markdown]
# With Chinchilla's exponents, a model below {glue:text}`c5_ratio_chinchilla:.3f` of the large
# one's size never matches it; with Besiroglu et al.'s, below
# {glue:text}`c5_ratio_besiroglu:.3f`. The ratio is $(1 + \alpha/\beta)^{-1/\alpha}$, and
# Besiroglu et al.'s $\alpha/\beta$ is smaller ({glue:text}`alpha_over_beta_besiroglu:.2f`
# against {glue:text}`alpha_over_beta_chinchilla:.2f`): at the compute optimum a smaller share
# of the reducible loss is owed to missing data, so more data has less to give and the
# boundary sits closer to $N_L$. Either way the gap is a fixed factor in size, about one
# order of magnitude. Neither published fit comes with an interval; refitted to the runs
# behind them (next section), the ratio is {glue:text}`refit_small_ratio`, a 95% interval from
# resampling the runs.
#
# ## C1–C5 on real data: Chinchilla's runs refitted
#
# The two fits above are quoted without uncertainty. The runs behind them are public: the 245
# (size, compute, loss) points of Hoffmann et al.'s Figure 4, as {cite:t}`besiroglu2024chinchilla`
# extracted them from the figure ({glue:text}`n_runs_all` runs; provenance in
# `book/data/README.md`). We refit the law to them with the same procedure (Huber loss,
# $\delta = 10^{-3}$, on log-loss residuals; L-BFGS from the best of the initialisation grid),
# leaving out the {glue:text}`exclude_highest` runs of highest loss as the replication does, and
# resample the runs {glue:text}`n_boot` times to put a 95% interval on every constant and on
# what chapter 1 reads off them.

# %%
from rarescale.store.artifacts import REPO_ROOT

runs_path = REPO_ROOT / runs_file
N_r, D_r, L_r = scaling.chinchilla_runs(runs_path, exclude_highest)
N_a, D_a, L_a = scaling.chinchilla_runs(runs_path, 0)  # every run, the left-out ones too
refit = scaling.refit_with_intervals(runs_path, exclude_highest, n_boot, boot_seed)
full = scaling.LossLaw(**{k: refit.result["full"][k] for k in ("E", "A", "B", "alpha", "beta")},
                       name="refit")
fig, ax = plt.subplots(figsize=(6.8, 4.2), constrained_layout=True)
plots.fig_chinchilla_refit(ax, N_r, D_r, L_r, full, refit.arrays, all_runs=(N_a, D_a, L_a))
glue("fig_c1_refit", fig, display=False)
plt.close(fig)

# %% tags=["remove-input"]
with_all = scaling.fit_loss_law(N_a, D_a, L_a, name="refit, all runs")
glue("n_runs_all", len(N_a), display=False)
glue("n_runs", len(N_r), display=False)
glue("exclude_highest", exclude_highest, display=False)
glue("n_boot", n_boot, display=False)
keys = ("E", "A", "B", "alpha", "beta", "alpha_over_beta", "small_ratio", "tokens_per_param")
formats = {"A": "{:.0f}", "B": "{:.0f}", "tokens_per_param": "{:.1f}"}
cells = {}
for k in keys:
    fmt = formats.get(k, "{:.4f}" if k != "small_ratio" else "{:.3f}")
    low, high = scaling.interval(refit.arrays[k])
    cells[k] = f"{fmt.format(refit.result['full'][k])} [{fmt.format(low)}, {fmt.format(high)}]"
    glue(f"refit_{k}", cells[k], display=False)
laws = {"refit, all runs": with_all, "Chinchilla (published)": scaling.CHINCHILLA,
        "Besiroglu et al. (published)": scaling.BESIROGLU}
rows = [["refit (95% interval)"] + [cells[k] for k in keys]]
for name, law_ in laws.items():
    d = scaling.derived(law_)
    values = {**{k: getattr(law_, k) for k in keys[:5]}, **d}
    rows.append([name] + [formats.get(k, "{:.4f}" if k != "small_ratio" else "{:.3f}").format(values[k])
                          for k in keys])
glue("beta_all", with_all.beta, display=False)
left_out = np.setdiff1d(np.arange(len(L_a)), np.argsort(L_a)[: len(L_a) - exclude_highest])
above = L_a[left_out] / scaling.loss(N_a[left_out], D_a[left_out], full) - 1
glue("left_out_sizes", ", ".join(sci(n, 2) for n in np.sort(N_a[left_out])), display=False)
glue("left_out_above", f"{100 * above.min():.0f}% to {100 * above.max():.0f}%", display=False)
outside = scaling.outside_intervals(scaling.CHINCHILLA, refit.arrays)
glue("chinchilla_outside", ", ".join({"alpha": "α", "beta": "β"}.get(k, k) for k in outside)
     or "none", display=False)
glue("B_all", with_all.B, display=False)
HTML(html_table(["fit", "E", "A", "B", "α", "β", "α/β", "N_s*/N_L (ε = 0)",
                 "tokens per parameter at 5.76e23 FLOP"], rows,
                caption=f"The loss law refitted to the runs ({len(N_r)} kept), against the refit "
                        f"to all {len(N_a)} and the two published fits"))

# %% [markdown]
# ```{glue:figure} fig_c1_refit
# :name: fig-c1-refit
#
# Hoffmann et al.'s runs (the book's own figure; loss against training compute, coloured by model size) and the
# refitted compute-optimal loss $L^*(C)$, with its 95% band over {glue:text}`n_boot` bootstrap
# refits {cite:p}`efron1979bootstrap`; crosses: the {glue:text}`exclude_highest` runs of highest
# loss, left out of the fit.
# ```
#
# Refitted to the {glue:text}`n_runs` runs: $\alpha$ = {glue:text}`refit_alpha`, $\beta$ =
# {glue:text}`refit_beta`, $E$ = {glue:text}`refit_E` (95% intervals in brackets). C5's ratio,
# the largest small model as a share of the large one, is {glue:text}`refit_small_ratio`, and a
# compute-optimal model at Chinchilla's compute trains on {glue:text}`refit_tokens_per_param`
# tokens per parameter. The exclusion matters: with all {glue:text}`n_runs_all` runs, $\beta$
# rises to {glue:text}`beta_all:.3f` and $B$ to {glue:text}`B_all:.0f`: the left-out runs (of
# {glue:text}`left_out_sizes` parameters) lie {glue:text}`left_out_above` above the refitted law.
# Chinchilla's published constants outside the refit's 95% intervals: {glue:text}`chinchilla_outside`;
# with its $\alpha/\beta$ the compute optimum at its own compute comes at a number of tokens
# per parameter that the table compares with the refit's. (Each bootstrap refit starts from
# the fit to all the runs; `benchmarks/bench_loss_fit.py` compares this with a full search per
# refit, and the reproducibility page gives the wall time.)
#
# ## Fitting your own runs
#
# `scaling.fit_loss_law(N, D, L)` recovers the five constants from $(N, D, \text{loss})$
# points by minimising the Huber loss ($\delta = 10^{-3}$) of log-loss residuals with L-BFGS
# from the best of Hoffmann et al.'s grid of initialisations. We check it on synthetic runs
# drawn from the chosen fit, with $N$ log-uniform in $[10^7, 10^{10}]$, 2 to 200 tokens per
# parameter, and multiplicative noise on the loss:

# %%
N, D, L = scaling.synthetic_runs(law, fit_points, fit_noise, fit_seed)
fitted = scaling.fit_loss_law(N, D, L)
names = ["E", "A", "B", "alpha", "beta"]
errors = {k: getattr(fitted, k) / getattr(law, k) - 1 for k in names}
HTML(html_table(["constant", "true", "fitted", "relative error"],
                [(k, f"{getattr(law, k):.4g}", f"{getattr(fitted, k):.4g}", f"{errors[k]:+.2%}")
                 for k in names]))

# %% tags=["remove-input"]
glue("fit_points", fit_points, display=False)
glue("fit_noise_pct", 100 * fit_noise, display=False)
glue("fit_err_alpha_pct", 100 * abs(errors["alpha"]), display=False)
glue("fit_err_beta_pct", 100 * abs(errors["beta"]), display=False)
glue("fit_err_A_pct", 100 * abs(errors["A"]), display=False)
glue("fit_err_B_pct", 100 * abs(errors["B"]), display=False)

# %% [markdown]
# From {glue:text}`fit_points` runs with {glue:text}`fit_noise_pct:.1f`% noise, the exponents
# come back within {glue:text}`fit_err_alpha_pct:.1f`% ($\alpha$) and
# {glue:text}`fit_err_beta_pct:.1f`% ($\beta$), while $A$ and $B$ are off by
# {glue:text}`fit_err_A_pct:.1f`% and {glue:text}`fit_err_B_pct:.1f`%. The scales are less certain
# than the exponents: they trade off against $\alpha$ and $\beta$ along a ridge of near-equal fit, which
# is why published fits disagree most on them. The errors grow in proportion to the noise;
# re-execute with `-p fit_noise 0.02` to see it.

# %% [markdown]
# ## In the claim ledger
#
# This chapter's rows of the front page's ledger, computed here at this chapter's parameters
# by the same function as the front page (`rarescale.book.ledger.chapter_rows`):

# %% tags=["remove-input"]
HTML(ledger.html(ledger.chapter_rows("01_phenomenology", globals())))
