"""The pilot's choice rule (rarescale.sweeps.design), on planted pilots."""

import numpy as np
import pytest

from rarescale.book.report import sci
from rarescale.sweeps.design import choose_frequencies

F = [1e-2, 3e-3, 1e-3, 3e-4, 1e-4]


def test_separating_frequencies_are_chosen_and_widened_rarer_side_first():
    small = [1, 1, 0, 0, 0]  # the small size learns down to 3e-3
    large = [1, 1, 1, 1, 0]  # the large one down to 3e-4
    out = choose_frequencies(F, small, large, np.subtract(large, small), n=3)
    assert out["how"] == "separating" and out["separating"] == [1e-3, 3e-4]
    assert out["chosen"] == [1e-3, 3e-4, 1e-4]  # widened below, where the large one fails
    out = choose_frequencies(F, small, large, np.subtract(large, small), n=4)
    assert out["chosen"] == [3e-3, 1e-3, 3e-4, 1e-4]  # nothing rarer left: then above


def test_a_tie_in_log_distance_goes_to_the_rarer_frequency_whatever_the_rounding():
    # 2e-2 and 5e-3 are a factor 2 from 1e-2 each, but 2e-2 is nearer in floats (by 4e-16)
    f = [2e-2, 1e-2, 5e-3]
    out = choose_frequencies(f, [1, 0, 0], [1, 1, 0], [0, 1, 0], n=2)
    assert out["separating"] == [1e-2] and out["chosen"] == [1e-2, 5e-3]


def test_without_a_separating_frequency_the_largest_gaps_are_taken_and_said():
    small = [1, 1, 1, 0, 0]
    large = [1, 1, 1, 0, 0]
    gap = [0.0, 0.01, 0.2, 0.15, 0.02]
    out = choose_frequencies(F, small, large, gap, n=3)
    assert out["how"] == "largest gap" and out["separating"] == []
    assert out["chosen"] == [1e-3, 3e-4, 1e-4]


def test_frequencies_not_run_are_never_chosen_and_an_unlearned_task_is_flagged():
    nan = np.nan
    small = [nan, 0, 0, 0, nan]
    large = [nan, 0, 0, 0, nan]
    out = choose_frequencies(F, small, large, [nan, 0.1, 0.05, 0.0, nan], n=3)
    assert out["chosen"] == [3e-3, 1e-3, 3e-4] and not out["learnable"]


@pytest.mark.parametrize("seed", range(20))
def test_the_choice_is_a_set_of_run_frequencies_of_the_asked_size(seed):
    rng = np.random.default_rng(seed)
    small, large = rng.integers(0, 2, 5).astype(float), rng.integers(0, 2, 5).astype(float)
    out = choose_frequencies(F, small, large, rng.normal(size=5), n=3)
    assert len(out["chosen"]) == 3 and set(out["chosen"]) <= set(F)
    assert set(out["separating"]) <= set(out["chosen"]) or len(out["separating"]) > 3


class _Pilot:
    """A planted pilot: two sizes, one seed, two tasks over five frequencies, the first task
    not run at the commonest one (nan), as a sweep with per-task frequencies leaves it."""
    sizes, titles, frequencies = ["30K", "1M"], ["TCMP", "TADD"], np.array(F)

    def __init__(self):
        nan = np.nan
        acc = np.array([[[nan, 0.99, 0.60, 0.55, 0.50], [0.90, 0.30, 0.12, 0.10, 0.10]],
                        [[nan, 0.99, 0.95, 0.90, 0.60], [0.95, 0.80, 0.15, 0.11, 0.10]]])
        self.accuracy = acc[:, None]  # [size, seed, task, frequency]
        self._level = np.array([[0.85] * 5, [0.55] * 5])

    def level(self, margin):
        return self._level

    def learned(self, margin):
        return self.accuracy >= self._level


def test_the_pilot_choice_reads_each_task_at_its_own_frequencies():
    from rarescale.sweeps.design import pilot_choice
    from rarescale.book.chapter4 import pilot_choice_rows, pilot_choice_sentence

    choice = pilot_choice(_Pilot(), 0.5)
    cmp_, add = choice
    assert cmp_["frequencies"] == F[1:] and cmp_["index"] == [1, 2, 3, 4]
    assert cmp_["separating"] == [1e-3, 3e-4] and cmp_["chosen"] == [1e-3, 3e-4, 1e-4]
    assert add["separating"] == [3e-3] and add["chosen"] == [3e-3, 1e-3, 3e-4]  # 3e-4 and 1e-2 tie
    crossing = np.full((2, 1, 2, 5), np.nan)
    crossing[1, 0, 0, 2] = 1.5e6  # 1M crossed at 1e-3 after 1.5M tokens; 30K never did
    rows = pilot_choice_rows(choice, crossing)
    assert len(rows) == 4 + 5
    assert rows[1][1:] == [sci(1e-3), "0.850", "0.600", "0.950", "–", "1.50M", "chosen"]
    assert rows[0][-1] == "" and rows[0][0] == "TCMP" and rows[1][0] == ""
    said = pilot_choice_sentence(cmp_)
    assert said.startswith(f"TCMP at {sci(1e-3)}, {sci(3e-4)}, {sci(1e-4)} per token (1M learns")
    unlearned = {**add, "learnable": False}
    assert pilot_choice_sentence(unlearned) == "TADD: no size learns it at any frequency run, so it is replaced"
    assert {r[-1] for r in pilot_choice_rows([cmp_, unlearned], crossing)[4:]} == {"not learned: replaced"}


def test_the_main_sweep_runs_what_the_rule_chose_from_the_committed_pilot():
    """cpu_main.yaml's frequencies per task are design.pilot_choice's on the committed pilot, for
    every task the rule finds learnable; an unlearnable one is not in the main sweep."""
    from conftest import REPO
    from rarescale.sweeps import trends
    from rarescale.sweeps.design import pilot_choice
    from rarescale.sweeps.grid import Sweep
    from rarescale.store.artifacts import ArtifactError

    main = Sweep.from_yaml(REPO / "runners/configs/cpu_main.yaml")
    run = {t.title: sorted(f, reverse=True) for t, f in zip(main.tasks, main.task_frequencies)}
    for name in ("cpu_pilot", "cpu_pilot_add"):
        path = REPO / f"runners/configs/{name}.yaml"
        try:
            _, pilot = trends.load_ladder(path)
        except ArtifactError:  # a pilot stage still running: its task is not in main yet
            continue
        for c in pilot_choice(pilot, main.analysis.margin):
            if c["learnable"]:
                assert run[c["task"]] == c["chosen"], c["task"]
            else:
                assert c["task"] not in run


class _Main:
    """A planted main sweep at its smallest and largest sizes: five seeds, two tasks at one
    frequency each (accuracies at or above 0.5 count as learned)."""
    sizes, titles, frequencies = ("30K", "1M"), ["TCMP", "TADD"], np.array([1e-2, 1e-3])

    def __init__(self, small_learned, large_learned, seeds=5):
        nan = np.nan
        acc = np.full((2, seeds, 2, 2), nan)
        acc[:, :, 0, 1] = 0.4  # TCMP at 1e-3: nobody learns it
        acc[0, :, 1, 0] = [0.9] * small_learned + [0.3] * (seeds - small_learned)
        acc[1, :, 1, 0] = [0.9] * large_learned + [0.3] * (seeds - large_learned)
        self.accuracy = acc

    def learned(self, margin):
        return self.accuracy >= 0.5

    @property
    def ran(self):
        return np.isfinite(self.accuracy).any(axis=(0, 1))

    from rarescale.sweeps.trends import LadderResults
    frequency_index = LadderResults.frequency_index


@pytest.mark.parametrize("small, large, qualifies", [(0, 5, True), (1, 4, True), (2, 5, False),
                                                      (0, 3, False), (1, 5, True)])
def test_the_capacity_cell_needs_the_large_size_in_four_seeds_and_the_small_in_one(small, large, qualifies):
    from rarescale.sweeps.design import capacity_choice

    out = capacity_choice(_Main(small, large), 0.5, [("TADD", 1e-2), ("TCMP", 1e-3)])
    tadd, tcmp = out["rows"]
    assert (tadd["small_learned"], tadd["large_learned"], tadd["seeds"]) == (small, large, 5)
    assert tadd["qualifies"] is qualifies and tcmp["qualifies"] is False
    assert out["chosen"] == (tadd if qualifies else None)
    if not qualifies:
        assert out["how"].startswith("no candidate cell")


def test_the_capacity_choice_waits_for_every_seed_and_refuses_a_frequency_not_run():
    from rarescale.sweeps.design import capacity_choice

    few = _Main(0, 4)
    few.accuracy[:, 4] = np.nan  # the fifth seed has not landed
    out = capacity_choice(few, 0.5, [("TADD", 1e-2)])
    assert out["chosen"] is None and out["how"].startswith("waiting") and out["rows"][0]["seeds"] == 4
    with pytest.raises(ValueError, match="frequency"):
        capacity_choice(_Main(0, 5), 0.5, [("TADD", 3e-3)])
    with pytest.raises(ValueError, match="task"):
        capacity_choice(_Main(0, 5), 0.5, [("TMUL", 1e-2)])


def test_between_two_qualifying_cells_the_larger_difference_then_the_rarer_is_chosen():
    from rarescale.sweeps.design import capacity_choice

    res = _Main(1, 5)
    res.accuracy[0, :, 0, 1] = [0.9, 0.9, 0.3, 0.3, 0.3]
    res.accuracy[1, :, 0, 1] = 0.9  # TCMP at 1e-3: 2 against 5, does not qualify
    assert capacity_choice(res, 0.5, [("TADD", 1e-2), ("TCMP", 1e-3)])["chosen"]["task"] == "TADD"
    res.accuracy[0, :, 0, 1] = [0.9, 0.3, 0.3, 0.3, 0.3]  # now 1 against 5: as good as TADD, rarer
    assert capacity_choice(res, 0.5, [("TADD", 1e-2), ("TCMP", 1e-3)])["chosen"]["task"] == "TCMP"


def test_the_capacity_candidates_are_the_pilots_separating_cells_read_at_two_sizes():
    from conftest import REPO
    from rarescale.sweeps import trends
    from rarescale.sweeps.design import capacity_candidates, capacity_view, pilot_choice
    from rarescale.sweeps.grid import Sweep, cell_key

    main = Sweep.from_yaml(REPO / "runners/configs/cpu_main.yaml")
    choice = [c for name in ("cpu_pilot", "cpu_pilot_add")
              for c in pilot_choice(trends.load_ladder(REPO / f"runners/configs/{name}.yaml")[1],
                                    main.analysis.margin)]
    candidates = capacity_candidates(choice)
    assert candidates == [("TADD (20 values, mod 5)", 1e-2)]  # TCMP separated at no frequency; mod 10 unlearnable
    view = capacity_view(main, candidates)
    assert view.sizes == ("30K", "1M") and len(view.cells()) == 2 * 5
    assert {(c.tasks[0].spec.kind, c.tasks[0].rate) for c in view.cells()} == {("add", 1e-2)}
    main_keys = {cell_key(c) for c in main.cells()}
    assert {cell_key(c) for c in view.cells()} <= main_keys  # the same runs, not new ones


def test_a_restricted_view_of_a_committed_sweep_reads_back_with_its_other_task_unrun():
    from conftest import REPO
    from rarescale.sweeps.design import capacity_choice, capacity_view
    from rarescale.sweeps.grid import Sweep, load_runs
    from rarescale.sweeps.trends import ladder_results

    pilot = Sweep.from_yaml(REPO / "runners/configs/cpu_pilot.yaml")
    cell = [(pilot.tasks[0].title, 3e-3)]
    res = ladder_results(capacity_view(pilot, cell), load_runs(capacity_view(pilot, cell)))
    assert res.ran.sum() == 1 and res.ran[0, res.frequency_index(3e-3)]
    row = capacity_choice(res, 0.5, cell, seeds=1)["rows"][0]
    assert (row["small_learned"], row["large_learned"]) == (1, 1) and not row["qualifies"]
    assert row["large_accuracy"] == pytest.approx(0.97)


def test_the_capacity_choice_table_and_sentence_say_what_the_rule_did():
    from rarescale.book.report import sci
    from rarescale.sweeps.design import capacity_choice
    from rarescale.book.chapter4 import capacity_choice_rows, capacity_choice_sentence

    out = capacity_choice(_Main(1, 5), 0.5, [("TADD", 1e-2), ("TCMP", 1e-3)])
    rows = capacity_choice_rows(out)
    assert rows[0] == ["TADD", sci(1e-2), "5", "1 of 5", "5 of 5", "0.420", "0.900", "chosen"]
    assert rows[1][-1] == "no"
    assert capacity_choice_sentence(out) == (f"The capacity test runs at TADD, {sci(1e-2)} per token: "
                                             "1M learned it in 5 of 5 seeds and 30K in 1.")
    tie = _Main(1, 5)
    tie.accuracy[0, :, 1, 1] = 0.3
    tie.accuracy[1, :, 1, 1] = [0.9, 0.9, 0.9, 0.9, 0.3]  # TADD at 1e-3: 4 against 0, rarer
    said = capacity_choice_sentence(capacity_choice(tie, 0.5, [("TADD", 1e-2), ("TADD", 1e-3)]))
    assert said.startswith(f"The capacity test runs at TADD, {sci(1e-3)} per token: 1M learned it in 4 of 5")
    assert said.endswith(f"; TADD at {sci(1e-2)} (1M 5 of 5, 30K 1) qualifies too, with the same difference "
                         "of 4 seeds, and between equals the rule takes the rarer frequency.")
    none = capacity_choice(_Main(3, 5), 0.5, [("TADD", 1e-2)])
    assert capacity_choice_sentence(none).startswith("No cell is chosen: no candidate cell has 1M")


def test_the_capacity_design_second_stage_runs_the_candidate_task_at_its_commoner_multiples():
    """cpu_capacity_design.yaml is the rule's second stage: the pilot's separating task at
    CAPACITY_SECOND_STAGE times its separating frequency, at the main sweep's smallest and largest
    sizes and seeds, with the main sweep's run block (one instance per sequence no longer fits)."""
    from conftest import REPO
    from rarescale.sweeps import trends
    from rarescale.sweeps.design import CAPACITY_SECOND_STAGE, capacity_candidates, pilot_choice
    from rarescale.sweeps.grid import Sweep

    main = Sweep.from_yaml(REPO / "runners/configs/cpu_main.yaml")
    stage = Sweep.from_yaml(REPO / "runners/configs/cpu_capacity_design.yaml")
    choice = pilot_choice(trends.load_ladder(REPO / "runners/configs/cpu_pilot_add.yaml")[1], main.analysis.margin)
    (title, f), = capacity_candidates(choice)
    assert [t.title for t in stage.tasks] == [title] and stage.tasks[0] in main.tasks
    assert sorted(stage.frequencies) == pytest.approx(sorted(k * f for k in CAPACITY_SECOND_STAGE))
    assert sorted(stage.task_cells()) == sorted((title, g) for g in stage.frequencies)
    assert stage.sizes == (main.sizes[0], main.sizes[-1]) and stage.seeds == main.seeds
    assert {k: v for k, v in stage.run.items() if k != "per_sequence"} == main.run
    assert stage.analysis.margin == main.analysis.margin and not stage.pack


def test_the_capacity_sweep_built_for_a_chosen_cell_measures_exact_multiples_of_the_base():
    """design.capacity_sweep: the small size at 8× the base budget, branches at exactly 1×, 2×,
    4×, 8× of the base run's steps, its warmup in steps, the same task and frequency, compared
    with the source sweep; the file it describes loads, and its 1× branch is the base run's length."""
    from conftest import REPO
    from rarescale.sweeps.design import capacity_sweep
    from rarescale.sweeps.grid import Sweep

    source = Sweep.from_yaml(REPO / "runners/configs/cpu_capacity_design.yaml")
    chosen = {"task_index": 0, "frequency": 2e-2}
    d = capacity_sweep(chosen, source, "runners/configs/cpu_capacity_design.yaml")
    sweep = Sweep.from_dict(d, "capacity.yaml")
    cell, base = sweep.cells()[0], source.cells()[0]
    assert len(sweep.cells()) == len(source.seeds) and {c.size for c in sweep.cells()} == {"30K"}
    assert cell.budget_steps() == [base.steps * k for k in (1, 2, 4, 8)]
    assert round(cell.warmup * cell.steps) == round(base.warmup * base.steps)
    assert cell.tasks[0].spec == base.tasks[0].spec and cell.tasks[0].rate == 2e-2
    assert cell.per_sequence == base.per_sequence and cell.forgetting_steps == 0
    assert sweep.analysis.statistic == "capacity gap" and sweep.analysis.budget == 8
    assert sweep.analysis.compare_with == "runners/configs/cpu_capacity_design.yaml"
    with pytest.raises(ValueError, match="power of two"):
        capacity_sweep(chosen, source, "x.yaml", budget=6)


def _completions(res):
    """Every way the missing seeds of ``res`` could land: each learned (0.9) or not (0.3)."""
    from itertools import product

    missing = [i for i in zip(*np.nonzero(np.isnan(res.accuracy))) if i[2] == 1 or i[3] == 1]
    for values in product((0.9, 0.3), repeat=len(missing)):
        acc = res.accuracy.copy()
        for i, v in zip(missing, values):
            acc[i] = v
        out = _Main(0, 0)
        out.accuracy = acc
        yield out


@pytest.mark.parametrize("missing", [
    {(1, 4, 1, 0): None},                                 # the large size's fifth seed at TADD
    {(1, 3, 1, 0): None, (1, 4, 1, 0): None},             # two of them
    {(0, 4, 1, 0): None, (1, 4, 0, 1): None, (1, 3, 0, 1): None},  # across both candidates
])
@pytest.mark.parametrize("small, large", [(0, 5), (1, 3), (1, 4), (0, 4), (2, 5)])
def test_the_choices_still_possible_are_those_of_every_landing_of_the_missing_seeds(small, large, missing):
    """capacity_choice's ``possible`` (counts of seeds learned) against brute force: the rule run
    on every completion of the missing seeds, each learned or not."""
    from rarescale.sweeps.design import capacity_choice

    cells = [("TADD", 1e-2), ("TCMP", 1e-3)]
    res = _Main(small, large)
    res.accuracy[0, :, 0, 1] = [0.9, 0.3, 0.3, 0.3, 0.3]
    res.accuracy[1, :, 0, 1] = [0.9, 0.9, 0.9, 0.3, 0.9]  # TCMP at 1e-3: 1 against 4
    for i in missing:
        res.accuracy[i] = np.nan
    brute = set()
    for done in _completions(res):
        chosen = capacity_choice(done, 0.5, cells)["chosen"]
        brute.add(None if chosen is None else (chosen["task"], chosen["frequency"]))
    assert set(capacity_choice(res, 0.5, cells)["possible"]) == brute


def test_a_choice_no_landing_can_change_is_settled_before_the_last_seed():
    """The second stage's state with one seed of 1M to land at each frequency: at the rarer, 30K
    0 of 5 and 1M 4 of 4; at the commoner, 30K 1 of 5 and 1M 4 of 4. The rarer qualifies whatever
    its last seed does, and wins or ties (then wins as the rarer) whatever the commoner's does."""
    from rarescale.sweeps.design import capacity_choice

    res = _Main(1, 4)  # "TADD" at 1e-2 plays the commoner frequency
    res.accuracy[1, 4, 1, 0] = np.nan
    res.accuracy[:, :, 0, :] = np.nan
    res.accuracy[0, :, 1, 1] = 0.3  # "TADD" at 1e-3 plays the rarer: 30K 0 of 5
    res.accuracy[1, :, 1, 1] = [0.9, 0.9, 0.9, 0.9, np.nan]
    cells = [("TADD", 1e-2), ("TADD", 1e-3)]
    out = capacity_choice(res, 0.5, cells)
    assert out["chosen"] is None and out["how"].startswith("waiting")
    assert out["possible"] == [("TADD", 1e-3)]
    res.accuracy[1, 4, 1, 0] = 0.9  # the commoner complete and qualifying (5 against 1) ...
    out = capacity_choice(res, 0.5, cells)
    assert out["rows"][0]["qualifies"] and out["chosen"] is None  # ... is not chosen while the rarer lands
    assert out["possible"] == [("TADD", 1e-3)]
    res.accuracy[1, 4, 1, 0] = np.nan
    res.accuracy[1, 3, 1, 1] = 0.3  # the rarer at 3 of 4: its last seed now decides
    assert sorted(capacity_choice(res, 0.5, cells)["possible"], key=str) == [("TADD", 1e-3), ("TADD", 1e-2)]


def test_the_capacity_sweep_file_is_the_one_the_rule_chose():
    """cpu_capacity_8x.yaml, committed before its runs: design.capacity_sweep's sweep for the one
    choice capacity_choice can make over the second stage's cells (the rule over the committed
    runs of cpu_capacity_design.yaml)."""
    from conftest import REPO
    from rarescale.sweeps import trends
    from rarescale.sweeps.design import capacity_choice, capacity_sweep
    from rarescale.sweeps.grid import Sweep, load_runs

    source_file = "runners/configs/cpu_capacity_design.yaml"
    source = Sweep.from_yaml(REPO / source_file)
    res = trends.ladder_results(source, load_runs(source))  # every cell: the file waits for them
    cells = source.task_cells()
    out = capacity_choice(res, source.analysis.margin, cells)
    (chosen,) = out["possible"]  # settled: no seed still landing can change it
    assert chosen is not None
    if out["chosen"] is not None:  # every seed in: the rule's own choice
        assert (out["chosen"]["task"], out["chosen"]["frequency"]) == chosen
    row = next(r for r in out["rows"] if (r["task"], r["frequency"]) == chosen)
    made = Sweep.from_dict(capacity_sweep(row, source, source_file, name="cpu_capacity_8x"), "made")
    committed = Sweep.from_yaml(REPO / "runners/configs/cpu_capacity_8x.yaml")
    assert committed.cells() == made.cells() and committed.analysis == made.analysis
    assert len(committed.seeds) >= 5 and committed.analysis.budget >= 8


def test_below_chance_p_is_the_binomial_tail_and_holds_its_level_under_guessing():
    """trends.below_chance_p against the sum of binomial terms, and under guessing at chance
    (the null) it falls below 0.05 in at most 5% of simulated runs."""
    from math import comb

    from rarescale.sweeps.trends import below_chance_p

    n, chance = 200, 0.2
    for k in (7, 30, 40):
        exact = sum(comb(n, i) * chance ** i * (1 - chance) ** (n - i) for i in range(k + 1))
        assert below_chance_p(k / n, n, chance) == pytest.approx(exact, rel=1e-9)
    rng = np.random.default_rng(0)
    guesses = rng.binomial(n, chance, 20_000) / n
    assert np.mean([below_chance_p(a, n, chance) < 0.05 for a in guesses]) <= 0.05
    assert below_chance_p(0.035, n, chance) < 1e-8  # 7 of 200: far below guessing


def test_below_chance_holds_its_family_level_over_ten_runs_and_finds_a_planted_one():
    """trends.below_chance over ten runs guessing at chance (the null): some run is called
    below chance in at most 5% of simulated families (Holm), while testing the lowest alone
    would call one far more often; one run at 7 of 200 among nine guessing is found."""
    from rarescale.sweeps.trends import below_chance, below_chance_p

    n, chance, rng = 200, 0.2, np.random.default_rng(1)
    families = rng.binomial(n, chance, (4000, 10)) / n
    called = np.mean([below_chance(f, n, chance)["below"].any() for f in families])
    naive = np.mean([below_chance_p(f.min(), n, chance) < 0.05 for f in families])
    assert called <= 0.05 and naive > 0.2
    planted = families[0].copy()
    planted[3] = 7 / n
    found = below_chance(planted.reshape(2, 5), n, chance)
    assert found["below"].reshape(-1)[3] and found["p_adjusted"].shape == (2, 5)
    assert np.isnan(below_chance([np.nan, 0.035], n, chance)["p"][0])
