"""Public tests of exercise set 2 (convexity): run by ``check`` in the notebook and by the grader.

Expected values here are public: they may appear in the feedback. See course_lib.grade.testing.
"""

import numpy as np

from course_lib.grade.testing import Code, assert_close, assert_number, graded

QUESTIONS = {
    "q1_chord_test": "A chord test for convexity",
    "q2_classify": "Classify a critical point",
    "q3_mu_L": "The constants of a quadratic",
    "q4_slider": "How much penalty makes a robust loss convex?",
}


@graded("q1_chord_test")
def one_chord(student):
    """the gap of x^2 on the chord from 0 to 2 at theta = 0.5 is 1 - 2 = -1"""
    gap = student.max_chord_gap(Code("lambda p: float(p[0] ** 2)"), np.array([[0.0]]), np.array([[2.0]]),
                                np.array([0.5]))
    assert_close(gap, -1.0, "max_chord_gap(x^2, xs=[[0]], ys=[[2]], thetas=[0.5])")


@graded("q1_chord_test")
def concave_is_caught(student):
    """-x^2 - y^2 is not convex, x^2 + y^2 looks convex"""
    xs = np.array([[1.0, 0.0], [0.0, -2.0]])
    ys = np.array([[-1.0, 0.0], [1.0, 1.0]])
    thetas = np.array([0.25, 0.5])
    gap = student.max_chord_gap(Code("lambda p: -float(p @ p)"), xs, ys, thetas)
    assert_close(gap, 2.5, "max_chord_gap(-|p|^2, ...)")   # chord 2, theta 0.5: |x - y|^2 / 4 = 10/4
    assert student.looks_convex(Code("lambda p: -float(p @ p)"), xs, ys, thetas) is False, \
        "looks_convex(-|p|^2, ...) should be False"
    assert student.looks_convex(Code("lambda p: float(p @ p)"), xs, ys, thetas) is True, \
        "looks_convex(|p|^2, ...) should be True"


@graded("q2_classify")
def diagonal_cases(student):
    """diag(1, 2), diag(-1, -3), diag(2, -2) and the zero matrix"""
    for H, kind in [([[1.0, 0.0], [0.0, 2.0]], "minimum"), ([[-1.0, 0.0], [0.0, -3.0]], "maximum"),
                    ([[2.0, 0.0], [0.0, -2.0]], "saddle"), ([[0.0, 0.0], [0.0, 0.0]], "degenerate")]:
        got = student.classify_hessian(np.array(H))
        assert got == kind, f"classify_hessian({H}) returned {got!r}, expected {kind!r}"


@graded("q3_mu_L")
def diagonal_quadratic(student):
    """mu and L of diag(1, 4), without and with a penalty of 0.5"""
    assert_close(student.mu_and_L(np.diag([1.0, 4.0])), [1.0, 4.0], "mu_and_L(diag(1, 4))")
    assert_close(student.mu_and_L(np.diag([1.0, 4.0]), 0.5), [1.5, 4.5], "mu_and_L(diag(1, 4), l2=0.5)")


@graded("q4_slider", points=0)
def recorded(student):
    """SMALLEST_CONVEXIFYING_L2 is recorded as a number in [0, 1] (its value is graded by hidden tests)"""
    lam = assert_number(student.SMALLEST_CONVEXIFYING_L2, "SMALLEST_CONVEXIFYING_L2")
    assert 0 <= lam <= 1, f"SMALLEST_CONVEXIFYING_L2 should be between 0 and 1, got {lam}"
