"""Example hidden tests of exercise set 2: the instructor kit (see exercises/README.md).

Real hidden tests stay outside the repository (``--hidden``); expected values are computed here.
"""

import numpy as np

from course_lib.grade.testing import Code, assert_close, assert_number, fixed_rng, graded


def _reference_gap(f, xs, ys, thetas):
    return max(f(t * x + (1 - t) * y) - t * f(x) - (1 - t) * f(y) for x, y in zip(xs, ys) for t in thetas)


_SIN = "lambda p: float(np.sin(p[0]) + 0.1 * p[1] ** 2)"


@graded("q1_chord_test", points=2)
def random_chords(student):
    """random chords of a non-convex and a convex function in two dimensions"""
    rng = fixed_rng(1)
    xs, ys = 2 * rng.normal(size=(40, 2)), 2 * rng.normal(size=(40, 2))
    thetas = rng.uniform(size=5)
    f = Code(_SIN).build()
    assert_close(student.max_chord_gap(Code(_SIN), xs, ys, thetas), _reference_gap(f, xs, ys, thetas),
                 "gap", rtol=1e-9)
    assert student.looks_convex(Code(_SIN), xs, ys, thetas) is False
    assert student.looks_convex(Code("lambda p: float(np.logaddexp(0, p[0] - 2 * p[1]))"), xs, ys, thetas) is True


@graded("q1_chord_test")
def tolerance_is_used(student):
    """looks_convex compares the largest gap with tol"""
    xs, ys, thetas = np.array([[0.0]]), np.array([[2.0]]), np.array([0.5])
    f = Code("lambda p: float(-p[0] ** 2)")             # gap +1 on this chord
    assert student.looks_convex(f, xs, ys, thetas, tol=2.0) is True
    assert student.looks_convex(f, xs, ys, thetas, tol=0.5) is False


def _rotated(eigs, seed):
    q, _ = np.linalg.qr(fixed_rng(seed).normal(size=(len(eigs), len(eigs))))
    H = q @ np.diag(eigs) @ q.T
    return (H + H.T) / 2


@graded("q2_classify", points=2)
def rotated_matrices(student):
    """rotated diagonal matrices in 3 and 4 dimensions, including degenerate ones"""
    cases = [([1.0, 2.0, 5.0], "minimum"), ([-1.0, -0.5, -2.0], "maximum"), ([3.0, -1e-3, 1.0], "saddle"),
             ([0.0, 1.0, 2.0], "degenerate"), ([0.0, -1.0, -2.0, -3.0], "degenerate"),
             ([0.0, -1.0, 1.0, 2.0], "saddle")]
    for k, (eigs, kind) in enumerate(cases):
        assert student.classify_hessian(_rotated(eigs, 10 + k)) == kind


@graded("q2_classify")
def himmelblau_points(student):
    """Himmelblau's maximum and one of its saddles"""
    def hess(x, y):
        return np.array([[12 * x**2 + 4 * y - 42, 4 * (x + y)], [4 * (x + y), 12 * y**2 + 4 * x - 26]])
    assert student.classify_hessian(hess(-0.270845, -0.923039)) == "maximum"
    assert student.classify_hessian(hess(3.385154, 0.073852)) == "saddle"


@graded("q3_mu_L", points=2)
def random_symmetric(student):
    """mu and L of random symmetric matrices, with and without a penalty"""
    rng = fixed_rng(3)
    for n, l2 in [(3, 0.0), (5, 0.3), (2, 2.0)]:
        M = rng.normal(size=(n, n))
        A = M @ M.T + 0.1 * np.eye(n)
        eig = np.linalg.eigvalsh(A)
        assert_close(student.mu_and_L(A, l2), [eig[0] + l2, eig[-1] + l2], "mu_and_L", rtol=1e-9)


def _smallest_convexifying_l2():
    r = np.linspace(-10, 10, 200_001)
    return -np.min(2 * (1 - r**2) / (1 + r**2) ** 2)    # -min of the loss's second derivative


@graded("q4_slider", points=2)
def within_four_percent(student):
    """SMALLEST_CONVEXIFYING_L2 is within 4% of the true threshold"""
    lam = assert_number(student.SMALLEST_CONVEXIFYING_L2, "SMALLEST_CONVEXIFYING_L2")
    truth = _smallest_convexifying_l2()
    assert abs(lam - truth) <= 0.04 * truth
