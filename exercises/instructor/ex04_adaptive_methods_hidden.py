"""Example hidden tests of exercise set 4: the instructor kit (see exercises/README.md).

Real hidden tests stay outside the repository (``--hidden``); expected values are computed here.
"""

import numpy as np

from course_lib.grade.testing import assert_close, assert_number, fixed_rng, graded


def _reference_adam(grads, theta0, lr, b1, b2, eps):
    theta, m, v = np.array(theta0, dtype=float), np.zeros_like(theta0), np.zeros_like(theta0)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        theta = theta - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return theta, m, v


@graded("q1_adam_step", points=2)
def thirty_steps(student):
    """30 steps with random gradients of very different scales match a reference Adam"""
    rng = fixed_rng(1)
    grads = rng.normal(size=(30, 5)) * np.logspace(-3, 3, 5)
    theta0 = rng.normal(size=5)
    theta, m, v = theta0.copy(), np.zeros(5), np.zeros(5)
    for t, g in enumerate(grads, start=1):
        theta, m, v = (np.asarray(a, dtype=float) for a in
                       student.adam_step(theta, m, v, t, g, 0.01, 0.8, 0.99, 1e-8))
    ref_theta, ref_m, ref_v = _reference_adam(grads, theta0, 0.01, 0.8, 0.99, 1e-8)
    assert_close(theta, ref_theta, "theta after 30 steps", rtol=1e-9, atol=1e-12)
    assert_close(m, ref_m, "m after 30 steps", rtol=1e-9, atol=1e-12)
    assert_close(v, ref_v, "v after 30 steps", rtol=1e-9, atol=1e-15)


@graded("q1_adam_step")
def inputs_unchanged(student):
    """adam_step leaves its input arrays unchanged"""
    theta, m, v, g = np.ones(3), np.full(3, 0.2), np.full(3, 0.3), np.array([1.0, -2.0, 3.0])
    copies = [a.copy() for a in (theta, m, v, g)]
    student.adam_step(theta, m, v, 3, g, 0.1, 0.9, 0.999, 1e-8)
    for a, c in zip((theta, m, v, g), copies):
        assert np.array_equal(a, c)


@graded("q2_adagrad", points=2)
def random_gradients(student):
    """matches the cumulative-sum formula on 50 random gradients in 4 coordinates"""
    grads = fixed_rng(2).normal(size=(50, 4)) * np.array([1e-3, 1.0, 10.0, 0.0])
    expected = 0.3 / (np.sqrt(np.cumsum(grads**2, axis=0)) + 1e-10)
    assert_close(student.adagrad_rates(grads, 0.3, 1e-10), expected, "adagrad_rates", rtol=1e-9)


@graded("q3_weight_decay")
def ratio_predicted(student):
    """PREDICTED_RATIO is 1/20 within 2%"""
    value = assert_number(student.PREDICTED_RATIO, "PREDICTED_RATIO")
    assert abs(value - 0.05) <= 0.001


@graded("q3_weight_decay", points=2)
def random_second_moments(student):
    """both forms match the formulas at random v_hat, including eps"""
    v_hat = fixed_rng(3).uniform(0, 5, size=(3, 4)) ** 4
    got_l2 = student.decay_shrink(v_hat, 3e-3, 0.2, 1e-3, False)
    got_w = student.decay_shrink(v_hat, 3e-3, 0.2, 1e-3, True)
    assert_close(got_l2, 3e-3 * 0.2 / (np.sqrt(v_hat) + 1e-3), "Adam + L2", rtol=1e-9)
    assert_close(got_w, np.full((3, 4), 6e-4), "AdamW", rtol=1e-9)


def _step_at_300(beta2):
    v = 0.0
    for t in range(1, 301):
        g = 1.0 if t <= 200 else 0.01
        v = beta2 * v + (1 - beta2) * g * g
    return 0.01 / np.sqrt(v / (1 - beta2**300))


@graded("q4_beta2", points=2)
def within_tolerance(student):
    """BETA2_RECOVERS is within 0.01 of the largest beta2 whose step is >= lr/2 at t = 300"""
    value = assert_number(student.BETA2_RECOVERS, "BETA2_RECOVERS")
    lo, hi = 0.5, 0.9999
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _step_at_300(mid) >= 0.5 else (lo, mid)
    assert abs(value - lo) <= 0.01
