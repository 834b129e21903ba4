r"""Smith's learning-rate range test (Smith 2017, section 3.3): train briefly while the rate grows
geometrically, and read a good rate off the loss curve."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from typing import NamedTuple

import torch

from ._checks import as_int, non_negative, positive


class LRRangeTestResult(NamedTuple):
    """What :func:`lr_range_test` measured: ``lrs[k]`` is the rate of update ``k`` and
    ``losses[k]`` the loss on the batch that update used (measured before it), ``smoothed_losses``
    their bias-corrected exponential average; ``suggested_lr`` is the rate where the smoothed loss
    falls fastest (None with fewer than two usable points); ``diverged`` says whether the test
    stopped early because the loss blew up."""

    lrs: list[float]
    losses: list[float]
    smoothed_losses: list[float]
    suggested_lr: float | None
    diverged: bool


def _batches_forever(batches: Iterable):
    """Yield from ``batches``, starting it again when it runs out: a list or a DataLoader goes on
    for ever, while a one-shot iterator starts again empty, which ends the loop."""
    while True:
        empty = True
        for batch in batches:
            empty = False
            yield batch
        if empty:
            return


def lr_range_test(model: torch.nn.Module, loss_fn: Callable, batches: Iterable,
                  optimizer_factory: Callable[[Iterable[torch.nn.Parameter]], torch.optim.Optimizer],
                  start_lr: float = 1e-7, end_lr: float = 10.0, num_steps: int = 100,
                  smooth: float = 0.98, diverge_factor: float = 4.0) -> LRRangeTestResult:
    r"""Run the learning-rate range test and suggest a rate; the model's weights are restored after.

    Update :math:`k = 0, \dots, K-1` (:math:`K` = ``num_steps``) uses the rate

    .. math::  \eta_k = \eta_{\text{start}} (\eta_{\text{end}} / \eta_{\text{start}})^{k/(K-1)},

    on the batch ``(inputs, targets)`` that ``batches`` yields next (a list or a DataLoader is
    started again when it runs out; a one-shot iterator ends the test), with the loss
    :math:`\ell_k` = ``loss_fn(model(inputs), targets)`` recorded before the update. The smoothed
    loss is the bias-corrected exponential average with :math:`\beta` = ``smooth``:

    .. math::  a_k = \beta a_{k-1} + (1 - \beta)\ell_k,\ a_{-1} = 0, \qquad
               s_k = a_k / (1 - \beta^{k+1})

    (:math:`\beta = 0` means no smoothing). The test stops early, after recording the offending
    point, when :math:`\ell_k` is not finite or :math:`s_k > ` ``diverge_factor`` :math:`\cdot
    \min_{j<k} s_j`.

    **Suggestion rule**: the rate at the steepest descent of the smoothed loss against
    :math:`\log\eta`, i.e. :math:`\eta_{k^*}` with :math:`k^* = \arg\min_k (s_{k+1} - s_k)` over the
    points recorded before any divergence (the rates are log-spaced, so this difference is the
    slope up to a constant). Wherever the smoothed loss falls at all, the suggestion is a rate at
    which it falls. The other common rule of thumb, a tenth of the rate of minimum loss, is
    ``result.lrs[argmin(result.smoothed_losses)] / 10``.

    ``optimizer_factory(params)`` builds the optimizer (e.g. ``lambda p: SGD(p, lr=0.1,
    momentum=0.9)``); its rate is overwritten at every step, in every group. Whatever happens,
    the model's parameters and buffers are put back as they were (the optimizer is discarded).

    Example::

        result = lr_range_test(model, torch.nn.functional.mse_loss, [(x, y)],
                               lambda p: SGD(p, lr=1.0), start_lr=1e-4, end_lr=10, num_steps=100)
        plt.semilogx(result.lrs, result.smoothed_losses); print(result.suggested_lr)
    """
    start_lr = positive("start_lr", start_lr)
    end_lr = positive("end_lr", end_lr)
    if end_lr <= start_lr:
        raise ValueError(f"Invalid end_lr: {end_lr!r} (must exceed start_lr={start_lr!r})")
    num_steps = as_int("num_steps", num_steps, 2)
    smooth = non_negative("smooth", smooth)
    if smooth >= 1.0:
        raise ValueError(f"Invalid smooth: {smooth!r} (must lie in [0, 1))")
    diverge_factor = positive("diverge_factor", diverge_factor)
    if diverge_factor <= 1.0:
        raise ValueError(f"Invalid diverge_factor: {diverge_factor!r} (must exceed 1)")

    initial_state = copy.deepcopy(model.state_dict())
    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    diverged = False
    try:
        optimizer = optimizer_factory(model.parameters())
        avg, best = 0.0, math.inf
        for k, (inputs, targets) in enumerate(_batches_forever(batches)):
            if k == num_steps:
                break
            lr = start_lr * (end_lr / start_lr) ** (k / (num_steps - 1))
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            value = float(loss.detach())
            avg = smooth * avg + (1 - smooth) * value
            s = avg / (1 - smooth ** (k + 1))
            lrs.append(lr)
            losses.append(value)
            smoothed.append(s)
            if not math.isfinite(value) or s > diverge_factor * best:
                diverged = True
                break
            best = min(best, s)
            loss.backward()
            optimizer.step()
    finally:
        model.load_state_dict(initial_state)

    usable = smoothed[:-1] if diverged else smoothed
    if len(usable) < 2:
        return LRRangeTestResult(lrs, losses, smoothed, None, diverged)
    k_star = min(range(len(usable) - 1), key=lambda k: usable[k + 1] - usable[k])
    return LRRangeTestResult(lrs, losses, smoothed, lrs[k_star], diverged)
