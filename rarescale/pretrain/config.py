"""One pretraining run's configuration (C16-C18): :class:`RunConfig`, from YAML to the loop.

A run's config is one object from the sweep's YAML to the training loop: a
sweep builds it, the runner notebook receives it as one mapping
(:meth:`RunConfig.to_dict`) and rebuilds it with :meth:`RunConfig.from_dict`,
``torchrun`` workers read it from a file (:meth:`RunConfig.to_file`,
:meth:`RunConfig.from_file`). Its hash keys the run's artifact.
"""

from __future__ import annotations

import glob
import json
import math
from dataclasses import asdict, dataclass
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from rarescale.counts import eval_steps
from rarescale.store.files import write_atomically
from rarescale.pretrain.model import ladder_batch, ladder_lr, model_size, padded_vocab
from rarescale.pretrain.injection import SLOT_TOKENS
from rarescale.pretrain.tasks import TaskSpec, tokens_needed
from rarescale.validation import (Boolean, Config, ConfigError, Interval, ListOf, MissingFile,
                                  Options, Text, check, check_all, from_fields, read_yaml, shown)


@dataclass(frozen=True)
class InjectedTask(Config):
    """One task injected at one frequency (instances per training token)."""

    KEYED_ALWAYS = frozenset({"spec", "rate"})

    spec: TaskSpec
    rate: float

    def __post_init__(self):
        check("InjectedTask", "rate", self.rate, Interval(Real, 0, 0.25, "right"))

    @property
    def name(self) -> str:
        return f"{self.spec.kind}@{self.rate:.2g}"


_POSITIVE_INT = Interval(Integral, 1, None)
CONSTRAINTS = {
    "tokens": _POSITIVE_INT,
    "seq_len": Interval(Integral, 4, None),
    "warmup": Interval(Real, 0, 1, "left"),
    "final_lr": Interval(Real, 0, 1),
    "weight_decay": Interval(Real, 0, None),
    "clip": Interval(Real, 0, None, "neither"),
    "vocab_size": Interval(Integral, 8, None),
    "corpus_dtype": Options(frozenset({"uint16", "uint32"})),
    "corpus_tokens": _POSITIVE_INT,
    "holdout": _POSITIVE_INT,
    "seed": Interval(Integral, 0, None),
    "eval_points": Interval(Integral, 2, None),
    "eval_instances": _POSITIVE_INT,
    "forgetting_steps": Interval(Integral, 0, None),
    "checkpoint_every": _POSITIVE_INT,
    "schedule": Options(frozenset({"cosine", "wsd"})),
    "decay": Interval(Real, 0, 1, "neither"),
    "budgets": _POSITIVE_INT,
    "per_sequence": _POSITIVE_INT,
}
"""Each field's accepted values, checked by :func:`rarescale.validation.check`."""
OPTIONAL = {"batch": _POSITIVE_INT, "micro_batch": _POSITIVE_INT, "lr": Interval(Real, 0, 10, "right"),
            "forgetting_lr": Interval(Real, 0, 10, "right"), "eval_tail": Interval(Real, 0, 0.5, "left")}
"""Fields that may also be ``None`` (the ladder's rule, or no accumulation)."""


@dataclass(frozen=True)
class RunConfig(Config):
    """Everything that defines one pretraining run; its hash keys the run's artifact."""

    KEYED_ALWAYS = frozenset({
        "size", "tasks", "tokens", "seq_len", "batch", "micro_batch", "lr", "warmup", "final_lr",
        "weight_decay", "clip", "vocab_size", "eos", "corpus", "corpus_dtype", "corpus_tokens",
        "holdout", "seed", "eval_points", "eval_instances", "forgetting_steps", "forgetting_lr",
        "checkpoint_every", "device"})
    """The fields of the CPU ladder's runs, always in the key; any other only when set."""

    size: str = "250K"
    """A rung of the ladder (:data:`rarescale.pretrain.model.LADDER`)."""
    tasks: tuple[InjectedTask, ...] = ()
    """Injected tasks, each at its own frequency, on disjoint token sets."""
    tokens: int = 1_000_000
    """Training tokens."""
    seq_len: int = 128
    """Tokens per training sequence."""
    batch: int | None = None
    """Sequences per step over all processes; None: the ladder's rule."""
    micro_batch: int | None = None
    """Sequences per forward pass in one process (gradient accumulation); None: all of them."""
    lr: float | None = None
    """Peak learning rate; None: the ladder's rule."""
    warmup: float = 0.05
    """Warmup, as a fraction of the steps (linear), then the ``schedule``."""
    final_lr: float = 0.1
    """The schedule ends at this fraction of the peak learning rate."""
    schedule: str = "cosine"
    """``"cosine"``: cosine decay over the whole run. ``"wsd"``: warmup, stable at the peak,
    then a linear decay over the last ``decay`` of the run (warmup-stable-decay)."""
    decay: float = 0.2
    """WSD: the fraction of a token budget spent decaying the learning rate."""
    budgets: int = 1
    """WSD: token budgets measured in one run: the run's tokens, its half, its quarter, ...
    Each smaller budget branches off the stable phase, decays over its own last ``decay``,
    is evaluated, and the run goes on from the branch point (:func:`~rarescale.pretrain.train.train`)."""
    weight_decay: float = 0.1
    """AdamW's decoupled weight decay."""
    clip: float = 1.0
    """Gradients are clipped to this global L2 norm."""
    vocab_size: int = 4096
    """Token ids of the corpus and the tasks, before padding (:attr:`padded_vocab`)."""
    eos: int = 0
    """The end-of-document token id (it separates documents and injected instances)."""
    per_sequence: int = 1
    """Most injected instances in one sequence; above 1, evenly spaced slots, each instance past
    the first its own document (:mod:`rarescale.pretrain.injection`)."""
    corpus: tuple[str, ...] = ()
    """Token files (paths or globs) in OLMo's format; empty: the generated synthetic web."""
    corpus_dtype: str = "uint16"
    """Token width of raw files (``.npy`` files carry their own)."""
    corpus_tokens: int = 16_000_000
    """Size of the generated corpus (ignored with ``corpus``)."""
    holdout: int = 64
    """Validation sequences held out of the corpus."""
    seed: int = 0
    """Seed of the weights, the data order and the injections."""
    eval_points: int = 12
    """Evaluations at log-spaced steps (the first and last included)."""
    eval_tail: float | None = None
    """Also evaluate at every this share of the run over its second half (0.05: at 50%, 55%,
    … 100% of the steps), where a late-learned task jumps; None: the log-spaced points alone."""
    eval_instances: int = 256
    """Train instances per task for the label loss and the gradient; all test instances score."""
    forgetting_steps: int = 32
    """Background-only steps after training for the forgetting curve (C20); 0: none."""
    forgetting_lr: float | None = None
    """Learning rate of the second forgetting curve, the same for every size; None: the run's
    final learning rate (the first curve's) again."""
    checkpoint_every: int = 100
    """Steps between checkpoints (a killed run resumes from the last)."""
    device: str = "cpu"
    """``"cpu"``, ``"cuda"`` or ``"cuda:N"``; under torchrun each process takes its own GPU."""
    shard: bool = False
    """Under torchrun, shard the model across the processes (FSDP2, per decoder layer) instead of
    replicating it (DDP). A CUDA run whose replicated training state would not fit one GPU is
    sharded whatever this says (:func:`rarescale.pretrain.sharding.state_fits`)."""

    def __post_init__(self):
        model_size(self.size)
        check("RunConfig", "corpus", self.corpus, ListOf(Text(), 0))
        if not isinstance(self.tasks, (list, tuple)):
            raise ConfigError(f"RunConfig.tasks must be a list of InjectedTask. "
                              f"Got {shown(self.tasks)} instead.")
        for name in ("tasks", "corpus"):  # lists from YAML, kept as tuples (hashable, frozen)
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for i, t in enumerate(self.tasks):
            if not isinstance(t, InjectedTask):
                raise ConfigError(f"RunConfig.tasks[{i}] must be an InjectedTask. Got {t!r} instead.")
        check_all("RunConfig", asdict(self), CONSTRAINTS)
        for name, constraint in OPTIONAL.items():
            if getattr(self, name) is not None:
                check("RunConfig", name, getattr(self, name), constraint)
        if self.budgets > 1 and self.schedule != "wsd":
            raise ConfigError("RunConfig.budgets > 1 needs schedule: wsd (a cosine run has one "
                              "budget, its own).")
        starts = [self.decay_start(b) for b in self.budget_steps()]
        if self.budgets > 1 and min(starts) < max(1, round(self.warmup * self.steps)):
            raise ConfigError(f"RunConfig.budgets {self.budgets}: the smallest budget's decay would "
                              "start inside the warmup; use fewer budgets or more tokens.")
        self._check_relations()
        check("RunConfig", "eos", self.eos, Interval(Integral, 0, self.vocab_size - 1))
        check("RunConfig", "shard", self.shard, Boolean())
        check("RunConfig", "device", self.device, Text())
        check("RunConfig", "device", self.device.split(":")[0], Options(frozenset({"cpu", "cuda"})))
        need = tokens_needed(t.spec for t in self.tasks) + 1
        if need > self.vocab_size:
            raise ConfigError(f"RunConfig.vocab_size {self.vocab_size} is too small: the tasks and "
                              f"EOS take {need} distinct tokens.")
        if self.seq_len // self.per_sequence < SLOT_TOKENS:
            raise ConfigError(f"RunConfig.per_sequence {self.per_sequence} leaves fewer than "
                              f"{SLOT_TOKENS} tokens per instance in a sequence of {self.seq_len}.")
        rate, k = sum(t.rate for t in self.tasks), self.per_sequence
        if rate > k / self.seq_len:
            raise ConfigError(f"RunConfig.tasks: the rates sum to {rate:.3g} instances per token, "
                              f"above per_sequence/seq_len = {k / self.seq_len:.3g} ({k} instance(s) "
                              "per sequence); raise per_sequence or lower the rates.")
        most = sum(math.ceil(t.rate * self.global_batch * self.seq_len - 1e-9) for t in self.tasks)
        if most > self.global_batch * k:
            raise ConfigError(f"RunConfig.tasks: a step may inject up to {most} instances, more than "
                              f"the batch of {self.global_batch} sequences holds ({k} per sequence); "
                              "lower the rates or raise the batch.")

    def _check_relations(self):
        """What a kernel would otherwise trip over: values that do not fit, do not divide, or
        would allocate or write more than any machine of the project has (issue-31 checks)."""
        limits = {"seed": 2 ** 32 - 1, "vocab_size": 2 ** 24, "corpus_tokens": 10 ** 10,
                  "eval_points": 10_000, "eval_instances": 10 ** 6, "tokens": 10 ** 13,
                  "batch": 2 ** 24, "micro_batch": 2 ** 24, "holdout": 10 ** 7,
                  "forgetting_steps": 10 ** 6, "checkpoint_every": 10 ** 9, "per_sequence": 2 ** 16,
                  "budgets": 64}
        for name, top in limits.items():
            value = getattr(self, name)
            if value is not None and value > top:
                raise ConfigError(f"RunConfig.{name} must be at most {top:,}. Got {value:,} instead.")
        if self.micro_batch is not None and self.global_batch % self.micro_batch:
            raise ConfigError(f"RunConfig.micro_batch {self.micro_batch} does not divide the batch "
                              f"of {self.global_batch} sequences.")

    @property
    def model(self):
        return model_size(self.size)

    @property
    def padded_vocab(self) -> int:
        """The model's vocabulary (:func:`rarescale.pretrain.model.padded_vocab`)."""
        return padded_vocab(self.vocab_size)

    @property
    def global_batch(self) -> int:
        return self.batch or ladder_batch(self.model, self.seq_len)

    @property
    def peak_lr(self) -> float:
        return self.lr or ladder_lr(self.model)

    @property
    def steps(self) -> int:
        return max(1, math.ceil(self.tokens / (self.global_batch * self.seq_len)))

    @property
    def tokens_trained(self) -> int:
        return self.steps * self.global_batch * self.seq_len

    def budget_steps(self) -> list[int]:
        """The steps of each token budget, smallest first; the last is the run's own."""
        return sorted({max(1, round(self.steps / 2 ** k)) for k in range(self.budgets)})

    def decay_start(self, budget: int) -> int:
        """WSD: the step at which the learning rate of a budget of ``budget`` steps starts to decay."""
        return budget - max(1, round(self.decay * budget))

    @property
    def tokens_with_branches(self) -> int:
        """Tokens trained on in all: the run's steps and its decay branches'."""
        steps = self.steps + sum(b - self.decay_start(b) for b in self.budget_steps()[:-1])
        return steps * self.global_batch * self.seq_len

    def eval_steps(self) -> list[int]:
        """Log-spaced steps at which to evaluate (after that many updates), 0 and the last
        included; with ``eval_tail``, every ``eval_tail`` of the run over its second half too."""
        steps = eval_steps(self.steps, self.eval_points)
        if self.eval_tail:
            tail = np.round(self.steps * np.arange(0.5, 1 + 1e-9, self.eval_tail)).astype(int)
            steps = np.union1d(steps, np.clip(tail, 0, self.steps))
        return steps.tolist()

    def corpus_files(self) -> list[Path]:
        """The token files ``corpus`` names (globs expanded); a missing one is a one-line error."""
        paths = []
        for pattern in self.corpus:  # a path or a glob, as Dolma ships many files
            found = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
            if not found or not Path(found[0]).is_file():
                raise MissingFile(f"RunConfig.corpus: token file not found: {pattern}")
            paths += [Path(p) for p in found]
        return paths

    @classmethod
    def _nested(cls, d: dict, where: str) -> dict:
        """Tasks from ``{"spec": {...}, "rate": r}`` mappings (or :class:`InjectedTask` already)."""
        tasks = d.get("tasks", ())
        if not isinstance(tasks, (list, tuple)):
            raise ConfigError(f"{where}.tasks must be a list of {{spec: ..., rate: ...}}. "
                              f"Got {shown(tasks)} instead.")
        built = []
        for i, t in enumerate(tasks):
            if not isinstance(t, InjectedTask):
                if not isinstance(t, dict):
                    raise ConfigError(f"{where}.tasks[{i}] must be a mapping {{spec: ..., rate: ...}}. "
                                      f"Got {shown(t)} instead.")
                t = {"spec": {}, "rate": None, **t}  # a missing rate is named by InjectedTask's check
                t["spec"] = TaskSpec.from_dict(t["spec"], f"{where}.tasks[{i}].spec")
                t = from_fields(InjectedTask, t, f"{where}.tasks[{i}]")
            built.append(t)
        d["tasks"] = tuple(built)
        return d

    def to_file(self, path) -> Path:
        """Write the config as JSON (which YAML reads too), atomically
        (:func:`rarescale.store.files.write_atomically`): a reader never sees half a file."""
        text = json.dumps(self.to_dict(), indent=1)
        return write_atomically(path, lambda tmp: tmp.write_text(text))

    @classmethod
    def from_file(cls, path) -> "RunConfig":
        """Read a YAML or JSON file of RunConfig fields."""
        return cls.from_dict(read_yaml(path, "config file") or {}, str(path))
