r"""Reduce the rate when a monitored metric stops improving: the one schedule that depends on the run,
not only on the step, and so the one with state."""

from __future__ import annotations

import math

from ._checks import as_int, at_most, choice, non_negative, open_unit_interval


class ReduceOnPlateau:
    r"""Multiply the rate by ``factor`` after more than ``patience`` steps without improvement.

    Each :meth:`step` takes the metric :math:`m` and returns the rate to use next. A value is an
    *improvement* on the best so far, :math:`b`, when (``mode``, ``threshold_mode``):

    .. math::

        \text{min, rel: } m < b (1 - \theta) \qquad \text{min, abs: } m < b - \theta \qquad
        \text{max, rel: } m > b (1 + \theta) \qquad \text{max, abs: } m > b + \theta

    :math:`b` starts at :math:`+\infty` (``min``) or :math:`-\infty` (``max``), so the first
    finite metric always improves; a NaN metric never does. Each step without improvement adds one
    to a counter of bad steps, an improvement resets it; when the counter exceeds ``patience`` the
    rate becomes :math:`\max(\eta \phi, \eta_{\min})` and the counter restarts. After a reduction,
    ``cooldown`` steps follow during which bad steps are not counted. A reduction smaller than
    ``eps`` is skipped, so the rate settles instead of creeping towards ``min_lr``.

    PyTorch: ``ReduceLROnPlateau(opt, mode, factor, patience, threshold, threshold_mode,
    cooldown, min_lr, eps)`` with ``scheduler.step(metric)``, on a one-group optimizer with
    ``lr``; the state evolves identically. The relative threshold assumes a positive metric
    (PyTorch does the same): for a negative ``min``-mode metric :math:`b(1-\theta) > b`, so
    changes smaller than :math:`\theta|b|` already count as improvements; use
    ``threshold_mode="abs"`` for metrics that can be negative. PyTorch accepts any
    ``factor < 1``; here it must lie in (0, 1).

    To drive an optimizer, hand the current rate to :class:`~course_lib.schedules.FunctionScheduler`,
    which ignores the step it is given::

        >>> plateau = ReduceOnPlateau(0.1, patience=0)
        >>> [plateau.step(m) for m in [1.0, 0.5, 0.6, 0.7]]
        [0.1, 0.1, 0.010000000000000002, 0.0010000000000000002]

        plateau = ReduceOnPlateau(0.1, patience=5)
        driver = FunctionScheduler(optimizer, lambda _step: plateau.lr)
        for epoch in range(epochs):
            train_one_epoch(...)
            plateau.step(validation_loss())
            driver.step()

    With several parameter groups the driver scales all of them together (see
    :class:`FunctionScheduler`), whereas PyTorch clamps each group at its own ``min_lr``.

    Attributes: ``lr`` (the current rate), ``best``, ``num_bad_epochs``, ``cooldown_counter``
    and ``last_epoch`` (the number of metrics seen), named as PyTorch's.
    """

    MODES = ("min", "max")
    THRESHOLD_MODES = ("rel", "abs")

    def __init__(self, lr, *, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8):
        self.lr = non_negative("lr", lr)
        choice("mode", mode, self.MODES)
        self.mode = mode
        self.factor = open_unit_interval("factor", factor)
        self.patience = as_int("patience", patience, 0)
        self.threshold = non_negative("threshold", threshold)
        choice("threshold_mode", threshold_mode, self.THRESHOLD_MODES)
        self.threshold_mode = threshold_mode
        self.cooldown = as_int("cooldown", cooldown, 0)
        self.min_lr = non_negative("min_lr", min_lr)
        at_most("min_lr", self.min_lr, "lr", self.lr)
        self.eps = non_negative("eps", eps)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0

    def is_better(self, metric: float) -> bool:
        """Whether ``metric`` improves on the best value so far by more than the threshold."""
        b, th = self.best, self.threshold
        if self.mode == "min":
            return metric < (b * (1.0 - th) if self.threshold_mode == "rel" else b - th)
        return metric > (b * (th + 1.0) if self.threshold_mode == "rel" else b + th)

    def step(self, metric) -> float:
        """Record one value of the metric (a number or a one-element tensor); return the new rate."""
        current = float(metric)
        self.last_epoch += 1
        if self.is_better(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            new_lr = max(self.lr * self.factor, self.min_lr)
            if self.lr - new_lr > self.eps:
                self.lr = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        return self.lr
