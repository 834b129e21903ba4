"""run(): trajectories against hand-written loops, PyTorch's optimizers, LBFGS, schedulers,
callbacks, divergence and argument checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_lib.optim import SGD
from course_lib.problems import Quadratic, Rosenbrock
from course_lib.runs import DivergenceError, Trajectory, run

F64 = torch.float64


def _rosenbrock_autograd(x):
    """Rosenbrock written again, for autograd: an oracle independent of the closed forms."""
    return 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2


def test_gradient_descent_matches_a_hand_written_loop(device):
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    b = np.array([1.0, -1.0])
    problem = Quadratic(torch.tensor(A), b=torch.tensor(b), device=device)
    traj = run(problem, lambda p: SGD(p, lr=0.2), [2.0, -3.0], 40)
    x, xs = np.array([2.0, -3.0]), []
    for _ in range(41):
        xs.append(x)
        x = x - 0.2 * (A @ x - b)
    xs = np.array(xs)
    assert isinstance(traj, Trajectory)
    np.testing.assert_allclose(traj.xs.numpy(), xs, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(traj.losses.numpy(), [0.5 * v @ A @ v - b @ v for v in xs], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(traj.grad_norms.numpy(), np.linalg.norm(xs @ A - b, axis=1), rtol=1e-12, atol=1e-14)
    assert traj.n_grad_evals == 41 and not traj.diverged
    assert traj.xs.device.type == "cpu" and traj.losses.device.type == "cpu" and traj.grad_norms.device.type == "cpu"
    assert traj.device.type == torch.device(device).type


@pytest.mark.parametrize("kwargs", [
    dict(lr=1e-3),
    dict(lr=1e-3, momentum=0.9),
    dict(lr=5e-4, momentum=0.8, nesterov=True),
    dict(lr=1e-3, momentum=0.5, dampening=0.3, weight_decay=0.01),
])
def test_course_sgd_and_torch_sgd_give_the_same_trajectory(kwargs, device):
    problem = Rosenbrock(device=device)
    ours = run(problem, lambda p: SGD(p, **kwargs), [-1.2, 1.0], 300)
    theirs = run(problem, lambda p: torch.optim.SGD(p, **kwargs), [-1.2, 1.0], 300)
    torch.testing.assert_close(ours.xs, theirs.xs, rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(ours.losses, theirs.losses, rtol=1e-12, atol=1e-15)
    # And the same as PyTorch's SGD driven by autograd in the usual loop.
    x = torch.tensor([-1.2, 1.0], dtype=F64, device=device, requires_grad=True)
    opt = torch.optim.SGD([x], **kwargs)
    for t in range(300):
        torch.testing.assert_close(x.detach().cpu(), ours.xs[t], rtol=1e-12, atol=1e-14)
        opt.zero_grad()
        _rosenbrock_autograd(x).backward()
        opt.step()


def test_lbfgs_runs_and_converges(device):
    kwargs = dict(lr=1, max_iter=5, history_size=10, line_search_fn="strong_wolfe",
                  tolerance_grad=1e-12, tolerance_change=1e-30)
    traj = run(Rosenbrock(device=device), lambda p: torch.optim.LBFGS(p, **kwargs), [-1.2, 1.0], 20)
    # The same with autograd in PyTorch's documented loop, counting closure calls.
    x = torch.tensor([-1.2, 1.0], dtype=F64, device=device, requires_grad=True)
    opt = torch.optim.LBFGS([x], **kwargs)
    calls = 0

    def closure():
        nonlocal calls
        calls += 1
        opt.zero_grad()
        loss = _rosenbrock_autograd(x)
        loss.backward()
        return loss

    reference = [x.detach().cpu().clone()]
    for _ in range(20):
        opt.step(closure)
        reference.append(x.detach().cpu().clone())
    torch.testing.assert_close(traj.xs, torch.stack(reference), rtol=1e-8, atol=1e-10)
    # The default tolerance_change (1e-9) would stop LBFGS once f changes by less than that, far
    # from the minimizer in x (f grows like 0.2 |x - x*|^2 there).
    torch.testing.assert_close(traj.xs[-1], torch.ones(2, dtype=F64), rtol=0, atol=1e-10)
    # One evaluation at x0 plus one per closure call (the recording evaluation at each iterate
    # serves the step's first closure call).
    assert traj.n_grad_evals == calls + 1
    assert traj.n_grad_evals > 21


def test_scheduler_factory_is_stepped_after_every_step(device):
    problem = Quadratic([1.0, 4.0], b=[1.0, 1.0], device=device)
    lr0 = 0.3
    traj = run(problem, lambda p: SGD(p, lr=lr0), [0.0, 3.0], 30,
               scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1 / (1 + t)))
    x = np.array([0.0, 3.0])
    for t in range(30):
        x = x - lr0 / (1 + t) * (np.array([1.0, 4.0]) * x - 1.0)
    np.testing.assert_allclose(traj.xs[-1].numpy(), x, rtol=1e-12)


def test_callback_sees_every_iterate_and_can_stop_the_run(device):
    problem = Quadratic([1.0, 2.0], device=device)
    full = run(problem, lambda p: SGD(p, lr=0.4), [1.0, 1.0], 100)
    seen = []

    def callback(t, x, loss):
        seen.append((t, x.clone().cpu(), float(loss)))
        return float(loss) < 1e-6

    traj = run(problem, lambda p: SGD(p, lr=0.4), [1.0, 1.0], 100, callback=callback)
    first_small = int(np.argmax(full.losses.numpy() < 1e-6))
    assert 0 < first_small < 100
    assert len(traj.xs) == len(traj.losses) == len(traj.grad_norms) == first_small + 1
    assert [t for t, _, _ in seen] == list(range(first_small + 1))
    torch.testing.assert_close(torch.stack([x for _, x, _ in seen]), full.xs[:first_small + 1])
    assert not traj.diverged


def test_zero_steps_records_the_start(device):
    traj = run(Rosenbrock(device=device), lambda p: SGD(p, lr=1e-3), torch.tensor([0.0, 0.0]), 0)
    assert traj.xs.shape == (1, 2) and traj.losses.tolist() == [1.0] and traj.grad_norms.tolist() == [2.0]
    assert traj.n_grad_evals == 1


def test_dtype_of_the_iterates(device):
    traj = run(Rosenbrock(), lambda p: SGD(p, lr=1e-3), [0.0, 0.0], 5, device=device, dtype=torch.float32)
    assert traj.xs.dtype == torch.float32 and traj.device.type == torch.device(device).type


def _first_nonfinite_step(curvature, lr, x0):
    """The first step at which the loss of gradient descent on f(x) = curvature x^2 / 2 overflows,
    in Python floats: x_{t+1} = (1 - lr curvature) x_t."""
    x, t = x0, 0
    while True:
        # Intermediates of evaluating the loss lie between c x^2 / 2 and 2 c x^2; the parameters of
        # the tests keep clear of the threshold, so that the answer cannot depend on that order.
        low, high = 0.5 * curvature * x * x, 2 * curvature * x * x
        if not math.isfinite(high):
            assert not math.isfinite(low), "parameters too close to the overflow threshold"
            return t
        x, t = x - lr * curvature * x, t + 1


def test_divergence_raises_with_a_useful_message(device):
    problem = Quadratic([2.0], device=device)
    expected = _first_nonfinite_step(2.0, 1e40, 1.0)
    assert expected > 2
    with pytest.raises(DivergenceError) as info:
        run(problem, lambda p: SGD(p, lr=1e40), [1.0], 50)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.step == expected and err.loss == float("inf")
    assert f"step {expected}" in str(err) and "lr" in str(err)
    assert len(err.trajectory.xs) == expected and err.trajectory.diverged


def test_divergence_can_return_the_finite_part(device):
    # 300 steps: on an accelerator the finiteness check runs in chunks, and the cut must not depend on them.
    problem = Quadratic([2.0, 1.0], device=device)
    expected = _first_nonfinite_step(2.0, 4.0, 1.0)
    assert 100 < expected < 300
    traj = run(problem, lambda p: SGD(p, lr=4.0), [1.0, 0.0], 300, stop_on_nonfinite=False)
    assert traj.diverged
    assert len(traj.xs) == len(traj.losses) == len(traj.grad_norms) == expected
    assert torch.isfinite(traj.losses).all() and torch.isfinite(traj.xs).all()
    with pytest.raises(DivergenceError, match=f"step {expected}"):
        run(problem, lambda p: SGD(p, lr=4.0), [1.0, 0.0], 300)


@pytest.mark.parametrize("kwargs,match", [
    (dict(steps=-1), "Invalid steps"),
    (dict(steps=2.0), "Invalid steps"),
    (dict(steps=True), "Invalid steps"),
    (dict(x0=[0.0, 0.0, 0.0]), "Invalid x0"),
    (dict(x0=[[0.0, 0.0]]), "Invalid x0"),
    (dict(x0=[float("nan"), 0.0]), "Invalid x0"),
    (dict(x0=[1e200, 0.0]), "Invalid x0"),
    (dict(x0="start"), "Invalid x0"),
    (dict(optimizer=SGD([torch.zeros(2, requires_grad=True)], lr=0.1)), "Invalid optimizer"),
    (dict(optimizer=0.1), "Invalid optimizer"),
    (dict(optimizer=lambda p: p), "Invalid optimizer"),
    (dict(problem=lambda x: x), "Invalid problem"),
    (dict(dtype=torch.int64), "Invalid dtype"),
    (dict(device="no-such-device"), "Invalid device"),
    (dict(scheduler=3), "Invalid scheduler"),
    (dict(callback="print"), "Invalid callback"),
    (dict(stop_on_nonfinite=None), "Invalid stop_on_nonfinite"),
])
def test_bad_arguments_raise(kwargs, match):
    args = dict(problem=Rosenbrock(), optimizer=lambda p: SGD(p, lr=1e-3), x0=[0.0, 0.0], steps=5)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        run(args.pop("problem"), args.pop("optimizer"), args.pop("x0"), args.pop("steps"), **args)


def test_iterates_in_another_dtype_than_the_problem_raise():
    problem = Quadratic([1.0, 2.0], dtype=torch.float32)
    with pytest.raises(ValueError, match="Invalid x"):
        run(problem, lambda p: SGD(p, lr=0.1), [1.0, 1.0], 3)  # iterates in float64, problem in float32
