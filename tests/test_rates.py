r"""Analytic convergence rates on quadratics, which any correct gradient descent and heavy-ball
implementation attains: ``course_lib.optim.SGD`` driven through ``run``.

The problems have eigenvalues evenly spaced in :math:`[\mu, L]`, both ends included, in a random
orthonormal basis, and :math:`b = 0`, so :math:`x^\star = 0` and the error
:math:`e_t = x_t - x^\star` is the iterate itself: floating point keeps its relative accuracy at
any scale, so errors can be followed down to 1e-140 here, where with :math:`x^\star \ne 0` they
would drown in the rounding of :math:`x_t` below about :math:`10^{-16}\lVert x^\star\rVert`.
The eigenvectors used to build starting points come from numpy, not from the problem.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_lib.optim import SGD
from course_lib.problems import Quadratic
from course_lib.runs import run

KAPPAS = [10.0, 100.0, 1000.0]
DIM = 10
MU = 0.5


def _problem(kappa, device):
    return Quadratic.with_condition_number(kappa, DIM, mu=MU, seed=int(kappa), device=device)


def _eigh(problem):
    return np.linalg.eigh(problem.A.cpu().numpy())


def _errors(traj):
    return np.linalg.norm(traj.xs.numpy(), axis=1)


@pytest.mark.parametrize("kappa", KAPPAS)
def test_gradient_descent_contracts_at_exactly_the_worst_case_rate(kappa, device):
    r"""With step :math:`2/(L+\mu)`, each eigencomponent of the error is multiplied per step by
    :math:`1 - 2\lambda/(L+\mu)`, of modulus :math:`\rho = (\kappa-1)/(\kappa+1)` at both
    :math:`\lambda = \mu` and :math:`\lambda = L` and smaller inside. Once the interior
    components have died out, :math:`\lVert e_{t+1}\rVert / \lVert e_t\rVert = \rho` exactly;
    and no step ever contracts by less (:math:`\rho` is the operator norm of the iteration)."""
    problem = _problem(kappa, device)
    L = MU * kappa
    lr, rho = 2 / (L + MU), (kappa - 1) / (kappa + 1)
    lam, V = _eigh(problem)
    x0 = V @ np.linspace(1.0, 2.0, DIM)  # components along every eigenvector, both extremes included
    # Interior components shrink relative to the extreme ones by q per step: run until q^T < 1e-9.
    q = np.abs(1 - lr * lam[1:-1]).max() / rho
    steps = math.ceil(math.log(1e-9) / math.log(q)) + 10
    traj = run(problem, lambda p: SGD(p, lr=lr), torch.tensor(x0), steps, device=device)
    ratios = _errors(traj)[1:] / _errors(traj)[:-1]
    np.testing.assert_allclose(ratios[-10:], rho, rtol=1e-6)
    assert ratios.max() <= rho * (1 + 1e-12)


@pytest.mark.parametrize("kappa", KAPPAS)
def test_heavy_ball_along_the_extreme_eigenvectors_follows_the_closed_form(kappa, device):
    r"""With :math:`\alpha = (2/(\sqrt L+\sqrt\mu))^2` and
    :math:`\beta = \rho^2`, :math:`\rho = (\sqrt\kappa-1)/(\sqrt\kappa+1)`, a component along an
    eigenvector with eigenvalue :math:`\lambda` obeys
    :math:`e_{t+1} = (1 + \beta - \alpha\lambda) e_t - \beta e_{t-1}`, with :math:`e_{-1} = e_0`
    (PyTorch's buffer starts at the first gradient). At :math:`\lambda = \mu` the coefficient is
    :math:`2\rho` and the characteristic polynomial :math:`(z-\rho)^2`; at :math:`\lambda = L`
    it is :math:`-2\rho` and :math:`(z+\rho)^2`. The double roots give
    :math:`e_t = e_0 (1 + (1-\rho)t)\rho^t` and :math:`e_t = e_0 (1 + (1+\rho)t)(-\rho)^t`."""
    problem = _problem(kappa, device)
    L, rho = MU * kappa, (math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)
    lr = (2 / (math.sqrt(L) + math.sqrt(MU))) ** 2
    _, V = _eigh(problem)
    c_min, c_max, steps = 1.0, 0.5, 500
    traj = run(problem, lambda p: SGD(p, lr=lr, momentum=rho ** 2),
               torch.tensor(c_min * V[:, 0] + c_max * V[:, -1]), steps, device=device)
    t = np.arange(steps + 1)
    expected = rho ** t * np.hypot(c_min * (1 + (1 - rho) * t), c_max * (1 + (1 + rho) * t))
    np.testing.assert_allclose(_errors(traj), expected, rtol=1e-6)


@pytest.mark.parametrize("kappa", KAPPAS)
def test_heavy_ball_rate_from_a_generic_start(kappa, device):
    r"""The geometric-mean rate :math:`r = (\lVert e_T\rVert/\lVert e_0\rVert)^{1/T}` is close to
    :math:`\rho = (\sqrt\kappa-1)/(\sqrt\kappa+1)`, within bounds that follow from the recurrence
    (previous test) for every eigenvalue in :math:`[\mu, L]`:

    * every root of :math:`z^2 - (1+\beta-\alpha\lambda)z + \beta` has modulus
      :math:`\sqrt\beta = \rho` (complex pairs inside, double roots at the ends), so with
      :math:`u_t = \sum_{k=0}^t z_1^k z_2^{t-k}` (:math:`|u_t| \le (t+1)\rho^t`) each component is
      :math:`e_t = e_0 (u_t - \beta u_{t-1})`, :math:`|e_t| \le (1+2t)\rho^t|e_0|`: hence
      :math:`r \le \rho(1+2T)^{1/T}`, 1.4% above :math:`\rho` for :math:`T = 500`;
    * the component along the bottom eigenvector is exactly :math:`c_1(1+(1-\rho)T)\rho^T`, at
      least :math:`c_1\rho^T`: hence :math:`r \ge \rho\,(|c_1|/\lVert c\rVert)^{1/T}`.

    The polynomial factor comes from the defective (Jordan) iteration matrix at the ends of the
    spectrum; the bounds are tight enough to tell heavy ball's :math:`\rho` from gradient
    descent's :math:`(\kappa-1)/(\kappa+1)` by a factor of about :math:`\sqrt\kappa` in the
    number of steps.
    """
    problem = _problem(kappa, device)
    L, rho = MU * kappa, (math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)
    lr = (2 / (math.sqrt(L) + math.sqrt(MU))) ** 2
    _, V = _eigh(problem)
    c = np.random.default_rng(int(kappa)).standard_normal(DIM)
    steps = 500
    traj = run(problem, lambda p: SGD(p, lr=lr, momentum=rho ** 2), torch.tensor(V @ c), steps, device=device)
    err = _errors(traj)
    rate = (err[-1] / err[0]) ** (1 / steps)
    lower = rho * (abs(c[0]) / np.linalg.norm(c)) ** (1 / steps)
    upper = rho * (1 + 2 * steps) ** (1 / steps)
    assert lower <= rate <= upper
    assert rate == pytest.approx(rho, rel=0.05)
    # Much faster than gradient descent's best rate: the steps needed per factor e of error
    # reduction, -1/log(rate), shrink by about sqrt(kappa) (at least half of that here).
    rho_gd = (kappa - 1) / (kappa + 1)
    assert math.log(rate) / math.log(rho_gd) >= 0.5 * math.sqrt(kappa)
