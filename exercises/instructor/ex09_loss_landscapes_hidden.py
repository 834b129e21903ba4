"""Example hidden tests of exercise set 9: the instructor kit (see exercises/README.md).

Real hidden tests stay outside the repository (``--hidden``); expected values are computed here.
"""

import numpy as np

from course_lib.grade.testing import Code, assert_close, assert_number, fixed_rng, graded


@graded("q1_filter_normalize", points=2)
def random_layers(student):
    """a 3-layer parameter list: row norms match, directions keep their sign, inputs unchanged"""
    rng = fixed_rng(1)
    shapes = [(6, 3), (6,), (4, 6), (4,), (2, 4), (2,)]
    direction = [rng.normal(size=s) for s in shapes]
    params = [rng.normal(size=s) for s in shapes]
    saved = [d.copy() for d in direction]
    out = student.filter_normalize(direction, params)
    for d, p, o, keep in zip(direction, params, out, saved):
        o = np.asarray(o, dtype=float)
        assert_close(d, keep, "the input direction (must not change)", rtol=0, atol=0)
        if d.ndim == 1:
            assert_close(o, np.zeros_like(d), "a bias entry", atol=0)
        else:
            expected = d * (np.linalg.norm(p, axis=1) / np.linalg.norm(d, axis=1))[:, None]
            assert_close(o, expected, "a weight entry", rtol=1e-10)


@graded("q1_filter_normalize")
def conv_filters(student):
    """a 4-D convolution weight: a filter is everything under one output channel"""
    rng = fixed_rng(2)
    d, p = rng.normal(size=(3, 2, 2, 2)), rng.normal(size=(3, 2, 2, 2))
    out = np.asarray(student.filter_normalize([d], [p])[0], dtype=float)
    scale = np.linalg.norm(p.reshape(3, -1), axis=1) / np.linalg.norm(d.reshape(3, -1), axis=1)
    assert_close(out, d * scale[:, None, None, None], "a convolution weight", rtol=1e-10)


@graded("q2_power_iteration", points=2)
def symmetric_psd(student):
    """a random positive semi-definite matrix with a clear top eigenvalue"""
    rng = fixed_rng(3)
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    eig = np.array([0.0, 0.1, 0.5, 1.0, 2.0, 4.0])
    A = Q @ np.diag(eig) @ Q.T
    lam, v = student.power_iteration(Code("lambda v: A @ v", A=A), rng.normal(size=6), 200)
    v = np.asarray(v, dtype=float)
    assert_close(lam, 4.0, "eigenvalue", rtol=1e-8)
    assert_close(np.linalg.norm(v), 1.0, "||v||", rtol=1e-10)
    assert_close(abs(v @ Q[:, -1]), 1.0, "|<v, top eigenvector>|", rtol=1e-8)


@graded("q2_power_iteration")
def counts_steps(student):
    """steps = 1 does exactly one update before the Rayleigh quotient"""
    lam, v = student.power_iteration(Code("lambda v: np.array([1.0, 2.0]) * v"),
                                     np.array([1.0, 1.0]), 1)
    w = np.array([1.0, 2.0]) / np.sqrt(5.0)
    assert_close(np.asarray(v, dtype=float), w, "v after one step", rtol=1e-12)
    assert_close(lam, w @ (np.array([1.0, 2.0]) * w), "eigenvalue after one step", rtol=1e-12)


@graded("q2_power_iteration")
def negative_dominant_eigenvalue(student):
    """the eigenvalue is the Rayleigh quotient, with its sign, when the dominant one is negative"""
    lam, v = student.power_iteration(Code("lambda v: np.array([-3.0, 1.0]) * v"),
                                     np.array([1.0, 1.0]), 80)
    assert_close(lam, -3.0, "eigenvalue", rtol=1e-10)
    assert_close(abs(np.asarray(v, dtype=float)), [1.0, 0.0], "|v|", atol=1e-10)


@graded("q2_power_iteration")
def prediction(student):
    """PREDICTED_EIGENVALUE is the eigenvalue of largest modulus, -6"""
    assert abs(assert_number(student.PREDICTED_EIGENVALUE, "PREDICTED_EIGENVALUE") + 6.0) <= 1e-6


@graded("q3_barrier", points=2)
def random_quadratic_path(student):
    """path losses and barrier of a random quadratic with a hill between the ends"""
    rng = fixed_rng(4)
    a, b = rng.normal(size=5), rng.normal(size=5)
    M = rng.normal(size=(5, 5))
    A = -(M @ M.T)  # concave: the path rises above the chord
    ts = np.linspace(0, 1, 21) ** 2  # not equally spaced
    losses = np.asarray(student.path_losses(Code("lambda w: float(w @ A @ w)", A=A), a, b, ts),
                        dtype=float)
    expected = np.array([((1 - t) * a + t * b) @ A @ ((1 - t) * a + t * b) for t in ts])
    assert_close(losses, expected, "path_losses", rtol=1e-10)
    chord = (1 - ts) * expected[0] + ts * expected[-1]
    assert_close(student.barrier(ts, expected), float(np.max(expected - chord)), "barrier",
                 rtol=1e-10)


@graded("q3_barrier")
def convex_path_has_no_barrier(student):
    """a convex path lies below its chord: the barrier is 0 (reached at the ends)"""
    ts = np.linspace(0, 1, 11)
    assert_close(student.barrier(ts, ts ** 2), 0.0, "barrier", atol=1e-12)


@graded("q4_peak", points=2)
def within_tolerance(student):
    """T_PEAK is within 0.02 of the maximiser of the loss on the line"""
    t = assert_number(student.T_PEAK, "T_PEAK")
    a, b = np.array([-1.0, -0.3]), np.array([1.2, 0.8])
    ts = np.linspace(0, 1, 100001)
    w = (1 - ts)[:, None] * a + ts[:, None] * b
    losses = (w[:, 0] ** 2 - 1) ** 2 + 2 * (w[:, 1] - 0.5 * w[:, 0]) ** 2 - 0.3 * w[:, 0]
    assert abs(t - ts[np.argmax(losses)]) <= 0.02
