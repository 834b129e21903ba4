r"""Smith's cyclical schedules: the one-cycle policy (Smith & Topin 2019) and cyclical learning rates
(Smith 2017), each with its momentum counterpart, which moves opposite to the rate."""

from __future__ import annotations

import math

from ._checks import (
    as_int,
    as_step,
    at_most,
    boolean,
    choice,
    non_negative,
    open_unit_interval,
    positive,
    unit_interval,
)

ANNEAL_STRATEGIES = ("cos", "linear")
CYCLIC_MODES = ("triangular", "triangular2", "exp_range")


def _anneal(strategy: str, start: float, end: float, pct: float) -> float:
    # PyTorch's expressions, term for term, so that the sequences agree to the last bit or two.
    if strategy == "cos":
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
    return (end - start) * pct + start


def _one_cycle_position(step, total_steps, pct_start, anneal_strategy, three_phase):
    """Validate the shared hyperparameters; return ``(phase, pct)`` with ``pct`` in [0, 1], or
    ``None`` at ``step == total_steps`` (the value after the cycle)."""
    step = as_step(step)
    total_steps = as_int("total_steps", total_steps, 1)
    pct = open_unit_interval("pct_start", pct_start)
    choice("anneal_strategy", anneal_strategy, ANNEAL_STRATEGIES)
    boolean("three_phase", three_phase)
    # PyTorch's phase boundaries: the last step of each phase, possibly fractional.
    up_end = float(pct * total_steps) - 1
    ends = [up_end, float(2 * pct * total_steps) - 2, total_steps - 1] if three_phase else [up_end, total_steps - 1]
    # An empty phase makes PyTorch divide 0 by 0 (or skip the warm-up): refuse it up front.
    if up_end <= 0 or any(b <= a for a, b in zip(ends, ends[1:])):
        raise ValueError(
            f"Invalid pct_start: {pct_start!r} with total_steps={total_steps} and "
            f"three_phase={three_phase} leaves a phase without steps (need pct_start * total_steps > 1"
            f"{' and 2 * pct_start * total_steps - 1 < total_steps' if three_phase else ''})")
    if step > total_steps:
        raise ValueError(f"Invalid step: {step!r} (the cycle has total_steps={total_steps} steps)")
    if step == total_steps:
        return None
    start = 0.0
    for phase, end in enumerate(ends[:-1]):
        if step <= end:
            return phase, (step - start) / (end - start)
        start = end
    return len(ends) - 1, (step - start) / (ends[-1] - start)


def one_cycle(step, *, max_lr, total_steps, pct_start=0.3, anneal_strategy="cos",
              div_factor=25.0, final_div_factor=1e4, three_phase=False) -> float:
    r"""The one-cycle learning rate: up from ``max_lr / div_factor`` to ``max_lr``, then down to far
    below the start.

    With :math:`\eta_0 = \eta_{\max}/d` (``div_factor``), :math:`\eta_{\text{end}} = \eta_0 / D`
    (``final_div_factor``; note: relative to :math:`\eta_0`, not to :math:`\eta_{\max}`),
    :math:`N` = ``total_steps``, :math:`p` = ``pct_start`` and :math:`a(x, y, u)` the annealing
    from :math:`x` to :math:`y` as :math:`u` goes from 0 to 1 (``cos``:
    :math:`y + \tfrac12 (x - y)(1 + \cos \pi u)`; ``linear``: :math:`x + (y - x) u`), the phases
    end at steps :math:`e_1 = pN - 1` and :math:`e_2 = N - 1` and

    .. math::

        \eta_t = \begin{cases}
            a(\eta_0, \eta_{\max}, t / e_1) & t \le e_1 \\
            a(\eta_{\max}, \eta_{\text{end}}, (t - e_1)/(e_2 - e_1)) & e_1 < t < N
        \end{cases}

    With ``three_phase=True`` (the paper's original form) the phases end at
    :math:`pN - 1`, :math:`2pN - 2` and :math:`N - 1` and go :math:`\eta_0 \to \eta_{\max} \to
    \eta_0 \to \eta_{\text{end}}`. The boundaries :math:`e_k` are PyTorch's, and may be fractional.

    PyTorch: ``OneCycleLR(opt, max_lr, total_steps, pct_start, anneal_strategy, div_factor=...,
    final_div_factor=..., three_phase=...)``, equal for :math:`0 \le t < N`. The two differ
    only past the last update:

    * at :math:`t = N`, the value the scheduler sets after the last of the :math:`N` updates and
      that no update uses, PyTorch extrapolates the last phase one step further (below
      :math:`\eta_{\text{end}}` with ``linear``, negative when :math:`\eta_{\max}` is much larger
      than :math:`\eta_{\text{end}}`; back above it with ``cos``); this returns :math:`\eta_{\text{end}}`.
    * for :math:`t > N` both raise (ValueError here).

    Configurations with an empty phase (:math:`pN \le 1`, or :math:`2pN - 1 \ge N` with three
    phases) raise ValueError; PyTorch divides by zero on some and silently drops the warm-up on
    others. ``pct_start`` must lie in (0, 1).

    Example::

        >>> [round(one_cycle(t, max_lr=1.0, total_steps=5, pct_start=0.4, anneal_strategy="linear",
        ...                  div_factor=10, final_div_factor=10), 3) for t in range(6)]
        [0.1, 1.0, 0.67, 0.34, 0.01, 0.01]
    """
    position = _one_cycle_position(step, total_steps, pct_start, anneal_strategy, three_phase)
    max_lr = non_negative("max_lr", max_lr)
    div_factor = positive("div_factor", div_factor)
    final_div_factor = positive("final_div_factor", final_div_factor)
    initial_lr = max_lr / div_factor
    final_lr = initial_lr / final_div_factor
    if position is None:
        return final_lr
    phase, pct = position
    if three_phase:
        start, end = [(initial_lr, max_lr), (max_lr, initial_lr), (initial_lr, final_lr)][phase]
    else:
        start, end = [(initial_lr, max_lr), (max_lr, final_lr)][phase]
    return _anneal(anneal_strategy, start, end, pct)


def one_cycle_momentum(step, *, total_steps, pct_start=0.3, anneal_strategy="cos",
                       base_momentum=0.85, max_momentum=0.95, three_phase=False) -> float:
    r"""The momentum (or Adam's :math:`\beta_1`) that goes with :func:`one_cycle`: it falls from
    ``max_momentum`` to ``base_momentum`` while the rate rises, and rises back while it falls.

    On the phases of :func:`one_cycle`, with :math:`\mu_{\max}` = ``max_momentum`` and
    :math:`\mu_{\min}` = ``base_momentum``:

    .. math::

        \mu_t = \begin{cases}
            a(\mu_{\max}, \mu_{\min}, t / e_1) & t \le e_1 \\
            a(\mu_{\min}, \mu_{\max}, (t - e_1)/(e_2 - e_1)) & e_1 < t < N
        \end{cases}

    and with three phases :math:`\mu_{\max} \to \mu_{\min} \to \mu_{\max}`, then constant
    :math:`\mu_{\max}`. At :math:`t = N` this returns :math:`\mu_{\max}` where PyTorch
    extrapolates.

    PyTorch: the momentum ``OneCycleLR(..., cycle_momentum=True, base_momentum, max_momentum)``
    writes into ``group["momentum"]`` (or ``group["betas"][0]``).

    Example::

        >>> [round(one_cycle_momentum(t, total_steps=5, pct_start=0.4, anneal_strategy="linear"), 3)
        ...  for t in range(5)]
        [0.95, 0.85, 0.883, 0.917, 0.95]
    """
    position = _one_cycle_position(step, total_steps, pct_start, anneal_strategy, three_phase)
    base_momentum = unit_interval("base_momentum", base_momentum)
    max_momentum = unit_interval("max_momentum", max_momentum)
    at_most("base_momentum", base_momentum, "max_momentum", max_momentum)
    if position is None:
        return max_momentum
    phase, pct = position
    start, end = [(max_momentum, base_momentum), (base_momentum, max_momentum),
                  (max_momentum, max_momentum)][phase]
    return _anneal(anneal_strategy, start, end, pct)


def _cyclic_position(step, step_size_up, step_size_down, mode, gamma) -> tuple[float, float]:
    """Validate; return (position in the triangle in [0, 1], amplitude scale) for ``step``."""
    step = as_step(step)
    up = as_int("step_size_up", step_size_up, 1)
    down = up if step_size_down is None else as_int("step_size_down", step_size_down, 1)
    choice("mode", mode, CYCLIC_MODES)
    gamma = positive("gamma", gamma)
    # PyTorch's arithmetic, step for step: the comparison x <= ratio decides on which side of the
    # peak a step falls, and must round the same way.
    total = float(up) + float(down)
    ratio = up / total
    cycle = math.floor(1 + step / total)
    x = 1.0 + step / total - cycle
    height = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
    if mode == "triangular":
        scale = 1.0
    elif mode == "triangular2":
        # PyTorch writes 1 / 2.0 ** (cycle - 1), which overflows (OverflowError) after 1024
        # cycles; 0.5 ** (cycle - 1) is the same power of two and underflows to 0 instead.
        scale = 0.5 ** (cycle - 1)
    else:
        scale = gamma**step
    return height, scale


def cyclic(step, *, base_lr, max_lr, step_size_up=2000, step_size_down=None, mode="triangular",
           gamma=1.0) -> float:
    r"""Cyclical learning rate: triangles between ``base_lr`` and ``max_lr``.

    A cycle is :math:`u` = ``step_size_up`` steps up then :math:`d` = ``step_size_down`` (default
    :math:`u`) steps down. With :math:`L = u + d`, cycle number :math:`c = \lfloor 1 + t/L \rfloor`,
    position :math:`x = 1 + t/L - c \in [0, 1)` and :math:`r = u/L`:

    .. math::

        h_t = \begin{cases} x / r & x \le r \\ (x - 1)/(r - 1) & x > r \end{cases}, \qquad
        \eta_t = \eta_{\text{base}} + (\eta_{\max} - \eta_{\text{base}})\, h_t\, s_t

    where the amplitude scale is :math:`s_t = 1` (``triangular``), :math:`2^{-(c-1)}`
    (``triangular2``: halved every cycle) or :math:`\gamma^{t}` (``exp_range``: decayed every
    *step*, not every cycle).

    Smith's paper writes the symmetric case :math:`u = d` as
    :math:`\max(0, 1 - |t/u - 2c + 1|)`, the same triangle; ``step_size_down`` is PyTorch's
    extension. PyTorch: ``CyclicLR(opt, base_lr, max_lr, step_size_up, step_size_down, mode,
    gamma)``, equal to it except that its ``triangular2`` raises OverflowError after 1024 cycles
    where this underflows to ``base_lr``. PyTorch's custom ``scale_fn`` is not offered: write
    the schedule as a function instead.

    Example::

        >>> [round(cyclic(t, base_lr=0.1, max_lr=0.5, step_size_up=2, mode="triangular2"), 3)
        ...  for t in range(9)]
        [0.1, 0.3, 0.5, 0.3, 0.1, 0.2, 0.3, 0.2, 0.1]
    """
    height, scale = _cyclic_position(step, step_size_up, step_size_down, mode, gamma)
    base_lr = non_negative("base_lr", base_lr)
    max_lr = non_negative("max_lr", max_lr)
    at_most("base_lr", base_lr, "max_lr", max_lr)
    return base_lr + (max_lr - base_lr) * height * scale


def cyclic_momentum(step, *, base_momentum=0.8, max_momentum=0.9, step_size_up=2000,
                    step_size_down=None, mode="triangular", gamma=1.0) -> float:
    r"""The momentum that goes with :func:`cyclic`, moving opposite to the rate:

    .. math::  \mu_t = \mu_{\max} - (\mu_{\max} - \mu_{\text{base}})\, h_t\, s_t

    with :math:`h_t` and :math:`s_t` as in :func:`cyclic` (so ``triangular2`` and ``exp_range``
    shrink the momentum's swing too).

    PyTorch: the momentum ``CyclicLR(..., cycle_momentum=True, base_momentum, max_momentum)``
    writes into ``group["momentum"]`` (or ``group["betas"][0]``).

    Example::

        >>> [round(cyclic_momentum(t, step_size_up=2), 3) for t in range(5)]
        [0.9, 0.85, 0.8, 0.85, 0.9]
    """
    height, scale = _cyclic_position(step, step_size_up, step_size_down, mode, gamma)
    base_momentum = unit_interval("base_momentum", base_momentum)
    max_momentum = unit_interval("max_momentum", max_momentum)
    at_most("base_momentum", base_momentum, "max_momentum", max_momentum)
    return max_momentum - (max_momentum - base_momentum) * height * scale
