r"""Run an optimizer on a test problem and record its trajectory.

:func:`run` minimizes a :class:`~course_lib.problems.Problem` from ``x0`` with any
``torch.optim.Optimizer`` (course_lib's or PyTorch's, LBFGS included), feeding it the problem's
closed-form gradient, and returns a :class:`Trajectory`: the iterates
:math:`x_0, \dots, x_T`, the losses :math:`f(x_t)` and the gradient norms
:math:`\lVert\nabla f(x_t)\rVert`.

Example::

    from course_lib.optim import SGD
    from course_lib.problems import Rosenbrock
    from course_lib.runs import run

    traj = run(Rosenbrock(), lambda params: SGD(params, lr=1e-3), x0=[-1.5, 2.0], steps=1000)
    traj.losses[-1], traj.xs[-1]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .problems import Problem, _concrete_device

__all__ = ["DivergenceError", "Trajectory", "run"]

# Reading a value from an accelerator waits for every queued kernel, so checking the loss for
# finiteness after each step would serialise the run. There it is checked once per this many
# steps (and at the end); on the CPU, where a read costs nothing extra, after every step.
_ACCELERATOR_CHECK_EVERY = 100


@dataclass
class Trajectory:
    """The record of a run, on the CPU.

    ``xs`` ``(T+1, n)``: iterates :math:`x_0, \\dots, x_T`; ``losses`` ``(T+1,)``: :math:`f(x_t)`;
    ``grad_norms`` ``(T+1,)``: :math:`\\lVert\\nabla f(x_t)\\rVert_2`; ``n_grad_evals``: how many
    times the run evaluated the gradient (for gradient descent :math:`T + 1`, once per iterate;
    line-search methods evaluate more); ``device``: where the run was computed; ``diverged``:
    True when the run stopped because the loss became non-finite (the record then ends at the
    last finite point).
    """

    xs: torch.Tensor
    losses: torch.Tensor
    grad_norms: torch.Tensor
    n_grad_evals: int
    device: torch.device
    diverged: bool = False


class DivergenceError(ValueError):
    """The loss became non-finite during a run. ``step`` is the first step with a non-finite loss,
    ``loss`` its value and ``trajectory`` the record up to the last finite point."""

    def __init__(self, step: int, loss: float, trajectory: Trajectory):
        self.step, self.loss, self.trajectory = step, loss, trajectory
        last = float(trajectory.losses[-1])
        super().__init__(
            f"the run diverged: the loss became {loss} at step {step} (last finite loss {last:.6g} at "
            f"step {step - 1}). The step size is probably too large for the curvature of this "
            f"problem: lower the learning rate (lr), or pass stop_on_nonfinite=False to get the "
            f"trajectory up to the divergence.")


def _first_nonfinite(values: torch.Tensor) -> int | None:
    bad = torch.nonzero(~torch.isfinite(values))
    return int(bad[0, 0]) if bad.numel() else None


def run(problem: Problem, optimizer, x0, steps: int, *, device=None, dtype=torch.float64,
        scheduler=None, callback=None, stop_on_nonfinite: bool = True) -> Trajectory:
    r"""Run ``steps`` steps of ``optimizer`` on ``problem`` from ``x0``.

    * ``optimizer``: a factory ``lambda params: SomeOptimizer(params, lr=...)``; it is given the
      list of the single parameter :math:`x` and must return a ``torch.optim.Optimizer``. Each step
      calls ``optimizer.step(closure)``, where the closure evaluates :math:`f(x)` and sets
      ``x.grad`` to the closed-form :math:`\nabla f(x)`, so methods that re-evaluate the function
      (``torch.optim.LBFGS``) work too.
    * ``scheduler``: optionally a factory ``lambda opt: SomeScheduler(opt, ...)``; its ``step()``
      is called after every optimizer step.
    * ``callback``: optionally ``callback(t, x, loss)``, called after recording each iterate
      :math:`x_t` (``x`` is the live parameter: copy it to keep it). Returning a true value stops
      the run; the trajectory then ends at :math:`x_t`.
    * ``device``: where to compute (default ``problem.device``); ``dtype`` of the iterates.

    A non-finite loss raises :class:`DivergenceError` (a ``ValueError``) naming the step; with
    ``stop_on_nonfinite=False`` the trajectory up to the last finite point is returned with
    ``diverged=True`` instead. On the CPU the loss is checked after every step, so a diverging run
    stops at once; on an accelerator it is checked every 100 steps to avoid a device
    synchronisation per step, so up to 99 steps past the divergence are computed (and passed to
    ``callback``) before the run stops; the record is cut at the same point either way.

    The gradient at each recorded iterate is computed once: the evaluation that records
    :math:`x_t` is handed to the optimizer's first closure call at :math:`x_t`.

    Example::

        traj = run(Quadratic.with_condition_number(10.0, 5), lambda p: SGD(p, lr=0.1),
                   x0=torch.ones(5, dtype=torch.float64), steps=100)
        traj.losses.shape     # (101,)
    """
    if not isinstance(problem, Problem):
        raise ValueError(f"Invalid problem: expected a course_lib.problems.Problem, got {type(problem).__name__}")
    if isinstance(optimizer, torch.optim.Optimizer) or not callable(optimizer):
        raise ValueError(f"Invalid optimizer: {optimizer!r} (pass a factory such as "
                         f"`lambda params: SGD(params, lr=0.1)`, which run() calls with the parameters)")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"Invalid steps: {steps!r} (must be an integer >= 0)")
    for name, fn in (("scheduler", scheduler), ("callback", callback)):
        if fn is not None and not callable(fn):
            raise ValueError(f"Invalid {name}: {fn!r} (must be callable or None)")
    if not isinstance(stop_on_nonfinite, bool):
        raise ValueError(f"Invalid stop_on_nonfinite: {stop_on_nonfinite!r} (must be True or False)")
    device = problem.device if device is None else _concrete_device(device)
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"Invalid dtype: {dtype!r} (must be a floating-point torch.dtype)")
    try:
        # Sequences straight to dtype: via the default float32, [-1.2, 1.0] would lose digits.
        x = x0.detach() if isinstance(x0, torch.Tensor) else torch.as_tensor(x0, dtype=dtype)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"Invalid x0: cannot be converted to a tensor ({exc})") from None
    if x.shape != (problem.dim,):
        raise ValueError(f"Invalid x0: expected shape ({problem.dim},) for {problem.name}, got {tuple(x.shape)}")
    x = x.to(device=device, dtype=dtype, copy=True).requires_grad_(True)
    if not torch.isfinite(x).all():
        raise ValueError(f"Invalid x0: {x0!r} (must be finite)")

    opt = optimizer([x])
    if not isinstance(opt, torch.optim.Optimizer):
        raise ValueError(f"Invalid optimizer: the factory returned {type(opt).__name__}, not a torch.optim.Optimizer")
    sched = scheduler(opt) if scheduler is not None else None

    xs = torch.empty((steps + 1, problem.dim), device=device, dtype=dtype)
    losses = torch.empty(steps + 1, device=device, dtype=dtype)
    grad_norms = torch.empty(steps + 1, device=device, dtype=dtype)
    n_evals = 0
    # The evaluation at the last recorded iterate, tagged with x's version counter (bumped by
    # every in-place update): the closure reuses it only while x is provably unchanged.
    pending = None

    def evaluate():
        nonlocal n_evals
        with torch.no_grad():
            loss, g = problem.value(x), problem.grad(x)
        n_evals += 1
        return loss, g

    def closure():
        nonlocal pending
        if pending is not None and pending[0] == x._version:
            loss, g = pending[1], pending[2]
        else:
            loss, g = evaluate()
        # Used once: an optimizer may modify x.grad in place.
        pending = None
        x.grad = g
        return loss

    def record(end: int, diverged: bool) -> Trajectory:
        return Trajectory(xs[:end].cpu(), losses[:end].cpu(), grad_norms[:end].cpu(), n_evals, device, diverged)

    check_every = 1 if device.type == "cpu" else _ACCELERATOR_CHECK_EVERY
    checked = 0  # losses[:checked] are known to be finite

    def check(end: int) -> Trajectory | None:
        """None if losses[:end] are finite; else the record cut before the first non-finite one
        (raised as DivergenceError when stop_on_nonfinite)."""
        nonlocal checked
        bad = _first_nonfinite(losses[checked:end])
        if bad is None:
            checked = end
            return None
        step = checked + bad
        traj = record(step, diverged=True)
        if stop_on_nonfinite:
            raise DivergenceError(step, float(losses[step]), traj)
        return traj

    for t in range(steps + 1):
        if t > 0:
            opt.step(closure)
            if sched is not None:
                sched.step()
        loss, g = evaluate()
        pending = (x._version, loss, g)
        with torch.no_grad():
            xs[t] = x
            losses[t] = loss
            grad_norms[t] = torch.linalg.vector_norm(g)
        if t == 0 and not math.isfinite(float(loss)):
            raise ValueError(f"Invalid x0: the loss there is {float(loss)}, not finite")
        if t + 1 - checked >= check_every or t == steps:
            diverged = check(t + 1)
            if diverged is not None:
                return diverged
        if callback is not None and callback(t, x.detach(), loss):
            diverged = check(t + 1)
            return record(t + 1, diverged=False) if diverged is None else diverged
    return record(steps + 1, diverged=False)
