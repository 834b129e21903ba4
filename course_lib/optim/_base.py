"""What every course_lib optimizer shares: hyperparameter checks and the closure protocol."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


def _as_float(name: str, value) -> float:
    """Return ``value`` as a float; a learning rate may be given as a one-element tensor."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"Invalid {name}: a tensor {name} must have one element, got shape {tuple(value.shape)}")
        return float(value.item())
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"Invalid {name}: expected a number, got {value!r}")
    return float(value)


def check_non_negative(name: str, value) -> None:
    """Raise ValueError unless ``0 <= value < inf``."""
    v = _as_float(name, value)
    if not (v >= 0.0 and math.isfinite(v)):
        raise ValueError(f"Invalid {name}: {value!r} (must be a finite number >= 0)")


def check_positive(name: str, value) -> None:
    """Raise ValueError unless ``0 < value < inf``."""
    v = _as_float(name, value)
    if not (v > 0.0 and math.isfinite(v)):
        raise ValueError(f"Invalid {name}: {value!r} (must be a finite number > 0)")


def check_in_unit_interval(name: str, value, *, closed_right: bool = False) -> None:
    """Raise ValueError unless ``0 <= value < 1`` (``<= 1`` when ``closed_right``)."""
    v = _as_float(name, value)
    ok = 0.0 <= v <= 1.0 if closed_right else 0.0 <= v < 1.0
    if not ok:
        interval = "[0, 1]" if closed_right else "[0, 1)"
        raise ValueError(f"Invalid {name}: {value!r} (must lie in {interval})")


def check_betas(betas, name: str = "betas") -> None:
    """Raise ValueError unless ``betas`` is a pair with each entry in [0, 1)."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"Invalid {name}: {betas!r} (must be a pair (beta1, beta2))")
    for i, b in enumerate(betas):
        check_in_unit_interval(f"{name}[{i}]", b)


def check_bool(name: str, value) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"Invalid {name}: {value!r} (must be True or False)")


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
