"""What every course_lib optimizer shares: hyperparameter checks, the closure protocol and the
gradients of a parameter group."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..checks import (  # noqa: F401 (re-exported for the optimizers)
    as_float as _as_float,
    check_betas,
    check_bool,
    check_in_unit_interval,
    check_non_negative,
    check_positive,
)


class CourseOptimizer(torch.optim.Optimizer):
    """Base class: validates the hyperparameters of every parameter group, including groups
    added later with ``add_param_group``, by calling the subclass's ``_check_group``."""

    def _check_group(self, group: dict) -> None:  # pragma: no cover - every subclass overrides
        raise NotImplementedError(f"{type(self).__name__} must define _check_group")

    def __init__(self, params, defaults: dict):
        self._check_group(defaults)
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        self._check_group(self.param_groups[-1])

    @staticmethod
    def _evaluate(closure: Callable[[], torch.Tensor] | None):
        """Re-evaluate the loss (and its gradients) when a closure is given, as torch.optim does."""
        if closure is None:
            return None
        with torch.enable_grad():
            return closure()

    @staticmethod
    def _descent_gradients(group: dict, l2=0.0, decay=0.0):
        """``(p, g)`` for every parameter of ``group`` that has a gradient: ``g`` is the gradient of
        the function being minimised (negated when ``group["maximize"]``), plus ``l2 * p`` when
        ``l2`` is not zero -- weight decay added to the gradient ("L2"), as torch.optim does
        wherever ``weight_decay`` is not decoupled. ``decay`` is decoupled weight decay
        (Loshchilov and Hutter): ``p`` is multiplied by ``1 - decay`` (``decay = lr * weight_decay``)
        before it is yielded, so the update that follows acts on the decayed parameter.
        ``p.grad`` itself is never modified."""
        for p in group["params"]:
            if p.grad is None:
                continue
            g = -p.grad if group["maximize"] else p.grad
            if l2 != 0:
                g = g.add(p, alpha=l2)
            if decay != 0:
                p.mul_(1 - decay)
            yield p, g
