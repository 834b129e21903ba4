"""Public tests of exercise set 1 (gradient descent): run by ``check`` in the notebook and by the grader.

Expected values here are public: they may appear in the feedback. See course_lib.grade.testing.
"""

import numpy as np

from course_lib.grade.testing import Code, assert_close, assert_number, graded

QUESTIONS = {
    "q1_gradient_descent": "Gradient descent",
    "q2_minibatch_variance": "How noisy is a minibatch gradient?",
    "q3_stable_lr": "The largest stable learning rate",
    "q4_backtracking": "Backtracking line search",
}


@graded("q1_gradient_descent")
def one_step(student):
    """gd_step takes one step against the gradient"""
    new = student.gd_step(np.array([1.0, 2.0]), np.array([0.5, -1.0]), 0.1)
    assert_close(new, [0.95, 2.1], "gd_step(x=[1, 2], grad=[0.5, -1], lr=0.1)")


@graded("q1_gradient_descent")
def short_trajectory(student):
    """gradient_descent returns all iterates, starting with x0"""
    path = student.gradient_descent(Code("lambda x: 2 * x"), np.array([1.0, -2.0]), 0.25, 3)
    expected = [[1.0, -2.0], [0.5, -1.0], [0.25, -0.5], [0.125, -0.25]]
    assert_close(path, expected, "gradient_descent(grad_fn=lambda x: 2 * x, x0=[1, -2], lr=0.25, steps=3)")


@graded("q2_minibatch_variance")
def small_example(student):
    """the variance for N = 4 one-dimensional gradients and b = 2"""
    value = student.minibatch_gradient_variance(np.array([[1.0], [2.0], [3.0], [4.0]]), 2)
    # sigma^2 = 1.25, so 1.25 / 2 * (4 - 2) / (4 - 1) = 5 / 12
    assert_close(value, 5 / 12, "minibatch_gradient_variance([[1], [2], [3], [4]], b=2)")


@graded("q2_minibatch_variance")
def full_batch(student):
    """a minibatch that is the whole training set has no noise"""
    grads = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0]])
    assert_close(student.minibatch_gradient_variance(grads, 3), 0.0,
                 "minibatch_gradient_variance(G of 3 rows, b=3)")


@graded("q3_stable_lr", points=0)
def recorded(student):
    """LARGEST_STABLE_LR is recorded as a positive number (its value is graded by hidden tests)"""
    lr = assert_number(student.LARGEST_STABLE_LR, "LARGEST_STABLE_LR")
    assert 0 < lr < 2, f"LARGEST_STABLE_LR should be between 0 and 2, got {lr}"


@graded("q4_backtracking")
def halves_until_armijo(student):
    """three halvings on f(x) = (x1^2 + 10 x2^2) / 2 from x = (1, 1)"""
    t = student.backtracking_step_size(Code("lambda x: 0.5 * (x[0]**2 + 10 * x[1]**2)"),
                                       Code("lambda x: np.array([x[0], 10 * x[1]])"), np.array([1.0, 1.0]))
    assert_close(t, 0.125, "backtracking_step_size on (x1^2 + 10 x2^2) / 2 from (1, 1)")


@graded("q4_backtracking")
def first_trial_accepted(student):
    """t0 is returned when it already satisfies the Armijo condition"""
    t = student.backtracking_step_size(Code("lambda x: 0.5 * float(x @ x)"), Code("lambda x: x"),
                                       np.array([1.0]), t0=0.5)
    assert_close(t, 0.5, "backtracking_step_size on x^2 / 2 from x = 1 with t0 = 0.5")
