"""The GPU path's logic, tested on this CPU (C17): budgets, FLOPs and GPU-hours, padding, the check."""

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.gpu_check import loss_curve, max_relative_difference
from rarescale.olmo import throughput
from rarescale.olmo.config import RunConfig
from rarescale.olmo.grid import Sweep
from rarescale.olmo.model import build_model, ladder_batch, model_size

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
    # the Dolma files are not here: the dry run says so, after the plan
    assert out.returncode == 2 and "token file not found" in out.stderr


def test_gpu_check_compares_loss_curves_across_devices():
    a, b = loss_curve("cpu", steps=4), loss_curve("cpu", steps=4)
    assert max_relative_difference(a, b) == 0.0 and a[-1] < a[0]
    assert max_relative_difference([1.0, 2.002], [1.0, 2.0]) == pytest.approx(1e-3, rel=1e-6)


def test_a_model_whose_replicated_state_does_not_fit_a_gpu_is_sharded():
    from rarescale.olmo.sharding import state_fits

    gib = 2 ** 30
    one_b = model_size("1B").total_params(50304)  # about 1.3B parameters: 20 GiB of state
    four_b = model_size("4B").total_params(50304)  # about 4.2B: 63 GiB
    assert state_fits(one_b, 80 * gib) and not state_fits(four_b, 80 * gib)
    assert state_fits(four_b, 141 * gib) and not state_fits(one_b, 24 * gib)
