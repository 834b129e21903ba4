"""Argument checks shared across course_lib: each raises ValueError naming the parameter and the
value, so bad input never turns into a silently wrong answer."""

from __future__ import annotations

import math

import torch


def as_float(name: str, value) -> float:
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
    v = as_float(name, value)
    if not (v >= 0.0 and math.isfinite(v)):
        raise ValueError(f"Invalid {name}: {value!r} (must be a finite number >= 0)")


def check_positive(name: str, value) -> None:
    """Raise ValueError unless ``0 < value < inf``."""
    v = as_float(name, value)
    if not (v > 0.0 and math.isfinite(v)):
        raise ValueError(f"Invalid {name}: {value!r} (must be a finite number > 0)")


def check_in_unit_interval(name: str, value, *, closed_right: bool = False) -> None:
    """Raise ValueError unless ``0 <= value < 1`` (``<= 1`` when ``closed_right``)."""
    v = as_float(name, value)
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
