"""Example hidden tests of exercise set 1: the instructor kit (see exercises/README.md).

Real hidden tests stay outside the repository (``--hidden``); expected values are computed here.
"""

import itertools

import numpy as np

from course_lib.grade.testing import Code, assert_close, assert_number, fixed_rng, graded


def _reference_trajectory(A, x0, lr, steps):
    xs = [np.asarray(x0, dtype=float)]
    for _ in range(steps):
        xs.append(xs[-1] - lr * (A @ xs[-1]))
    return np.stack(xs)


@graded("q1_gradient_descent")
def step_in_five_dimensions(student):
    """gd_step on random vectors in five dimensions"""
    rng = fixed_rng(1)
    x, g = rng.normal(size=5), rng.normal(size=5)
    assert_close(student.gd_step(x, g, 0.37), x - 0.37 * g, "gd_step")


@graded("q1_gradient_descent")
def quadratic_trajectory(student):
    """gradient_descent on a three-dimensional quadratic, 20 steps"""
    rng = fixed_rng(2)
    M = rng.normal(size=(3, 3))
    A = M @ M.T + np.eye(3)
    x0 = rng.normal(size=3)
    lr = 1.0 / np.linalg.eigvalsh(A).max()
    path = student.gradient_descent(Code("lambda x: A @ x", A=A), x0, lr, 20)
    assert_close(path, _reference_trajectory(A, x0, lr, 20), "gradient_descent", rtol=1e-9)


@graded("q1_gradient_descent")
def zero_steps(student):
    """gradient_descent with steps = 0 returns x0 alone, shape (1, d)"""
    x0 = fixed_rng(3).normal(size=4)
    assert_close(student.gradient_descent(Code("lambda x: x"), x0, 0.1, 0), x0[None, :], "gradient_descent")


def _enumerated_variance(G, b):
    """E||g_B - g||^2 by averaging over every subset of size b."""
    full = G.mean(axis=0)
    subsets = list(itertools.combinations(range(len(G)), b))
    return np.mean([np.sum((G[list(s)].mean(axis=0) - full) ** 2) for s in subsets])


@graded("q2_minibatch_variance", points=2)
def every_batch_size(student):
    """matches exhaustive enumeration of minibatches for every batch size (N = 7, d = 3)"""
    G = fixed_rng(4).normal(size=(7, 3)) * np.array([1.0, 3.0, 0.5])
    for b in range(1, 8):
        assert_close(student.minibatch_gradient_variance(G, b), _enumerated_variance(G, b), "variance", rtol=1e-8)


_A = np.array([[3.0, 1.0], [1.0, 2.0]])  # the matrix of the notebook's question 3


@graded("q3_stable_lr", points=2)
def within_two_percent(student):
    """LARGEST_STABLE_LR is within 2% of the stability threshold"""
    lr = assert_number(student.LARGEST_STABLE_LR, "LARGEST_STABLE_LR")
    threshold = 2.0 / np.linalg.eigvalsh(_A).max()
    assert abs(lr - threshold) <= 0.02 * threshold


_ROSENBROCK = "lambda x: (1 - x[0])**2 + 100 * (x[1] - x[0]**2)**2"
_ROSENBROCK_GRAD = "lambda x: np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0]**2), 200 * (x[1] - x[0]**2)])"


def _reference_backtracking(f, grad, x, t0, beta, c):
    g = grad(x)
    t = t0
    while f(x - t * g) > f(x) - c * t * (g @ g):
        t *= beta
    return t


@graded("q4_backtracking", points=2)
def rosenbrock_points(student):
    """Rosenbrock at three points, with several t0, beta and c"""
    f, grad = Code(_ROSENBROCK).build(), Code(_ROSENBROCK_GRAD).build()
    for x, t0, beta, c in [((-1.2, 1.0), 1.0, 0.5, 1e-4), ((0.3, -0.4), 2.0, 0.3, 0.1), ((1.5, 2.0), 0.01, 0.8, 0.5)]:
        x = np.array(x)
        t = student.backtracking_step_size(Code(_ROSENBROCK), Code(_ROSENBROCK_GRAD), x, t0=t0, beta=beta, c=c)
        assert_close(t, _reference_backtracking(f, grad, x, t0, beta, c), "step size", rtol=1e-12)
