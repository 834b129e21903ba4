r"""Delayed generalization: grokking on modular arithmetic, and simplicity bias with Group DRO
(Chapter 10).

Grokking (Power et al. 2022)
----------------------------
:func:`modular_dataset` builds every pair :math:`(a, b) \in \{0,\dots,p-1\}^2` labelled
:math:`(a + b) \bmod p` (or :math:`a - b`, :math:`a \cdot b`) and splits the :math:`p^2` pairs at
random into a training and a validation set. :class:`ModularMLP` embeds both operands with one
shared table, concatenates the two vectors and applies a one-hidden-layer ReLU network.
:func:`train_full_batch` runs full-batch training with any ``torch.optim`` optimizer and records
the training and validation accuracy every ``eval_every`` steps (in evaluation mode, under
``torch.no_grad``); :func:`train_minibatch` does the same with minibatches drawn epoch by epoch,
and ``ModularMLP(dropout=...)`` adds dropout on the hidden layer. An optional ``lr_schedule``
sets the learning rate before each step and an ``on_step`` hook may replace the optimizer (to
reset its state at a warm restart, or to switch to another optimizer). :func:`first_step_reaching`
reads off when a curve first reaches a level.

Simplicity bias and Group DRO (Sagawa et al. 2020)
--------------------------------------------------
:func:`spurious_dataset` draws two-dimensional points whose label :math:`y \in \{0, 1\}` is carried
by a noisy *core* coordinate and by a clean *spurious* coordinate that agrees with the label only
in the majority groups. Four groups :math:`g = 2y + s` index label and spurious attribute
:math:`s`. With per-group mean losses :math:`\ell_g`, online Group DRO keeps weights :math:`q` on
the simplex and alternates

.. math::

    q_g \leftarrow \frac{q_g\, e^{\eta_q \ell_g}}{\sum_h q_h\, e^{\eta_q \ell_h}}, \qquad
    \theta \leftarrow \theta - \eta \nabla_\theta \sum_g q_g \ell_g(\theta)

(:func:`group_dro_weights` is the first update, :func:`group_losses` gives :math:`\ell_g`).
:func:`train_linear_classifier` trains a logistic-regression model by ERM or Group DRO and
:func:`group_accuracies` reports the average and the worst-group accuracy.

Example::

    split = modular_dataset(97, train_fraction=0.4, seed=0)
    model = ModularMLP(97, embed_dim=32, hidden=128, seed=0)
    opt = AdamW(model.parameters(), lr=3e-3, weight_decay=1.0, betas=(0.9, 0.98))  # course_lib.optim
    history = train_full_batch(model, opt, split, steps=200, eval_every=50)
    history["train_acc"][-1], history["val_acc"][-1]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .checks import as_float, check_non_negative, check_positive
from .devices import resolve_device
from .optim import SGD

__all__ = [
    "ModularSplit", "modular_dataset", "ModularMLP", "train_full_batch", "train_minibatch",
    "first_step_reaching",
    "reset_optimizer_state", "SpuriousData", "spurious_dataset", "group_losses",
    "group_dro_weights", "group_accuracies", "train_linear_classifier",
]

_OPS = {
    "add": lambda a, b, p: (a + b) % p,
    "sub": lambda a, b, p: (a - b) % p,
    "mul": lambda a, b, p: (a * b) % p,
}


def _as_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _fraction(name: str, value) -> float:
    value = as_float(name, value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie in (0, 1), got {value!r}")
    return value


@dataclass(frozen=True)
class ModularSplit:
    """Operand pairs (``x``, shape ``(n, 2)``, int64) and labels (``y``) of both sets."""

    p: int
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor


def modular_dataset(p: int, *, op: str = "add", train_fraction: float = 0.4, seed: int = 0,
                    device=None) -> ModularSplit:
    r"""All :math:`p^2` pairs :math:`(a, b)` labelled :math:`a \circ b \bmod p`, split at random.

    ``op`` is ``"add"``, ``"sub"`` or ``"mul"`` (default ``"add"``); the first
    ``round(train_fraction * p**2)`` pairs of a random permutation (a ``torch.Generator`` seeded
    with ``seed``, drawn on the CPU so that every device gets the same split) form the training set
    (default fraction 0.4), the rest the validation set.

    >>> s = modular_dataset(5, train_fraction=0.4, seed=0)
    >>> s.x_train.shape, s.x_val.shape
    (torch.Size([10, 2]), torch.Size([15, 2]))
    """
    p = _as_int("p", p, 2)
    if op not in _OPS:
        raise ValueError(f"op must be one of {sorted(_OPS)}, got {op!r}")
    train_fraction = _fraction("train_fraction", train_fraction)
    n_train = round(train_fraction * p * p)
    if not 0 < n_train < p * p:
        raise ValueError(f"train_fraction={train_fraction} leaves an empty set for p={p}")
    a = torch.arange(p).repeat_interleave(p)
    b = torch.arange(p).repeat(p)
    x, y = torch.stack([a, b], dim=1), _OPS[op](a, b, p)
    perm = torch.randperm(p * p, generator=torch.Generator().manual_seed(int(seed)))
    device = resolve_device(device)
    tr, va = perm[:n_train], perm[n_train:]
    return ModularSplit(p, x[tr].to(device), y[tr].to(device), x[va].to(device), y[va].to(device))


class ModularMLP(torch.nn.Module):
    r"""Embedding + MLP: :math:`\text{logits} = W_2\, \mathrm{ReLU}(W_1 [E_a; E_b] + b_1) + b_2`.

    One embedding table :math:`E \in \mathbb{R}^{p \times d}` (``embed_dim``, default 32) is shared
    by both operands; the hidden layer has ``hidden`` units (default 128). With ``dropout`` > 0
    (default 0) each hidden unit is zeroed with that probability in training mode and the others
    scaled by :math:`1/(1 - \text{dropout})` (``torch.nn.Dropout``); evaluation mode turns it off.
    The parameters follow PyTorch's default initialisation (embedding :math:`\mathcal N(0, 1)`, linear layers uniform on
    :math:`\pm 1/\sqrt{\text{fan-in}}`), drawn from a CPU generator seeded with ``seed`` so that
    the global RNG is untouched and every device starts from the same weights; then they move to
    ``device``/``dtype``.

    >>> ModularMLP(7, embed_dim=4, hidden=8)(torch.tensor([[1, 2], [3, 4]])).shape
    torch.Size([2, 7])
    """

    def __init__(self, p: int, *, embed_dim: int = 32, hidden: int = 128, seed: int = 0,
                 dropout: float = 0.0, device=None, dtype=torch.float32):
        super().__init__()
        p = _as_int("p", p, 2)
        embed_dim = _as_int("embed_dim", embed_dim, 1)
        hidden = _as_int("hidden", hidden, 1)
        dropout = as_float("dropout", dropout)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout!r}")
        self.embed = torch.nn.Embedding(p, embed_dim)
        self.hidden = torch.nn.Linear(2 * embed_dim, hidden)
        self.dropout = torch.nn.Dropout(dropout)
        self.out = torch.nn.Linear(hidden, p)
        gen = torch.Generator().manual_seed(int(seed))
        with torch.no_grad():
            # a local generator: reproducible without touching torch's global RNG
            self.embed.weight.normal_(0.0, 1.0, generator=gen)
            for layer in (self.hidden, self.out):
                bound = 1.0 / math.sqrt(layer.in_features)
                layer.weight.uniform_(-bound, bound, generator=gen)
                layer.bias.uniform_(-bound, bound, generator=gen)
        self.to(device=resolve_device(device), dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.embed(x)                       # (n, 2, d)
        return self.out(self.dropout(torch.relu(self.hidden(e.flatten(1)))))


def _accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float((logits.argmax(dim=1) == y).float().mean())


def train_full_batch(model: torch.nn.Module, optimizer: torch.optim.Optimizer, split: ModularSplit,
                     *, steps: int, eval_every: int = 20,
                     lr_schedule: Callable[[int], float] | None = None,
                     on_step: Callable[[int, torch.optim.Optimizer], torch.optim.Optimizer | None] | None = None,
                     stop_at_val: float | None = None) -> dict[str, list[float]]:
    r"""Full-batch cross-entropy training; returns the history of accuracies.

    At each step :math:`t = 0, \dots,` ``steps - 1``: ``on_step(t, optimizer)`` may return a new
    optimizer (used from then on); ``lr_schedule(t)`` (if given) sets every group's learning rate;
    then one gradient step on the whole training set. When ``t % eval_every == 0`` and at the last
    step, the training and validation accuracies of the parameters before that step's update are
    recorded, in evaluation mode (no dropout) and under ``torch.no_grad``, with the training loss
    of the step. Training stops early once the validation accuracy reaches ``stop_at_val``.

    Returns ``{"step", "train_acc", "val_acc", "train_loss"}`` lists.
    """
    return _train(model, optimizer, split, steps=steps, eval_every=eval_every,
                  lr_schedule=lr_schedule, on_step=on_step, stop_at_val=stop_at_val,
                  batch_size=None, seed=0)


def train_minibatch(model: torch.nn.Module, optimizer: torch.optim.Optimizer, split: ModularSplit,
                    *, steps: int, batch_size: int, seed: int = 0, eval_every: int = 20,
                    lr_schedule: Callable[[int], float] | None = None,
                    on_step: Callable[[int, torch.optim.Optimizer], torch.optim.Optimizer | None] | None = None,
                    stop_at_val: float | None = None) -> dict[str, list[float]]:
    r""":func:`train_full_batch` with minibatches: each step uses ``batch_size`` training pairs.

    The pairs are taken in the order of a random permutation of the training set, a fresh one
    each epoch (a CPU ``torch.Generator`` seeded with ``seed``), so that every pair is used once
    per epoch; the last batch of an epoch may be smaller. ``batch_size`` at least the training set
    size is full-batch training. The history records the same quantities as there; the recorded
    ``train_loss`` is that of the step's minibatch.
    """
    batch_size = _as_int("batch_size", batch_size, 1)
    seed = _as_int("seed", seed, 0)
    return _train(model, optimizer, split, steps=steps, eval_every=eval_every,
                  lr_schedule=lr_schedule, on_step=on_step, stop_at_val=stop_at_val,
                  batch_size=batch_size, seed=seed)


def _batches(n: int, batch_size: int | None, seed: int, device):
    """Index tensors of successive minibatches, epoch after epoch; None for the full batch."""
    if batch_size is None or batch_size >= n:
        while True:
            yield None
    gen = torch.Generator().manual_seed(int(seed))
    while True:
        perm = torch.randperm(n, generator=gen).to(device)
        yield from torch.split(perm, batch_size)


def _train(model, optimizer, split, *, steps, eval_every, lr_schedule, on_step, stop_at_val,
           batch_size, seed) -> dict[str, list[float]]:
    steps = _as_int("steps", steps, 1)
    eval_every = _as_int("eval_every", eval_every, 1)
    if stop_at_val is not None:
        stop_at_val = as_float("stop_at_val", stop_at_val)
    history: dict[str, list[float]] = {"step": [], "train_acc": [], "val_acc": [], "train_loss": []}
    batches = _batches(len(split.y_train), batch_size, seed, split.y_train.device)
    was_training = model.training
    model.train()
    try:
        _train_steps(model, optimizer, split, steps, eval_every, lr_schedule, on_step,
                     stop_at_val, batches, history)
    finally:
        model.train(was_training)  # hand the model back in the mode it came in
    return history


def _train_steps(model, optimizer, split, steps, eval_every, lr_schedule, on_step, stop_at_val,
                 batches, history) -> None:
    for t in range(steps):
        if on_step is not None:
            replaced = on_step(t, optimizer)
            if replaced is not None:
                optimizer = replaced
        if lr_schedule is not None:
            for group in optimizer.param_groups:
                group["lr"] = float(lr_schedule(t))
        if t % eval_every == 0 or t == steps - 1:
            model.eval()  # dropout off: the accuracies of the network itself
            with torch.no_grad():
                train_acc = _accuracy(model(split.x_train), split.y_train)
                val_acc = _accuracy(model(split.x_val), split.y_val)
            model.train()
        idx = next(batches)
        x, y = (split.x_train, split.y_train) if idx is None else (split.x_train[idx], split.y_train[idx])
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if t % eval_every == 0 or t == steps - 1:
            history["step"].append(t)
            history["train_acc"].append(train_acc)
            history["val_acc"].append(val_acc)
            history["train_loss"].append(float(loss.detach()))
            if stop_at_val is not None and val_acc >= stop_at_val:
                break
        optimizer.step()


def first_step_reaching(history: dict[str, list[float]], key: str, level: float) -> int | None:
    """The first recorded step at which ``history[key] >= level``; ``None`` if never."""
    if key not in history:
        raise ValueError(f"key must be one of {sorted(history)}, got {key!r}")
    level = as_float("level", level)
    for step, value in zip(history["step"], history[key]):
        if value >= level:
            return int(step)
    return None


def reset_optimizer_state(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """Forget every per-parameter buffer (Adam's moments and step count, momentum buffers) in place.

    The hyperparameters in ``param_groups`` are kept. Returns the same optimizer, so that it can
    be returned from an ``on_step`` hook.
    """
    optimizer.state.clear()
    return optimizer


@dataclass(frozen=True)
class SpuriousData:
    """Points ``x`` (n, 2), labels ``y`` in {0, 1}, groups ``g = 2 y + s`` in {0, 1, 2, 3}."""

    x: torch.Tensor
    y: torch.Tensor
    group: torch.Tensor


def spurious_dataset(n: int, *, minority_fraction: float = 0.05, core_noise: float = 1.0,
                     spurious_noise: float = 0.1, seed: int = 0, device=None,
                     dtype=torch.float32) -> SpuriousData:
    r"""Two features: a noisy core one and a clean spurious one that usually agrees with the label.

    Labels :math:`y` are fair coin flips. The spurious attribute :math:`s` equals :math:`y` except
    with probability ``minority_fraction`` (default 0.05), where it is flipped. With signs
    :math:`\pm 1` for :math:`y` and :math:`s`,

    .. math::

        x_1 = (2y - 1) + \sigma_c\, \varepsilon_1, \qquad x_2 = (2s - 1) + \sigma_s\, \varepsilon_2,

    :math:`\varepsilon \sim \mathcal N(0, I)`, ``core_noise`` :math:`\sigma_c = 1` and
    ``spurious_noise`` :math:`\sigma_s = 0.1` by default. Groups 0 and 3 (:math:`s = y`) are the
    majority; groups 1 and 2 the minority, where :math:`x_2` points to the wrong class.
    """
    n = _as_int("n", n, 1)
    minority_fraction = _fraction("minority_fraction", minority_fraction)
    check_positive("core_noise", core_noise)
    check_positive("spurious_noise", spurious_noise)
    gen = torch.Generator().manual_seed(int(seed))
    y = torch.randint(0, 2, (n,), generator=gen)
    flip = (torch.rand(n, generator=gen) < minority_fraction).long()
    s = y ^ flip
    eps = torch.randn(n, 2, generator=gen, dtype=torch.float64)
    x = torch.stack([(2 * y - 1) + core_noise * eps[:, 0], (2 * s - 1) + spurious_noise * eps[:, 1]], dim=1)
    device = resolve_device(device)
    return SpuriousData(x.to(device=device, dtype=dtype), y.to(device), (2 * y + s).to(device))


def group_losses(losses: torch.Tensor, group: torch.Tensor, n_groups: int) -> torch.Tensor:
    r"""Mean of ``losses`` over each group, :math:`\ell_g`; an empty group gets 0."""
    n_groups = _as_int("n_groups", n_groups, 1)
    if losses.shape != group.shape:
        raise ValueError(f"losses and group must have the same shape, got {tuple(losses.shape)} and {tuple(group.shape)}")
    if group.numel() and (int(group.min()) < 0 or int(group.max()) >= n_groups):
        raise ValueError(f"group must hold labels in [0, n_groups={n_groups}), got the range "
                         f"[{int(group.min())}, {int(group.max())}]")
    sums = torch.zeros(n_groups, dtype=losses.dtype, device=losses.device).index_add(0, group, losses)
    counts = torch.bincount(group, minlength=n_groups).to(losses.dtype)
    return sums / counts.clamp(min=1)


def group_dro_weights(q: torch.Tensor, losses: torch.Tensor, eta: float) -> torch.Tensor:
    r"""One exponentiated-gradient step of Group DRO's adversary:
    :math:`q_g \leftarrow q_g e^{\eta \ell_g} / \sum_h q_h e^{\eta \ell_h}`.

    Computed in log space (a softmax of :math:`\log q + \eta \ell`) so that large
    :math:`\eta \ell` does not overflow. ``eta`` must be non-negative; ``q`` non-negative with a
    positive sum.

    >>> group_dro_weights(torch.tensor([0.5, 0.5]), torch.tensor([0.0, math.log(3.0)]), 1.0)
    tensor([0.2500, 0.7500])
    """
    check_non_negative("eta", eta)
    if q.shape != losses.shape:
        raise ValueError(f"q and losses must have the same shape, got {tuple(q.shape)} and {tuple(losses.shape)}")
    if bool((q < 0).any()) or not float(q.sum()) > 0:
        raise ValueError(f"q must be non-negative with a positive sum, got {q.tolist()}")
    return torch.softmax(torch.log(q) + float(eta) * losses.detach(), dim=0)


def group_accuracies(pred: torch.Tensor, y: torch.Tensor, group: torch.Tensor,
                     n_groups: int) -> dict[str, object]:
    """Average accuracy, worst-group accuracy and the list of per-group accuracies."""
    correct = (pred == y).to(torch.float64)
    per = group_losses(correct, group, n_groups)
    present = torch.bincount(group, minlength=n_groups) > 0
    return {"average": float(correct.mean()), "worst": float(per[present].min()),
            "per_group": [round(float(v), 6) for v in per]}


def train_linear_classifier(data: SpuriousData, *, method: str = "erm", steps: int = 2000,
                            lr: float = 0.1, weight_decay: float = 0.0, eta: float = 0.05,
                            n_groups: int = 4) -> tuple[torch.nn.Linear, torch.Tensor]:
    r"""Logistic regression trained full batch by gradient descent, by ERM or online Group DRO.

    ``method="erm"`` minimises the mean loss; ``"group_dro"`` the weighted sum
    :math:`\sum_g q_g \ell_g`, updating :math:`q` first by :func:`group_dro_weights` with step
    ``eta`` (default 0.05) at each step. ``weight_decay`` adds
    :math:`\tfrac{\lambda}{2}\|w\|^2` to the loss (the bias is not decayed). The weights start at
    zero, so the result is deterministic. Returns the model and the final group weights :math:`q`
    (uniform for ERM).
    """
    if method not in ("erm", "group_dro"):
        raise ValueError(f"method must be 'erm' or 'group_dro', got {method!r}")
    steps = _as_int("steps", steps, 1)
    check_positive("lr", lr)
    check_non_negative("weight_decay", weight_decay)
    check_non_negative("eta", eta)
    n_groups = _as_int("n_groups", n_groups, 1)
    x, y, g = data.x, data.y, data.group
    model = torch.nn.Linear(x.shape[1], 1).to(device=x.device, dtype=x.dtype)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()
    q = torch.full((n_groups,), 1.0 / n_groups, dtype=x.dtype, device=x.device)
    opt = SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        losses = torch.nn.functional.binary_cross_entropy_with_logits(
            model(x).squeeze(1), y.to(x.dtype), reduction="none")
        per_group = group_losses(losses, g, n_groups)
        if method == "group_dro":
            q = group_dro_weights(q, per_group, eta)
            objective = (q * per_group).sum()
        else:
            objective = losses.mean()
        objective = objective + 0.5 * weight_decay * model.weight.square().sum()
        opt.zero_grad(set_to_none=True)
        objective.backward()
        opt.step()
    return model, q
