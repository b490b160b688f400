"""Verdicts that can fail (C18-C20): a planted size effect is found, a null one is not; the
shortcut baseline and the probes' control measure what they claim to."""

import numpy as np
import pytest

from rarescale.olmo import measures
from rarescale.olmo.tasks import TaskSpec, draw_tasks, one_operand_rule
from rarescale.verdicts import NOT_SHOWN, SUPPORTED, size_trend

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
