"""Drive any ``torch.optim.Optimizer`` (course_lib's or PyTorch's) with schedule functions, and
tabulate a schedule for plotting."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import torch
from torch.optim.lr_scheduler import LRScheduler

from ._checks import as_int, as_step

Schedule = Callable[[int], float]


def schedule_values(fn: Schedule, steps: int | Iterable[int]) -> list[float]:
    """``[fn(t) for t in range(steps)]``, or over the given step indices: the table a plot needs.

    Example::

        >>> from functools import partial
        >>> schedule_values(partial(exponential_decay, lr=1.0, gamma=0.5), 3)
        [1.0, 0.5, 0.25]
    """
    if isinstance(steps, Iterable):
        return [float(fn(as_step(t))) for t in steps]
    return [float(fn(t)) for t in range(as_int("steps", steps, 0))]


def _per_group(name: str, fns, n_groups: int) -> list[Schedule]:
    if callable(fns):
        return [fns] * n_groups
    if isinstance(fns, Sequence) and len(fns) == n_groups and all(callable(f) for f in fns):
        return list(fns)
    raise ValueError(f"Invalid {name}: {fns!r} (must be a callable or a list of {n_groups} "
                     f"callables, one per parameter group)")


class FunctionScheduler(LRScheduler):
    r"""Set every parameter group's learning rate (and, optionally, momentum) from functions of the
    step; a ``torch.optim.lr_scheduler.LRScheduler``, used exactly like PyTorch's schedulers::

        sched = FunctionScheduler(opt, partial(cosine_annealing, lr=0.1, T_max=100))
        for batch in batches:
            loss_fn(model(batch)).backward()
            opt.step(); opt.zero_grad()
            sched.step()

    Construction sets the rates for step 0; the :math:`k`-th call of :meth:`step` sets those for
    step :math:`k` (``sched.last_epoch``).

    **Learning rates.** ``lr_fn`` is either one function or a list with one function per parameter
    group. A list gives group :math:`g` the rate ``lr_fn[g](step)``, exactly. One function gives
    group :math:`g` the rate

    .. math::  \eta_g(t) = f(t)\, \frac{\eta_g^{(0)}}{\eta_0^{(0)}}

    where :math:`\eta_g^{(0)}` is the group's ``lr`` when the scheduler is built (its
    ``initial_lr``, which the scheduler records in the group as PyTorch's do): the function gives
    the first group's rate, and the others keep their ratio to it, as layer-wise rate multipliers
    do. This equals PyTorch's per-group behaviour for every schedule proportional to the base rate
    (step, multistep, exponential, polynomial; cosine with ``eta_min=0``); for schedules with an
    absolute floor or cycle bounds (``eta_min > 0``, cyclic, one-cycle), pass a list.

    **Momentum.** ``momentum_fn`` (one function for all groups, or a list; never scaled) sets
    ``group["betas"][0]`` in groups that have ``betas`` (Adam-like) and ``group["momentum"]``
    otherwise, as PyTorch's ``OneCycleLR`` and ``CyclicLR`` do.

    The scheduler touches nothing but ``optimizer.param_groups``. :meth:`state_dict` leaves the
    functions out (lambdas cannot be pickled): rebuild the scheduler with the same functions and
    then load the state.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, lr_fn: Schedule | Sequence[Schedule],
                 momentum_fn: Schedule | Sequence[Schedule] | None = None, last_epoch: int = -1):
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not a torch.optim.Optimizer")
        groups = optimizer.param_groups
        self.lr_fns = _per_group("lr_fn", lr_fn, len(groups))
        self._scaled = callable(lr_fn)
        if self._scaled and float(groups[0].get("initial_lr", groups[0]["lr"])) == 0.0:
            raise ValueError("Invalid lr_fn: a single function scales every group by its lr relative "
                             "to the first group's, which is 0; pass one function per group")
        self.momentum_fns = None if momentum_fn is None else _per_group("momentum_fn", momentum_fn, len(groups))
        if self.momentum_fns is not None:
            for i, group in enumerate(groups):
                if "betas" not in group and "momentum" not in group:
                    raise ValueError(f"Invalid momentum_fn: parameter group {i} has neither 'momentum' "
                                     f"nor 'betas'")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        lrs = [float(f(step)) for f in self.lr_fns]
        if self._scaled:
            # The ratio first, so that the first group gets lr_fn(step) exactly (ratio 1.0).
            first = float(self.base_lrs[0])
            lrs = [lr * (float(base) / first) for lr, base in zip(lrs, self.base_lrs)]
        for i, lr in enumerate(lrs):
            if not (lr >= 0.0 and math.isfinite(lr)):
                raise ValueError(f"Invalid lr_fn: it gave lr={lr!r} for group {i} at step {step}")
        if self.momentum_fns is not None:
            # A side effect of computing the rates, as in PyTorch's OneCycleLR and CyclicLR: the base
            # class calls get_lr exactly once per step.
            for group, f in zip(self.optimizer.param_groups, self.momentum_fns):
                m = float(f(step))
                if "betas" in group:
                    group["betas"] = (m, *group["betas"][1:])
                else:
                    group["momentum"] = m
        return lrs

    def state_dict(self) -> dict:
        return {k: v for k, v in super().state_dict().items() if k not in ("lr_fns", "momentum_fns")}
