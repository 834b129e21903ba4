"""Tests of course_lib.loss_surface against independent computations: per-point loops, explicit
Hessians (torch.autograd.functional.hessian + eigvalsh), exact moments and closed forms."""

import pytest
import torch

from course_lib import loss_surface as ls
from course_lib.devices import available_devices

D = torch.float64


def tiny_problem(device="cpu", seed=0, hidden=5):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(2, hidden), torch.nn.Tanh(),
                              torch.nn.Linear(hidden, 1)).to(dtype=D, device=device)
    X = torch.randn(30, 2, generator=g, dtype=D).to(device)
    y = torch.sin(X[:, :1] * 2) + X[:, 1:] ** 2
    return ls.FlatLoss(net, torch.nn.functional.mse_loss, X, y), net


def full_hessian(f):
    return torch.autograd.functional.hessian(f, f.theta0)


def test_flat_loss_equals_module_loss():
    f, net = tiny_problem()
    expected = torch.nn.functional.mse_loss(net(f.X), f.y)
    torch.testing.assert_close(f(f.theta0), expected)
    torch.testing.assert_close(f.flatten(f.unflatten(f.theta0)), f.theta0)


def relu_classifier(device="cpu", seed=0):
    """A ReLU MLP with cross-entropy: the batched MLP path's fast cross-entropy."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(2, 6), torch.nn.ReLU(), torch.nn.Linear(6, 6),
                              torch.nn.ReLU(), torch.nn.Linear(6, 3)).to(dtype=D, device=device)
    X = torch.randn(25, 2, generator=g, dtype=D).to(device)
    y = torch.randint(0, 3, (25,), generator=g).to(device)
    return ls.FlatLoss(net, torch.nn.functional.cross_entropy, X, y), net


@pytest.mark.parametrize("device", available_devices())
@pytest.mark.parametrize("problem", [tiny_problem, relu_classifier])
@pytest.mark.parametrize("method", ["auto", "vmap"])
@pytest.mark.parametrize("block_bytes", [None, 1])
def test_surface_2d_batched_equals_point_loop(device, problem, method, block_bytes, monkeypatch):
    if block_bytes is not None:  # one grid point per block: every block boundary is exercised
        monkeypatch.setattr(ls, "_BLOCK_BYTES", block_bytes)
    f, _ = problem(device)
    g = torch.Generator().manual_seed(1)
    d1 = ls.filter_normalize(f, ls.random_direction(f, g))
    d2 = ls.filter_normalize(f, ls.random_direction(f, g))
    xs = torch.linspace(-1, 1, 7, dtype=D)
    ys = torch.linspace(-0.5, 0.5, 5, dtype=D)
    Z = ls.loss_surface_2d(f, f.theta0, d1, d2, xs, ys, chunk_size=4, method=method)
    assert Z.shape == (5, 7) and Z.device.type == device
    loop = torch.empty(5, 7, dtype=D)
    for i, b in enumerate(ys):
        for j, a in enumerate(xs):
            with torch.no_grad():
                loop[i, j] = f(f.theta0 + float(a) * d1 + float(b) * d2)
    torch.testing.assert_close(Z.cpu(), loop, rtol=1e-12, atol=1e-12)
    # the centre of the grid is the unperturbed loss
    torch.testing.assert_close(Z[2, 3].cpu(), f(f.theta0).detach().cpu())


class _Residual(torch.nn.Module):
    """Not a plain MLP: batched evaluation must fall back to vmap."""

    def __init__(self):
        super().__init__()
        self.inner = torch.nn.Linear(3, 3)

    def forward(self, x):
        return x + torch.tanh(self.inner(x))


@pytest.mark.parametrize("device", available_devices())
@pytest.mark.parametrize("layers", ["relu-bias", "gelu-nobias", "tanh-first", "soft-targets",
                                    "ignored-targets", "shared-layer", "residual"])
@pytest.mark.parametrize("block_bytes", [None, 1, 3 * 7 * 20 * 8])
def test_batched_methods_equal_per_point_loop(device, layers, block_bytes, monkeypatch):
    if block_bytes is not None:
        monkeypatch.setattr(ls, "_BLOCK_BYTES", block_bytes)
    torch.manual_seed(3)
    g = torch.Generator().manual_seed(3)
    if layers == "relu-bias":
        net = torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.ReLU(), torch.nn.Linear(6, 6),
                                  torch.nn.ReLU(), torch.nn.Linear(6, 4))
    elif layers == "gelu-nobias":  # GELU(1) != 1: the constant unit must be restored
        net = torch.nn.Sequential(torch.nn.Linear(3, 6, bias=False), torch.nn.GELU(),
                                  torch.nn.Linear(6, 4))
    elif layers == "tanh-first":  # an activation on the inputs, one after the last layer
        net = torch.nn.Sequential(torch.nn.Tanh(), torch.nn.Linear(3, 6), torch.nn.SiLU(),
                                  torch.nn.Linear(6, 4), torch.nn.Sigmoid())
    elif layers in ("soft-targets", "ignored-targets"):  # targets for the generic loss path
        net = torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.ReLU(), torch.nn.Linear(6, 4))
    elif layers == "shared-layer":  # one Linear twice: not a plain MLP (one weight, two layers)
        shared = torch.nn.Linear(3, 3)
        net = torch.nn.Sequential(shared, torch.nn.ReLU(), shared, torch.nn.ReLU(),
                                  torch.nn.Linear(3, 4))
    else:
        net = torch.nn.Sequential(_Residual(), torch.nn.Linear(3, 4))
    net = net.to(dtype=D, device=device)
    X = torch.randn(20, 3, generator=g, dtype=D).to(device)
    y = torch.randint(0, 4, (20,), generator=g).to(device)
    if layers == "soft-targets":
        y = torch.softmax(torch.randn(20, 4, generator=g, dtype=D), dim=1).to(device)
    if layers == "ignored-targets":  # ignore_index: the mean is over the 15 others
        y[::4] = -100
    f = ls.FlatLoss(net, torch.nn.functional.cross_entropy, X, y)
    assert f.is_plain_mlp == (layers not in ("residual", "shared-layer"))
    thetas = f.theta0 + 0.5 * torch.randn(9, f.dim, generator=g, dtype=D).to(device)
    with torch.no_grad():
        loop = torch.stack([f(t) for t in thetas])
    methods = ["auto", "vmap"] + (["mlp"] if f.is_plain_mlp else [])
    for method in methods:
        torch.testing.assert_close(f.batched(thetas, chunk_size=4, method=method), loop,
                                   rtol=1e-12, atol=1e-12)
    if not f.is_plain_mlp:
        with pytest.raises(ValueError, match="method"):
            f.batched(thetas, method="mlp")
    with pytest.raises(ValueError, match="method"):
        f.batched(thetas, method="loop")


def test_filter_normalize_rowwise_norms():
    f, net = tiny_problem()
    d = ls.filter_normalize(f, ls.random_direction(f, torch.Generator().manual_seed(2)))
    parts = f.unflatten(d)
    for name, p in net.named_parameters():
        if p.dim() == 1:
            assert torch.all(parts[name] == 0)
        else:
            torch.testing.assert_close(parts[name].norm(dim=1), p.detach().norm(dim=1))
    kept = ls.filter_normalize(f, torch.ones(f.dim, dtype=D), ignore_1d=False)
    bias = f.unflatten(kept)["0.bias"]
    torch.testing.assert_close(bias.norm(), net[0].bias.detach().norm())


def test_interpolate_end_points():
    a, b = torch.zeros(3, dtype=D), torch.arange(3.0, dtype=D)
    pts = ls.interpolate(a, b, torch.tensor([0.0, 0.25, 1.0]))
    torch.testing.assert_close(pts, torch.stack([a, 0.25 * b, b]))


@pytest.mark.parametrize("device", available_devices())
def test_top_eigenvalue_matches_eigvalsh(device):
    f, _ = tiny_problem(device)
    exact = torch.linalg.eigvalsh(full_hessian(f))
    top = ls.top_eigenvalue(f, f.theta0, steps=f.dim, generator=torch.Generator().manual_seed(0))
    assert abs(top - float(exact[-1])) <= 1e-8 * abs(float(exact[-1]))
    # a few Lanczos steps already give the top eigenvalue: it is well separated here
    few = ls.top_eigenvalue(f, f.theta0, steps=12, generator=torch.Generator().manual_seed(0))
    assert abs(few - float(exact[-1])) <= 1e-6 * abs(float(exact[-1]))


def test_smoothness_along_gradient_on_a_quadratic():
    # L = 0.5 theta^T A theta: grad(theta - eta g) - g = -eta A g, and the loss along the step is
    # the closed form L(theta) - eta |g|^2 + 0.5 eta^2 g^T A g
    A = torch.diag(torch.tensor([4.0, 1.0, 0.25], dtype=D))

    def quadratic(t):
        return 0.5 * t @ A @ t

    etas = [0.05, 0.1, 0.2]
    on_axis = ls.smoothness_along_gradient(quadratic, torch.tensor([1.0, 0.0, 0.0], dtype=D), etas)
    assert on_axis["beta"] == pytest.approx(4.0, rel=1e-12)  # g is the top eigenvector
    theta = torch.tensor([1.0, 2.0, -3.0], dtype=D)
    out = ls.smoothness_along_gradient(quadratic, theta, etas)
    g = A @ theta
    along = [float(quadratic(theta) - e * g @ g + 0.5 * e ** 2 * g @ A @ g) for e in etas]
    assert out["loss_range"] == pytest.approx(max(along) - min(along), rel=1e-12)
    assert out["gradient_change"] == pytest.approx(0.2 * float((A @ g).norm()), rel=1e-12)
    assert 0.25 < out["beta"] < 4.0  # a mixture of eigenvectors: strictly between the extremes
    with pytest.raises(ValueError, match="step_sizes"):
        ls.smoothness_along_gradient(quadratic, theta, [0.1, -0.1])
    with pytest.raises(ValueError, match="step_sizes"):
        ls.smoothness_along_gradient(quadratic, theta, [])
    with pytest.raises(ValueError, match="gradient is zero"):
        ls.smoothness_along_gradient(quadratic, torch.zeros(3, dtype=D), etas)


def test_smoothness_along_gradient_of_a_batchnorm_net():
    # a FlatLoss with batch statistics works under torch.func.grad, and its gradient change
    # equals the one computed with autograd on the module
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 5),
                              torch.nn.BatchNorm1d(5, track_running_stats=False),
                              torch.nn.ReLU(), torch.nn.Linear(5, 2)).to(D)
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(16, 2, generator=g, dtype=D), torch.randint(0, 2, (16,), generator=g)
    f = ls.FlatLoss(net, torch.nn.functional.cross_entropy, X, y)
    out = ls.smoothness_along_gradient(f, f.theta0, [0.3])

    def module_grad(theta):
        torch.nn.utils.vector_to_parameters(theta, net.parameters())
        net.zero_grad()
        torch.nn.functional.cross_entropy(net(X), y).backward()
        return torch.cat([p.grad.reshape(-1) for p in net.parameters()])

    theta0 = f.theta0.clone()
    g0 = module_grad(theta0)
    g1 = module_grad(theta0 - 0.3 * g0)
    torch.testing.assert_close(torch.tensor(out["gradient_change"], dtype=D), (g1 - g0).norm())


def test_power_iteration_finds_largest_modulus():
    f, _ = tiny_problem()
    H = full_hessian(f)
    exact = torch.linalg.eigvalsh(H)
    v0 = torch.randn(f.dim, dtype=D, generator=torch.Generator().manual_seed(3))
    lam, v = ls.power_iteration(lambda u: H @ u, v0, steps=2000, tol=1e-13)
    target = exact[exact.abs().argmax()]
    assert abs(lam - float(target)) <= 1e-6 * abs(float(target))
    torch.testing.assert_close(H @ v, lam * v, atol=1e-4, rtol=0)
    # an indefinite matrix whose most negative eigenvalue dominates: power iteration returns it
    A = torch.diag(torch.tensor([-5.0, 1.0, 3.0], dtype=D))
    lam, _ = ls.power_iteration(lambda u: A @ u, torch.ones(3, dtype=D), steps=500, tol=1e-14)
    assert abs(lam + 5.0) < 1e-8


def test_lanczos_basis_orthonormal_and_tridiagonal():
    g = torch.Generator().manual_seed(4)
    M = torch.randn(40, 40, generator=g, dtype=D)
    A = M + M.T
    alpha, beta, Q = ls.lanczos(lambda v: A @ v, torch.randn(40, generator=g, dtype=D), 15)
    torch.testing.assert_close(Q.T @ Q, torch.eye(15, dtype=D), atol=1e-12, rtol=0)
    T = torch.diag(alpha) + torch.diag(beta, 1) + torch.diag(beta, -1)
    torch.testing.assert_close(Q.T @ A @ Q, T, atol=1e-10, rtol=0)


def test_lanczos_stops_on_invariant_subspace():
    A = torch.diag(torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=D))
    v0 = torch.tensor([1.0, 1.0, 0.0, 0.0], dtype=D)   # lies in a 2-D invariant subspace
    alpha, beta, Q = ls.lanczos(lambda v: A @ v, v0, 4)
    assert alpha.numel() == 2 and beta.numel() == 1
    T = torch.diag(alpha) + torch.diag(beta, 1) + torch.diag(beta, -1)
    torch.testing.assert_close(torch.linalg.eigvalsh(T), torch.tensor([1.0, 2.0], dtype=D))


def test_slq_gauss_quadrature_moments_exact():
    """sum_k tau_k theta_k^p == v^T A^p v for p <= 2m - 1, for every probe."""
    g = torch.Generator().manual_seed(5)
    M = torch.randn(30, 30, generator=g, dtype=D)
    A = (M + M.T) / 4
    m = 5
    nodes, weights = ls.slq(lambda v: A @ v, 30, m, 3, generator=torch.Generator().manual_seed(6))
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(3, dtype=D))
    g2 = torch.Generator().manual_seed(6)
    for p in range(3):
        z = torch.randint(0, 2, (30,), generator=g2).to(D) * 2 - 1
        v = z / z.norm()
        for power in range(2 * m):
            exact = v @ torch.linalg.matrix_power(A, power) @ v
            torch.testing.assert_close((weights[p] * nodes[p] ** power).sum(), exact,
                                       rtol=1e-9, atol=1e-9)


def test_slq_density_matches_exact_spectrum():
    g = torch.Generator().manual_seed(7)
    n = 60
    Qr, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=D))
    eig = torch.cat([torch.linspace(-1, 1, n - 3, dtype=D), torch.tensor([4.0, 6.0, 9.0], dtype=D)])
    A = Qr @ torch.diag(eig) @ Qr.T
    nodes, weights = ls.slq(lambda v: A @ v, n, n, 1, generator=torch.Generator().manual_seed(8))
    # a full run recovers the eigenvalues themselves as the nodes
    torch.testing.assert_close(nodes[0].sort().values, eig.sort().values, atol=1e-8, rtol=0)
    nodes, weights = ls.slq(lambda v: A @ v, n, 20, 200, generator=torch.Generator().manual_seed(9))
    for power in (1, 2, 3):
        estimate = float((weights * nodes ** power).sum(dim=1).mean())
        exact = float((eig ** power).mean())
        assert abs(estimate - exact) < 0.1 * max(1.0, abs(exact)), (power, estimate, exact)
    grid = torch.linspace(-3, 12, 3001, dtype=D)
    sigma = 0.2
    dens = ls.spectral_density(nodes, weights, grid, sigma)
    h = float(grid[1] - grid[0])
    assert abs(float(dens.sum()) * h - 1) < 1e-6
    exact_dens = ls.spectral_density(eig.reshape(1, -1), torch.full((1, n), 1.0 / n, dtype=D),
                                     grid, sigma)
    assert float((dens - exact_dens).abs().sum()) * h < 0.15


def test_bezier_and_barrier():
    a, w, b = torch.zeros(2, dtype=D), torch.tensor([1.0, 2.0], dtype=D), torch.ones(2, dtype=D)
    pts = ls.bezier_curve(a, w, b, torch.tensor([0.0, 0.5, 1.0]))
    torch.testing.assert_close(pts, torch.stack([a, 0.25 * a + 0.5 * w + 0.25 * b, b]))
    ts = torch.linspace(0, 1, 5, dtype=D)
    assert ls.loss_barrier(ts, 1 + ts) == pytest.approx(0.0, abs=1e-15)
    assert ls.loss_barrier(ts, 4 * ts * (1 - ts)) == pytest.approx(1.0)


def test_fit_bezier_lowers_the_path_loss():
    """The loss is zero on the unit circle: the chord between two of its points crosses a hill."""
    def f(theta):   # zero on the unit circle, large at the origin
        return (theta @ theta - 1) ** 2

    class Wrap(ls.FlatLoss):
        def __init__(self):
            self.dim = 2

        def __call__(self, theta):
            return f(theta)

    a, b = torch.tensor([1.0, 0.0], dtype=D), torch.tensor([0.0, 1.0], dtype=D)
    ts = torch.linspace(0, 1, 41, dtype=D)
    line = torch.stack([f(p) for p in ls.interpolate(a, b, ts)])
    bend = ls.fit_bezier(Wrap(), a, b, steps=400, lr=0.05, generator=torch.Generator().manual_seed(0))
    curve = torch.stack([f(p) for p in ls.bezier_curve(a, bend, b, ts)])
    assert ls.loss_barrier(ts, line) == pytest.approx(0.25)   # (|mid|^2 - 1)^2 = (1/2 - 1)^2
    assert ls.loss_barrier(ts, curve) < 0.01


def test_validation_messages():
    f, _ = tiny_problem()
    with pytest.raises(ValueError, match="steps"):
        ls.top_eigenvalue(f, f.theta0, steps=0)
    with pytest.raises(ValueError, match="direction"):
        ls.filter_normalize(f, torch.ones(3, dtype=D))
    with pytest.raises(ValueError, match="chunk_size"):
        f.batched(f.theta0[None], chunk_size=0)
    with pytest.raises(ValueError, match="sigma"):
        ls.spectral_density(torch.zeros(1, 2), torch.zeros(1, 2), torch.zeros(3), -1.0)
    with pytest.raises(ValueError, match="model"):
        ls.FlatLoss("net", torch.nn.functional.mse_loss, None, None)
    with pytest.raises(ValueError, match="ts"):
        ls.loss_barrier(torch.tensor([0.1, 1.0]), torch.tensor([1.0, 2.0]))
