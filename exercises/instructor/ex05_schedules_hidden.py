"""Example hidden tests of exercise set 5: the instructor kit.

Real hidden tests live outside the repository and are passed with ``--hidden``; this file shows
the form and lets the test-suite check that the solutions score full marks. Expected values are
computed here, in the grader, from reference implementations (course_lib, PyTorch); the feedback
of a hidden test shows its name and pass/fail only.
"""

import numpy as np

from course_lib.grade.testing import assert_close, assert_number, fixed_rng, graded


@graded("q1_warmup_cosine", points=2)
def matches_course_lib(student):
    """matches course_lib.schedules.warmup_cosine over 300 steps for several settings"""
    from course_lib.schedules import warmup_cosine

    for peak, W, T, floor in [(0.1, 30, 250, 0.0), (3e-4, 0, 100, 1e-5), (1.0, 99, 100, 0.5)]:
        for step in range(300):
            expected = warmup_cosine(step, lr=peak, warmup_steps=W, total_steps=T, min_lr=floor)
            assert_close(student.warmup_cosine_lr(step, peak, W, T, floor), expected,
                         "warmup_cosine_lr", rtol=1e-9, atol=1e-15)


@graded("q2_clip_by_norm", points=2)
def matches_pytorch(student):
    """matches torch.nn.utils.clip_grad_norm_ on random gradients, and leaves the input alone"""
    import torch

    rng = fixed_rng(1)
    for scale in (0.01, 1.0, 100.0):
        g = scale * rng.normal(size=7)
        original = g.copy()
        clipped, norm = student.clip_by_norm(g, 1.5)
        p = torch.zeros(7, dtype=torch.float64, requires_grad=True)
        p.grad = torch.tensor(original)
        expected_norm = float(torch.nn.utils.clip_grad_norm_([p], 1.5))
        assert_close(norm, expected_norm, "norm_before", rtol=1e-9)
        assert_close(clipped, p.grad.numpy(), "clipped", rtol=1e-5, atol=1e-12)
        assert np.array_equal(g, original)


@graded("q2_clip_by_norm")
def zero_gradient(student):
    """a zero gradient comes back as zeros, without NaN"""
    clipped, norm = student.clip_by_norm(np.zeros(3), 1.0)
    assert_close(clipped, [0.0, 0.0, 0.0], "clipped")
    assert_close(norm, 0.0, "norm_before")


@graded("q3_accumulation", points=2)
def equals_full_batch(student):
    """equals the full-batch gradient for 4 and 8 micro-batches of random data"""
    rng = fixed_rng(2)
    X, y, w = rng.normal(size=(32, 6)), rng.normal(size=32), rng.normal(size=6)
    full = X.T @ (X @ w - y) / 32
    for k in (4, 8):
        assert_close(student.accumulated_gradient(X, y, w, k), full, "accumulated_gradient", rtol=1e-10, atol=1e-12)


@graded("q3_accumulation")
def ratio_predicted(student):
    """PREDICTED_RATIO is the number of micro-batches, within 1%"""
    value = assert_number(student.PREDICTED_RATIO, "PREDICTED_RATIO")
    assert abs(value - 4.0) <= 0.04


@graded("q4_stable_lr", points=2)
def within_tolerance(student):
    """LARGEST_STABLE_LR is within 0.02 of 2 / (largest eigenvalue)"""
    value = assert_number(student.LARGEST_STABLE_LR, "LARGEST_STABLE_LR")
    assert abs(value - 2.0 / 2.5) <= 0.02
