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
# # Sizing a model and re-weighting its data (beyond the paper)
#
# ## Overview
#
# The paper {cite:p}`huang2026larger` ends by saying its account "can inform practical questions concerning model
# sizing and training data mixtures", and leaves open whether re-sampling the data can rescue
# a small model. This chapter turns chapters 2 and 3 into a tool and tests that question:
#
# 1. a **sizing advisor** (`python -m rarescale.advisor MIXTURE.yaml`) that reads a mixture,
#    tasks with frequencies and spectra, and says what each width learns (C8), each task's
#    learn width, the critical width of the frequent tasks (C11), and how much a rare task must
#    be up-weighted for a given width to learn it, and at what cost to the others;
# 2. its predictions checked against the students trained in chapter 2;
# 3. the **re-sampling experiment**: at a fixed small width, up-weight a rare task to the
#    advisor's threshold and beyond, train, and compare with simply widening the model.
#
# Everything here is computed on chapter 2's mixture; its parameters are repeated so the
# chapter can be re-executed on its own. The first cell builds the mixture and asks the
# advisor about it: the mixture and the students come from `rarescale.linear` (section 3's
# model), the tables and figures from `rarescale.book`; the science never imports the
# book's machinery, so redrawing a figure retrains nothing.

# %% tags=["parameters", "hide-input"]
K = 8  # number of tasks
m = 6  # features per task
a = 2.2  # task frequencies: pi_k ∝ k^-a
b = 0.8  # spectra: lambda_kj ∝ j^-b
d = 64  # input dimension
mixture_seed = 0  # seed of the feature directions
widths = [1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 28, 32, 40, 48]  # chapter 2's sweep
seeds = [0, 1, 2]  # data streams and initialisations
steps = 4000  # Adam steps
batch = 256  # samples per batch
lr = 0.01  # Adam learning rate
threshold = 0.1  # a task is "learned" when its normalised loss is below this
small_width = 12  # the small model of the re-sampling experiment
rare_task = 4  # the task to up-weight (1 = most frequent)
resample_frequencies = [0.0332, 0.06, 0.1, 0.15, 0.2, 0.23, 0.26, 0.3, 0.4, 0.6]  # its new frequency
resample_seeds = [0, 1]  # seeds of the re-sampling experiment

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML

from rarescale import advisor
from rarescale.book import experiments, plots
from rarescale.linear import theory
from rarescale.linear.mixture import TaskMixture
from rarescale.book.report import glue, html_table
from rarescale.linear.student import StudentConfig

mixture = TaskMixture.power_law(K=K, m=m, a=a, b=b, d=d, seed=mixture_seed)
config = StudentConfig(widths=tuple(widths), seeds=tuple(seeds), steps=steps, batch=batch, lr=lr)
names = tuple(f"task {k + 1}" for k in range(K))
rare = rare_task - 1
small = experiments.require_width(widths, small_width, "small_width")  # checked before training
spec = advisor.MixtureSpec(names, mixture, learned_threshold=threshold, width=small_width,
                           rare_task=names[rare])
advice = advisor.advise(spec)

# %% [markdown]
# ## The advisor on chapter 2's mixture
#
# A task is learned once its predicted loss, normalised by $\mathrm{tr}(C_k)$, falls below the
# threshold; that needs its top $n$ features, and a width keeps those from
# $|\{(k', j) : \nu_{k',j} \ge \nu_{k,n}\}|$ on. The same mixture as a file for the command line:
#
# ```yaml
# d: 64
# learned_threshold: 0.1
# width: 12
# rare_task: task 4
# tasks:
#   - {name: task 1, frequency: 0.7009, features: 6, decay: 0.8}
#   - ...
# ```

# %% tags=["remove-input"]
HTML(html_table(
    ["task", "frequency", f"width to learn (loss ≤ {threshold})", "width to keep all features",
     f"features kept at N = {small_width}", f"predicted loss at N = {small_width}"],
    [(names[k], f"{advice.frequencies[k]:.4f}", advice.learned_width[k], advice.learn_width[k],
      advice.kept_at_width[k], f"{advice.loss_at_width[k]:.3f}") for k in range(K)]))

# %% [markdown]
# ## Are the advisor's widths right?
#
# Chapter 2 trained this mixture at fifteen widths. For each task we compare the advisor's
# width with the smallest width of that sweep from which every seed's student has learned the
# task. The sweep's widths are spaced, so "agree" means the measured width is the first sweep
# width at or above the prediction, or the one next to it.

# %%
sweep = experiments.width_sweep(mixture, config).arrays
fid = experiments.fidelity(mixture, config, sweep, threshold)
measured = experiments.measured_learn_widths(widths, fid["learned"])
steps_off = experiments.sweep_steps_apart(widths, advice.learned_width, measured)

# %% tags=["remove-input"]
within_one = [s is not None and s <= 1 for s in steps_off]
glue("advisor_within_one_pct", 100 * float(np.mean(within_one)), display=False)
glue("advisor_exact_pct", 100 * float(np.mean([s == 0 for s in steps_off])), display=False)
HTML(html_table(["task", "advisor", "measured (sweep)", "sweep steps apart"],
                [(names[k], advice.learned_width[k], measured[k], steps_off[k]) for k in range(K)]))

# %% [markdown]
# For {glue:text}`advisor_within_one_pct:.0f`% of the tasks the measured width is within one
# sweep step of the advisor's ({glue:text}`advisor_exact_pct:.0f`% on the same step). The last
# column counts sweep widths: 0 means the measured width is the first width of the sweep at or
# above the advisor's, 1 its neighbour. The advisor reads only frequencies and spectra, the
# sweep trains; a task far from agreement would be a task this picture of orthogonal features
# does not describe.
#
# ## Can re-sampling rescue a small model?
#
# Now fix a small width and a rare task it does not learn. Raising the task's frequency
# raises its utilities (and lowers everyone else's), so at some frequency its features enter
# the top $N$. The advisor gives that threshold:

# %%
x_star = advisor.upweight_threshold(mixture, rare, small_width, threshold)

# %% tags=["remove-input"]
glue("small_width", small_width, display=False)
glue("rare_name", names[rare], display=False)
glue("rare_pi", mixture.pi[rare], display=False)
glue("x_star", x_star, display=False)
glue("x_star_factor", x_star / mixture.pi[rare], display=False)
glue("rare_learned_width", advice.learned_width[rare], display=False)

# %% [markdown]
# At width {glue:text}`small_width`, {glue:text}`rare_name` (frequency
# {glue:text}`rare_pi:.4f`) is learned once its frequency exceeds {glue:text}`x_star:.3f`,
# {glue:text}`x_star_factor:.1f` times its share. Keeping its frequency instead, a model needs
# width {glue:text}`rare_learned_width`. We train the small width with the task re-weighted
# to frequencies below and above the threshold, the other tasks rescaled in proportion:

# %%
run = experiments.resampling_sweep(mixture, config.replace(seeds=tuple(resample_seeds)), rare,
                                   small_width, resample_frequencies).arrays

# %% tags=["remove-input"]
loss = run["task_loss"][:, -1].reshape(len(resample_frequencies), len(resample_seeds), K)
rare_loss = loss[:, :, rare]
others = experiments.others_loss(mixture, loss, rare)
pred = np.array([theory.predicted_task_loss(advisor.reweighted(mixture, rare, x), small_width)
                 for x in resample_frequencies])
verdict = experiments.resampling_verdict(resample_frequencies, rare_loss, threshold, x_star)
# the alternative: the original frequency, widened until the task is learned (chapter 2's sweep)
w_widen = measured[rare]
widen_loss = experiments.others_loss(mixture, fid["loss"][widths.index(w_widen)], rare).mean()
small_loss = experiments.others_loss(mixture, fid["loss"][small], rare).mean()
at_threshold = verdict["measured"] or resample_frequencies[-1]

# %% tags=["remove-input"]
fig, axes = plt.subplots(2, 1, figsize=(7.2, 6.4), sharex=True)
plots.fig_resampling(axes, resample_frequencies, rare_loss, others, pred[:, rare],
                     experiments.others_loss(mixture, pred, rare), x_star, mixture.pi[rare],
                     widen=(f"widened to N = {w_widen}, original frequency", widen_loss),
                     learned_threshold=threshold)
fig.tight_layout()
glue("fig_resampling", fig, display=False)
plt.close(fig)

# %% tags=["remove-input"]
glue("resampling_verdict", verdict["sentence"], display=False)
glue("widen_width", w_widen, display=False)
glue("widen_others", float(widen_loss), display=False)
glue("small_others", float(small_loss), display=False)
glue("resampled_others", float(others[resample_frequencies.index(at_threshold)].mean()),
     display=False)

# %% [markdown]
# ```{glue:figure} fig_resampling
# :name: fig-resampling
#
# Up-weighting a rare task at a fixed width (the book's own experiment). Top: the rare task's normalised loss against
# its frequency (points: trained students; line: prediction; dashed: the advisor's threshold;
# dotted: its original frequency). Bottom: what the other tasks pay, under their original
# weights, against the loss of a model widened until it learns the task at its original
# frequency (green).
# ```
#
# The trained students {glue:text}`resampling_verdict`. Re-sampling does rescue the small model, but not for free: at
# width {glue:text}`small_width` the other tasks' loss rises from
# {glue:text}`small_others:.3f` to {glue:text}`resampled_others:.3f`, because the rare task's
# features take columns from theirs. Widening to {glue:text}`widen_width` instead learns the
# task at its original frequency and *lowers* the others' loss, to
# {glue:text}`widen_others:.3f`.
#
# ## What this means for sizing
#
# In this model a width is a budget of directions, spent in order of utility. Re-weighting
# the data moves a task up the ranking at the expense of whatever it displaces; widening adds
# directions without displacing anything. So re-sampling is the right tool when the displaced
# features are worth less to you than the rare task, and widening when they are not. The
# advisor computes both sides of that trade from a mixture's frequencies and spectra; what it
# cannot know is how well a real model's tasks fit this picture of orthogonal features with
# power-law spectra.
