"""Public tests of exercise set 9 (loss landscapes): run by ``check`` in the notebook and by the
grader.

Expected values here are public: they may appear in the feedback. See course_lib.grade.testing.
"""

import numpy as np

from course_lib.grade.testing import Code, assert_close, assert_number, graded

QUESTIONS = {
    "q1_filter_normalize": "Filter normalization",
    "q2_power_iteration": "Sharpness by power iteration",
    "q3_barrier": "The barrier of a straight path",
    "q4_peak": "The top of the barrier",
}


@graded("q1_filter_normalize")
def rows_rescaled(student):
    """each row of a weight matrix gets the norm of the same row of the parameters"""
    out = student.filter_normalize([np.array([[3.0, 4.0], [0.0, 2.0]])],
                                   [np.array([[1.0, 0.0], [0.0, 5.0]])])
    # row norms of the direction: 5 and 2; of the parameters: 1 and 5
    assert_close(out[0], [[0.6, 0.8], [0.0, 5.0]],
                 "filter_normalize([[[3, 4], [0, 2]]], [[[1, 0], [0, 5]]])[0]")


@graded("q1_filter_normalize")
def biases_zero(student):
    """1-D arrays (biases) are set to zero"""
    out = student.filter_normalize([np.array([[1.0, 1.0]]), np.array([2.0, -1.0])],
                                   [np.array([[2.0, 0.0]]), np.array([1.0, 1.0])])
    assert_close(out[1], [0.0, 0.0], "the bias entry of filter_normalize(...)")


@graded("q2_power_iteration")
def diagonal_matrix(student):
    """on diag(1, 3) the Rayleigh quotient converges to 3"""
    lam, v = student.power_iteration(Code("lambda v: np.array([1.0, 3.0]) * v"),
                                     np.array([1.0, 1.0]), 60)
    assert_close(lam, 3.0, "eigenvalue of power_iteration(hvp=diag(1, 3), v0=[1, 1], steps=60)",
                 rtol=1e-8)
    assert_close(abs(np.asarray(v, dtype=float)), [0.0, 1.0], "|v| of the same call", atol=1e-8)


@graded("q2_power_iteration", points=0)
def prediction_recorded(student):
    """PREDICTED_EIGENVALUE is recorded as a number (its value is graded by hidden tests)"""
    assert_number(student.PREDICTED_EIGENVALUE, "PREDICTED_EIGENVALUE")


@graded("q3_barrier")
def path_of_a_parabola(student):
    """path_losses evaluates the loss on the straight line, from theta_a at t = 0"""
    out = student.path_losses(Code("lambda w: float(w @ w + w[0])"), np.array([1.0, 0.0]),
                              np.array([0.0, 1.0]), [0.0, 0.5, 1.0])
    # the points (1, 0), (0.5, 0.5), (0, 1)
    assert_close(out, [2.0, 1.0, 1.0], "path_losses(lambda w: w @ w + w[0], [1, 0], [0, 1], ts=[0, 0.5, 1])")


@graded("q3_barrier")
def barrier_of_a_bump(student):
    """the barrier is measured from the chord at each t, not from zero or from the mean of the ends"""
    value = student.barrier([0.0, 0.25, 1.0], [1.0, 3.0, 2.0])
    # the chord at t = 0.25 is 0.75 * 1 + 0.25 * 2 = 1.25
    assert_close(value, 1.75, "barrier(ts=[0, 0.25, 1], losses=[1, 3, 2])")


@graded("q4_peak", points=0)
def recorded(student):
    """T_PEAK is recorded as a number in [0, 1] (its value is graded by hidden tests)"""
    t = assert_number(student.T_PEAK, "T_PEAK")
    assert 0 <= t <= 1, f"T_PEAK should lie in [0, 1], got {t}"
