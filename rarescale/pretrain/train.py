"""Section 4's pretraining run (C16-C18, C20): one readable training loop.

:func:`train` runs a :class:`~rarescale.pretrain.config.RunConfig` on this CPU
(fp32) or on a GPU (bf16 autocast), in one process or data parallel under
``torchrun`` (DDP: each rank on its own GPU over nccl, or gloo on CPU; with
``shard``, FSDP2 across the ranks, :mod:`rarescale.pretrain.sharding`),
checkpoints every ``checkpoint_every`` steps and resumes exactly where a killed
run stopped: the batch and the injections of a step are pure functions of
(seed, step) (:mod:`rarescale.pretrain.data`), so a resumed run sees what the
uninterrupted one would have.

The loop (:func:`loop`) takes one optimizer step at a time
(:func:`rarescale.pretrain.step.optimizer_step`) and calls its callbacks before and after each
(OLMo-core's pattern): :class:`Evaluations` at log-spaced steps (the measures of
:mod:`rarescale.pretrain.measures`), :class:`DecayBranches` where a smaller token budget's decay
starts, and :class:`Checkpoints` (:mod:`rarescale.pretrain.checkpoint`). After the last step,
:func:`finish` takes the final measures: the last evaluation, forgetting and probes.

A warmup-stable-decay run with several token ``budgets`` measures each smaller
budget on a branch: where that budget's decay starts, a copy of the weights and
the optimizer trains on through the budget's last step with the learning rate
falling, is evaluated, and is dropped; the run goes on from the branch point.
So the evaluation of a budget is the one a run of that many tokens would end
with, and all budgets share one stable phase (Hägele et al. 2024).
"""

from __future__ import annotations

import copy
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rarescale.pretrain import checkpoint, measures, memory, placement, sharding, throughput
from rarescale.pretrain.checkpoint import RunState
from rarescale.pretrain.config import RunConfig
from rarescale.pretrain.data import corpus_checksums, open_corpus, run_tasks, schedules, training_batch
from rarescale.pretrain.model import build_model
from rarescale.pretrain.step import (autocast_for, compiled_loss, make_optimizer, optimizer_step,
                                     set_lr, uses_bf16, uses_compile)
from rarescale.validation import ConfigError, writable_dir


def train(config: RunConfig, work_dir, *, progress: bool = True, max_steps: int | None = None,
          compile: bool | None = None):
    """Run (or resume) ``config`` in ``work_dir``; return ``(result, arrays)`` for the artifact.

    ``max_steps`` stops after that many steps in all, as a kill would (tests use it).
    Returns ``None`` then, and on ranks other than 0. ``compile`` compiles the loss and its
    backward as one graph (:func:`~rarescale.pretrain.step.compiled_loss`); by default a CPU run
    does where it pays (:func:`~rarescale.pretrain.step.uses_compile`). The choice, and whether the
    forward ran in bf16 (:func:`~rarescale.pretrain.step.uses_bf16`), go in the run's artifact.
    """
    place = placement.join(config)
    work_dir = writable_dir(work_dir, "work_dir")
    if config.global_batch % place.world:
        raise ConfigError(f"RunConfig.batch {config.global_batch} must divide among {place.world} processes.")
    per_rank = config.global_batch // place.world
    sharded = place.world > 1 and (config.shard or not placement.replica_fits(config, place))
    micro = memory.micro_batch(config, place.world, placement.device_memory(place.device), sharded)
    if per_rank % micro:
        raise ConfigError(f"RunConfig.micro_batch {micro} must divide the {per_rank} sequences "
                          "of each process.")
    with checkpoint.owned(work_dir, place.rank):
        run = Run.start(config, work_dir, place, micro, sharded, compile)
        stop = min(config.steps, max_steps if max_steps is not None else config.steps)
        done = loop(run, [Evaluations(config), DecayBranches(config), Checkpoints(config)], stop,
                    progress and place.is_main)
        return finish(run) if done else None


@dataclass
class Run:
    """One run in its work folder: its config, where this process trains, the model, optimizer
    and state (:class:`~rarescale.pretrain.checkpoint.Restored`), its data, and how a step is
    taken (:meth:`take_step`). The loop and its callbacks read and change it."""

    config: RunConfig
    work_dir: Path
    place: placement.Placement
    micro: int
    sharded: bool
    corpus: object
    corpus_bytes: dict
    """The SHA-256 of the token files, by path: a resumed run must train on the same bytes."""
    tasks: list
    compiled: bool
    autocast: object
    plan: list
    """Per task, its injection schedule (:func:`~rarescale.pretrain.data.schedules`)."""
    restored: checkpoint.Restored = None
    loss_fn: object = None
    """The micro-batch loss (compiled, or None: eager)."""
    validation: object = None
    seen_sets: list = field(default_factory=list)

    @classmethod
    def start(cls, config, work_dir, place, micro, sharded, compile) -> "Run":
        import torch

        tasks = run_tasks(config)
        run = cls(config, work_dir, place, micro, sharded, open_corpus(config),
                  corpus_checksums(config), tasks, uses_compile(config, place.world, compile),
                  autocast_for(config, place.device), schedules(config))
        run.restored = checkpoint.restore(config, work_dir, run.build_model, run.make_optimizer,
                                          place, sharded, len(tasks), run.corpus_bytes)
        run.loss_fn = compiled_loss(run.restored.net) if run.compiled else None
        run.validation = torch.from_numpy(run.corpus.validation()).to(place.device)
        run.seen_sets = [set(seen) for seen in run.state.seen]
        return run

    @property
    def state(self) -> RunState:
        return self.restored.state

    def build_model(self):
        c = self.config
        return build_model(c.model, c.padded_vocab, c.seq_len, c.eos, c.seed).to(self.place.device)

    def make_optimizer(self, model):
        return make_optimizer(model, self.config)

    def take_step(self, step: int, state: RunState, seen_sets, budget: int | None = None) -> float:
        """Train on ``step``'s batch at its learning rate (of ``budget``), on the main run or a
        decay branch; record the step's time and what it injected in ``state``."""
        import torch

        c, place, optimizer = self.config, self.place, self.restored.optimizer
        set_lr(optimizer, c, step, budget)
        t0 = time.perf_counter()
        tokens, injected = training_batch(self.corpus, self.plan, self.tasks, step, c)
        per_rank = c.global_batch // place.world
        local = torch.from_numpy(tokens[place.rank * per_rank:(place.rank + 1) * per_rank]).to(place.device)
        t1 = time.perf_counter()
        loss = optimizer_step(self.restored.net, optimizer, local, self.micro, c.clip, self.autocast,
                              place.world, self.loss_fn)
        seconds = time.perf_counter() - t0
        state.data_seconds += t1 - t0
        state.step_seconds += seconds
        state.step_times.append(seconds)
        state.injected = [a + len(b) for a, b in zip(state.injected, injected)]
        for seen, seen_set, idx in zip(state.seen, seen_sets, injected):
            for k in idx.tolist():
                if k not in seen_set:
                    seen_set.add(k)
                    seen.append(k)
        return loss

    def save(self) -> None:
        checkpoint.save(self.work_dir, self.config, self.corpus_bytes, self.restored, self.place,
                        self.sharded)

    def full_copy(self, with_optimizer: bool = False):
        """(model, optimizer) the measures read: the run's own, or rank 0's full copy of a sharded
        one (every process takes part in gathering it; (None, None) on the other ranks)."""
        if not self.sharded:
            return self.restored.model, self.restored.optimizer
        return sharding.full_copy(self.restored.model, self.restored.optimizer, self.build_model,
                                  self.make_optimizer, self.place.rank, with_optimizer)

    def evaluate(self, step: int, at: RunState, full=None) -> dict:
        """Every process calls it; rank 0 measures (:func:`~rarescale.pretrain.measures.evaluate`).
        ``full``: :meth:`full_copy`'s answer, when already gathered."""
        target = (full or self.full_copy())[0]
        if not self.place.is_main:
            return {"step": step}
        return measures.evaluate(target, self.tasks, self.config, self.validation, step,
                                 self.autocast, at.seen, at.injected, self.micro)


class Callback:
    """Called by :func:`loop` before each step (on the weights the step will update) and after it."""

    def before_step(self, run: Run, step: int) -> None:
        pass

    def after_step(self, run: Run) -> None:
        pass


class Evaluations(Callback):
    """The run's evaluations, at its log-spaced evaluation steps, each once."""

    def __init__(self, config: RunConfig):
        self.steps = set(config.eval_steps())

    def before_step(self, run, step):
        if step in self.steps and not any(e["step"] == step for e in run.state.evals):
            run.state.evals.append(run.evaluate(step, run.state))


class DecayBranches(Callback):
    """Where a smaller token budget's decay starts: a branch trains a copy through that budget's
    decay and is evaluated (:func:`decay_branch`); the run then goes on, and checkpoints."""

    def __init__(self, config: RunConfig):
        self.budgets = {config.decay_start(b): b for b in config.budget_steps()[:-1]}
        self.order = sorted(self.budgets)

    def before_step(self, run, step):
        if step in self.budgets and len(run.state.branches) < self.order.index(step) + 1:
            run.state.branches.append(decay_branch(self.budgets[step], run))
            run.save()


class Checkpoints(Callback):
    """A checkpoint every ``checkpoint_every`` steps, at the last step, and at the next step after
    one is asked for (:func:`~rarescale.pretrain.checkpoint.request_checkpoint`)."""

    def __init__(self, config: RunConfig):
        self.every, self.last = config.checkpoint_every, config.steps

    def after_step(self, run):
        asked = checkpoint.checkpoint_requested(run.work_dir, run.place.world)
        step = run.state.step
        if asked or step % self.every == 0 or step == self.last:
            run.save()
            if asked and run.place.is_main:  # answered: the job that asked may requeue now
                (run.work_dir / checkpoint.CHECKPOINT_REQUEST).unlink(missing_ok=True)


def loop(run: Run, callbacks: list[Callback], stop: int, progress: bool) -> bool:
    """Train ``run`` up to step ``stop``, calling ``callbacks`` around each step; True when the
    run has taken all its steps."""
    config, state = run.config, run.state
    bar = _progress(config.steps, state.step, progress)
    while state.step < stop:
        step = state.step
        # evaluations and decay branches, on the weights before this step's update
        for callback in callbacks:
            callback.before_step(run, step)
        # one update
        loss = run.take_step(step, state, run.seen_sets)
        state.train_loss.append((step, loss))
        state.step += 1
        # progress, then checkpoints
        bar.update(1)
        if progress and bar.format_dict.get("rate"):
            tokens_per_s = bar.format_dict["rate"] * config.global_batch * config.seq_len
            bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{tokens_per_s:.0f}")
        for callback in callbacks:
            callback.after_step(run)
    bar.close()
    return state.step >= config.steps


def finish(run: Run):
    """After the last step: the last evaluation (every process), then on rank 0 the forgetting
    curves and probes of one full copy, and the run's artifact (None on other ranks)."""
    config, state = run.config, run.state
    full = run.full_copy(with_optimizer=True)
    if not any(e["step"] == config.steps for e in state.evals):
        state.evals.append(run.evaluate(config.steps, state, full))
    if not run.place.is_main:
        return None
    model, optimizer = full
    args = (model, optimizer, run.tasks, run.corpus, config, run.autocast, state.seen)
    own = measures.forgetting_curve(*args, measures.last_step_lr(config), run.micro)
    matched = measures.forgetting_curve(*args, config.forgetting_lr, run.micro) if config.forgetting_lr else own
    probes = measures.probes(model, run.tasks, config, run.autocast, run.micro)
    result, arrays = measures.run_artifact(config, run.tasks, state, own, matched, probes)
    result["compiled"] = run.compiled
    result["autocast"] = "bf16" if uses_bf16(config, run.place.device.type) else "none"
    result["micro_batch"] = run.micro
    result["corpus_sha256"] = run.corpus_bytes  # the bytes trained on, by path (see corpus_checksums)
    speed = throughput.run_speed(config, result["tokens_per_s"], placement.device_name(run.place.device),
                                 run.place.world)
    return {**result, **speed}, arrays


def decay_branch(budget: int, run: Run) -> dict:
    """Train a copy of the run from ``run.state.step`` to the end of a ``budget``-step budget with
    its decay, evaluate it (rank 0), and restore the run as it was. Returns the evaluation."""
    import torch

    state, model, optimizer = run.state, run.restored.model, run.restored.optimizer
    saved = (copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict()),
             torch.get_rng_state())
    branch = RunState(injected=list(state.injected), seen=[list(s) for s in state.seen])
    seen_sets = [set(s) for s in branch.seen]
    for step in range(state.step, budget):
        run.take_step(step, branch, seen_sets, budget)
    found = run.evaluate(budget, branch)
    model.load_state_dict(saved[0])
    optimizer.load_state_dict(saved[1])
    torch.set_rng_state(saved[2])
    state.data_seconds += branch.data_seconds
    state.step_seconds += branch.step_seconds
    return found


def _progress(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc="pretraining", unit="step", mininterval=1.0,
                leave=False, disable=not (enabled and sys.stderr.isatty()))
