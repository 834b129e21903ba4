"""Example hidden tests of exercise set 3: the instructor kit (see exercises/README.md).

Real hidden tests stay outside the repository (``--hidden``); expected values are computed here.
"""

import math

import numpy as np

from course_lib.grade.testing import Code, assert_close, assert_number, fixed_rng, graded


def _reference_heavy_ball(A, x0, lr, beta, steps):
    """Polyak's form x+ = x - lr A x + beta (x - x_prev), x_{-1} = x_0: equal to PyTorch's."""
    xs = [np.asarray(x0, dtype=float)]
    prev = xs[0]
    for _ in range(steps):
        x = xs[-1]
        xs.append(x - lr * (A @ x) + beta * (x - prev))
        prev = x
    return np.stack(xs)


@graded("q1_heavy_ball")
def step_does_not_modify_inputs(student):
    """heavy_ball_step leaves its input arrays unchanged"""
    rng = fixed_rng(1)
    x, buf, g = rng.normal(size=4), rng.normal(size=4), rng.normal(size=4)
    new_x, new_buf = student.heavy_ball_step(x, buf, g, 0.3, 0.7)
    assert_close(new_buf, 0.7 * buf + g, "new_buf", rtol=1e-12)
    assert_close(new_x, x - 0.3 * (0.7 * buf + g), "new_x", rtol=1e-12)


@graded("q1_heavy_ball", points=2)
def quadratic_trajectory(student):
    """heavy_ball on a four-dimensional quadratic matches Polyak's form for 40 steps"""
    rng = fixed_rng(2)
    M = rng.normal(size=(4, 4))
    A = M @ M.T + np.eye(4)
    x0 = rng.normal(size=4)
    lr = 1.0 / np.linalg.eigvalsh(A).max()
    path = student.heavy_ball(Code("lambda x: A @ x", A=A), x0, lr, 0.8, 40)
    assert_close(path, _reference_heavy_ball(A, x0, lr, 0.8, 40), "heavy_ball", rtol=1e-9, atol=1e-12)


@graded("q2_nesterov", points=2)
def look_ahead_trajectory(student):
    """30 Nesterov steps on a quadratic match a reference loop"""
    rng = fixed_rng(3)
    M = rng.normal(size=(3, 3))
    A = M @ M.T + 0.1 * np.eye(3)
    lr, beta = 1.0 / np.linalg.eigvalsh(A).max(), 0.85
    x_prev = x = rng.normal(size=3)
    ref_prev = ref = x.copy()
    for _ in range(30):
        x_prev, x = x, np.asarray(student.nesterov_step(x, x_prev, Code("lambda y: A @ y", A=A), lr, beta))
        y = ref + beta * (ref - ref_prev)
        ref_prev, ref = ref, y - lr * (A @ y)
    assert_close(x, ref, "x after 30 steps", rtol=1e-9, atol=1e-12)


@graded("q3_spectral_radius", points=2)
def random_parameters(student):
    """matches numpy's eigenvalues at 50 random (alpha, beta, lambda), real and complex roots"""
    rng = fixed_rng(4)
    for alpha, beta, lam in zip(rng.uniform(0, 3, 50), rng.uniform(0, 1, 50), rng.uniform(0, 2, 50)):
        M = np.array([[1 + beta - alpha * lam, -beta], [1.0, 0.0]])
        expected = np.abs(np.linalg.eigvals(M)).max()
        assert_close(student.spectral_radius(alpha, beta, lam), expected, "spectral_radius", rtol=1e-7)


@graded("q3_spectral_radius")
def threshold_predicted(student):
    """PREDICTED_THRESHOLD is 2 + 2 beta for beta = 0.5, within 1%"""
    value = assert_number(student.PREDICTED_THRESHOLD, "PREDICTED_THRESHOLD")
    assert abs(value - 3.0) <= 0.03


@graded("q4_best_momentum", points=2)
def within_tolerance(student):
    """BEST_MOMENTUM is within 0.02 of ((sqrt(kappa) - 1)/(sqrt(kappa) + 1))^2 for kappa = 50"""
    beta = assert_number(student.BEST_MOMENTUM, "BEST_MOMENTUM")
    s = math.sqrt(50.0)
    assert abs(beta - ((s - 1) / (s + 1)) ** 2) <= 0.02
