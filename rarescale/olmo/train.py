"""Section 4's pretraining run (C16-C18, C20): one readable training loop.

:class:`RunConfig` says everything about a run: the model size (a rung of
:data:`rarescale.olmo.model.LADDER`), the injected tasks and their frequencies,
the token budget, the corpus and the seed. :func:`train` runs it on this CPU
(fp32) or on a GPU (bf16 autocast), in one process or data parallel under
``torchrun`` (DDP; gloo on CPU, nccl on GPU), checkpoints every
``checkpoint_every`` steps and resumes exactly where a killed run stopped:
the batch and the injections of a step are pure functions of (seed, step), so
a resumed run sees what the uninterrupted one would have.

At log-spaced steps it evaluates: the background validation loss, and per
injected task (a task at one frequency) the label loss on train instances (the
ones that may have been injected), the held-out accuracy (argmax over the whole
vocabulary and over the task's label set), and the gradient interference (C20):
the cosine between that task's loss gradient and the background-loss gradient.
At the end it measures forgetting (C20) and fits probes (C19), see
:mod:`rarescale.olmo.analysis`.
"""

from __future__ import annotations

import contextlib
import glob
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from rarescale.counts import eval_steps
from rarescale.olmo import analysis
from rarescale.olmo.injection import InjectionSchedule, inject, plan_step
from rarescale.olmo.model import build_model, ladder_batch, ladder_lr, model_size
from rarescale.olmo.tasks import TaskSpec, draw_tasks
from rarescale.validation import ConfigError, Interval, Options, check, from_fields

CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class InjectedTask:
    """One task injected at one frequency (instances per training token)."""

    spec: TaskSpec
    rate: float

    def __post_init__(self):
        check("InjectedTask", "rate", self.rate, Interval(Real, 0, 0.25, "right"))

    @property
    def name(self) -> str:
        return f"{self.spec.kind}@{self.rate:.2g}"


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one pretraining run; its hash keys the run's artifact."""

    size: str = "250K"
    """A rung of the ladder (:data:`rarescale.olmo.model.LADDER`)."""
    tasks: tuple[InjectedTask, ...] = ()
    """Injected tasks, each at its own frequency, on disjoint token sets."""
    tokens: int = 1_000_000
    """Training tokens."""
    seq_len: int = 128
    batch: int | None = None
    """Sequences per step over all processes; None: the ladder's rule."""
    micro_batch: int | None = None
    """Sequences per forward pass in one process (gradient accumulation); None: all of them."""
    lr: float | None = None
    """Peak learning rate; None: the ladder's rule."""
    warmup: float = 0.05
    """Warmup, as a fraction of the steps (linear), then cosine decay."""
    final_lr: float = 0.1
    """The cosine ends at this fraction of the peak."""
    weight_decay: float = 0.1
    clip: float = 1.0
    vocab_size: int = 4096
    eos: int = 0
    corpus: tuple[str, ...] = ()
    """Token files (paths or globs) in OLMo's format; empty: the generated synthetic web."""
    corpus_dtype: str = "uint16"
    corpus_tokens: int = 16_000_000
    """Size of the generated corpus (ignored with ``corpus``)."""
    holdout: int = 64
    """Validation sequences held out of the corpus."""
    seed: int = 0
    """Seed of the weights, the data order and the injections."""
    eval_points: int = 12
    """Evaluations at log-spaced steps (the first and last included)."""
    eval_instances: int = 256
    """Train instances per task for the label loss and the gradient; all test instances score."""
    forgetting_steps: int = 32
    """Background-only steps after training for the forgetting curve (C20); 0: none."""
    checkpoint_every: int = 100
    device: str = "cpu"

    def __post_init__(self):
        model_size(self.size)
        tasks = tuple(self.tasks)
        object.__setattr__(self, "tasks", tasks)
        object.__setattr__(self, "corpus", tuple(str(p) for p in self.corpus))
        for i, t in enumerate(tasks):
            if not isinstance(t, InjectedTask):
                raise ConfigError(f"RunConfig.tasks[{i}] must be an InjectedTask. Got {t!r} instead.")
        check("RunConfig", "tokens", self.tokens, Interval(Integral, 1, None))
        check("RunConfig", "seq_len", self.seq_len, Interval(Integral, 4, None))
        for name in ("batch", "micro_batch", "lr"):
            if getattr(self, name) is not None:
                kind = Real if name == "lr" else Integral
                check("RunConfig", name, getattr(self, name), Interval(kind, 0, None, "neither"))
        check("RunConfig", "warmup", self.warmup, Interval(Real, 0, 1, "left"))
        check("RunConfig", "final_lr", self.final_lr, Interval(Real, 0, 1))
        check("RunConfig", "weight_decay", self.weight_decay, Interval(Real, 0, None))
        check("RunConfig", "clip", self.clip, Interval(Real, 0, None, "neither"))
        check("RunConfig", "vocab_size", self.vocab_size, Interval(Integral, 8, None))
        check("RunConfig", "eos", self.eos, Interval(Integral, 0, self.vocab_size - 1))
        check("RunConfig", "corpus_dtype", self.corpus_dtype, Options(frozenset({"uint16", "uint32"})))
        check("RunConfig", "corpus_tokens", self.corpus_tokens, Interval(Integral, 1, None))
        check("RunConfig", "holdout", self.holdout, Interval(Integral, 1, None))
        check("RunConfig", "seed", self.seed, Interval(Integral, 0, None))
        check("RunConfig", "eval_points", self.eval_points, Interval(Integral, 2, None))
        check("RunConfig", "eval_instances", self.eval_instances, Interval(Integral, 1, None))
        check("RunConfig", "forgetting_steps", self.forgetting_steps, Interval(Integral, 0, None))
        check("RunConfig", "checkpoint_every", self.checkpoint_every, Interval(Integral, 1, None))
        check("RunConfig", "device", self.device.split(":")[0], Options(frozenset({"cpu", "cuda"})))
        rate = sum(t.rate for t in tasks)
        if rate > 1 / self.seq_len:
            raise ConfigError(f"RunConfig.tasks: the rates sum to {rate:.3g} instances per token, "
                              f"above 1/seq_len = {1 / self.seq_len:.3g} (one instance per sequence).")
        most = sum(math.ceil(t.rate * self.global_batch * self.seq_len - 1e-9) for t in tasks)
        if most > self.global_batch:
            raise ConfigError(f"RunConfig.tasks: a step may inject up to {most} instances, more than "
                              f"the batch of {self.global_batch} sequences holds (one per sequence); "
                              "lower the rates or raise the batch.")

    @property
    def model(self):
        return model_size(self.size)

    @property
    def global_batch(self) -> int:
        return self.batch or ladder_batch(self.model, self.seq_len)

    @property
    def peak_lr(self) -> float:
        return self.lr or ladder_lr(self.model)

    @property
    def steps(self) -> int:
        return max(1, math.ceil(self.tokens / (self.global_batch * self.seq_len)))

    def eval_steps(self) -> list[int]:
        """Log-spaced steps at which to evaluate (after that many updates), 0 and the last included."""
        return eval_steps(self.steps, self.eval_points).tolist()

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        d = dict(d)
        tasks = []
        for i, t in enumerate(d.pop("tasks", ())):
            if isinstance(t, InjectedTask):
                tasks.append(t)
                continue
            t = {"spec": {}, "rate": None, **t}  # a missing rate is named by InjectedTask's check
            if not isinstance(t["spec"], TaskSpec):
                t["spec"] = from_fields(TaskSpec, t["spec"], f"RunConfig.tasks[{i}].spec")
            tasks.append(from_fields(InjectedTask, t, f"RunConfig.tasks[{i}]"))
        return from_fields(cls, {**d, "tasks": tuple(tasks), "corpus": tuple(d.get("corpus", ()))},
                           "RunConfig")


# --------------------------------------------------------------------------- data

def data_root() -> Path:
    """Where generated corpora live (``$RARESCALE_DATA``, default ``data/`` in the repo)."""
    from rarescale.artifacts import REPO_ROOT

    return Path(os.environ.get("RARESCALE_DATA", REPO_ROOT / "data"))


def open_corpus(config: RunConfig):
    """The run's :class:`~rarescale.olmo.corpus.TokenCorpus`, generating the synthetic web once."""
    from rarescale.olmo.corpus import TokenCorpus, write_synthetic_web

    paths = []
    for pattern in config.corpus:  # a path or a glob, as Dolma ships many files
        found = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not found or not Path(found[0]).is_file():
            raise ConfigError(f"RunConfig.corpus: token file not found: {pattern}")
        paths += found
    if not paths:
        path = data_root() / f"synthetic_web-v{config.vocab_size}-n{config.corpus_tokens}-eos{config.eos}.bin"
        if not path.exists():  # written atomically, so a file that exists is whole
            write_synthetic_web(path, config.corpus_tokens, vocab_size=config.vocab_size,
                                eos=config.eos, seed=0)
        paths = [path]
    corpus = TokenCorpus(paths, config.seq_len, config.corpus_dtype, seed=config.seed,
                         holdout=config.holdout)
    _check_vocab(corpus.validation(), config)
    return corpus


def _check_vocab(tokens: np.ndarray, config: RunConfig) -> None:
    if tokens.max() >= config.vocab_size:  # checked per batch: a scan of the corpus would read it all
        raise ConfigError(f"RunConfig.vocab_size {config.vocab_size} is too small for the corpus "
                          f"(it holds token {tokens.max()}).")


def training_batch(corpus, schedules, tasks, step: int, config: RunConfig):
    """The global batch of ``step`` with its injections, and per task the indices of the
    train instances injected."""
    tokens = corpus.batch(step, config.global_batch)
    _check_vocab(tokens, config)
    plans = plan_step(schedules, step, [len(t.train) for t in tasks], config.seed)
    for task, (rows, idx) in zip(tasks, plans):
        inject(tokens, rows, task.train[idx], config.eos)
    return tokens, [idx for _, idx in plans]


# --------------------------------------------------------------------------- loop pieces

def lm_loss(model, x):
    """Mean next-token cross-entropy of a (B, L) token batch."""
    import torch.nn.functional as F

    logits = model(input_ids=x).logits
    y = x.roll(-1, dims=1)
    y[:, -1] = -100  # no target after the last token; no slicing copy of the logits
    return F.cross_entropy(logits.view(-1, logits.shape[-1]).float(), y.view(-1))


def lr_factor(step: int, config: RunConfig) -> float:
    """Linear warmup to 1, then cosine to ``final_lr``."""
    warm = max(1, round(config.warmup * config.steps))
    if step < warm:
        return (step + 1) / warm
    t = (step - warm) / max(1, config.steps - warm)
    return config.final_lr + (1 - config.final_lr) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


def make_optimizer(model, config: RunConfig):
    """AdamW with β = (0.9, 0.95), weight decay on matrices only (OLMo's choice)."""
    import torch

    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": other, "weight_decay": 0.0}]
    kwargs = {"foreach": True} if config.device == "cpu" else {"fused": True}
    return torch.optim.AdamW(groups, lr=config.peak_lr, betas=(0.9, 0.95), eps=1e-8, **kwargs)


def _distributed():
    """(rank, world) under torchrun, initialising the process group; (0, 1) otherwise."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if os.environ.get("RARESCALE_NCCL") else "gloo")
    return dist.get_rank(), world


def _save_atomic(obj, path: Path):
    import torch

    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _progress(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc="pretraining", unit="step", mininterval=1.0,
                leave=False, disable=not (enabled and sys.stderr.isatty()))


# --------------------------------------------------------------------------- the loop

@dataclass
class RunState:
    """What a checkpoint restores besides the weights and the optimizer."""

    step: int = 0
    injected: list = field(default_factory=list)
    seen: list = field(default_factory=list)
    """Per task, the train instances injected so far, distinct, in order of first injection."""
    train_loss: list = field(default_factory=list)  # (step, loss) each step
    evals: list = field(default_factory=list)
    data_seconds: float = 0.0
    step_seconds: float = 0.0


def train(config: RunConfig, work_dir, *, progress: bool = True, max_steps: int | None = None,
          compile: bool = False):
    """Run (or resume) ``config`` in ``work_dir``; return ``(result, arrays)`` for the artifact.

    ``max_steps`` stops after that many steps in all, as a kill would (tests use it).
    Returns ``None`` then, and on ranks other than 0. ``compile`` wraps the training
    forward in ``torch.compile`` (for GPUs; on this CPU it made training slower).
    """
    import torch
    from torch.nn.parallel import DistributedDataParallel as DDP

    rank, world = _distributed()
    device = torch.device(config.device)
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    if config.global_batch % world:
        raise ConfigError(f"RunConfig.batch {config.global_batch} must divide among {world} processes.")
    per_rank = config.global_batch // world
    micro = config.micro_batch or per_rank
    if per_rank % micro:
        raise ConfigError(f"RunConfig.micro_batch {micro} must divide the {per_rank} sequences "
                          "of each process.")

    corpus = open_corpus(config)
    tasks = draw_tasks([t.spec for t in config.tasks], config.vocab_size, reserved=[config.eos])
    schedules = [InjectionSchedule(t.rate, config.global_batch, config.seq_len) for t in config.tasks]
    model = build_model(config.model, config.vocab_size, config.seq_len, config.eos,
                        config.seed).to(device)
    optimizer = make_optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, config))
    state = RunState(injected=[0] * len(tasks), seen=[[] for _ in tasks])

    checkpoint = work_dir / CHECKPOINT
    if checkpoint.exists():
        saved = torch.load(checkpoint, map_location=device, weights_only=False)
        if saved["config"] != config.to_dict():
            raise ConfigError(f"{checkpoint} belongs to a different run config; "
                              "delete it or use another work_dir.")
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        state = RunState(**saved["state"])
        torch.set_rng_state(saved["rng"])

    net = DDP(model) if world > 1 else model
    if compile:
        net = torch.compile(net)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda"
                else contextlib.nullcontext())
    validation = torch.from_numpy(corpus.validation()).to(device)
    seen_sets = [set(seen) for seen in state.seen]
    eval_steps = set(config.eval_steps())
    stop = min(config.steps, max_steps if max_steps is not None else config.steps)
    bar = _progress(config.steps, state.step, progress and rank == 0)

    while state.step < stop:
        step = state.step
        if step in eval_steps and rank == 0 and not any(e["step"] == step for e in state.evals):
            state.evals.append(analysis.evaluate(model, tasks, config, validation, step, autocast,
                                                 state.seen))
        t0 = time.perf_counter()
        tokens, injected = training_batch(corpus, schedules, tasks, step, config)
        local = torch.from_numpy(tokens[rank * per_rank:(rank + 1) * per_rank]).to(device)
        t1 = time.perf_counter()
        n_micro = per_rank // micro
        total = 0.0
        for m in range(n_micro):
            sync = m == n_micro - 1 or world == 1
            with (contextlib.nullcontext() if sync else net.no_sync()), autocast:
                loss = lm_loss(net, local[m * micro:(m + 1) * micro]) / n_micro
            loss.backward()
            total += loss.item()
        if world > 1:
            t = torch.tensor([total], device=device)
            torch.distributed.all_reduce(t)
            total = t.item() / world
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        state.data_seconds += t1 - t0
        state.step_seconds += time.perf_counter() - t0
        state.injected = [a + len(b) for a, b in zip(state.injected, injected)]
        for seen, seen_set, idx in zip(state.seen, seen_sets, injected):
            for k in idx.tolist():
                if k not in seen_set:
                    seen_set.add(k)
                    seen.append(k)
        state.train_loss.append((step, total))
        state.step += 1
        bar.update(1)
        if rank == 0 and bar.format_dict.get("rate"):
            tokens_per_s = bar.format_dict["rate"] * config.global_batch * config.seq_len
            bar.set_postfix(loss=f"{total:.3f}", tok_s=f"{tokens_per_s:.0f}")
        if state.step % config.checkpoint_every == 0 or state.step == config.steps:
            if rank == 0:
                _save_atomic({"config": config.to_dict(), "model": model.state_dict(),
                              "optimizer": optimizer.state_dict(),
                              "scheduler": scheduler.state_dict(), "state": asdict(state),
                              "rng": torch.get_rng_state()}, checkpoint)
            if world > 1:
                torch.distributed.barrier()
    bar.close()
    if state.step < config.steps or rank != 0:
        return None

    if not any(e["step"] == config.steps for e in state.evals):
        state.evals.append(analysis.evaluate(model, tasks, config, validation, config.steps, autocast,
                                            state.seen))
    forgetting = analysis.forgetting_curve(model, optimizer, tasks, corpus, config, autocast, state.seen)
    probes = analysis.probes(model, tasks, config, autocast)
    return summarise(config, tasks, state, forgetting, probes)


def summarise(config: RunConfig, tasks, state: RunState, forgetting, probes):
    """The run's artifact: a JSON summary and arrays of curves."""
    size = config.model
    evals = state.evals
    names = [t.name for t in config.tasks]
    result = {
        "size": config.size,
        "non_embedding_params": size.non_embedding_params(),
        "total_params": size.total_params(config.vocab_size),
        "steps": config.steps, "global_batch": config.global_batch, "peak_lr": config.peak_lr,
        "tokens_trained": config.steps * config.global_batch * config.seq_len,
        "tasks": names,
        "requested_instances": [s.total(config.steps) for s in
                                (InjectionSchedule(t.rate, config.global_batch, config.seq_len)
                                 for t in config.tasks)],
        "injected_instances": state.injected,
        "chance_labels": [1 / len(t.answer_tokens) for t in tasks],
        "distinct_injected": [len(seen) for seen in state.seen],
        "final": {k: evals[-1][k] for k in ("val_loss", "train_label_loss", "injected_label_loss",
                                            "test_label_loss",
                                            "test_acc_vocab", "test_acc_labels", "grad_cosine")},
        "data_share": state.data_seconds / max(state.step_seconds, 1e-9),
        "tokens_per_s": config.steps * config.global_batch * config.seq_len / max(state.step_seconds, 1e-9),
        "probe_targets": list(analysis.PROBE_TARGETS),
        "forgetting_steps": forgetting["steps"],
    }
    arrays = {
        "eval_step": np.array([e["step"] for e in evals]),
        "val_loss": np.array([e["val_loss"] for e in evals]),
        "train_label_loss": np.array([e["train_label_loss"] for e in evals]).reshape(len(evals), -1),
        "injected_label_loss": np.array([e["injected_label_loss"] for e in evals]).reshape(len(evals), -1),
        "test_label_loss": np.array([e["test_label_loss"] for e in evals]).reshape(len(evals), -1),
        "test_acc_vocab": np.array([e["test_acc_vocab"] for e in evals]).reshape(len(evals), -1),
        "test_acc_labels": np.array([e["test_acc_labels"] for e in evals]).reshape(len(evals), -1),
        "grad_cosine": np.array([e["grad_cosine"] for e in evals]).reshape(len(evals), -1),
        "train_loss": np.array([loss for _, loss in state.train_loss]),
        "forgetting_loss": np.asarray(forgetting["loss"]),
        "probe_acc": np.asarray(probes["accuracy"]),
        "probe_chance": np.asarray(probes["chance"]),
    }
    return result, arrays

