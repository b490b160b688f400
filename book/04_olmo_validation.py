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
# # OLMo validation: rare tasks in pretraining (C15–C20)
#
# ## Overview
#
# Chapters 2 and 3 explained, in a linear model, why a larger model learns more of its rarest
# tasks: it has room for them once the frequent tasks are served, so their features are not
# overwritten between sightings. Section 4 of the paper {cite:p}`huang2026larger` tests this in language-model
# pretraining. It injects two small synthetic tasks into the training stream of OLMo models at
# controlled frequencies, from 7.8e-3 down to 2.4e-8 instances per training token, at sizes
# from 4M to 4B parameters on Dolma {cite:p}`soldaini2024dolma`, and asks:
#
# - **C18** which sizes learn a task at which frequency (accuracy on held-out instances),
#   and whether the learning threshold falls with size;
# - **C19** whether larger models represent the task's operands and answer more linearly;
# - **C20** whether larger models suffer less gradient interference between the background
#   data and the task, and forget it more slowly.
#
# The models are OLMo 2's architecture {cite:p}`olmo2024olmo2`, at sizes named after DataDecide's
# ladder {cite:p}`magnusson2025datadecide` and smaller ones of our own.
# This chapter reads the artifacts of runs made on this book's 2-core CPU, with the same code
# that runs the paper-like grid on GPUs (last section). Its verdicts come from the *main
# sweep*: one task at one frequency per run, on natural text, at frequencies a pilot chose by
# a rule written before the main runs, five seeds per cell. A first, packed ladder on a
# synthetic corpus could not decide the claims; the chapter's last sections keep it for what it
# taught about the design. The scale is far below the paper's, and we say at every figure what
# it is.

# %% tags=["parameters", "hide-input"]
sweep_file = "runners/configs/cpu_main.yaml"  # the sweep C18–C20 read: any whose artifacts exist (and its analysis:)
ladder_file = "runners/configs/cpu_ladder.yaml"  # the packed ladder on the synthetic web (last sections)
forgetting_frequency = 3.0e-3  # the frequency whose forgetting curve figure (f) shows
capacity_file = "runners/configs/cpu_capacity.yaml"  # unpacked, long runs of a small and a large size
packing_file = "runners/configs/cpu_packing.yaml"  # one ladder copy run alone (packed vs unpacked)
pilot_file = "runners/configs/cpu_pilot.yaml"  # one task per run on natural text: the main sweep's design
pilot_add_file = "runners/configs/cpu_pilot_add.yaml"  # the pilot's second stage: an addition it can learn
main_file = "runners/configs/cpu_main.yaml"  # the main sweep the pilot designed
capacity_design_file = "runners/configs/cpu_capacity_design.yaml"  # the capacity cell's second stage
capacity_test_file = "runners/configs/cpu_capacity_8x.yaml"  # the capacity test's runs: the small size at 8x

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML

from rarescale.book import chapter4, ledger
from rarescale.book.report import glue, glue_text, html_table, sci
from rarescale.pretrain import natural, throughput
from rarescale.pretrain.data import run_tasks
from rarescale.pretrain.model import model_size
from rarescale.pretrain.sharding import PRECISION
from rarescale.pretrain.tasks import draw_tasks, identified_share
from rarescale.store.artifacts import REPO_ROOT
from rarescale.sweeps import capacity, design, trends
from rarescale.sweeps.grid import Sweep, corpus_counts, find_run, load_runs
from rarescale.verdicts import ALPHA, CAPACITY_MARGIN

sweep, res = trends.load_ladder(REPO_ROOT / sweep_file)
analysis = sweep.analysis  # the learned margin, the probe frequency and layer: fixed in the YAML
margin, probe_frequency = analysis.margin, analysis.probe_frequency
cell = sweep.cells()[0]

# %% tags=["remove-input"]
corpus = ("the generated synthetic web" if not cell.corpus else
          "natural text (" + ", ".join(f"`{Path(c).name}`" for c in cell.corpus) + ")")
glue("n_sizes", len(res.sizes))
glue("n_seeds", len(res.seeds))
glue("n_freqs", len(res.frequencies))
glue("n_runs", len(sweep.cells()))
glue("param_span", float(res.params.max() / res.params.min()))
glue("seq_len", cell.seq_len)
glue("batch", cell.global_batch)
glue_text("scale", f"{len(res.sizes)} sizes from {res.sizes[0]} to {res.sizes[-1]} "
                   f"({res.params.min():,} to {res.params.max():,} non-embedding parameters), "
                   f"{len(res.seeds)} seeds, "
                   + (f"{res.tokens[0] / 1e6:.1f}M tokens" if np.ptp(res.tokens) == 0 else
                      f"{res.tokens.min() / 1e6:.3g}M to {res.tokens.max() / 1e6:.3g}M tokens")
                   + f" of {corpus} per run")
glue_text("freq_range", f"{sci(res.frequencies.max(), 2)} to {sci(res.frequencies.min(), 2)}")
dd4m = model_size("4M")
glue("dd4m_d", dd4m.d_model)
glue("dd4m_layers", dd4m.n_layers)
glue("dd4m_params", dd4m.non_embedding_params())
above = [size for size, p in zip(res.sizes, res.params) if p < dd4m.non_embedding_params()]
glue_text("dd4m_place", "above all our sizes" if len(above) == len(res.sizes) else
          "below all our sizes" if not above else
          f"between our {above[-1]} and {res.sizes[len(above)]}")
glue_text("tasks", " and ".join(res.titles))
glue_text("task_freqs", "; ".join(f"{res.titles[t]} at {', '.join(sci(f, 1) for f in res.frequencies[res.ran[t]])}"
                                  for t in range(len(res.tasks))))
rows = []
for s, size in enumerate(res.sizes):
    m = model_size(size)
    rows.append([size, m.d_model, m.n_layers, m.n_heads, f"{m.non_embedding_params():,}",
                 f"{m.total_params(cell.vocab_size):,}", f"{np.mean(res.val_loss[s]):.3f}"])
HTML(html_table(["size", "d_model", "layers", "heads", "non-embedding params", "total params",
                 "final validation loss"], rows,
                caption=f"The main sweep's sizes: OLMo-2 models (transformers' Olmo2ForCausalLM), fp32, "
                        f"vocabulary {cell.vocab_size}, means over {len(res.seeds)} seeds (run "
                        "times: the reproducibility page)"))

# %% [markdown]
# ## The setup (C15–C17)
#
# **Scale.** {glue:md}`scale`, in sequences of {glue:text}`seq_len` tokens and batches of
# {glue:text}`batch` sequences for every size, with AdamW {cite:p}`loshchilov2019decoupled`
# (β = (0.9, 0.95), weight decay on matrices only, as OLMo 2): {glue:text}`n_runs` runs in all
# (their run times are on the reproducibility page). The sizes span a factor of
# {glue:text}`param_span:.0f` in non-embedding parameters. The paper's smallest model,
# DataDecide's 4M shape (d_model {glue:text}`dd4m_d`, {glue:text}`dd4m_layers` layers), has
# {glue:text}`dd4m_params:,.0f` non-embedding parameters, {glue:md}`dd4m_place`; its other
# sizes are all larger than our largest.
#
# **Corpus.** The paper's claims are about a task's interference with *natural* pretraining
# data, so the runs train on natural English that every machine of the project can install:
# the documentation Debian ships for Python, for the kernel and as the Debian handbook
# (`make corpus`; provenance and licences in `book/data/README.md`); the table's last column
# shows the validation loss a size reaches on it. (The packed ladder of the last sections
# trained on the *synthetic web*, a stand-in this machine generates: documents of a
# Zipf-distributed topic, each topic a sparse Markov chain over a Zipfian vocabulary.) Code blocks are dropped,
# translations excluded, documents deduplicated and split by heading, and
# {glue:text}`nat_valid_pct:.0f`% of them held out for validation; a byte-level BPE trained on
# it gives the same vocabulary size as the synthetic web's.

# %%
nat = natural.load_statistics(vocab_size=cell.vocab_size)  # what `make corpus` measured
reference = {t: (name, nat["reference"][name]["per_token"]) for t, name in (("cmp", "Rcmp"), ("add", "Radd"))}

# %% tags=["remove-input"]
web = nat["synthetic"]
glue("nat_valid_pct", 100 * nat["validation_documents"] / nat["documents"])
glue("nat_tokens_m", nat["tokens"] / 1e6)
glue("nat_zipf", nat["zipf_exponent"])
glue("web_zipf", web["zipf_exponent"])
for name in ("Rcmp", "Radd"):
    glue(f"{name}_per_token", nat["reference"][name]["per_token"])
    glue(f"{name}_count", nat["reference"][name]["total"])
rows = [[f"{src} ({info['package']} {info['version']})", f"{info['documents']:,}",
         f"{info['characters']:,}", f"{info['tokens']:,}", "", info["licence"]]
        for src, info in nat["sources"].items()]
rows.append(["natural text, all", f"{nat['documents']:,}", f"{nat['characters']:,}",
             f"{nat['tokens']:,}", f"{nat['zipf_exponent']:.2f}", ""])
rows.append([f"synthetic web, a {web['tokens'] / 1e6:.0f}M-token sample", f"{web['documents']:,}",
             "", f"{web['tokens']:,}", f"{web['zipf_exponent']:.2f}", "generated"])
HTML(html_table(["corpus", "documents", "characters", f"tokens (vocabulary {nat['vocab_size']})",
                 "Zipf exponent", "licence"], rows,
                caption="The two corpora. The Zipf exponent s fits token frequency ∝ rank^(−s) "
                        "over ranks 10 to 1000 (least squares in log–log)"))

# %% [markdown]
# The natural corpus holds {glue:text}`nat_tokens_m:.1f`M tokens, more than two 3M-token runs
# see, and its token frequencies fall off more gently (Zipf exponent {glue:text}`nat_zipf:.2f`)
# than the synthetic web's ({glue:text}`web_zipf:.2f`). It also holds the paper's *reference
# tasks*: comparisons and additions that occur in the pretraining text itself, Rcmp and Radd.
# What we count (`rarescale.pretrain.natural.REFERENCE_PATTERNS`, each pattern tested): an operator
# between two operands (a number or a short identifier) with a space on each side, `a < b`,
# `N + 2`, so that markup and names such as `C++` do not count, and the English phrasings
# ("greater than", "less than", "plus", "the sum of"). The corpus has {glue:text}`Rcmp_count`
# comparisons, {glue:text}`Rcmp_per_token:.1e` per token, and {glue:text}`Radd_count` additions,
# {glue:text}`Radd_per_token:.1e` per token. Figure (a) draws them on its frequency axis: the
# injected frequencies span the natural ones, as in the paper, though a natural comparison is
# not our task (its operands are not our 20 values).
#
# **Tasks (C15).** {glue:md}`tasks`. The paper uses 100 values for both, and addition mod 100;
# we use small versions, 20 values, so that the sizes of a CPU run can learn them at their
# highest frequencies, with the addition's modulus the pilot below chose (the first it tried,
# {glue:md}`add_first`, nothing could learn). As in the paper, each run carries one task at one frequency:
# {glue:md}`task_freqs` instances per training token. An instance replaces the first four tokens
# of a sequence with its two operands, its label and an end-of-document token (C16); held-out
# test instances are never injected.

# %% tags=["remove-input"]
deviation = np.nanmax(np.abs(res.injected - res.requested))  # nan: a task not run at that frequency
glue("inj_total", int(np.nansum(res.injected)))
glue("inj_deviation", int(deviation))
glue_text("inj_deviation_sentence", "Every run's realised count equals its requested frequency "
          "times the tokens trained, rounded to whole instances." if deviation == 0 else
          f"Every run's realised count differs from its requested frequency times the tokens "
          f"trained by at most {int(deviation)}.")
glue("inj_rarest", int(np.nanmin(res.injected)))
glue("inj_top", int(np.nanmax(res.injected)))
glue("pool", int(min(t.n_instances // 2 for t in res.tasks)))
glue("eval_instances", int(cell.eval_instances))
glue("distinct_rarest", int(np.nanmin(res.distinct)))

# %% [markdown]
# Over all runs the schedule injected {glue:text}`inj_total` instances, from
# {glue:text}`inj_top` of a task at the highest frequency to {glue:text}`inj_rarest` at
# the lowest. {glue:md}`inj_deviation_sentence`


# %% [markdown]
# ## A design that can decide: the pilot (C18)
#
# The packed ladder of the last sections could not settle C18 for reasons of design rather
# than of size: it packs copies of one rule into each run, which moves a copy's accuracy, its
# addition is parity, and it trains on a synthetic corpus. The decisive runs follow the paper
# instead: one task at one frequency per run, on the natural corpus, with an addition of more
# than two answers. Before them, a pilot at two sizes far apart, {glue:md}`pilot_sizes`,
# {glue:text}`pilot_ratio:.0f`× apart in non-embedding parameters, one seed and
# {glue:text}`pilot_tokens_m:.0f`M tokens each, asks where the sizes differ. A rule written in
# code before any pilot run was read (`rarescale.sweeps.design`, committed with
# `runners/configs/cpu_pilot.yaml`) turns its results into the main sweep's frequencies: per
# task, those at which the larger size learns and the smaller does not, widened to three with
# their nearest neighbours; an addition no size learns is replaced by an easier one.
#
# A task is now the one its spec defines, at every frequency and in every sweep (its values,
# labels, instances and split come from the spec alone), so a main-sweep run at a pilot's size,
# seed and frequency *is* the pilot's run. TADD's train/test split puts every operand with
# every answer equally often on both sides, so the best rule that reads one operand scores
# chance on the test instances: {glue:md}`pilot_shortcut`. The complexity contrast is the
# paper's: TCMP has {glue:text}`pilot_cmp_labels` answers and depends on the operands' order
# only; TADD needs both operands' values.

# %%
pilot_sweep, pilot = trends.load_ladder(REPO_ROOT / pilot_file)
pilot_add_sweep, pilot_add = trends.load_ladder(REPO_ROOT / pilot_add_file)
pilots = [pilot, pilot_add]
pilot_margin = pilot_sweep.analysis.margin
fig = chapter4.accuracy_by_frequency(pilots, pilot_margin, reference)
glue("fig_pilot_accuracy", fig, display=False)
plt.close(fig)

# %% tags=["remove-input"]
adds = [(r, t) for r in pilots for t, spec in enumerate(r.tasks) if spec.kind == "add"]
cmp_ = next(t for t, spec in enumerate(pilot.tasks) if spec.kind == "cmp")
glue_text("pilot_sizes", " and ".join(f"{s} ({p:,})" for s, p in zip(pilot.sizes, pilot.params)))
glue("pilot_ratio", float(pilot.params[-1] / pilot.params[0]))
glue("pilot_tokens_m", float(pilot.tokens.max()) / 1e6)
glue("pilot_cmp_labels", round(1 / pilot.chance[cmp_]))
glue_text("pilot_shortcut", "; ".join(
    f"{r.tasks[t].title}: {chapter4.value_range(r.shortcut[0, 0, t])} against chance {r.chance[t]:.3f}"
    for r, t in adds))
(first, t10), (second, t5) = adds
glue_text("add_first", first.tasks[t10].title)
glue_text("add_second", second.tasks[t5].title)
glue_text("add_first_large", ", ".join(f"{a:.3f} at {sci(f)}" for a, f in zip(
    first.accuracy[-1, 0, t10][first.ran[t10]], first.frequencies[first.ran[t10]])))
glue("add_first_train_loss", float(np.nanmin(first.train_label_loss[-1, 0, t10])))
glue("add_first_uniform", float(np.log(1 / first.chance[t10])))
identified = {r.tasks[t].title: identified_share(draw_tasks([r.tasks[t]], pilot_sweep.cells()[0].vocab_size)[0])
              for r, t in adds}
glue("identified_first", 100 * identified[first.tasks[t10].title])
glue("identified_second", 100 * identified[second.tasks[t5].title])

# %% [markdown]
# ```{glue:figure} fig_pilot_accuracy
# :name: fig-pilot-accuracy
#
# The pilot (the book's own): held-out accuracy at the end of training against injection frequency, a line per
# size (one seed), one task per run, natural text; the last panel is the second stage's
# addition. Dashed: chance; dotted: the one-operand shortcut; grey: the learned level; dash-dot:
# the task's natural occurrences in the corpus.
# ```
#
# **The first addition could not be learned by anything.** The first stage's
# {glue:md}`add_first` ended at chance in the larger size ({glue:md}`add_first_large` per
# token) while fitting its train pairs (label loss down to {glue:text}`add_first_train_loss:.2f`
# nats against {glue:text}`add_first_uniform:.2f` for a uniform guess). The cause is the split,
# not the model. Value tokens carry no numeric meaning, so a learner must infer each value's
# residue from the train pairs, $r(v_1) + r(v_2) \equiv$ label; the balanced split joins its two
# groups of values by no train pair, and then fixes each group's residues only up to a shift,
# so the train pairs determine {glue:text}`identified_first:.0f`% of the test answers
# (`rarescale.pretrain.tasks.identified_share`, checked against brute force). The rule's fallback,
# {glue:md}`add_second`, has an odd modulus, for which the same construction determines
# {glue:text}`identified_second:.0f`% of them; the second stage (`cpu_pilot_add.yaml`) runs it.
#
# When does a run learn? Held-out accuracy is evaluated at ten log-spaced steps and every 5% of
# training over its second half, where the packed ladder's addition jumped (a late jump from
# fitting the train pairs to generalising, as in grokking {cite:p}`power2022grokking`); the figure below
# follows each run, and the table records the tokens at which each first reached the learned
# level.

# %%
fig = chapter4.learning_curves(pilots, pilot_margin)
glue("fig_pilot_curves", fig, display=False)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} fig_pilot_curves
# :name: fig-pilot-curves
#
# The pilot's learning curves (the book's own): held-out accuracy against training tokens, solid for the
# larger size and dashed for the smaller, coloured by frequency; grey: the learned level,
# dotted: chance.
# ```

# %%
pilot_cell = pilot_sweep.cells()[0]
tokens_per_step = pilot_cell.global_batch * pilot_cell.seq_len
choices = [design.pilot_choice(r, pilot_margin) for r in pilots]
rows = [row for r, choice in zip(pilots, choices) for row in chapter4.pilot_choice_rows(
    choice, trends.crossing_steps(r, pilot_margin) * tokens_per_step)]
HTML(html_table(
    ["task", "frequency", "learned level", f"{pilot.sizes[0]} accuracy", f"{pilot.sizes[-1]} accuracy",
     f"{pilot.sizes[0]} learned at (tokens)", f"{pilot.sizes[-1]} learned at (tokens)", "main sweep"],
    rows,
    caption="The pilot and the choice rule: per task and frequency, each size's final held-out "
            "accuracy, the tokens at which it first reached the learned level (–: never), and "
            "whether the rule takes the frequency into the main sweep"))

# %% tags=["remove-input"]
glue_text("pilot_choice", "; ".join(chapter4.pilot_choice_sentence(c) for choice in choices for c in choice))
main_sweep = Sweep.from_yaml(REPO_ROOT / main_file)
main_cells = main_sweep.cells()
glue_text("main_sizes", ", ".join(main_sweep.sizes))
glue("main_seeds", len(main_sweep.seeds))
main_done = sum(find_run(c) is not None for c in main_cells)
main_builds = sorted(corpus_counts(main_sweep).items(), key=lambda kv: -kv[1])
glue_text("main_state", f"Of its {len(main_cells)} runs, {main_done} are done (the pilot's among them)"
          + ("; the sections below read all of them, so the book does not build until the rest "
             "land." if main_done < len(main_cells) else "; the sections below read them.")
          + ("" if len(main_builds) < 2 else
             " Its runs span " + str(len(main_builds)) + " builds of the corpus ("
             + ", ".join(f"{n} on {digest[:12]}" for (_, digest), n in main_builds)
             + "): the Debian packages it is built from changed between the machines that ran "
               "them (the reproducibility page lists the builds). The builds differ in a few "
               "documents of the kernel's and Python's documentation, so what text fills each "
               "batch differs, as between two data orders; the verdicts pool the runs of both."))

# %% [markdown]
# The rule's choice: {glue:md}`pilot_choice`. The main sweep (`runners/configs/cpu_main.yaml`)
# runs these frequencies at {glue:md}`main_sizes`, with {glue:text}`main_seeds` seeds, its
# analysis fixed in its `analysis:` block before its first run. {glue:md}`main_state`


# %% [markdown]
# ## C18: which sizes learn which frequencies
#
# Held-out accuracy alone can mislead: on 20 values, a rule that reads only one operand (is the
# second operand large?) answers most comparisons right without comparing anything. So for
# each task we fit the best rule that reads at most one operand (a constant, a lookup
# table or a threshold on either operand, chosen by cross-validation on the train instances)
# and score it on the test instances. Its accuracy, or chance where that is higher, is the
# *baseline*, and a task counts as *learned* when its held-out accuracy closes
# {glue:text}`margin_pct:.0f`% of the gap from the baseline to 1. Figure (a) shows the accuracy
# at the end of training against the injection frequency, a line per size (dots: seeds).

# %%
fig = chapter4.accuracy_by_frequency(res, margin, reference)
glue("fig_olmo_accuracy", fig, display=False)
plt.close(fig)

# %% tags=["remove-input"]
glue("margin_pct", 100 * margin)
level = res.level(margin)  # [task, frequency]
mean_acc = res.accuracy.mean(axis=1)  # [size, task, frequency]
learned = trends.learned_by_size(res, margin)  # [size, task, frequency]
for t in range(len(res.tasks)):
    top = int(np.argmax(res.ran[t]))  # the task's highest frequency run
    glue_text(f"task_{t}", res.titles[t])
    glue(f"chance_{t}", float(res.chance[t]))
    glue_text(f"shortcut_range_{t}", chapter4.value_range(res.shortcut[0, 0, t], "{:.2f}"))
    glue(f"level_{t}", float(np.nanmean(level[t])))
    glue_text(f"top_freq_{t}", sci(res.frequencies[top], 1))
    glue(f"top_acc_min_{t}", float(mean_acc[:, t, top].min()))
    glue(f"top_acc_max_{t}", float(mean_acc[:, t, top].max()))
    glue(f"hard_top_min_{t}", float(res.accuracy_hard[:, :, t, top].mean(1).min()))
    glue(f"hard_top_max_{t}", float(res.accuracy_hard[:, :, t, top].mean(1).max()))
    glue_text(f"learned_{t}", "; ".join(
        f"{size}: {', '.join(sci(f, 1) for f in res.frequencies[learned[s, t]]) or 'none'}"
        for s, size in enumerate(res.sizes)))
glue_text("seeds_reading", chapter4.seeds_learned_sentence(res, margin))

# %% [markdown]
# ```{glue:figure} fig_olmo_accuracy
# :name: fig-olmo-accuracy
#
# (a) Held-out accuracy against injection frequency (the paper's section 4 measure), per size (mean over seeds; dots: seeds),
# after the same number of tokens. Dashed: chance; dotted: the best one-operand rule; grey: the
# learned level; dash-dot: the task's natural occurrences per token in the natural-text corpus
# (Rcmp, Radd). Main sweep, natural text.
# ```
#
# For {glue:md}`task_0` the one-operand rule scores {glue:md}`shortcut_range_0`
# (chance {glue:text}`chance_0:.2f`), so learned means an accuracy
# above {glue:text}`level_0:.2f`; at its highest frequency, {glue:md}`top_freq_0`, the sizes reach
# {glue:text}`top_acc_min_0:.2f` to {glue:text}`top_acc_max_0:.2f`, and on the shortcut-hard
# test pairs (those the rule gets wrong) {glue:text}`hard_top_min_0:.2f` to
# {glue:text}`hard_top_max_0:.2f`. For {glue:md}`task_1` no one-operand rule beats chance
# ({glue:md}`shortcut_range_1`: its balanced split leaves
# one operand no information about the answer), so learned means above
# {glue:text}`level_1:.2f`; at its highest frequency, {glue:md}`top_freq_1`, the sizes reach
# {glue:text}`top_acc_min_1:.2f` to {glue:text}`top_acc_max_1:.2f`. The frequencies each size
# learns, in the mean over seeds: {glue:md}`task_0`: {glue:md}`learned_0`. {glue:md}`task_1`:
# {glue:md}`learned_1`. The table counts, per cell, the seeds that learn: {glue:md}`seeds_reading`

# %% tags=["remove-input"]
HTML(html_table(chapter4.seeds_learned_columns(res), chapter4.seeds_learned_rows(res, margin),
                caption="Seeds whose held-out accuracy reaches the learned level, per task, size "
                        "and injection frequency (instances per token; –: not run)"))

# %% [markdown]
#
# ### Exposure: saw too few, or could not learn?
#
# A rare task is also a task seen rarely: at the lowest frequency a task is injected
# {glue:text}`inj_rarest` times, covering at most {glue:text}`distinct_rarest_max` of its
# {glue:text}`pool` train pairs. Figure (b) puts the same accuracies against the number of
# distinct train instances each run injected. Where two sizes saw as many instances, a gap
# between them is a difference in what they make of them. {glue:md}`exposure_reading`

# %%
fig, axes = plt.subplots(1, len(res.tasks), figsize=(10.5, 3.8), constrained_layout=True)
for t, ax in enumerate(np.atleast_1d(axes)):
    chapter4.fig_olmo_exposure(ax, res, t, margin)
np.atleast_1d(axes)[0].legend(fontsize=7)
glue("fig_olmo_exposure", fig, display=False)
plt.close(fig)

# %% tags=["remove-input"]
lowest = [len(ran) - 1 - int(np.argmax(ran[::-1])) for ran in res.ran]  # each task's rarest frequency run
glue("distinct_rarest_max", int(max(np.nanmax(res.distinct[:, :, t, f]) for t, f in enumerate(lowest))))
seen = (int(np.nanmin(res.distinct)), int(np.nanmax(res.distinct)))
glue_text("exposure_reading", f"Here the runs injected {seen[0]} to {seen[1]} distinct train pairs "
          f"of {int(min(t.n_instances // 2 for t in res.tasks))}" + (
              ": at these frequencies every size saw (nearly) all of them, so no difference in "
              "figure (a) is one of exposure." if seen[0] >= 0.9 * min(t.n_instances // 2 for t in res.tasks)
              else "."))

# %% [markdown]
# ```{glue:figure} fig_olmo_exposure
# :name: fig-olmo-exposure
#
# (b) The book's own: held-out accuracy against the distinct train instances injected, per size across its
# frequencies (mean over seeds; dots: seeds); grey: the learned level. Main sweep.
# ```
#
# Figure (c) shows what the models do with the instances they *were* shown: the loss on the
# label token of injected instances (up to {glue:text}`eval_instances` distinct ones, the first
# injected). A model can drive this loss down by memorising instances without learning the
# task, which is why C18 is judged on held-out instances. At the highest frequency, from the
# smallest size to the largest: {glue:md}`loss_top_trend`.

# %%
fig, axes = plt.subplots(1, len(res.tasks), figsize=(10.5, 3.8), constrained_layout=True)
for t, ax in enumerate(np.atleast_1d(axes)):
    chapter4.fig_olmo_label_loss(ax, res, t)
np.atleast_1d(axes)[-1].legend(fontsize=8)
glue("fig_olmo_label_loss", fig, display=False)
plt.close(fig)

# %% tags=["remove-input"]
tops = [int(np.argmax(ran)) for ran in res.ran]  # each task's highest frequency run
loss_top = np.stack([res.injected_label_loss.mean(axis=1)[:, t, f] for t, f in enumerate(tops)], axis=1)  # [size, task]
glue_text("loss_top_trend", "; ".join(f"{res.titles[t]}: {trends.arrow(loss_top[:, t])} nats"
                                      for t in range(len(res.tasks))))

# %% [markdown]
# ```{glue:figure} fig_olmo_label_loss
# :name: fig-olmo-label-loss
#
# (c) Label loss on injected instances against frequency (the paper's section 4 measure), per size (mean over seeds;
# dots: seeds); dashed: the loss of a uniform guess among the labels. Main sweep.
# ```
#
# ### Learning thresholds
#
# A size's *threshold frequency* is where its held-out accuracy crosses the learned level,
# interpolated in log frequency between the last frequency it learns and the first it does
# not (chapter 2's learning width, seen from the other side). Figure (d) and the table give it
# per seed.

# %%
fig, ax = plt.subplots(figsize=(6.4, 4.0), constrained_layout=True)
chapter4.fig_olmo_thresholds(ax, res, margin)
ax.legend(fontsize=8)
glue("fig_olmo_thresholds", fig, display=False)
plt.close(fig)

# %% tags=["remove-input"]
HTML(html_table(["task", "size", "non-embedding params", "threshold (geometric mean over seeds that learned)",
                 "seeds' range", "each seed"], chapter4.threshold_rows(res, margin),
                caption="Learning threshold frequency, instances per training token"))

# %% [markdown]
# ```{glue:figure} fig_olmo_thresholds
# :name: fig-olmo-thresholds
#
# (d) The book's own: each size's learning threshold frequency against its non-embedding parameters
# (squares: geometric mean over seeds; dots: seeds; grey bands: beyond the frequencies run).
# A missing point is a seed that learned the task at no frequency. Main sweep.
# ```
#
# Figure (d) and the accuracies of (a), in C18's registered tests (Welch's t of each slope against
# log₁₀ parameters, Holm over the claim's rows; the section after C20 gives the method):
# {glue:md}`claim_rows_C18`
#
# ## C19: what the hidden states hold
#
# We probe each layer's hidden state at the label-predicting position (the second operand) of
# the held-out instances. The probes are our choice, as the paper's are not known, and are
# built so that width alone cannot win: every size is read through the same 16 principal
# components of its hidden state, and every probe has a control, the same probe for the
# targets of a random relabelling of the values, a control task in the sense of
# {cite:t}`hewitt2019control`. A wider state decodes token identity better,
# and that helps the control as much as the probe; only structure the task needs raises the
# probe above its control. The targets follow the task: for {glue:md}`task_0`, each operand's
# value as a number (ridge regression, R²) and the answer (a ridge classifier, accuracy); for
# {glue:md}`task_1`, each operand's residue mod the modulus (what the sum needs of it) and the answer. Figure (e) shows
# probe minus control by depth for runs at {glue:md}`probe_freq` per token.

# %%
f_probe = res.frequency_index(probe_frequency)
fig, axes = plt.subplots(len(res.tasks), 3, figsize=(10.5, 3.3 * len(res.tasks)),
                         constrained_layout=True, squeeze=False)
for t in range(len(res.tasks)):
    chapter4.fig_olmo_probes(axes[t], res, t, f_probe)
    axes[t, 0].set_ylabel(f"{res.titles[t]}\nprobe minus control")
axes[0, -1].legend(fontsize=8, title="size", title_fontsize=8)
glue("fig_olmo_probes", fig, display=False)
plt.close(fig)

# %% tags=["remove-input"]
glue_text("probe_freq", sci(res.frequencies[f_probe], 2))
label_best = res.best_probe(0, f_probe, 2).mean(1)  # TCMP answer probe, best layer, by size
glue_text("label_probe_0", trends.arrow(label_best))
for t in range(len(res.tasks)):
    glue_text(f"probe_reading_{t}", chapter4.selectivity_sentence(res, t, f_probe, analysis.layer))

# %% [markdown]
# ```{glue:figure} fig_olmo_probes
# :name: fig-olmo-probes
#
# (e) Probe score minus the control's (the paper's section 4 probes, with Hewitt and Liang's
# control) by relative depth (0: embeddings), a line per size (mean
# over seeds), for runs at {glue:md}`probe_freq` per token. Main sweep.
# ```
#
# For the answer of {glue:md}`task_0` the one-operand rule is the probe's floor, not chance:
# the best layer's answer probe reads {glue:md}`label_probe_0` from the smallest size to the
# largest, against a shortcut of {glue:md}`shortcut_range_0`.
# {glue:md}`probe_reading_0` {glue:md}`probe_reading_1` C19's
# registered tests: {glue:md}`claim_rows_C19`
#
# ## C20: interference and forgetting
#
# Two measures, both our choices as the paper's are not known. *Gradient interference*: the
# cosine between the gradient of a task's label loss (on its train instances) and that of the
# background loss (on held-out corpus sequences), over the transformer blocks (embeddings and
# output layer apart: they touch the task's tokens directly), averaged over the evaluations
# during training. A cosine can be far from zero for reasons that have nothing to do with the
# task, so we subtract a null: the same cosine for the same instances with their labels
# shuffled. Negative means a background step raises the task's loss more than the null's.
# *Forgetting*: from the final weights and optimiser state, we continue on background data
# only for {glue:text}`forget_steps` steps and record how much the label loss of injected
# instances rises, at the same learning rate, {glue:text}`forget_lr`, for every size. (At each
# size's own final learning rate the comparison is confounded: the sweep's rule gives the
# smallest model {glue:md}`lr_ratio` times the largest one's.)

# %%
f_forget = res.frequency_index(forgetting_frequency)
fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.8), constrained_layout=True)
chapter4.fig_olmo_interference(axes, res, 0, f_forget)
axes[1].legend(fontsize=8, title="size", title_fontsize=8)
glue("fig_olmo_interference", fig, display=False)
plt.close(fig)

# %% tags=["remove-input"]
glue("forget_steps", int(cell.forgetting_steps))
glue("forget_lr", float(res.forgetting_lr))
glue_text("lr_ratio", f"{res.last_step_lr[0] / res.last_step_lr[-1]:.1f}")
glue_text("forget_freq", sci(res.frequencies[f_forget], 2))
raw = np.nanmean(res.cosine["body"], axis=(1, 3))  # [size, task], over the frequencies run
glue_text("cos_raw", "; ".join(f"{res.titles[t]}: {trends.arrow(raw[:, t], '{:+.3f}')}"
                               for t in range(len(res.tasks))))
glue_text("forget_direction", chapter4.forgetting_direction_sentence(trends.forgetting_direction(res), ALPHA))

# %% [markdown]
# ```{glue:figure} fig_olmo_interference
# :name: fig-olmo-interference
#
# (f) The paper's section 4 measures. Left: cosine between the task gradient and the background
# gradient over the blocks, minus
# the shuffled-label null's, mean over training, TCMP runs, per size (mean over seeds; dots:
# seeds). Right: the rise of the TCMP label loss over background-only steps after training, at
# {glue:md}`forget_freq` per token, at one learning rate for every size. Main sweep.
# ```
#
# Before the null is subtracted, the blocks' cosine, mean over frequencies and seeds, from the
# smallest size to the largest: {glue:md}`cos_raw`. {glue:md}`forget_direction` C20's
# registered tests: {glue:md}`claim_rows_C20`
#
# ## What the main sweep supports
#
# Each row is a trend with size, computed from the figures above: the least-squares slope of
# the seed-mean measure against log₁₀ of the non-embedding parameters (per decade). Its test
# is Welch's t {cite:p}`welch1947generalization` of that slope, each size's seeds ({glue:text}`n_seeds` of them) giving its own
# variance, one-sided in the claimed direction; a claim's rows are one family, their p-values
# adjusted together {cite:p}`holm1979simple`, and a row is *supported* only where its adjusted p is at most
# {glue:text}`alpha`. Beside the slope, the ordering: how many adjacent sizes step the claimed
# way, and Jonckheere–Terpstra's test of ordered sizes {cite:p}`jonckheere1954distribution`, since a slope can rest on one step. The
# choices behind every row (the learned margin, the probe frequency, the probed layer, the
# test) are the sweep file's `analysis:` block: {glue:md}`analysis_text`. It is what the main
# sweep shows, at its scale, not what the paper shows at its own.

# %%
found = trends.verdicts(res, analysis)
HTML(html_table(["claim", "what the main sweep would show", "slope per decade [95% interval]",
                 "p", "p (Holm)", "ordering", "verdict", "seed means, smallest size to largest"],
                trends.verdict_rows(found), caption="Welch tests of the slope, Holm within each claim; –: "
                "undefined (a size with no value, e.g. forgetting where it learned no frequency)"))

# %% tags=["remove-input"]
supported = [v["statement"] for v in found if v["trend"].verdict == "supported"]
glue("n_supported", len(supported))
glue("tokens_m", float(res.tokens.max()) / 1e6)
glue_text("verdict_summary", chapter4.verdict_summary_sentence(found))
for claim in ("C18", "C19", "C20"):  # each claim's tests, read under its figure (glue is page-wide)
    glue_text(f"claim_rows_{claim}", chapter4.claim_rows_sentence(found, claim))
glue("n_verdicts", len(found))
glue("alpha", ALPHA)
glue_text("analysis_text", f"margin {analysis.margin:g}, probe frequency "
          f"{sci(analysis.probe_frequency, 1)}, layer "
          f"{'best' if analysis.layer == 'best' else f'at relative depth {analysis.layer:g}'}, "
          f"test: {analysis.statistic} ({analysis.registered})")

# %% [markdown]
# {glue:text}`n_supported` of the {glue:text}`n_verdicts` rows are supported. "Not shown" does
# not mean refuted: the main sweep spans sizes mostly below the paper's smallest, trains each on
# {glue:text}`tokens_m:.0f`M tokens, and uses smaller tasks. It means that at this scale,
# with these seeds, the test cannot tell a trend with size from none. Claim by claim:
# {glue:md}`verdict_summary`
#
# How much rests on the analysis choices? The table below recomputes every row under each of
# {glue:text}`n_alternatives` defensible alternatives (the learned margin at 0.3, 0.5 and 0.7,
# every probe frequency, every layer rule, and each size left out) and counts the rows each
# supports. A row's verdict is the registered one under {glue:text}`agree_C18:.0f`% of the
# alternatives for C18, {glue:text}`agree_C19:.0f`% for C19 and {glue:text}`agree_C20:.0f`% for
# C20.

# %%
robust = trends.robustness(res, analysis)
HTML(html_table(["analysis", "C18 supported", "C19 supported", "C20 supported"],
                trends.robustness_rows(robust), caption="Each verdict under each alternative analysis"))

# %% tags=["remove-input"]
glue("n_alternatives", robust["n_alternatives"])
for family, share in robust["agree"].items():
    glue(f"agree_{family}", 100 * share)


# %% [markdown]
# ## A capacity test that can answer (C4, C5)
#
# The paper's thesis is stronger than "larger models learn rare tasks faster". Its
# Definition 2 (C5) says that some of what a large model learns a smaller one never learns,
# whatever its data; Definition 1 (C4) is the weaker case where the smaller model gets there
# with more data. The book's first capacity sweep (last section) could not tell them apart: it
# compared sizes at frequencies where even the larger one did not learn. Definition 2 is about a task
# the larger model *does* learn. So the test starts from a cell of the main sweep where, at the
# base budget, the largest size learns the task in at least {glue:text}`cap8_large_min` of its
# {glue:text}`main_seeds` seeds and the smallest in at most {glue:text}`cap8_small_max`, among
# the cells where the pilot separated the sizes (the rule, `design.capacity_choice`, was
# committed before the main sweep's runs at those cells landed). The smallest size is then
# trained to eight times the base budget, on a warmup–stable–decay schedule
# {cite:p}`hu2024minicpm` whose every budget is a branch off the stable phase that decays over
# its last part, so that each budget's accuracy is the one a run of that many tokens ends with; and
# compared at 8× with the largest at 1×, by two one-sided exact permutation tests over the
# seeds (`verdicts.capacity_gap`): it *stays below* (C5) when the gap is shown above zero and
# not shown below a margin of {glue:text}`cap8_gap_margin`; it *reaches it* (C4) when the gap is
# shown below the margin and not shown above zero. Both tests, the margin and the budget read
# are registered in the capacity sweep's `analysis:` block.

# %%
main_sweep = Sweep.from_yaml(REPO_ROOT / main_file)
candidates = design.capacity_candidates([c for choice in choices for c in choice])
at_candidates = design.capacity_view(main_sweep, candidates)
cap8_main = trends.ladder_results(at_candidates, load_runs(at_candidates, produce=f"python -m runners.sweep {main_file}"))
cap8_choice = design.capacity_choice(cap8_main, main_sweep.analysis.margin, candidates)
HTML(html_table(chapter4.capacity_choice_columns(cap8_choice), chapter4.capacity_choice_rows(cap8_choice),
                caption="The capacity test's cell: the pilot's separating cells in the main sweep's "
                        "five seeds at the base budget (mean held-out accuracy over the seeds)"))

# %% tags=["remove-input"]
glue("cap8_large_min", design.LARGE_AT_LEAST)
glue("cap8_small_max", design.SMALL_AT_MOST)
glue("cap8_gap_margin", CAPACITY_MARGIN)
glue_text("cap8_choice", chapter4.capacity_choice_sentence(cap8_choice))

# %% [markdown]
# {glue:md}`cap8_choice` {glue:md}`cap8_state`

# %%
second_stage = Sweep.from_yaml(REPO_ROOT / capacity_design_file)
second_res = trends.ladder_results(second_stage, load_runs(second_stage, produce=f"python -m runners.sweep {capacity_design_file}"))
second_choice = design.capacity_choice(second_res, second_stage.analysis.margin, second_stage.task_cells())
HTML(html_table(chapter4.capacity_choice_columns(second_choice), chapter4.capacity_choice_rows(second_choice),
                caption="The second stage: the same rule over the commoner frequencies (five seeds "
                        "at the base budget; mean held-out accuracy over the seeds)"))

# %% tags=["remove-input"]
glue_text("cap8_state", "" if cap8_choice["chosen"] is not None else (
    f"So the rule's second stage (`{capacity_design_file}`, committed before its runs) runs "
    f"{second_stage.tasks[0].title} at {', '.join(sci(f) for f in second_stage.frequencies)} per "
    f"token, at the same two sizes, seeds and budget, and applies the same rule there:"))
glue_text("cap8_second", chapter4.capacity_choice_sentence(second_choice))
below = second_res.accuracy[0] < second_res.baseline[None]  # [seed, task, frequency]
n_held_out = len(run_tasks(second_stage.cells()[0])[0].test)
guessing = trends.below_chance(second_res.accuracy[0, :, 0], n_held_out, second_stage.tasks[0].chance)
lowest = np.unravel_index(np.nanargmin(second_res.accuracy[0, :, 0]), guessing["p"].shape)
glue_text("cap8_below", "" if not below.any() else (
    f"At the base budget {second_res.sizes[0]} does more than fail to learn: "
    + "; ".join(f"at {sci(f)} it ends below its baseline of {second_res.baseline[0, j]:.2f} "
                f"in {int(below[:, 0, j].sum())} of its {below.shape[0]} seeds (held-out accuracy "
                f"{', '.join(f'{a:.3f}' for a in second_res.accuracy[0, :, 0, j])})"
                for j, f in enumerate(second_res.frequencies))
    + f". On {n_held_out} held-out pairs, {int(guessing['below'].sum())} of these "
      f"{int(np.isfinite(guessing['p']).sum())} runs score below what guessing at chance gives "
      f"(one-sided binomial tests, Holm-adjusted over them; the lowest, "
      f"{second_res.accuracy[0][lowest[0], 0, lowest[1]]:.3f}, at adjusted p = "
      f"{guessing['p_adjusted'][lowest]:.1e})"
    + (": below chance, such a model answers the held-out pairs by some rule that is wrong on "
       "them, not by guessing." if guessing["below"].any() else "; guessing explains them.")))
cap8_test_sweep = Sweep.from_yaml(REPO_ROOT / capacity_test_file)
c8 = cap8_test_sweep.cells()[0]
glue_text("cap8_design", f"{c8.size} trained on {cap8_test_sweep.tasks[0].title} "
                         f"at {sci(c8.tasks[0].rate)} per token for {c8.steps * c8.global_batch * c8.seq_len / 1e6:.0f}M "
                         f"tokens ({cap8_test_sweep.analysis.budget:g}× the base), {len(cap8_test_sweep.seeds)} seeds, "
                         f"its budgets read on decay branches at {', '.join(f'{b * c8.global_batch * c8.seq_len / 1e6:.0f}M' for b in c8.budget_steps())} tokens")

# %% [markdown]
# {glue:md}`cap8_second` {glue:md}`cap8_below` The capacity sweep, `runners/configs/cpu_capacity_8x.yaml`,
# written from this choice by `design.capacity_sweep` and committed before its runs (a test
# holds it to the rule): {glue:md}`cap8_design`. The figure puts each of its budgets beside
# the large size at the base budget.

# %%
_, cap8_cap, cap8_test = capacity.load_capacity_test(REPO_ROOT / capacity_test_file)
fig, ax = plt.subplots(figsize=(9.5, 4), layout="constrained")
chapter4.fig_capacity_test(ax, cap8_test)
glue("fig_capacity_test", fig, display=False)

# %% tags=["remove-input"]
glue_text("cap8_verdict", capacity.capacity_test_sentence(cap8_test))
glue_text("cap8_reading", capacity.capacity_test_reading(cap8_test))
glue("cap8_robust_pct", 100 * cap8_test.robust_share)
glue("cap8_n_alternatives", len(cap8_test.alternatives))

# %% [markdown]
# ```{glue:figure} fig_capacity_test
# :name: fig-capacity-test
#
# (g) The book's own: the capacity test (C4 against C5). The small size's held-out accuracy
# after each budget's decay branch (faint: each seed; solid: their mean) against the large size's
# seeds at the base budget; the band is the registered margin below the large size's mean, within
# which the small size would *reach it*.
# ```
#
# {glue:md}`cap8_verdict` {glue:md}`cap8_reading` The table gives the verdict under each
# defensible alternative, the other budgets the sweep measured and a margin half and twice the
# registered one: {glue:text}`cap8_robust_pct:.0f`% of the {glue:text}`cap8_n_alternatives`
# agree with the registered verdict.

# %% tags=["remove-input"]
HTML(html_table(chapter4.CAPACITY_TEST_COLUMNS, chapter4.capacity_test_rows(cap8_test),
                caption="The capacity test under its registered analysis and the alternatives "
                        f"(exact one-sided permutation tests over the seeds, each at level {ALPHA:g})"))


# %% [markdown]
# ## The packed ladder: why the design changed
#
# The book's first runs were a *CPU ladder*: {glue:md}`ladder_scale`, each run carrying
# {glue:text}`cap_ladder_copies` task copies (each rule at every frequency, on disjoint tokens),
# on the synthetic web, where the paper trains one task at one frequency per run. By the same
# tests as the main sweep's: {glue:md}`ladder_verdicts` {glue:md}`ladder_contrast` In the ladder
# too, {glue:md}`ladder_forgetting` The main sweep replaced it for the reasons this section
# measures: packing, an addition mod 2 that was parity, and a capacity sweep that compared
# sizes where neither learned. Of the ladder's copies run alone against packed:
# {glue:md}`pack_reading`.

# %%
ladder_sweep, ladder_res = trends.load_ladder(REPO_ROOT / ladder_file)
ladder_margin = ladder_sweep.analysis.margin

# %% tags=["remove-input"]
glue_text("ladder_scale", f"{len(ladder_res.sizes)} sizes from {ladder_res.sizes[0]} to {ladder_res.sizes[-1]} "
                          f"({ladder_res.params.min():,} to {ladder_res.params.max():,} non-embedding parameters), "
                          f"{len(ladder_res.seeds)} seeds, {ladder_res.tokens.max() / 1e6:.0f}M tokens per run")
ladder_found = trends.verdicts(ladder_res, ladder_sweep.analysis)
glue_text("ladder_verdicts", chapter4.verdict_summary_sentence(ladder_found))
glue_text("ladder_contrast", chapter4.verdict_contrast_sentence(found, ladder_found, "the main sweep", "the ladder"))
forgetting_text = chapter4.forgetting_direction_sentence(trends.forgetting_direction(ladder_res), ALPHA)
glue_text("ladder_forgetting", forgetting_text[0].lower() + forgetting_text[1:])

# %% [markdown]
# ### Capacity or speed, a first attempt (C4, C5)
#
# The paper's thesis is stronger than "larger models learn rare tasks faster". Its
# Definition 2 (C5) says that some of what a large model learns a smaller one never learns,
# whatever its data; Definition 1 (C4) is the weaker case where the smaller model gets there
# with more data. The ladder cannot tell them apart: every size stops at
# {glue:text}`cap_ladder_tokens_m:.0f`M tokens, where accuracy near the thresholds is still
# climbing, and each run packs {glue:text}`cap_ladder_copies` task copies.
#
# So we trained two sizes {glue:text}`cap_ratio:.1f`× apart in non-embedding parameters,
# {glue:md}`cap_sizes`, for {glue:text}`cap_tokens_m:.0f`M tokens ({glue:text}`cap_times:.0f`×
# the ladder's), one task copy per run (unpacked, as in the paper), {glue:text}`cap_seeds`
# seeds, at the frequency near each task's threshold where the ladder's smallest size learned
# it in at most one of its seeds: {glue:md}`cap_freqs`. The learning rate follows
# warmup–stable–decay {cite:p}`hu2024minicpm`. Each smaller token budget ({glue:md}`cap_budgets`) is a branch off the
# stable phase that decays over its last {glue:text}`cap_decay_pct:.0f`% and is evaluated, so
# each budget's accuracy is the one a run of that many tokens (and the same warmup) would end
# with; a cosine run's
# mid-point would not be, its learning rate still high (a test checks that a branch ends
# exactly where a separate run of its tokens ends).

# %%
cap_sweep, cap = capacity.load_capacity(REPO_ROOT / capacity_file)
fig, axes = plt.subplots(len(cap.tasks), 2, figsize=(10.5, 3.6 * len(cap.tasks)),
                         constrained_layout=True, squeeze=False)
for t in range(len(cap.tasks)):
    chapter4.fig_capacity(axes[t], cap, t, ladder_margin)
axes[0, 0].legend(fontsize=7)
glue("fig_capacity", fig, display=False)
plt.close(fig)

# %% tags=["remove-input"]
glue("cap_ladder_tokens_m", float(ladder_res.tokens.max()) / 1e6)
glue("cap_ladder_copies", len(ladder_sweep.cell_copies()[0][1]))
glue("cap_ratio", float(cap.params[-1] / cap.params[0]))
glue_text("cap_sizes", " and ".join(f"{s} ({p:,})" for s, p in zip(cap.sizes, cap.params)))
glue("cap_tokens_m", float(cap.tokens[-1]) / 1e6)
glue("cap_times", float(cap.tokens[-1] / ladder_res.tokens.max()))
glue("cap_seeds", len(cap.seeds))
glue_text("cap_freqs", ", ".join(f"{name} at {sci(f)} per token"
                                 for name, f in zip(cap.titles, cap.frequencies)))
glue_text("cap_budgets", ", ".join(f"{t / 1e6:.2g}M" for t in cap.tokens))
glue("cap_decay_pct", 100 * cap_sweep.cells()[0].decay)
cap_verdicts = [cap.verdict(t, ladder_margin) for t in range(len(cap.tasks))]
for t, v in enumerate(cap_verdicts):
    glue_text(f"cap_task_{t}", cap.titles[t])
    glue_text(f"cap_small_{t}", v.level_small.text())
    glue_text(f"cap_large_{t}", v.level_large.text())
    glue_text(f"cap_gap_{t}", v.gap.text("{:+.2f}"))
    glue_text(f"cap_gain_{t}", v.gain_small.text("{:+.3f}"))
    glue_text(f"cap_verdict_{t}", f"{v.verdict}: {v.reason}")
glue("cap_flat", capacity.FLAT)

# %% [markdown]
# ```{glue:figure} fig_capacity
# :name: fig-capacity
#
# (h) The book's own: capacity or speed, the first attempt (packed ladder). Left: held-out accuracy at each token budget (its decayed end), a line
# per size (mean over seeds; dots: seeds); thin: evaluations on the stable phase, at the peak
# learning rate; dashed: each size's fitted saturation curve. Right: the same accuracies against
# the instances injected. Dotted: the better of chance and the one-operand shortcut; grey: the
# learned level. Capacity sweep.
# ```
#
# Each size's *saturation level* is fitted to its seed-mean accuracy by budget,
# `a(t) = L − (L − chance)·exp(−t/τ)`, and every interval comes from refitting with each size's
# seeds resampled. The small size has *levelled off* when its gain over the last doubling of
# tokens is below {glue:text}`cap_flat:.2f` (whole interval); it *plateaus below* the large one
# (Definition 2) when, besides, the gap between the levels is above zero and the large size
# learns the task; it *approaches* (Definition 1) when the gap is below
# {glue:text}`cap_flat:.2f`. {glue:md}`cap_task_0`: small {glue:md}`cap_small_0`, large
# {glue:md}`cap_large_0`, gap {glue:md}`cap_gap_0`, the small size's last-doubling gain
# {glue:md}`cap_gain_0`: {glue:md}`cap_verdict_0`. {glue:md}`cap_task_1`: small
# {glue:md}`cap_small_1`, large {glue:md}`cap_large_1`, gap {glue:md}`cap_gap_1`, gain
# {glue:md}`cap_gain_1`: {glue:md}`cap_verdict_1`.

# %% tags=["remove-input"]
HTML(html_table(["task", "small size's level [95%]", "large size's level [95%]",
                 "gap, large − small", "small size's gain, last doubling", "verdict"],
                capacity.verdict_rows(cap, ladder_margin),
                caption="Saturation levels and the verdict, with seed-bootstrap intervals "
                        "(2,000 resamples of each size's seeds)"))

# %% tags=["remove-input"]
packing = capacity.load_packing(ladder_res, REPO_ROOT / packing_file, ladder_margin)
glue_text("pack_where", f"{packing.task} at {sci(packing.frequency)} per token, size {packing.size}")
glue("pack_n_packed", len(packing.packed))
glue("pack_n_unpacked", len(packing.unpacked))
glue("pack_packed", float(packing.packed.mean()))
glue("pack_unpacked", float(packing.unpacked.mean()))
glue_text("pack_shift", packing.shift.text("{:+.3f}"))
glue_text("pack_shift_hard", packing.shift_hard.text("{:+.3f}"))
glue("pack_level", packing.learned_level)
budget_shift = capacity.ladder_budget_shift(cap, ladder_res)
glue_text("pack_budget", "; ".join(
    f"{x['task']} at {sci(x['frequency'])}, {x['size']}: {x['packed'].mean():.3f} packed, "
    f"{x['alone'].mean():.3f} alone, a shift of {x['shift'].text('{:+.3f}')}"
    for x in budget_shift) or "no size of the capacity sweep is in the ladder")
glue_text("pack_budget_tokens", f"{budget_shift[0]['tokens'] / 1e6:.0f}M" if budget_shift else "–")
glue_text("pack_reading", capacity.packing_reading([packing.shift] + [x["shift"] for x in budget_shift]))
glue_text("pack_learned", f"{int((packing.packed >= packing.learned_level).sum())} of "
                          f"{len(packing.packed)} packed seeds and "
                          f"{int((packing.unpacked >= packing.learned_level).sum())} of "
                          f"{len(packing.unpacked)} unpacked ones")

# %% [markdown]
# With three seeds the bootstrap intervals are narrower than a 95% interval should be, so a
# verdict here is weaker evidence than its interval suggests.
#
# ### Packed or unpacked
#
# The ladder carries twelve copies per run; the paper one. Running one
# ladder copy alone, with everything else as in the ladder ({glue:md}`pack_where`, the same
# instances; `runners/configs/cpu_packing.yaml`), moves its held-out accuracy from
# {glue:text}`pack_packed:.3f` (packed, {glue:text}`pack_n_packed` seeds) to
# {glue:text}`pack_unpacked:.3f` (alone, {glue:text}`pack_n_unpacked` seeds): a shift of
# {glue:md}`pack_shift`, and {glue:md}`pack_shift_hard` on the shortcut-hard instances (95%
# intervals from inverting a permutation test over the seeds). Against the learned level
# ({glue:text}`pack_level:.2f`), {glue:md}`pack_learned` count as learned. One copy at one
# size and frequency cannot give a threshold's shift by itself; it says how far a copy's
# accuracy near the threshold moves with packing.
#
# The capacity sweep gives a second look, at the size it shares with the ladder: its
# {glue:md}`pack_budget_tokens` budget, alone, against the same copies packed in the ladder at
# the same tokens (the schedules differ: warmup–stable–decay against cosine).
# {glue:md}`pack_budget`. Taken together: {glue:md}`pack_reading`.


# %% [markdown]
# ## Going further: the paper's grid on GPUs

# %% tags=["remove-input"]
costs = throughput.grid_costs([REPO_ROOT / f"runners/configs/{name}.yaml"
                               for name in ("gpu_small", "gpu_ladder", "gpu_ladder_matched")])
gpu_grids = {c["name"]: c["sweep"] for c in costs}
for c in costs:
    glue(f"{c['name']}_hours", c["hours"])
    glue_text(f"{c['name']}_sizes", c["sizes"])
    glue(f"{c['name']}_tokens_b", c["tokens_b"])
glue_text("gpu_freqs", f"{sci(max(gpu_grids['gpu_ladder'].frequencies))} to "
                       f"{sci(min(gpu_grids['gpu_ladder'].frequencies))}")
glue("gpu_steps", gpu_grids["gpu_ladder"].steps)
glue("paper_tokens_b", throughput.PAPER_TOKENS / 1e9)
glue("paper_step_m", throughput.PAPER_TOKENS / throughput.PAPER_STEPS / 1e6)
glue("gpu_step_m", next(c["tokens_b"] for c in costs if c["name"] == "gpu_ladder") * 1e3 / gpu_grids["gpu_ladder"].steps)
glue("gpu_mfu_pct", 100 * throughput.DEFAULT_MFU)
glue_text("precision_policy", PRECISION)

# %% [markdown]
# The same library and runner train the grids of the paper's scale. The CPU ladder and the
# capacity sweeps give every size the same tokens (a *matched* budget). The paper instead
# trains every size for the same steps at its own batch, so larger sizes also see more tokens
# and more instances; `runners/configs/gpu_ladder.yaml` follows it: sizes
# {glue:md}`gpu_ladder_sizes`, its frequencies {glue:md}`gpu_freqs`, {glue:text}`gpu_steps:,.0f`
# steps (up to {glue:text}`gpu_ladder_tokens_b:.0f`B tokens, where the paper's reach
# {glue:text}`paper_tokens_b:.0f`B: its largest size takes {glue:text}`paper_step_m:.1f`M tokens
# a step, DataDecide's batch rule {glue:text}`gpu_step_m:.1f`M), on Dolma v1.7's token files.
# `gpu_ladder_matched.yaml` is the same grid at {glue:text}`gpu_ladder_matched_tokens_b:.0f`B
# tokens for every size, the design that separates capacity from exposure, and
# `gpu_small.yaml` is sized for one GPU ({glue:md}`gpu_small_sizes`, the
# synthetic web). At {glue:text}`gpu_mfu_pct:.0f`% of an H100's bf16 peak they take, in that
# order, {glue:text}`gpu_ladder_hours:,.0f`, {glue:text}`gpu_ladder_matched_hours:,.0f` and
# {glue:text}`gpu_small_hours:,.1f` GPU-hours. On a machine with GPUs, or a Slurm
# cluster:
#
# ```bash
# python -m runners.sweep runners/configs/gpu_ladder.yaml --dry-run --gpu H100 --mfu 0.35
# python -m runners.sweep runners/configs/gpu_small.yaml --device cuda
# python -m runners.sweep runners/configs/gpu_ladder.yaml --executor slurm --partition gpu --nodes 2
# ```
#
# Every size trains with one precision policy, replicated (DDP) or sharded (FSDP2, with
# `shard: true` or where a size's state does not fit one GPU): {glue:md}`precision_policy` So a
# size that shards does not train with other numerics than its neighbours. Every forward, in
# training and in every measure, holds at most one micro-batch, which the memory model
# (`rarescale.pretrain.memory`) picks per size where the grid sets none; the dry run prints it.
# Each cell is one execution of `runners/olmo_pretrain.py` through papermill, resumable from
# its checkpoints in either layout, and writes an artifact keyed by its config; copying `artifacts/olmo_run/` back lets this
# chapter, with `sweep_file` set to a packed grid such as `gpu_small.yaml`, read it like the
# packed ladder (unpacked grids are read run by run with `rarescale.sweeps.grid.load_runs`).

# %% [markdown]
# ## In the claim ledger
#
# This chapter's rows of the front page's ledger, computed here at this chapter's parameters
# by the same function as the front page (`rarescale.book.ledger.chapter_rows`):

# %% tags=["remove-input"]
HTML(ledger.html(ledger.chapter_rows("04_olmo_validation", globals())))
