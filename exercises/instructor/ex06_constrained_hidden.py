"""Example hidden tests of exercise set 6: the instructor kit.

Real hidden tests live outside the repository and are passed with ``--hidden``; this file shows
the form and lets the test-suite check that the solutions score full marks. Expected values are
computed here, in the grader, by independent reference computations; the feedback of a hidden test
shows its name and pass/fail only.
"""

import math

import numpy as np

from course_lib.grade.testing import assert_close, assert_number, fixed_rng, graded


def _simplex_by_bisection(v):
    """Bisection on tau in sum(max(v - tau, 0)) = 1: independent of the sort-based algorithm."""
    lo, hi = v.min() - 1.0, v.max()
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.maximum(v - mid, 0).sum() > 1 else (lo, mid)
    return np.maximum(v - (lo + hi) / 2, 0)


@graded("q1_ball", points=2)
def random_points(student):
    """50 random points in 3-D, inside and outside, against the closed form; inputs unchanged"""
    rng = fixed_rng(1)
    for _ in range(50):
        v, c, r = rng.normal(scale=2, size=3), rng.normal(size=3), rng.uniform(0.2, 3)
        v_copy = v.copy()
        d = v - c
        expected = v if np.linalg.norm(d) <= r else c + r * d / np.linalg.norm(d)
        assert_close(student.project_ball(v, r, c), expected, "project_ball", rtol=1e-9, atol=1e-12)
        assert np.array_equal(v, v_copy), "project_ball changed its input"


@graded("q2_simplex", points=2)
def random_vectors(student):
    """100 random vectors of lengths 1 to 20 against a bisection reference"""
    rng = fixed_rng(2)
    for _ in range(100):
        v = rng.normal(scale=rng.uniform(0.1, 5), size=rng.integers(1, 21))
        p = np.asarray(student.project_simplex(v), dtype=float)
        assert_close(p, _simplex_by_bisection(v), "project_simplex", rtol=1e-7, atol=1e-9)


@graded("q2_simplex")
def ties_and_large_values(student):
    """ties and large entries"""
    assert_close(student.project_simplex(np.array([5.0, 5.0, 5.0, 5.0])), [0.25] * 4, "project_simplex")
    assert_close(student.project_simplex(np.array([100.0, -100.0])), [1.0, 0.0], "project_simplex")


@graded("q3_kkt", points=2)
def random_problems(student):
    """20 random points with 4 constraints in 3-D"""
    rng = fixed_rng(3)
    for _ in range(20):
        gf, g, J, lam = rng.normal(size=3), rng.normal(size=4), rng.normal(size=(4, 3)), rng.normal(size=4)
        res = student.kkt_residuals(gf, g, J, lam)
        expected = {
            "stationarity": math.sqrt(sum((gf[k] + sum(J[i, k] * lam[i] for i in range(4))) ** 2
                                          for k in range(3))),
            "primal_feasibility": max(0.0, *g),
            "dual_feasibility": max(0.0, *(-lam)),
            "complementary_slackness": max(abs(a * b) for a, b in zip(lam, g)),
        }
        for key, value in expected.items():
            assert_close(res[key], value, key, rtol=1e-9, atol=1e-12)


@graded("q4_predict", points=2)
def multipliers_predicted(student):
    """PREDICTED_MULTIPLIERS is (4, 0), within 1%"""
    l1, l2 = (assert_number(v, "PREDICTED_MULTIPLIERS") for v in student.PREDICTED_MULTIPLIERS)
    assert abs(l1 - 4.0) <= 0.04 and abs(l2) <= 0.04


@graded("q5_inactive_radius", points=2)
def within_tolerance(student):
    """INACTIVE_RADIUS is within 0.05 of |c| = sqrt(1.2^2 + 2.1^2)"""
    r = assert_number(student.INACTIVE_RADIUS, "INACTIVE_RADIUS")
    assert abs(r - math.hypot(1.2, 2.1)) <= 0.05
