"""Closed-form checks of the adaptive optimizers: properties any correct implementation has.

Every expected value is computed here from the update equations (first steps under a linear loss,
steps under a constant gradient, the rank-one case of Adafactor's factored estimate), never by
calling the code under test, so each check fails when the arithmetic it pins down is wrong.
"""

from __future__ import annotations

import math

import pytest
import torch

import course_lib.optim as optim

DTYPES = [torch.float32, torch.float64]
# relative tolerance of a quantity computed in a handful of floating-point operations
RTOL = {torch.float32: 1e-5, torch.float64: 1e-12}
# gradients of very different magnitudes and both signs, one per coordinate
GRADIENT = [3e-4, -2e-2, 0.7, -5.0, 40.0, -3e3]


def linear_loss_steps(opt, p, g, steps):
    """Run ``steps`` steps on the loss ``<g, p>``, whose gradient is the constant ``g``; return the
    step taken at each, ``p_t - p_{t-1}``, as float64."""
    moves = []
    for _ in range(steps):
        before = p.detach().clone()
        opt.zero_grad()
        (g * p).sum().backward()
        opt.step()
        moves.append((p.detach() - before).double())
    return moves


def zeros_and_gradient(device, dtype, values=GRADIENT):
    p = torch.zeros(len(values), dtype=dtype, device=device, requires_grad=True)
    return p, torch.tensor(values, dtype=dtype, device=device)


# ---------------------------------------------------------------------------------------------
# First step from zero under a linear loss: every optimizer's first update in closed form.
# Written with g the gradient, |g| its magnitude; the moments start at zero.
# ---------------------------------------------------------------------------------------------

def _nadam_first_step(g, lr, beta1, eps, psi):
    mu1 = beta1 * (1 - 0.5 * 0.96**psi)
    mu2 = beta1 * (1 - 0.5 * 0.96 ** (2 * psi))
    # Nesterov: the gradient term and the momentum term (m_1 = (1 - beta1) g) both divided by |g| + eps
    return -lr * (1 + mu2 * (1 - beta1) / (1 - mu1 * mu2)) * g / (g.abs() + eps)


FIRST_STEP = {
    # m_1 / (1 - beta1) = g and sqrt(v_1 / (1 - beta2)) = |g|: a step of lr times sign(g)
    "Adam": (dict(lr=0.01, eps=1e-8), lambda g: -0.01 * g / (g.abs() + 1e-8)),
    "AdamW": (dict(lr=0.01, eps=1e-8, weight_decay=0.0), lambda g: -0.01 * g / (g.abs() + 1e-8)),
    # u_1 = max(0, |g| + eps), and the bias correction of m_1 cancels its (1 - beta1)
    "Adamax": (dict(lr=0.01, eps=1e-8), lambda g: -0.01 * g / (g.abs() + 1e-8)),
    "NAdam": (dict(lr=0.01, eps=1e-8, momentum_decay=4e-3),
              lambda g: _nadam_first_step(g, 0.01, 0.9, 1e-8, 4e-3)),
    # rho_1 = 1 <= 5: an un-normalised momentum step, m_1 / (1 - beta1) = g
    "RAdam": (dict(lr=0.01), lambda g: -0.01 * g),
    # s_1 = g^2
    "Adagrad": (dict(lr=0.01, eps=1e-10), lambda g: -0.01 * g / (g.abs() + 1e-10)),
    # v_1 = (1 - alpha) g^2, not bias-corrected
    "RMSprop": (dict(lr=0.01, alpha=0.9, eps=1e-8),
                lambda g: -0.01 * g / (math.sqrt(0.1) * g.abs() + 1e-8)),
    # u_0 = 0: the numerator is sqrt(eps), so the first step is tiny and nearly scale-free
    "Adadelta": (dict(lr=1.0, rho=0.9, eps=1e-6),
                 lambda g: -math.sqrt(1e-6) * g / (0.1 * g * g + 1e-6).sqrt()),
    # V_1 = g^2, U_1 = sign(g) with RMS 1 <= d; RMS(theta_0) = 0, so alpha_1 = eps2 * min(lr, 1)
    "Adafactor": (dict(lr=0.05, eps=(None, 1e-3)), lambda g: -1e-3 * 0.05 * g.sign()),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(FIRST_STEP))
def test_first_step_from_zero_matches_closed_form(name, dtype, device):
    kwargs, expected = FIRST_STEP[name]
    p, g = zeros_and_gradient(device, dtype)
    [move] = linear_loss_steps(getattr(optim, name)([p], **kwargs), p, g, 1)
    torch.testing.assert_close(move, expected(g.double()), rtol=RTOL[dtype], atol=0)


# ---------------------------------------------------------------------------------------------
# Adam / AdamW: the first step moves every coordinate by exactly lr.
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_adam_first_step_is_lr_in_every_coordinate_whatever_the_gradient_scale(name, dtype, device):
    lr = 0.01
    # eps so small against |g| >= 3e-4 that |g| + eps rounds to |g|
    kwargs = dict(lr=lr, eps=1e-30) | ({"weight_decay": 0.0} if name == "AdamW" else {})
    p, g = zeros_and_gradient(device, dtype)
    [move] = linear_loss_steps(getattr(optim, name)([p], **kwargs), p, g, 1)
    torch.testing.assert_close(move.abs(), torch.full_like(move, lr), rtol=RTOL[dtype], atol=0)
    assert torch.equal(move.sign(), -g.double().sign())


# ---------------------------------------------------------------------------------------------
# AdaGrad: under a constant gradient the step decays like t^(-1/2).
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_adagrad_step_decays_like_inverse_square_root_of_t(dtype, device):
    steps = 200
    p, g = zeros_and_gradient(device, dtype)
    moves = torch.stack(linear_loss_steps(optim.Adagrad([p], lr=0.1, eps=1e-30), p, g, steps))
    t = torch.arange(1, steps + 1, dtype=torch.float64, device=moves.device)
    # s_t = t g^2, so step_t = lr g / (sqrt(t) |g|): step_t / step_1 = t^(-1/2) in every coordinate
    ratio = moves / moves[0]
    torch.testing.assert_close(ratio, t.rsqrt()[:, None].expand_as(ratio),
                               rtol=1e-10 if dtype == torch.float64 else 1e-3, atol=0)
    # least-squares slope of log|step| against log t, per coordinate
    x = t.log() - t.log().mean()
    y = moves.abs().log()
    slope = (x[:, None] * (y - y.mean(dim=0))).sum(dim=0) / (x * x).sum()
    torch.testing.assert_close(slope, torch.full_like(slope, -0.5),
                               rtol=0, atol=1e-9 if dtype == torch.float64 else 1e-3)


# ---------------------------------------------------------------------------------------------
# RMSprop: under a constant gradient the step is lr / sqrt(1 - alpha^t), which tends to lr.
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_rmsprop_step_tends_to_lr_with_the_bias_shape(dtype, device):
    lr, alpha, steps = 1e-3, 0.9, 300
    p, g = zeros_and_gradient(device, dtype)
    moves = torch.stack(linear_loss_steps(optim.RMSprop([p], lr=lr, alpha=alpha, eps=1e-30), p, g, steps))
    # v_t = (1 - alpha^t) g^2: no bias correction, so early steps are too large by 1/sqrt(1 - alpha^t)
    expected = torch.tensor([lr / math.sqrt(1 - alpha**t) for t in range(1, steps + 1)],
                            dtype=torch.float64, device=moves.device)
    tol = 1e-9 if dtype == torch.float64 else 1e-2
    torch.testing.assert_close(moves.abs(), expected[:, None].expand_as(moves), rtol=tol, atol=0)
    assert moves[0].abs().min() > 3 * lr  # 1/sqrt(0.1) = 3.16
    torch.testing.assert_close(moves[-1].abs(), torch.full_like(moves[-1], lr), rtol=tol, atol=0)


# ---------------------------------------------------------------------------------------------
# Adafactor: a matrix's second moments are a row factor and a column factor.
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_adafactor_keeps_row_and_column_factors_of_a_matrix(dtype, device):
    m, n = 300, 200
    p = torch.randn(m, n, dtype=dtype, device=device, requires_grad=True)
    opt = optim.Adafactor([p])
    p.grad = torch.randn(m, n, dtype=dtype, device=device)
    opt.step()
    factors = {k: v for k, v in opt.state[p].items() if isinstance(v, torch.Tensor)}
    assert factors["row_var"].shape == (m,) and factors["col_var"].shape == (n,)
    assert sum(v.numel() for v in factors.values()) == m + n  # not m * n
    assert all(v.device == p.device and v.dtype == dtype for v in factors.values())


@pytest.mark.parametrize("dtype", DTYPES)
def test_adafactor_factors_are_running_means_of_squared_gradients(dtype, device):
    m, n, tau = 4, 3, -0.8
    gen = torch.Generator().manual_seed(0)
    g1, g2 = (torch.randn(m, n, generator=gen, dtype=torch.float64) for _ in range(2))
    p = torch.zeros(m, n, dtype=dtype, device=device, requires_grad=True)
    opt = optim.Adafactor([p], beta2_decay=tau)
    # 1 - beta2_1 = 1^tau = 1: the factors start as the row and column means of G_1^2
    row, col = (g1**2).mean(dim=1), (g1**2).mean(dim=0)
    for t, g in [(1, g1), (2, g2)]:
        rate = t**tau
        row = (1 - rate) * row + rate * (g**2).mean(dim=1)
        col = (1 - rate) * col + rate * (g**2).mean(dim=0)
        p.grad = g.to(device=device, dtype=dtype)
        opt.step()
        torch.testing.assert_close(opt.state[p]["row_var"].double().cpu(), row, rtol=RTOL[dtype], atol=0)
        torch.testing.assert_close(opt.state[p]["col_var"].double().cpu(), col, rtol=RTOL[dtype], atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_adafactor_estimate_is_exact_for_a_rank_one_squared_gradient(dtype, device):
    # G = a b^T gives G^2 = a^2 (b^2)^T, which the rank-one R C^T / mean(R) reproduces exactly: U = sign(G)
    a = torch.tensor([0.5, -2.0, 30.0, -1e-2], dtype=torch.float64)
    b = torch.tensor([4.0, -0.1, 7.0], dtype=torch.float64)
    theta0 = torch.linspace(-2.0, 3.0, 12, dtype=torch.float64).reshape(4, 3)
    lr = 0.05
    p = theta0.to(device=device, dtype=dtype, copy=True).requires_grad_()
    # d > 1, so that clipping cannot hide an estimate off by a constant factor (U = c sign(G), c != 1)
    opt = optim.Adafactor([p], lr=lr, d=4.0)
    p.grad = torch.outer(a, b).to(device=device, dtype=dtype)
    opt.step()
    theta0 = theta0.to(dtype).double()
    # alpha_1 = max(eps2, RMS(theta_0)) * min(lr, 1/sqrt(1)); RMS(U) = 1 < d, so no clipping
    alpha = max(1e-3, theta0.norm().item() / math.sqrt(theta0.numel())) * lr
    expected = theta0 - alpha * torch.outer(a, b).sign()
    torch.testing.assert_close(p.detach().double().cpu(), expected, rtol=RTOL[dtype], atol=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_adafactor_step_is_relative_to_the_parameter_scale(dtype, device):
    # Under a constant gradient V_t stays g^2 and U_t = sign(g), so each step is
    # RMS(theta_{t-1}) * min(lr, 1/sqrt(t)) in every coordinate: lr caps the relative step until t = 1/lr^2.
    lr, steps = 0.2, 60
    p = torch.linspace(1.0, 4.0, 6, dtype=dtype, device=device).requires_grad_()
    g = torch.tensor(GRADIENT, dtype=dtype, device=device)
    opt = optim.Adafactor([p], lr=lr)
    for t in range(1, steps + 1):
        before = p.detach().double().clone()
        opt.zero_grad()
        (g * p).sum().backward()
        opt.step()
        rms = before.norm().item() / math.sqrt(before.numel())
        expected = -rms * min(lr, 1 / math.sqrt(t)) * g.double().sign()
        torch.testing.assert_close(p.detach().double() - before, expected,
                                   rtol=1e-10 if dtype == torch.float64 else 1e-4, atol=0)


# ---------------------------------------------------------------------------------------------
# AdamW against Adam with an L2 penalty, with a zero loss gradient.
# ---------------------------------------------------------------------------------------------

THETA0 = [1.0, -10.0, 100.0, -1000.0]


def _weights_under_zero_loss_gradient(opt, p, steps):
    history = [p.detach().clone()]
    for _ in range(steps):
        p.grad = torch.zeros_like(p)
        opt.step()
        history.append(p.detach().clone())
    return history


@pytest.mark.parametrize("dtype", DTYPES)
def test_adamw_shrinks_weights_by_exactly_one_minus_lr_wd_per_step(dtype, device):
    lr, wd, steps = 1e-2, 0.1, 50
    p = torch.tensor(THETA0, dtype=dtype, device=device, requires_grad=True)
    history = _weights_under_zero_loss_gradient(optim.AdamW([p], lr=lr, weight_decay=wd), p, steps)
    for before, after in zip(history, history[1:]):
        torch.testing.assert_close(after, before * (1 - lr * wd), rtol=RTOL[dtype], atol=0)
    torch.testing.assert_close(history[-1].double(), history[0].double() * (1 - lr * wd) ** steps,
                               rtol=1e-10 if dtype == torch.float64 else 1e-5, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_with_l2_moves_every_weight_by_about_lr_whatever_its_magnitude(dtype, device):
    # a power of two, so that float32 weights near 1000 represent each step of size lr exactly
    lr, wd, steps = 2.0**-10, 0.1, 20
    p = torch.tensor(THETA0, dtype=dtype, device=device, requires_grad=True)
    history = _weights_under_zero_loss_gradient(optim.Adam([p], lr=lr, weight_decay=wd), p, steps)
    theta0 = history[0].double()
    # the decay term wd * theta is the whole gradient, and Adam normalises it away: |step_1| = lr
    first = (history[1] - history[0]).double()
    torch.testing.assert_close(first, -lr * theta0.sign(), rtol=1e-5, atol=0)
    # g_t = wd * theta_{t-1} barely changes, so m_hat / sqrt(v_hat) stays near 1 and the weights move ~lr a step
    total = (history[-1] - history[0]).double()
    torch.testing.assert_close(total, -steps * lr * theta0.sign(), rtol=2e-2, atol=0)
    # AdamW would have moved them in proportion to their magnitude: a 1000-fold spread here
    adamw_total = theta0 * ((1 - lr * wd) ** steps - 1)
    assert adamw_total.abs().max() / adamw_total.abs().min() > 999
    assert total.abs().max() / total.abs().min() < 1.05


# ---------------------------------------------------------------------------------------------
# Hyperparameter checks beyond those all optimizers share.
# ---------------------------------------------------------------------------------------------

INVALID = [
    ("Adagrad", dict(lr_decay=-0.1), "lr_decay"),
    ("Adagrad", dict(initial_accumulator_value=-1.0), "initial_accumulator_value"),
    ("Adagrad", dict(eps=0.0), "eps"),
    ("RMSprop", dict(alpha=1.5), "alpha"),
    ("RMSprop", dict(momentum=-0.1), "momentum"),
    ("RMSprop", dict(centered=1), "centered"),
    ("Adadelta", dict(rho=1.1), "rho"),
    ("Adadelta", dict(eps=-1e-6), "eps"),
    ("Adam", dict(betas=(1.0, 0.999)), r"betas\[0\]"),
    ("Adam", dict(betas=(0.9, -0.1)), r"betas\[1\]"),
    ("Adam", dict(betas=0.9), "betas"),
    ("Adam", dict(amsgrad="yes"), "amsgrad"),
    ("Adam", dict(decoupled_weight_decay=None), "decoupled_weight_decay"),
    ("AdamW", dict(betas=(0.9, 1.0)), r"betas\[1\]"),
    ("Adamax", dict(eps=0.0), "eps"),
    ("NAdam", dict(momentum_decay=-4e-3), "momentum_decay"),
    ("NAdam", dict(decoupled_weight_decay=0), "decoupled_weight_decay"),
    ("RAdam", dict(betas=(-0.1, 0.999)), r"betas\[0\]"),
    ("Adafactor", dict(beta2_decay=0.5), "beta2_decay"),
    ("Adafactor", dict(d=0.5), "d"),
    ("Adafactor", dict(eps=(None, 0.0)), r"eps\[1\]"),
    ("Adafactor", dict(eps=(-1e-30, 1e-3)), r"eps\[0\]"),
    ("Adafactor", dict(eps=1e-3), "eps"),
]


@pytest.mark.parametrize("name,kwargs,pattern", INVALID, ids=[f"{n}-{next(iter(k))}" for n, k, _ in INVALID])
def test_invalid_hyperparameter_is_a_value_error_naming_it(name, kwargs, pattern):
    p = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match=pattern):
        getattr(optim, name)([p], **kwargs)
    opt = getattr(optim, name)([p])
    with pytest.raises(ValueError, match=pattern):
        opt.add_param_group({"params": [torch.zeros(3, requires_grad=True)], **kwargs})


@pytest.mark.parametrize("name", ["Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "Adamax", "NAdam",
                                  "RAdam", "Adafactor"])
def test_implementation_switches_are_not_accepted(name):
    p = torch.zeros(2, requires_grad=True)
    for switch in ["foreach", "fused", "capturable", "differentiable"]:
        with pytest.raises(TypeError):
            getattr(optim, name)([p], **{switch: False})
