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
# # The task mixture and the utility ranking: larger models learn rarer, more complex tasks (C6–C8)
#
# ## Overview
#
# Chapter 1 argued from a loss law that some part of the data is only learned by a larger model.
# Section 3 of the paper {cite:p}`huang2026larger` makes "some part" concrete in a model small enough to solve exactly: a
# mixture of linear regression tasks that share one encoder. This chapter follows section 3.1:
#
# - **C6** the setup: tasks of different frequency and complexity, a shared width-$N$ encoder;
# - **C7** the reduction: with the best decoders, the loss depends on the encoder only through
#   one matrix $M$;
# - **C8** the ranking rule: a width-$N$ model keeps the $N$ features of largest *utility*
#   $\nu_{k,j} = \pi_k \lambda_{k,j}$, so rare tasks (small $\pi_k$) and complex tasks (slowly
#   decaying $\lambda_{k,j}$) are learned only by wider models.
#
# We then train students at fifteen widths and compare what they learn with what the rule
# predicts (paper Figure 2), vary complexity instead of frequency (Appendix D), and check that
# ten times the training budget does not change which tasks are learned (paper Figure 21).
#
# ## C6: the setup
#
# Task $k$ appears with frequency $\pi_k$. It has $m_k$ features, the orthonormal columns of
# $F_k \in \mathbb{R}^{d \times m_k}$ (blocks of different tasks are orthogonal), and a spectrum
# $\lambda_{k,1} \ge \lambda_{k,2} \ge \dots$; its covariance is $C_k = F_k \Lambda_k F_k^\top$.
# For an input $x \sim \mathcal{N}(0, I_d)$ the teacher answers $y = T_k x$ with
# $T_k = \Lambda_k^{1/2} F_k^\top$. The student has one encoder $U \in \mathbb{R}^{d \times N}$
# with orthonormal columns, shared by all tasks, and a decoder $D_k$ per task:
# $\hat y = D_k U^\top x$. Its loss is
#
# ```{math}
# :label: mixture_loss
# L = \sum_k \pi_k \, \mathbb{E}_x \lVert T_k x - D_k U^\top x \rVert^2 .
# ```
#
# Frequencies follow $\pi_k \propto k^{-a}$ and spectra $\lambda_{k,j} \propto j^{-b}$. The paper
# does not give its dimensions or training settings, so the values below are ours, chosen to
# make the regimes visible: $d$ exceeds $\sum_k m_k$, so the encoder must also learn to ignore
# directions that carry no signal. Training uses Adam on batches whose tasks are drawn from $\pi$;
# the encoder is kept on the Stiefel manifold by a QR retraction after each step.

# %% tags=["parameters", "hide-input"]
K = 8  # number of tasks
m = 6  # features per task
a = 2.2  # task frequencies: pi_k ∝ k^-a
b = 0.8  # spectra: lambda_kj ∝ j^-b, shared by all tasks
d = 64  # input dimension; d - K*m directions carry no signal
mixture_seed = 0  # seed of the feature directions
widths = [1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 28, 32, 40, 48]  # encoder widths N
seeds = [0, 1, 2]  # one data stream and initialisation per seed
steps = 4000  # Adam steps
batch = 256  # samples per batch
lr = 0.01  # Adam learning rate (cosine decay to 1% of it)
threshold = 0.1  # a task is "learned" when its normalised loss is below this
b_range = [0.4, 3.5]  # Appendix D: task complexities b_k spread over this range
budget_factor = 10  # budget check: this many times the steps
budget_widths = [2, 6, 12, 24, 40]  # budget check: these widths, first seed

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML

from rarescale.book import comparisons, experiments, ledger, plots
from rarescale.linear import theory
from rarescale.linear.mixture import TaskMixture
from rarescale.book.report import glue, glue_text, html_table
from rarescale.linear.student import StudentConfig

mixture = TaskMixture.power_law(K=K, m=m, a=a, b=b, d=d, seed=mixture_seed)
config = StudentConfig(widths=tuple(widths), seeds=tuple(seeds), steps=steps, batch=batch, lr=lr)

# %% tags=["remove-input"]
glue("n_features", sum(mixture.m), display=False)
glue("pi_first", mixture.pi[0], display=False)
glue("pi_last", mixture.pi[-1], display=False)

# %% [markdown]
# The mixture has {glue:text}`n_features` features in all. The most frequent task makes up
# {glue:text}`pi_first:.3f` of the samples, the rarest {glue:text}`pi_last:.4f`.
#
# ## C7: the loss depends on the encoder only through $M$
#
# For a fixed encoder the best decoder is $D_k = T_k U$, and then
# $\mathbb{E}\lVert T_k x - T_k U U^\top x \rVert^2 = \mathrm{tr}(C_k) - \mathrm{tr}(U^\top C_k U)$.
# Summing over tasks,
#
# ```{math}
# :label: reduction
# L(U) = \mathrm{tr}(M) - \mathrm{tr}(U^\top M U), \qquad M = \sum_k \pi_k C_k .
# ```
#
# We check this by sampling, for a random encoder of width 8:

# %%
mc_total, closed = ledger.reduction_check(mixture)  # a random width-8 encoder

# %% tags=["remove-input"]
glue("c7_mc", mc_total, display=False)
glue("c7_closed", closed, display=False)
glue("c7_rel_err_pct", 100 * abs(mc_total / closed - 1), display=False)

# %% [markdown]
# Over 200,000 samples the loss is {glue:text}`c7_mc:.4f`, against {glue:text}`c7_closed:.4f`
# from {eq}`reduction`: a relative difference of {glue:text}`c7_rel_err_pct:.2f`%.
#
# ## C8: features are learned in order of utility
#
# Minimising {eq}`reduction` over encoders of width $N$ gives the top-$N$ eigenspace of $M$: the
# best rank-$N$ approximation of {cite:t}`eckart1936approximation`, and the principal subspace
# that a linear autoencoder finds without spurious minima {cite:p}`baldi1989neural`.
# Because the feature blocks are orthogonal, the eigenvalues of $M$ are the **utilities**
# $\nu_{k,j} = \pi_k \lambda_{k,j}$. A width-$N$ model keeps the $N$ features of largest utility,
# whichever task they belong to, so task $k$ keeps $n_k(N)$ of its features, and it is fully
# learned from the width
#
# ```{math}
# :label: learn_width
# N_k = \left|\{(k', j) : \nu_{k', j} \ge \min_j \nu_{k, j}\}\right| .
# ```
#
# A rare task has small utilities throughout, so only a wide model reaches it. Next we train
# every width and seed of the sweep. The sweep is one vectorised training loop, cached as an
# artifact, so only the first build trains it:

# %%
run = experiments.width_sweep(mixture, config)
sweep = run.arrays
fid = experiments.fidelity(mixture, config, sweep, threshold)

# %% tags=["remove-input"]
glue("overlap_min", float(fid["overlap"].min()), display=False)
glue("agreement_pct", 100 * fid["agreement"], display=False)
glue("n_students", len(widths) * len(seeds), display=False)

# %% [markdown]
# ## Figure 2: what each width learns
#
# Each task's loss, normalised by $\mathrm{tr}(C_k)$, against width; dashed lines are the
# optimal width-$N$ model's loss predicted by the ranking rule.

# %%
fig, ax = plt.subplots(figsize=(7.2, 4.0))
plots.fig_task_loss_vs_width(ax, widths, fid["loss"], fid["predicted_loss"], mixture.pi)
glue("fig2a", fig, display=False)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} fig2a
# :name: fig-2a
#
# Per-task normalised loss against encoder width (paper Figure 2a), tasks coloured by
# frequency (log scale; yellow: frequent, purple: rare). Points: mean of the trained students over seeds (band: their range). Dashed: the
# ranking rule's prediction.
# ```
#
# Notice how the tasks are learned in order of frequency: the narrowest encoders spend all their
# width on the most frequent task, and each rarer task is learned only once the width has room
# for its features after those of every more useful one. This is the quantization model of
# scaling {cite:p}`michaud2023quantization` in its simplest form, with features as quanta ranked
# by use, and gradient descent from a small start reaches them one after another, as deep linear
# networks move from saddle to saddle {cite:p}`saxe2014exact,jacot2021saddle`. The measured losses lie on the
# predicted ones: the {glue:text}`n_students` students' encoders span the predicted top-$N$
# eigenspace with a subspace overlap of at least {glue:text}`overlap_min:.3f` at every width
# (mean squared cosine of the principal angles, averaged over seeds), and for
# {glue:text}`agreement_pct:.1f`% of (width, seed, task) triples "learned" (normalised loss
# below the threshold) agrees with the prediction.

# %%
predicted_n = [theory.learn_width(mixture, k) for k in range(K)]
measured_n = experiments.measured_learn_widths(widths, fid["learned"])

# %% tags=["remove-input"]
HTML(html_table(
    ["task k", "π_k", "N_k (ranking rule)", f"measured: learned from width (loss < {threshold})"],
    [(k + 1, f"{mixture.pi[k]:.4f}", predicted_n[k], "not learned" if measured_n[k] is None
      else measured_n[k]) for k in range(K)]))

# %% [markdown]
# The table compares the rule's width $N_k$ {eq}`learn_width`, from which task $k$ keeps all its
# features, with the smallest width in the sweep from which every seed's student has the task
# below the threshold. The two differ where a task's last features carry little of its signal:
# a student can be below the threshold a little before it keeps every feature.
#
# The total residual loss falls with width as the utilities left out:

# %%
fig, ax = plt.subplots(figsize=(5.6, 3.6))
total = experiments.total_loss(mixture, fid["loss"])  # (widths, seeds)
predicted_total = np.array([theory.predicted_total_loss(mixture, n) for n in widths])
plots.fig_total_loss_vs_width(ax, widths, total, predicted_total)
glue("fig2b", fig, display=False)
plt.close(fig)

# %% tags=["remove-input"]
glue("total_rel_err_max_pct", 100 * float(np.max(np.abs(total.mean(1)[:-1] / predicted_total[:-1] - 1))),
     display=False)

# %% [markdown]
# ```{glue:figure} fig2b
# :name: fig-2b
#
# Residual mixture loss against encoder width (paper Figure 2b), measured (points) and
# predicted (dashed). At the widest width every feature is kept and the loss is near zero.
# ```
#
# Below the full width the measured total is within {glue:text}`total_rel_err_max_pct:.1f`% of
# the prediction at every width.
#
# ## Appendix D: complexity instead of frequency
#
# The rule ranks features by utility, so complexity should act like rarity. Here every task is
# equally frequent and carries the same signal ($\mathrm{tr}\, C_k = 1$), but their spectra
# decay at different rates $b_k$: a complex task (small $b_k$) spreads its signal over more
# directions, each of lower utility.

# %%
mixture_d = TaskMixture.power_law(K=K, m=m, a=0.0, b=np.linspace(*b_range, K), d=d,
                                  seed=mixture_seed, unit_trace=True)
sweep_d = experiments.width_sweep(mixture_d, config).arrays
fid_d = experiments.fidelity(mixture_d, config, sweep_d, threshold)
b_values = np.linspace(*b_range, K)
fig, ax = plt.subplots(figsize=(7.2, 4.0))
plots.fig_task_loss_vs_width(ax, widths, fid_d["loss"], fid_d["predicted_loss"], b_values,
                             label_fmt="b = {:.2f}", legend_title="spectral decay $b_k$",
                             log_colours=False)
glue("figD", fig, display=False)
plt.close(fig)

# %% tags=["remove-input"]
glue("d_overlap_min", float(fid_d["overlap"].min()), display=False)
glue("d_agreement_pct", 100 * fid_d["agreement"], display=False)
d_measured = experiments.measured_learn_widths(widths, fid_d["learned"])
d_predicted = experiments.measured_learn_widths(widths, fid_d["predicted"][:, None, :])
d_order = comparisons.order_by(b_values, d_measured)
d_last = comparisons.last_learned(b_values, d_measured)
learned_from = "; ".join(f"b = {v:.2f}: {'not learned' if w is None else f'N = {w}'}"
                         for v, w in d_order["in_order"])
glue_text("d_order_sentence", (
    f"Complex tasks need more directions and are learned later: from the most complex to the "
    f"simplest, the students learn them from {learned_from}." if d_order["falling"] else
    f"Complexity does not order them, though: from the most complex to the simplest task, the "
    f"students learn them from {learned_from} (Kendall's τ between b and width "
    f"{d_order['tau']:+.2f}). The last one learned is b = {b_values[d_last['last']]:.2f}, "
    + ("the most complex." if d_last["smallest_value_is_last"] else "not the most complex.")
    + " Utility, not complexity, orders learning: with unit traces a flatter spectrum lowers the "
    "top utilities of a task and raises its tail, so a complex task's features interleave with "
    "the others' in the ranking."))
glue_text("d_rule_widths", ", ".join("not learned" if w is None else f"N = {w}" for w in
                                      [d_predicted[i] for i in np.argsort(b_values)]))

# %% [markdown]
# ```{glue:figure} figD
# :name: fig-appendix-d
#
# Equal frequencies, varied complexity (paper Appendix D): per-task normalised loss against
# width, tasks coloured by spectral decay $b_k$ (yellow: simple, purple: complex).
# ```
#
# {glue:md}`d_order_sentence` The rule predicts, in the same order, {glue:md}`d_rule_widths`,
# and the students follow it: subspace overlap at least {glue:text}`d_overlap_min:.3f` at every
# width and {glue:text}`d_agreement_pct:.1f`% agreement with the rule on which tasks are
# learned at each width.
#
# ## The training budget does not decide what is learned
#
# A rare task could be unlearned merely because training stopped too early. We retrain a few
# widths for ten times the steps:

# %%
checked_widths = experiments.widths_in_sweep(widths, budget_widths)
budget = experiments.budget_check(mixture, config, checked_widths, budget_factor).arrays
rows = [widths.index(w) for w in checked_widths]
short = fid["loss"][rows, 0]  # first seed, default budget: (widths, K)
long = budget["task_loss"][:, -1]
changed = experiments.learned_changes(short, long, threshold)

# %% tags=["remove-input"]
glue("budget_factor", budget_factor, display=False)
glue("budget_changed", int(changed.sum()), display=False)
glue("budget_pairs", int(changed.size), display=False)
glue("budget_max_diff", float(np.abs(short - long).max()), display=False)

# %% [markdown]
# With {glue:text}`budget_factor` times the steps, {glue:text}`budget_changed` of
# {glue:text}`budget_pairs` (width, task) pairs change between learned and not learned, and no
# task's normalised loss moves by more than {glue:text}`budget_max_diff:.3f`. What a width learns
# is set by the ranking, not by the budget.

# %% [markdown]
# ## In the claim ledger
#
# This chapter's rows of the front page's ledger, computed here at this chapter's parameters
# by the same function as the front page (`rarescale.book.ledger.chapter_rows`):

# %% tags=["remove-input"]
HTML(ledger.html(ledger.chapter_rows("02_utility_ranking", globals())))
