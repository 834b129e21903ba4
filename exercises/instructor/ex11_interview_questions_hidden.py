"""Example hidden tests of exercise set 11: the instructor kit (see exercises/README.md).

Real hidden tests stay outside the repository (``--hidden``); expected values are computed here.
"""

import math

import numpy as np

from course_lib.grade.testing import assert_close, assert_number, fixed_rng, graded


HEALTHY = {"layer1.weight": 0.8, "layer1.bias": 0.2, "layer2.weight": 1.5, "layer2.bias": 0.4}


@graded("q1_weight_decay", points=2)
def random_second_moments(student):
    """both modes match the closed forms on 20 random second moments, with eps"""
    rng = fixed_rng(1)
    v_hat = 10.0 ** rng.uniform(-8, 2, size=20)
    lr, lam, eps = 3e-4, 0.05, 1e-8
    assert_close(student.shrink_per_step(v_hat, lr, lam, eps, False), lr * lam / (np.sqrt(v_hat) + eps),
                 "L2 shrink", rtol=1e-9, atol=0)
    assert_close(student.shrink_per_step(v_hat, lr, lam, eps, True), np.full(20, lr * lam),
                 "decoupled shrink", rtol=1e-9, atol=0)


@graded("q1_weight_decay")
def keeps_the_shape(student):
    """the result has the shape of v_hat (a matrix)"""
    out = np.asarray(student.shrink_per_step(np.ones((3, 4)), 0.1, 0.1, 0.0, False))
    assert out.shape == (3, 4)
    assert_close(out, np.full((3, 4), 0.01), "shrink", rtol=1e-9)


@graded("q2_update_ratio", points=2)
def random_tensors(student):
    """matches a reference on random tensors of several shapes"""
    rng = fixed_rng(2)
    before = {"w": rng.normal(size=(5, 7)), "b": rng.normal(size=5), "k": rng.normal(size=(2, 3, 3))}
    after = {k: v + 10.0 ** rng.uniform(-4, 0) * rng.normal(size=v.shape) for k, v in before.items()}
    out = student.update_ratios(before, after)
    assert set(out) == set(before)
    for k in before:
        expected = np.linalg.norm(after[k] - before[k]) / np.linalg.norm(before[k])
        assert_close(out[k], expected, f"ratio of {k}", rtol=1e-9)


@graded("q3_diagnose", points=2)
def every_failure_in_order(student):
    """each check fails on its own, and the first failure wins"""
    C = 5
    ok = math.log(C)
    cases = [
        ((3 * ok, C, HEALTHY, 1e-3, 0.01), "initial_loss"),
        ((math.nan, C, HEALTHY, 1e-3, 0.01), "initial_loss"),
        ((ok, C, {**HEALTHY, "layer2.bias": 0.0}, 1e-3, 0.01), "gradients"),
        ((ok, C, {**HEALTHY, "layer1.weight": math.inf}, 1e-3, 0.01), "gradients"),
        ((ok, C, {**HEALTHY, "layer1.weight": math.nan}, 1e-3, 0.01), "gradients"),
        ((ok, C, HEALTHY, 0.9, 0.01), "update_ratio"),
        ((ok, C, HEALTHY, math.nan, 0.01), "update_ratio"),
        ((ok, C, HEALTHY, 1e-3, 0.6), "overfit"),
        ((ok, C, HEALTHY, 1e-3, math.inf), "overfit"),
        ((3 * ok, C, {**HEALTHY, "layer1.bias": None}, 5.0, 0.9), "initial_loss"),
        ((ok, C, {**HEALTHY, "layer1.bias": None}, 5.0, 0.9), "gradients"),
        ((ok, C, HEALTHY, 5.0, 0.9), "update_ratio"),
        ((1.1 * ok, C, HEALTHY, 0.05, 0.04), "ok"),
    ]
    for args, expected in cases:
        assert student.diagnose(*args) == expected


@graded("q4_lr_edge", points=2)
def within_tolerance(student):
    """LR_EDGE is within 0.01 of 2 / lambda_max(A)"""
    value = assert_number(student.LR_EDGE, "LR_EDGE")
    lam_max = np.linalg.eigvalsh(np.array([[6.0, 2.0], [2.0, 3.0]])).max()
    assert abs(value - 2.0 / lam_max) <= 0.01
