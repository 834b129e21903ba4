"""Example hidden tests of exercise set 7: the instructor kit.

Real hidden tests live outside the repository and are passed with ``--hidden``; this file shows
the form and lets the test-suite check that the solutions score full marks. Expected values are
computed here, in the grader, by independent reference computations (explicit inverses, the
explicit BFGS matrix, the analytic Hessian, a scan of starting points).
"""

import math

import numpy as np

from course_lib.grade.testing import AsTensor, Code, assert_close, assert_number, fixed_rng, graded


def _spd(rng, n):
    M = rng.normal(size=(n, n))
    return M @ M.T + 0.5 * np.eye(n)


@graded("q1_newton_step", points=2)
def random_systems(student):
    """20 random symmetric systems against the explicit inverse; inputs unchanged"""
    rng = fixed_rng(1)
    for _ in range(20):
        n = int(rng.integers(1, 7))
        H, g, lam = _spd(rng, n) - rng.uniform(0, 0.4) * np.eye(n), rng.normal(size=n), rng.uniform(0, 3)
        H_copy = H.copy()
        expected = -np.linalg.inv(H + lam * np.eye(n)) @ g
        assert_close(student.newton_step(g, H, lam), expected, "newton_step", rtol=1e-8, atol=1e-10)
        assert np.array_equal(H, H_copy), "newton_step changed its input"


@graded("q2_backtracking", points=2)
def armijo_on_rosenbrock(student):
    """Rosenbrock from 10 random points along -grad: the first Armijo step of the sequence"""
    rng = fixed_rng(2)
    f_src = "lambda x: float((1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2)"
    f = eval(f_src)  # noqa: S307 - the test's own function

    def grad(x):
        return np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2), 200 * (x[1] - x[0] ** 2)])

    for _ in range(10):
        x = rng.uniform(-2, 2, size=2)
        g = grad(x)
        t, expected = 1.0, 0.0
        for _ in range(60):
            if f(x - t * g) <= f(x) - 1e-4 * t * float(g @ g):
                expected = t
                break
            t *= 0.5
        got = student.backtracking(Code(f_src), x, -g, g)
        assert_close(got, expected, "backtracking", rtol=1e-12, atol=0)


@graded("q3_two_loop", points=2)
def matches_explicit_bfgs_matrix(student):
    """random pairs with positive curvature: two_loop equals the explicit inverse-BFGS matrix times g"""
    rng = fixed_rng(3)
    for _ in range(10):
        n, m = int(rng.integers(2, 8)), int(rng.integers(1, 6))
        A = _spd(rng, n)
        s_list = [rng.normal(size=n) for _ in range(m)]
        y_list = [A @ s for s in s_list]
        g = rng.normal(size=n)
        gamma = (s_list[-1] @ y_list[-1]) / (y_list[-1] @ y_list[-1])
        H = gamma * np.eye(n)
        for s, y in zip(s_list, y_list):
            rho = 1.0 / (y @ s)
            V = np.eye(n) - rho * np.outer(y, s)
            H = V.T @ H @ V + rho * np.outer(s, s)
        assert_close(student.two_loop(g, s_list, y_list), H @ g, "two_loop", rtol=1e-8, atol=1e-10)


@graded("q4_hvp", points=2)
def nonquadratic(student):
    """f(x) = sum(sin(x) x^2) + x0 x1 x2 at random points, against the analytic Hessian"""
    rng = fixed_rng(4)
    for _ in range(5):
        x, v = rng.normal(size=3), rng.normal(size=3)
        # d2/dx2 of sin(x) x^2 = (2 - x^2) sin x + 4 x cos x; the product term adds off-diagonals
        H = np.diag((2 - x ** 2) * np.sin(x) + 4 * x * np.cos(x))
        H += np.array([[0, x[2], x[1]], [x[2], 0, x[0]], [x[1], x[0], 0]])
        got = student.hvp_double_backward(Code("lambda z: (z.sin() * z ** 2).sum() + z[0] * z[1] * z[2]"),
                                          AsTensor(x), AsTensor(v))
        assert_close(got, H @ v, "hvp_double_backward", rtol=1e-8, atol=1e-10)


@graded("q5_uphill", points=2)
def within_tolerance(student):
    """UPHILL_RIGHT_END is within 0.02 of the end of the basin of the maximum, found by a scan"""
    r = assert_number(student.UPHILL_RIGHT_END, "UPHILL_RIGHT_END")
    x_max = min(np.roots([4.0, 0.0, -8.0, 1.0]).real, key=abs)
    end = None
    for x0 in np.arange(0.126, 0.8165, 1e-4):
        x = x0
        for _ in range(60):
            x = x - (4 * x ** 3 - 8 * x + 1) / (12 * x ** 2 - 8)
        if not (math.isfinite(x) and abs(x - x_max) < 1e-8):
            end = x0
            break
    assert end is not None and abs(r - end) <= 0.02


@graded("q6_shampoo", points=2)
def rectangular_against_polar_and_eigh(student):
    """random rectangular gradients: the explicit eigh computation for several eps, and the polar
    factor U V^T of the SVD when eps is small"""
    rng = fixed_rng(6)

    def root(M):
        lam, U = np.linalg.eigh(M)
        return U @ np.diag(lam ** -0.25) @ U.T

    for _ in range(8):
        m, n = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        G, eps = rng.normal(size=(m, n)), float(rng.uniform(0.01, 2.0))
        expected = root(eps * np.eye(m) + G @ G.T) @ G @ root(eps * np.eye(n) + G.T @ G)
        assert_close(student.shampoo_direction(G, eps), expected, "shampoo_direction", rtol=1e-8, atol=1e-10)
    G = rng.normal(size=(4, 3))
    U, _, Vt = np.linalg.svd(G, full_matrices=False)
    # eps = 1e-8: the direction is U diag(s / sqrt(s^2 + eps)) V^T, within 1e-8 of U V^T, and L's
    # null direction (eigenvalue eps) is still well above rounding, whatever way the root is computed
    assert_close(student.shampoo_direction(G, 1e-8), U @ Vt, "shampoo_direction(G, 1e-8)", rtol=1e-5, atol=1e-6)
