"""The GPU path's logic, tested on this CPU (C17): budgets, FLOPs and GPU-hours, padding, the check."""

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.gpu_check import loss_curve, max_relative_difference
from rarescale.pretrain import throughput
from rarescale.pretrain.config import RunConfig
from rarescale.sweeps.grid import Sweep
from rarescale.pretrain.model import build_model, ladder_batch, model_size

ROOT = Path(__file__).resolve().parents[1]


def test_vocabulary_is_padded_to_a_multiple_of_128_as_olmo_does():
    config = RunConfig(size="30K", vocab_size=50280, eos=50279)
    assert config.padded_vocab == 50304  # OLMo's embedding_size for this tokenizer
    assert RunConfig(size="30K", vocab_size=4096).padded_vocab == 4096
    model = build_model(config.model, config.padded_vocab, 64, config.eos, 0)
    assert model.get_input_embeddings().weight.shape == (50304, 32)


def test_model_flops_per_token_is_six_n_plus_attention():
    config = RunConfig(size="1B", vocab_size=50280, seq_len=2048)
    size = model_size("1B")
    n = size.non_embedding_params() + 50304 * 2048
    assert throughput.model_flops_per_token(config) == 6 * n + 12 * 16 * 2048 * 2048
    # an H100 at 989 TFLOP/s, 40% utilised, runs this many tokens a second
    tps = 0.4 * 989e12 / throughput.model_flops_per_token(config)
    assert throughput.mfu(config, tps, "NVIDIA H100 80GB HBM3") == pytest.approx(0.4)
    assert throughput.mfu(config, tps, "cpu") is None
    hours = throughput.gpu_hours(RunConfig(size="1B", vocab_size=50280, seq_len=2048, batch=8,
                                           tokens=8 * 2048 * 1000), "H100", 0.4)
    assert hours == pytest.approx(1000 * 8 * 2048 / tps / 3600)


def test_the_papers_budget_gives_larger_sizes_more_tokens_and_the_matched_grid_does_not():
    paper = Sweep.from_yaml(ROOT / "runners/configs/gpu_ladder.yaml")
    matched = Sweep.from_yaml(ROOT / "runners/configs/gpu_ladder_matched.yaml")
    assert paper.sizes[0] == "4M" and paper.sizes[-1] == "4B" and paper.sizes == matched.sizes
    assert max(paper.frequencies) == 7.8e-3 and min(paper.frequencies) == 2.4e-8
    first = {c.size: c for c in paper.cells()}
    assert {c.steps for c in first.values()} == {50_000}
    tokens = [first[s].tokens_trained for s in paper.sizes]
    assert tokens == sorted(tokens) and tokens[-1] > 100 * tokens[0]
    assert tokens[-1] == 50_000 * ladder_batch(model_size("4B"), 2048) * 2048
    assert len({c.tokens for c in matched.cells()}) == 1
    # the top frequency needs 16 instances in a 2048-token sequence
    top = [c for c in paper.cells() if c.tasks[0].rate == 7.8e-3][0]
    assert top.per_sequence == 16 and top.padded_vocab == 50304 and top.eos == 50279


def test_the_dry_run_of_the_papers_grid_prints_cells_tokens_and_gpu_hours():
    out = subprocess.run([sys.executable, "-m", "runners.sweep", "runners/configs/gpu_ladder.yaml",
                          "--dry-run", "--gpu", "H100", "--mfu", "0.4"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert "sweep gpu_ladder: 162 cells, 0 done" in out.stdout
    assert "H100-hours at 40% model FLOPs utilisation" in out.stdout
    assert "GPU-h" in out.stdout.splitlines()[1] and "tokens" in out.stdout.splitlines()[1]
    # the Dolma files are not here: the dry run still prints the plan and its GPU-hours, and
    # reports the missing corpus as a failed check (exit 1), not as bad input (exit 2)
    assert out.returncode == 1, out.stderr
    assert "check failed: corpus: RunConfig.corpus: token file not found: /data/dolma-v1_7/*.npy" \
        in out.stdout
    assert "per size, on 1 node(s)" in out.stdout and "4B: batch  1752" in out.stdout


def test_gpu_check_compares_loss_curves_across_devices():
    a, b = loss_curve("cpu", steps=4), loss_curve("cpu", steps=4)
    assert max_relative_difference(a, b) == 0.0 and a[-1] < a[0]
    assert max_relative_difference([1.0, 2.002], [1.0, 2.0]) == pytest.approx(1e-3, rel=1e-6)


def test_a_model_whose_replicated_state_does_not_fit_a_gpu_is_sharded():
    from rarescale.pretrain.sharding import state_fits

    gib = 2 ** 30
    one_b = model_size("1B").total_params(50304)  # about 1.3B parameters: 20 GiB of state
    four_b = model_size("4B").total_params(50304)  # about 4.2B: 63 GiB
    assert state_fits(one_b, 80 * gib) and not state_fits(four_b, 80 * gib)
    assert state_fits(four_b, 141 * gib) and not state_fits(one_b, 24 * gib)


def test_a_filesystem_without_flock_still_locks(tmp_path, monkeypatch):
    """flock answers ENOSYS on some Lustre mounts: POSIX record locks take over, and where there
    are none either the lock is skipped with one warning instead of a crash."""
    import errno
    import fcntl

    from rarescale.store import locks

    def no_flock(fd, mode):
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(locks.fcntl, "flock", no_flock)
    taken_by = []
    monkeypatch.setattr(locks.fcntl, "lockf", lambda fd, mode: taken_by.append(mode))
    with locks.exclusive(tmp_path / "a.lock") as taken:
        assert taken and taken_by == [fcntl.LOCK_EX]
    monkeypatch.setattr(locks.fcntl, "lockf", no_flock)
    with locks.try_exclusive(tmp_path / "b.lock") as taken:
        assert taken
    with locks.shared(tmp_path / "c.lock") as taken:
        assert taken


def test_h100_variants_get_their_own_peaks():
    assert throughput.peak_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert throughput.peak_flops("NVIDIA H100 PCIe") == 756e12
    assert throughput.peak_flops("NVIDIA H100 NVL") == 835e12
    assert throughput.peak_flops("NVIDIA H200") == 989e12


def test_the_memory_model_picks_micro_batches_that_fit():
    from rarescale.pretrain import memory

    gib = 2 ** 30
    c60 = RunConfig(size="60M", vocab_size=50280, eos=50279, seq_len=2048, batch=64)
    # the measured activations per token (bf16 autocast), which the model matches within 1.3%
    for size, kib in (("60M", 692), ("150M", 940), ("300M", 1520)):
        c = RunConfig(size=size, vocab_size=50280, eos=50279, seq_len=2048)
        assert memory.activation_bytes_per_token(c) / 1024 == pytest.approx(kib, rel=0.015)
    micro = memory.micro_batch(c60, world=1, device_memory=80e9)
    assert 64 % micro == 0 and memory.fits(c60, 1, 80e9)
    need = memory.state_bytes(c60) + micro * 2048 * memory.activation_bytes_per_token(c60)
    assert need <= memory.USABLE_SHARE * 80e9  # it fits,
    bigger = next(d for d in range(micro + 1, 65) if 64 % d == 0)
    assert memory.state_bytes(c60) + bigger * 2048 * memory.activation_bytes_per_token(c60) \
        > memory.USABLE_SHARE * 80e9  # and the next divisor would not
    assert memory.micro_batch(c60, 1, None) == 64  # no limit on a CPU
    assert memory.micro_batch(RunConfig(size="60M", vocab_size=50280, eos=50279, seq_len=2048,
                                        batch=64, micro_batch=4), 1, 80e9) == 4  # a set one wins
    four_b = RunConfig(size="4B", vocab_size=50280, eos=50279, seq_len=2048, batch=1752)
    assert not memory.fits(four_b, 1, 80 * gib)  # 63 GiB of state leaves no room on one H100
    assert memory.fits(four_b, 24, 80 * gib, sharded=True)


def test_every_forward_of_the_measures_holds_at_most_a_micro_batch(tmp_path, monkeypatch):
    """Counted, not assumed: a hook records the tokens of every forward of evaluation,
    forgetting and probes; none holds more than micro × seq_len."""
    import contextlib

    import torch

    from rarescale.pretrain import measures
    from rarescale.pretrain.config import InjectedTask
    from rarescale.pretrain.data import open_corpus, run_tasks
    from rarescale.pretrain.step import make_optimizer
    from rarescale.pretrain.tasks import TaskSpec

    config = RunConfig(size="30K", vocab_size=256, seq_len=16, batch=16, micro_batch=2,
                       tokens=16 * 16 * 4, corpus_tokens=30_000, holdout=40, eval_points=2,
                       eval_instances=16, forgetting_steps=3,
                       tasks=(InjectedTask(TaskSpec("cmp", n_values=20, n_instances=300), 1e-2),))
    monkeypatch.setenv("RARESCALE_DATA", str(tmp_path / "data"))
    corpus, tasks = open_corpus(config), run_tasks(config)
    model = build_model(config.model, config.padded_vocab, config.seq_len, config.eos, 0)
    tokens = []
    model.register_forward_pre_hook(lambda m, args, kwargs: tokens.append(kwargs["input_ids"].numel()),
                                    with_kwargs=True)
    none = contextlib.nullcontext()
    validation = torch.from_numpy(corpus.validation())
    seen = [list(range(10))]
    measures.evaluate(model, tasks, config, validation, 0, none, seen, [10], micro=2)
    measures.forgetting_curve(model, make_optimizer(model, config), tasks, corpus, config, none,
                              seen, 1e-3, micro=2)
    measures.probes(model, tasks, config, none, micro=2)
    bound = 2 * config.seq_len
    assert tokens and max(tokens) <= bound, max(tokens)
    # and without the bound the same measures would have held more in one forward
    tokens.clear()
    measures.evaluate(model, tasks, config, validation, 0, none, seen, [10], micro=16)
    assert max(tokens) > bound
