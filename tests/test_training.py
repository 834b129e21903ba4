"""course_lib.training against PyTorch's clipping utilities and against direct computations."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.devices import available_devices
from course_lib.training import (accumulate_gradients, angle_degrees, clip_grad_norm, clip_grad_value,
                                 data_parallel_sgd_step, grad_vector, linear_scaling_lr, sgd_step)

DTYPES = [torch.float32, torch.float64]


def _params_with_grads(seed, device="cpu", dtype=torch.float64, scale=10.0):
    gen = torch.Generator().manual_seed(seed)
    shapes = [(3, 4), (4,), (2, 2, 2)]
    params = []
    for s in shapes:
        p = torch.randn(s, generator=gen, dtype=dtype).to(device).requires_grad_()
        p.grad = (scale * torch.randn(s, generator=gen, dtype=dtype)).to(device)
        params.append(p)
    return params


def _copy(params):
    out = []
    for p in params:
        q = p.detach().clone().requires_grad_()
        q.grad = p.grad.clone()
        out.append(q)
    return out


@pytest.mark.parametrize("device", available_devices())
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("max_norm, norm_type", [(1.0, 2.0), (0.5, 1.0), (3.0, math.inf), (1e6, 2.0)])
def test_clip_grad_norm_matches_pytorch(device, dtype, max_norm, norm_type):
    ours = _params_with_grads(0, device, dtype)
    theirs = _copy(ours)
    norm = clip_grad_norm(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert abs(float(norm) - float(expected)) <= tol * float(expected)
    for p, q in zip(ours, theirs):
        assert p.grad.dtype == dtype and p.grad.device.type == device
        torch.testing.assert_close(p.grad, q.grad, rtol=tol, atol=tol)


def test_clip_grad_norm_keeps_direction_and_bounds_length():
    params = _params_with_grads(1)
    before = grad_vector(params).clone()
    norm = clip_grad_norm(params, 1.0)
    after = grad_vector(params)
    assert float(norm) == pytest.approx(float(before.norm()), rel=1e-14)  # the norm *before*
    assert float(after.norm()) == pytest.approx(1.0, rel=1e-5) and float(after.norm()) <= 1.0
    assert angle_degrees(before, after) < 1e-5
    # below the threshold nothing changes
    small = _params_with_grads(2, scale=1e-3)
    g0 = grad_vector(small).clone()
    clip_grad_norm(small, 1.0)
    assert torch.equal(grad_vector(small), g0)


@pytest.mark.parametrize("device", available_devices())
@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_grad_value_matches_pytorch_and_returns_norm_before(device, dtype):
    ours = _params_with_grads(3, device, dtype)
    theirs = _copy(ours)
    before = float(grad_vector(ours).norm())
    norm = clip_grad_value(ours, 2.5)
    torch.nn.utils.clip_grad_value_(theirs, 2.5)
    assert float(norm) == pytest.approx(before, rel=1e-5)
    for p, q in zip(ours, theirs):
        assert torch.equal(p.grad, q.grad)
        assert float(p.grad.abs().max()) <= 2.5


def test_clip_by_value_turns_the_gradient():
    p = torch.zeros(2, requires_grad=True)
    p.grad = torch.tensor([10.0, 1.0])
    clip_grad_value([p], 1.0)
    # (10, 1) becomes (1, 1): from 5.7 degrees to 45 degrees off the first axis
    assert angle_degrees(torch.tensor([10.0, 1.0]), p.grad) == pytest.approx(45 - math.degrees(math.atan(0.1)))


def test_clipping_validation_and_no_grads():
    params = _params_with_grads(4)
    for bad in (0.0, -1.0, math.nan, "1"):
        with pytest.raises(ValueError, match="max_norm"):
            clip_grad_norm(params, bad)
        with pytest.raises(ValueError, match="clip_value"):
            clip_grad_value(params, bad)
    with pytest.raises(ValueError, match="norm_type"):
        clip_grad_norm(params, 1.0, norm_type=0.5)
    p = torch.zeros(3, requires_grad=True)
    assert float(clip_grad_norm([p], 1.0)) == 0.0 and float(clip_grad_value(p, 1.0)) == 0.0
    with pytest.raises(ValueError, match="zero vector"):
        angle_degrees(torch.zeros(2), torch.ones(2))


def _mlp(seed, batchnorm=False):
    torch.manual_seed(seed)
    layers = [torch.nn.Linear(5, 16)]
    if batchnorm:
        layers.append(torch.nn.BatchNorm1d(16))
    layers += [torch.nn.Tanh(), torch.nn.Linear(16, 1)]
    return torch.nn.Sequential(*layers).double()


def _data(n=32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 5, generator=gen, dtype=torch.float64),
            torch.randn(n, 1, generator=gen, dtype=torch.float64))


@pytest.mark.parametrize("sizes", [[8, 8, 8, 8], [5, 11, 16], [32]])
def test_accumulation_equals_large_batch(sizes):
    x, y = _data()
    model = _mlp(0)
    model.zero_grad()
    full = torch.nn.functional.mse_loss(model(x), y)
    full.backward()
    g_full = grad_vector(model.parameters()).clone()
    bounds = torch.tensor([0] + sizes).cumsum(0).tolist()
    micro = [(x[a:b], y[a:b]) for a, b in zip(bounds, bounds[1:])]
    loss = accumulate_gradients(model, torch.nn.functional.mse_loss, micro)
    assert loss == pytest.approx(float(full.detach()), rel=1e-12)
    torch.testing.assert_close(grad_vector(model.parameters()), g_full, rtol=1e-12, atol=1e-14)


def test_accumulation_with_batchnorm_differs():
    x, y = _data()
    model = _mlp(0, batchnorm=True)
    model.zero_grad()
    torch.nn.functional.mse_loss(model(x), y).backward()
    g_full = grad_vector(model.parameters()).clone()
    accumulate_gradients(model, torch.nn.functional.mse_loss, [(x[i:i + 8], y[i:i + 8]) for i in range(0, 32, 8)])
    assert float((grad_vector(model.parameters()) - g_full).norm()) > 1e-3 * float(g_full.norm())


def test_accumulation_validation():
    model = _mlp(0)
    with pytest.raises(ValueError, match="micro_batches"):
        accumulate_gradients(model, torch.nn.functional.mse_loss, [])
    x, y = _data()
    with pytest.raises(ValueError, match="micro_batches"):
        accumulate_gradients(model, torch.nn.functional.mse_loss, [(x[:0], y[:0])])


def test_linear_scaling_lr():
    assert linear_scaling_lr(0.1, 256, 8192) == pytest.approx(3.2)
    assert linear_scaling_lr(0.1, 128, 32) == pytest.approx(0.025)
    with pytest.raises(ValueError, match="batch_size"):
        linear_scaling_lr(0.1, 128, 0)
    with pytest.raises(ValueError, match="base_batch_size"):
        linear_scaling_lr(0.1, 12.5, 10)
    with pytest.raises(ValueError, match="base_lr"):
        linear_scaling_lr(-0.1, 128, 256)


def test_sgd_step_is_a_gradient_step_and_leaves_model_alone():
    x, y = _data()
    model = _mlp(1)
    before = {k: v.clone() for k, v in model.named_parameters()}
    new = sgd_step(model, torch.nn.functional.mse_loss, x, y, 0.3)
    model.zero_grad()
    torch.nn.functional.mse_loss(model(x), y).backward()
    for k, p in model.named_parameters():
        assert torch.equal(p.detach(), before[k])
        torch.testing.assert_close(new[k], p.detach() - 0.3 * p.grad, rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="lr"):
        sgd_step(model, torch.nn.functional.mse_loss, x, y, -1.0)
    with pytest.raises(ValueError, match="targets"):
        sgd_step(model, torch.nn.functional.mse_loss, x, y[:3], 0.1)


def test_data_parallel_validation():
    x, y = _data()
    model = _mlp(2)
    with pytest.raises(ValueError, match="world_size"):
        data_parallel_sgd_step(model, torch.nn.functional.mse_loss, x, y, 0.1, world_size=3)
    with pytest.raises(ValueError, match="world_size"):
        data_parallel_sgd_step(model, torch.nn.functional.mse_loss, x, y, 0.1, world_size=0)


def test_data_parallel_step_equals_large_batch_step():
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_gloo_available()):
        pytest.skip("torch.distributed with the gloo backend is not available in this build")
    x, y = _data(32, seed=5)
    model = _mlp(3)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    new, spread = data_parallel_sgd_step(model, torch.nn.functional.mse_loss, x, y, 0.2,
                                         world_size=2, timeout_s=30.0)
    ref = sgd_step(model, torch.nn.functional.mse_loss, x, y, 0.2)
    assert spread <= 1e-14                      # the ranks agree
    moved = 0.0
    for k in ref:
        torch.testing.assert_close(new[k], ref[k], rtol=0, atol=1e-13)
        moved = max(moved, float((new[k] - before[k]).abs().max()))
        assert torch.equal(dict(model.named_parameters())[k].detach(), before[k])
    assert moved > 1e-3                          # a real step, not a no-op
    # one shard alone is a different step: the averaging matters
    half = sgd_step(model, torch.nn.functional.mse_loss, x[:16], y[:16], 0.2)
    assert max(float((half[k] - ref[k]).abs().max()) for k in ref) > 1e-4
