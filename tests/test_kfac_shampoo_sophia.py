"""K-FAC, Shampoo and Sophia against independent computations: explicit eigendecompositions,
brute-force per-sample Fisher blocks, the closed-form least-squares solution, exact Hessian
diagonals. (Shampoo and Sophia also pass the generic checks of tests/test_optim_common.py.)"""

import pytest
import torch
from torch import nn

from course_lib.optim import KFAC, Shampoo, Sophia

D = torch.float64


def psd_power(M, p):
    # an independent root, written without the optimizer's helper (float64, no clamping)
    e, U = torch.linalg.eigh(M)
    return U @ torch.diag(e ** p) @ U.T


# --- Shampoo --------------------------------------------------------------------------------------

def test_shampoo_steps_equal_explicit_eigh_computation(device):
    gen = torch.Generator().manual_seed(0)
    W0 = torch.randn(4, 6, generator=gen, dtype=D)
    grads = [torch.randn(4, 6, generator=gen, dtype=D) for _ in range(3)]
    W = W0.clone().to(device).requires_grad_()
    lr, eps = 0.3, 1e-3
    opt = Shampoo([W], lr=lr, eps=eps)
    L, R, expected = eps * torch.eye(4, dtype=D), eps * torch.eye(6, dtype=D), W0.clone()
    for G in grads:
        W.grad = G.to(device)
        opt.step()
        L, R = L + G @ G.T, R + G.T @ G
        expected = expected - lr * psd_power(L, -0.25) @ G @ psd_power(R, -0.25)
        torch.testing.assert_close(W.detach().cpu(), expected, rtol=1e-10, atol=1e-12)


def test_shampoo_vector_is_diagonal_adagrad_with_eps_start():
    g1, g2 = torch.tensor([1.0, -2.0, 0.5], dtype=D), torch.tensor([0.3, 0.1, -1.0], dtype=D)
    x = torch.zeros(3, dtype=D, requires_grad=True)
    opt = Shampoo([x], lr=0.5, eps=1e-2)
    for g in (g1, g2):
        x.grad = g.clone()
        opt.step()
    h1, h2 = 1e-2 + g1**2, 1e-2 + g1**2 + g2**2
    torch.testing.assert_close(x.detach(), -0.5 * (g1 / h1.sqrt() + g2 / h2.sqrt()))


def test_shampoo_precondition_frequency_reuses_roots():
    gen = torch.Generator().manual_seed(1)
    G1, G2 = torch.randn(3, 2, generator=gen, dtype=D), torch.randn(3, 2, generator=gen, dtype=D)
    W = torch.zeros(3, 2, dtype=D, requires_grad=True)
    opt = Shampoo([W], lr=1.0, eps=1e-3, precondition_frequency=2)
    W.grad = G1.clone(); opt.step()
    W.grad = G2.clone(); opt.step()
    L1, R1 = 1e-3 * torch.eye(3, dtype=D) + G1 @ G1.T, 1e-3 * torch.eye(2, dtype=D) + G1.T @ G1
    expected = -(psd_power(L1, -0.25) @ (G1 + G2) @ psd_power(R1, -0.25))
    torch.testing.assert_close(W.detach(), expected)


def test_shampoo_float32_state_and_validation(device):
    W = torch.randn(3, 4, device=device, requires_grad=True)
    opt = Shampoo([W])
    W.grad = torch.randn(3, 4, device=device)
    opt.step()
    for v in opt.state[W].values():
        if isinstance(v, torch.Tensor):
            assert v.dtype == torch.float32 and v.device == W.device
    for kwargs, pat in [(dict(eps=0.0), r"eps.*0\.0"), (dict(precondition_frequency=0), "precondition_frequency.*0"),
                        (dict(lr=-1.0), r"lr.*-1\.0")]:
        with pytest.raises(ValueError, match=pat):
            Shampoo([W], **kwargs)


# --- Sophia ---------------------------------------------------------------------------------------

def quadratic(seed=0, n=6):
    gen = torch.Generator().manual_seed(seed)
    M = torch.randn(n, n, generator=gen, dtype=D)
    A = M @ M.T + torch.diag(torch.logspace(-1, 1, n, dtype=D))
    return A, (lambda x: 0.5 * x @ A @ x)


def test_sophia_hutchinson_estimate_is_unbiased():
    A, f = quadratic()
    x = torch.randn(6, dtype=D, requires_grad=True)
    opt = Sophia([x], betas=(0.9, 0.0))  # beta2 = 0: h is the latest estimate itself
    gen = torch.Generator().manual_seed(2)
    total, n_probes = torch.zeros(6, dtype=D), 4000
    for _ in range(n_probes):
        x.grad = None
        opt.update_hessian(f(x), generator=gen)
        total += opt.state[x]["hessian"]
    torch.testing.assert_close(x.grad, A @ x.detach())  # the loss form also fills .grad
    mean = total / n_probes
    # standard error per coordinate: sqrt(sum_{j != i} A_ij^2 / n_probes)
    off = ((A**2).sum(1) - torch.diagonal(A) ** 2).sqrt() / n_probes**0.5
    assert ((mean - torch.diagonal(A)).abs() < 4 * off).all()
    assert not ((mean - torch.diagonal(A)).abs() < 1e-3).all()  # the estimate is noisy, not exact


def test_sophia_step_matches_formula_and_is_clipped_at_lr(device):
    gen = torch.Generator().manual_seed(3)
    x0 = torch.randn(50, generator=gen, dtype=D)
    g, h = 10 * torch.randn(50, generator=gen, dtype=D), torch.randn(50, generator=gen, dtype=D)
    x = x0.clone().to(device).requires_grad_()
    lr, beta1, gamma = 0.01, 0.9, 0.5
    opt = Sophia([x], lr=lr, betas=(beta1, 0.99), gamma=gamma, eps=1e-12, weight_decay=0.0)
    opt.state[x].update(step=0, hessian_updates=1, exp_avg=torch.zeros_like(x),
                        hessian=h.to(device))
    x.grad = g.to(device)
    opt.step()
    m = (1 - beta1) * g
    expected = x0 - lr * (m / torch.clamp(gamma * h, min=1e-12)).clamp(-1, 1)
    torch.testing.assert_close(x.detach().cpu(), expected)
    moved = (x.detach().cpu() - x0).abs()
    assert moved.max() <= lr * (1 + 1e-12)
    assert (moved > lr * (1 - 1e-12)).sum() > 0  # some coordinates are clipped (negative h among them)


def test_sophia_decoupled_weight_decay_and_validation():
    x = torch.ones(3, dtype=D, requires_grad=True)
    opt = Sophia([x], lr=0.1, weight_decay=0.5)
    x.grad = torch.zeros(3, dtype=D)
    opt.step()
    torch.testing.assert_close(x.detach(), torch.full((3,), 1 - 0.1 * 0.5, dtype=D))
    for kwargs, pat in [(dict(gamma=0.0), r"gamma.*0\.0"), (dict(betas=(0.9, 1.0)), r"betas\[1\].*1\.0"),
                        (dict(eps=-1.0), r"eps.*-1\.0")]:
        with pytest.raises(ValueError, match=pat):
            Sophia([x], **kwargs)
    x.grad = torch.ones(3, dtype=D)  # no graph
    with pytest.raises(RuntimeError, match="create_graph"):
        opt.update_hessian()


# this test uses the backward(create_graph=True) path on purpose; torch warns about its cycle
@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph")
def test_sophia_converges_near_newton_on_a_quadratic(device):
    # with an exact-in-expectation curvature and small momentum the late steps are Newton-like
    A, _ = quadratic(seed=4, n=5)
    A = torch.diag(torch.diagonal(A)).to(device)  # diagonal: the diagonal estimate is exact
    b = torch.ones(5, dtype=D, device=device)
    x = torch.zeros(5, dtype=D, device=device, requires_grad=True)
    opt = Sophia([x], lr=0.5, betas=(0.0, 0.0), gamma=1.0, weight_decay=0.0)
    gen = torch.Generator().manual_seed(5)
    for _ in range(30):
        opt.zero_grad()
        (0.5 * x @ A @ x - b @ x).backward(create_graph=True)
        opt.update_hessian(generator=gen)
        opt.step()
    opt.zero_grad()  # frees the graph that backward(create_graph=True) left in .grad
    torch.testing.assert_close(x.detach(), torch.linalg.solve(A, b), rtol=1e-8, atol=1e-10)


# --- K-FAC ----------------------------------------------------------------------------------------

def test_kfac_factors_equal_brute_force_per_sample_fisher_block():
    gen = torch.Generator().manual_seed(6)
    layer = nn.Linear(3, 2).to(D)
    x = torch.randn(1, 3, generator=gen, dtype=D)
    y_sampled = torch.randn(1, 2, generator=gen, dtype=D)
    opt = KFAC(layer, damping=0.0)
    out = layer(x)
    fisher_loss = 0.5 * ((out - y_sampled) ** 2).sum()
    opt.update_curvature(fisher_loss)
    st = opt.state[layer.weight]
    # brute force: per-sample gradient of [W | b], flattened row-major, outer product with itself
    gW, gb = torch.autograd.grad(fisher_loss, [layer.weight, layer.bias])
    vec = torch.cat([gW, gb[:, None]], dim=1).flatten()
    torch.testing.assert_close(torch.kron(st["G"], st["A"]), torch.outer(vec, vec))
    a = torch.cat([x[0], torch.ones(1, dtype=D)])
    torch.testing.assert_close(st["A"], torch.outer(a, a))


def test_kfac_block_is_average_of_kronecker_factors_not_of_products():
    # with two samples the K-FAC block (mean a a^T) x (mean g g^T) differs from the true
    # mean of (a a^T) x (g g^T): the approximation is real, and the test can tell them apart
    gen = torch.Generator().manual_seed(7)
    layer = nn.Linear(2, 2, bias=False).to(D)
    x = torch.randn(2, 2, generator=gen, dtype=D)
    y = torch.randn(2, 2, generator=gen, dtype=D)
    opt = KFAC(layer, damping=0.0)
    out = layer(x)
    opt.update_curvature(0.5 * ((out - y) ** 2).sum())
    st = opt.state[layer.weight]
    blocks = []
    for i in range(2):
        (gW,) = torch.autograd.grad(0.5 * ((layer(x[i:i + 1]) - y[i:i + 1]) ** 2).sum(), [layer.weight])
        blocks.append(torch.outer(gW.flatten(), gW.flatten()))
    exact = sum(blocks) / 2
    assert not torch.allclose(torch.kron(st["G"], st["A"]), exact)
    # ... while each factor is the plain average over the samples
    torch.testing.assert_close(st["A"], x.T @ x / 2)


def test_kfac_solves_linear_least_squares_in_one_step(device):
    gen = torch.Generator().manual_seed(8)
    N = 64
    X = torch.randn(N, 4, generator=gen, dtype=D) @ torch.diag(torch.tensor([10.0, 1.0, 0.1, 3.0], dtype=D))
    y = X @ torch.randn(4, 1, generator=gen, dtype=D) + 2.0 + 0.1 * torch.randn(N, 1, generator=gen, dtype=D)
    X, y = X.to(device), y.to(device)
    layer = nn.Linear(4, 1).to(device=device, dtype=D)
    opt = KFAC(layer, lr=1.0, damping=0.0)
    out = layer(X)
    # sampled targets out + z with z = +-1: for one output, G = mean z^2 = 1 exactly
    z = (torch.randint(0, 2, (N, 1), generator=gen) * 2 - 1).to(out)
    opt.update_curvature(0.5 * ((out - (out.detach() + z)) ** 2).sum())
    torch.testing.assert_close(opt.state[layer.weight]["G"], torch.ones(1, 1, dtype=D, device=device))
    loss = 0.5 * ((out - y) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    Xb = torch.cat([X, torch.ones(N, 1, dtype=D, device=device)], dim=1)
    sol = torch.linalg.lstsq(Xb.cpu(), y.cpu()).solution.to(device)
    torch.testing.assert_close(layer.weight.detach()[0], sol[:4, 0], rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(layer.bias.detach(), sol[4], rtol=1e-9, atol=1e-10)
    opt.remove_hooks()


def test_kfac_damping_pi_split_and_other_params_take_sgd_steps():
    gen = torch.Generator().manual_seed(9)
    model = nn.Sequential(nn.Linear(3, 2, bias=False), nn.LayerNorm(2)).to(D)
    x = torch.randn(5, 3, generator=gen, dtype=D)
    lr, lam = 0.1, 0.04
    opt = KFAC(model, lr=lr, damping=lam, stat_decay=0.5)
    W0 = model[0].weight.detach().clone()
    ln_w0 = model[1].weight.detach().clone()
    out = model(x)
    opt.update_curvature(0.5 * (out ** 2).sum())
    loss = (out ** 2).mean()
    opt.zero_grad()
    loss.backward()
    gW, g_ln = model[0].weight.grad.clone(), model[1].weight.grad.clone()
    opt.step()
    st = opt.state[model[0].weight]
    A, G = st["A"], st["G"]
    pi = ((A.trace() / 3) / (G.trace() / 2)).sqrt()
    Ad, Gd = A + pi * lam**0.5 * torch.eye(3, dtype=D), G + lam**0.5 / pi * torch.eye(2, dtype=D)
    expected = W0 - lr * torch.linalg.inv(Gd) @ gW @ torch.linalg.inv(Ad)
    torch.testing.assert_close(model[0].weight.detach(), expected)
    torch.testing.assert_close(model[1].weight.detach(), ln_w0 - lr * g_ln)


def test_kfac_running_average_and_validation():
    layer = nn.Linear(2, 1, bias=False).to(D)
    opt = KFAC(layer, stat_decay=0.75)
    x1, x2 = torch.tensor([[1.0, 0.0]], dtype=D), torch.tensor([[0.0, 2.0]], dtype=D)
    for x in (x1, x2):
        opt.update_curvature(layer(x).sum())
    expected = 0.75 * torch.outer(x1[0], x1[0]) + 0.25 * torch.outer(x2[0], x2[0])
    torch.testing.assert_close(opt.state[layer.weight]["A"], expected)
    for kwargs, pat in [(dict(damping=-1.0), r"damping.*-1\.0"), (dict(stat_decay=1.0), r"stat_decay.*1\.0"),
                        (dict(lr=float("nan")), "lr.*nan")]:
        with pytest.raises(ValueError, match=pat):
            KFAC(layer, **kwargs)
    with pytest.raises(ValueError, match="nn.Linear"):
        KFAC(nn.ReLU())
    fresh = nn.Linear(2, 1)
    opt2 = KFAC(fresh)
    fresh(x1.float()).sum().backward()
    with pytest.raises(RuntimeError, match="update_curvature"):
        opt2.step()


def test_kfac_float32_state_on_device(device):
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).to(device)
    opt = KFAC(model, lr=0.1)
    x = torch.randn(16, 4, device=device)
    out = model(x)
    opt.update_curvature(0.5 * ((out - out.detach() - torch.randn_like(out)) ** 2).sum())
    before = (out ** 2).mean().item()
    opt.zero_grad()
    (out ** 2).mean().backward()
    opt.step()
    for layer in (model[0], model[2]):
        for v in (opt.state[layer.weight]["A"], opt.state[layer.weight]["G"]):
            assert v.dtype == torch.float32 and v.device == layer.weight.device
    assert (model(x) ** 2).mean().item() < before
