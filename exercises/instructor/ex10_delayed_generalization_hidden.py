"""Example hidden tests of exercise set 10: the instructor kit (see exercises/README.md).

Real hidden tests stay outside the repository (``--hidden``); expected values are computed here.
"""

import functools

import numpy as np

from course_lib.grade.testing import assert_close, assert_number, fixed_rng, graded


@graded("q1_modular_split", points=2)
def prime_eleven(student):
    """p = 11, fraction 0.3: sizes, brute-force labels, the permutation the statement specifies"""
    xt, yt, xv, yv = student.modular_split(11, 0.3, 7)
    assert len(xt) == round(0.3 * 121) and len(xt) + len(xv) == 121
    pairs = [(a, b) for a in range(11) for b in range(11)]
    perm = np.random.default_rng(7).permutation(121)
    expected = [pairs[i] for i in perm[:len(xt)]]
    assert [tuple(r) for r in np.asarray(xt).tolist()] == expected, "training pairs in the wrong order"
    for (a, b), c in zip(np.concatenate([xt, xv]).tolist(), np.concatenate([yt, yv]).tolist()):
        assert c == (a - b) % 11


@graded("q1_modular_split")
def reproducible(student):
    """the same seed gives the same split, another seed another one"""
    a, b, c = (student.modular_split(13, 0.5, s) for s in (3, 3, 4))
    assert np.array_equal(a[0], b[0]) and not np.array_equal(a[0], c[0])


@graded("q2_group_dro_update", points=2)
def random_inputs(student):
    """matches a reference at 20 random (q, losses, eta)"""
    rng = fixed_rng(1)
    for _ in range(20):
        q = rng.dirichlet(np.ones(4))
        losses, eta = rng.uniform(0, 3, 4), rng.uniform(0, 2)
        w = q * np.exp(eta * losses)
        assert_close(student.group_dro_update(q, losses, eta), w / w.sum(), "group_dro_update", rtol=1e-9)


@graded("q2_group_dro_update")
def no_overflow(student):
    """eta * loss = 1000 gives finite weights [1, 0]"""
    new = np.asarray(student.group_dro_update(np.array([0.5, 0.5]), np.array([1000.0, 0.0]), 1.0), dtype=float)
    assert np.all(np.isfinite(new))
    assert_close(new, [1.0, 0.0], "group_dro_update", atol=1e-12)


@graded("q3_group_accuracy", points=2)
def random_groups(student):
    """random predictions with non-consecutive group labels and an absent group"""
    rng = fixed_rng(2)
    group = rng.choice([0, 2, 5], size=300, p=[0.7, 0.25, 0.05])
    y = rng.integers(0, 2, 300)
    pred = np.where(rng.random(300) < 0.8, y, 1 - y)
    correct = pred == y
    worst = min(correct[group == g].mean() for g in (0, 2, 5))
    avg, w = student.group_accuracy(pred, y, group)
    assert_close(avg, correct.mean(), "average", rtol=1e-12)
    assert_close(w, worst, "worst", rtol=1e-12)


@functools.lru_cache(maxsize=None)
def _reference_grok_step() -> int:
    """The first recorded step with validation accuracy >= 0.9 of the slider's run (computed once
    per grading run, not once per submission: it costs about 700 training steps)."""
    import torch

    from course_lib.generalization import (ModularMLP, first_step_reaching, modular_dataset,
                                           train_full_batch)
    from course_lib.optim import AdamW

    torch.set_num_threads(1)
    split = modular_dataset(53, train_fraction=0.5, seed=0)
    net = ModularMLP(53, embed_dim=32, hidden=64, seed=0)
    opt = AdamW(net.parameters(), lr=1e-2, weight_decay=1.0, betas=(0.9, 0.98))
    hist = train_full_batch(net, opt, split, steps=1000, eval_every=20, stop_at_val=0.99)
    return first_step_reaching(hist, "val_acc", 0.9)


@graded("q4_grok_step", points=2)
def grok_step(student):
    """GROK_STEP is within one recording (20 steps) of the first step with validation accuracy >= 0.9"""
    value = assert_number(student.GROK_STEP, "GROK_STEP")
    assert abs(value - _reference_grok_step()) <= 20
