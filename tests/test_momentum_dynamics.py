r"""Tests of course_lib.momentum: each closed form against an independent computation (numpy
eigenvalues, iterating the recursion, running course_lib.optim.SGD, brute-force grids)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_lib.momentum import (classical_to_ema_lr, critical_momentum, ema_to_classical_lr,
                                 heavy_ball_iteration_matrix, heavy_ball_spectral_radius,
                                 optimal_gradient_descent, optimal_heavy_ball, spectral_radius_map)
from course_lib.optim import SGD
from course_lib.problems import Quadratic
from course_lib.runs import run


F64 = dict(dtype=torch.float64)


def _random_triples(n, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 3, n), rng.uniform(0, 1, n), rng.uniform(0, 2, n)


def test_iteration_matrix_entries_and_shape(device):
    M = heavy_ball_iteration_matrix(torch.tensor([0.1, 0.2], device=device), 0.5, torch.tensor([[1.0], [3.0]]),
                                    device=device)
    assert M.shape == (2, 2, 2, 2) and M.device.type == torch.device(device).type
    np.testing.assert_allclose(M[1, 0].cpu().numpy(), [[1 + 0.5 - 0.1 * 3, -0.5], [1, 0]])


def test_iteration_matrix_advances_the_recursion():
    """M applied to (e_t, e_{t-1}) gives the next heavy-ball error, iterated by hand."""
    alpha, beta, lam = 0.3, 0.7, 2.0
    M = heavy_ball_iteration_matrix(alpha, beta, lam).numpy()
    e_prev, e = 1.0, 0.4
    state = np.array([e, e_prev])
    for _ in range(20):
        e, e_prev = e - alpha * lam * e + beta * (e - e_prev), e
        state = M @ state
    np.testing.assert_allclose(state, [e, e_prev], rtol=1e-12)


def test_spectral_radius_matches_numpy_eigenvalues():
    a, b, lam = _random_triples(5000, 0)
    closed = heavy_ball_spectral_radius(torch.tensor(a), torch.tensor(b), torch.tensor(lam)).numpy()
    M = np.zeros((len(a), 2, 2))
    M[:, 0, 0], M[:, 0, 1], M[:, 1, 0] = 1 + b - a * lam, -b, 1.0     # built here, not by the library
    np.testing.assert_allclose(closed, np.abs(np.linalg.eigvals(M)).max(axis=1), rtol=1e-7, atol=1e-12)


def test_convergence_region_is_alpha_lambda_below_two_plus_two_beta():
    a, b, lam = _random_triples(20000, 1)
    h = a * lam
    rho = heavy_ball_spectral_radius(torch.tensor(a), torch.tensor(b), torch.tensor(lam)).numpy()
    clear = np.minimum(h, np.abs(2 + 2 * b - h)) > 1e-6
    np.testing.assert_array_equal((rho < 1)[clear], ((h > 0) & (h < 2 + 2 * b))[clear])
    beta = torch.tensor([0.0, 0.3, 0.9], **F64)
    edge = heavy_ball_spectral_radius(2 + 2 * beta, beta, 1.0)
    np.testing.assert_allclose(edge.numpy(), 1.0, rtol=1e-12)


@pytest.mark.parametrize("kappa", [4.0, 25.0, 100.0, 1000.0])
def test_optimal_parameters_give_the_predicted_rate_everywhere(kappa):
    mu, L = 1.0, kappa
    alpha, beta, rate = optimal_heavy_ball(mu, L)
    assert rate == pytest.approx((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1), rel=1e-14)
    assert beta == pytest.approx(rate ** 2, rel=1e-14)
    rho = heavy_ball_spectral_radius(alpha, beta, torch.linspace(mu, L, 1001, **F64))
    np.testing.assert_allclose(rho.numpy(), rate, rtol=1e-6)


@pytest.mark.parametrize("kappa", [10.0, 100.0])
def test_no_grid_point_beats_the_optimum(kappa):
    R = spectral_radius_map(torch.linspace(0.001, 4.0 / kappa, 400, **F64),
                            torch.linspace(0, 0.99, 300, **F64), torch.tensor([1.0, kappa], **F64))
    _, _, rate = optimal_heavy_ball(1.0, kappa)
    assert float(R.min()) >= rate - 1e-12
    assert float(R.min()) <= rate + 0.01
    # gradient descent: the row beta = 0
    assert float(R[0].min()) >= optimal_gradient_descent(1.0, kappa)[1] - 1e-12


def test_map_is_the_worst_case_over_the_whole_interval():
    """Max over [mu, L] equals max over the ends (the function's claim), checked on a dense grid."""
    alphas, betas = torch.linspace(0.01, 0.4, 40, **F64), torch.linspace(0, 0.99, 30, **F64)
    ends = spectral_radius_map(alphas, betas, torch.tensor([1.0, 10.0], **F64))
    dense = spectral_radius_map(alphas, betas, torch.linspace(1.0, 10.0, 500, **F64))
    torch.testing.assert_close(ends, dense, rtol=1e-12, atol=1e-12)
    assert ends.shape == (30, 40)


@pytest.mark.parametrize("kappa", [10.0, 100.0])
def test_measured_heavy_ball_rate_matches_theory(kappa, device):
    problem = Quadratic.with_condition_number(kappa, 10, seed=3, device=device)
    alpha, beta, rate = optimal_heavy_ball(problem.mu, problem.L)
    x0 = torch.randn(10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    err = run(problem, lambda p: SGD(p, lr=alpha, momentum=beta), x0, 400, device=device).xs.norm(dim=1)
    measured = float(err[-1] / err[200]) ** (1 / 200)
    assert rate <= measured <= rate * 1.02


def test_critical_momentum_makes_a_double_root():
    h = torch.linspace(0.01, 3.99, 200, **F64)
    beta = critical_momentum(h, 1.0)
    s = 1 + beta - h
    torch.testing.assert_close(s * s, 4 * beta, rtol=1e-10, atol=1e-12)
    rho = heavy_ball_spectral_radius(h, beta, 1.0)
    torch.testing.assert_close(rho, (1 - h.sqrt()).abs(), rtol=1e-7, atol=1e-7)
    # it is the best momentum for that alpha * lambda
    betas = torch.linspace(0, 0.999, 2000, **F64)
    for hv in [0.05, 0.5, 1.0, 2.5]:
        best = float(heavy_ball_spectral_radius(hv, betas, 1.0).min())
        assert best >= abs(1 - math.sqrt(hv)) - 1e-9


def test_ema_and_classical_forms_agree_exactly_with_the_converted_lr():
    problem = Quadratic.with_condition_number(10.0, 3, seed=1)
    lr, beta, steps = 0.05, 0.8, 30
    classical = run(problem, lambda p: SGD(p, lr=lr, momentum=beta), torch.ones(3, **F64), steps).xs
    lr_ema = classical_to_ema_lr(lr, beta)
    assert ema_to_classical_lr(lr_ema, beta) == pytest.approx(lr, rel=1e-15)
    x, v, xs = torch.ones(3, **F64), torch.zeros(3, **F64), [torch.ones(3, **F64)]
    for _ in range(steps):
        v = beta * v + (1 - beta) * problem.grad(x)
        x = x - lr_ema * v
        xs.append(x)
    torch.testing.assert_close(torch.stack(xs), classical, rtol=0, atol=1e-13)


def test_dtype_and_device_follow_the_arguments(device):
    r = heavy_ball_spectral_radius(torch.tensor([0.1], dtype=torch.float32, device=device), 0.5, 1.0)
    assert r.dtype == torch.float32 and r.device.type == torch.device(device).type
    r64 = heavy_ball_spectral_radius(0.1, 0.5, 1.0)
    assert r64.dtype == torch.float64 and r64.device.type == "cpu"
    r_cast = spectral_radius_map(torch.tensor([0.1], **F64), torch.tensor([0.5], **F64), 1.0,
                                 dtype=torch.float32, device=device)
    assert r_cast.dtype == torch.float32 and r_cast.shape == (1, 1)


@pytest.mark.parametrize("call", [
    lambda: heavy_ball_spectral_radius(-0.1, 0.5, 1.0),
    lambda: heavy_ball_spectral_radius(0.1, 1.5, 1.0),
    lambda: heavy_ball_spectral_radius(0.1, 0.5, -1.0),
    lambda: heavy_ball_spectral_radius(float("nan"), 0.5, 1.0),
    lambda: heavy_ball_spectral_radius("0.1", 0.5, 1.0),
    lambda: heavy_ball_iteration_matrix(0.1, -0.2, 1.0),
    lambda: heavy_ball_spectral_radius(0.1, 0.5, 1.0, dtype=torch.int64),
    lambda: spectral_radius_map(torch.ones(2, 2), torch.ones(2) * 0.5, 1.0),
    lambda: spectral_radius_map(torch.ones(0), 0.5, 1.0),
    lambda: optimal_heavy_ball(2.0, 1.0),
    lambda: optimal_heavy_ball(0.0, 1.0),
    lambda: optimal_gradient_descent(1.0, float("inf")),
    lambda: critical_momentum(2.0, 2.0),
    lambda: critical_momentum(0.0, 1.0),
    lambda: ema_to_classical_lr(0.1, 1.0),
    lambda: classical_to_ema_lr(-0.1, 0.5),
])
def test_invalid_arguments_raise_value_error(call):
    with pytest.raises(ValueError, match="Invalid"):
        call()
