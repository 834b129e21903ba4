r"""A debugging checklist for training runs, as code (Chapter 11).

Each check looks at one thing that commonly breaks training and returns a :class:`CheckResult`
(``status`` is ``"pass"``, ``"warn"`` or ``"fail"``, with the measured ``value`` and a message that
says what to look at). Every check works on a *copy* of the model, so running the checklist leaves
the model, its gradients and the caller's optimizer untouched.

* :func:`check_data` -- inputs finite, one target per input, integer labels in ``[0, C)``, every
  class present, and labels *related* to the inputs: the leave-one-out 1-nearest-neighbour accuracy
  :math:`a` must beat chance :math:`p_0 = \sum_c \pi_c^2` (the accuracy of a label that ignores the
  input, :math:`\pi_c` the class fractions) by three standard errors,
  :math:`a > p_0 + 3\sqrt{p_0(1-p_0)/n}`. Labels shuffled independently of the inputs fail it.
* :func:`check_initial_loss` -- at initialisation a classifier should be unsure, so its
  cross-entropy should be close to :math:`\log C`, the loss of the uniform prediction.
* :func:`gradient_report` -- per-parameter gradient norms after one backward pass; parameters that
  require a gradient but get ``None`` (unused or detached), all-zero or non-finite gradients, and
  frozen parameters (``requires_grad=False``).
* :func:`check_train_step` -- after two steps, is ``.grad`` the gradient at the parameters the
  second step started from, or the sum of the two steps' gradients (``optimizer.zero_grad()``
  missing)?
* :func:`update_ratio` -- :math:`\|\Delta\theta\| / \|\theta\|` per parameter after one optimizer
  step. Around :math:`10^{-3}` is typical; near 1 the learning rate is far too large, below
  :math:`10^{-6}` far too small.
* :func:`overfit_one_batch` -- can the training step drive the loss on one small batch close to
  zero? A model with enough capacity must memorise a few examples; if it cannot, the bug is in the
  model, the loss or the step, not in the data or the generalisation.
* :func:`run_checklist` -- runs them all in that order and returns a :class:`ChecklistReport` whose
  ``verdict`` names the first failed check.

The training step is a function ``train_step(model, optimizer, compute_loss, inputs, targets)``
returning the loss as a float; :func:`default_train_step` is the correct one (zero the gradients,
backward, step). Pass your own to check *your* loop. ``compute_loss(model, inputs, targets)``
returns the scalar loss tensor: pass your own to check *your* loss.

Example::

    model = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.ReLU(), torch.nn.Linear(64, 5))
    report = run_checklist(model, cross_entropy_loss, x, y, num_classes=5,
                           make_optimizer=lambda ps: torch.optim.Adam(ps, lr=1e-2))
    print(report)            # one line per check, then the verdict
    assert report.passed
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from .checks import as_float, check_positive

__all__ = [
    "CheckResult", "GradientReport", "ChecklistReport", "cross_entropy_loss", "default_train_step",
    "check_data", "check_initial_loss", "gradient_report", "check_train_step", "update_ratio",
    "overfit_one_batch",
    "run_checklist",
]

_STATUSES = ("pass", "warn", "fail")


@dataclass
class CheckResult:
    """The outcome of one check: ``name``, ``status`` (``"pass"``, ``"warn"`` or ``"fail"``), the
    measured ``value`` (a float, or ``None`` when nothing could be measured) and a ``message``."""

    name: str
    status: str
    value: float | None
    message: str

    def __post_init__(self):
        if self.status not in _STATUSES:
            raise ValueError(f"Invalid status: {self.status!r} (must be one of {_STATUSES})")

    @property
    def passed(self) -> bool:
        return self.status != "fail"

    def __str__(self) -> str:
        mark = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}[self.status]
        return f"[{mark}] {self.name}: {self.message}"


@dataclass
class GradientReport:
    """Per-parameter gradient norms after one backward pass (``nan`` where the gradient is
    ``None``), and the names of parameters whose gradient is ``None``, all zero or non-finite, and
    of frozen parameters (``requires_grad=False``). ``check`` summarises it as a CheckResult."""

    norms: dict[str, float]
    missing: list[str]
    zero: list[str]
    nonfinite: list[str]
    frozen: list[str]
    loss: float
    check: CheckResult = field(repr=False)


@dataclass
class ChecklistReport:
    """The results of :func:`run_checklist`, in order; ``verdict`` names the first failure."""

    results: list[CheckResult]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def first_failure(self) -> CheckResult | None:
        return next((r for r in self.results if not r.passed), None)

    def __getitem__(self, name: str) -> CheckResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)

    @property
    def verdict(self) -> str:
        failed = self.first_failure
        if failed is not None:
            return f"FAIL at {failed.name}: fix this first"
        warned = [r.name for r in self.results if r.status == "warn"]
        if warned:
            return "PASS with warnings: " + ", ".join(warned)
        return "PASS: every check passed"

    def __str__(self) -> str:
        return "\n".join([str(r) for r in self.results] + [f"verdict: {self.verdict}"])


# --- building blocks ----------------------------------------------------------------------------

def cross_entropy_loss(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``F.cross_entropy(model(inputs), targets)``: the model returns logits (no softmax)."""
    return nn.functional.cross_entropy(model(inputs), targets)


def default_train_step(model: nn.Module, optimizer: torch.optim.Optimizer, compute_loss: Callable,
                       inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """The correct step: zero the gradients, compute the loss, backpropagate, step; returns the
    loss before the step."""
    optimizer.zero_grad(set_to_none=True)
    loss = compute_loss(model, inputs, targets)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def _check_model(model) -> None:
    if not isinstance(model, nn.Module):
        raise ValueError(f"Invalid model: {type(model).__name__} is not a torch.nn.Module")


def _check_batch(inputs, targets) -> None:
    if not isinstance(inputs, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise ValueError(f"Invalid inputs/targets: expected tensors, got {type(inputs).__name__} and "
                         f"{type(targets).__name__}")
    if len(inputs) == 0:
        raise ValueError("Invalid inputs: the batch is empty")


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"Invalid {name}: {value!r} (must be an integer >= {minimum})")
    return value


def _trainable(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


# --- the checks ---------------------------------------------------------------------------------

def check_data(inputs: torch.Tensor, targets: torch.Tensor, num_classes: int | None = None, *,
               max_samples: int = 1000, imbalance: float = 10.0) -> CheckResult:
    r"""Sanity checks on a classification data set (or a batch of it).

    Fails on non-finite inputs, a different number of inputs and targets, labels that are not
    integers in ``[0, num_classes)``, a class with no example, or labels unrelated to the inputs.
    Warns when the largest class is more than ``imbalance`` times the smallest.

    *Alignment.* On the first ``max_samples`` samples, the leave-one-out 1-nearest-neighbour
    accuracy :math:`a` (Euclidean distance on the flattened inputs) is compared with the accuracy
    :math:`p_0 = \sum_c \pi_c^2` of a label drawn independently of the input; labels shuffled
    independently of the inputs give :math:`a \approx p_0`, so the check fails unless
    :math:`a > p_0 + 3\sqrt{p_0(1-p_0)/n}`. It assumes that nearby inputs tend to share a label,
    true of most real data once features are on comparable scales, but not of every problem
    (high-dimensional noise with a low-dimensional signal can fail it). ``value`` is :math:`a`.
    """
    _check_batch(inputs, targets)
    _check_int("max_samples", max_samples, 2)
    check_positive("imbalance", imbalance)
    name = "data"
    if len(inputs) != len(targets):
        return CheckResult(name, "fail", None, f"{len(inputs)} inputs but {len(targets)} targets")
    if not torch.isfinite(inputs).all():
        bad = int((~torch.isfinite(inputs)).sum())
        return CheckResult(name, "fail", None, f"{bad} non-finite input values (NaN or inf)")
    if targets.dtype.is_floating_point or targets.dtype == torch.bool or targets.dim() != 1:
        return CheckResult(name, "fail", None, f"targets must be a 1-D integer tensor of class indices, "
                                               f"got dtype {targets.dtype} and shape {tuple(targets.shape)}")
    C = int(targets.max()) + 1 if num_classes is None else _check_int("num_classes", num_classes, 2)
    if int(targets.min()) < 0 or int(targets.max()) >= C:
        return CheckResult(name, "fail", None, f"labels range over [{int(targets.min())}, "
                                               f"{int(targets.max())}], outside [0, {C})")
    counts = torch.bincount(targets, minlength=C)
    if int(counts.min()) == 0:
        empty = [int(c) for c in torch.nonzero(counts == 0).flatten()]
        return CheckResult(name, "fail", None, f"classes with no example: {empty}")
    x = inputs[:max_samples].reshape(min(len(inputs), max_samples), -1).double()
    y = targets[:max_samples]
    n = len(y)
    d = torch.cdist(x, x)
    d.fill_diagonal_(math.inf)  # leave one out: a point is not its own neighbour
    acc = float((y[d.argmin(dim=1)] == y).double().mean())
    frac = torch.bincount(y, minlength=C).double() / n
    chance = float((frac ** 2).sum())
    bar = chance + 3.0 * math.sqrt(chance * (1.0 - chance) / n)
    if acc <= bar:
        return CheckResult(name, "fail", acc, f"1-NN accuracy {acc:.3f} is not above chance "
                                              f"{chance:.3f} (+3 s.e. = {bar:.3f}): are the labels "
                                              f"aligned with the inputs?")
    ratio = float(counts.max()) / float(counts.min())
    if ratio > imbalance:
        return CheckResult(name, "warn", acc, f"largest class is {ratio:.1f}x the smallest: "
                                              f"consider reweighting or resampling")
    return CheckResult(name, "pass", acc, f"{len(inputs)} samples, {C} classes, 1-NN accuracy "
                                          f"{acc:.3f} vs chance {chance:.3f}")


def check_initial_loss(model: nn.Module, compute_loss: Callable, inputs: torch.Tensor,
                       targets: torch.Tensor, num_classes: int, *, rtol: float = 0.25) -> CheckResult:
    r"""Compare the loss at initialisation with :math:`\log C`, the cross-entropy of the uniform
    prediction over ``num_classes`` classes. Fails when :math:`|\ell_0 - \log C| > r \log C`
    (``rtol`` :math:`= r`, default 0.25). A much larger loss means overconfident initial logits
    (too large an output scale) or a wrong loss; a much smaller one, a leak of the labels into the
    inputs or a loss that is not the cross-entropy. ``value`` is :math:`\ell_0`.

    A loss computed on softmax outputs (a softmax before ``CrossEntropyLoss``) *passes* this check:
    the probabilities of a near-uniform prediction are all near :math:`1/C`, and the second softmax
    turns them into a near-uniform prediction again. :func:`overfit_one_batch` catches it.
    """
    _check_model(model)
    _check_batch(inputs, targets)
    _check_int("num_classes", num_classes, 2)
    check_positive("rtol", rtol)
    with torch.no_grad():
        loss = float(compute_loss(copy.deepcopy(model), inputs, targets))
    expected = math.log(num_classes)
    name = "initial loss"
    if not math.isfinite(loss):
        return CheckResult(name, "fail", loss, f"the initial loss is {loss}")
    status = "pass" if abs(loss - expected) <= as_float("rtol", rtol) * expected else "fail"
    return CheckResult(name, status, loss, f"loss at init {loss:.3f} vs log(C) = {expected:.3f}")


def gradient_report(model: nn.Module, compute_loss: Callable, inputs: torch.Tensor,
                    targets: torch.Tensor, *, tiny: float = 0.0) -> GradientReport:
    r"""One forward and backward pass on a copy of ``model``; the norm of every parameter's
    gradient, by name.

    Fails when a parameter that requires a gradient gets ``None`` (it is not used, or the graph is
    cut by ``.detach()``, ``.item()`` or ``torch.no_grad``), a gradient with norm :math:`\le`
    ``tiny`` (default 0: exactly zero, e.g. dead ReLUs or a multiplication by zero), or a NaN or inf
    gradient, and when the loss itself is not finite. Warns about frozen parameters
    (``requires_grad=False``), which are fine when intended (fine-tuning) and a bug otherwise.
    ``check.value`` is the global gradient norm.
    """
    _check_model(model)
    _check_batch(inputs, targets)
    tiny = as_float("tiny", tiny)
    if not (tiny >= 0.0 and math.isfinite(tiny)):
        raise ValueError(f"Invalid tiny: {tiny!r} (must be a finite number >= 0)")
    clone = copy.deepcopy(model)
    clone.zero_grad(set_to_none=True)
    loss = compute_loss(clone, inputs, targets)
    loss.backward()
    norms, missing, zero, nonfinite, frozen = {}, [], [], [], []
    for name, p in clone.named_parameters():
        if not p.requires_grad:
            frozen.append(name)
            norms[name] = math.nan
        elif p.grad is None:
            missing.append(name)
            norms[name] = math.nan
        else:
            g = float(p.grad.detach().double().norm())
            norms[name] = g
            if not math.isfinite(g):
                nonfinite.append(name)
            elif g <= tiny:
                zero.append(name)
    loss_value = float(loss.detach())
    finite = [v for v in norms.values() if math.isfinite(v)]
    total = math.sqrt(sum(v * v for v in finite)) if finite else None
    if not math.isfinite(loss_value) or nonfinite:
        check = CheckResult("gradients", "fail", total, f"loss {loss_value:.3g}; non-finite gradients in "
                                                        f"{nonfinite}")
    elif missing or zero:
        parts = ([f"no gradient (None) for {missing}"] if missing else []) + \
                ([f"zero gradient for {zero}"] if zero else [])
        check = CheckResult("gradients", "fail", total, "; ".join(parts))
    elif frozen:
        check = CheckResult("gradients", "warn", total, f"frozen (requires_grad=False): {frozen}")
    else:
        check = CheckResult("gradients", "pass", total, f"{len(norms)} parameters, all with finite "
                                                        f"non-zero gradients; global norm {total:.3g}")
    return GradientReport(norms, missing, zero, nonfinite, frozen, loss_value, check)


def update_ratio(model: nn.Module, compute_loss: Callable, inputs: torch.Tensor, targets: torch.Tensor,
                 make_optimizer: Callable, *, train_step: Callable = default_train_step,
                 low: float = 1e-6, high: float = 1e-1) -> tuple[dict[str, float], CheckResult]:
    r"""The relative size of one optimizer step, per parameter:
    :math:`r = \|\theta_1 - \theta_0\| / \|\theta_0\|` (``inf`` where :math:`\theta_0 = 0` moved,
    0 where it did not), on a copy of ``model`` with a fresh optimizer ``make_optimizer(params)``.
    Only weight matrices and kernels (``ndim >= 2``) are judged when there are any: biases start
    small or at zero, so their ratio says little about the learning rate.

    Around :math:`10^{-3}` is the usual heuristic for a healthy step. The check fails when the
    largest ratio exceeds ``high`` (default 0.1: one step changes a weight matrix by a tenth of
    itself, a learning rate far too large) or is not finite, and warns when the largest is below
    ``low`` (default :math:`10^{-6}`: nothing moves). Parameters with a zero norm at the start
    (biases initialised to zero) are reported but not judged. ``value`` is the largest judged ratio.
    The first step of Adam moves every coordinate by about the learning rate (its update is
    :math:`\hat m/\sqrt{\hat v} = \pm 1` at step 1), so for Adam :math:`r \approx \eta /
    \mathrm{rms}(\theta)`.
    """
    _check_model(model)
    _check_batch(inputs, targets)
    check_positive("low", low)
    check_positive("high", high)
    if as_float("low", low) >= as_float("high", high):
        raise ValueError(f"Invalid low: {low!r} (must be smaller than high = {high!r})")
    clone = copy.deepcopy(model)
    before = {n: p.detach().clone() for n, p in _trainable(clone)}
    optimizer = make_optimizer([p for _, p in _trainable(clone)])
    train_step(clone, optimizer, compute_loss, inputs, targets)
    ratios, judged = {}, []
    has_matrices = any(p.dim() >= 2 for _, p in _trainable(clone))
    for n, p in _trainable(clone):
        step = float((p.detach() - before[n]).double().norm())
        size = float(before[n].double().norm())
        if size == 0.0:
            ratios[n] = 0.0 if step == 0.0 else math.inf
        else:
            ratios[n] = step / size
            if p.dim() >= 2 or not has_matrices:
                judged.append(ratios[n])
    name = "update ratio"
    if not judged:
        return ratios, CheckResult(name, "warn", None, "no parameter with a non-zero norm to judge")
    worst = max(judged)
    if not math.isfinite(worst) or worst > high:
        return ratios, CheckResult(name, "fail", worst, f"largest |Δθ|/|θ| = {worst:.3g} > {high:g}: "
                                                        f"the learning rate is far too large")
    if worst < low:
        return ratios, CheckResult(name, "warn", worst, f"largest |Δθ|/|θ| = {worst:.3g} < {low:g}: "
                                                        f"the parameters barely move")
    return ratios, CheckResult(name, "pass", worst, f"largest |Δθ|/|θ| = {worst:.3g} (typical: ~1e-3)")


def check_train_step(model: nn.Module, compute_loss: Callable, inputs: torch.Tensor,
                     targets: torch.Tensor, make_optimizer: Callable, *,
                     train_step: Callable = default_train_step, rtol: float = 1e-4) -> CheckResult:
    r"""Does ``train_step`` use the gradient of the loss at the current parameters?

    On a copy of ``model``, run ``train_step`` twice. After the second call, the gradients it left
    in ``.grad`` should be :math:`g_2 = \nabla \ell(\theta_1)`, computed here independently on
    another copy. If they equal :math:`g_1 + g_2` instead, with :math:`g_1` the gradients left by
    the first call, the step accumulates gradients across steps: ``optimizer.zero_grad()`` is
    missing, and every update uses the sum of all past gradients. Fails in that case; warns when
    the gradients match neither (a step that clips or rescales ``.grad`` on purpose lands there);
    passes when they match :math:`g_2` to relative tolerance ``rtol``. ``value`` is the
    relative distance :math:`\|\text{grad} - g_2\| / \|g_2\|`.

    Models with randomness in the forward pass (dropout) should be checked in ``eval()`` mode, or
    the two gradients differ by the noise.
    """
    _check_model(model)
    _check_batch(inputs, targets)
    check_positive("rtol", rtol)
    name = "train step"
    clone = copy.deepcopy(model)
    params = [p for _, p in _trainable(clone)]
    if not params:
        return CheckResult(name, "fail", None, "the model has no trainable parameter")
    optimizer = make_optimizer(params)
    train_step(clone, optimizer, compute_loss, inputs, targets)
    first = [None if p.grad is None else p.grad.detach().clone() for p in params]
    reference = copy.deepcopy(clone)
    reference.zero_grad(set_to_none=True)
    compute_loss(reference, inputs, targets).backward()
    g2 = [p.grad for _, p in _trainable(reference)]
    train_step(clone, optimizer, compute_loss, inputs, targets)
    left = [p.grad for p in params]
    if any(g is None for g in left) or any(g is None for g in g2):
        return CheckResult(name, "warn", None, "the step leaves no gradient to compare (set to None)")

    def rel(a, b):
        num = math.sqrt(sum(float((x - y).double().norm()) ** 2 for x, y in zip(a, b)))
        den = math.sqrt(sum(float(y.double().norm()) ** 2 for y in b))
        return num / den if den > 0 else (0.0 if num == 0 else math.inf)

    d_fresh = rel(left, g2)
    if d_fresh <= rtol:
        return CheckResult(name, "pass", d_fresh, "each step uses the fresh gradient of the loss")
    if all(f is not None for f in first):
        summed = [f + g for f, g in zip(first, g2)]
        if rel(left, summed) <= rtol:
            return CheckResult(name, "fail", d_fresh, "gradients accumulate across steps (.grad = g1 + g2): "
                                                      "is optimizer.zero_grad() missing?")
    return CheckResult(name, "warn", d_fresh, f".grad differs from the fresh gradient by {d_fresh:.3g} "
                                              f"(relative): does the step clip or rescale gradients?")


def overfit_one_batch(model: nn.Module, compute_loss: Callable, inputs: torch.Tensor,
                      targets: torch.Tensor, make_optimizer: Callable, *, steps: int = 200,
                      train_step: Callable = default_train_step, rel_tol: float = 0.05
                      ) -> tuple[list[float], CheckResult]:
    r"""Train a copy of ``model`` for ``steps`` steps on the one batch ``(inputs, targets)`` and
    return the losses (before each step, then the final one) and a CheckResult.

    Passes when the final loss is at most ``rel_tol`` (default 0.05) times the initial loss: a
    network with more parameters than the batch has examples can memorise it, so failing to means
    a bug in the model, the loss or the training step, or a learning rate far from working.
    ``value`` is the ratio final/initial.
    """
    _check_model(model)
    _check_batch(inputs, targets)
    _check_int("steps", steps, 1)
    check_positive("rel_tol", rel_tol)
    clone = copy.deepcopy(model)
    optimizer = make_optimizer([p for _, p in _trainable(clone)])
    losses = [train_step(clone, optimizer, compute_loss, inputs, targets) for _ in range(steps)]
    with torch.no_grad():
        losses.append(float(compute_loss(clone, inputs, targets)))
    first, last = losses[0], losses[-1]
    name = "overfit one batch"
    if not math.isfinite(last):
        return losses, CheckResult(name, "fail", None, f"the loss became {last} (diverged)")
    ratio = last / first if first > 0 else math.inf
    status = "pass" if last <= rel_tol * first else "fail"
    return losses, CheckResult(name, status, ratio, f"loss {first:.3g} -> {last:.3g} in {steps} steps on "
                                                    f"{len(inputs)} samples (ratio {ratio:.3g}, "
                                                    f"needs <= {rel_tol:g})")


def run_checklist(model: nn.Module, compute_loss: Callable, inputs: torch.Tensor, targets: torch.Tensor,
                  *, num_classes: int, make_optimizer: Callable, train_step: Callable = default_train_step,
                  overfit_size: int = 16, overfit_steps: int = 200) -> ChecklistReport:
    r"""Run the checklist in the order a person would: the data, the loss at initialisation, the
    gradients, the training step (fresh gradients at every step), the size of one update, then overfitting the first ``overfit_size`` samples for
    ``overfit_steps`` steps. Returns a :class:`ChecklistReport`; ``model`` is not modified.

    The order matters for the verdict: a later check that fails because of an earlier problem
    (no gradient, so nothing overfits) would be a misleading diagnosis, so the verdict names the
    first failure.
    """
    _check_model(model)
    _check_batch(inputs, targets)
    _check_int("overfit_size", overfit_size, 1)
    _check_int("overfit_steps", overfit_steps, 1)
    results = [check_data(inputs, targets, num_classes),
               check_initial_loss(model, compute_loss, inputs, targets, num_classes),
               gradient_report(model, compute_loss, inputs, targets).check,
               check_train_step(model, compute_loss, inputs, targets, make_optimizer, train_step=train_step),
               update_ratio(model, compute_loss, inputs, targets, make_optimizer, train_step=train_step)[1],
               overfit_one_batch(model, compute_loss, inputs[:overfit_size], targets[:overfit_size],
                                 make_optimizer, steps=overfit_steps, train_step=train_step)[1]]
    return ChecklistReport(results)
