"""Public tests of exercise set 11 (interview questions): run by ``check`` in the notebook and by
the grader.

Expected values here are public: they may appear in the feedback. See course_lib.grade.testing.
"""

import math

import numpy as np

from course_lib.grade.testing import assert_close, assert_number, graded

QUESTIONS = {
    "q1_weight_decay": "L2 regularization or weight decay in Adam?",
    "q2_update_ratio": "The update ratio",
    "q3_diagnose": "A debugging checklist as a function",
    "q4_lr_edge": "The stability edge of gradient descent",
}

HEALTHY = {"w1": 0.3, "b1": 0.1, "w2": 0.5}


@graded("q1_weight_decay")
def decoupled_is_uniform(student):
    """AdamW removes lr * weight_decay of every weight"""
    out = student.shrink_per_step(np.array([1e-6, 1.0]), 1e-3, 0.1, 1e-8, True)
    assert_close(out, [1e-4, 1e-4], "shrink_per_step(v_hat=[1e-6, 1], lr=1e-3, weight_decay=0.1, decoupled=True)")


@graded("q1_weight_decay")
def l2_depends_on_v_hat(student):
    """Adam + L2 removes lr * weight_decay / (sqrt(v_hat) + eps)"""
    out = student.shrink_per_step(np.array([0.01, 4.0]), 0.1, 0.5, 0.0, False)
    assert_close(out, [0.5, 0.025], "shrink_per_step(v_hat=[0.01, 4], lr=0.1, weight_decay=0.5, eps=0, decoupled=False)")


@graded("q2_update_ratio")
def simple_ratio(student):
    """the ratio of the norms of the step and of the parameter"""
    out = student.update_ratios({"w": np.array([3.0, 4.0])}, {"w": np.array([3.0, 4.5])})
    assert_close(out["w"], 0.1, "update_ratios({'w': [3, 4]}, {'w': [3, 4.5]})['w']")


@graded("q2_update_ratio")
def zero_parameter(student):
    """a zero parameter has ratio 0 if it stays, inf if it moves"""
    out = student.update_ratios({"a": np.zeros(2), "b": np.zeros(2)}, {"a": np.zeros(2), "b": np.ones(2)})
    assert out["a"] == 0.0, f"a parameter at 0 that did not move should have ratio 0.0, got {out['a']!r}"
    assert out["b"] == math.inf, f"a parameter at 0 that moved should have ratio inf, got {out['b']!r}"


@graded("q3_diagnose")
def healthy_run(student):
    """a healthy run is "ok" """
    got = student.diagnose(math.log(10), 10, HEALTHY, 1e-3, 0.01)
    assert got == "ok", f"diagnose(log(10), 10, healthy gradients, 1e-3, 0.01) should be 'ok', got {got!r}"


@graded("q3_diagnose")
def missing_gradient(student):
    """a parameter without a gradient fails "gradients" """
    got = student.diagnose(math.log(10), 10, {**HEALTHY, "w1": None}, 1e-3, 0.01)
    assert got == "gradients", f"a None gradient norm should give 'gradients', got {got!r}"


@graded("q3_diagnose")
def first_failure_wins(student):
    """with every check failing, the first one in the list is named"""
    got = student.diagnose(3 * math.log(10), 10, {**HEALTHY, "w1": None}, 5.0, 0.9)
    assert got == "initial_loss", f"diagnose(3 log(10), 10, a None gradient, 5.0, 0.9) should be 'initial_loss', got {got!r}"


@graded("q4_lr_edge", points=0)
def recorded(student):
    """LR_EDGE is recorded as a number in (0, 1) (its value is graded by hidden tests)"""
    value = assert_number(student.LR_EDGE, "LR_EDGE")
    assert 0 < value < 1, f"LR_EDGE should lie in (0, 1), got {value}"
