"""course_lib.schedules against torch.optim.lr_scheduler as the oracle, plus properties of its own.

PyTorch's schedulers run on a parameter that never gets a gradient, in the documented loop
``optimizer.step(); scheduler.step()``; the rate read from the optimizer before update ``t`` must
equal ``f(t)`` to 1e-12.
"""

from __future__ import annotations

import copy
import doctest
import importlib
import io
import math
import re
from functools import partial

import mpmath
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.optim import lr_scheduler as L

import course_lib.schedules
from course_lib.optim import SGD as CourseSGD
from course_lib.schedules import (
    FunctionScheduler,
    ReduceOnPlateau,
    constant,
    cosine_annealing,
    cosine_warm_restarts,
    cyclic,
    cyclic_momentum,
    exponential_decay,
    lr_range_test,
    multistep_decay,
    one_cycle,
    one_cycle_momentum,
    polynomial_decay,
    schedule_values,
    step_decay,
    warmup_cosine,
)

TOL = 1e-12
LR = 0.1


def _momentum(group):
    return group["betas"][0] if "betas" in group else group["momentum"]


def torch_trace(make_scheduler, n, group_lrs=(LR,), optimizer=torch.optim.SGD, **opt_kwargs):
    """Per step t < n: the list of group rates and the list of group momenta before update t."""
    params = [torch.zeros(1, requires_grad=True) for _ in group_lrs]
    opt = optimizer([{"params": [p], "lr": lr} for p, lr in zip(params, group_lrs)], **opt_kwargs)
    sched = make_scheduler(opt)
    lrs, moms = [], []
    for t in range(n):
        lrs.append([g["lr"] for g in opt.param_groups])
        moms.append([_momentum(g) for g in opt.param_groups if "momentum" in g or "betas" in g])
        opt.step()
        if t < n - 1:
            sched.step()
    return lrs, moms


def assert_close_seq(ours, theirs, tol=TOL):
    assert len(ours) == len(theirs)
    worst = max(range(len(ours)), key=lambda t: abs(ours[t] - theirs[t]))
    assert abs(ours[worst] - theirs[worst]) <= tol, (
        f"step {worst}: ours {ours[worst]!r}, PyTorch {theirs[worst]!r}")


# --------------------------------------------------------------------------- PyTorch's sequences

# (id, PyTorch scheduler factory, our schedule with lr=LR, number of steps)
LR_CASES = [
    ("constant-half-4", lambda o: L.ConstantLR(o, factor=0.5, total_iters=4),
     partial(constant, lr=LR, factor=0.5, total_iters=4), 210),
    ("constant-default", lambda o: L.ConstantLR(o), partial(constant, lr=LR, factor=1 / 3, total_iters=5), 210),
    ("constant-zero-factor-never-restored", lambda o: L.ConstantLR(o, factor=0.0, total_iters=300),
     partial(constant, lr=LR, factor=0.0, total_iters=300), 210),
    ("step-1-0.5", lambda o: L.StepLR(o, step_size=1, gamma=0.5), partial(step_decay, lr=LR, step_size=1, gamma=0.5), 210),
    ("step-7-0.1", lambda o: L.StepLR(o, step_size=7), partial(step_decay, lr=LR, step_size=7), 210),
    ("step-30-0.9", lambda o: L.StepLR(o, 30, gamma=0.9), partial(step_decay, lr=LR, step_size=30, gamma=0.9), 250),
    ("multistep", lambda o: L.MultiStepLR(o, [3, 10, 50], gamma=0.5),
     partial(multistep_decay, lr=LR, milestones=[3, 10, 50], gamma=0.5), 210),
    ("multistep-repeated", lambda o: L.MultiStepLR(o, [5, 20, 20, 100], gamma=0.3),
     partial(multistep_decay, lr=LR, milestones=[5, 20, 20, 100], gamma=0.3), 210),
    ("multistep-at-0", lambda o: L.MultiStepLR(o, [0, 7]), partial(multistep_decay, lr=LR, milestones=[0, 7]), 210),
    ("multistep-none", lambda o: L.MultiStepLR(o, []), partial(multistep_decay, lr=LR, milestones=[]), 210),
    ("exp-0.97", lambda o: L.ExponentialLR(o, 0.97), partial(exponential_decay, lr=LR, gamma=0.97), 250),
    ("exp-0.5", lambda o: L.ExponentialLR(o, 0.5), partial(exponential_decay, lr=LR, gamma=0.5), 210),
    ("exp-growing-1.02", lambda o: L.ExponentialLR(o, 1.02), partial(exponential_decay, lr=LR, gamma=1.02), 210),
    ("poly-default", lambda o: L.PolynomialLR(o), partial(polynomial_decay, lr=LR), 210),
    ("poly-50-2", lambda o: L.PolynomialLR(o, 50, 2.0), partial(polynomial_decay, lr=LR, total_iters=50, power=2.0), 210),
    ("poly-150-0.5", lambda o: L.PolynomialLR(o, 150, 0.5), partial(polynomial_decay, lr=LR, total_iters=150, power=0.5), 210),
    ("poly-1-1", lambda o: L.PolynomialLR(o, 1, 1.0), partial(polynomial_decay, lr=LR, total_iters=1), 210),
    ("poly-power-0", lambda o: L.PolynomialLR(o, 10, 0.0), partial(polynomial_decay, lr=LR, total_iters=10, power=0.0), 210),
    ("cos-1", lambda o: L.CosineAnnealingLR(o, 1), partial(cosine_annealing, lr=LR, T_max=1), 210),
    ("cos-10-min", lambda o: L.CosineAnnealingLR(o, 10, eta_min=1e-3),
     partial(cosine_annealing, lr=LR, T_max=10, eta_min=1e-3), 250),
    ("cos-37", lambda o: L.CosineAnnealingLR(o, 37), partial(cosine_annealing, lr=LR, T_max=37), 250),
    ("cos-100-min", lambda o: L.CosineAnnealingLR(o, 100, eta_min=0.05),
     partial(cosine_annealing, lr=LR, T_max=100, eta_min=0.05), 450),
    ("cos-10-long", lambda o: L.CosineAnnealingLR(o, 10, eta_min=0.01),
     partial(cosine_annealing, lr=LR, T_max=10, eta_min=0.01), 10_000),
    ("sgdr-10", lambda o: L.CosineAnnealingWarmRestarts(o, 10), partial(cosine_warm_restarts, lr=LR, T_0=10), 250),
    ("sgdr-1-2", lambda o: L.CosineAnnealingWarmRestarts(o, 1, 2), partial(cosine_warm_restarts, lr=LR, T_0=1, T_mult=2), 300),
    ("sgdr-3-3-min", lambda o: L.CosineAnnealingWarmRestarts(o, 3, 3, eta_min=0.01),
     partial(cosine_warm_restarts, lr=LR, T_0=3, T_mult=3, eta_min=0.01), 400),
    ("sgdr-2-3-past-242", lambda o: L.CosineAnnealingWarmRestarts(o, 2, 3),
     partial(cosine_warm_restarts, lr=LR, T_0=2, T_mult=3), 800),
    ("sgdr-7-2", lambda o: L.CosineAnnealingWarmRestarts(o, 7, 2, eta_min=0.02),
     partial(cosine_warm_restarts, lr=LR, T_0=7, T_mult=2, eta_min=0.02), 400),
]


@pytest.mark.parametrize("make_torch, ours, n", [pytest.param(*c[1:], id=c[0]) for c in LR_CASES])
def test_lr_sequence_equals_pytorch(make_torch, ours, n):
    theirs, _ = torch_trace(make_torch, n)
    assert_close_seq(schedule_values(ours, n), [lrs[0] for lrs in theirs])


def _warmup_cosine_torch(start_factor, warmup, total, eta_min):
    def make(opt):
        return L.SequentialLR(opt, [L.LinearLR(opt, start_factor=start_factor, total_iters=warmup),
                                    L.CosineAnnealingLR(opt, T_max=total - warmup, eta_min=eta_min)],
                              milestones=[warmup])
    return make


@pytest.mark.parametrize("start_factor, warmup, total, min_lr", [
    (0.1, 20, 250, 0.0), (1 / 3, 1, 240, 1e-3), (0.01, 100, 201, 0.01), (0.5, 5, 300, 0.02),
])
def test_warmup_cosine_equals_linear_then_cosine_in_pytorch(start_factor, warmup, total, min_lr):
    n = total + 1  # up to and including total_steps, where both reach min_lr
    theirs, _ = torch_trace(_warmup_cosine_torch(start_factor, warmup, total, min_lr), n)
    ours = partial(warmup_cosine, lr=LR, warmup_steps=warmup, total_steps=total, min_lr=min_lr,
                   start_lr=start_factor * LR)
    assert_close_seq(schedule_values(ours, n), [lrs[0] for lrs in theirs])


def test_warmup_cosine_stays_at_min_lr_where_pytorch_climbs_back():
    warmup, total, n = 10, 100, 200
    theirs, _ = torch_trace(_warmup_cosine_torch(0.1, warmup, total, 0.01), n)
    ours = partial(warmup_cosine, lr=LR, warmup_steps=warmup, total_steps=total, min_lr=0.01, start_lr=0.01)
    assert schedule_values(ours, range(total, n)) == [0.01] * (n - total)
    assert theirs[total + (total - warmup)][0] == pytest.approx(LR, abs=TOL)  # a full half-period later


def test_warmup_cosine_without_warmup_is_clamped_cosine_annealing():
    for t in range(300):
        expected = cosine_annealing(t, lr=LR, T_max=120, eta_min=1e-3) if t <= 120 else 1e-3
        assert warmup_cosine(t, lr=LR, warmup_steps=0, total_steps=120, min_lr=1e-3) == pytest.approx(expected, abs=TOL)


ONE_CYCLE_CASES = [
    dict(max_lr=0.1, total_steps=250),
    dict(max_lr=1.0, total_steps=200, pct_start=0.25, anneal_strategy="linear"),
    dict(max_lr=0.5, total_steps=300, pct_start=0.4, three_phase=True),
    dict(max_lr=0.3, total_steps=220, pct_start=0.5, anneal_strategy="linear", div_factor=10.0,
         final_div_factor=100.0, three_phase=True, base_momentum=0.8, max_momentum=0.99),
    dict(max_lr=0.2, total_steps=201, pct_start=0.1, base_momentum=0.5, max_momentum=0.9),
    dict(max_lr=0.05, total_steps=333, pct_start=0.333, anneal_strategy="linear", three_phase=True),
]
_MOMENTUM_KEYS = ("base_momentum", "max_momentum")


def _split_one_cycle(kw):
    lr_kw = {k: v for k, v in kw.items() if k not in _MOMENTUM_KEYS}
    mom_kw = {k: v for k, v in kw.items() if k not in ("max_lr", "div_factor", "final_div_factor")}
    return lr_kw, mom_kw


@pytest.mark.parametrize("kw", ONE_CYCLE_CASES, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_one_cycle_lr_and_momentum_equal_pytorch(kw, optimizer):
    n = kw["total_steps"]
    opt_cls, opt_kw = (torch.optim.SGD, dict(momentum=0.9)) if optimizer == "SGD" else (torch.optim.Adam, {})
    lrs, moms = torch_trace(lambda o: L.OneCycleLR(o, **kw), n, optimizer=opt_cls, **opt_kw)
    lr_kw, mom_kw = _split_one_cycle(kw)
    assert_close_seq(schedule_values(partial(one_cycle, **lr_kw), n), [x[0] for x in lrs])
    assert_close_seq(schedule_values(partial(one_cycle_momentum, **mom_kw), n), [m[0] for m in moms])


@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_one_cycle_after_the_last_update_holds_the_final_value_where_pytorch_extrapolates(strategy):
    kw = dict(max_lr=0.1, total_steps=100, anneal_strategy=strategy)
    params = [torch.zeros(1, requires_grad=True)]
    opt = torch.optim.SGD(params, lr=LR, momentum=0.9)
    sched = L.OneCycleLR(opt, **kw)
    for _ in range(100):
        opt.step()
        sched.step()
    torch_lr, torch_mom = opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]
    final_lr = 0.1 / 25.0 / 1e4
    assert one_cycle(100, **kw) == final_lr
    assert one_cycle_momentum(100, total_steps=100, anneal_strategy=strategy) == 0.95
    if strategy == "linear":
        assert torch_lr < 0 and torch_mom > 0.95
    else:
        assert torch_lr > final_lr and torch_mom < 0.95
    opt.step()
    with pytest.raises(ValueError, match="total steps"):
        sched.step()
    with pytest.raises(ValueError, match=re.escape("Invalid step: 101")):
        one_cycle(101, **kw)
    with pytest.raises(ValueError, match=re.escape("Invalid step: 101")):
        one_cycle_momentum(101, total_steps=100)


CYCLIC_CASES = [
    dict(base_lr=0.01, max_lr=0.1, step_size_up=10),
    dict(base_lr=0.001, max_lr=0.1, step_size_up=15, step_size_down=5),
    dict(base_lr=0.01, max_lr=0.5, step_size_up=7, step_size_down=3, mode="triangular2"),
    dict(base_lr=0.02, max_lr=0.2, step_size_up=20, mode="exp_range", gamma=0.99),
    dict(base_lr=0.0, max_lr=1.0, step_size_up=1, step_size_down=13, mode="exp_range", gamma=0.995,
         base_momentum=0.5, max_momentum=0.95),
    dict(base_lr=0.05, max_lr=0.06, step_size_up=3, mode="triangular2", base_momentum=0.85, max_momentum=0.99),
]


@pytest.mark.parametrize("kw", CYCLIC_CASES, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_cyclic_lr_and_momentum_equal_pytorch(kw):
    n = 300
    lrs, moms = torch_trace(lambda o: L.CyclicLR(o, **kw), n, momentum=0.9)
    lr_kw = {k: v for k, v in kw.items() if k not in _MOMENTUM_KEYS}
    mom_kw = {k: v for k, v in kw.items() if k not in ("base_lr", "max_lr")}
    assert_close_seq(schedule_values(partial(cyclic, **lr_kw), n), [x[0] for x in lrs])
    assert_close_seq(schedule_values(partial(cyclic_momentum, **mom_kw), n), [m[0] for m in moms])


def test_cyclic_triangular2_underflows_where_pytorch_overflows():
    kw = dict(base_lr=0.01, max_lr=0.1, step_size_up=1, mode="triangular2")
    with pytest.raises(OverflowError):
        torch_trace(lambda o: L.CyclicLR(o, **kw), 2 * 1026, momentum=0.9)
    late = schedule_values(partial(cyclic, **kw), range(2 * 1100, 2 * 1100 + 4))
    assert late == [0.01] * 4


# --------------------------------------------------------------------------- documented differences

def test_constant_with_zero_total_iters_is_lr_where_pytorch_never_restores():
    theirs, _ = torch_trace(lambda o: L.ConstantLR(o, factor=0.5, total_iters=0), 5)
    assert [x[0] for x in theirs] == [0.05] * 5
    assert schedule_values(partial(constant, lr=LR, factor=0.5, total_iters=0), 5) == [LR] * 5


def test_sgdr_epoch_path_of_pytorch_misses_a_restart_that_the_step_path_and_ours_hit():
    params = [torch.zeros(1, requires_grad=True)]
    opt = torch.optim.SGD(params, lr=LR)
    sched = L.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=3)
    sched.step(242)  # 242 = 2 + 6 + 18 + 54 + 162, the start of the sixth cycle
    assert opt.param_groups[0]["lr"] == 0.0
    assert cosine_warm_restarts(242, lr=LR, T_0=2, T_mult=3) == LR


@pytest.mark.parametrize("T_max", [3, 10, 97])
@pytest.mark.parametrize("step", [10**5 + 1, 10**6 + 7, 123_456_789])
def test_cosine_annealing_is_correctly_rounded_far_out(T_max, step):
    # The reason for reducing the step modulo 2 T_max: PyTorch's recursion and the unreduced closed
    # form both drift by 1e-13..1e-12 after 1e5 steps.
    with mpmath.workdps(50):
        exact = float(mpmath.mpf(0.01) + (mpmath.mpf(LR) - mpmath.mpf(0.01))
                      * (1 + mpmath.cos(mpmath.pi * step / T_max)) / 2)
    assert abs(cosine_annealing(step, lr=LR, T_max=T_max, eta_min=0.01) - exact) <= 1e-16


# --------------------------------------------------------------------------- reduce on plateau

def _torch_plateau(lr, metrics, **kw):
    params = [torch.zeros(1, requires_grad=True)]
    opt = torch.optim.SGD(params, lr=lr)
    sched = L.ReduceLROnPlateau(opt, **kw)
    out = []
    for m in metrics:
        opt.step()
        sched.step(m)
        out.append((opt.param_groups[0]["lr"], sched.best, sched.num_bad_epochs, sched.cooldown_counter))
    return out


def _ours_plateau(lr, metrics, **kw):
    p = ReduceOnPlateau(lr, **kw)
    out = []
    for m in metrics:
        new_lr = p.step(m)
        assert new_lr == p.lr
        out.append((new_lr, p.best, p.num_bad_epochs, p.cooldown_counter))
    return out


def _scripted_metrics():
    gen = torch.Generator().manual_seed(0)
    noise = (0.05 * torch.randn(120, generator=gen, dtype=torch.float64)).tolist()
    falling_then_flat = [1.0 / (1 + 0.3 * k) if k < 30 else 1.0 / 10 + noise[k] * 1e-3 for k in range(120)]
    random_walk = [1.0 + sum(noise[: k + 1]) for k in range(120)]
    rising = [0.2 + 0.01 * k + noise[k] for k in range(120)]
    negative = [-1.0 - 0.001 * k + noise[k] * 0.01 for k in range(120)]
    with_nan = [1.0, 0.9, float("nan"), 0.8, float("nan"), float("nan"), 0.85, 0.7] * 10
    return {"falling_then_flat": falling_then_flat, "random_walk": random_walk, "rising": rising,
            "negative": negative, "with_nan": with_nan}


PLATEAU_KWARGS = [
    dict(),
    dict(patience=0),
    dict(patience=3, factor=0.5, cooldown=2),
    dict(mode="max", patience=2, factor=0.3),
    dict(threshold_mode="abs", threshold=0.01, patience=4, cooldown=1),
    dict(mode="max", threshold_mode="abs", threshold=0.0, patience=1, min_lr=1e-3),
    dict(patience=1, factor=0.5, min_lr=0.09, eps=1e-8),
    dict(patience=1, factor=0.9, eps=0.005),
]


@pytest.mark.parametrize("kw", PLATEAU_KWARGS, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()) or "defaults")
@pytest.mark.parametrize("name", list(_scripted_metrics()))
def test_reduce_on_plateau_equals_pytorch_on_scripted_metrics(kw, name):
    metrics = _scripted_metrics()[name]
    # The same floating-point operations in the same order: (lr, best, bad steps, cooldown) agree exactly.
    assert _ours_plateau(LR, metrics, **kw) == _torch_plateau(LR, metrics, **kw)


def test_scripted_metrics_make_reduce_on_plateau_reduce_and_skip():
    # Guards the table above against metric sequences that never trigger anything.
    metrics = _scripted_metrics()
    lrs = [r[0] for r in _ours_plateau(LR, metrics["falling_then_flat"], patience=3, cooldown=2)]
    assert lrs[29] == LR and lrs[-1] < LR / 100
    lrs = [r[0] for r in _ours_plateau(LR, metrics["rising"], patience=1, factor=0.5, min_lr=0.09)]
    assert lrs[-1] == 0.09
    lrs = [r[0] for r in _ours_plateau(LR, metrics["rising"], patience=1, factor=0.9, eps=0.005)]
    # A cut by 10% is skipped once it would be smaller than eps, i.e. once lr <= 0.05.
    assert 0.9 * 0.05 < lrs[-1] <= 0.05 and lrs[-1] == min(lrs)


@settings(max_examples=60, deadline=None)
@given(
    metrics=st.lists(st.one_of(st.floats(-10, 10), st.sampled_from([0.0, 1.0, 1.0001])), min_size=1, max_size=60),
    mode=st.sampled_from(["min", "max"]),
    threshold_mode=st.sampled_from(["rel", "abs"]),
    threshold=st.sampled_from([0.0, 1e-4, 0.1]),
    factor=st.sampled_from([0.1, 0.5, 0.99]),
    patience=st.integers(0, 4),
    cooldown=st.integers(0, 3),
    min_lr=st.sampled_from([0.0, 1e-3]),
)
def test_reduce_on_plateau_equals_pytorch_on_any_sequence(metrics, mode, threshold_mode, threshold,
                                                         factor, patience, cooldown, min_lr):
    kw = dict(mode=mode, threshold_mode=threshold_mode, threshold=threshold, factor=factor,
              patience=patience, cooldown=cooldown, min_lr=min_lr)
    ours = _ours_plateau(LR, metrics, **kw)
    assert ours == _torch_plateau(LR, metrics, **kw)
    lrs = [LR] + [r[0] for r in ours]
    assert all(b <= a for a, b in zip(lrs, lrs[1:])) and lrs[-1] >= min_lr


def test_reduce_on_plateau_accepts_tensor_metrics():
    p = ReduceOnPlateau(LR, patience=0)
    assert [p.step(torch.tensor(v)) for v in (1.0, 2.0)] == [LR, pytest.approx(LR * 0.1)]


# --------------------------------------------------------------------------- properties

@settings(max_examples=200, deadline=None)
@given(lr=st.floats(1e-4, 10.0), min_frac=st.floats(0.0, 1.0), start_frac=st.floats(0.0, 1.0),
       total=st.integers(1, 400), warmup_frac=st.floats(0.0, 1.0))
def test_warmup_cosine_rises_then_falls_within_bounds(lr, min_frac, start_frac, total, warmup_frac):
    min_lr, start_lr, warmup = lr * min_frac, lr * start_frac, int(total * warmup_frac)
    f = partial(warmup_cosine, lr=lr, warmup_steps=warmup, total_steps=total, min_lr=min_lr, start_lr=start_lr)
    v = schedule_values(f, total + 5)
    lo = min(min_lr, start_lr)
    assert all(lo <= x <= lr * (1 + 1e-15) for x in v)
    rising = v[: min(warmup, total - 1) + 1]  # with warmup == total the peak is never reached
    assert all(a <= b for a, b in zip(rising, rising[1:]))
    assert all(a >= b for a, b in zip(v[warmup:], v[warmup + 1 :]))
    assert v[0] == pytest.approx(start_lr if warmup > 0 else lr, rel=1e-15)
    if warmup < total:
        assert v[warmup] == pytest.approx(lr, rel=1e-15)
    assert v[total:] == [min_lr] * 5


@settings(max_examples=100, deadline=None)
@given(T_0=st.integers(1, 20), T_mult=st.integers(1, 4), eta_frac=st.floats(0.0, 0.9))
def test_sgdr_restarts_at_the_cycle_starts_and_anneals_in_between(T_0, T_mult, eta_frac):
    eta_min = LR * eta_frac
    n = 600
    v = schedule_values(partial(cosine_warm_restarts, lr=LR, T_0=T_0, T_mult=T_mult, eta_min=eta_min), n)
    starts = [T_0 * i if T_mult == 1 else T_0 * (T_mult**i - 1) // (T_mult - 1) for i in range(n)]
    starts = [s for s in starts if s < n]
    assert [t for t in range(n) if v[t] == LR] == starts
    for a, b in zip(starts, starts[1:] + [n]):
        cycle = v[a:b]
        assert all(x > y for x, y in zip(cycle, cycle[1:])) or len(cycle) == 1
        assert all(eta_min <= x <= LR for x in cycle)


@settings(max_examples=100, deadline=None)
@given(up=st.integers(1, 30), down=st.integers(1, 30), mode=st.sampled_from(["triangular", "triangular2", "exp_range"]),
       gamma=st.floats(0.9, 1.0), base_frac=st.floats(0.0, 1.0), m_lo=st.floats(0.0, 0.9))
def test_cyclic_momentum_mirrors_the_rate_within_bounds(up, down, mode, gamma, base_frac, m_lo):
    base_lr, m_hi = LR * base_frac, m_lo + 0.05
    common = dict(step_size_up=up, step_size_down=down, mode=mode, gamma=gamma)
    for t in range(3 * (up + down)):
        lr = cyclic(t, base_lr=base_lr, max_lr=LR, **common)
        m = cyclic_momentum(t, base_momentum=m_lo, max_momentum=m_hi, **common)
        assert base_lr - 1e-16 <= lr <= LR + 1e-16 and m_lo - 1e-16 <= m <= m_hi + 1e-16
        if LR - base_lr > 1e-6:  # else the normalisation below only measures rounding
            assert (lr - base_lr) / (LR - base_lr) == pytest.approx((m_hi - m) / (m_hi - m_lo), abs=1e-9)
        if t % (up + down) == up and mode == "triangular":
            assert lr == pytest.approx(LR) and m == pytest.approx(m_lo)


@settings(max_examples=100, deadline=None)
@given(total=st.integers(10, 500), pct=st.floats(0.05, 0.45), three_phase=st.booleans(),
       strategy=st.sampled_from(["cos", "linear"]))
def test_one_cycle_stays_between_final_and_peak_and_starts_at_initial(total, pct, three_phase, strategy):
    kw = dict(total_steps=total, pct_start=pct, anneal_strategy=strategy, three_phase=three_phase)
    if pct * total <= 1:
        with pytest.raises(ValueError, match="Invalid pct_start"):
            one_cycle(0, max_lr=1.0, **kw)
        return
    lrs = schedule_values(partial(one_cycle, max_lr=1.0, div_factor=20.0, final_div_factor=50.0, **kw), total + 1)
    moms = schedule_values(partial(one_cycle_momentum, **kw), total + 1)
    assert lrs[0] == pytest.approx(1.0 / 20, rel=1e-15) and moms[0] == pytest.approx(0.95, rel=1e-15)
    assert all(1.0 / 20 / 50 - 1e-15 <= x <= 1.0 + 1e-15 for x in lrs)
    assert all(0.85 - 1e-15 <= m <= 0.95 + 1e-15 for m in moms)
    assert lrs[total - 1] == pytest.approx(1.0 / 20 / 50, abs=1e-15) and lrs[total] == 1.0 / 20 / 50
    peak = lrs.index(max(lrs))
    assert all(a <= b for a, b in zip(lrs[:peak], lrs[1 : peak + 1]))


@pytest.mark.parametrize("fn, kw", [
    (step_decay, dict(lr=LR, step_size=3)), (exponential_decay, dict(lr=LR, gamma=0.9)),
    (cosine_annealing, dict(lr=LR, T_max=17)), (cyclic, dict(base_lr=0.0, max_lr=LR, step_size_up=5)),
])
def test_schedules_accept_numpy_integers_and_schedule_values_accepts_any_steps(fn, kw):
    np = pytest.importorskip("numpy")
    steps = np.arange(0, 50, 7)
    assert schedule_values(partial(fn, **kw), steps) == [fn(int(t), **kw) for t in steps]
    assert schedule_values(partial(fn, **kw), 5) == schedule_values(partial(fn, **kw), range(5))
    assert schedule_values(partial(fn, **kw), 0) == []


@pytest.mark.parametrize("module", ["decay", "cosine", "cyclical", "plateau", "driver"])
def test_docstring_examples(module):
    mod = importlib.import_module(f"course_lib.schedules.{module}")
    result = doctest.testmod(mod, extraglobs=vars(course_lib.schedules), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# --------------------------------------------------------------------------- validation

def _invalid(fn, name, value, **kw):
    return pytest.param(fn, name, value, kw, id=f"{getattr(fn, '__name__', fn)}-{name}={value!r}")


INVALID = [
    _invalid(constant, "step", -1, lr=LR),
    _invalid(constant, "step", 1.5, lr=LR),
    _invalid(constant, "step", True, lr=LR),
    _invalid(constant, "lr", -0.1),
    _invalid(constant, "lr", float("nan")),
    _invalid(constant, "factor", 1.5, lr=LR),
    _invalid(constant, "total_iters", -1, lr=LR),
    _invalid(step_decay, "step_size", 0, lr=LR),
    _invalid(step_decay, "gamma", 0.0, lr=LR, step_size=2),
    _invalid(step_decay, "gamma", -0.5, lr=LR, step_size=2),
    _invalid(multistep_decay, "milestones", [5, 3], lr=LR),
    _invalid(multistep_decay, "milestones", 5, lr=LR),
    _invalid(multistep_decay, "milestones[0]", -1, lr=LR),
    _invalid(multistep_decay, "gamma", 0.0, lr=LR, milestones=[2]),
    _invalid(exponential_decay, "gamma", 0.0, lr=LR),
    _invalid(exponential_decay, "lr", -1.0, gamma=0.9),
    _invalid(polynomial_decay, "total_iters", 0, lr=LR),
    _invalid(polynomial_decay, "power", -1.0, lr=LR),
    _invalid(cosine_annealing, "T_max", 0, lr=LR),
    _invalid(cosine_annealing, "T_max", -3, lr=LR),
    _invalid(cosine_annealing, "T_max", 10.0, lr=LR),
    _invalid(cosine_annealing, "eta_min", 0.2, lr=LR, T_max=10),
    _invalid(cosine_annealing, "eta_min", -0.01, lr=LR, T_max=10),
    _invalid(warmup_cosine, "warmup_steps", 300, lr=LR, total_steps=200),
    _invalid(warmup_cosine, "total_steps", 0, lr=LR, warmup_steps=0),
    _invalid(warmup_cosine, "min_lr", 0.5, lr=LR, warmup_steps=1, total_steps=10),
    _invalid(warmup_cosine, "start_lr", 0.5, lr=LR, warmup_steps=1, total_steps=10),
    _invalid(cosine_warm_restarts, "T_0", 0, lr=LR),
    _invalid(cosine_warm_restarts, "T_mult", 0, lr=LR, T_0=5),
    _invalid(cosine_warm_restarts, "T_mult", 1.5, lr=LR, T_0=5),
    _invalid(one_cycle, "pct_start", 0.0, max_lr=LR, total_steps=100),
    _invalid(one_cycle, "pct_start", 1.0, max_lr=LR, total_steps=100),
    _invalid(one_cycle, "pct_start", 1.2, max_lr=LR, total_steps=100),
    _invalid(one_cycle, "pct_start", -0.1, max_lr=LR, total_steps=100),
    _invalid(one_cycle, "pct_start", 0.3, max_lr=LR, total_steps=3),
    _invalid(one_cycle, "pct_start", 0.7, max_lr=LR, total_steps=100, three_phase=True),
    _invalid(one_cycle, "anneal_strategy", "exp", max_lr=LR, total_steps=100),
    _invalid(one_cycle, "total_steps", 0, max_lr=LR),
    _invalid(one_cycle, "three_phase", "yes", max_lr=LR, total_steps=100),
    _invalid(one_cycle, "div_factor", 0.0, max_lr=LR, total_steps=100),
    _invalid(one_cycle, "max_lr", -1.0, total_steps=100),
    _invalid(one_cycle_momentum, "base_momentum", 0.99, total_steps=100),
    _invalid(one_cycle_momentum, "max_momentum", 1.5, total_steps=100),
    _invalid(cyclic, "mode", "sawtooth", base_lr=0.01, max_lr=LR),
    _invalid(cyclic, "base_lr", 0.5, max_lr=LR),
    _invalid(cyclic, "step_size_up", 0, base_lr=0.01, max_lr=LR),
    _invalid(cyclic, "step_size_down", 0, base_lr=0.01, max_lr=LR),
    _invalid(cyclic, "gamma", 0.0, base_lr=0.01, max_lr=LR, mode="exp_range"),
    _invalid(cyclic_momentum, "base_momentum", 0.95),
]


@pytest.mark.parametrize("fn, name, value, kw", INVALID)
def test_invalid_hyperparameters_raise_value_error_naming_them(fn, name, value, kw):
    call = dict(kw)
    step = 0
    if name == "step":
        step = value
    elif "[" not in name:
        call[name] = value
    else:
        call["milestones"] = [value]
    with pytest.raises(ValueError, match=re.escape(f"Invalid {name}: {value!r}")):
        fn(step, **call)


@pytest.mark.parametrize("kw, name", [
    (dict(mode="avg"), "mode"), (dict(threshold_mode="pct"), "threshold_mode"), (dict(factor=1.0), "factor"),
    (dict(factor=0.0), "factor"), (dict(patience=-1), "patience"), (dict(cooldown=-1), "cooldown"),
    (dict(min_lr=0.5), "min_lr"), (dict(threshold=-1e-4), "threshold"), (dict(eps=-1.0), "eps"),
])
def test_reduce_on_plateau_rejects_invalid_hyperparameters(kw, name):
    with pytest.raises(ValueError, match=re.escape(f"Invalid {name}: {next(iter(kw.values()))!r}")):
        ReduceOnPlateau(LR, **kw)
    with pytest.raises(ValueError, match=re.escape("Invalid lr: -0.1")):
        ReduceOnPlateau(-0.1)


def test_schedule_values_rejects_negative_counts_and_steps():
    with pytest.raises(ValueError, match=re.escape("Invalid steps: -1")):
        schedule_values(partial(constant, lr=LR), -1)
    with pytest.raises(ValueError, match=re.escape("Invalid step: -2")):
        schedule_values(partial(constant, lr=LR), [0, -2])


# --------------------------------------------------------------------------- the driver

def _drive(opt, sched, n, grad):
    """Run n updates on a loss whose gradient is the constant ``grad`` for every parameter;
    return the group rates and momenta used at each update."""
    lrs, moms = [], []
    for _ in range(n):
        lrs.append([g["lr"] for g in opt.param_groups])
        moms.append([_momentum(g) for g in opt.param_groups])
        for group in opt.param_groups:
            for p in group["params"]:
                p.grad = torch.full_like(p, grad)
        opt.step()
        sched.step()
    return lrs, moms


@pytest.mark.parametrize("optimizer", [CourseSGD, torch.optim.SGD], ids=["course_lib.SGD", "torch.SGD"])
def test_driver_sets_the_rate_every_update_uses(optimizer):
    n, fn = 60, partial(warmup_cosine, lr=0.5, warmup_steps=10, total_steps=50, min_lr=0.01, start_lr=0.05)
    p = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt = optimizer([p], lr=1.0)
    lrs, _ = _drive(opt, FunctionScheduler(opt, fn), n, grad=2.0)
    assert [x[0] for x in lrs] == schedule_values(fn, n)
    # Plain SGD on a constant gradient g moves by -g * sum of the rates it used.
    torch.testing.assert_close(p.detach(), torch.full((3,), -2.0 * math.fsum(schedule_values(fn, n)), dtype=torch.float64),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("make_torch, fn", [
    (lambda o: L.StepLR(o, 7, gamma=0.5), partial(step_decay, step_size=7, gamma=0.5)),
    (lambda o: L.ExponentialLR(o, 0.97), partial(exponential_decay, gamma=0.97)),
    (lambda o: L.CosineAnnealingLR(o, 40), partial(cosine_annealing, T_max=40)),
    (lambda o: L.PolynomialLR(o, 150, 2.0), partial(polynomial_decay, total_iters=150, power=2.0)),
], ids=["step", "exponential", "cosine", "polynomial"])
@pytest.mark.parametrize("optimizer", [CourseSGD, torch.optim.SGD], ids=["course_lib.SGD", "torch.SGD"])
def test_driver_with_one_function_scales_groups_as_pytorch_does(make_torch, fn, optimizer):
    group_lrs, n = (0.3, 0.03, 1.2), 210
    theirs, _ = torch_trace(make_torch, n, group_lrs=group_lrs)
    params = [torch.zeros(2, requires_grad=True) for _ in group_lrs]
    opt = optimizer([{"params": [p], "lr": lr} for p, lr in zip(params, group_lrs)])
    # The function gives the first group's rate; the other groups keep their ratio to it.
    ours, _ = _drive(opt, FunctionScheduler(opt, partial(fn, lr=group_lrs[0])), n, grad=1.0)
    for g in range(len(group_lrs)):
        assert_close_seq([x[g] for x in ours], [x[g] for x in theirs])


def test_driver_with_one_function_per_group_equals_one_cycle_with_per_group_bounds():
    group_max, n = [0.1, 0.02], 200
    moms_bounds = [(0.85, 0.95), (0.7, 0.9)]
    theirs, their_moms = torch_trace(
        lambda o: L.OneCycleLR(o, max_lr=group_max, total_steps=n, base_momentum=[b for b, _ in moms_bounds],
                               max_momentum=[m for _, m in moms_bounds]),
        n, group_lrs=(1.0, 1.0), optimizer=torch.optim.Adam)
    params = [torch.zeros(2, requires_grad=True) for _ in group_max]
    opt = torch.optim.Adam([{"params": [p]} for p in params], lr=1.0)
    sched = FunctionScheduler(
        opt, [partial(one_cycle, max_lr=m, total_steps=n) for m in group_max],
        momentum_fn=[partial(one_cycle_momentum, total_steps=n, base_momentum=b, max_momentum=m) for b, m in moms_bounds])
    lrs, moms = [], []
    for t in range(n):
        lrs.append([g["lr"] for g in opt.param_groups])
        moms.append([g["betas"][0] for g in opt.param_groups])
        assert all(g["betas"][1] == 0.999 for g in opt.param_groups)
        opt.step()
        sched.step()
    for g in range(2):
        assert_close_seq([x[g] for x in lrs], [x[g] for x in theirs])
        assert_close_seq([x[g] for x in moms], [x[g] for x in their_moms])


@pytest.mark.parametrize("optimizer", [CourseSGD, torch.optim.SGD], ids=["course_lib.SGD", "torch.SGD"])
def test_driver_cycles_sgd_momentum_like_pytorch_cyclic_lr(optimizer):
    kw, n = dict(step_size_up=8, step_size_down=4, mode="triangular2"), 120
    theirs, their_moms = torch_trace(lambda o: L.CyclicLR(o, base_lr=0.01, max_lr=0.1, **kw), n, momentum=0.9)
    p = torch.zeros(2, requires_grad=True)
    opt = optimizer([p], lr=0.01, momentum=0.9)
    sched = FunctionScheduler(opt, partial(cyclic, base_lr=0.01, max_lr=0.1, **kw),
                              momentum_fn=partial(cyclic_momentum, **kw))
    lrs, moms = _drive(opt, sched, n, grad=1.0)
    assert_close_seq([x[0] for x in lrs], [x[0] for x in theirs])
    assert_close_seq([x[0] for x in moms], [x[0] for x in their_moms])


def test_driver_follows_reduce_on_plateau():
    plateau = ReduceOnPlateau(0.1, patience=1)
    p = torch.zeros(1, requires_grad=True)
    opt = CourseSGD([{"params": [p], "lr": 0.1}, {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.01}])
    driver = FunctionScheduler(opt, lambda _step: plateau.lr)
    for metric in [1.0, 0.5, 0.6, 0.7]:
        opt.step()
        plateau.step(metric)
        driver.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.01, 0.001])


def test_driver_state_dict_round_trip_resumes_the_sequence():
    # Local functions, which pickle cannot save: the state must leave them out.
    def fn(t):
        return cosine_warm_restarts(t, lr=LR, T_0=5, T_mult=2)

    def momentum(t):
        return cyclic_momentum(t, step_size_up=3)

    def build():
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=LR, momentum=0.9)
        return opt, FunctionScheduler(opt, fn, momentum_fn=momentum)

    opt, sched = build()
    for _ in range(7):
        opt.step()
        sched.step()
    buffer = io.BytesIO()
    torch.save(sched.state_dict(), buffer)
    opt2, sched2 = build()
    buffer.seek(0)
    sched2.load_state_dict(torch.load(buffer))
    for _ in range(5):
        opt.step(), opt2.step()
        sched.step(), sched2.step()
        t = sched.last_epoch
        assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"] == fn(t)
        assert opt2.param_groups[0]["momentum"] == opt.param_groups[0]["momentum"] == momentum(t)
    assert sched.last_epoch == sched2.last_epoch == 12


def test_driver_rejects_bad_arguments():
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([{"params": [p]}, {"params": [torch.zeros(1, requires_grad=True)]}], lr=LR)
    with pytest.raises(ValueError, match="Invalid lr_fn"):
        FunctionScheduler(opt, [partial(constant, lr=LR)])
    with pytest.raises(ValueError, match="Invalid lr_fn"):
        FunctionScheduler(opt, lambda t: -1.0)
    with pytest.raises(ValueError, match="Invalid momentum_fn"):
        FunctionScheduler(torch.optim.Adagrad([p], lr=LR), partial(constant, lr=LR), momentum_fn=lambda t: 0.9)
    with pytest.raises(ValueError, match="Invalid lr_fn"):
        FunctionScheduler(torch.optim.SGD([p], lr=0.0), partial(constant, lr=LR))
    with pytest.raises(TypeError):
        FunctionScheduler(object(), partial(constant, lr=LR))


# --------------------------------------------------------------------------- the range test

def _regression(seed=0, n=64, d=5):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64) * torch.linspace(0.5, 3.0, d, dtype=torch.float64)
    y = x @ torch.randn(d, 1, generator=gen, dtype=torch.float64) + 0.7 + 0.1 * torch.randn(n, 1, generator=gen, dtype=torch.float64)
    model = torch.nn.Linear(d, 1).double()
    with torch.no_grad():
        model.weight.copy_(torch.randn(1, d, generator=gen, dtype=torch.float64))
        model.bias.zero_()
    # Full-batch gradient descent on the mean squared error diverges exactly when the rate
    # exceeds 2 / lambda_max of the Hessian (2/n) A^T A, A = [x, 1].
    a = torch.cat([x, torch.ones(n, 1, dtype=torch.float64)], dim=1)
    lambda_max = torch.linalg.eigvalsh(2.0 / n * a.T @ a).max().item()
    return model, x, y, 2.0 / lambda_max


@pytest.mark.parametrize("optimizer", [CourseSGD, torch.optim.SGD], ids=["course_lib.SGD", "torch.SGD"])
def test_lr_range_test_on_linear_regression(optimizer):
    model, x, y, lr_stable = _regression()
    before = copy.deepcopy(model.state_dict())
    result = lr_range_test(model, torch.nn.functional.mse_loss, [(x, y)], lambda p: optimizer(p, lr=1.0),
                           start_lr=1e-4, end_lr=10.0, num_steps=200)
    lrs, losses, smoothed = result.lrs, result.losses, result.smoothed_losses
    assert lrs[0] == 1e-4 and all(b > a for a, b in zip(lrs, lrs[1:]))
    # Falls: every update with a stable rate lowers the loss ...
    stable = [k for k in range(1, len(lrs)) if lrs[k - 1] < lr_stable]
    assert len(stable) > 50
    assert all(losses[k] <= losses[k - 1] + 1e-12 for k in stable)
    assert losses[stable[-1]] < losses[0] / 2
    # ... then blows up once the rate passes 2 / lambda_max, and the test stops there.
    assert result.diverged and len(lrs) < 200
    assert not math.isfinite(losses[-1]) or smoothed[-1] > 4 * min(smoothed[:-1])
    assert lrs[-2] > lr_stable
    # The suggestion is a stable rate at which the smoothed loss is falling.
    k = lrs.index(result.suggested_lr)
    assert result.suggested_lr < lr_stable and smoothed[k + 1] < smoothed[k]
    # The model is back where it started.
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name


def test_lr_range_test_smoothing_and_geometric_rates():
    model, x, y, lr_stable = _regression(seed=1)
    beta = 0.9
    result = lr_range_test(model, torch.nn.functional.mse_loss, [(x, y)], lambda p: torch.optim.SGD(p, lr=1.0),
                           start_lr=1e-3, end_lr=lr_stable / 2, num_steps=30, smooth=beta)
    assert not result.diverged and len(result.lrs) == 30
    assert result.lrs[-1] == pytest.approx(lr_stable / 2, rel=1e-12)
    ratios = [b / a for a, b in zip(result.lrs, result.lrs[1:])]
    assert ratios == pytest.approx([ratios[0]] * len(ratios), rel=1e-12)
    for k, s in enumerate(result.smoothed_losses):
        weights = [(1 - beta) * beta ** (k - j) for j in range(k + 1)]
        expected = sum(w * loss for w, loss in zip(weights, result.losses)) / sum(weights)
        assert s == pytest.approx(expected, rel=1e-12)
    unsmoothed = lr_range_test(model, torch.nn.functional.mse_loss, [(x, y)], lambda p: torch.optim.SGD(p, lr=1.0),
                               start_lr=1e-3, end_lr=lr_stable / 2, num_steps=30, smooth=0.0)
    assert unsmoothed.smoothed_losses == unsmoothed.losses == result.losses


def test_lr_range_test_stops_on_a_non_finite_loss_and_at_the_end_of_a_one_shot_iterator():
    model, x, y, _ = _regression(seed=2)
    calls = []

    def nan_at_5(pred, target):
        calls.append(1)
        loss = torch.nn.functional.mse_loss(pred, target)
        return loss * float("nan") if len(calls) == 5 else loss

    result = lr_range_test(model, nan_at_5, [(x, y)], lambda p: torch.optim.SGD(p, lr=1.0),
                           start_lr=1e-4, end_lr=1e-2, num_steps=50)
    assert result.diverged and len(result.losses) == 5 and math.isnan(result.losses[-1])
    result = lr_range_test(model, torch.nn.functional.mse_loss, iter([(x, y)] * 7), lambda p: torch.optim.SGD(p, lr=1.0),
                           start_lr=1e-4, end_lr=1e-2, num_steps=50)
    assert not result.diverged and len(result.losses) == 7


def test_lr_range_test_restores_the_weights_when_the_loss_raises():
    model, x, y, _ = _regression(seed=3)
    before = copy.deepcopy(model.state_dict())
    calls = []

    def failing(pred, target):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("boom")
        return torch.nn.functional.mse_loss(pred, target)

    with pytest.raises(RuntimeError, match="boom"):
        lr_range_test(model, failing, [(x, y)], lambda p: torch.optim.SGD(p, lr=1.0), start_lr=0.01, end_lr=0.1)
    assert len(calls) == 4
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize("kw, name", [
    (dict(start_lr=0.0), "start_lr"), (dict(end_lr=1e-8), "end_lr"), (dict(num_steps=1), "num_steps"),
    (dict(smooth=1.0), "smooth"), (dict(diverge_factor=1.0), "diverge_factor"),
])
def test_lr_range_test_rejects_invalid_arguments(kw, name):
    model, x, y, _ = _regression()
    with pytest.raises(ValueError, match=re.escape(f"Invalid {name}: {next(iter(kw.values()))!r}")):
        lr_range_test(model, torch.nn.functional.mse_loss, [(x, y)], lambda p: torch.optim.SGD(p, lr=1.0), **kw)
