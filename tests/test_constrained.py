"""course_lib.constrained: projections against their optimality conditions and an independent
solver (scipy), the methods against known solutions, and the validation."""

import math

import numpy as np
import pytest
import scipy.optimize
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from course_lib.constrained import (barrier_method, kkt_residuals, penalty_method, project_box,
                                    project_l1_ball, project_l2_ball, project_simplex,
                                    projected_gradient_descent, svm_dual_coordinate_ascent,
                                    svm_kkt_residuals)
from course_lib.devices import available_devices

DEVICES = available_devices()
F64 = torch.float64
vectors = arrays(np.float64, st.integers(1, 8), elements=st.floats(-10, 10, allow_nan=False))
radii = st.floats(0.1, 5.0)


def t(a):
    return torch.as_tensor(np.asarray(a, dtype=float), dtype=F64)


def simplex_by_bisection(v, s=1.0):
    """An independent algorithm: bisection on the threshold tau of sum(max(v - tau, 0)) = s."""
    lo, hi = v.min() - s, v.max()
    for _ in range(200):
        mid = (lo + hi) / 2
        if np.maximum(v - mid, 0).sum() > s:
            lo = mid
        else:
            hi = mid
    return np.maximum(v - (lo + hi) / 2, 0)


def random_feasible(project, n, rng, k=30):
    return [project(t(rng.normal(scale=5, size=n))) for _ in range(k)]


# --- properties of every projection ---------------------------------------------------------------

PROJECTIONS = {
    "box": lambda x: project_box(x, -1.0, 2.0),
    "l2 ball": lambda x: project_l2_ball(x, 1.5),
    "l2 ball, centred": lambda x: project_l2_ball(x, 1.0, center=torch.full_like(x, 0.5)),
    "simplex": lambda x: project_simplex(x),
    "simplex, total 3": lambda x: project_simplex(x, 3.0),
    "l1 ball": lambda x: project_l1_ball(x, 2.0),
}


@pytest.mark.parametrize("name", list(PROJECTIONS))
@settings(max_examples=60, deadline=None)
@given(v=vectors, seed=st.integers(0, 10_000))
def test_idempotent_and_variational_inequality(name, v, seed):
    project = PROJECTIONS[name]
    x = t(v)
    p = project(x)
    torch.testing.assert_close(project(p), p, rtol=0, atol=1e-9)
    rng = np.random.default_rng(seed)
    scale = 1 + float(np.abs(v).max())
    for y in random_feasible(project, len(v), rng):
        assert float((x - p) @ (y - p)) <= 1e-9 * scale ** 2
        # and so P(x) is at least as close to x as any feasible point
        assert float((x - p).norm()) <= float((x - y).norm()) + 1e-9


@pytest.mark.parametrize("name", list(PROJECTIONS))
def test_projection_agrees_with_scipy(name):
    """minimize ||z - v||^2 over the set with SLSQP, written from the set's definition."""
    rng = np.random.default_rng(7)
    n = 4
    cons = {
        "box": ([], [(-1.0, 2.0)] * n),
        "l2 ball": ([{"type": "ineq", "fun": lambda z: 1.5 ** 2 - z @ z}], None),
        "l2 ball, centred": ([{"type": "ineq", "fun": lambda z: 1.0 - (z - 0.5) @ (z - 0.5)}], None),
        "simplex": ([{"type": "eq", "fun": lambda z: z.sum() - 1}], [(0, None)] * n),
        "simplex, total 3": ([{"type": "eq", "fun": lambda z: z.sum() - 3}], [(0, None)] * n),
        # the l1 ball as the split z = p - q, p, q >= 0, sum(p + q) <= 2
        "l1 ball": None,
    }[name]
    for _ in range(10):
        v = rng.normal(scale=3, size=n)
        ours = PROJECTIONS[name](t(v)).numpy()
        if cons is None:
            res = scipy.optimize.minimize(
                lambda pq: ((pq[:n] - pq[n:] - v) ** 2).sum(), np.zeros(2 * n), method="SLSQP",
                bounds=[(0, None)] * (2 * n),
                constraints=[{"type": "ineq", "fun": lambda pq: 2.0 - pq.sum()}],
                options={"ftol": 1e-14, "maxiter": 500})
            ref = res.x[:n] - res.x[n:]
        else:
            res = scipy.optimize.minimize(lambda z: ((z - v) ** 2).sum(), np.zeros(n),
                                          method="SLSQP", constraints=cons[0], bounds=cons[1],
                                          options={"ftol": 1e-14, "maxiter": 500})
            ref = res.x
        np.testing.assert_allclose(ours, ref, atol=1e-5)


@settings(max_examples=100, deadline=None)
@given(v=vectors, s=radii)
def test_simplex_matches_bisection_and_is_feasible(v, s):
    p = project_simplex(t(v), s)
    assert float(p.min()) >= 0
    assert float(p.sum()) == pytest.approx(s, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(p.numpy(), simplex_by_bisection(v, s), atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(v=vectors, r=radii)
def test_balls_are_feasible_and_fix_interior_points(v, r):
    x = t(v)
    p2, p1 = project_l2_ball(x, r), project_l1_ball(x, r)
    assert float(p2.norm()) <= r * (1 + 1e-12)
    assert float(p1.abs().sum()) <= r * (1 + 1e-12)
    if float(x.norm()) <= r:
        torch.testing.assert_close(p2, x)
    if float(x.abs().sum()) <= r:
        torch.testing.assert_close(p1, x)


def test_known_values_and_batches():
    torch.testing.assert_close(project_simplex(t([0.5, 1.2, -0.3])), t([0.15, 0.85, 0.0]))
    torch.testing.assert_close(project_l2_ball(t([3.0, 4.0]), 1.0), t([0.6, 0.8]))
    torch.testing.assert_close(project_box(t([-3.0, 0.5, 7.0]), 0.0, 1.0), t([0.0, 0.5, 1.0]))
    torch.testing.assert_close(project_l1_ball(t([3.0, -1.0]), 1.0), t([1.0, 0.0]))
    batch = t(np.random.default_rng(0).normal(size=(5, 6)))
    rows = torch.stack([project_simplex(r) for r in batch])
    torch.testing.assert_close(project_simplex(batch), rows)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_and_device_are_kept(device, dtype):
    x = torch.tensor([0.3, -2.0, 1.5], dtype=dtype, device=device)
    for out in (project_box(x, 0.0, 1.0), project_l2_ball(x, 1.0), project_simplex(x),
                project_l1_ball(x, 1.0)):
        assert out.dtype == dtype and out.device.type == torch.device(device).type
    torch.testing.assert_close(project_simplex(x).cpu().double(), t([0.0, 0.0, 1.0]),
                               rtol=0, atol=1e-6)


# --- projected gradient descent, penalty, barrier ----------------------------------------------

def test_pgd_reaches_the_projection_of_the_unconstrained_minimizer():
    # f = |x - c|^2 / 2 over the simplex: the minimizer is P(c); lr = 1 lands there in one step.
    c = t([0.9, 0.6, -0.2, 0.1])
    xs = projected_gradient_descent(lambda x: x - c, project_simplex, torch.zeros(4, dtype=F64), 0.3, 80)
    assert xs.shape == (81, 4)
    torch.testing.assert_close(xs[0], project_simplex(torch.zeros(4, dtype=F64)))
    torch.testing.assert_close(xs[-1], project_simplex(c), rtol=0, atol=1e-10)


def _ball_problem():
    # min (x1 - 2)^2 + (x2 - 1)^2 s.t. |x|^2 <= 1: x* = c/|c|, lambda* = |c| - 1 (g = |x|^2 - 1).
    c = t([2.0, 1.0])
    f = lambda x: ((x - c) ** 2).sum()          # noqa: E731
    g = lambda x: (x @ x - 1).reshape(1)        # noqa: E731
    return c, f, g, c / c.norm(), float(c.norm()) - 1


def test_penalty_method_converges_with_order_one_over_rho():
    c, f, g, xstar, lamstar = _ball_problem()
    rhos = [1.0, 10.0, 100.0, 1000.0, 1e4]
    xs, lams, counts = penalty_method(f, g, torch.zeros(2, dtype=F64), rhos)
    errs = (xs - xstar).norm(dim=1)
    assert bool((errs[1:] < errs[:-1]).all())
    assert float(errs[-1]) < 1e-3 and float(errs[-1]) * 1e4 == pytest.approx(float(errs[-2]) * 1e3, rel=0.1)
    assert float(g(xs[-1])) > 0                       # infeasible, from outside
    assert float(lams[-1, 0]) == pytest.approx(lamstar, rel=1e-3)
    assert counts == sorted(counts)


def test_barrier_method_is_feasible_with_gap_m_over_t():
    c, f, g, xstar, lamstar = _ball_problem()
    ts = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5]
    xs, lams, _ = barrier_method(f, g, torch.zeros(2, dtype=F64), ts)
    fstar = float(f(xstar))
    for x, lam, tt in zip(xs, lams, ts):
        assert float(g(x)) < 0
        assert 0 <= float(f(x)) - fstar <= 1.0 / tt + 1e-12    # m = 1 constraint
        assert float(lam[0]) > 0
    assert float(lams[-1, 0]) == pytest.approx(lamstar, rel=1e-3)
    with pytest.raises(ValueError, match="x0"):
        barrier_method(f, g, t([1.0, 1.0]), ts)


def test_kkt_residuals_zero_at_the_solution_and_not_elsewhere():
    c, f, g, xstar, lamstar = _ball_problem()
    res = kkt_residuals(2 * (xstar - c), g(xstar), 2 * xstar[None, :], t([lamstar]))
    assert max(res.values()) < 1e-12
    wrong = kkt_residuals(2 * (xstar - c), g(xstar), 2 * xstar[None, :], t([-1.0]))
    assert wrong["dual_feasibility"] == pytest.approx(1.0)
    assert wrong["stationarity"] > 1
    inner = t([0.0, 0.5])
    res = kkt_residuals(2 * (inner - c), g(inner), 2 * inner[None, :], t([0.3]))
    assert res["complementary_slackness"] == pytest.approx(0.3 * 0.75)
    assert res["primal_feasibility"] == 0.0


# --- SVM ---------------------------------------------------------------------------------------

def _svm_data():
    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal([2, 2], 1.0, size=(15, 2)), rng.normal([-1, -1], 1.0, size=(15, 2))])
    X = np.hstack([X, np.ones((30, 1))])
    y = np.r_[np.ones(15), -np.ones(15)]
    return t(X), t(y)


def test_svm_dual_matches_scipy_primal_and_kkt():
    X, y = _svm_data()
    C = 1.0
    alpha, w = svm_dual_coordinate_ascent(X, y, C, epochs=300)
    # the primal by SLSQP over (w, xi)
    Xn, yn = X.numpy(), y.numpy()
    N, d = Xn.shape
    res = scipy.optimize.minimize(
        lambda z: 0.5 * z[:d] @ z[:d] + C * z[d:].sum(), np.zeros(d + N), method="SLSQP",
        constraints=[{"type": "ineq", "fun": lambda z: yn * (Xn @ z[:d]) - 1 + z[d:]}],
        bounds=[(None, None)] * d + [(0, None)] * N, options={"ftol": 1e-14, "maxiter": 1000})
    np.testing.assert_allclose(w.numpy(), res.x[:d], atol=1e-4)
    torch.testing.assert_close(w, (alpha * y) @ X)
    assert float(alpha.min()) >= 0 and float(alpha.max()) <= C
    res_kkt = svm_kkt_residuals(X, y, C, alpha)
    assert max(res_kkt.values()) < 1e-8
    # an arbitrary alpha violates complementary slackness
    assert svm_kkt_residuals(X, y, C, torch.full_like(alpha, 0.5))["complementary_slackness"] > 0.1


# --- validation ----------------------------------------------------------------------------------

@pytest.mark.parametrize("call, match", [
    (lambda: project_l2_ball(t([1.0]), -1.0), "radius"),
    (lambda: project_l2_ball(t([1.0]), math.inf), "radius"),
    (lambda: project_simplex(t([1.0]), 0.0), "total"),
    (lambda: project_l1_ball(t([1.0]), 0), "radius"),
    (lambda: project_box(t([1.0]), 2.0, 1.0), "lower"),
    (lambda: project_simplex([1.0, 2.0]), "x"),
    (lambda: project_simplex(t([1.0, math.nan])), "x"),
    (lambda: project_simplex(torch.tensor([1, 2])), "x"),
    (lambda: projected_gradient_descent(lambda x: x, project_simplex, t([1.0]), 0.0, 5), "lr"),
    (lambda: projected_gradient_descent(lambda x: x, project_simplex, t([1.0]), 0.1, -1), "steps"),
    (lambda: penalty_method(lambda x: x.sum(), lambda x: x, t([1.0]), [-1.0]), "rhos"),
    (lambda: barrier_method(lambda x: x.sum(), lambda x: x - 2, t([1.0]), [0.0]), "ts"),
    (lambda: svm_dual_coordinate_ascent(t([[1.0]]), t([2.0]), 1.0), "y"),
    (lambda: svm_dual_coordinate_ascent(t([[1.0]]), t([1.0]), 0.0), "C"),
    (lambda: svm_dual_coordinate_ascent(t([[1.0]]), t([1.0, -1.0]), 1.0), "X/y"),
    (lambda: kkt_residuals(t([1.0]), t([1.0]), t([1.0]), t([1.0])), "jac_g"),
])
def test_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()
