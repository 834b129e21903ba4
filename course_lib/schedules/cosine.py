r"""Cosine schedules: annealing (Loshchilov & Hutter 2017), linear warm-up then cosine decay, and
SGDR's warm restarts."""

from __future__ import annotations

import math

from ._checks import as_int, as_step, at_most, non_negative


def _half_cosine(eta_max: float, eta_min: float, t: int, period: int) -> float:
    # The same expression, in the same order, as PyTorch's closed forms.
    return eta_min + (eta_max - eta_min) * (1 + math.cos(math.pi * t / period)) / 2


def cosine_annealing(step, *, lr, T_max, eta_min=0.0) -> float:
    r"""Cosine annealing from ``lr`` down to ``eta_min`` in ``T_max`` steps, continued as PyTorch does.

    .. math::

        \eta_t = \eta_{\min} + \tfrac12 (\eta - \eta_{\min})
                 \Bigl(1 + \cos\frac{\pi t}{T_{\max}}\Bigr) \qquad \text{for every } t \ge 0.

    **Past** ``T_max`` the cosine keeps going: the rate climbs back to ``lr`` at :math:`2T_{\max}`
    and repeats with period :math:`2T_{\max}` (no restart, no clamp at :math:`\eta_{\min}`).
    That is what PyTorch's ``CosineAnnealingLR(opt, T_max, eta_min)`` produces. The textbook
    schedule (SGDR without restarts) is only defined for :math:`t \le T_{\max}`, and most
    training-recipe code clamps it at :math:`\eta_{\min}` afterwards; use :func:`warmup_cosine`
    with ``warmup_steps=0`` for that.

    PyTorch computes the rate *recursively*,

    .. math::

        \eta_{t} = \eta_{\min} + (\eta_{t-1} - \eta_{\min})
                  \frac{1 + \cos(\pi t / T_{\max})}{1 + \cos(\pi (t-1) / T_{\max})},

    with an additive special case at :math:`t = (2k+1)T_{\max} + 1` where the denominator
    vanishes. In exact arithmetic this equals the closed form above for every :math:`t`; in
    floating point the recursion accumulates rounding error that grows linearly with :math:`t`
    (measured against a 40-digit reference: :math:`3\cdot10^{-13}` after :math:`10^4` steps,
    :math:`3.4\cdot10^{-12}` after :math:`10^5`, for ``lr=0.1``). The formula here reduces
    :math:`t` modulo :math:`2T_{\max}` before taking the cosine, so it stays correctly rounded
    (about :math:`10^{-17}`) at any step, and matches PyTorch to :math:`10^{-12}` for the first
    :math:`10^4` steps. Reproducing the recursion's drift bit-for-bit would cost O(t) per call and
    buy nothing.

    Example::

        >>> [round(cosine_annealing(t, lr=1.0, T_max=2), 3) for t in range(5)]
        [1.0, 0.5, 0.0, 0.5, 1.0]
    """
    step = as_step(step)
    lr = non_negative("lr", lr)
    T_max = as_int("T_max", T_max, 1)
    eta_min = non_negative("eta_min", eta_min)
    at_most("eta_min", eta_min, "lr", lr)
    return _half_cosine(lr, eta_min, step % (2 * T_max), T_max)


def warmup_cosine(step, *, lr, warmup_steps, total_steps, min_lr=0.0, start_lr=0.0) -> float:
    r"""Linear warm-up from ``start_lr`` to ``lr``, then cosine decay to ``min_lr`` at ``total_steps``,
    then ``min_lr`` for ever.

    With :math:`W` = ``warmup_steps`` and :math:`T` = ``total_steps``:

    .. math::

        \eta_t = \begin{cases}
            \eta_{\text{start}} + (\eta - \eta_{\text{start}})\, t / W & t < W \\
            \eta_{\min} + \tfrac12 (\eta - \eta_{\min})
                \bigl(1 + \cos\frac{\pi (t - W)}{T - W}\bigr) & W \le t < T \\
            \eta_{\min} & t \ge T
        \end{cases}

    The peak ``lr`` is used at step :math:`W` (when :math:`W < T`). The rate lies in
    :math:`[\min(\eta_{\text{start}}, \eta_{\min}), \eta]` and is non-increasing from step
    :math:`W` on.

    PyTorch, for ``start_lr > 0``::

        SequentialLR(opt, [LinearLR(opt, start_factor=start_lr / lr, total_iters=W),
                           CosineAnnealingLR(opt, T_max=T - W, eta_min=min_lr)], milestones=[W])

    which agrees for :math:`t \le T`; after :math:`T` PyTorch's cosine climbs back up (see
    :func:`cosine_annealing`), whereas this schedule stays at ``min_lr``. ``LinearLR`` cannot start
    from 0 (it requires ``start_factor > 0``), so the default ``start_lr=0`` (the usual choice, as
    in Goyal et al. 2017 and Hugging Face's ``get_cosine_schedule_with_warmup``) has no exact
    PyTorch counterpart.

    Example::

        >>> [round(warmup_cosine(t, lr=1.0, warmup_steps=2, total_steps=4), 3) for t in range(6)]
        [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    """
    step = as_step(step)
    lr = non_negative("lr", lr)
    warmup_steps = as_int("warmup_steps", warmup_steps, 0)
    total_steps = as_int("total_steps", total_steps, 1)
    at_most("warmup_steps", warmup_steps, "total_steps", total_steps)
    min_lr = non_negative("min_lr", min_lr)
    at_most("min_lr", min_lr, "lr", lr)
    start_lr = non_negative("start_lr", start_lr)
    at_most("start_lr", start_lr, "lr", lr)
    if step < warmup_steps:
        return start_lr + (lr - start_lr) * step / warmup_steps
    if step >= total_steps:
        return min_lr
    return _half_cosine(lr, min_lr, step - warmup_steps, total_steps - warmup_steps)


def _restart_position(step: int, T_0: int, T_mult: int) -> tuple[int, int]:
    """(steps since the last restart, length of the current cycle), in exact integer arithmetic."""
    if T_mult == 1:
        return step % T_0, T_0
    t_cur, t_i = step, T_0
    while t_cur >= t_i:  # at most log_{T_mult}(step / T_0) + 1 rounds
        t_cur -= t_i
        t_i *= T_mult
    return t_cur, t_i


def cosine_warm_restarts(step, *, lr, T_0, T_mult=1, eta_min=0.0) -> float:
    r"""SGDR: cosine annealing restarted every cycle, the cycle length growing by ``T_mult``
    (Loshchilov & Hutter 2017).

    Cycle :math:`i = 0, 1, \dots` has length :math:`T_i = T_0 T_{\text{mult}}^i` and starts at step
    :math:`S_i = T_0 (T_{\text{mult}}^i - 1)/(T_{\text{mult}} - 1)` (:math:`S_i = i T_0` when
    :math:`T_{\text{mult}} = 1`). With :math:`T_{cur} = t - S_i` for the cycle containing :math:`t`:

    .. math::

        \eta_t = \eta_{\min} + \tfrac12 (\eta - \eta_{\min})
                 \Bigl(1 + \cos\frac{\pi T_{cur}}{T_i}\Bigr)

    At integer steps :math:`T_{cur} < T_i`, so the rate is ``lr`` at each restart and never quite
    reaches :math:`\eta_{\min}`; the paper's rule ":math:`\eta = \eta_{\min}` when
    :math:`T_{cur} = T_i`" concerns fractional epochs, which this step-indexed form does not use.

    PyTorch: ``CosineAnnealingWarmRestarts(opt, T_0, T_mult, eta_min)`` stepped with
    ``scheduler.step()``, which tracks :math:`T_{cur}` and :math:`T_i` in integers; the cycle is
    found here by the same integer arithmetic. PyTorch's other path, ``scheduler.step(epoch)``,
    finds the cycle with a floating-point logarithm and misses some restarts when
    :math:`T_{\text{mult}} > 1`: at step 242 for ``T_0=2, T_mult=3``, a restart, it sets
    :math:`T_{cur} = T_i = 162` of the previous cycle and returns :math:`\eta_{\min}` instead of
    ``lr``.

    Example::

        >>> [round(cosine_warm_restarts(t, lr=1.0, T_0=2, T_mult=2), 3) for t in range(7)]
        [1.0, 0.5, 1.0, 0.854, 0.5, 0.146, 1.0]
    """
    step = as_step(step)
    lr = non_negative("lr", lr)
    T_0 = as_int("T_0", T_0, 1)
    T_mult = as_int("T_mult", T_mult, 1)
    eta_min = non_negative("eta_min", eta_min)
    at_most("eta_min", eta_min, "lr", lr)
    t_cur, t_i = _restart_position(step, T_0, T_mult)
    return _half_cosine(lr, eta_min, t_cur, t_i)
