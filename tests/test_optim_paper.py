"""Optimizers PyTorch does not have, against their papers.

Each update is re-derived here in plain, out-of-place tensor math, straight from the paper's
equations, and the trajectories are compared in float64 after every one of 60 steps. Then the
properties the papers (or the course) claim for each: Lion moves every coordinate by exactly lr,
Lookahead with alpha=1 is its base optimizer, AdaBound's step sizes stay inside bounds that close
on final_lr, gradient centralization zeroes each row's mean, the loss-adaptive momentum follows the
loss's noise; and, for each, a state_dict round trip and hyperparameter checks.
"""

from __future__ import annotations

import copy
import io
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.optim import (SGD, AdaBound, Adam, GradientCentralization, Lion, Lookahead, LossAdaptiveSGD,
                              centralize_gradient_)
from course_lib.optim.adaptive_momentum import relative_loss_noise

STEPS = 60
TOL = 1e-12
DT = torch.float64


# ------------------------------------------------------------------------------------------------
# harness: one problem, our optimizer on it, and a reference written from the equations
# ------------------------------------------------------------------------------------------------

def make_params(seed=0, shapes=((), (3,), (4, 5), (2, 3, 2), (2,))):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=gen, dtype=DT).requires_grad_() for s in shapes]


def smooth_loss(params, t=None):
    # Non-quadratic and different in every coordinate, so every optimizer state takes distinct
    # values per coordinate. The last parameter is left out: it never gets a gradient.
    total = 0.0
    for k, p in enumerate(params[:-1]):
        curvature = torch.linspace(0.5, 2.0, p.numel(), dtype=p.dtype).reshape(p.shape)
        total = total + (0.5 * curvature * (p - 0.3 * (k + 1)) ** 2 + 0.1 * torch.sin(3 * p)).sum()
    return total


def two_groups(params, **second):
    return [{"params": params[:2]}, {"params": params[2:], **second}]


def run(opt, params, steps=STEPS, loss=smooth_loss, after_step=None):
    """Our optimizer: ``steps`` closure steps; the parameters after each."""
    history = []
    for t in range(1, steps + 1):
        def closure():
            opt.zero_grad()
            value = loss(params, t)
            value.backward()
            return value
        opt.step(closure)
        if after_step is not None:
            after_step(t)
        history.append([p.detach().clone() for p in params])
    return history


def run_reference(update, params, steps=STEPS, loss=smooth_loss):
    """The equations: ``update(t, theta, grads, loss_value)`` returns the new parameters; a
    gradient is None for a parameter the loss does not use."""
    theta = [p.detach().clone() for p in params]
    history = []
    for t in range(1, steps + 1):
        leaves = [x.clone().requires_grad_() for x in theta]
        value = loss(leaves, t)
        grads = torch.autograd.grad(value, leaves, allow_unused=True)
        theta = update(t, theta, grads, value.item())
        history.append([x.clone() for x in theta])
    return history


def assert_same_trajectory(ours, reference, atol=TOL):
    assert len(ours) == len(reference)
    for step, (a, b) in enumerate(zip(ours, reference), start=1):
        for k, (pa, pb) in enumerate(zip(a, b)):
            torch.testing.assert_close(pa, pb, atol=atol, rtol=0, msg=lambda m: f"step {step}, parameter {k}: {m}")


def max_difference(h1, h2):
    return max((a - b).abs().max().item() for s1, s2 in zip(h1, h2) for a, b in zip(s1, s2))


def per_param(params, groups_hp):
    """The hyperparameters of each parameter, from a list of (number of parameters, dict)."""
    out = []
    for count, hp in groups_hp:
        out += [hp] * count
    assert len(out) == len(params)
    return out


# ------------------------------------------------------------------------------------------------
# Lion
# ------------------------------------------------------------------------------------------------

def lion_reference(hps, maximize=False):
    m = {}

    def update(t, theta, grads, _):
        new = []
        for i, (x, g) in enumerate(zip(theta, grads)):
            if g is None:
                new.append(x)
                continue
            lr, (b1, b2), wd = hps[i]["lr"], hps[i]["betas"], hps[i]["weight_decay"]
            g = -g if maximize else g
            m_prev = m.get(i, torch.zeros_like(x))
            c = b1 * m_prev + (1 - b1) * g
            new.append(x - lr * (torch.sign(c) + wd * x))
            m[i] = b2 * m_prev + (1 - b2) * g
        return new

    return update


@pytest.mark.parametrize("config", [
    dict(),
    dict(lr=0.01, weight_decay=0.5),
    dict(lr=0.02, betas=(0.5, 0.8), weight_decay=0.1, maximize=True),
])
def test_lion_trajectory_matches_the_paper(config):
    config = dict(config)
    maximize = config.pop("maximize", False)
    defaults = dict(lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0)
    hp0 = {**defaults, **config}
    hp1 = {**hp0, "lr": hp0["lr"] * 3, "betas": (0.8, 0.95)}
    params = make_params()
    opt = Lion(two_groups(params, lr=hp1["lr"], betas=hp1["betas"]), maximize=maximize, **config)
    sign = -1.0 if maximize else 1.0
    loss = lambda ps, t: sign * smooth_loss(ps, t)  # noqa: E731
    ours = run(opt, params, loss=loss)
    reference = run_reference(lion_reference(per_param(params, [(2, hp0), (3, hp1)]), maximize),
                              make_params(), loss=loss)
    assert_same_trajectory(ours, reference)
    assert torch.equal(ours[-1][-1], make_params()[-1])  # no gradient, no move, no decay


LR_POW2 = 2.0 ** -6


@settings(max_examples=60, deadline=None)
@given(grads=st.lists(st.lists(st.floats(-1e3, 1e3, allow_subnormal=False), min_size=8, max_size=8),
                      min_size=1, max_size=8),
       beta1=st.sampled_from([0.0, 0.5, 0.9]), beta2=st.sampled_from([0.0, 0.9, 0.99]))
def test_lion_moves_every_coordinate_by_exactly_lr(grads, beta1, beta2):
    # lr a power of two and parameters starting at 0 keep every parameter a small multiple of lr,
    # so the arithmetic is exact and "exactly lr" can be checked with ==.
    p = torch.zeros(8, dtype=DT, requires_grad=True)
    opt = Lion([p], lr=LR_POW2, betas=(beta1, beta2))
    m = torch.zeros(8, dtype=DT)
    for row in grads:
        g = torch.tensor(row, dtype=DT)
        p.grad = g.clone()
        before = p.detach().clone()
        opt.step()
        delta = p.detach() - before
        assert torch.all((delta.abs() == LR_POW2) | (delta == 0)), delta
        c = beta1 * m + (1 - beta1) * g
        # away from c = 0 (where rounding may decide the sign) the direction is -sign(c)
        clear = c.abs() > 1e-9 * (m.abs() + g.abs())
        assert torch.equal(delta[clear], -LR_POW2 * torch.sign(c[clear]))
        nothing = (m == 0) & (g == 0)
        assert torch.all(delta[nothing] == 0)
        m = beta2 * m + (1 - beta2) * g


@settings(max_examples=60, deadline=None)
@given(theta=st.lists(st.floats(-10, 10), min_size=6, max_size=6),
       grad=st.lists(st.floats(-10, 10).filter(lambda v: abs(v) > 1e-6), min_size=6, max_size=6),
       wd=st.floats(0.0, 2.0), lr=st.floats(1e-4, 0.5))
def test_lion_weight_decay_is_decoupled(theta, grad, wd, lr):
    p = torch.tensor(theta, dtype=DT, requires_grad=True)
    opt = Lion([p], lr=lr, weight_decay=wd)
    g = torch.tensor(grad, dtype=DT)
    p.grad = g.clone()
    before = p.detach().clone()
    opt.step()
    # first step: m = 0, so c = (1 - beta1) g and sign(c) = sign(g)
    expected = -lr * (torch.sign(g) + wd * before)
    torch.testing.assert_close(p.detach() - before, expected, atol=1e-13, rtol=0)


# ------------------------------------------------------------------------------------------------
# AdaBound
# ------------------------------------------------------------------------------------------------

def adabound_reference(hps, lr_at, amsbound=False, maximize=False):
    """``lr_at(i, t)`` is parameter i's learning rate at step t; ``hps[i]['lr']`` its initial one."""
    m, v, vmax = {}, {}, {}

    def update(t, theta, grads, _):
        new = []
        for i, (x, g) in enumerate(zip(theta, grads)):
            if g is None:
                new.append(x)
                continue
            hp = hps[i]
            b1, b2 = hp["betas"]
            g = -g if maximize else g
            g = g + hp["weight_decay"] * x
            m[i] = b1 * m.get(i, torch.zeros_like(x)) + (1 - b1) * g
            v[i] = b2 * v.get(i, torch.zeros_like(x)) + (1 - b2) * g * g
            v_hat = torch.maximum(vmax.get(i, torch.zeros_like(x)), v[i]) if amsbound else v[i]
            vmax[i] = v_hat
            lr = lr_at(i, t)
            final_lr = hp["final_lr"] * lr / hp["lr"]
            lower = final_lr * (1 - 1 / (hp["gamma"] * t + 1))
            upper = final_lr * (1 + 1 / (hp["gamma"] * t))
            eta = lr * math.sqrt(1 - b2**t) / (1 - b1**t) / (torch.sqrt(v_hat) + hp["eps"])
            eta = torch.minimum(torch.maximum(eta, torch.full_like(eta, lower)), torch.full_like(eta, upper))
            new.append(x - eta * m[i])
        return new

    return update


@pytest.mark.parametrize("config", [
    dict(),
    dict(amsbound=True),
    dict(lr=0.01, final_lr=0.05, gamma=0.05, weight_decay=0.1),
    dict(lr=0.003, betas=(0.8, 0.9), gamma=0.01, eps=1e-3, amsbound=True, maximize=True),
])
def test_adabound_trajectory_matches_the_reference_code_with_a_schedule(config):
    config = dict(config)
    maximize = config.pop("maximize", False)
    amsbound = config.get("amsbound", False)
    defaults = dict(lr=1e-3, betas=(0.9, 0.999), final_lr=0.1, gamma=1e-3, eps=1e-8, weight_decay=0.0)
    hp0 = {**defaults, **{k: v for k, v in config.items() if k != "amsbound"}}
    hp1 = {**hp0, "lr": hp0["lr"] * 2, "final_lr": hp0["final_lr"] * 0.5}
    params = make_params()
    opt = AdaBound(two_groups(params, lr=hp1["lr"], final_lr=hp1["final_lr"]), maximize=maximize, **config)
    # the learning rate halves every 20 steps: the bounds must follow it
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=20, gamma=0.5)
    sign = -1.0 if maximize else 1.0
    loss = lambda ps, t: sign * smooth_loss(ps, t)  # noqa: E731
    ours = run(opt, params, loss=loss, after_step=lambda t: scheduler.step())
    hps = per_param(params, [(2, hp0), (3, hp1)])
    lr_at = lambda i, t: hps[i]["lr"] * 0.5 ** ((t - 1) // 20)  # noqa: E731
    reference = run_reference(adabound_reference(hps, lr_at, amsbound, maximize), make_params(), loss=loss)
    assert_same_trajectory(ours, reference)
    assert torch.equal(ours[-1][-1], make_params()[-1])


def effective_step_sizes(opt, p, slopes, steps, after_step=None):
    """On the linear loss sum(slopes * p), whose gradient never fades, the elementwise step size
    eta_t = (theta_{t-1} - theta_t) / m_t at every step t, as pairs (eta_t, t)."""
    sizes = []
    for t in range(1, steps + 1):
        before = p.detach().clone()
        opt.zero_grad()
        (slopes * p).sum().backward()
        opt.step()
        sizes.append(((before - p.detach()) / opt.state[p]["exp_avg"], t))
        if after_step is not None:
            after_step(t)
    return sizes


def slopes_over(low, high, n=40):
    signs = torch.tensor([1.0, -1.0], dtype=DT).repeat(n // 2)
    return signs * torch.logspace(math.log10(low), math.log10(high), n, dtype=DT)


@pytest.mark.parametrize("amsbound", [False, True])
def test_adabound_step_sizes_stay_within_the_bounds(amsbound):
    p = torch.zeros(40, dtype=DT, requires_grad=True)
    final_lr, gamma = 0.1, 0.02
    opt = AdaBound([p], lr=3e-3, final_lr=final_lr, gamma=gamma, amsbound=amsbound)
    at_lower = at_upper = free = 0
    for eta, t in effective_step_sizes(opt, p, slopes_over(1e-3, 5.0), 300):
        lower = final_lr * (1 - 1 / (gamma * t + 1))
        upper = final_lr * (1 + 1 / (gamma * t))
        assert torch.all(eta >= lower * (1 - 1e-9)) and torch.all(eta <= upper * (1 + 1e-9)), t
        at_lower += int((eta <= lower * (1 + 1e-9)).sum())
        at_upper += int((eta >= upper * (1 - 1e-9)).sum())
        free += int(((eta > lower * (1 + 1e-6)) & (eta < upper * (1 - 1e-6))).sum())
    # Adam's rate lr / |slope| spans both bounds: each regime occurs, so the check constrains something
    assert at_lower > 0 and at_upper > 0 and free > 0


def test_adabound_step_size_tends_to_final_lr():
    p = torch.zeros(40, dtype=DT, requires_grad=True)
    final_lr, gamma = 0.1, 0.5
    opt = AdaBound([p], lr=1e-3, final_lr=final_lr, gamma=gamma)
    sizes = effective_step_sizes(opt, p, slopes_over(0.1, 5.0), 400)
    gaps = [((eta / final_lr - 1).abs().max().item(), t) for eta, t in sizes]
    assert gaps[0][0] > 0.5  # Adam-like at first: far from the SGD rate
    for gap, t in gaps:
        assert gap <= 1 / (gamma * t) + 1e-9
    assert gaps[-1][0] < 1e-2


def test_adabound_bounds_follow_the_learning_rate_schedule():
    p = torch.zeros(40, dtype=DT, requires_grad=True)
    final_lr, gamma, lr0 = 0.1, 1.0, 1e-3
    opt = AdaBound([p], lr=lr0, final_lr=final_lr, gamma=gamma)
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=100, gamma=0.1)
    sizes = effective_step_sizes(opt, p, slopes_over(0.1, 5.0), 200, after_step=lambda t: scheduler.step())
    for eta, t in sizes:
        scaled = final_lr * (0.1 if t > 100 else 1.0)
        assert torch.all(eta >= scaled * (1 - 1 / (gamma * t + 1)) * (1 - 1e-9)), t
        assert torch.all(eta <= scaled * (1 + 1 / (gamma * t)) * (1 + 1e-9)), t
    # final_lr * lr / lr (the notes' version) would have kept the step size near final_lr
    last, _ = sizes[-1]
    assert torch.all(last < 0.2 * final_lr)
    assert opt.param_groups[0]["base_lr"] == lr0


def test_adabound_group_added_frozen_adopts_its_first_positive_lr():
    params = make_params(shapes=((5,), (5,)))
    opt = AdaBound([params[0]], lr=1e-3, final_lr=0.1, gamma=1.0)
    opt.add_param_group({"params": [params[1]], "lr": 0.0})
    start = params[1].detach().clone()
    loss = lambda ps, t: ((ps[0] - 1) ** 2).sum() + ((ps[1] - 1) ** 2).sum()  # noqa: E731
    run(opt, params, steps=5, loss=loss)
    assert torch.equal(params[1].detach(), start)
    opt.param_groups[1]["lr"] = 2e-3
    run(opt, params, steps=1, loss=loss)
    assert opt.param_groups[1]["base_lr"] == 2e-3
    assert not torch.equal(params[1].detach(), start)


# ------------------------------------------------------------------------------------------------
# Lookahead
# ------------------------------------------------------------------------------------------------

def lookahead_sgd_reference(hps, k, alpha):
    """Lookahead around heavy-ball SGD (PyTorch's form), slow weights per parameter from step 1."""
    buf, slow = {}, {}

    def update(t, theta, grads, _):
        if t == 1:
            slow.update({i: x.clone() for i, x in enumerate(theta)})
        new = []
        for i, (x, g) in enumerate(zip(theta, grads)):
            if g is None:
                new.append(x)
                continue
            buf[i] = g if i not in buf else hps[i]["momentum"] * buf[i] + g
            new.append(x - hps[i]["lr"] * buf[i])
        if t % k == 0:
            for i in range(len(new)):
                slow[i] = slow[i] + alpha * (new[i] - slow[i])
                new[i] = slow[i].clone()
        return new

    return update


@pytest.mark.parametrize("k,alpha", [(5, 0.5), (3, 0.8), (1, 0.3)])
def test_lookahead_trajectory_matches_the_paper(k, alpha):
    hp0, hp1 = dict(lr=0.05, momentum=0.9), dict(lr=0.1, momentum=0.5)
    params = make_params()
    opt = Lookahead(SGD(two_groups(params, **hp1), **hp0), k=k, alpha=alpha)
    ours = run(opt, params)
    reference = run_reference(lookahead_sgd_reference(per_param(params, [(2, hp0), (3, hp1)]), k, alpha),
                              make_params())
    assert_same_trajectory(ours, reference)


def test_lookahead_with_alpha_one_is_its_base_optimizer():
    a, b = make_params(), make_params()
    ours = run(Lookahead(Adam(a, lr=0.05), k=4, alpha=1.0), a)
    base = run(Adam(b, lr=0.05), b)
    for sa, sb in zip(ours, base):
        assert all(torch.equal(x, y) for x, y in zip(sa, sb))


def test_lookahead_with_alpha_zero_returns_to_the_start_every_k_steps():
    params = make_params()
    start = [p.detach().clone() for p in params]
    k = 4
    history = run(Lookahead(Adam(params, lr=0.05), k=k, alpha=0.0), params, steps=4 * k)
    for t, snapshot in enumerate(history, start=1):
        at_start = all(torch.equal(x, s) for x, s in zip(snapshot[:-1], start[:-1]))
        assert at_start == (t % k == 0), t


def test_lookahead_slow_weights_start_from_the_first_step_not_construction():
    params = make_params()
    opt = Lookahead(Adam(params, lr=0.05), k=3, alpha=0.0)
    with torch.no_grad():  # e.g. a checkpoint loaded into the model after building the optimizer
        for p in params:
            p.add_(1.0)
    loaded = [p.detach().clone() for p in params]
    history = run(opt, params, steps=3)
    assert all(torch.equal(x, s) for x, s in zip(history[-1], loaded))


class NotesLookahead:
    """The course notes' Lookahead: slow weights in a list, indexed by position among the
    parameters that have a gradient at the synchronisation step."""

    def __init__(self, base_optimizer, k=5, alpha=0.5):
        self.base_optimizer, self.k, self.alpha, self.step_count = base_optimizer, k, alpha, 0
        self.slow_weights = [p.detach().clone() for g in base_optimizer.param_groups for p in g["params"]]

    def zero_grad(self):
        self.base_optimizer.zero_grad()

    @torch.no_grad()
    def step(self, closure):
        self.base_optimizer.step(closure)
        self.step_count += 1
        if self.step_count % self.k == 0:
            idx = 0
            for group in self.base_optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    self.slow_weights[idx].add_(p - self.slow_weights[idx], alpha=self.alpha)
                    p.copy_(self.slow_weights[idx])
                    idx += 1


def test_lookahead_slow_weights_stay_aligned_when_a_parameter_has_no_gradient():
    k = 3
    shapes = ((4,), (4,), (4,), (4,))

    def loss(ps, t):
        # the first parameter has no gradient at the synchronisation steps
        total = sum(((p - j) ** 2).sum() for j, p in enumerate(ps[1:3], start=1))
        return total + (((ps[0] + 2) ** 2).sum() if t % k else 0.0)

    hp = dict(lr=0.1, momentum=0.0)
    reference = run_reference(lookahead_sgd_reference([hp] * 4, k, 0.5), make_params(shapes=shapes),
                              steps=30, loss=loss)
    a = make_params(shapes=shapes)
    ours = run(Lookahead(SGD(a, lr=0.1), k=k, alpha=0.5), a, steps=30, loss=loss)
    assert_same_trajectory(ours, reference)
    b = make_params(shapes=shapes)
    notes = run(NotesLookahead(SGD(b, lr=0.1), k=k, alpha=0.5), b, steps=30, loss=loss)
    assert max_difference(notes, reference) > 0.1


def test_lookahead_shares_param_groups_with_its_base():
    params = make_params()
    base = SGD(params[:3], lr=0.1)
    opt = Lookahead(base)
    assert opt.param_groups is base.param_groups
    opt.add_param_group({"params": params[3:], "lr": 0.2})
    assert len(base.param_groups) == 2 and base.param_groups[1]["lr"] == 0.2
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    run(opt, params, steps=1, after_step=lambda t: scheduler.step())
    assert base.param_groups[0]["lr"] == pytest.approx(0.05)
    clone = copy.deepcopy(opt)
    assert clone.param_groups is clone.base_optimizer.param_groups and clone.k == opt.k


# ------------------------------------------------------------------------------------------------
# gradient centralization
# ------------------------------------------------------------------------------------------------

def centred_by_rows(g):
    """The paper's Phi_GC, written on the (out, fan-in) matrix view."""
    if g.dim() <= 1:
        return g.clone()
    rows = g.reshape(g.shape[0], -1)
    return (rows - rows.sum(dim=1, keepdim=True) / rows.shape[1]).reshape(g.shape)


@settings(max_examples=80, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=0, max_size=4), seed=st.integers(0, 2**31 - 1))
def test_centralize_gradient_zeroes_the_mean_over_the_fan_in(shape, seed):
    gen = torch.Generator().manual_seed(seed)
    g = torch.randn(shape, generator=gen, dtype=DT) * 10 + 3
    original = g.clone()
    assert centralize_gradient_(g) is g
    if len(shape) <= 1:
        assert torch.equal(g, original)
    else:
        rows = g.reshape(shape[0], -1)
        torch.testing.assert_close(rows.mean(dim=1), torch.zeros(shape[0], dtype=DT), atol=1e-12, rtol=0)
        torch.testing.assert_close(g, centred_by_rows(original), atol=1e-12, rtol=0)


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_gradient_centralization_is_the_base_step_on_centred_gradients(weight_decay):
    a, b = make_params(), make_params()
    ours = run(GradientCentralization(SGD(two_groups(a, lr=0.02), lr=0.05, momentum=0.9,
                                          weight_decay=weight_decay)), a)
    base = SGD(two_groups(b, lr=0.02), lr=0.05, momentum=0.9, weight_decay=weight_decay)
    reference = []
    for t in range(1, STEPS + 1):
        base.zero_grad()
        grads = torch.autograd.grad(smooth_loss(b, t), b[:-1])
        for p, g in zip(b[:-1], grads):
            p.grad = centred_by_rows(g)
        base.step()
        reference.append([p.detach().clone() for p in b])
    assert_same_trajectory(ours, reference)
    # the 0-D and 1-D parameters follow plain SGD exactly; the centred ones do not
    plain = make_params()
    plain_run = run(SGD(two_groups(plain, lr=0.02), lr=0.05, momentum=0.9, weight_decay=weight_decay), plain)
    assert_same_trajectory([s[:2] for s in ours], [s[:2] for s in plain_run])
    assert max_difference([s[2:4] for s in ours], [s[2:4] for s in plain_run]) > 1e-3


def test_gradient_centralization_centres_every_closure_evaluation():
    # L-BFGS evaluates the closure several times per step; each evaluation must be centred
    a, b = make_params(shapes=((3, 4), (3,), (1,))), make_params(shapes=((3, 4), (3,), (1,)))
    ours = GradientCentralization(torch.optim.LBFGS(a, lr=0.5, max_iter=5))
    base = torch.optim.LBFGS(b, lr=0.5, max_iter=5)
    for _ in range(4):
        def closure_a():
            ours.zero_grad()
            value = smooth_loss(a)
            value.backward()
            return value

        def closure_b():
            base.zero_grad()
            value = smooth_loss(b)
            value.backward()
            for p in b[:-1]:
                p.grad.copy_(centred_by_rows(p.grad))
            return value

        ours.step(closure_a)
        base.step(closure_b)
        for x, y in zip(a, b):
            torch.testing.assert_close(x, y, atol=TOL, rtol=0)
    assert torch.allclose(a[0].sum(dim=1), make_params(shapes=((3, 4), (3,), (1,)))[0].sum(dim=1), atol=1e-12)


# ------------------------------------------------------------------------------------------------
# LossAdaptiveSGD
# ------------------------------------------------------------------------------------------------

def noise_by_lstsq(losses):
    """The relative noise written as a least-squares problem, independently of the library."""
    y = torch.tensor(losses, dtype=DT).unsqueeze(1)
    n = y.shape[0]
    design = torch.stack([torch.ones(n, dtype=DT), torch.arange(1, n + 1, dtype=DT)], dim=1)
    fitted = design @ torch.linalg.lstsq(design, y).solution
    spread = torch.sqrt(torch.mean((y - fitted) ** 2)).item()
    return spread / abs(y.mean().item())


def adaptive_momentum_reference(hps):
    buf, losses = {}, {}
    momenta = []

    def update(t, theta, grads, loss_value):
        new, step_momenta = [], {}
        for i, (x, g) in enumerate(zip(theta, grads)):
            hp = hps[i]
            window = losses.setdefault(hp["group"], [])
            if hp["group"] not in step_momenta:
                window.append(loss_value)
                del window[:-hp["window"]]
                if len(window) < hp["window"]:
                    mu = hp["momentum_min"]
                else:
                    tau = hp["tolerance"]
                    mu = hp["momentum_min"] + (hp["momentum_max"] - hp["momentum_min"]) * tau / (
                        tau + noise_by_lstsq(window))
                step_momenta[hp["group"]] = mu
            mu = step_momenta[hp["group"]]
            if g is None:
                new.append(x)
                continue
            g = g + hp["weight_decay"] * x
            buf[i] = g if i not in buf else mu * buf[i] + g
            new.append(x - hp["lr"] * buf[i])
        momenta.append(step_momenta)
        return new

    return update, momenta


def noisy_loss(ps, t):
    # Like a minibatch loss: the same landscape (shifted to stay positive), scaled by a factor that
    # changes from step to step, by less and less as training goes on.
    factor = 1.0 + 0.5 * math.exp(-t / 12) * math.sin(1.7 * t) * math.cos(0.3 * t * t)
    return factor * (smooth_loss(ps, t) + 5.0)


def test_loss_adaptive_sgd_trajectory_matches_its_rule():
    hp0 = dict(lr=0.02, momentum_min=0.2, momentum_max=0.9, window=6, tolerance=0.05, weight_decay=0.01)
    hp1 = dict(hp0, lr=0.05, window=4, tolerance=0.2)
    params = make_params()
    opt = LossAdaptiveSGD(two_groups(params, lr=hp1["lr"], window=hp1["window"], tolerance=hp1["tolerance"]),
                          **hp0)
    momenta = []
    ours = run(opt, params, loss=noisy_loss,
               after_step=lambda t: momenta.append({g: opt.param_groups[g]["momentum"] for g in (0, 1)}))
    update, ref_momenta = adaptive_momentum_reference(
        per_param(params, [(2, dict(hp0, group=0)), (3, dict(hp1, group=1))]))
    reference = run_reference(update, make_params(), loss=noisy_loss)
    assert_same_trajectory(ours, reference)
    for t, (mine, theirs) in enumerate(zip(momenta, ref_momenta), start=1):
        assert mine == pytest.approx(theirs, abs=1e-12), t
    # the momentum really moved, in both groups
    for g in (0, 1):
        seen = [m[g] for m in momenta]
        assert max(seen) - min(seen) > 0.2


def feed_losses(opt, param, losses):
    for value in losses:
        opt.zero_grad()
        ((param - 1) ** 2).sum().backward()
        opt.step(loss=value)


def test_constant_loss_gives_momentum_max_after_a_full_window():
    p = torch.zeros(3, dtype=DT, requires_grad=True)
    opt = LossAdaptiveSGD([p], lr=0.01, momentum_min=0.3, momentum_max=0.9, window=10)
    feed_losses(opt, p, [2.5] * 9)
    assert opt.param_groups[0]["momentum"] == 0.3  # window not full yet: cautious
    feed_losses(opt, p, [2.5])
    assert opt.param_groups[0]["momentum"] == pytest.approx(0.9, abs=1e-12)


def test_steadily_falling_loss_is_steady_and_oscillating_loss_is_not():
    p = torch.zeros(3, dtype=DT, requires_grad=True)
    opt = LossAdaptiveSGD([p], lr=0.01, momentum_min=0.3, momentum_max=0.9, window=10, tolerance=0.1)
    falling = [2.0 - 0.1 * i for i in range(10)]
    # its coefficient of variation is large: a rule on the raw spread would call it unstable
    values = torch.tensor(falling)
    assert (values.std(unbiased=False) / values.mean()).item() > 0.1
    feed_losses(opt, p, falling)
    assert opt.param_groups[0]["momentum"] == pytest.approx(0.9, abs=1e-9)
    feed_losses(opt, p, [1.0, 100.0] * 5)
    assert 0.3 <= opt.param_groups[0]["momentum"] < 0.3 + 0.1 * (0.9 - 0.3)


@settings(max_examples=50, deadline=None)
@given(base=st.lists(st.floats(0.5, 2.0), min_size=8, max_size=8), scale=st.floats(1.5, 10.0))
def test_more_noise_means_less_momentum(base, scale):
    mean = sum(base) / len(base)
    noisier = [mean + scale * (v - mean) for v in base]  # same mean and trend shape, larger residuals
    mus = []
    for losses in (base, noisier):
        p = torch.zeros(2, dtype=DT, requires_grad=True)
        opt = LossAdaptiveSGD([p], lr=0.01, momentum_min=0.1, momentum_max=0.9, window=8)
        feed_losses(opt, p, losses)
        mus.append(opt.param_groups[0]["momentum"])
        assert 0.1 <= mus[-1] <= 0.9
    assert mus[1] <= mus[0] + 1e-12
    assert relative_loss_noise(noisier) == pytest.approx(scale * relative_loss_noise(base), rel=1e-9, abs=1e-12)


def test_fixed_momentum_is_sgd_with_momentum_exactly():
    a, b = make_params(), make_params()
    ours = run(LossAdaptiveSGD(two_groups(a, lr=0.03), lr=0.05, momentum_min=0.8, momentum_max=0.8,
                               weight_decay=0.01), a, loss=noisy_loss)
    sgd = run(SGD(two_groups(b, lr=0.03), lr=0.05, momentum=0.8, weight_decay=0.01), b, loss=noisy_loss)
    for sa, sb in zip(ours, sgd):
        assert all(torch.equal(x, y) for x, y in zip(sa, sb))


@pytest.mark.parametrize("bad,match", [
    (dict(), r"loss.*None"),
    (dict(loss=float("nan")), r"loss.*nan"),
    (dict(loss=torch.tensor(float("inf"))), r"loss.*inf"),
    (dict(loss=torch.ones(2)), r"loss"),
    (dict(loss=1.0, closure=lambda: torch.tensor(1.0)), r"loss.*not both"),
])
def test_loss_adaptive_sgd_needs_a_finite_loss(bad, match):
    p = torch.ones(3, dtype=DT, requires_grad=True)
    opt = LossAdaptiveSGD([p], lr=0.1)
    p.grad = torch.ones_like(p)
    with pytest.raises(ValueError, match=match):
        opt.step(**bad)
    assert torch.equal(p.detach(), torch.ones_like(p)) and opt.param_groups[0]["recent_losses"] == []


def test_loss_adaptive_sgd_keeps_no_autograd_graph():
    p = torch.ones(3, dtype=DT, requires_grad=True)
    opt = LossAdaptiveSGD([p], lr=0.1)
    loss = ((p * 2) ** 2).sum()
    loss.backward()
    opt.step(loss=loss)
    assert opt.param_groups[0]["recent_losses"] == [12.0]
    assert all(type(v) is float for v in opt.param_groups[0]["recent_losses"])


# ------------------------------------------------------------------------------------------------
# every optimizer: state_dict round trip, and hyperparameter checks
# ------------------------------------------------------------------------------------------------

FACTORIES = {
    "Lion": lambda ps: Lion(two_groups(ps, lr=0.02), lr=0.01, weight_decay=0.1),
    "AdaBound": lambda ps: AdaBound(two_groups(ps, lr=0.02), lr=0.01, gamma=0.01),
    "AMSBound": lambda ps: AdaBound(two_groups(ps, lr=0.02), lr=0.01, gamma=0.01, amsbound=True),
    "Lookahead(SGD)": lambda ps: Lookahead(SGD(two_groups(ps, lr=0.02), lr=0.05, momentum=0.9), k=5, alpha=0.5),
    "Lookahead(AdaBound)": lambda ps: Lookahead(AdaBound(ps, lr=0.01), k=4, alpha=0.3),
    "GradientCentralization(Adam)": lambda ps: GradientCentralization(Adam(two_groups(ps, lr=0.02), lr=0.05)),
    "LossAdaptiveSGD": lambda ps: LossAdaptiveSGD(two_groups(ps, window=3), lr=0.05, window=5, tolerance=0.05),
}


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_state_dict_round_trip(name):
    params = make_params()
    opt = FACTORIES[name](params)
    # with a schedule, so that the learning rate in the state dict differs from the constructor's
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.5)
    run(opt, params, steps=13, loss=noisy_loss, after_step=lambda t: scheduler.step())
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)  # plain data: loadable with weights_only=True
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    copies = [p.detach().clone().requires_grad_() for p in params]

    continued = run(opt, params, steps=17, loss=lambda ps, t: noisy_loss(ps, t + 13))
    fresh = FACTORIES[name](copies)
    fresh.load_state_dict(saved)
    resumed = run(fresh, copies, steps=17, loss=lambda ps, t: noisy_loss(ps, t + 13))
    for sa, sb in zip(continued, resumed):
        assert all(torch.equal(x, y) for x, y in zip(sa, sb))


def test_state_dict_round_trip_is_not_vacuous():
    # the same protocol without load_state_dict must differ, for every optimizer
    for name, factory in FACTORIES.items():
        params = make_params()
        opt = factory(params)
        run(opt, params, steps=13, loss=noisy_loss)
        copies = [p.detach().clone().requires_grad_() for p in params]
        continued = run(opt, params, steps=17, loss=lambda ps, t: noisy_loss(ps, t + 13))
        fresh = factory(copies)
        restarted = run(fresh, copies, steps=17, loss=lambda ps, t: noisy_loss(ps, t + 13))
        assert max_difference(continued, restarted) > 1e-6, name


def _params():
    return make_params(shapes=((3,), (2,)))


BAD = [
    ("Lion", "lr", -1.0, lambda v: Lion(_params(), lr=v)),
    ("Lion", "betas[0]", 1.0, lambda v: Lion(_params(), betas=(v, 0.99))),
    ("Lion", "betas[1]", -0.5, lambda v: Lion(_params(), betas=(0.9, v))),
    ("Lion", "betas", (0.9,), lambda v: Lion(_params(), betas=v)),
    ("Lion", "weight_decay", -0.1, lambda v: Lion(_params(), weight_decay=v)),
    ("Lion", "maximize", "yes", lambda v: Lion(_params(), maximize=v)),
    ("AdaBound", "lr", float("nan"), lambda v: AdaBound(_params(), lr=v)),
    ("AdaBound", "final_lr", 0.0, lambda v: AdaBound(_params(), final_lr=v)),
    ("AdaBound", "gamma", -0.001, lambda v: AdaBound(_params(), gamma=v)),
    ("AdaBound", "gamma", 0.0, lambda v: AdaBound(_params(), gamma=v)),
    ("AdaBound", "eps", 0.0, lambda v: AdaBound(_params(), eps=v)),
    ("AdaBound", "betas[1]", 1.5, lambda v: AdaBound(_params(), betas=(0.9, v))),
    ("AdaBound", "weight_decay", -2.0, lambda v: AdaBound(_params(), weight_decay=v)),
    ("AdaBound", "amsbound", 1, lambda v: AdaBound(_params(), amsbound=v)),
    ("AdaBound", "base_lr", -0.5, lambda v: AdaBound([{"params": _params(), "base_lr": v}])),
    ("AdaBound", "final_lr", -1.0,
     lambda v: AdaBound(_params()[:1]).add_param_group({"params": _params()[1:], "final_lr": v})),
    ("Lookahead", "k", 0, lambda v: Lookahead(SGD(_params()), k=v)),
    ("Lookahead", "k", 2.5, lambda v: Lookahead(SGD(_params()), k=v)),
    ("Lookahead", "k", True, lambda v: Lookahead(SGD(_params()), k=v)),
    ("Lookahead", "alpha", 1.5, lambda v: Lookahead(SGD(_params()), alpha=v)),
    ("Lookahead", "alpha", -0.25, lambda v: Lookahead(SGD(_params()), alpha=v)),
    ("Lookahead", "alpha", float("nan"), lambda v: Lookahead(SGD(_params()), alpha=v)),
    ("LossAdaptiveSGD", "window", 1, lambda v: LossAdaptiveSGD(_params(), window=v)),
    ("LossAdaptiveSGD", "window", 4.0, lambda v: LossAdaptiveSGD(_params(), window=v)),
    ("LossAdaptiveSGD", "momentum_min", -0.1, lambda v: LossAdaptiveSGD(_params(), momentum_min=v)),
    ("LossAdaptiveSGD", "momentum_max", 1.0, lambda v: LossAdaptiveSGD(_params(), momentum_max=v)),
    ("LossAdaptiveSGD", "momentum_min", 0.97, lambda v: LossAdaptiveSGD(_params(), momentum_min=v)),
    ("LossAdaptiveSGD", "tolerance", 0.0, lambda v: LossAdaptiveSGD(_params(), tolerance=v)),
    ("LossAdaptiveSGD", "tolerance", float("inf"), lambda v: LossAdaptiveSGD(_params(), tolerance=v)),
    ("LossAdaptiveSGD", "weight_decay", -1e-3, lambda v: LossAdaptiveSGD(_params(), weight_decay=v)),
    ("LossAdaptiveSGD", "lr", -0.01, lambda v: LossAdaptiveSGD(_params(), lr=v)),
    ("LossAdaptiveSGD", "momentum", 0.9, lambda v: LossAdaptiveSGD([{"params": _params(), "momentum": v}])),
    ("LossAdaptiveSGD", "window", 0,
     lambda v: LossAdaptiveSGD(_params()[:1]).add_param_group({"params": _params()[1:], "window": v})),
]


@pytest.mark.parametrize("cls,name,value,make", BAD, ids=[f"{c}-{n}={v!r}" for c, n, v, _ in BAD])
def test_bad_hyperparameters_are_value_errors_naming_them(cls, name, value, make):
    with pytest.raises(ValueError) as info:
        make(value)
    message = str(info.value)
    assert name in message, message
    assert repr(value) in message, message


def test_wrappers_need_an_optimizer():
    with pytest.raises(TypeError, match="base_optimizer"):
        Lookahead(_params())
    with pytest.raises(TypeError, match="base_optimizer"):
        GradientCentralization("SGD")
