"""course_lib's optimizers against PyTorch's, as the oracle.

The configurations are the ones PyTorch's own optimizer test-suite enumerates (``optim_db``), with
the implementation switches (foreach, fused, capturable, differentiable) dropped: they choose how
PyTorch computes the update, not which update it computes. Trajectories are compared in float64
after every one of 60 steps on a scalar, a vector and a matrix parameter in two parameter groups,
plus a parameter that never receives a gradient (and so must never move).
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch.testing._internal.common_optimizers import optim_db

import course_lib.optim as ours

PAIRS = {
    "SGD": ours.SGD,
    "Adagrad": ours.Adagrad,
    "RMSprop": ours.RMSprop,
    "Adadelta": ours.Adadelta,
    "Adam": ours.Adam,
    "AdamW": ours.AdamW,
    "Adamax": ours.Adamax,
    "NAdam": ours.NAdam,
    "RAdam": ours.RAdam,
    "Adafactor": ours.Adafactor,
}
IMPLEMENTATION_SWITCHES = {"foreach", "fused", "capturable", "differentiable"}
STEPS = 60
TOL = 1e-10


def _configurations():
    for info in optim_db:
        if info.name not in PAIRS:
            continue
        seen = set()
        for inp in info.optim_inputs_func(device="cpu", dtype=torch.float64):
            kwargs = {k: v for k, v in inp.kwargs.items() if k not in IMPLEMENTATION_SWITCHES}
            key = repr(sorted(kwargs.items()))
            if key in seen:
                continue
            seen.add(key)
            yield pytest.param(info.name, kwargs, id=f"{info.name}-{inp.desc.replace(' ', '_')}")


def _make_params(device):
    gen = torch.Generator().manual_seed(0)
    shapes = [(), (3,), (4, 5), (2, 3)]
    return [torch.randn(s, generator=gen, dtype=torch.float64).to(device).requires_grad_() for s in shapes]


def _loss(params):
    # Smooth, non-quadratic and different in every coordinate, so that each optimizer's state
    # (moments, accumulators) takes distinct values per coordinate. The last parameter is left out:
    # it never gets a gradient.
    total = 0.0
    for k, p in enumerate(params[:-1]):
        curvature = torch.linspace(0.5, 2.0, p.numel(), dtype=p.dtype, device=p.device).reshape(p.shape)
        total = total + (0.5 * curvature * (p - 0.3 * (k + 1)) ** 2 + 0.1 * torch.sin(3 * p)).sum()
    return total


def _groups(params):
    return [{"params": params[:2]}, {"params": params[2:]}]


def _clone_kwargs(kwargs):
    return {k: (v.clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v)) for k, v in kwargs.items()}


def run_trajectory(cls, kwargs, device, steps=STEPS):
    params = _make_params(device)
    opt = cls(_groups(params), **_clone_kwargs(kwargs))
    history = []
    for _ in range(steps):
        opt.zero_grad()
        _loss(params).backward()
        opt.step()
        history.append([p.detach().clone() for p in params])
    return history


@pytest.mark.parametrize("name,kwargs", list(_configurations()))
def test_trajectory_equals_pytorch(name, kwargs, device):
    reference = run_trajectory(getattr(torch.optim, name), kwargs, device)
    ours_ = run_trajectory(PAIRS[name], kwargs, device)
    for step, (a, b) in enumerate(zip(ours_, reference), start=1):
        for k, (pa, pb) in enumerate(zip(a, b)):
            torch.testing.assert_close(pa, pb, atol=TOL, rtol=0,
                                       msg=lambda m: f"{name} {kwargs}: step {step}, parameter {k}: {m}")
    # the parameter without a gradient never moved; the others did
    assert torch.equal(ours_[-1][-1], _make_params(device)[-1])
    assert not torch.equal(ours_[-1][0], _make_params(device)[0])


def test_every_pytorch_counterpart_is_covered():
    names = {info.name for info in optim_db}
    missing = [n for n in PAIRS if n not in names]
    assert not missing, f"not in optim_db: {missing}"
