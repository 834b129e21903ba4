"""Public tests of exercise set 6 (constrained optimization): run by ``check`` in the notebook and
by the grader.

Expected values here are public: they may appear in the feedback. See course_lib.grade.testing.
"""

import numpy as np

from course_lib.grade.testing import assert_close, assert_number, graded

QUESTIONS = {
    "q1_ball": "Projection onto a ball",
    "q2_simplex": "Projection onto the probability simplex",
    "q3_kkt": "KKT residuals",
    "q4_predict": "Which constraint is active?",
    "q5_inactive_radius": "When does a ball constraint stop mattering?",
}

KEYS = ("stationarity", "primal_feasibility", "dual_feasibility", "complementary_slackness")


@graded("q1_ball")
def outside_point(student):
    """a point outside the ball is moved along the ray to the centre"""
    p = student.project_ball(np.array([3.0, 4.0]), 1.0, np.array([0.0, 0.0]))
    assert_close(p, [0.6, 0.8], "project_ball(v=[3, 4], radius=1, center=[0, 0])")


@graded("q1_ball")
def inside_point(student):
    """a point inside the ball is its own projection"""
    p = student.project_ball(np.array([1.2, 0.9]), 1.0, np.array([1.0, 1.0]))
    assert_close(p, [1.2, 0.9], "project_ball(v=[1.2, 0.9], radius=1, center=[1, 1])")


@graded("q2_simplex")
def small_example(student):
    """a small example, with one entry set to zero"""
    p = student.project_simplex(np.array([0.5, 1.2, -0.3]))
    assert_close(p, [0.15, 0.85, 0.0], "project_simplex([0.5, 1.2, -0.3])")


@graded("q2_simplex")
def already_in_the_simplex(student):
    """a point of the simplex is its own projection"""
    p = student.project_simplex(np.array([0.2, 0.3, 0.5]))
    assert_close(p, [0.2, 0.3, 0.5], "project_simplex([0.2, 0.3, 0.5])")


@graded("q3_kkt")
def one_constraint(student):
    """one constraint: every residual on a small example"""
    res = student.kkt_residuals(np.array([1.0, 2.0]), np.array([-0.5]), np.array([[1.0, 0.0]]),
                                np.array([-2.0]))
    assert isinstance(res, dict), f"kkt_residuals should return a dict, got {type(res).__name__}"
    # stationarity |(1, 2) - 2 (1, 0)| = |(-1, 2)| = sqrt(5)
    for key, expected in zip(KEYS, (5 ** 0.5, 0.0, 2.0, 1.0)):
        assert key in res, f"the dict has no key {key!r}"
        assert_close(res[key], expected, f"{key} of kkt_residuals(grad_f=[1, 2], g=[-0.5], jac_g=[[1, 0]], lam=[-2])")


@graded("q4_predict", points=0)
def prediction_recorded(student):
    """PREDICTED_MULTIPLIERS is a pair of numbers (the values are graded by hidden tests)"""
    value = student.PREDICTED_MULTIPLIERS
    assert len(value) == 2, f"PREDICTED_MULTIPLIERS should be a pair, got {value!r}"
    for i, v in enumerate(value):
        assert_number(v, f"PREDICTED_MULTIPLIERS[{i}]")


@graded("q5_inactive_radius", points=0)
def recorded(student):
    """INACTIVE_RADIUS is recorded as a number in [0.5, 3] (its value is graded by hidden tests)"""
    r = assert_number(student.INACTIVE_RADIUS, "INACTIVE_RADIUS")
    assert 0.5 <= r <= 3, f"INACTIVE_RADIUS should lie in [0.5, 3], got {r}"
