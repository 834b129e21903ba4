"""course_lib.gradient_flow against PyTorch's init helpers and against direct computations."""

from __future__ import annotations

import math

import matplotlib
import pytest
import torch
from torch import nn

from course_lib.devices import available_devices
from course_lib.gradient_flow import (GradientNormMonitor, activation_gain, deep_mlp, he_std,
                                      layer_gradient_norms, preactivation_gradient_norms, xavier_std)

matplotlib.use("Agg")


@pytest.mark.parametrize("act", ["linear", "sigmoid", "tanh", "relu"])
def test_activation_gain_matches_pytorch(act):
    assert activation_gain(act) == pytest.approx(nn.init.calculate_gain(act), rel=1e-12)


@pytest.mark.parametrize("fan_in, fan_out, gain", [(64, 64, 1.0), (10, 300, 5 / 3), (1, 1, 2.0)])
def test_xavier_std_matches_pytorch_samples(fan_in, fan_out, gain):
    # the std PyTorch's xavier_normal_ uses, from its own formula, and from a large sample
    expected = gain * math.sqrt(2.0 / (fan_in + fan_out))
    assert xavier_std(fan_in, fan_out, gain) == pytest.approx(expected, rel=1e-12)
    torch.manual_seed(0)
    shape = (fan_out, fan_in)  # nn.Linear's layout: fans of a (fan_out, fan_in) weight
    samples = torch.cat([nn.init.xavier_normal_(torch.empty(shape, dtype=torch.float64), gain=gain).flatten()
                         for _ in range(max(1, 20000 // (fan_in * fan_out)))])
    assert float(samples.std()) == pytest.approx(xavier_std(fan_in, fan_out, gain), rel=0.05)


@pytest.mark.parametrize("fan_in", [1, 16, 500])
def test_he_std_matches_kaiming(fan_in):
    torch.manual_seed(1)
    samples = torch.cat([nn.init.kaiming_normal_(torch.empty(50, fan_in, dtype=torch.float64),
                                                 mode="fan_in", nonlinearity="relu").flatten()
                         for _ in range(max(1, 4000 // fan_in))])
    assert float(samples.std()) == pytest.approx(he_std(fan_in), rel=0.05)
    assert he_std(fan_in) == pytest.approx(math.sqrt(2.0 / fan_in), rel=1e-12)
    assert he_std(fan_in, gain=1.0) == pytest.approx(1.0 / math.sqrt(fan_in), rel=1e-12)


@pytest.mark.parametrize("init, act, expected", [
    ("he", "relu", lambda n_in, n_out: math.sqrt(2 / n_in)),
    ("he", "tanh", lambda n_in, n_out: (5 / 3) / math.sqrt(n_in)),
    ("xavier", "relu", lambda n_in, n_out: math.sqrt(2 / (n_in + n_out))),
])
def test_deep_mlp_weight_scales(init, act, expected):
    model = deep_mlp(3, 400, in_features=300, out_features=200, activation=act, init=init,
                     dtype=torch.float64)
    for layer in model.linears:
        n_out, n_in = layer.weight.shape
        assert float(layer.weight.detach().std()) == pytest.approx(expected(n_in, n_out), rel=0.03)
        assert torch.all(layer.bias == 0)
    assert len(model.linears) == 5


def test_deep_mlp_forward_matches_manual_loop():
    model = deep_mlp(4, 8, in_features=3, out_features=2, activation="tanh", residual=True,
                     residual_scale=0.5, norm="layer", dtype=torch.float64, seed=3)
    x = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    lin = model.linears
    h = x @ lin[0].weight.T + lin[0].bias
    for k, block in enumerate(model.blocks):
        z = h @ lin[k + 1].weight.T + lin[k + 1].bias
        z = (z - z.mean(1, keepdim=True)) / torch.sqrt(z.var(1, unbiased=False, keepdim=True) + 1e-5)
        h = h + 0.5 * torch.tanh(z)
    out = h @ lin[-1].weight.T + lin[-1].bias
    assert torch.allclose(model(x), out, atol=1e-12)


def test_deep_mlp_is_deterministic_and_seeded():
    a, b, c = (deep_mlp(2, 6, seed=s) for s in (0, 0, 1))
    assert torch.equal(a.linears[1].weight, b.linears[1].weight)
    assert not torch.equal(a.linears[1].weight, c.linears[1].weight)


@pytest.mark.parametrize("device", available_devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_layer_gradient_norms_against_autograd(device, dtype):
    model = deep_mlp(5, 16, in_features=4, activation="relu", norm="batch", device=device, dtype=dtype)
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(32, 4, generator=gen).to(device, dtype)
    y = torch.randn(32, 1, generator=gen).to(device, dtype)
    norms = layer_gradient_norms(model, x, y)
    weights = [m.weight for m in model.linears]
    grads = torch.autograd.grad(nn.functional.mse_loss(model(x), y), weights)
    expected = torch.stack([g.double().norm().cpu() for g in grads])
    assert norms.dtype == torch.float64 and norms.device.type == "cpu" and norms.shape == (7,)
    tol = 1e-10 if dtype == torch.float64 else 1e-4
    assert torch.allclose(norms, expected, rtol=tol, atol=0)


def test_relu_he_keeps_norms_flat_xavier_default_do_not():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(256, 64, generator=gen, dtype=torch.float64), torch.randn(256, 1, generator=gen, dtype=torch.float64)
    he = layer_gradient_norms(deep_mlp(30, 64, dtype=torch.float64), x, y)
    default = layer_gradient_norms(deep_mlp(30, 64, init="pytorch", dtype=torch.float64), x, y)
    assert 0.1 < float(he[1] / he[-2]) < 10
    assert float(default[1] / default[-2]) < 1e-6


def test_monitor_records_history_and_report():
    model = deep_mlp(3, 8, in_features=2, dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 2, generator=gen, dtype=torch.float64), torch.randn(16, 1, generator=gen, dtype=torch.float64)
    mon = GradientNormMonitor(model)
    assert mon.history.shape == (0, 5) and mon.report() == "no steps recorded"
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    rows = []
    for _ in range(4):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        rows.append(torch.stack([m.weight.grad.norm() for m in model.linears]))
        mon.record()
        opt.step()
    assert torch.allclose(mon.history, torch.stack(rows), atol=1e-14)
    assert mon.names[0] == "inp" and mon.names[-1] == "out"
    assert mon.report().startswith("4 steps, 5 layers")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    assert len(mon.plot(ax)) == 3
    plt.close(fig)


@pytest.mark.parametrize("call, name", [
    (lambda: xavier_std(0, 3), "fan_in"), (lambda: xavier_std(3, 2.5), "fan_out"),
    (lambda: he_std(4, gain=-1.0), "gain"), (lambda: activation_gain("gelu"), "activation"),
    (lambda: deep_mlp(-1, 4), "depth"), (lambda: deep_mlp(2, 4, init="orthogonal"), "init"),
    (lambda: deep_mlp(2, 4, norm="group"), "norm"), (lambda: deep_mlp(2, 4, residual_scale=0.0), "residual_scale"),
    (lambda: deep_mlp(2, 4, init="pytorch", gain=1.0), "gain"),
    (lambda: deep_mlp(2, 4, dtype=torch.int64), "dtype"),
    (lambda: GradientNormMonitor(nn.ReLU()), "model"),
    (lambda: GradientNormMonitor(deep_mlp(1, 2)).record(), "model"),
    (lambda: GradientNormMonitor(deep_mlp(1, 2)).report(vanish_below=0), "vanish_below"),
])
def test_invalid_arguments_name_the_parameter(call, name):
    with pytest.raises(ValueError, match=f"Invalid {name}"):
        call()


@pytest.mark.parametrize("device", available_devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_preactivation_gradient_norms_against_manual_backprop(device, dtype):
    # a plain ReLU network (input and output layers linear, hidden blocks relu(W h + c)),
    # backpropagated by hand: delta_D = dL/dz_D, delta_{l-1} = (W_l^T delta_l) * relu'(z_{l-1})
    model = deep_mlp(4, 10, in_features=3, activation="relu", init="he", seed=5, device=device, dtype=dtype)
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(20, 3, generator=gen, dtype=torch.float64)
    y = torch.randn(20, 1, generator=gen, dtype=torch.float64)
    lin = [(m.weight.detach().double().cpu(), m.bias.detach().double().cpu()) for m in model.linears]
    zs, h = [], x
    for k, (W, b) in enumerate(lin):
        z = h @ W.T + b
        zs.append(z)
        h = torch.relu(z) if 0 < k < len(lin) - 1 else z
    delta = 2 * (zs[-1] - y) / y.numel()
    expected = [delta.norm()]
    for k in range(len(lin) - 1, 0, -1):
        delta = delta @ lin[k][0]
        if k - 1 > 0:                       # the input layer has no activation
            delta = delta * (zs[k - 1] > 0)
        expected.append(delta.norm())
    expected = torch.stack(expected[::-1])
    norms = preactivation_gradient_norms(model, x.to(device, dtype), y.to(device, dtype))
    tol = 1e-10 if dtype == torch.float64 else 1e-4
    assert norms.shape == (6,) and torch.allclose(norms, expected, rtol=tol, atol=0)
    # the hooks are gone: a second forward pass registers nothing
    assert all(not m._forward_hooks for m in model.linears)


def test_relu_preactivation_gradient_is_flat_only_at_gain_sqrt2():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(256, 64, generator=gen, dtype=torch.float64), torch.randn(256, 1, generator=gen, dtype=torch.float64)
    ratios = {}
    for g in (1.0, math.sqrt(2.0), 2.0):
        n = preactivation_gradient_norms(deep_mlp(30, 64, gain=g, dtype=torch.float64), x, y)
        ratios[g] = float(n[1] / n[-2])
    assert ratios[1.0] < 1e-3 and ratios[2.0] > 1e3 and 0.2 < ratios[math.sqrt(2.0)] < 5
