r"""Piecewise-constant, exponential and polynomial decay.

Every schedule is a pure function ``f(step, **hyperparameters) -> lr``: ``step`` is the index of the
optimizer step the rate is used for (0 for the first update), which is also PyTorch's
``scheduler.last_epoch`` after ``step`` calls of ``scheduler.step()``.
"""

from __future__ import annotations

from bisect import bisect_right

from ._checks import as_int, as_step, non_negative, positive, unit_interval


def constant(step, *, lr, factor=1.0, total_iters=0) -> float:
    r"""A constant rate, optionally scaled down for the first ``total_iters`` steps.

    .. math::

        \eta_t = \begin{cases} \phi\, \eta & t < T \\ \eta & t \ge T \end{cases}

    with :math:`\eta` = ``lr``, :math:`\phi` = ``factor`` in [0, 1] and :math:`T` = ``total_iters``.
    The defaults give a plain constant rate.

    PyTorch: ``ConstantLR(opt, factor, total_iters)`` on an optimizer with ``lr``. PyTorch
    differs for ``total_iters=0``: it scales at step 0 and never restores the rate, since the
    restoring branch fires only when the step *equals* ``total_iters``; here the rate is then simply
    ``lr`` throughout.

    Example::

        >>> [constant(t, lr=0.1, factor=0.5, total_iters=2) for t in range(4)]
        [0.05, 0.05, 0.1, 0.1]
    """
    step = as_step(step)
    lr = non_negative("lr", lr)
    factor = unit_interval("factor", factor)
    total_iters = as_int("total_iters", total_iters, 0)
    return lr * factor if step < total_iters else lr


def step_decay(step, *, lr, step_size, gamma=0.1) -> float:
    r"""Multiply the rate by ``gamma`` every ``step_size`` steps.

    .. math::  \eta_t = \eta\, \gamma^{\lfloor t / s \rfloor}

    PyTorch: ``StepLR(opt, step_size, gamma)``. PyTorch multiplies the current rate by
    :math:`\gamma` at each multiple of :math:`s` (a running product); the power here differs from
    it only by rounding.

    Example::

        >>> [round(step_decay(t, lr=1.0, step_size=2, gamma=0.5), 3) for t in range(5)]
        [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    step = as_step(step)
    lr = non_negative("lr", lr)
    step_size = as_int("step_size", step_size, 1)
    gamma = positive("gamma", gamma)
    return lr * gamma ** (step // step_size)


def multistep_decay(step, *, lr, milestones, gamma=0.1) -> float:
    r"""Multiply the rate by ``gamma`` at each milestone.

    .. math::  \eta_t = \eta\, \gamma^{\#\{i \,:\, m_i \le t\}}

    The rate used *at* step :math:`m_i` is already decayed. A milestone listed :math:`k` times
    decays by :math:`\gamma^k` (as PyTorch, which counts milestones with a ``Counter``).

    PyTorch: ``MultiStepLR(opt, milestones, gamma)``.

    Example::

        >>> [round(multistep_decay(t, lr=1.0, milestones=[1, 3], gamma=0.1), 3) for t in range(4)]
        [1.0, 0.1, 0.1, 0.01]
    """
    step = as_step(step)
    lr = non_negative("lr", lr)
    if not isinstance(milestones, (list, tuple)):
        raise ValueError(f"Invalid milestones: {milestones!r} (must be a list of step indices)")
    ms = [as_int(f"milestones[{i}]", m, 0) for i, m in enumerate(milestones)]
    if any(a > b for a, b in zip(ms, ms[1:])):
        raise ValueError(f"Invalid milestones: {milestones!r} (must be non-decreasing)")
    gamma = positive("gamma", gamma)
    return lr * gamma ** bisect_right(ms, step)


def exponential_decay(step, *, lr, gamma) -> float:
    r"""Multiply the rate by ``gamma`` every step.

    .. math::  \eta_t = \eta\, \gamma^{t}

    PyTorch: ``ExponentialLR(opt, gamma)`` (a running product, equal up to rounding).

    Example::

        >>> [exponential_decay(t, lr=1.0, gamma=0.5) for t in range(3)]
        [1.0, 0.5, 0.25]
    """
    step = as_step(step)
    lr = non_negative("lr", lr)
    gamma = positive("gamma", gamma)
    return lr * gamma**step


def polynomial_decay(step, *, lr, total_iters=5, power=1.0) -> float:
    r"""Decay the rate to 0 along a polynomial in ``total_iters`` steps, then stay at 0.

    .. math::  \eta_t = \eta\, \Bigl(1 - \frac{\min(t, T)}{T}\Bigr)^{p}

    PyTorch: ``PolynomialLR(opt, total_iters, power)``, whose running product reaches exactly 0 at
    :math:`t = T` and leaves the rate there. The textbook form (e.g. Keras's
    ``PolynomialDecay``) decays to a floor ``end_learning_rate`` rather than to 0 and may restart
    ("cycle"); PyTorch has neither, and neither has this function.

    Example::

        >>> [polynomial_decay(t, lr=1.0, total_iters=4, power=2.0) for t in range(6)]
        [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0]
    """
    step = as_step(step)
    lr = non_negative("lr", lr)
    total_iters = as_int("total_iters", total_iters, 1)
    power = non_negative("power", power)
    return lr * (1.0 - min(total_iters, step) / total_iters) ** power
