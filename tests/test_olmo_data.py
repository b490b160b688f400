"""The OLMo pipeline's data side: injected tasks (C15), injection (C16), token corpora."""

import numpy as np
import pytest

from rarescale.pretrain.corpus import TokenCorpus, _Permutation, write_synthetic_web, write_tokens
from rarescale.pretrain.injection import InjectionSchedule, inject, plan_step
from rarescale.pretrain.tasks import TaskSpec, draw_tasks
from rarescale.validation import ConfigError

EOS = 0


def test_c15_tasks_bijection_labels_and_split():
    cmp_, add = draw_tasks([TaskSpec("cmp", seed=1), TaskSpec("add", modulus=100, seed=2)],
                           vocab_size=4096, reserved=[EOS])
    for task in (cmp_, add):
        assert len(set(task.value_tokens.tolist())) == 100  # a bijection onto 0..99
        np.testing.assert_array_equal(task.values(task.value_tokens), np.arange(100))
        assert EOS not in task.tokens
        assert len(task.train) == len(task.test) == 5000  # 10K instances, 50/50
        pairs = lambda x: {tuple(r) for r in x[:, :2].tolist()}  # noqa: E731
        assert not pairs(task.train) & pairs(task.test)  # held-out pairs never seen
        for inst in np.concatenate([task.train, task.test])[:500]:
            v1, v2 = task.values(inst[:2])
            expected = task.spec.label(v1, v2)
            if task.spec.kind == "cmp":
                assert inst[2] == task.label_tokens[expected]
            else:
                assert task.values([inst[2]])[0] == (v1 + v2) % 100
    assert not set(cmp_.tokens.tolist()) & set(add.tokens.tolist())  # disjoint token sets


def test_c15_tasks_are_stable_and_copies_disjoint():
    specs = [TaskSpec("add", n_values=20, modulus=7, n_instances=300, seed=s) for s in range(3)]
    a = draw_tasks(specs, vocab_size=512, reserved=[EOS])
    b = draw_tasks(specs, vocab_size=512, reserved=[EOS])
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.train, y.train)
        np.testing.assert_array_equal(x.test, y.test)
    tokens = [set(t.tokens.tolist()) for t in a]
    assert not (tokens[0] & tokens[1]) and not (tokens[1] & tokens[2])
    assert set(a[0].answer_tokens.tolist()) == set(a[0].value_tokens[:7].tolist())


@pytest.mark.parametrize("n_values, modulus", [(20, 10), (20, 5), (40, 10), (24, 3)])
def test_balanced_addition_split_leaves_one_operand_rules_at_chance(n_values, modulus):
    spec = TaskSpec("add", n_values=n_values, modulus=modulus, n_instances=n_values ** 2,
                    split="balanced", seed=3)
    task = draw_tasks([spec], vocab_size=512, reserved=[EOS])[0]
    assert len(task.train) == len(task.test) == n_values ** 2 // 2
    for part in (task.train, task.test):  # every value sees every label equally often, both sides
        for operand in (0, 1):
            v, y = task.values(part[:, operand]), task.values(part[:, 2])
            counts = np.zeros((n_values, modulus), int)
            np.add.at(counts, (v, y), 1)
            assert (counts == n_values // modulus // 2).all()
    assert abs(task.shortcut["accuracy"] - 1 / modulus) <= 0.03, task.shortcut
    # the random split of every pair gives each operand complementary label counts, and a
    # per-operand rule fitted on train falls below chance on test: what the balanced split cures
    random = draw_tasks([TaskSpec("add", n_values=20, modulus=2, n_instances=400, seed=3)],
                        vocab_size=512, reserved=[EOS])[0]
    assert random.shortcut["accuracy"] < 0.5 - 0.03 or random.shortcut["rule"] == "constant"


def test_a_balanced_task_is_the_same_task_wherever_it_sits_in_a_run():
    spec = TaskSpec("add", n_values=20, modulus=10, n_instances=400, split="balanced")
    alone = draw_tasks([spec], vocab_size=512, reserved=[EOS])[0]
    second = draw_tasks([TaskSpec("cmp", n_values=10, n_instances=100), spec], vocab_size=512,
                        reserved=[EOS])[1]
    for a, b in ((alone, second),):  # tokens differ (disjoint sets), values and labels do not
        for part in ("train", "test"):
            np.testing.assert_array_equal(a.values(getattr(a, part)), b.values(getattr(b, part)))


@pytest.mark.parametrize("kwargs, message", [
    (dict(kind="cmp", split="balanced"), r"split 'balanced' is for kind 'add'"),
    (dict(kind="add", n_values=20, modulus=3, n_instances=400, split="balanced"),
     r"needs n_values a multiple of twice the modulus \(6\)"),
    (dict(kind="add", n_values=20, modulus=10, n_instances=300, split="balanced"),
     r"n_instances must be n_values² = 400"),
    (dict(kind="mul"), r"TaskSpec\.kind must be one of 'add', 'cmp'"),
    (dict(kind="add", n_values=10, modulus=11), r"TaskSpec\.modulus must be an int in the range \[2, 10\]"),
    (dict(n_values=10, n_instances=101), r"TaskSpec\.n_instances must be an int in the range \[2, 100\]"),
])
def test_bad_task_specs(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        TaskSpec(**kwargs)


def test_vocabulary_too_small_for_the_tasks():
    with pytest.raises(ConfigError, match="vocab_size must leave 102 free tokens for task 1"):
        draw_tasks([TaskSpec("cmp"), TaskSpec("cmp")], vocab_size=200, reserved=[EOS])


@pytest.mark.parametrize("rate", [7.8e-3, 1e-4, 2.4e-6, 1e-8])
def test_c16_realised_frequency_equals_the_requested_rate(rate):
    sch = InjectionSchedule(rate=rate, batch=16, seq_len=64)  # at most 1/64 with one per sequence
    steps = 5000
    total = sum(sch.count(s) for s in range(steps))
    assert total == sch.total(steps)
    assert abs(total - rate * steps * 16 * 64) < 1  # within one instance over the run
    if rate * 16 * 64 < 1:  # below one per batch: single instances every few batches
        assert max(sch.count(s) for s in range(steps)) <= 1


def test_c16_injected_rows_hold_instance_and_eos_rest_untouched():
    task, = draw_tasks([TaskSpec("cmp", n_values=10, n_instances=60)], vocab_size=100, reserved=[EOS])
    schedules = [InjectionSchedule(rate=0.02, batch=8, seq_len=12),
                 InjectionSchedule(rate=0.01, batch=8, seq_len=12)]
    rng = np.random.default_rng(0)
    for step in range(20):
        plan = plan_step(schedules, step, [len(task.train)] * 2, seed=3)
        again = plan_step(schedules, step, [len(task.train)] * 2, seed=3)  # replayable
        for (rows, idx), (rows2, idx2) in zip(plan, again):
            np.testing.assert_array_equal(rows, rows2)
            np.testing.assert_array_equal(idx, idx2)
        rows = np.concatenate([r for r, _ in plan])
        assert len(set(rows.tolist())) == len(rows)  # distinct rows across tasks
        batch = rng.integers(1, 100, size=(8, 12))
        before = batch.copy()
        for r, idx in plan:
            inject(batch, r, task.train[idx], EOS)
            np.testing.assert_array_equal(batch[r, :3], task.train[idx])
            assert np.all(batch[r, 3] == EOS)
        np.testing.assert_array_equal(batch[:, 4:], before[:, 4:])
        untouched = np.setdiff1d(np.arange(8), rows)
        np.testing.assert_array_equal(batch[untouched], before[untouched])


def test_c16_several_instances_per_sequence_at_document_boundaries_exact_counts():
    # the paper's top frequency, 7.8e-3 (one instance per 128 tokens), needs several per sequence
    task, = draw_tasks([TaskSpec("cmp", n_values=10, n_instances=60)], vocab_size=100, reserved=[EOS])
    sch = InjectionSchedule(rate=7.8e-3, batch=8, seq_len=512, per_sequence=8)
    assert sch.per_step == pytest.approx(31.9488)  # about four per sequence
    starts = np.arange(8) * 64
    rng = np.random.default_rng(1)
    total = 0
    for step in range(200):
        (slots, idx), = plan_step([sch], step, [len(task.train)], seed=5)
        (again, idx2), = plan_step([sch], step, [len(task.train)], seed=5)
        np.testing.assert_array_equal(slots, again)
        np.testing.assert_array_equal(idx, idx2)
        assert len(slots) == sch.count(step) and len(set(slots.tolist())) == len(slots)
        batch = rng.integers(1, 100, size=(8, 512))
        before = batch.copy()
        inject(batch, slots, task.train[idx], EOS, per_sequence=8)
        rows, k = np.divmod(slots, 8)
        for r, s, inst in zip(rows, starts[k], task.train[idx]):
            np.testing.assert_array_equal(batch[r, s:s + 3], inst)
            assert batch[r, s + 3] == EOS and (s == 0 or batch[r, s - 1] == EOS)
        changed = batch != before
        assert changed.sum() <= 5 * len(slots)  # nothing but the instances and their EOS
        found = sum(int(np.all(batch[r, s:s + 3] == inst)) for r, s, inst
                    in zip(rows, starts[k], task.train[idx]))
        total += found
    assert total == sch.total(200) == int(np.floor(200 * sch.per_step + 1e-9))


def test_one_slot_per_sequence_draws_what_it_always_drew():
    # per_sequence 1 keeps the old schedule: the ladder's runs keep their injections
    sch = InjectionSchedule(rate=0.01, batch=16, seq_len=64)
    (slots, idx), = plan_step([sch], 7, [100], seed=3)
    rng = np.random.default_rng([3, 7, 16])
    np.testing.assert_array_equal(slots, rng.choice(16, size=sch.count(7), replace=False))


@pytest.mark.parametrize("kwargs, message", [
    (dict(rate=0.3, batch=4, seq_len=8), r"InjectionSchedule\.rate must be a float in the range \(0, 0\.25\]"),
    (dict(rate=0.0, batch=4, seq_len=8), r"InjectionSchedule\.rate must be a float in the range \(0, 0\.25\]"),
    (dict(rate=0.01, batch=4, seq_len=3), r"InjectionSchedule\.seq_len must be an int in the range \[4, inf\)"),
])
def test_bad_injection(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        InjectionSchedule(**kwargs)


def test_rate_too_high_for_one_instance_per_sequence():
    with pytest.raises(ConfigError, match=r"rate 0\.0078 needs 31 instances in a batch of 16 sequences"):
        InjectionSchedule(rate=7.8e-3, batch=16, seq_len=256).count(0)


@pytest.mark.parametrize("dtype", ["uint16", "uint32"])
def test_memmap_corpus_round_trip_and_order(tmp_path, dtype):
    tokens = np.arange(1000) % 700 + (70000 if dtype == "uint32" else 0)
    a = write_tokens(tmp_path / "a.npy", [tokens[:600]], dtype)
    b = write_tokens(tmp_path / "b.npy", [tokens[600:]], dtype)
    corpus = TokenCorpus([a, b], seq_len=50, dtype=dtype, seed=4)
    assert len(corpus) == 12 + 8 and corpus.n_tokens == 1000
    np.testing.assert_array_equal(corpus.sequence(0), tokens[:50])
    np.testing.assert_array_equal(corpus.sequence(12), tokens[600:650])  # second file
    seen = np.concatenate([corpus.batch(s, 5) for s in range(4)])  # one epoch
    assert sorted(map(tuple, seen.tolist())) == sorted(map(tuple, (corpus.sequence(k).tolist() for k in range(20))))
    np.testing.assert_array_equal(corpus.batch(7, 5), TokenCorpus([a, b], 50, dtype, seed=4).batch(7, 5))


def test_permutation_is_a_bijection():
    for n in (1, 2, 7, 100, 1024):
        p = _Permutation.seeded(n, 3)
        assert sorted(p(np.arange(n)).tolist()) == list(range(n))


def test_corpus_errors(tmp_path):
    with pytest.raises(ConfigError, match="token file not found"):
        TokenCorpus([tmp_path / "missing.bin"], seq_len=8)
    odd = tmp_path / "odd.bin"
    odd.write_bytes(b"abc")
    with pytest.raises(ConfigError, match="is not a uint16 token file"):
        TokenCorpus([odd], seq_len=8)
    with pytest.raises(ConfigError, match=r"TokenCorpus\.seq_len must be an int in the range \[4, inf\)"):
        TokenCorpus([odd], seq_len=3)


def test_synthetic_web_has_zipfian_learnable_structure(tmp_path):
    path = write_synthetic_web(tmp_path / "web.bin", n_tokens=200_000, vocab_size=512, seed=0,
                               chains=256)
    tokens = np.memmap(path, dtype=np.uint16, mode="r")
    assert len(tokens) == 200_000 and tokens.max() < 512
    counts = np.bincount(tokens, minlength=512)
    assert 0.002 < counts[EOS] / len(tokens) < 0.01  # documents of ~256 tokens
    freq = np.sort(counts[1:])[::-1] / counts[1:].sum()
    assert freq[0] > 20 * np.median(freq[freq > 0])  # a power-law spread of frequencies
    # learnable: the next token is far more predictable from the previous one than alone
    prev, nxt = tokens[:-1].astype(int), tokens[1:].astype(int)
    joint = np.bincount(prev * 512 + nxt, minlength=512 * 512).reshape(512, 512) + 1e-12
    p_joint = joint / joint.sum()
    p_prev = p_joint.sum(1, keepdims=True)
    cond_entropy = -np.sum(p_joint * np.log(p_joint / p_prev))
    p_next = counts / counts.sum()
    unigram_entropy = -np.sum(p_next[p_next > 0] * np.log(p_next[p_next > 0]))
    assert cond_entropy < 0.75 * unigram_entropy


def _identified_by_brute_force(task):
    """Every assignment of residues to values consistent with the train pairs, enumerated."""
    import itertools

    m, n = task.spec.n_answers, task.spec.n_values
    answer = {int(t): i for i, t in enumerate(task.answer_tokens)}
    train = [(a, b, answer[int(y)]) for a, b, y in zip(task.values(task.train[:, 0]),
                                                       task.values(task.train[:, 1]), task.train[:, 2])]
    test = list(zip(task.values(task.test[:, 0]), task.values(task.test[:, 1])))
    sums = [set() for _ in test]
    for r in itertools.product(range(m), repeat=n):
        if all((r[a] + r[b]) % m == y for a, b, y in train):
            for s, (a, b) in zip(sums, test):
                s.add((r[a] + r[b]) % m)
    return np.mean([len(s) == 1 for s in sums])


@pytest.mark.parametrize("n, m, split", [(8, 4, "balanced"), (6, 3, "balanced"), (8, 2, "balanced"),
                                         (6, 3, "random"), (7, 4, "random"), (8, 4, "random")])
def test_c15_identified_share_equals_brute_force(n, m, split):
    from rarescale.pretrain.tasks import identified_share

    for seed in range(3):
        spec = TaskSpec(kind="add", n_values=n, modulus=m, n_instances=n * n, split=split, seed=seed)
        task = draw_tasks([spec], 512)[0]
        assert identified_share(task) == pytest.approx(_identified_by_brute_force(task))


def test_c15_an_even_modulus_on_two_groups_leaves_every_test_answer_open():
    """Addition mod 10 on 20 values, balanced split: the train pairs fix the residues only up to
    a shift by 5 between the two groups (or by x in 2x), so no test pair's answer follows from
    them; mod 5 and mod 3 (an odd modulus) determine every one."""
    from rarescale.pretrain.tasks import identified_share

    share = {m: identified_share(draw_tasks([TaskSpec(kind="add", n_values=n, modulus=m, n_instances=n * n,
                                                      split="balanced")], 4096)[0])
             for n, m in ((20, 10), (20, 5), (24, 3))}
    assert share == {10: 0.0, 5: 1.0, 3: 1.0}
