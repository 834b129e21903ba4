"""Public tests of exercise set 5 (schedules and training practice): run by ``check`` in the
notebook and by the grader.

Expected values here are public: they may appear in the feedback. See course_lib.grade.testing.
"""

import numpy as np

from course_lib.grade.testing import assert_close, assert_number, graded

QUESTIONS = {
    "q1_warmup_cosine": "Warm-up then cosine",
    "q2_clip_by_norm": "Clipping by norm",
    "q3_accumulation": "Gradient accumulation (predict, then verify)",
    "q4_stable_lr": "The largest stable learning rate",
}


@graded("q1_warmup_cosine")
def warmup_is_linear(student):
    """during the warm-up the rate grows linearly from 0"""
    assert_close(student.warmup_cosine_lr(0, 1.0, 4, 12), 0.0, "warmup_cosine_lr(step=0, peak_lr=1, warmup_steps=4, total_steps=12)")
    assert_close(student.warmup_cosine_lr(1, 1.0, 4, 12), 0.25, "warmup_cosine_lr(step=1, peak_lr=1, warmup_steps=4, total_steps=12)")


@graded("q1_warmup_cosine")
def cosine_after_warmup(student):
    """the peak is at step W and half-way through the cosine the rate is the midpoint"""
    assert_close(student.warmup_cosine_lr(4, 1.0, 4, 12), 1.0, "warmup_cosine_lr(step=4, peak_lr=1, warmup_steps=4, total_steps=12)")
    assert_close(student.warmup_cosine_lr(8, 1.0, 4, 12, 0.2), 0.6, "warmup_cosine_lr(step=8, peak_lr=1, warmup_steps=4, total_steps=12, min_lr=0.2)")


@graded("q1_warmup_cosine")
def stays_at_min_after_the_end(student):
    """after total_steps the rate stays at min_lr (it does not climb back)"""
    for step in (12, 18, 24):
        assert_close(student.warmup_cosine_lr(step, 1.0, 4, 12, 0.1), 0.1, f"warmup_cosine_lr(step={step}, peak_lr=1, warmup_steps=4, total_steps=12, min_lr=0.1)")


@graded("q2_clip_by_norm")
def long_gradient_is_shortened(student):
    """a gradient longer than max_norm is rescaled to norm max_norm"""
    clipped, norm = student.clip_by_norm(np.array([3.0, 4.0]), 1.0)
    assert_close(norm, 5.0, "norm_before of clip_by_norm([3, 4], max_norm=1)")
    assert_close(clipped, [0.6, 0.8], "clipped of clip_by_norm([3, 4], max_norm=1)")


@graded("q2_clip_by_norm")
def short_gradient_is_unchanged(student):
    """a gradient shorter than max_norm is returned unchanged"""
    clipped, norm = student.clip_by_norm(np.array([0.3, -0.4]), 1.0)
    assert_close(clipped, [0.3, -0.4], "clipped of clip_by_norm([0.3, -0.4], max_norm=1)")
    assert_close(norm, 0.5, "norm_before of the same call")


@graded("q3_accumulation")
def two_micro_batches(student):
    """two micro-batches of one sample give the full-batch gradient"""
    X = np.array([[1.0, 0.0], [0.0, 2.0]])
    y = np.array([1.0, 0.0])
    w = np.array([2.0, 1.0])
    # residuals (1, 2); full gradient X^T r / 2 = (0.5, 2)
    assert_close(student.accumulated_gradient(X, y, w, 2), [0.5, 2.0], "accumulated_gradient(X=[[1, 0], [0, 2]], y=[1, 0], w=[2, 1], num_micro=2)")


@graded("q3_accumulation", points=0)
def prediction_recorded(student):
    """PREDICTED_RATIO is recorded as a positive number (its value is graded by hidden tests)"""
    value = assert_number(student.PREDICTED_RATIO, "PREDICTED_RATIO")
    assert 0 < value < 100, f"PREDICTED_RATIO should be between 0 and 100, got {value}"


@graded("q4_stable_lr", points=0)
def recorded(student):
    """LARGEST_STABLE_LR is recorded as a positive number (its value is graded by hidden tests)"""
    value = assert_number(student.LARGEST_STABLE_LR, "LARGEST_STABLE_LR")
    assert 0 < value < 2, f"LARGEST_STABLE_LR should lie between 0 and 2, got {value}"
