"""Public tests of exercise set 4 (adaptive methods): run by ``check`` in the notebook and by the grader.

Expected values here are public: they may appear in the feedback. See course_lib.grade.testing.
"""

import math

import numpy as np

from course_lib.grade.testing import assert_close, assert_number, graded

QUESTIONS = {
    "q1_adam_step": "A bias-corrected Adam step",
    "q2_adagrad": "AdaGrad's rates",
    "q3_weight_decay": "Adam + L2 against AdamW",
    "q4_beta2": "How fast does Adam's step recover?",
}


@graded("q1_adam_step")
def first_step_moves_by_lr(student):
    """the first step moves each coordinate by lr, whatever the gradient's size"""
    theta, m, v = student.adam_step(np.array([1.0, 1.0]), np.zeros(2), np.zeros(2), 1, np.array([1e-3, -50.0]),
                                    0.1, 0.9, 0.999, 1e-12)
    assert_close(m, [1e-4, -5.0], "new_m of adam_step(theta=[1, 1], m=0, v=0, t=1, grad=[1e-3, -50], lr=0.1, "
                 "beta1=0.9, beta2=0.999, eps=1e-12)")
    assert_close(v, [1e-9, 2.5], "new_v of the same call")
    assert_close(theta, [0.9, 1.1], "new_theta of the same call", rtol=1e-6)


@graded("q1_adam_step")
def second_step(student):
    """a second step uses the bias corrections 1 - beta^2"""
    theta, m, v = student.adam_step(np.array([0.0]), np.array([0.5]), np.array([0.5]), 2, np.array([1.0]),
                                    1.0, 0.5, 0.5, 0.0)
    # m = 0.75, v = 0.75; m_hat = 0.75 / 0.75 = 1, v_hat = 1: theta = -1
    assert_close(theta, [-1.0], "new_theta of adam_step(theta=[0], m=[0.5], v=[0.5], t=2, grad=[1], lr=1, "
                 "beta1=0.5, beta2=0.5, eps=0)")


@graded("q2_adagrad")
def constant_gradient(student):
    """with a constant gradient the rates are lr / (|g| sqrt(t))"""
    rates = student.adagrad_rates(np.full((4, 1), 2.0), 1.0, 0.0)
    assert_close(rates, [[0.5], [0.5 / math.sqrt(2)], [0.5 / math.sqrt(3)], [0.25]],
                 "adagrad_rates(grads=[[2], [2], [2], [2]], lr=1, eps=0)")


@graded("q2_adagrad")
def accumulates_per_coordinate(student):
    """each coordinate accumulates its own squared gradients"""
    rates = student.adagrad_rates(np.array([[3.0, 0.0], [4.0, 1.0]]), 1.0, 1e-10)
    assert_close(rates, [[1 / 3, 1e10], [0.2, 1.0]], "adagrad_rates(grads=[[3, 0], [4, 1]], lr=1, eps=1e-10)",
                 rtol=1e-6)


@graded("q3_weight_decay")
def decoupled_is_uniform(student):
    """AdamW shrinks every coordinate by lr * weight_decay"""
    got = student.decay_shrink(np.array([1e-4, 1.0, 1e4]), 1e-3, 0.1, 1e-8, True)
    assert_close(got, [1e-4, 1e-4, 1e-4], "decay_shrink(v_hat=[1e-4, 1, 1e4], lr=1e-3, weight_decay=0.1, "
                 "eps=1e-8, decoupled=True)")


@graded("q3_weight_decay")
def coupled_divides_by_sqrt_v(student):
    """Adam + L2 divides the shrink by sqrt(v_hat) + eps"""
    got = student.decay_shrink(np.array([1.0, 100.0]), 1e-2, 0.5, 0.0, False)
    assert_close(got, [5e-3, 5e-4], "decay_shrink(v_hat=[1, 100], lr=1e-2, weight_decay=0.5, eps=0, "
                 "decoupled=False)")


@graded("q3_weight_decay", points=0)
def prediction_recorded(student):
    """PREDICTED_RATIO is recorded as a number in (0, 1] (its value is graded by hidden tests)"""
    value = assert_number(student.PREDICTED_RATIO, "PREDICTED_RATIO")
    assert 0 < value <= 1, f"PREDICTED_RATIO should lie in (0, 1], got {value}"


@graded("q4_beta2", points=0)
def recorded(student):
    """BETA2_RECOVERS is recorded as a number in [0.8, 1) (its value is graded by hidden tests)"""
    value = assert_number(student.BETA2_RECOVERS, "BETA2_RECOVERS")
    assert 0.8 <= value < 1, f"BETA2_RECOVERS should lie in [0.8, 1), got {value}"
