"""What a run measures (C18-C20), during training and after it.

* :func:`evaluate` (C18, C20): background validation loss; per injected task
  the label loss on the train split (the pool injections draw from) and on the
  instances injected so far (the first ``eval_instances`` distinct ones), the
  label loss and accuracy on held-out
  test instances (argmax over the whole vocabulary, and over the task's label
  set), and the gradient interference: the cosine between the gradient of the
  task's label loss and the gradient of the background loss, over all weights.
* :func:`forgetting_curve` (C20): from the trained model and its optimizer
  state, ``forgetting_steps`` more steps on background data only (no
  injection, at the final learning rate); the task's label loss on its injected
  instances after each.
  Our choice of measure: the paper's exact one is not known.
* :func:`probes` (C19): per layer, a linear probe for each operand value and
  the label, read from the hidden state at the label-predicting position (the
  second operand) of held-out test instances. The probe is a ridge
  least-squares classifier onto one-hot targets (closed form, deterministic),
  fitted on one half of the test instances and scored on the other. Our
  choice: the paper's exact probe is not known.
* :func:`run_artifact`: a finished run's summary and curves, as its artifact holds them.

The input of an instance is ``(TOK1, TOK2)`` at the start of a sequence, as
injected; the model's prediction at position 1 is its answer.
"""

from __future__ import annotations

import copy

import numpy as np

from rarescale.counts import eval_steps
from rarescale.olmo.injection import InjectionSchedule
from rarescale.olmo.step import lm_loss, lr_factor, make_optimizer, optimizer_step

PROBE_TARGETS = ("v1", "v2", "label")


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


def _label_loss(logits, instances):
    import torch
    import torch.nn.functional as F

    return F.cross_entropy(logits, torch.as_tensor(np.asarray(instances)[:, 2], device=logits.device))


def _injected(task, seen, config):
    """The first ``eval_instances`` distinct injected train instances (None if none yet)."""
    if not seen:
        return None
    return task.train[np.asarray(seen[: config.eval_instances])]


def evaluate(model, tasks, config, validation, step: int, autocast, seen) -> dict:
    """Every step-wise measure at ``step``; the model is left as it was (eval mode off, no grads)."""
    import torch

    model.eval()
    params = [p for p in model.parameters() if p.requires_grad]
    with torch.no_grad():
        val = float(np.mean([lm_loss(model, validation[i:i + 16]).item()
                             for i in range(0, len(validation), 16)]))
    # background gradient on the validation sequences (a fixed batch: comparable across steps)
    with autocast:
        background = lm_loss(model, validation[:32])
    g_background = torch.autograd.grad(background, params)
    out = {"step": step, "val_loss": val, "train_label_loss": [], "injected_label_loss": [],
           "test_label_loss": [],
           "test_acc_vocab": [], "test_acc_labels": [], "grad_cosine": []}
    for task, task_seen in zip(tasks, seen):
        injected = _injected(task, task_seen, config)
        with torch.no_grad():
            out["injected_label_loss"].append(
                float("nan") if injected is None else
                _label_loss(_instance_logits(model, injected, autocast), injected).item())
        train = task.train[: config.eval_instances]
        logits = _instance_logits(model, train, autocast)
        loss = _label_loss(logits, train)
        g_task = torch.autograd.grad(loss, params)
        dot = sum((a.float() * b.float()).sum() for a, b in zip(g_task, g_background))
        norm = (sum((a.float() ** 2).sum() for a in g_task) * sum((b.float() ** 2).sum()
                                                                    for b in g_background)).sqrt()
        out["grad_cosine"].append(float(dot / norm.clamp_min(1e-30)))
        out["train_label_loss"].append(loss.item())
        with torch.no_grad():
            logits = torch.cat([_instance_logits(model, task.test[i:i + 1024], autocast)
                                for i in range(0, len(task.test), 1024)])
            label = torch.as_tensor(task.test[:, 2], device=logits.device)
            answers = torch.as_tensor(task.answer_tokens, device=logits.device)
            out["test_label_loss"].append(_label_loss(logits, task.test).item())
            out["test_acc_vocab"].append((logits.argmax(1) == label).float().mean().item())
            pick = answers[logits[:, answers].argmax(1)]
            out["test_acc_labels"].append((pick == label).float().mean().item())
    model.train()
    return out


def forgetting_curve(model, optimizer, tasks, corpus, config, autocast, seen) -> dict:
    """Task label loss on injected instances over background-only steps after training (C20).

    A copy of the model and its optimizer state take ``forgetting_steps`` more
    steps at the final learning rate, on batches past the end of training, never injected.
    """
    import torch

    k = config.forgetting_steps
    steps = eval_steps(k, 9).tolist() if k else [0]
    clone = copy.deepcopy(model)
    opt = make_optimizer(clone, config)
    opt.load_state_dict(optimizer.state_dict())
    for group in opt.param_groups:
        group["lr"] = config.peak_lr * lr_factor(config.steps - 1, config)
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
            optimizer_step(clone, opt, x, config.micro_batch or config.global_batch, config.clip,
                           autocast)
            done += 1
        measure(j)
    return {"steps": steps, "loss": losses}


def ridge_probe_accuracy(features: np.ndarray, targets: np.ndarray, n_classes: int,
                         ridge: float = 1e-2) -> float:
    """Held-out accuracy of a ridge least-squares classifier: fit on the first half, score the second.

    Features are standardised with the fitting half's statistics; the ridge is
    relative to the mean eigenvalue of the features' Gram matrix.
    """
    n = len(features) // 2
    fit, score = features[:n], features[n:]
    mu, sd = fit.mean(0), fit.std(0) + 1e-6
    fit, score = (fit - mu) / sd, (score - mu) / sd
    fit = np.hstack([fit, np.ones((len(fit), 1))])
    score = np.hstack([score, np.ones((len(score), 1))])
    onehot = np.eye(n_classes)[targets[:n]]
    gram = fit.T @ fit
    lam = ridge * np.trace(gram) / len(gram)
    w = np.linalg.solve(gram + lam * np.eye(len(gram)), fit.T @ onehot)
    return float(np.mean((score @ w).argmax(1) == targets[n:]))


def probes(model, tasks, config, autocast) -> dict:
    """Probe accuracy (tasks × targets × layers) and chance (tasks × targets) (C19)."""
    import torch

    n_layers = config.model.n_layers + 1  # the embeddings, then each block's output
    accuracy = np.zeros((len(tasks), len(PROBE_TARGETS), n_layers))
    chance = np.zeros((len(tasks), len(PROBE_TARGETS)))
    model.eval()
    for i, task in enumerate(tasks):
        rng = np.random.default_rng([config.seed, i, 19])
        test = task.test[rng.permutation(len(task.test))]
        with torch.no_grad():
            hidden = [np.concatenate(h) for h in zip(*(
                [s.cpu().numpy() for s in _instance_logits(model, test[j:j + 1024], autocast, True)[1]]
                for j in range(0, len(test), 1024)))]
        v1, v2 = task.values(test[:, 0]), task.values(test[:, 1])
        label = task.spec.label(v1, v2)
        n_values = task.spec.n_values
        for t, (target, k) in enumerate(zip((v1, v2, label),
                                            (n_values, n_values, len(task.answer_tokens)))):
            scored = target[len(target) // 2:]  # the half each probe is scored on
            chance[i, t] = np.bincount(scored, minlength=k).max() / len(scored)  # majority class
            for layer in range(n_layers):
                accuracy[i, t, layer] = ridge_probe_accuracy(hidden[layer], target, k)
    model.train()
    return {"accuracy": accuracy, "chance": chance}


def run_artifact(config, tasks, state, forgetting, probes):
    """A finished run's artifact: a JSON summary and arrays of curves.

    ``state`` is the loop's :class:`~rarescale.olmo.train.RunState`."""
    size = config.model
    evals = state.evals
    names = [t.name for t in config.tasks]
    result = {
        "size": config.size,
        "non_embedding_params": size.non_embedding_params(),
        "total_params": size.total_params(config.vocab_size),
        "steps": config.steps, "global_batch": config.global_batch, "peak_lr": config.peak_lr,
        "tokens_trained": config.tokens_trained,
        "tasks": names,
        "requested_instances": [s.total(config.steps) for s in
                                (InjectionSchedule(t.rate, config.global_batch, config.seq_len)
                                 for t in config.tasks)],
        "injected_instances": state.injected,
        "chance_labels": [t.spec.chance for t in tasks],
        "distinct_injected": [len(seen) for seen in state.seen],
        "final": {k: evals[-1][k] for k in ("val_loss", "train_label_loss", "injected_label_loss",
                                            "test_label_loss",
                                            "test_acc_vocab", "test_acc_labels", "grad_cosine")},
        "data_share": state.data_seconds / max(state.step_seconds, 1e-9),
        "tokens_per_s": config.steps * config.global_batch * config.seq_len / max(state.step_seconds, 1e-9),
        "probe_targets": list(PROBE_TARGETS),
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

