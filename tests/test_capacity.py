"""Capacity or speed (C4, C5): the saturation fit and the verdict on planted curves."""

import numpy as np
import pytest

from rarescale.sweeps.capacity import (APPROACH, NOT_SHOWN, PLATEAU, capacity_frequencies,
                                       capacity_verdict, saturation_fit)
from rarescale.verdicts import mean_shift
from rarescale.sweeps.grid import Sweep

TOKENS = np.array([1.5e6, 3e6, 6e6, 12e6])
CHANCE, LEARNED = 0.5, 0.75


def saturating(level, scale, start=CHANCE):
    return level - (level - start) * np.exp(-TOKENS / scale)


def seeds(curve, noise=0.01, n=3, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(curve + noise * rng.standard_normal((n, len(curve))), 0, 1)


def test_saturation_fit_recovers_a_planted_level_and_scale():
    level, scale = saturation_fit(TOKENS, saturating(0.85, 2e6), CHANCE)
    assert level == pytest.approx(0.85, abs=1e-3)
    assert scale == pytest.approx(2e6, rel=0.05)


def test_a_planted_plateau_below_the_large_model_is_found():
    small = seeds(saturating(0.62, 0.8e6), seed=1)
    large = seeds(saturating(0.92, 1e6), seed=2)
    v = capacity_verdict(TOKENS, small, large, CHANCE, LEARNED)
    assert v.verdict == PLATEAU
    assert v.level_small.low < 0.62 < v.level_small.high
    assert v.gap.low > 0.2 and v.gain_small.high < 0.02


def test_a_curve_still_rising_is_not_called_a_plateau():
    # +0.07 per doubling of tokens, still far below the large size at the last budget
    small = seeds(0.55 + 0.07 * np.log2(TOKENS / TOKENS[0]), seed=3)
    large = seeds(saturating(0.92, 1e6), seed=4)
    v = capacity_verdict(TOKENS, small, large, CHANCE, LEARNED)
    assert v.verdict == NOT_SHOWN and "still rising" in v.reason
    assert v.gain_small.low > 0.04


def test_a_small_model_reaching_the_large_ones_level_approaches_it():
    small = seeds(saturating(0.92, 2e6), noise=0.003, seed=5)
    large = seeds(saturating(0.92, 0.5e6), noise=0.003, seed=6)
    assert capacity_verdict(TOKENS, small, large, CHANCE, LEARNED).verdict == APPROACH


def test_nothing_is_claimed_when_the_large_model_does_not_learn_the_task():
    small = seeds(saturating(0.55, 1e6), seed=7)
    large = seeds(saturating(0.6, 1e6), seed=8)
    v = capacity_verdict(TOKENS, small, large, CHANCE, LEARNED)
    assert v.verdict == NOT_SHOWN and "does not learn" in v.reason


def test_the_same_curves_for_both_sizes_are_not_a_plateau_below():
    both = saturating(0.7, 1e6)
    v = capacity_verdict(TOKENS, seeds(both, seed=9), seeds(both, seed=10), CHANCE, 0.6)
    assert v.verdict != PLATEAU and v.gap.low < 0 < v.gap.high


def test_mean_shift_finds_a_planted_shift_and_not_a_null():
    rng = np.random.default_rng(0)
    a = 0.7 + 0.02 * rng.standard_normal(5)
    shifted = mean_shift(a, 0.8 + 0.02 * rng.standard_normal(3))
    assert 0.05 < shifted.low and shifted.value == pytest.approx(0.1, abs=0.03)
    # under the null the interval holds 0 in at least 95% of draws (exact test; some slack)
    covered = [mean_shift(x[:5], x[5:]).low <= 0 <= mean_shift(x[:5], x[5:]).high
               for x in 0.7 + 0.02 * rng.standard_normal((300, 8))]
    assert np.mean(covered) >= 0.93


def test_the_capacity_sweep_runs_at_the_frequencies_its_comment_derives_from_the_ladder():
    from rarescale.sweeps.trends import load_ladder

    _, ladder = load_ladder("runners/configs/cpu_ladder.yaml")
    sweep = Sweep.from_yaml("runners/configs/cpu_capacity.yaml")
    assert [f for (f,) in sweep.task_frequencies] == capacity_frequencies(ladder, 0.5) == [3e-4, 1e-3]
    assert [t.kind for t in sweep.tasks] == [t.kind for t in ladder.tasks]
    small, large = (c.model.non_embedding_params() for c in (sweep.cells()[0], sweep.cells()[-1]))
    assert large >= 8 * small
    assert min(c.tokens for c in sweep.cells()) >= 4 * 3_000_000


def _synthetic_results():
    from rarescale.sweeps.capacity import CapacityResults
    from rarescale.pretrain.tasks import TaskSpec

    small = seeds(saturating(0.62, 0.8e6), seed=11)
    large = seeds(saturating(0.92, 1e6), seed=12)
    acc = np.stack([small, large])[:, :, None]  # [size, seed, task, budget]
    stable = tuple(tuple(({"tokens": np.array([0.0, 1e6, 1e7]), "accuracy": np.array([0.5, 0.6, 0.7])},)
                         for _ in range(3)) for _ in range(2))
    return CapacityResults(
        sizes=("12K", "100K"), params=np.array([12_496, 111_216]), seeds=(0, 1, 2),
        tasks=(TaskSpec("cmp", n_values=20, n_instances=400),), frequencies=np.array([3e-4]),
        tokens=TOKENS, accuracy=acc, accuracy_hard=acc, exposures=acc * 0 + TOKENS * 3e-4,
        shortcut=np.array([0.73]), stable=stable, wall_time_s=np.ones((2, 3, 1)))


def test_capacity_results_give_the_verdict_and_the_figure_of_a_planted_plateau():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rarescale.sweeps.capacity import verdict_rows
    from rarescale.book.chapter4 import fig_capacity

    res = _synthetic_results()
    assert res.baseline[0] == 0.73 and res.level(0.5)[0] == pytest.approx(0.865)
    # the large size (0.92) learns the task (above 0.865); the small one levels off at 0.62
    assert res.verdict(0, 0.5).verdict == PLATEAU
    (row,) = verdict_rows(res, 0.5)
    assert row[0].startswith("TCMP") and row[-1] == PLATEAU
    fig, axes = plt.subplots(1, 2)
    fig_capacity(axes, res, 0, 0.5)
    assert axes[0].get_xlabel().startswith("training tokens") and axes[1].get_xlabel() == "instances injected"
    assert axes[0].get_ylabel().startswith("held-out accuracy")
    assert len(axes[0].get_legend_handles_labels()[0]) >= 2
    plt.close(fig)


def test_the_packing_reading_follows_the_intervals():
    from rarescale.sweeps.capacity import packing_reading
    from rarescale.verdicts import ConfidenceInterval

    below, null = ConfidenceInterval(-0.2, -0.3, -0.1), ConfidenceInterval(0.0, -0.1, 0.1)
    assert packing_reading([below, below]).startswith("every copy learns less alone")
    assert packing_reading([below, null]).startswith("1 of 2 copies learn less alone and 0 more")
    assert packing_reading([null]).startswith("no copy's accuracy differs")


# --------------------------------------------------------------------------- the capacity test

BASE = 3_000_320
MULTIPLES = np.array([1, 2, 4, 8])


class _Main:
    """A planted main sweep: 30K and 1M, five seeds, TADD at 1e-2 (and 3e-3, not read)."""

    def __init__(self, large, small_cosine):
        from rarescale.pretrain.tasks import TaskSpec

        self.tasks = (TaskSpec("add", n_values=20, modulus=5, n_instances=400, split="balanced"),)
        self.titles, self.sizes = [t.title for t in self.tasks], ("30K", "250K", "1M")
        self.frequencies, self.tokens = np.array([1e-2, 3e-3]), np.full(3, BASE)
        self.accuracy = np.full((3, 5, 1, 2), 0.2)
        self.accuracy[-1, :, 0, 0], self.accuracy[0, :, 0, 0] = large, small_cosine
        self.ran, self.baseline = np.ones((1, 2), bool), np.full((1, 2), 0.2)

    def level(self, margin):
        return self.baseline + margin * (1 - self.baseline)

    from rarescale.sweeps.trends import LadderResults
    frequency_index = LadderResults.frequency_index


def _cap(small):
    """A planted capacity sweep: 30K alone at budgets 1x…8x of the base."""
    return type("Cap", (), dict(sizes=("30K",), tasks=_Main(0, 0).tasks, titles=_Main(0, 0).titles,
                                frequencies=np.array([1e-2]), tokens=MULTIPLES * BASE,
                                accuracy=np.asarray(small, float)[None, :, None]))()


def _analysis(**kw):
    from rarescale.sweeps.grid import Analysis
    return Analysis(statistic="capacity gap", compare_with="main.yaml", **kw)


def test_the_capacity_test_finds_a_planted_gap_at_eight_times_the_budget():
    from rarescale.sweeps.capacity import capacity_test
    from rarescale.verdicts import REACHES, STAYS_BELOW

    rng = np.random.default_rng(3)
    small = 0.3 + 0.03 * np.arange(4) + 0.02 * rng.standard_normal((5, 4))  # 0.39 at 8x
    large = 0.9 + 0.02 * rng.standard_normal(5)
    out = capacity_test(_cap(small), _Main(large, 0.3 + 0.02 * rng.standard_normal(5)), _analysis())
    assert out.registered.verdict == STAYS_BELOW and out.registered.low > 0.4
    assert out.registered.gap == pytest.approx(large.mean() - small[:, 3].mean())
    labels = [label for label, _ in out.alternatives]
    assert labels == ["small at 1x", "small at 2x", "small at 4x", "margin 0.025", "margin 0.1"]
    assert out.robust_share == 1.0 and out.multiples.tolist() == [1, 2, 4, 8]
    # the small size catching up by 8x is found the other way
    small[:, 3] = 0.93 + 0.02 * rng.standard_normal(5)
    caught = capacity_test(_cap(small), _Main(large, small[:, 0]), _analysis())
    assert caught.registered.verdict == REACHES and caught.robust_share < 1.0  # not at 1x, 2x, 4x


def test_the_capacity_test_names_what_it_cannot_read():
    from rarescale.sweeps.capacity import capacity_test

    small, main = np.full((5, 4), 0.5), _Main(0.9, 0.5)
    with pytest.raises(ValueError, match=r"no budget at 16x the base .*1.00x, 2.00x, 4.00x, 8.00x"):
        capacity_test(_cap(small), main, _analysis(budget=16))
    cap = _cap(small)
    cap.frequencies = np.array([1e-3])
    with pytest.raises(ValueError, match="did not run"):
        capacity_test(cap, main, _analysis())


def test_the_schedule_check_is_the_branch_minus_the_cosine_run_at_the_base_budget():
    from rarescale.sweeps.capacity import capacity_test

    rng = np.random.default_rng(4)
    small = 0.5 + 0.01 * rng.standard_normal((5, 4))
    cosine = small[:, 0] - 0.1
    shift = capacity_test(_cap(small), _Main(np.full(5, 0.9), cosine), _analysis()).schedule_shift
    assert shift.value == pytest.approx(0.1) and shift.low > 0.05


def test_the_capacity_analysis_names_its_comparison_and_only_there():
    from rarescale.sweeps.grid import Analysis
    from rarescale.validation import ConfigError

    with pytest.raises(ConfigError, match="compare_with"):
        Analysis(statistic="capacity gap")
    with pytest.raises(ConfigError, match="compare_with"):
        Analysis(compare_with="main.yaml")
    with pytest.raises(ConfigError, match="statistic"):
        Analysis(statistic="t test")
    with pytest.raises(ConfigError, match="budget"):
        _analysis(budget=1)


def test_the_saturation_time_constant_never_exceeds_the_run():
    # a straight climb: unbounded, the fit would take tau far past the run and L far above the data
    tokens = MULTIPLES * BASE
    level, tau = saturation_fit(tokens, 0.2 + 0.05 * np.arange(4), 0.2)
    assert tau <= tokens.max() and level <= 1.0
    level, tau = saturation_fit(tokens, 0.7 - 0.5 * np.exp(-tokens / (1.5 * BASE)), 0.2)
    assert level == pytest.approx(0.7, abs=2e-3) and tau == pytest.approx(1.5 * BASE, rel=0.02)


def test_the_capacity_sentence_states_the_gap_its_interval_both_p_values_and_the_agreement():
    from rarescale.sweeps.capacity import capacity_test, capacity_test_sentence

    rng = np.random.default_rng(5)
    small = 0.3 + 0.02 * rng.standard_normal((5, 4))
    large = 0.9 + 0.02 * rng.standard_normal(5)
    test = capacity_test(_cap(small), _Main(large, small[:, 0]), _analysis())
    said = capacity_test_sentence(test)
    g = test.registered
    assert said.startswith(f"1M at the base budget against 30K at 8×: a gap of {g.gap:+.3f} [{g.low:+.3f}, ")
    assert f"p = {g.p_below:.3f}" in said and f"{g.p_reaches:.3f} that it is below 0.05" in said
    assert "**stays below**, the verdict of 5 of the 5 alternatives" in said


def test_the_capacity_reading_counts_the_seeds_that_learn_and_lose_the_task():
    """capacity_test_reading on a planted test: the seeds at or above the learned level (0.6 here:
    baseline 0.2, margin 0.5) per budget, the large size's, a seed that learns at 4x and loses it
    at 8x, and the small seeds within the margin of the large mean at the registered budget."""
    from rarescale import verdicts
    from rarescale.sweeps.capacity import VERDICT_MEANING, capacity_test, capacity_test_reading

    small = np.full((5, 4), 0.3)
    small[0] = [0.3, 0.3, 0.7, 0.88]   # learns at 4x and keeps it; within 0.05 of the large mean at 8x
    small[1] = [0.3, 0.65, 0.7, 0.4]   # learns at 2x, loses it at 8x
    large = np.array([0.9, 0.92, 0.9, 0.5, 0.91])  # 4 of 5 learn it
    test = capacity_test(_cap(small), _Main(large, small[:, 0]), _analysis())
    assert test.learned_level == pytest.approx(0.6)
    said = capacity_test_reading(test)
    assert said.startswith(VERDICT_MEANING[test.registered.verdict].format(budget="8×"))
    assert "30K learns the task (held-out accuracy at least 0.60) in 0 at 1×, 1 at 2×, 2 at 4×, 1 at 8×" in said
    assert "1M in 4 of 5 at 1×" in said
    assert "1 of the small size's seeds learns it at one budget and loses it at a longer one" in said
    assert "At 8×, 1 of the 5 small seeds comes within 0.05 of 1M's mean" in said
    # every verdict the test can return has its meaning, naming the budget
    assert set(VERDICT_MEANING) == {verdicts.STAYS_BELOW, verdicts.REACHES, verdicts.WITHIN,
                                    verdicts.UNDECIDED}
    assert all("{budget}" in m for m in VERDICT_MEANING.values())


def test_a_capacity_sweep_written_by_the_design_reads_back_against_its_compared_sweep(tmp_path, monkeypatch):
    """End to end, with tiny real runs: a compared sweep (two sizes, two seeds, cosine), the
    capacity sweep design.capacity_sweep writes for a chosen cell of it (the small size at 2x,
    warmup-stable-decay branches), trained and saved as the sweep runner does; then
    load_capacity_test reads both: the small size's base branch is the compared run's length,
    the large size's accuracies are the compared sweep's, and the verdict is one of the three."""
    import yaml

    from rarescale.sweeps import grid
    from rarescale.sweeps.capacity import load_capacity_test
    from rarescale.sweeps.design import capacity_sweep
    from rarescale.pretrain.train import train
    from rarescale.verdicts import REACHES, STAYS_BELOW, UNDECIDED, WITHIN

    monkeypatch.setenv("RARESCALE_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("RARESCALE_DATA", str(tmp_path / "data"))
    compared = {"name": "compared", "sizes": ["30K", "100K"], "seeds": [0, 1], "frequencies": [1 / 64],
                "tasks": [{"kind": "add", "n_values": 6, "modulus": 3, "n_instances": 36, "split": "balanced"}],
                "pack": False, "task_seeds": "own",
                "run": {"vocab_size": 256, "seq_len": 16, "batch": 8, "tokens": 16 * 8 * 24,
                        "corpus_tokens": 100_000, "holdout": 16, "eval_points": 3,
                        "eval_instances": 16, "forgetting_steps": 2, "checkpoint_every": 100},
                "analysis": {"margin": 0.5}}
    compared_file = tmp_path / "compared.yaml"
    compared_file.write_text(yaml.safe_dump(compared))
    source = grid.Sweep.from_yaml(compared_file)
    d = capacity_sweep({"task_index": 0, "frequency": 1 / 64}, source, str(compared_file), budget=2, name="cap")
    cap_file = tmp_path / "cap.yaml"
    cap_file.write_text(yaml.safe_dump(d))
    for sweep in (source, grid.Sweep.from_yaml(cap_file)):
        for cell in sweep.cells():
            result, arrays = train(cell, tmp_path / "runs" / grid.cell_key(cell), progress=False)
            grid.save_run(cell, result, arrays, 1.0)
    _, cap, test = load_capacity_test(cap_file)
    assert cap.sizes == ("30K",) and list(test.multiples) == pytest.approx([1, 2])
    assert test.large.shape == (2,) and test.small.shape == (2, 2)
    compared_runs = grid.load_runs(source)
    large = [r.result["final"]["test_acc_labels"][0] for r in compared_runs if r.config["size"] == "100K"]
    assert list(test.large) == pytest.approx(large)
    assert test.registered.verdict in {STAYS_BELOW, REACHES, WITHIN, UNDECIDED}
    assert len(test.alternatives) == 1 + 2  # the other budget, and the two other margins


def test_the_capacity_test_figure_draws_every_seed_and_is_readable():
    """figures.fig_capacity_test on a planted test: each small seed a line over the budgets, each
    large seed and each small cosine seed a marker at the base budget; labelled axes, ticks on
    both, a legend clear of the data (rarescale.book.report.figure_problems)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rarescale.book.report import figure_problems
    from rarescale.sweeps.capacity import capacity_test
    from rarescale.book.chapter4 import fig_capacity_test

    rng = np.random.default_rng(2)
    small = 0.3 + 0.05 * np.arange(4) + 0.02 * rng.standard_normal((5, 4))
    test = capacity_test(_cap(small), _Main(0.9 + 0.02 * rng.standard_normal(5), small[:, 0]), _analysis())
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    fig_capacity_test(ax, test)
    assert figure_problems(fig) == []
    seeds = [line for line in ax.get_lines() if len(line.get_xdata()) == 4]
    assert len(seeds) == 5 + 1  # five seeds and their mean
    np.testing.assert_allclose(seeds[-1].get_ydata(), small.mean(0))
    markers = [line for line in ax.get_lines() if line.get_linestyle() == "None"]
    assert sorted(len(m.get_xdata()) for m in markers) == [5, 5]
    plt.close(fig)
