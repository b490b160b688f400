"""Verdicts that can fail (C18-C20): a planted size effect is found, a null one is not; the
shortcut baseline and the probes' control measure what they claim to."""

import numpy as np
import pytest

from rarescale.pretrain import measures
from rarescale.pretrain.tasks import TaskSpec, draw_tasks, one_operand_rule
from rarescale.verdicts import ALPHA, NOT_SHOWN, SUPPORTED, adjust_family, holm, size_trend

PARAMS = np.array([3.3e4, 1.1e5, 2.6e5, 1.2e6])


def planted(slope, seeds=5, noise=0.05, seed=0):
    """[size, seed] values rising by ``slope`` per decade of parameters, with seed noise."""
    rng = np.random.default_rng(seed)
    return slope * np.log10(PARAMS)[:, None] + noise * rng.standard_normal((len(PARAMS), seeds))


def test_a_planted_size_effect_is_supported_in_its_direction_only():
    values = planted(0.2)
    up = size_trend(values, PARAMS, +1)
    assert up.verdict == SUPPORTED and up.low > 0 and up.low < 0.2 < up.high
    assert size_trend(values, PARAMS, -1).verdict == NOT_SHOWN
    assert size_trend(-values, PARAMS, -1).verdict == SUPPORTED


def test_shuffled_sizes_are_not_shown():
    """The planted values with sizes and seeds shuffled carry no size effect: across 40
    shuffles a verdict either way comes about as often as a 95% interval allows (5% a side)."""
    values = planted(0.2)
    supported = 0
    for seed in range(40):
        shuffled = np.random.default_rng(seed).permutation(values.ravel()).reshape(values.shape)
        supported += sum(size_trend(shuffled, PARAMS, d).verdict == SUPPORTED for d in (+1, -1))
    assert supported <= 8  # 4 expected of 80 one-sided tests


NOISES = {
    "gaussian": lambda rng, shape: rng.standard_normal(shape),
    "heavy-tailed": lambda rng, shape: rng.standard_t(3, shape) / np.sqrt(3.0),  # unit variance
    # the noisiest sizes at the ends, where the slope's weights are largest: the hardest case
    "unequal variance": lambda rng, shape: rng.standard_normal(shape) * np.array([3.0, 1.0, 1.0, 3.0])[:, None],
}


@pytest.mark.parametrize("noise", sorted(NOISES))
@pytest.mark.parametrize("seeds", [3, 5])
def test_a_null_ladder_is_supported_at_most_at_the_tests_level(noise, seeds):
    """2,000 ladders with no trend: "supported" in the claimed direction at most 5% of the time
    (the test's level is 2.5%); the 2,000 draws' binomial error is 0.35% at 2.5%."""
    rng = np.random.default_rng([seeds, len(noise)])
    supported = 0
    for _ in range(2000):
        values = NOISES[noise](rng, (len(PARAMS), seeds))
        supported += size_trend(values, PARAMS, +1, ordering=False).verdict == SUPPORTED
    assert supported / 2000 <= 0.05
    assert supported / 2000 <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / 2000) + 0.01


def test_a_planted_trend_of_one_noise_sd_per_decade_is_found_at_five_seeds():
    rng = np.random.default_rng(7)
    found = {}
    for seeds in (3, 5):
        hits = 0
        for _ in range(500):
            values = np.log10(PARAMS)[:, None] + rng.standard_normal((len(PARAMS), seeds))
            hits += size_trend(values, PARAMS, +1, ordering=False).verdict == SUPPORTED
        found[seeds] = hits / 500
    assert found[5] >= 0.5 and found[5] > found[3]


def test_the_ordering_test_finds_a_monotone_trend_and_not_a_shuffled_one():
    values = planted(0.2)
    trend = size_trend(values, PARAMS, +1)
    assert trend.steps == (3, 3) and trend.ordering_p < 0.01
    shuffled = np.random.default_rng(0).permutation(values.ravel()).reshape(values.shape)
    assert size_trend(shuffled, PARAMS, +1).ordering_p > 0.05 or \
        size_trend(shuffled, PARAMS, -1).ordering_p > 0.05


def test_a_slope_that_rests_on_one_step_says_so():
    """Flat from the second size on: the slope may pass while the ordering does not."""
    rng = np.random.default_rng(3)
    values = np.array([0.0, 1.0, 1.0, 1.0])[:, None] + 0.1 * rng.standard_normal((4, 5))
    trend = size_trend(values, PARAMS, +1)
    assert trend.verdict == SUPPORTED and trend.steps[0] < 3


def test_holm_adjusts_a_family_step_down():
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, np.nan]), [0.03, 0.06, 0.06, np.nan])
    assert holm([0.5])[0] == 0.5
    trends = [size_trend(planted(0.2, seed=s), PARAMS, +1, ordering=False) for s in range(3)]
    trends.append(size_trend(planted(0.0, seed=9), PARAMS, +1, ordering=False))
    adjusted = adjust_family(trends, "C18")
    assert all(a.p_adjusted >= t.p for a, t in zip(adjusted, trends))
    assert adjusted[0].family == "C18 (4 tests)"
    assert [a.verdict for a in adjusted[:3]] == [SUPPORTED] * 3


def test_a_family_of_nulls_is_supported_at_most_at_the_level_once_adjusted():
    """16 null tests adjusted together: any of them supported in at most 5% of 500 families."""
    rng = np.random.default_rng(11)
    any_supported = 0
    for _ in range(500):
        trends = [size_trend(rng.standard_normal((4, 5)), PARAMS, +1, ordering=False)
                  for _ in range(16)]
        any_supported += any(t.verdict == SUPPORTED for t in adjust_family(trends, "C"))
    assert any_supported / 500 <= 0.05


def test_a_size_without_a_defined_value_makes_no_verdict():
    values = planted(0.2)
    values[1] = np.nan
    trend = size_trend(values, PARAMS, +1)
    assert trend.verdict == NOT_SHOWN and np.isnan(trend.slope)


def test_c18_the_one_operand_shortcut_on_the_ladders_tasks():
    tcmp = draw_tasks([TaskSpec("cmp", 20, n_instances=400, seed=s) for s in range(6)], 4096, [0])
    tadd = draw_tasks([TaskSpec("add", 20, modulus=2, n_instances=400, seed=s) for s in range(6)],
                      4096, [0])
    for task in tcmp:  # reading one operand gets comparison mostly right
        assert one_operand_rule(task)["accuracy"] >= 0.7
    for task in tadd:  # and parity of a sum not at all
        assert abs(one_operand_rule(task)["accuracy"] - 0.5) < 0.1
    rule = one_operand_rule(tcmp[0])
    assert rule["correct"].shape == (len(tcmp[0].test),)
    assert rule["correct"].mean() == pytest.approx(rule["accuracy"])


def test_c19_control_selectivity_on_random_hidden_states_is_zero():
    """Random features hold no task structure: a probe and its control score alike."""
    rng = np.random.default_rng(0)
    gaps = []
    for seed in range(20):
        v = rng.integers(0, 20, size=400)
        relabel = np.random.default_rng(seed).permutation(20)
        features = measures.principal_components(rng.standard_normal((400, 64)))
        real = measures.probe_score(features, v, "ordinal", 20)
        control = measures.probe_score(features, relabel[v], "ordinal", 20)
        gaps.append(real - control)
    assert abs(np.mean(gaps)) < 0.02


def test_c19_a_probe_finds_an_ordinal_value_and_its_control_does_not():
    rng = np.random.default_rng(1)
    v = rng.integers(0, 20, size=400)
    features = np.c_[v + 0.5 * rng.standard_normal(400), rng.standard_normal((400, 40))]
    reduced = measures.principal_components(features)
    relabel = np.random.default_rng(3).permutation(20)
    assert measures.probe_score(reduced, v, "ordinal", 20) > 0.9
    assert measures.probe_score(reduced, relabel[v], "ordinal", 20) < 0.2


def test_chapter_4s_analysis_is_read_from_the_sweep_yaml_and_changes_the_verdicts(tmp_path):
    """The margin, probe frequency and layer come from the sweep file's ``analysis:`` block (no
    part of any run's key): a changed block loads the same runs and gives another table."""
    import yaml

    from conftest import REPO
    from rarescale.sweeps import trends

    registered = REPO / "runners/configs/cpu_ladder.yaml"
    sweep, res = trends.load_ladder(registered)
    assert sweep.analysis.margin == 0.5 and sweep.analysis.layer == 0.5
    changed = yaml.safe_load(registered.read_text())
    changed["analysis"] = {**changed["analysis"], "margin": 0.3, "layer": "best"}
    path = tmp_path / "cpu_ladder.yaml"
    path.write_text(yaml.safe_dump(changed))
    other, res_other = trends.load_ladder(path)  # the same artifacts: the cells did not change
    assert other.analysis.margin == 0.3
    before = trends.verdict_rows(trends.verdicts(res, sweep.analysis))
    after = trends.verdict_rows(trends.verdicts(res_other, other.analysis))
    assert len(before) == len(after) and before != after
    assert any("best layer" in row[1] for row in after) and not any("best layer" in row[1] for row in before)
    with pytest.raises(Exception, match="analysis.*margin"):
        changed["analysis"]["margin"] = 2
        path.write_text(yaml.safe_dump(changed))
        trends.load_ladder(path)


# ---------------------------------------------------------------------- capacity (C4, C5)

@pytest.mark.parametrize("noise", ["gaussian", "bounded"])
def test_capacity_gap_false_positive_rates_are_at_most_alpha_at_five_seeds(noise):
    """At each test's boundary (D = 0 for 'stays below', D = margin for 'reaches it'), the share
    of 2,000 simulated 5-vs-5 experiments that reject is at most alpha (plus binomial error)."""
    from rarescale.verdicts import ALPHA, capacity_gap

    rng = np.random.default_rng(0)

    def draw(mean, n=5):
        if noise == "gaussian":
            return mean + 0.05 * rng.standard_normal(n)
        return np.clip(mean + rng.uniform(-0.08, 0.08, n), 0, 1)

    n, margin = 2000, 0.05
    below = np.mean([capacity_gap(draw(0.8), draw(0.8), margin, interval=False).p_below <= ALPHA
                     for _ in range(n)])
    reach = np.mean([capacity_gap(draw(0.8), draw(0.8 - margin), margin, interval=False).p_reaches
                     <= ALPHA for _ in range(n)])
    slack = 2 * np.sqrt(ALPHA * (1 - ALPHA) / n)
    assert below <= ALPHA + slack and reach <= ALPHA + slack, (below, reach)


def test_capacity_gap_finds_a_planted_gap_and_a_planted_catch_up():
    from rarescale.verdicts import CAPACITY_MARGIN, REACHES, STAYS_BELOW, capacity_gap

    rng = np.random.default_rng(1)
    found = [capacity_gap(0.9 + 0.03 * rng.standard_normal(5), 0.6 + 0.03 * rng.standard_normal(5),
                          CAPACITY_MARGIN, interval=False).verdict for _ in range(200)]
    assert np.mean([v == STAYS_BELOW for v in found]) > 0.95
    caught = [capacity_gap(0.9 + 0.03 * rng.standard_normal(5), 0.95 + 0.03 * rng.standard_normal(5),
                           CAPACITY_MARGIN, interval=False).verdict for _ in range(200)]
    assert np.mean([v == REACHES for v in caught]) > 0.95
    g = capacity_gap([0.9, 0.92, 0.88, 0.91, 0.89], [0.6, 0.62, 0.58, 0.61, 0.59], CAPACITY_MARGIN)
    assert g.gap == pytest.approx(0.3) and 0 < g.low < g.gap < g.high
