"""Public tests of exercise set 3 (momentum): run by ``check`` in the notebook and by the grader.

Expected values here are public: they may appear in the feedback. See course_lib.grade.testing.
"""

import numpy as np

from course_lib.grade.testing import Code, assert_close, assert_number, graded

QUESTIONS = {
    "q1_heavy_ball": "Heavy ball, as PyTorch writes it",
    "q2_nesterov": "Nesterov's look-ahead step",
    "q3_spectral_radius": "The spectral radius of heavy ball",
    "q4_best_momentum": "The best momentum for a condition number",
}


@graded("q1_heavy_ball")
def first_step(student):
    """the first step starts the buffer at the gradient"""
    x, buf = student.heavy_ball_step(np.array([1.0, 2.0]), None, np.array([0.5, -1.0]), 0.1, 0.9)
    assert_close(x, [0.95, 2.1], "new_x of heavy_ball_step(x=[1, 2], buf=None, grad=[0.5, -1], lr=0.1, beta=0.9)")
    assert_close(buf, [0.5, -1.0], "new_buf of the same call")


@graded("q1_heavy_ball")
def later_step(student):
    """a later step multiplies the buffer by beta and adds the gradient"""
    x, buf = student.heavy_ball_step(np.array([1.0]), np.array([2.0]), np.array([1.0]), 0.1, 0.5)
    assert_close(buf, [2.0], "new_buf of heavy_ball_step(x=[1], buf=[2], grad=[1], lr=0.1, beta=0.5)")
    assert_close(x, [0.8], "new_x of the same call")


@graded("q1_heavy_ball")
def short_trajectory(student):
    """heavy_ball returns all iterates, starting with x0"""
    path = student.heavy_ball(Code("lambda x: 2 * x"), np.array([1.0]), 0.25, 0.5, 2)
    # buffers 2, then 0.5 * 2 + 1 = 2: iterates 1, 0.5, 0
    assert_close(path, [[1.0], [0.5], [0.0]], "heavy_ball(grad_fn=lambda x: 2 * x, x0=[1], lr=0.25, beta=0.5, steps=2)")


@graded("q2_nesterov")
def first_step_is_a_gradient_step(student):
    """with x_prev == x the step is a plain gradient step"""
    new = student.nesterov_step(np.array([1.0, 1.0]), np.array([1.0, 1.0]), Code("lambda y: 2 * y"), 0.1, 0.9)
    assert_close(new, [0.8, 0.8], "nesterov_step(x=[1, 1], x_prev=[1, 1], grad_fn=lambda y: 2 * y, lr=0.1, beta=0.9)")


@graded("q2_nesterov")
def gradient_at_the_look_ahead_point(student):
    """the gradient is taken at the look-ahead point"""
    new = student.nesterov_step(np.array([1.0]), np.array([2.0]), Code("lambda y: y"), 0.5, 0.5)
    # y = 1 + 0.5 * (1 - 2) = 0.5; new = 0.5 - 0.5 * 0.5 = 0.25
    assert_close(new, [0.25], "nesterov_step(x=[1], x_prev=[2], grad_fn=lambda y: y, lr=0.5, beta=0.5)")


@graded("q3_spectral_radius")
def no_momentum(student):
    """with beta = 0 the spectral radius is |1 - alpha * lambda|"""
    assert_close(student.spectral_radius(0.5, 0.0, 3.0), 0.5, "spectral_radius(alpha=0.5, beta=0, lam=3)")


@graded("q3_spectral_radius")
def complex_roots(student):
    """with complex eigenvalues the spectral radius is sqrt(beta)"""
    assert_close(student.spectral_radius(0.1, 0.64, 10.0), 0.8, "spectral_radius(alpha=0.1, beta=0.64, lam=10)")


@graded("q3_spectral_radius", points=0)
def prediction_recorded(student):
    """PREDICTED_THRESHOLD is recorded as a positive number (its value is graded by hidden tests)"""
    value = assert_number(student.PREDICTED_THRESHOLD, "PREDICTED_THRESHOLD")
    assert 0 < value < 10, f"PREDICTED_THRESHOLD should be between 0 and 10, got {value}"


@graded("q4_best_momentum", points=0)
def recorded(student):
    """BEST_MOMENTUM is recorded as a number in [0, 1) (its value is graded by hidden tests)"""
    beta = assert_number(student.BEST_MOMENTUM, "BEST_MOMENTUM")
    assert 0 <= beta < 1, f"BEST_MOMENTUM should lie in [0, 1), got {beta}"
