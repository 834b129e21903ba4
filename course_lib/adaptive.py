r"""Adaptive methods, taken apart: effective per-coordinate step sizes, RAdam's variance
rectification, Adam + L2 against decoupled weight decay, optimizer state memory, and
gradient-evaluation counts for comparing optimizers.

The closed forms here are written independently of ``course_lib.optim`` (and of
``torch.optim``), so that the tests can check each against the optimizers themselves.

* :func:`adagrad_effective_lr` -- AdaGrad's per-coordinate rate
  :math:`\eta / (\sqrt{G_t} + \epsilon)` with :math:`G_t = G_0 + \sum_{k \le t} g_k^2`
  (Duchi, Hazan & Singer 2011), in PyTorch's form (``eps`` outside the square root).
* :func:`adam_updates` and :func:`adam_effective_lr` -- the updates
  :math:`-\eta\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)` of Adam (Kingma & Ba 2015) for a given
  gradient sequence, with or without bias correction, and the rate
  :math:`\eta / (\sqrt{\hat v_t} + \epsilon)` that multiplies :math:`\hat m_t`.
* :func:`radam_rho`, :func:`radam_rectification`, :func:`radam_first_adaptive_step` -- the
  length :math:`\rho_t` of the simple moving average that Adam's :math:`v_t` approximates and
  the rectification :math:`r_t` of Liu et al. (2020), as ``torch.optim.RAdam`` uses them (the
  adaptive step is taken when :math:`\rho_t > 5`).
* :func:`effective_weight_decay` -- per coordinate, how much the weight decay term shrinks a
  weight per step under Adam + L2 and under AdamW, and the L2 coefficient each amounts to.
* :func:`state_floats_per_parameter` -- the optimizer state an optimizer keeps, measured: the
  number of state floats per model parameter after one step.
* :func:`evaluations_to_target` -- the first index at which a loss curve reaches a target.

Functions that take gradient sequences accept anything ``torch.as_tensor`` accepts, of shape
``(T, ...)`` (step first), and return tensors of the same shape, device and floating dtype (float64
for non-tensor input or integer tensors); :func:`radam_rho` and :func:`radam_rectification` return
float64 CPU tensors of the shape of ``t``. Invalid
arguments raise ValueError naming the parameter and the value.

Example::

    from course_lib.adaptive import adam_updates, radam_first_adaptive_step
    g = torch.tensor([[1e-6, 1.0, 1e3]])        # one step, three coordinates of very different scales
    adam_updates(g, lr=1e-3)                     # about -1e-3 for each: the first step moves each by lr
    radam_first_adaptive_step(0.999)             # 6: RAdam's first adaptive step with beta2 = 0.999
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch

from .checks import as_float, check_betas, check_bool, check_in_unit_interval, check_non_negative, check_positive

__all__ = [
    "WeightDecayEffect",
    "adagrad_effective_lr",
    "adam_effective_lr",
    "adam_updates",
    "effective_weight_decay",
    "evaluations_to_target",
    "radam_first_adaptive_step",
    "radam_rectification",
    "radam_rho",
    "radam_rho_inf",
    "state_floats_per_parameter",
]


def _grads(grads) -> torch.Tensor:
    """The gradient sequence as a floating tensor on its own device (float64 unless it is a
    floating-point tensor already)."""
    g = torch.as_tensor(grads).detach()
    if not g.is_floating_point():
        g = g.to(torch.float64)
    if g.dim() < 1 or g.shape[0] < 1:
        raise ValueError(f"Invalid grads: expected shape (T, ...) with T >= 1, got {tuple(g.shape)}")
    if not torch.isfinite(g).all():
        raise ValueError("Invalid grads: every gradient must be finite")
    return g


def _steps(t) -> torch.Tensor:
    """Step numbers t >= 1 as a float64 tensor (a number or anything torch.as_tensor accepts)."""
    tt = torch.as_tensor(t, dtype=torch.float64)
    if not torch.isfinite(tt).all() or (tt < 1).any() or (tt != tt.round()).any():
        raise ValueError(f"Invalid t: {t!r} (must be whole numbers >= 1)")
    return tt


# --- AdaGrad and Adam ---------------------------------------------------------------------------

def adagrad_effective_lr(grads, lr: float = 1e-2, eps: float = 1e-10,
                         initial_accumulator_value: float = 0.0) -> torch.Tensor:
    r"""AdaGrad's rate :math:`\eta / (\sqrt{G_t} + \epsilon)` at every step, where
    :math:`G_t = G_0 + \sum_{k=1}^t g_k \odot g_k`: the factor that ``torch.optim.Adagrad``
    (``lr_decay=0``) multiplies the gradient :math:`g_t` by at step :math:`t`. With a constant
    gradient :math:`g` it is :math:`\eta / (|g|\sqrt t + \epsilon)`, the :math:`1/\sqrt t` decay."""
    check_non_negative("lr", lr)
    check_positive("eps", eps)
    check_non_negative("initial_accumulator_value", initial_accumulator_value)
    g = _grads(grads)
    G = float(initial_accumulator_value) + torch.cumsum(g * g, dim=0)
    return float(lr) / (G.sqrt() + float(eps))


def _adam_moments(g: torch.Tensor, betas, bias_correction: bool):
    b1, b2 = map(float, betas)
    m = torch.zeros_like(g[0])
    v = torch.zeros_like(g[0])
    ms, vs = [], []
    for t in range(1, g.shape[0] + 1):
        m = b1 * m + (1 - b1) * g[t - 1]
        v = b2 * v + (1 - b2) * g[t - 1] ** 2
        if bias_correction:
            ms.append(m / (1 - b1**t))
            vs.append(v / (1 - b2**t))
        else:
            ms.append(m)
            vs.append(v)
    return torch.stack(ms), torch.stack(vs)


def adam_effective_lr(grads, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                      bias_correction: bool = True) -> torch.Tensor:
    r"""The per-coordinate rate :math:`\eta / (\sqrt{\hat v_t} + \epsilon)` by which Adam multiplies
    its (bias-corrected) first moment :math:`\hat m_t` at every step :math:`t`, for the gradient
    sequence ``grads`` (shape ``(T, ...)``). Without ``bias_correction``, :math:`v_t` replaces
    :math:`\hat v_t`."""
    check_non_negative("lr", lr)
    check_betas(betas)
    check_positive("eps", eps)
    check_bool("bias_correction", bias_correction)
    _, v = _adam_moments(_grads(grads), betas, bias_correction)
    return float(lr) / (v.sqrt() + float(eps))


def adam_updates(grads, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 bias_correction: bool = True) -> torch.Tensor:
    r"""Adam's updates :math:`\theta_t - \theta_{t-1} = -\eta\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)`
    for the gradient sequence ``grads`` (shape ``(T, ...)``), as ``torch.optim.Adam`` takes them
    when it is handed these gradients. Without ``bias_correction``, :math:`m_t` and :math:`v_t`
    replace :math:`\hat m_t` and :math:`\hat v_t` (the first step is then
    :math:`(1 - \beta_1)/\sqrt{1 - \beta_2}` times longer, about 3.16 for the defaults)."""
    check_non_negative("lr", lr)
    check_betas(betas)
    check_positive("eps", eps)
    check_bool("bias_correction", bias_correction)
    m, v = _adam_moments(_grads(grads), betas, bias_correction)
    return -float(lr) * m / (v.sqrt() + float(eps))


# --- RAdam --------------------------------------------------------------------------------------

def radam_rho_inf(beta2: float) -> float:
    r""":math:`\rho_\infty = 2/(1 - \beta_2) - 1`, the length of the simple moving average that an
    exponential moving average with factor :math:`\beta_2` approximates in the long run."""
    check_in_unit_interval("beta2", beta2)
    return 2.0 / (1.0 - float(beta2)) - 1.0


def radam_rho(t, beta2: float = 0.999) -> torch.Tensor:
    r""":math:`\rho_t = \rho_\infty - 2 t \beta_2^t / (1 - \beta_2^t)` at step(s) ``t`` >= 1 (Liu et al.
    2020): the length of the simple moving average that Adam's bias-corrected :math:`\hat v_t`
    approximates at step :math:`t`. It is 1 at :math:`t = 1` and grows to :math:`\rho_\infty`.
    With ``beta2 = 0`` it is 1 at every step."""
    check_in_unit_interval("beta2", beta2)
    tt = _steps(t)
    b2 = float(beta2)
    if b2 == 0.0:
        return torch.ones_like(tt)
    bt = b2**tt
    return radam_rho_inf(b2) - 2 * tt * bt / (1 - bt)


def radam_rectification(t, beta2: float = 0.999, threshold: float = 5.0) -> torch.Tensor:
    r"""RAdam's rectification factor

    .. math::

        r_t = \sqrt{\frac{(\rho_t - 4)(\rho_t - 2)\,\rho_\infty}{(\rho_\infty - 4)(\rho_\infty - 2)\,\rho_t}}

    at step(s) ``t``, where :math:`\rho_t > ` ``threshold`` (5 in ``torch.optim.RAdam``; the paper's
    algorithm uses 4), and 0 where it is not: there RAdam takes an un-adapted momentum step. The
    factor is the ratio of the standard deviations of :math:`\sqrt{1/\hat v_t}` in the long run and
    at step :math:`t`, for Gaussian gradients in the paper's approximation. Needs
    :math:`\rho_\infty > 4`, that is :math:`\beta_2 > 0.6`."""
    check_in_unit_interval("beta2", beta2)
    th = as_float("threshold", threshold)
    if not th >= 4.0:
        raise ValueError(f"Invalid threshold: {threshold!r} (must be >= 4, where r_t is defined)")
    rho_inf = radam_rho_inf(beta2)
    if rho_inf <= 4.0:
        raise ValueError(f"Invalid beta2: {beta2!r} (RAdam needs rho_inf = 2/(1-beta2) - 1 > 4, "
                         "that is beta2 > 0.6)")
    rho = radam_rho(t, beta2)
    on = rho > th
    safe = torch.where(on, rho, torch.full_like(rho, rho_inf))
    r = torch.sqrt((safe - 4) * (safe - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * safe))
    return torch.where(on, r, torch.zeros_like(r))


def radam_first_adaptive_step(beta2: float = 0.999, threshold: float = 5.0) -> int | None:
    r"""The first step :math:`t` with :math:`\rho_t >` ``threshold``: the first step on which RAdam
    uses the adaptive (second-moment) step; None if :math:`\rho_\infty \le` ``threshold``.
    :math:`\rho_t` increases with :math:`t`, so every later step is adaptive too."""
    check_in_unit_interval("beta2", beta2)
    th = as_float("threshold", threshold)
    if radam_rho_inf(beta2) <= th:
        return None
    t = 1
    while float(radam_rho(t, beta2)) <= th:
        t += 1
    return t


# --- weight decay -------------------------------------------------------------------------------

class WeightDecayEffect(NamedTuple):
    """What a weight decay :math:`\\lambda` does to each coordinate in one Adam-type step.

    ``shrink_per_step``: the fraction of a weight that the decay term removes in one step
    (:math:`\\eta\\lambda/(\\sqrt{\\hat v} + \\epsilon)` for Adam + L2, :math:`\\eta\\lambda` for AdamW);
    ``l2_equivalent``: the coefficient :math:`\\lambda'` of the L2 penalty
    :math:`\\tfrac{\\lambda'}{2}\\theta^2` whose gradient, preconditioned as Adam preconditions
    gradients, gives the same shrink (:math:`\\lambda` for Adam + L2,
    :math:`\\lambda(\\sqrt{\\hat v} + \\epsilon)` for AdamW)."""

    shrink_per_step: torch.Tensor
    l2_equivalent: torch.Tensor


def effective_weight_decay(v_hat, lr: float, weight_decay: float, eps: float = 1e-8, *,
                           decoupled: bool) -> WeightDecayEffect:
    r"""Per coordinate, the effect of weight decay :math:`\lambda` in an Adam step whose
    bias-corrected second moment is ``v_hat``.

    * Adam + L2 (``decoupled=False``, ``torch.optim.Adam(weight_decay=λ)``): :math:`\lambda\theta` is
      added to the gradient and then divided by :math:`\sqrt{\hat v} + \epsilon` like the rest, so
      the decay shrinks :math:`\theta` by :math:`\eta\lambda/(\sqrt{\hat v}+\epsilon)` per step:
      weights with large gradients are barely regularised. (To first order: the decay term also
      enters :math:`\hat m` and :math:`\hat v`; where :math:`\lambda\theta` is small against the
      gradient, as in practice, this is the shrink.)
    * AdamW (``decoupled=True``, ``torch.optim.AdamW(weight_decay=λ)``): :math:`\theta \leftarrow
      (1 - \eta\lambda)\theta` for every coordinate alike; as an L2 penalty fed through Adam's
      preconditioner this is the coefficient :math:`\lambda(\sqrt{\hat v} + \epsilon)`, larger for
      weights with larger gradients.
    """
    check_non_negative("lr", lr)
    check_non_negative("weight_decay", weight_decay)
    check_positive("eps", eps)
    check_bool("decoupled", decoupled)
    v = torch.as_tensor(v_hat, dtype=torch.float64)
    if not torch.isfinite(v).all() or (v < 0).any():
        raise ValueError("Invalid v_hat: every entry must be finite and >= 0")
    denom = v.sqrt() + float(eps)
    lam, eta = float(weight_decay), float(lr)
    if decoupled:
        return WeightDecayEffect(torch.full_like(v, eta * lam), lam * denom)
    return WeightDecayEffect(eta * lam / denom, torch.full_like(v, lam))


# --- memory -------------------------------------------------------------------------------------

def state_floats_per_parameter(make_optimizer: Callable, shapes: Sequence[Sequence[int]] = ((256, 256), (256,)),
                               *, seed: int = 0, steps: int = 1, count_scalars: bool = False) -> float:
    r"""The optimizer state, measured: build parameters of the given ``shapes``, give them seeded
    random gradients, take ``steps`` steps with ``make_optimizer(params)`` and return the number of
    floating-point numbers held in the optimizer's per-parameter state divided by the number of
    parameters. One-element state entries (step counters) are left out unless ``count_scalars``;
    they do not grow with the model. Adam gives 2, SGD with momentum 1, plain SGD 0, and
    Adafactor about :math:`(m + n)/(mn)` for an :math:`m \times n` matrix."""
    if not callable(make_optimizer) or isinstance(make_optimizer, torch.optim.Optimizer):
        raise ValueError(f"Invalid make_optimizer: {make_optimizer!r} (pass a factory: lambda params: ...)")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"Invalid steps: {steps!r} (must be an int >= 1)")
    check_bool("count_scalars", count_scalars)
    try:
        shape_list = [tuple(int(s) for s in shape) for shape in shapes]
    except TypeError as exc:
        raise ValueError(f"Invalid shapes: {shapes!r} (a sequence of shapes)") from exc
    if not shape_list or any(s < 1 for shape in shape_list for s in shape):
        raise ValueError(f"Invalid shapes: {shapes!r} (at least one shape, every size >= 1)")
    gen = torch.Generator().manual_seed(seed)
    params = [torch.zeros(shape, dtype=torch.float32, requires_grad=True) for shape in shape_list]
    opt = make_optimizer(params)
    if not isinstance(opt, torch.optim.Optimizer):
        raise ValueError(f"Invalid make_optimizer: it returned {type(opt).__name__}, not a torch.optim.Optimizer")
    for _ in range(steps):
        for p in params:
            p.grad = torch.randn(p.shape, generator=gen, dtype=p.dtype)
        opt.step()
    n_state = 0
    for p in params:
        for value in opt.state[p].values():
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                if value.numel() > 1 or count_scalars:
                    n_state += value.numel()
    return n_state / sum(p.numel() for p in params)


# --- comparing optimizers -----------------------------------------------------------------------

def evaluations_to_target(losses, target: float) -> int | None:
    r"""The first index :math:`t` with ``losses[t] <= target`` (``losses[0]`` is the loss at the
    start, ``losses[t]`` after :math:`t` steps, so :math:`t` is the number of gradient evaluations
    spent for a method that evaluates one gradient per step), or None if the target is never
    reached. A non-finite loss ends the search: a diverged run never reaches the target."""
    tgt = as_float("target", target)
    if math.isnan(tgt):
        raise ValueError("Invalid target: nan")
    values = torch.as_tensor(losses, dtype=torch.float64).flatten()
    for t, value in enumerate(values.tolist()):
        if not math.isfinite(value):
            return None
        if value <= tgt:
            return t
    return None
