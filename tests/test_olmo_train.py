"""The OLMo pipeline's model side: the ladder (C17), the loop, resume, DDP, learning (C18-C20)."""

import gzip
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

from rarescale.pretrain import measures
from rarescale.pretrain.corpus import (TokenCorpus, read_texts, tokenize_to_corpus, train_tokenizer,
                                   write_tokens)
from rarescale.pretrain.model import LADDER, build_model, ladder_batch, ladder_lr, model_size
from rarescale.pretrain.tasks import TaskSpec
from rarescale.pretrain.config import InjectedTask, RunConfig
from rarescale.pretrain.checkpoint import CHECKPOINT
from rarescale.pretrain.train import train
from rarescale.validation import ConfigError


@pytest.fixture(autouse=True)
def _data_dir(tmp_path_factory, monkeypatch):
    # generated corpora are shared by the tests of this module (written once)
    monkeypatch.setenv("RARESCALE_DATA", str(tmp_path_factory.getbasetemp() / "data"))


def tiny(**kw) -> RunConfig:
    base = dict(size="30K", vocab_size=512, seq_len=32, batch=8, tokens=32 * 8 * 12,
                corpus_tokens=200_000, holdout=16, eval_points=3, eval_instances=32,
                forgetting_steps=2, checkpoint_every=4,
                tasks=(InjectedTask(TaskSpec("cmp", n_values=10, n_instances=100, seed=1), 1 / 64),
                       InjectedTask(TaskSpec("add", n_values=10, modulus=5, n_instances=100), 1 / 128)))
    return RunConfig(**{**base, **kw})


# ----------------------------------------------------------------------------- ladder (C17)

@pytest.mark.parametrize("name", ["30K", "250K", "4M"])
def test_c17_parameter_counts_match_the_model(name):
    size = model_size(name)
    model = build_model(size, vocab_size=300, seq_len=16, eos=0, seed=0)  # checks the closed form
    embed = model.model.embed_tokens.weight.numel() + model.lm_head.weight.numel()
    assert sum(p.numel() for p in model.parameters()) - embed == size.non_embedding_params()


def test_c17_ladder_rules():
    four = LADDER["4M"]
    assert (four.d_model, four.n_heads, four.n_layers, four.mlp_ratio) == (64, 8, 8, 8)
    assert (LADDER["1B"].d_model, LADDER["1B"].n_layers) == (2048, 16)
    # at N = 108M the rules give DataDecide's reference point: 160 sequences of 2048, lr 0.0047
    n = four.non_embedding_params()
    assert ladder_lr(four) == pytest.approx(0.0047 * (n / 108e6) ** (-1 / 3))
    assert abs(ladder_batch(four, 2048) - 160 * (n / 108e6) ** (2 / 3)) <= 8
    # same tokens per batch at a shorter sequence
    assert ladder_batch(four, 128) == pytest.approx(16 * 160 * (n / 108e6) ** (2 / 3), abs=8)
    sizes = [LADDER[k].non_embedding_params() for k in LADDER]
    cpu = list(LADDER).index("4M")
    assert sizes == sorted(sizes[:cpu]) + sorted(sizes[cpu:])  # each part of the ladder grows


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("change, message", [
    (dict(size="5M"), r"size must be one of .*Got '5M'"),
    (dict(seq_len=3), r"RunConfig\.seq_len must be an int in the range \[4, inf\)"),
    (dict(corpus=("/no/such/tokens.bin",)), r"RunConfig\.corpus: token file not found"),
    (dict(tasks=(InjectedTask(TaskSpec("cmp", n_values=600, n_instances=100), 0.01),)),
     r"RunConfig\.vocab_size 512 is too small: the tasks and EOS take 603 distinct tokens"),
])
def test_bad_run_configs_are_one_line_errors(tmp_path, change, message):
    with pytest.raises(ConfigError, match=message) as info:
        train(tiny(**change), tmp_path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("rate", [0.0, 0.3, -1e-3])
def test_bad_frequency(rate):
    with pytest.raises(ConfigError, match=r"InjectedTask\.rate must be a float in the range \(0, 0\.25\]"):
        InjectedTask(TaskSpec(), rate)


def test_corpus_that_is_not_a_token_file(tmp_path):
    bad = tmp_path / "odd.bin"
    bad.write_bytes(b"abc")
    with pytest.raises(ConfigError, match="is not a uint16 token file"):
        train(tiny(corpus=(str(bad),)), tmp_path / "w")
    big = write_tokens(tmp_path / "big.bin", [np.full(1000, 600)], "uint16")
    with pytest.raises(ConfigError, match="holds token 600 >= vocab_size 512"):
        train(tiny(corpus=(str(big),)), tmp_path / "w2")


def test_config_from_yaml_names_unknown_fields():
    with pytest.raises(ConfigError, match="RunConfig: unknown field 'lr_peak'"):
        RunConfig.from_dict({"lr_peak": 1e-3})
    with pytest.raises(ConfigError, match=r"RunConfig\.tasks\[0\]\.spec: unknown field 'values'"):
        RunConfig.from_dict({"tasks": [{"spec": {"values": 3}, "rate": 0.01}]})
    config = tiny()
    assert RunConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


# ----------------------------------------------------------------------------- corpus

def test_validation_sequences_are_never_trained_on(tmp_path):
    tokens = np.arange(40 * 8) % 60000
    path = write_tokens(tmp_path / "t.bin", [tokens], "uint16")
    corpus = TokenCorpus([path], seq_len=8, holdout=5, seed=3)
    val = {tuple(r) for r in corpus.validation().tolist()}
    seen = {tuple(r) for s in range(10) for r in corpus.batch(s, 7).tolist()}
    assert len(val) == 5 and len(seen) == 35 and not val & seen


def test_tokenizer_path_on_generated_text(tmp_path):
    rng = np.random.default_rng(0)
    words = ["alpha", "beta", "gamma", "delta", "omega", "sigma"]
    docs = [" ".join(rng.choice(words, size=rng.integers(5, 30))) for _ in range(300)]
    txt = tmp_path / "docs.txt"
    txt.write_text("\n\n".join(docs) + "\n")
    jsonl = tmp_path / "docs.jsonl.gz"
    with gzip.open(jsonl, "wt") as f:
        for d in docs:
            f.write(json.dumps({"text": d}) + "\n")
    assert list(read_texts(txt)) == [d + "\n" for d in docs]
    assert list(read_texts(jsonl)) == docs
    tok_file = train_tokenizer([txt], vocab_size=300, out_path=tmp_path / "tok.json")
    out = tokenize_to_corpus([jsonl], tok_file, tmp_path / "docs.bin")
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(tok_file))
    flat = np.memmap(out, dtype=np.uint16, mode="r")
    assert int((flat == 0).sum()) == len(docs)  # one EOS (token 0) after each document
    pieces = np.split(np.asarray(flat), np.flatnonzero(flat == 0) + 1)[:-1]
    assert tok.decode(pieces[7][:-1].tolist()) == docs[7]
    assert len(TokenCorpus([out], seq_len=16)) == len(flat) // 16
    (tmp_path / "docs.csv").write_text("x")
    with pytest.raises(ConfigError, match=r"read_texts: .*docs\.csv must end in \.txt"):
        list(read_texts(tmp_path / "docs.csv"))
    (tmp_path / "bad.jsonl").write_text('{"text": "a"}\n{"body": "b"}\n')
    with pytest.raises(ConfigError, match=r"bad\.jsonl line 2 is not JSON with a \"text\" field"):
        list(read_texts(tmp_path / "bad.jsonl"))


# ----------------------------------------------------------------------------- the loop

def _weights(path):
    return torch.load(path / CHECKPOINT, weights_only=False)


def test_kill_and_resume_is_bit_identical(tmp_path):
    config = tiny()
    assert config.steps == 12
    full = train(config, tmp_path / "full", progress=False)
    # a run "killed" after step 6 resumes from its step-4 checkpoint and redoes 5 and 6
    assert train(config, tmp_path / "cut", progress=False, max_steps=6) is None
    assert _weights(tmp_path / "cut")["state"]["step"] == 4
    resumed = train(config, tmp_path / "cut", progress=False)
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    for name, w in a["model"].items():
        assert torch.equal(w, b["model"][name]), name
    assert a["state"]["train_loss"] == b["state"]["train_loss"]
    np.testing.assert_array_equal(full[1]["test_acc_vocab"], resumed[1]["test_acc_vocab"])
    assert full[0]["injected_instances"] == resumed[0]["injected_instances"]
    assert full[0]["distinct_injected"] == resumed[0]["distinct_injected"]
    np.testing.assert_array_equal(full[1]["injected_label_loss"], resumed[1]["injected_label_loss"])
    np.testing.assert_array_equal(full[1]["forgetting_loss"], resumed[1]["forgetting_loss"])


def test_c16_realised_injections_in_a_run(tmp_path):
    result, _ = train(tiny(), tmp_path, progress=False)
    # 12 steps × 256 tokens × {1/64, 1/128} = 48 and 24 instances
    assert result["injected_instances"] == result["requested_instances"] == [48, 24]
    # 48 draws from a pool of 50 train instances: distinct ones are fewer, and counted
    assert 0 < result["distinct_injected"][1] <= 24 and result["distinct_injected"][0] <= 48
    assert np.all(np.isfinite(result["final"]["injected_label_loss"]))


@pytest.mark.slow
def test_two_process_torchrun_matches_one_process(tmp_path):
    config = tiny(micro_batch=2)
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump(json.loads(json.dumps(config.to_dict()))))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = subprocess.run([sys.executable, "-m", "rarescale.pretrain", str(cfg), str(tmp_path / "one"),
                          "--no-progress"], env=env, capture_output=True, text=True)
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                          "--nproc_per_node", "2", "-m", "rarescale.pretrain", str(cfg),
                          str(tmp_path / "two"), "--no-progress"],
                         env=env, capture_output=True, text=True)
    assert two.returncode == 0, two.stderr[-2000:]
    a = np.array(_weights(tmp_path / "one")["state"]["train_loss"])[:, 1]
    b = np.array(_weights(tmp_path / "two")["state"]["train_loss"])[:, 1]
    assert len(a) == len(b) == 12
    np.testing.assert_allclose(a, b, rtol=2e-5)
    assert a[-1] < a[0]
    ra = json.loads((tmp_path / "one" / "result.json").read_text())
    rb = json.loads((tmp_path / "two" / "result.json").read_text())
    assert ra["injected_instances"] == rb["injected_instances"]


# ----------------------------------------------------------------------------- analysis (C19)

def test_c19_ridge_probe_reads_linear_features_and_not_noise():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 10, size=2000)
    means = rng.normal(size=(10, 32)) * 3
    features = means[target] + rng.normal(size=(2000, 32))
    assert measures.ridge_probe_accuracy(features, target, 10) > 0.95
    noise = rng.normal(size=(2000, 32))
    assert abs(measures.ridge_probe_accuracy(noise, target, 10) - 0.1) < 0.04


# ----------------------------------------------------------------------------- learning (C18)

@pytest.mark.slow
def test_c18_a_tiny_model_learns_tcmp_on_held_out_pairs(tmp_path):
    # 24 values: 576 ordered pairs, half held out; one instance in every sequence
    config = RunConfig(size="30K", vocab_size=512, seq_len=16, batch=32, tokens=16 * 32 * 800, lr=0.01,
                       corpus_tokens=300_000, holdout=16, eval_points=4, eval_instances=64,
                       forgetting_steps=0, checkpoint_every=10 ** 6,
                       tasks=(InjectedTask(TaskSpec("cmp", n_values=24, n_instances=576, seed=3), 1 / 16),))
    result, arrays = train(config, tmp_path, progress=False)
    accuracy = arrays["test_acc_labels"][:, 0]
    n_test = 288
    assert abs(accuracy[0] - 0.5) < 4 * 0.5 / np.sqrt(n_test)  # chance before training
    assert accuracy[-1] > 0.75  # chance + 8.5 standard errors of a coin on 288 pairs
    assert arrays["train_label_loss"][-1, 0] < 0.5 * np.log(2)
    assert result["injected_instances"] == [800 * 32]


@pytest.mark.parametrize("device, env, expected", [
    ("cpu", {}, ("cpu", None, 0, 1)),
    ("cuda", {}, ("cuda:0", None, 0, 1)),
    ("cuda:1", {}, ("cuda:1", None, 0, 1)),
    ("cuda", {"LOCAL_RANK": "3"}, ("cuda:3", None, 0, 1)),
    ("cpu", {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"}, ("cpu", "gloo", 1, 2)),
    ("cuda", {"WORLD_SIZE": "8", "RANK": "5", "LOCAL_RANK": "5"}, ("cuda:5", "nccl", 5, 8)),
    ("cuda", {"WORLD_SIZE": "16", "RANK": "9", "LOCAL_RANK": "1"}, ("cuda:1", "nccl", 9, 16)),
])
def test_each_rank_gets_its_own_gpu_and_nccl(device, env, expected):
    """Under torchrun a CUDA run puts rank r on cuda:LOCAL_RANK over nccl; on CPU, gloo. A CUDA
    device always has an index, alone too (torch.cuda.set_device refuses a bare "cuda")."""
    from rarescale.pretrain.placement import process_placement, select_device

    assert process_placement(device, env) == expected
    placed = process_placement(device, env)[0]
    if placed.startswith("cuda"):
        with pytest.raises(ConfigError, match="has no index"):
            select_device("cuda")  # what CUDA refuses, refused here too
        assert ":" in placed


def test_a_checkpoint_loaded_to_another_device_restores_its_rng_state(tmp_path):
    """torch.load(map_location=a GPU) would move a tensor RNG state off the CPU, where
    torch.set_rng_state refuses it; "meta" emulates that on this CPU (it keeps no values)."""
    import torch

    from rarescale.pretrain.checkpoint import restore_rng_state
    from rarescale.pretrain.train import train

    config = RunConfig(size="30K", vocab_size=256, seq_len=16, batch=4, tokens=4 * 16 * 8,
                       corpus_tokens=20_000, holdout=4, eval_points=2, eval_instances=4,
                       forgetting_steps=0, checkpoint_every=4)
    train(config, tmp_path, progress=False, max_steps=4)
    on_cpu = torch.load(tmp_path / "checkpoint.pt", map_location="cpu", weights_only=False)
    elsewhere = torch.load(tmp_path / "checkpoint.pt", map_location="meta", weights_only=False)
    assert any(t.device.type == "meta" for t in elsewhere["model"].values())  # moved, as to a GPU
    torch.manual_seed(123)
    restore_rng_state(elsewhere["rng"])
    after = torch.rand(5)
    torch.manual_seed(456)
    restore_rng_state(on_cpu["rng"])
    assert torch.equal(after, torch.rand(5))  # both restore the saved state, not the seeds
    torch.manual_seed(123)
    assert not torch.equal(after, torch.rand(5))
    # a tensor state moved to meta has no values: one line, not torch's error
    with pytest.raises(ConfigError, match="meta device"):
        restore_rng_state(torch.get_rng_state().to("meta"))


# ----------------------------------------------------------------------------- token budgets (C4, C5)

def test_wsd_learning_rate_is_stable_then_falls_to_final_at_each_budget():
    from rarescale.pretrain.step import lr_factor

    config = tiny(tokens=32 * 8 * 96, schedule="wsd", decay=0.25, budgets=3, warmup=0.0625)
    assert config.budget_steps() == [24, 48, 96]
    assert [config.decay_start(b) for b in config.budget_steps()] == [18, 36, 72]
    f = [lr_factor(s, config) for s in range(96)]
    assert f[5] == 1.0 and f[0] == pytest.approx(1 / 6)  # six warmup steps
    assert f[6:72] == [1.0] * 66
    assert f[95] == pytest.approx(config.final_lr) and all(np.diff(f[72:]) < 0)
    assert lr_factor(47, config, budget=48) == pytest.approx(config.final_lr)
    assert lr_factor(35, config, budget=48) == 1.0 and lr_factor(36, config, budget=48) < 1.0
    # the branches add their decays' steps to the run's
    assert config.tokens_with_branches == (96 + 6 + 12) * 32 * 8


def test_wsd_fields_leave_other_configs_keys_alone():
    from rarescale.sweeps.grid import cell_key

    plain = tiny()
    assert "schedule" not in plain.to_dict() and "budgets" not in plain.to_dict()
    wsd = tiny(schedule="wsd", budgets=2)
    assert wsd.to_dict()["schedule"] == "wsd" and cell_key(wsd) != cell_key(plain)
    assert RunConfig.from_dict(wsd.to_dict()) == wsd


@pytest.mark.parametrize("change, message", [
    (dict(budgets=2), "needs schedule: wsd"),
    (dict(schedule="wsd", budgets=5), "inside the warmup"),
    (dict(schedule="step"), "RunConfig.schedule"),
    (dict(schedule="wsd", decay=1.0), "RunConfig.decay"),
])
def test_bad_budget_configs_are_one_line_errors(change, message):
    with pytest.raises(ConfigError, match=message):
        tiny(**change)


def test_a_budget_branch_ends_where_a_run_of_that_many_tokens_ends(tmp_path):
    # the run: 96 steps, warmup 6, budgets of 48 and 96 steps, each decaying over its last quarter
    config = tiny(tokens=32 * 8 * 96, schedule="wsd", decay=0.25, budgets=2, warmup=0.0625,
                  eval_points=2, forgetting_steps=0, checkpoint_every=1000)
    _, arrays = train(config, tmp_path / "run", progress=False)
    # a separate run of 48 steps with the same warmup (6 steps) and its own decay
    alone = tiny(tokens=32 * 8 * 48, schedule="wsd", decay=0.25, warmup=0.125, eval_points=2,
                 forgetting_steps=0, checkpoint_every=1000)
    _, short = train(alone, tmp_path / "alone", progress=False)
    assert list(arrays["budget_injected"][:, 0]) == [short["injected"][-1, 0],
                                                     arrays["injected"][-1, 0]]
    for key in ("val_loss", "test_acc_labels", "test_label_loss", "injected_label_loss"):
        np.testing.assert_allclose(arrays[f"budget_{key}"][0], np.atleast_1d(short[key][-1]),
                                   rtol=1e-5, err_msg=key)
        np.testing.assert_array_equal(arrays[f"budget_{key}"][1], np.atleast_1d(arrays[key][-1]))
    # and the run itself went on from the branch point undisturbed: its last budget is not the first
    assert arrays["budget_val_loss"][1] != arrays["budget_val_loss"][0]


def test_kill_after_a_branch_and_resume_is_bit_identical(tmp_path):
    config = tiny(tokens=32 * 8 * 32, schedule="wsd", decay=0.25, budgets=2, warmup=0.125,
                  eval_points=2, forgetting_steps=0, checkpoint_every=8)
    assert config.decay_start(16) == 12
    _, full = train(config, tmp_path / "full", progress=False)
    assert train(config, tmp_path / "cut", progress=False, max_steps=14) is None
    saved = _weights(tmp_path / "cut")["state"]
    assert saved["step"] == 12 and len(saved["branches"]) == 1  # checkpointed right after the branch
    _, resumed = train(config, tmp_path / "cut", progress=False)
    for key in ("budget_val_loss", "budget_test_acc_labels", "budget_injected", "train_loss"):
        np.testing.assert_array_equal(full[key], resumed[key], err_msg=key)


def test_several_instances_per_sequence_count_exactly_and_resume(tmp_path):
    task = InjectedTask(TaskSpec("cmp", n_values=10, n_instances=100, seed=1), 3 / 32)
    config = tiny(tasks=(task,), per_sequence=4, forgetting_steps=0)  # 3 per sequence of 32
    assert config.to_dict()["per_sequence"] == 4
    full, _ = train(config, tmp_path / "full", progress=False)
    assert full["injected_instances"] == full["requested_instances"] == [3 * 8 * 12]
    assert train(config, tmp_path / "cut", progress=False, max_steps=6) is None
    resumed, _ = train(config, tmp_path / "cut", progress=False)
    assert resumed["injected_instances"] == full["injected_instances"]
    assert resumed["distinct_injected"] == full["distinct_injected"]
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    for name, w in a["model"].items():
        assert torch.equal(w, b["model"][name]), name
    with pytest.raises(ConfigError, match="per_sequence/seq_len"):
        tiny(tasks=(task,))


def _torchrun(cfg, work, *extra, nproc=2):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                          "--nproc_per_node", str(nproc), "-m", "rarescale.pretrain", str(cfg), str(work),
                          "--no-progress", *extra], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def test_fsdp2_sharded_run_matches_one_process_and_resumes_from_its_shards(tmp_path):
    # FSDP2 (fully_shard per decoder layer) over two gloo processes on this CPU
    config = tiny(shard=True, forgetting_steps=2)
    cfg = config.to_file(tmp_path / "run.json")
    one = train(tiny(forgetting_steps=2), tmp_path / "one", progress=False)
    _torchrun(cfg, tmp_path / "two")
    two = json.loads((tmp_path / "two" / "result.json").read_text())
    assert (tmp_path / "two" / "checkpoint.dcp" / "state.pt").exists()
    assert not (tmp_path / "two" / "checkpoint.pt").exists()
    losses = torch.load(tmp_path / "two" / "checkpoint.dcp" / "state.pt",
                        weights_only=False)["state"]["train_loss"]
    np.testing.assert_allclose(np.array(losses)[:, 1], np.array(one[1]["train_loss"]), rtol=2e-5)
    np.testing.assert_allclose(two["final"]["test_label_loss"], one[0]["final"]["test_label_loss"],
                               rtol=1e-4)
    assert two["injected_instances"] == one[0]["injected_instances"]
    # killed after step 6: resumes from the step-4 shards
    _torchrun(cfg, tmp_path / "cut", "--max-steps", "6")
    assert torch.load(tmp_path / "cut" / "checkpoint.dcp" / "state.pt",
                      weights_only=False)["state"]["step"] == 4
    out = _torchrun(cfg, tmp_path / "cut")
    assert "resuming from step 4" in out.stdout
    cut = json.loads((tmp_path / "cut" / "result.json").read_text())
    assert cut["final"] == two["final"]
    with np.load(tmp_path / "two" / "arrays.npz") as a, np.load(tmp_path / "cut" / "arrays.npz") as b:
        np.testing.assert_array_equal(a["train_loss"], b["train_loss"])
        np.testing.assert_array_equal(a["forgetting_loss"], b["forgetting_loss"])


def test_a_run_started_sharded_resumes_on_one_process_and_the_reverse(tmp_path):
    """Sharded or not depends on the world size and the GPU; a requeued run may get others.
    Killed after step 6 (checkpoint at step 4) in one layout, it resumes in the other and ends
    as an uninterrupted run does; the first layout's checkpoint is then removed."""
    config = tiny(shard=True, forgetting_steps=2)
    cfg = config.to_file(tmp_path / "run.json")
    _, one = train(config, tmp_path / "one", progress=False)  # one process: replicated
    # sharded over two processes, then resumed by one
    _torchrun(cfg, tmp_path / "a", "--max-steps", "6")
    assert (tmp_path / "a" / "checkpoint.dcp").is_dir()
    _, a = train(config, tmp_path / "a", progress=False)
    assert (tmp_path / "a" / "checkpoint.pt").exists() and not (tmp_path / "a" / "checkpoint.dcp").exists()
    np.testing.assert_allclose(a["train_loss"], one["train_loss"], rtol=2e-5)
    np.testing.assert_allclose(a["forgetting_loss"], one["forgetting_loss"], rtol=1e-4)
    # one process, then resumed sharded by two
    train(config, tmp_path / "b", progress=False, max_steps=6)
    out = _torchrun(cfg, tmp_path / "b")
    assert "resuming from step 4" in out.stdout and "sharded now" in out.stdout
    assert not (tmp_path / "b" / "checkpoint.pt").exists()
    with np.load(tmp_path / "b" / "arrays.npz") as b:
        np.testing.assert_allclose(b["train_loss"], one["train_loss"], rtol=2e-5)
        np.testing.assert_allclose(b["forgetting_loss"], one["forgetting_loss"], rtol=1e-4)


def test_fsdp2_decay_branches_match_one_process(tmp_path):
    # a sharded warmup-stable-decay run measures its smaller budget on a branch, as one process does
    kw = dict(tokens=32 * 8 * 32, schedule="wsd", decay=0.25, budgets=2, warmup=0.125,
              eval_points=2, forgetting_steps=0, checkpoint_every=8)
    _, one = train(tiny(**kw), tmp_path / "one", progress=False)
    _torchrun(tiny(shard=True, **kw).to_file(tmp_path / "run.json"), tmp_path / "two")
    with np.load(tmp_path / "two" / "arrays.npz") as two:
        for key in ("budget_val_loss", "budget_test_label_loss", "budget_injected"):
            np.testing.assert_allclose(two[key], one[key], rtol=1e-4, err_msg=key)


# ----------------------------------------------------------------------------- compiled steps

COMPILED_STEP_RTOL = 1e-4
"""Compiled and eager training agree to this relative difference on each of the first 50 steps'
losses: the compiled graph sums in another order (measured: 1.4e-5 at most) ..."""
COMPILED_WINDOW_RTOL = 5e-3
"""... and the difference then grows as two fp32 trajectories part (a step's loss differs by up
to 1.4% after step 67 in the tiny model), so over 200 steps the mean loss of each 20-step
window agrees to this (measured: 0.13% at most)."""


def test_a_compiled_run_follows_the_eager_loss_curve_and_resumes_exactly(tmp_path):
    config = tiny(tokens=32 * 8 * 200, eval_points=2, forgetting_steps=0, checkpoint_every=50)
    _, eager = train(config, tmp_path / "eager", progress=False, compile=False)
    result, compiled = train(config, tmp_path / "compiled", progress=False, compile=True)
    assert result["compiled"] is True and result["autocast"] == "none"
    np.testing.assert_allclose(compiled["train_loss"][:50], eager["train_loss"][:50],
                               rtol=COMPILED_STEP_RTOL)
    windows = [a["train_loss"].reshape(-1, 20).mean(1) for a in (compiled, eager)]
    np.testing.assert_allclose(*windows, rtol=COMPILED_WINDOW_RTOL)
    assert not np.array_equal(compiled["train_loss"], eager["train_loss"])  # it did compile
    # killed at step 120 (checkpoint at 100), resumed compiled: the same numbers exactly
    assert train(config, tmp_path / "cut", progress=False, compile=True, max_steps=120) is None
    _, resumed = train(config, tmp_path / "cut", progress=False, compile=True)
    np.testing.assert_array_equal(resumed["train_loss"], compiled["train_loss"])
    np.testing.assert_array_equal(resumed["test_label_loss"], compiled["test_label_loss"])


def test_compiling_and_bf16_are_chosen_where_they_pay():
    from rarescale.pretrain.step import uses_bf16, uses_compile

    ladder = RunConfig(size="250K", seq_len=64, batch=32, tokens=3_000_000)
    assert uses_compile(ladder, world=1) and not uses_compile(ladder, world=2)
    assert not uses_compile(tiny(), world=1)  # a few thousand tokens: compiling would not pay
    assert not uses_compile(RunConfig(size="250K", tokens=3_000_000, device="cuda"), world=1)
    assert uses_compile(tiny(), 1, asked=True) and not uses_compile(ladder, 1, asked=False)
    assert not uses_bf16(ladder, "cpu", amx=True) and uses_bf16(ladder, "cuda")
    assert uses_bf16(RunConfig(size="1M", seq_len=256), "cpu", amx=True)
    assert not uses_bf16(RunConfig(size="1M", seq_len=64), "cpu", amx=True)
    assert uses_bf16(RunConfig(size="20M", seq_len=64), "cpu", amx=True)
    assert not uses_bf16(RunConfig(size="20M", seq_len=512), "cpu", amx=False)  # emulated bf16


def test_a_cpu_multiplies_bf16_in_hardware_with_avx512_bf16_or_amx(tmp_path, monkeypatch):
    from rarescale.pretrain import step

    monkeypatch.setattr(step, "cpu_has_amx", lambda: False)
    with_flag, without = tmp_path / "a", tmp_path / "b"
    with_flag.write_text("processor : 0\nflags : fpu avx2 avx512f avx512_bf16 avx512_vnni\n")
    without.write_text("processor : 0\nflags : fpu avx2 avx512f avx512_vnni\n")
    assert step.cpu_multiplies_bf16(str(with_flag)) and not step.cpu_multiplies_bf16(str(without))
    assert not step.cpu_multiplies_bf16(str(tmp_path / "missing"))
    monkeypatch.setattr(step, "cpu_has_amx", lambda: True)
    assert step.cpu_multiplies_bf16(str(without))


def test_a_run_records_its_corpus_bytes_and_will_not_resume_on_other_bytes(tmp_path):
    """The natural corpus is rebuilt on each machine from its Debian packages, so the same path
    can hold other bytes: the result names the SHA-256 of what it trained on, and a run killed on
    one corpus and resumed on another (same path, same length, one token changed) stops."""
    import hashlib

    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 512, 60_000).astype(np.uint16)
    path = write_tokens(tmp_path / "natural.bin", [tokens], "uint16")
    config = tiny(corpus=(str(path),))
    result, _ = train(config, tmp_path / "full", progress=False)
    assert result["corpus_sha256"] == {str(path): hashlib.sha256(path.read_bytes()).hexdigest()}
    assert train(config, tmp_path / "cut", progress=False, max_steps=6) is None
    data = bytearray(path.read_bytes())
    data[-2:] = (int.from_bytes(data[-2:], "little") % 511 + 1).to_bytes(2, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(ConfigError, match="trained on other corpus bytes"):
        train(config, tmp_path / "cut", progress=False)
