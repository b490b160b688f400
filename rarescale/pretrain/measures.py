"""What a run measures (C18-C20), during training and after it.

* :func:`evaluate` (C18, C20), at log-spaced steps: background validation loss;
  per injected task the label loss on the train split (the pool injections draw
  from) and on the instances injected so far (the first ``eval_instances``
  distinct ones); the label loss and accuracy on held-out test instances (argmax
  over the whole vocabulary, and over the task's labels), also on the
  *shortcut-hard* test instances, those the best one-operand rule
  (:attr:`~rarescale.pretrain.tasks.Task.shortcut`) gets wrong; how many
  instances were injected so far, and how many distinct; and gradient
  interference: the cosine between the gradient of the task's label loss and
  that of the background loss, over all weights, over the transformer blocks
  only (``body``: embeddings and output layer excluded), over those two only
  (``io``), and over the blocks for a null task, the same instances with their
  labels shuffled.
* :func:`forgetting_curve` (C20): from the trained model and its optimizer
  state, ``forgetting_steps`` more steps on background data only (no
  injection), at a given learning rate; the task's label loss on its injected
  instances after each. The run measures it twice: at its own final learning
  rate, and at ``forgetting_lr``, the same absolute rate for every size.
  Our choice of measure: the paper's exact one is not known.
* :func:`probes` (C19): per layer, linear probes of the hidden state at the
  label-predicting position (the second operand) of held-out instances, for
  the targets the task kind names (:meth:`~rarescale.pretrain.tasks.TaskKind.probe_targets`):
  a class (accuracy of a ridge classifier) or a number (R² of a ridge
  regression). Every size is probed through the same number of dimensions,
  the hidden state's top ``PROBE_DIM`` principal components, so a wider model
  is not favoured by width alone; and each probe has a control, the same probe
  for the targets of a random relabelling of the values (Hewitt and Liang's
  control task), so that *selectivity* = score − control measures the task's
  structure rather than token identity. Fitted on one half of the test
  instances, scored on the other. Our choice: the paper's exact probe is not known.
* :func:`run_artifact`: a finished run's summary and curves, as its artifact holds them.

The input of an instance is ``(TOK1, TOK2)`` at the start of a sequence, as
injected; the model's prediction at position 1 is its answer.
"""

from __future__ import annotations

import copy

import numpy as np

from rarescale.counts import eval_steps
from rarescale.pretrain.data import schedules
from rarescale.pretrain.step import lm_loss, lr_factor, make_optimizer, optimizer_step

PROBE_TARGETS = ("v1", "v2", "label")
PROBE_DIM = 16
"""Principal components of the hidden state every probe reads, at every size (the CPU
ladder's smallest width is 32)."""
IO_PARAMETERS = ("embed_tokens", "lm_head")
VALIDATION_CHUNK = 16
"""Validation sequences per forward at most (fewer where the run's micro-batch is smaller)."""
INSTANCES_PER_FORWARD = 1024
"""Test instances (two tokens each) per forward at most; fewer where the run's micro-batch holds
fewer tokens, so no forward of a measure holds more tokens than a training micro-batch."""
BACKGROUND_SEQUENCES = 32
"""Validation sequences of the background gradient: a fixed batch, comparable across steps."""
"""Names of the embedding and output weights, reported apart from the blocks'."""


def _instance_logits(model, instances, autocast, hidden: bool = False):
    """Logits at the label-predicting position for (n, 3) instances; optionally all hidden states."""
    import torch

    device = next(model.parameters()).device
    x = torch.as_tensor(np.asarray(instances)[:, :2], device=device)
    with autocast:
        out = model(input_ids=x, output_hidden_states=hidden)
    logits = out.logits[:, 1].float()
    if hidden:
        return logits, [h[:, 1].float() for h in out.hidden_states]
    return logits


def instance_chunk(config, micro: int | None = None) -> int:
    """Instances per forward: at most :data:`INSTANCES_PER_FORWARD`, and at most as many tokens
    as one micro-batch of training holds."""
    micro = micro or config.micro_batch or config.global_batch
    return max(1, min(INSTANCES_PER_FORWARD, micro * config.seq_len // 2))


def _label_loss(logits, instances):
    import torch
    import torch.nn.functional as F

    return F.cross_entropy(logits, torch.as_tensor(np.asarray(instances)[:, 2], device=logits.device))


def _injected(task, seen, config):
    """The first ``eval_instances`` distinct injected train instances (None if none yet)."""
    if not seen:
        return None
    return task.train[np.asarray(seen[: config.eval_instances])]


def _cosines(g_task, g_background, io_mask) -> dict:
    """Cosine of two gradients over all weights, the blocks only and the embeddings+output only."""
    out = {}
    for name, keep in (("all", [True] * len(io_mask)), ("body", [not m for m in io_mask]),
                       ("io", list(io_mask))):
        pairs = [(a.float(), b.float()) for a, b, k in zip(g_task, g_background, keep) if k]
        dot = sum((a * b).sum() for a, b in pairs)
        norm = (sum((a ** 2).sum() for a, _ in pairs) * sum((b ** 2).sum() for _, b in pairs)).sqrt()
        out[name] = float(dot / norm.clamp_min(1e-30))
    return out


def shuffled_labels(instances: np.ndarray, seed) -> np.ndarray:
    """The same instances with their label column permuted: the null task of the interference measure."""
    out = np.array(instances, copy=True)
    out[:, 2] = out[np.random.default_rng(seed).permutation(len(out)), 2]
    return out


def background_gradient(model, params, validation, autocast, micro: int):
    """The gradient of the mean language-model loss over the first :data:`BACKGROUND_SEQUENCES`
    validation sequences, accumulated over forwards of at most ``micro`` sequences (equal
    chunks, so their mean is the whole batch's)."""
    import torch

    batch = validation[:BACKGROUND_SEQUENCES]
    chunk = max(d for d in range(1, min(micro, len(batch)) + 1) if len(batch) % d == 0)
    total = None
    for i in range(0, len(batch), chunk):
        with autocast:
            loss = lm_loss(model, batch[i:i + chunk]) * (chunk / len(batch))
        grads = torch.autograd.grad(loss, params)
        total = grads if total is None else tuple(a + b for a, b in zip(total, grads))
    return total


def evaluate(model, tasks, config, validation, step: int, autocast, seen, injected,
             micro: int | None = None) -> dict:
    """Every step-wise measure at ``step``; the model is left as it was (train mode, no grads).

    ``seen`` per task the distinct instances injected so far, ``injected`` the count of injections.
    No forward holds more than ``micro`` sequences of the run's length (default: the run's
    micro-batch, or its whole batch).
    """
    import torch

    model.eval()
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    params = [p for _, p in named]
    io_mask = [any(k in n for k in IO_PARAMETERS) for n, _ in named]
    micro = micro or config.micro_batch or config.global_batch
    chunk = min(VALIDATION_CHUNK, micro)
    with torch.no_grad(), autocast:
        val = float(np.mean([lm_loss(model, validation[i:i + chunk]).item()
                             for i in range(0, len(validation), chunk)]))
    g_background = background_gradient(model, params, validation, autocast, micro)
    keys = ("train_label_loss", "injected_label_loss", "test_label_loss", "test_acc_vocab",
            "test_acc_labels", "test_acc_hard", "grad_cosine", "grad_cosine_body", "grad_cosine_io",
            "grad_cosine_null_body", "injected", "distinct")
    out = {"step": step, "val_loss": val, **{k: [] for k in keys}}
    for i, (task, task_seen) in enumerate(zip(tasks, seen)):
        shown = _injected(task, task_seen, config)
        with torch.no_grad():
            out["injected_label_loss"].append(
                float("nan") if shown is None else
                _label_loss(_instance_logits(model, shown, autocast), shown).item())
        train = task.train[: config.eval_instances]
        loss = _label_loss(_instance_logits(model, train, autocast), train)
        cos = _cosines(torch.autograd.grad(loss, params), g_background, io_mask)
        null = shuffled_labels(train, [config.seed, i, 20])
        null_loss = _label_loss(_instance_logits(model, null, autocast), null)
        cos_null = _cosines(torch.autograd.grad(null_loss, params), g_background, io_mask)
        out["grad_cosine"].append(cos["all"])
        out["grad_cosine_body"].append(cos["body"])
        out["grad_cosine_io"].append(cos["io"])
        out["grad_cosine_null_body"].append(cos_null["body"])
        out["train_label_loss"].append(loss.item())
        out["injected"].append(int(injected[i]))
        out["distinct"].append(len(task_seen))
        with torch.no_grad():
            n = instance_chunk(config, micro)
            logits = torch.cat([_instance_logits(model, task.test[j:j + n], autocast)
                                for j in range(0, len(task.test), n)])
            label = torch.as_tensor(task.test[:, 2], device=logits.device)
            answers = torch.as_tensor(task.answer_tokens, device=logits.device)
            out["test_label_loss"].append(_label_loss(logits, task.test).item())
            out["test_acc_vocab"].append((logits.argmax(1) == label).float().mean().item())
            right = (answers[logits[:, answers].argmax(1)] == label).cpu().numpy()
            out["test_acc_labels"].append(float(right.mean()))
            hard = ~task.shortcut["correct"]
            out["test_acc_hard"].append(float(right[hard].mean()) if hard.any() else float("nan"))
    model.train()
    return out


def forgetting_curve(model, optimizer, tasks, corpus, config, autocast, seen, lr: float,
                     micro: int | None = None) -> dict:
    """Task label loss on injected instances over background-only steps at ``lr`` after training (C20).

    A copy of the model and its optimizer state take ``forgetting_steps`` more
    steps, on batches past the end of training, never injected.
    """
    import torch

    k = config.forgetting_steps
    steps = eval_steps(k, 9).tolist() if k else [0]
    clone = copy.deepcopy(model)
    opt = make_optimizer(clone, config)
    opt.load_state_dict(optimizer.state_dict())
    for group in opt.param_groups:
        group["lr"] = lr
    device = next(clone.parameters()).device
    losses = np.zeros((len(tasks), len(steps)))

    def measure(j):
        with torch.no_grad():
            for i, task in enumerate(tasks):
                shown = _injected(task, seen[i], config)
                losses[i, j] = (float("nan") if shown is None else
                                _label_loss(_instance_logits(clone, shown, autocast), shown).item())

    measure(0)
    done = 0
    for j, target in enumerate(steps[1:], start=1):
        while done < target:
            x = torch.from_numpy(corpus.batch(config.steps + done, config.global_batch)).to(device)
            optimizer_step(clone, opt, x, micro or config.micro_batch or config.global_batch,
                           config.clip, autocast)
            done += 1
        measure(j)
    return {"steps": steps, "loss": losses}


def last_step_lr(config) -> float:
    """The learning rate of the run's last step."""
    return config.peak_lr * lr_factor(config.steps - 1, config)


def _standardise(fit, score):
    mu, sd = fit.mean(0), fit.std(0) + 1e-6
    fit, score = (fit - mu) / sd, (score - mu) / sd
    return np.hstack([fit, np.ones((len(fit), 1))]), np.hstack([score, np.ones((len(score), 1))])


def _ridge(fit, targets, ridge):
    gram = fit.T @ fit
    lam = ridge * np.trace(gram) / len(gram)
    return np.linalg.solve(gram + lam * np.eye(len(gram)), fit.T @ targets)


def ridge_probe_accuracy(features: np.ndarray, targets: np.ndarray, n_classes: int,
                         ridge: float = 1e-2) -> float:
    """Held-out accuracy of a ridge least-squares classifier: fit on the first half, score the second.

    Features are standardised with the fitting half's statistics; the ridge is
    relative to the mean eigenvalue of the features' Gram matrix.
    """
    n = len(features) // 2
    fit, score = _standardise(features[:n], features[n:])
    w = _ridge(fit, np.eye(n_classes)[targets[:n]], ridge)
    return float(np.mean((score @ w).argmax(1) == targets[n:]))


def ridge_probe_r2(features: np.ndarray, targets: np.ndarray, ridge: float = 1e-2) -> float:
    """Held-out R² of a ridge regression onto a number: fit on the first half, score the second."""
    n = len(features) // 2
    fit, score = _standardise(features[:n], features[n:])
    y = np.asarray(targets, float)
    w = _ridge(fit, (y[:n] - y[:n].mean())[:, None], ridge)
    residual = y[n:] - y[:n].mean() - (score @ w)[:, 0]
    return float(1 - (residual ** 2).sum() / max(((y[n:] - y[n:].mean()) ** 2).sum(), 1e-12))


def principal_components(features: np.ndarray, k: int = PROBE_DIM) -> np.ndarray:
    """``features`` projected on the top ``k`` principal directions of their first half (fewer
    where the first half spans fewer: directions it does not vary along are left out)."""
    n = len(features) // 2
    centred = features - features[:n].mean(0)
    _, sv, vt = np.linalg.svd(centred[:n], full_matrices=False)
    keep = min(k, int((sv > 1e-6 * sv[0]).sum()) if len(sv) and sv[0] > 0 else 0, max(n - 2, 1))
    return centred @ vt[:keep].T


def probe_score(features: np.ndarray, target: np.ndarray, kind: str, n_classes: int) -> float:
    """Accuracy (``kind`` "classes") or R² ("ordinal") of a probe of ``target`` on ``features``."""
    if kind == "ordinal":
        return ridge_probe_r2(features, target)
    return ridge_probe_accuracy(features, np.asarray(target), n_classes)


def probes(model, tasks, config, autocast, micro: int | None = None) -> dict:
    """Probe scores and their controls (tasks × targets × layers), and majority-class chance (C19)."""
    import torch

    n_layers = config.model.n_layers + 1  # the embeddings, then each block's output
    shape = (len(tasks), len(PROBE_TARGETS), n_layers)
    score, control = np.zeros(shape), np.zeros(shape)
    chance = np.zeros((len(tasks), len(PROBE_TARGETS)))
    kinds = []
    model.eval()
    for i, task in enumerate(tasks):
        rng = np.random.default_rng([config.seed, i, 19])
        test = task.test[rng.permutation(len(task.test))]
        relabel = rng.permutation(task.spec.n_values)  # the control task's values
        n = instance_chunk(config, micro)
        with torch.no_grad():
            hidden = [np.concatenate(h) for h in zip(*(
                [s.cpu().numpy() for s in _instance_logits(model, test[j:j + n], autocast, True)[1]]
                for j in range(0, len(test), n)))]
        v1, v2 = task.values(test[:, 0]), task.values(test[:, 1])
        real = task.spec.task_kind.probe_targets(task.spec, v1, v2)
        fake = task.spec.task_kind.probe_targets(task.spec, relabel[v1], relabel[v2])
        kinds.append([real[name][1] for name in PROBE_TARGETS])
        reduced = [principal_components(h) for h in hidden]
        for t, name in enumerate(PROBE_TARGETS):
            target, kind = real[name]
            n_classes = int(max(target.max(), fake[name][0].max())) + 1
            scored = np.asarray(target[len(target) // 2:], int)
            chance[i, t] = np.bincount(scored).max() / len(scored) if kind == "classes" else 0.0
            for layer, features in enumerate(reduced):
                score[i, t, layer] = probe_score(features, target, kind, n_classes)
                control[i, t, layer] = probe_score(features, fake[name][0], kind, n_classes)
    model.train()
    return {"score": score, "control": control, "chance": chance, "kinds": kinds}


def run_artifact(config, tasks, state, forgetting, forgetting_matched, probes):
    """A finished run's artifact: a JSON summary and arrays of curves.

    ``state`` is the loop's :class:`~rarescale.pretrain.train.RunState`."""
    size = config.model
    evals = state.evals
    shortcuts = [t.shortcut for t in tasks]

    def by_eval(key):
        return np.array([e[key] for e in evals]).reshape(len(evals), -1)

    per_eval = ("train_label_loss", "injected_label_loss", "test_label_loss", "test_acc_vocab",
                "test_acc_labels", "test_acc_hard", "grad_cosine", "grad_cosine_body",
                "grad_cosine_io", "grad_cosine_null_body", "injected", "distinct")
    result = {
        "size": config.size,
        "non_embedding_params": size.non_embedding_params(),
        "total_params": size.total_params(config.padded_vocab),
        "steps": config.steps, "global_batch": config.global_batch, "peak_lr": config.peak_lr,
        "last_step_lr": last_step_lr(config), "forgetting_lr": config.forgetting_lr,
        "tokens_trained": config.tokens_trained,
        "tasks": [t.name for t in config.tasks],
        "requested_instances": [s.total(config.steps) for s in schedules(config)],
        "injected_instances": state.injected,
        "chance_labels": [t.spec.chance for t in tasks],
        "shortcut_accuracy": [s["accuracy"] for s in shortcuts],
        "shortcut_rule": [s["rule"] for s in shortcuts],
        "distinct_injected": [len(seen) for seen in state.seen],
        "final": {k: evals[-1][k] for k in ("val_loss",) + per_eval},
        "data_share": state.data_seconds / max(state.step_seconds, 1e-9),
        "tokens_per_s": config.tokens_with_branches / max(state.step_seconds, 1e-9),
        "budget_steps": config.budget_steps(),
        "probe_targets": list(PROBE_TARGETS),
        "probe_kinds": probes["kinds"],
        "probe_dim": PROBE_DIM,
        "forgetting_steps": forgetting["steps"],
    }
    arrays = {
        "eval_step": np.array([e["step"] for e in evals]),
        "val_loss": np.array([e["val_loss"] for e in evals]),
        **{k: by_eval(k) for k in per_eval},
        "train_loss": np.array([loss for _, loss in state.train_loss]),
        "step_seconds": np.array(state.step_times),
        "forgetting_loss": np.asarray(forgetting["loss"]),
        "forgetting_loss_matched": np.asarray(forgetting_matched["loss"]),
        # each token budget's evaluation, smallest first: the decay branches', then the run's own
        **{f"budget_{k}": np.array([e[k] for e in state.branches + [evals[-1]]]).reshape(
            len(state.branches) + 1, -1) for k in ("val_loss",) + per_eval},
        "probe_score": probes["score"],
        "probe_control": probes["control"],
        "probe_chance": probes["chance"],
    }
    return result, arrays
