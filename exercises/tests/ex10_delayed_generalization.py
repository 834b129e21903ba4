"""Public tests of exercise set 10 (delayed generalization): run by ``check`` in the notebook and by
the grader.

Expected values here are public: they may appear in the feedback. See course_lib.grade.testing.
"""

import math

import numpy as np

from course_lib.grade.testing import assert_close, assert_number, graded

QUESTIONS = {
    "q1_modular_split": "The modular split",
    "q2_group_dro_update": "Group DRO's weights",
    "q3_group_accuracy": "Worst-group accuracy",
    "q4_grok_step": "When does the run generalize?",
}


@graded("q1_modular_split")
def sizes_and_shapes(student):
    """modular_split(5, 0.4, seed=0) has 10 training and 15 validation pairs of shape (n, 2)"""
    xt, yt, xv, yv = student.modular_split(5, 0.4, 0)
    assert np.shape(xt) == (10, 2) and np.shape(xv) == (15, 2), \
        f"expected shapes (10, 2) and (15, 2), got {np.shape(xt)} and {np.shape(xv)}"
    assert np.shape(yt) == (10,) and np.shape(yv) == (15,), "labels should have shapes (10,) and (15,)"


@graded("q1_modular_split")
def labels_and_partition(student):
    """for p = 5, every pair appears once and is labelled (a - b) mod 5"""
    xt, yt, xv, yv = student.modular_split(5, 0.4, 0)
    x, y = np.concatenate([xt, xv]), np.concatenate([yt, yv])
    assert sorted(map(tuple, x.tolist())) == [(a, b) for a in range(5) for b in range(5)], \
        "the training and validation pairs together should be all 25 pairs, each once"
    for (a, b), c in zip(x.tolist(), y.tolist()):
        assert c == (a - b) % 5, f"pair ({a}, {b}) has label {c}, expected {(a - b) % 5}"


@graded("q1_modular_split")
def order_of_the_split(student):
    """the pairs are listed row by row, then taken in the order of default_rng(seed).permutation(p * p)"""
    xt, yt, xv, yv = student.modular_split(5, 0.4, 0)
    perm = np.random.default_rng(0).permutation(25)
    expected = [[i // 5, i % 5] for i in perm[:10]]
    got = np.asarray(xt).tolist()
    assert got == expected, f"x_train of modular_split(5, 0.4, 0) should be {expected}, got {got}"


@graded("q2_group_dro_update")
def hand_computation(student):
    """group_dro_update([0.5, 0.5], [0, log 3], 1) == [0.25, 0.75]"""
    new = student.group_dro_update(np.array([0.5, 0.5]), np.array([0.0, math.log(3.0)]), 1.0)
    assert_close(new, [0.25, 0.75], "group_dro_update(q=[0.5, 0.5], losses=[0, log 3], eta=1)")


@graded("q2_group_dro_update")
def eta_zero(student):
    """with eta = 0 the weights do not change"""
    q = np.array([0.2, 0.3, 0.5])
    assert_close(student.group_dro_update(q, np.array([3.0, 1.0, 2.0]), 0.0), q,
                 "group_dro_update(q=[0.2, 0.3, 0.5], losses=[3, 1, 2], eta=0)")


@graded("q3_group_accuracy")
def small_example(student):
    """two groups of sizes 3 and 2: accuracies 1 and 0.5, average over all points 0.8"""
    avg, worst = student.group_accuracy(np.array([1, 0, 1, 1, 0]), np.array([1, 0, 1, 0, 0]),
                                        np.array([0, 0, 0, 1, 1]))
    assert_close(avg, 0.8, "average of group_accuracy(pred=[1, 0, 1, 1, 0], y=[1, 0, 1, 0, 0], "
                 "group=[0, 0, 0, 1, 1])")
    assert_close(worst, 0.5, "worst of the same call")


@graded("q4_grok_step", points=0)
def recorded(student):
    """GROK_STEP is recorded as a number between 0 and 1000 (its value is graded by hidden tests)"""
    value = assert_number(student.GROK_STEP, "GROK_STEP")
    assert 0 <= value <= 1000, f"GROK_STEP should lie in [0, 1000], got {value}"
