"""Argument checks shared by the schedules: each returns the value as the type the formulas use,
so a one-element tensor hyperparameter still yields a float learning rate."""

from __future__ import annotations

from numbers import Integral

from ..checks import (
    as_float as _as_float,
    check_in_unit_interval,
    check_non_negative,
    check_positive,
)


def as_int(name: str, value, minimum: int = 0) -> int:
    """Return ``value`` as an int, raising ValueError unless it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"Invalid {name}: {value!r} (must be an integer >= {minimum})")
    return int(value)


def as_step(step) -> int:
    """The step index every schedule takes: an integer >= 0 (numpy integers included)."""
    return as_int("step", step, 0)


def non_negative(name: str, value) -> float:
    check_non_negative(name, value)
    return _as_float(name, value)


def positive(name: str, value) -> float:
    check_positive(name, value)
    return _as_float(name, value)


def open_unit_interval(name: str, value) -> float:
    """A value strictly between 0 and 1 (a fraction of the run, a reduction factor)."""
    v = _as_float(name, value)
    if not 0.0 < v < 1.0:
        raise ValueError(f"Invalid {name}: {value!r} (must lie in the open interval (0, 1))")
    return v


def unit_interval(name: str, value) -> float:
    """A value in the closed interval [0, 1] (momentum, a multiplicative factor)."""
    check_in_unit_interval(name, value, closed_right=True)
    return _as_float(name, value)


def at_most(name: str, value: float, bound_name: str, bound: float) -> None:
    if value > bound:
        raise ValueError(f"Invalid {name}: {value!r} (must not exceed {bound_name}={bound!r})")


def choice(name: str, value, choices: tuple) -> None:
    if not isinstance(value, str) or value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"Invalid {name}: {value!r} (must be one of {allowed})")


def boolean(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"Invalid {name}: {value!r} (must be True or False)")
    return value
