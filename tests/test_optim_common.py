"""One table, every optimizer: the checks each course_lib optimizer must pass, whatever its update.

The table names each optimizer with the keyword arguments used here (small problems, so some
learning rates are raised from their defaults). ``test_table_covers_every_optimizer`` fails when
an optimizer is exported without an entry, so a new optimizer cannot skip these checks.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch

import course_lib.optim as optim

# name -> (keyword arguments, whether the class wraps a base optimizer)
TABLE = {
    "SGD": dict(lr=0.1, momentum=0.9),
    "Adagrad": dict(lr=0.3),
    "RMSprop": dict(lr=0.01, momentum=0.5, centered=True),
    "Adadelta": dict(lr=1.0, eps=1e-2),  # a larger eps: its first steps are about sqrt(eps)
    "Adam": dict(lr=0.05, amsgrad=True),
    "AdamW": dict(lr=0.05),
    "Adamax": dict(lr=0.05),
    "NAdam": dict(lr=0.05),
    "RAdam": dict(lr=0.05),
    "Adafactor": dict(lr=0.05),
    "Lion": dict(lr=0.01),
    "AdaBound": dict(lr=0.05, final_lr=0.1),
    "LossAdaptiveSGD": dict(lr=0.05),
    "Lookahead": dict(k=3, alpha=0.5),
    "GradientCentralization": dict(),
    "Shampoo": dict(lr=0.3),
    "Sophia": dict(lr=0.05, weight_decay=0.0),  # no Hessian estimate here: sign steps, clipped
}
# The base optimizer each wrapper wraps here. Gradient centralization is analysed with SGD: under an
# elementwise-adaptive base the centralized gradient no longer keeps the row means fixed.
WRAPPED_BASE = {"Lookahead": ("Adam", dict(lr=0.05)), "GradientCentralization": ("SGD", dict(lr=0.02, momentum=0.5))}
WRAPPERS = set(WRAPPED_BASE)
# Optimizers without a `maximize` flag (wrappers delegate it to their base optimizer).
NO_MAXIMIZE = WRAPPERS
# Optimizers built from a model, not from a parameter list: tested in their own files (KFAC:
# tests/test_kfac_shampoo_sophia.py).
MODEL_BOUND = {"KFAC"}


def make(name, params, **overrides):
    cls = getattr(optim, name)
    if name in WRAPPERS:
        base_name, base_kwargs = WRAPPED_BASE[name]
        return cls(getattr(optim, base_name)(params, **{**base_kwargs, **overrides}), **TABLE[name])
    return cls(params, **{**TABLE[name], **overrides})


def make_params(device, dtype=torch.float64):
    gen = torch.Generator().manual_seed(1)
    return [torch.randn(s, generator=gen, dtype=dtype).to(device).requires_grad_() for s in [(4,), (3, 5)]]


def loss_fn(params, sign=1.0):
    # a convex quadratic with minimizer at 1.0 in every coordinate, different curvature per tensor
    return sign * sum((k + 1) * ((p - 1.0) ** 2).sum() for k, p in enumerate(params))


def run(opt, params, steps, sign=1.0):
    losses = []
    for _ in range(steps):
        def closure():
            opt.zero_grad()
            loss = loss_fn(params, sign)
            loss.backward()
            return loss
        losses.append(opt.step(closure).item())
    return losses


NAMES = sorted(TABLE)


def reachable_minimum(name, params):
    """The least loss the optimizer can reach from ``params``. Gradient centralization removes each
    row's mean from a matrix's gradient, so the row means of a matrix never move: the best it can do
    is the target shifted by the row-mean offset, whose loss is ``(k+1) * cols * (mean - 1)^2`` per row."""
    if name != "GradientCentralization":
        return 0.0
    return sum((k + 1) * p.shape[1] * float(((p.detach().mean(dim=1) - 1.0) ** 2).sum())
               for k, p in enumerate(params) if p.dim() > 1)


def test_table_covers_every_optimizer():
    exported = {n for n in optim.__all__ if isinstance(getattr(optim, n), type)
                and issubclass(getattr(optim, n), torch.optim.Optimizer)}
    exported -= MODEL_BOUND
    assert exported == set(TABLE), f"missing: {exported - set(TABLE)}, stale: {set(TABLE) - exported}"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_decreases_a_quadratic(name, dtype, device):
    params = make_params(device, dtype)
    floor = reachable_minimum(name, params)
    opt = make(name, params)
    losses = run(opt, params, 150)
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] - floor < 0.2 * (losses[0] - floor), f"{name}: loss {losses[0]:.3g} -> {losses[-1]:.3g}"
    for p in params:
        assert p.device.type == torch.device(device).type and p.dtype == dtype
        for value in opt.state[p].values() if p in opt.state else []:
            if isinstance(value, torch.Tensor) and value.dim() > 0:
                assert value.device == p.device, f"{name}: state on {value.device}, parameter on {p.device}"


@pytest.mark.parametrize("name", NAMES)
def test_is_a_torch_optimizer_with_working_zero_grad(name, device):
    params = make_params(device)
    opt = make(name, params)
    assert isinstance(opt, torch.optim.Optimizer)
    loss_fn(params).backward()
    opt.zero_grad()
    assert all(p.grad is None for p in params)


@pytest.mark.parametrize("name", NAMES)
def test_closure_loss_is_returned_and_step_without_closure_works(name, device):
    params = make_params(device)
    opt = make(name, params)
    def closure():
        opt.zero_grad()
        loss = loss_fn(params)
        loss.backward()
        return loss
    expected = loss_fn(params).item()
    assert opt.step(closure).item() == pytest.approx(expected, rel=1e-12)
    if name != "LossAdaptiveSGD":  # it needs the loss: tested in its own file
        opt.zero_grad()
        loss_fn(params).backward()
        assert opt.step() is None


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip(name, device):
    params = make_params(device)
    opt = make(name, params)
    run(opt, params, 7)
    saved_params = [p.detach().clone().requires_grad_() for p in params]
    saved_state = copy.deepcopy(opt.state_dict())
    run(opt, params, 8)

    fresh = make(name, saved_params)
    fresh.load_state_dict(saved_state)
    run(fresh, saved_params, 8)
    for a, b in zip(params, saved_params):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


@pytest.mark.parametrize("name", sorted(set(NAMES) - WRAPPERS))
def test_maximize_ascends_what_minimize_descends(name, device):
    p_min, p_max = make_params(device), make_params(device)
    run(make(name, p_min), p_min, 20, sign=1.0)
    run(make(name, p_max, maximize=True), p_max, 20, sign=-1.0)
    for a, b in zip(p_min, p_max):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


@pytest.mark.parametrize("name", NAMES)
def test_parameters_without_gradient_and_frozen_groups_do_not_move(name, device):
    params = make_params(device)
    idle = torch.ones(3, dtype=torch.float64, device=device, requires_grad=True)
    opt = make(name, params + [idle])
    frozen = torch.ones(2, dtype=torch.float64, device=device, requires_grad=True)
    opt.add_param_group({"params": [frozen], "lr": 0.0})
    before = [p.detach().clone() for p in params]
    for _ in range(5):
        def closure():
            opt.zero_grad()
            loss = loss_fn(params) + ((frozen - 3.0) ** 2).sum()
            loss.backward()
            return loss
        opt.step(closure)
    assert torch.equal(idle, torch.ones_like(idle))
    assert torch.equal(frozen, torch.ones_like(frozen))
    assert all(not torch.equal(a, b) for a, b in zip(params, before))


@pytest.mark.parametrize("name", sorted(set(NAMES) - WRAPPERS))
@pytest.mark.parametrize("bad_lr", [-0.1, float("nan"), float("inf")])
def test_invalid_lr_is_a_value_error_naming_it(name, bad_lr):
    params = make_params("cpu")
    with pytest.raises(ValueError, match=r"lr.*" + ("nan" if bad_lr != bad_lr else "inf" if bad_lr > 0 else "-0.1")):
        make(name, params, lr=bad_lr)
    opt = make(name, params[:1])
    with pytest.raises(ValueError, match=r"lr"):
        opt.add_param_group({"params": params[1:], "lr": bad_lr})


@pytest.mark.parametrize("name", sorted(set(NAMES) - WRAPPERS))
def test_invalid_weight_decay_is_a_value_error(name):
    params = make_params("cpu")
    with pytest.raises(ValueError, match=r"weight_decay.*-1"):
        make(name, params, weight_decay=-1.0)
