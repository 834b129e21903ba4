"""The test problems: closed forms against autodiff, known solutions, data generators, and the
statistics of minibatch gradients.

Expected values are computed independently of the code under test: by autodiff of ``value``,
by hand-derived formulas evaluated with Python's math, with numpy, or from the literature.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_lib.problems import (
    Beale,
    Himmelblau,
    LinearRegressionProblem,
    LogisticRegressionProblem,
    MonkeySaddle,
    Quadratic,
    Rastrigin,
    Rosenbrock,
    Saddle,
    linear_regression_data,
    logistic_regression_data,
)

F64 = torch.float64


def _linear(device, l2=0.1):
    X, y, _ = linear_regression_data(30, 4, noise=0.3, seed=1, device=device)
    return LinearRegressionProblem(X, y, l2=l2)


def _logistic(device, l2=0.1):
    X, y, _ = logistic_regression_data(30, 4, seed=2, device=device)
    return LogisticRegressionProblem(X, y, l2=l2)


PROBLEMS = {
    "quadratic": lambda d: Quadratic.with_condition_number(
        50.0, 6, b=torch.linspace(-1, 2, 6, dtype=F64), seed=3, device=d),
    "quadratic-psd": lambda d: Quadratic(torch.tensor([0.0, 1.0, 3.0]), b=[0.0, 2.0, -1.0], device=d),
    "rosenbrock": lambda d: Rosenbrock(device=d),
    "rosenbrock-a2-b50": lambda d: Rosenbrock(a=2.0, b=50.0, device=d),
    "rosenbrock-5d": lambda d: Rosenbrock(dim=5, device=d),
    "beale": lambda d: Beale(device=d),
    "himmelblau": lambda d: Himmelblau(device=d),
    "saddle": lambda d: Saddle(device=d),
    "monkey-saddle": lambda d: MonkeySaddle(device=d),
    "rastrigin-2d": lambda d: Rastrigin(device=d),
    "rastrigin-4d": lambda d: Rastrigin(dim=4, A=3.0, device=d),
    "linear-regression": _linear,
    "linear-regression-no-l2": lambda d: _linear(d, l2=0.0),
    "logistic-regression": _logistic,
    "logistic-regression-no-l2": lambda d: _logistic(d, l2=0.0),
}
WITH_MINIMIZERS = [k for k in PROBLEMS if not k.startswith(("saddle", "monkey", "logistic"))]


def _random_points(problem, shape, seed=0):
    """Points in the problem's plotting box, or standard normal (times 2) without one."""
    gen = torch.Generator().manual_seed(seed)
    u = torch.rand(*shape, problem.dim, generator=gen, dtype=F64)
    if problem.bounds is not None:
        lo = torch.tensor([b[0] for b in problem.bounds], dtype=F64)
        hi = torch.tensor([b[1] for b in problem.bounds], dtype=F64)
        x = lo + (hi - lo) * u
    else:
        x = 2 * torch.randn(*shape, problem.dim, generator=gen, dtype=F64)
    return x.to(problem.device)


@pytest.mark.parametrize("key", PROBLEMS)
def test_closed_form_matches_autograd(key, device):
    problem = PROBLEMS[key](device)
    x = _random_points(problem, (4, 3))
    v, g, h = problem.value(x), problem.grad(x), problem.hessian(x)
    n = problem.dim
    assert v.shape == (4, 3) and g.shape == (4, 3, n) and h.shape == (4, 3, n, n)
    for t in (v, g, h):
        assert t.device.type == torch.device(device).type and t.dtype == F64
    torch.testing.assert_close(g, problem.autograd_grad(x), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(h, problem.autograd_hessian(x), rtol=1e-10, atol=1e-10)
    # A single point (no batch dimension) gives the same numbers as its row of the batch.
    torch.testing.assert_close(problem.grad(x[1, 2]), g[1, 2], rtol=1e-14, atol=0)
    torch.testing.assert_close(problem.autograd_hessian(x[0, 0]), h[0, 0], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("key", WITH_MINIMIZERS)
def test_minimizers_are_stationary_with_the_stated_value(key, device):
    problem = PROBLEMS[key](device)
    xs = problem.minimizers
    assert xs.shape[0] >= 1 and xs.shape[1] == problem.dim
    assert xs.device.type == torch.device(device).type and xs.dtype == problem.dtype
    torch.testing.assert_close(problem.grad(xs), torch.zeros_like(xs), rtol=0, atol=1e-9)
    values = problem.value(xs)
    torch.testing.assert_close(values, torch.full_like(values, problem.min_value), rtol=1e-12, atol=1e-12)
    # Second-order necessary condition at a minimizer.
    assert torch.linalg.eigvalsh(problem.hessian(xs)).min() >= -1e-9


@pytest.mark.parametrize("key", WITH_MINIMIZERS)
def test_min_value_is_a_lower_bound(key, device):
    problem = PROBLEMS[key](device)
    x = _random_points(problem, (5000,), seed=7)
    assert problem.value(x).min() >= problem.min_value - 1e-12


@pytest.mark.parametrize("cls", [Saddle, MonkeySaddle])
def test_saddles_have_no_minimizer_and_a_critical_point_at_the_origin(cls, device):
    problem = cls(device=device)
    assert problem.minimizers.shape == (0, 2)
    assert problem.min_value == -math.inf
    torch.testing.assert_close(problem.critical_points, torch.zeros(1, 2, dtype=F64, device=device))
    torch.testing.assert_close(problem.grad(problem.critical_points), torch.zeros(1, 2, dtype=F64, device=device))
    # Unbounded below, as min_value = -inf says: along x = 0 resp. y = 0, x < 0 the value falls without bound.
    far = torch.tensor([[0.0, 1e3], [-1e3, 0.0]], dtype=F64, device=device)
    assert problem.value(far).min() < -1e5


def test_saddle_hessian_is_indefinite(device):
    eig = torch.linalg.eigvalsh(Saddle(device=device).hessian(torch.zeros(2, dtype=F64, device=device)))
    torch.testing.assert_close(eig, torch.tensor([-2.0, 2.0], dtype=F64, device=device))


def test_monkey_saddle_hessian(device):
    problem = MonkeySaddle(device=device)
    torch.testing.assert_close(problem.hessian(torch.zeros(2, dtype=F64, device=device)),
                               torch.zeros(2, 2, dtype=F64, device=device))
    # trace 0 and determinant -36 (x^2 + y^2): eigenvalues -6|x|, +6|x|, so indefinite off the origin.
    x = _random_points(problem, (50,), seed=1)
    r = torch.linalg.vector_norm(x, dim=-1)
    torch.testing.assert_close(torch.linalg.eigvalsh(problem.hessian(x)), torch.stack([-6 * r, 6 * r], -1))


@pytest.mark.parametrize("a,b", [(1.0, 100.0), (2.0, 50.0), (-0.5, 10.0)])
def test_rosenbrock_hessian_eigenvalues_at_the_minimum(a, b, device):
    problem = Rosenbrock(a=a, b=b, device=device)
    torch.testing.assert_close(problem.minimizers, torch.tensor([[a, a * a]], dtype=F64, device=device))
    # By hand at y = x^2: f_xx = 2 + 8 b a^2, f_xy = -4 a b, f_yy = 2 b; the eigenvalues of a
    # symmetric 2x2 matrix are (tr ± sqrt(tr^2 - 4 det)) / 2.
    hxx, hxy, hyy = 2 + 8 * b * a * a, -4 * a * b, 2 * b
    tr, det = hxx + hyy, hxx * hyy - hxy * hxy
    disc = math.sqrt(tr * tr - 4 * det)
    expected = torch.tensor([(tr - disc) / 2, (tr + disc) / 2], dtype=F64, device=device)
    eig = torch.linalg.eigvalsh(problem.hessian(problem.minimizers[0]))
    torch.testing.assert_close(eig, expected, rtol=1e-10, atol=0)
    assert eig.min() > 0


def test_rosenbrock_classic_hessian_matches_the_literature():
    # a = 1, b = 100: H = [[802, -400], [-400, 200]], eigenvalues 501 ± sqrt(250601) ≈ 1001.6006, 0.3994.
    eig = torch.linalg.eigvalsh(Rosenbrock().hessian(torch.ones(2, dtype=F64)))
    torch.testing.assert_close(eig, torch.tensor([0.3994, 1001.6006], dtype=F64), rtol=0, atol=1e-4)


def test_himmelblau_minimizers(device):
    found = Himmelblau(device=device).minimizers.cpu().numpy()
    literature = np.array([[3.0, 2.0], [-2.805118, 3.131312], [-3.779310, -3.283186], [3.584428, -1.848126]])
    roots = np.roots([1.0, 0.0, -22.0, 1.0, 114.0]).real  # x^4 - 22x^2 + x + 114, with y = 11 - x^2
    for ref, tol in ((literature, 1e-6), (np.stack([roots, 11 - roots ** 2], 1), 1e-9)):
        ordered = lambda p: p[np.lexsort((p[:, 1], p[:, 0]))]
        np.testing.assert_allclose(ordered(found), ordered(ref), atol=tol, rtol=0)


@pytest.mark.parametrize("cls", [Rosenbrock, Beale, Himmelblau, Saddle, MonkeySaddle, Rastrigin])
def test_2d_problems_have_a_plotting_box_around_their_solutions(cls):
    problem = cls()
    assert problem.dim == 2 and isinstance(problem.name, str) and problem.name
    (x0, x1), (y0, y1) = problem.bounds
    assert x0 < x1 and y0 < y1
    for x, y in problem.critical_points.tolist():
        assert x0 < x and x < x1 and y0 < y and y < y1


@pytest.mark.parametrize("kappa,dim", [(1.0, 1), (10.0, 2), (100.0, 7), (1e4, 5)])
def test_quadratic_with_condition_number(kappa, dim, device):
    problem = Quadratic.with_condition_number(kappa, dim, mu=0.3, seed=5, device=device)
    assert problem.mu == 0.3 and problem.L == 0.3 * kappa
    assert problem.condition_number == pytest.approx(kappa, rel=1e-14)
    eig = np.linalg.eigvalsh(problem.A.cpu().numpy())
    np.testing.assert_allclose(eig, np.linspace(0.3, 0.3 * kappa, dim), rtol=1e-10)
    assert eig[-1] / eig[0] == pytest.approx(kappa, rel=1e-10)


def test_quadratic_rotation_is_seeded(device):
    make = lambda seed, rotate=True: Quadratic.from_eigenvalues([1.0, 2.0, 5.0, 9.0], seed=seed,
                                                                rotate=rotate, device=device).A
    assert torch.equal(make(1), make(1))
    assert not torch.allclose(make(1), make(2))
    off_diagonal = lambda A: A - torch.diag(torch.diagonal(A))
    assert off_diagonal(make(1)).abs().max() > 0.1
    torch.testing.assert_close(make(1, rotate=False),
                               torch.diag(torch.tensor([1.0, 2.0, 5.0, 9.0], dtype=F64, device=device)))
    # The same problem on every device: drawn on the CPU, then moved.
    torch.testing.assert_close(make(1).cpu(), Quadratic.from_eigenvalues([1.0, 2.0, 5.0, 9.0], seed=1).A,
                               rtol=0, atol=0)


def test_quadratic_minimizer_solves_the_linear_system(device):
    rng = np.random.default_rng(0)
    M = rng.standard_normal((5, 5))
    A, b = M @ M.T + 0.5 * np.eye(5), rng.standard_normal(5)
    problem = Quadratic(torch.tensor(A), b=torch.tensor(b), device=device)
    x_star = np.linalg.solve(A, b)
    np.testing.assert_allclose(problem.minimizers.cpu().numpy(), x_star[None], rtol=1e-10)
    assert problem.min_value == pytest.approx(0.5 * x_star @ A @ x_star - b @ x_star, rel=1e-12)
    np.testing.assert_allclose(problem.mu, np.linalg.eigvalsh(A)[0], rtol=1e-12)
    np.testing.assert_allclose(problem.L, np.linalg.eigvalsh(A)[-1], rtol=1e-12)


def test_singular_quadratic(device):
    # b in range(A): minimizers form a line; the minimum-norm one is pinv(A) b.
    A = np.array([[2.0, 2.0], [2.0, 2.0]])
    problem = Quadratic(torch.tensor(A), b=[1.0, 1.0], device=device)
    np.testing.assert_allclose(problem.minimizers.cpu().numpy(), (np.linalg.pinv(A) @ [1.0, 1.0])[None], rtol=1e-12)
    assert problem.mu == 0 and problem.L == pytest.approx(4.0)
    with pytest.raises(ValueError, match="mu = 0"):
        problem.condition_number
    # b with a component in the null space: unbounded below along it.
    unbounded = Quadratic(torch.tensor(A), b=[1.0, 0.0], device=device)
    assert unbounded.minimizers.shape == (0, 2) and unbounded.min_value == -math.inf
    far = torch.tensor([1e4, -1e4], dtype=F64, device=device)
    assert unbounded.value(far) < -1e3


@pytest.mark.parametrize("make,match", [
    (lambda: Quadratic([[1.0, 2.0], [0.0, 1.0]]), "Invalid A: not symmetric"),
    (lambda: Quadratic([[1.0, 0.0], [0.0, -1.0]]), "Invalid A: not positive semidefinite"),
    (lambda: Quadratic(torch.ones(2, 3)), "Invalid A"),
    (lambda: Quadratic([[1.0, float("nan")], [float("nan"), 1.0]]), "Invalid A"),
    (lambda: Quadratic([1.0, 2.0], b=[1.0, 2.0, 3.0]), "Invalid b"),
    (lambda: Quadratic.from_eigenvalues([1.0, -2.0]), "Invalid eigenvalues"),
    (lambda: Quadratic.with_condition_number(0.5, 3), "Invalid kappa"),
    (lambda: Quadratic.with_condition_number(10.0, 1), "Invalid dim"),
    (lambda: Quadratic.with_condition_number(10.0, 3, mu=0.0), "Invalid mu"),
    (lambda: Quadratic.with_condition_number(10.0, 3, seed=-1), "Invalid seed"),
    (lambda: Rosenbrock(dim=1), "Invalid dim"),
    (lambda: Rosenbrock(dim=3, a=2.0), "Invalid a"),
    (lambda: Rosenbrock(b=0.0), "Invalid b"),
    (lambda: Rastrigin(A=-1.0), "Invalid A"),
    (lambda: Beale(dtype=torch.int64), "Invalid dtype"),
    (lambda: Himmelblau(device="no-such-device"), "Invalid device"),
])
def test_bad_construction_raises(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("x", [torch.zeros(3, dtype=F64), torch.zeros(2, dtype=torch.int64), [0.0, 0.0],
                               torch.tensor(0.0, dtype=F64)])
def test_bad_inputs_raise(x):
    for method in ("value", "grad", "hessian", "autograd_grad"):
        with pytest.raises(ValueError, match="Invalid x"):
            getattr(Beale(), method)(x)


def test_problems_with_tensors_require_inputs_on_their_dtype():
    with pytest.raises(ValueError, match="Invalid x"):
        Quadratic([1.0, 2.0]).value(torch.zeros(2, dtype=torch.float32))


def test_stateless_problems_follow_the_input(device):
    x = torch.ones(3, 2, dtype=torch.float32, device=device)
    g = Rosenbrock().grad(x)
    assert g.dtype == torch.float32 and g.device.type == torch.device(device).type


# Data generators


@pytest.mark.parametrize("generate", [
    lambda **kw: linear_regression_data(50, 3, noise=0.2, **kw),
    lambda **kw: logistic_regression_data(50, 3, **kw),
    lambda **kw: logistic_regression_data(50, 3, separable=True, margin=0.1, **kw),
])
def test_data_is_reproducible_and_on_the_requested_device(generate, device):
    state = torch.random.get_rng_state()
    first, again = generate(seed=4, device=device), generate(seed=4, device=device)
    other = generate(seed=5, device=device)
    assert torch.equal(torch.random.get_rng_state(), state), "the global RNG must not be used"
    for a, b, c in zip(first, again, other):
        assert a.device.type == torch.device(device).type and a.dtype == F64
        assert torch.equal(a, b)
        assert not torch.equal(a, c)
    # The same data on every device.
    for a, b in zip(first, generate(seed=4, device="cpu")):
        assert torch.equal(a.cpu(), b)
    assert all(t.dtype == torch.float32 for t in generate(seed=4, device=device, dtype=torch.float32))


def test_linear_regression_data(device):
    X, y, w = linear_regression_data(20000, 4, noise=0.0, seed=0, device=device)
    assert X.shape == (20000, 4) and y.shape == (20000,) and w.shape == (4,)
    torch.testing.assert_close(y, X @ w, rtol=1e-12, atol=1e-12)
    X, y, w = linear_regression_data(20000, 4, noise=0.5, seed=0, device=device)
    residual = (y - X @ w).cpu().numpy()
    # The sample standard deviation of N Gaussians has relative standard error 1/sqrt(2N) = 0.5%.
    assert np.std(residual) == pytest.approx(0.5, rel=0.03)
    assert abs(np.mean(residual)) < 5 * 0.5 / math.sqrt(20000)
    assert abs(np.mean(X.cpu().numpy())) < 5 / math.sqrt(80000)


def test_logistic_regression_data_separable_with_margin(device):
    X, y, w = logistic_regression_data(2000, 3, separable=True, margin=0.25, seed=1, device=device)
    projection = X @ (w / torch.linalg.vector_norm(w))
    assert set(y.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(y, (projection > 0).to(F64))
    assert projection.abs().min() >= 0.25 - 1e-12


def test_logistic_regression_data_follows_the_logistic_model(device):
    n = 20000
    X, y, w = logistic_regression_data(n, 3, seed=2, device=device)
    p = torch.sigmoid(X @ w)
    # E[y] = E[sigma(x^T w)]: compare within 5 standard errors (Var y_i <= 1/4).
    assert abs(float(y.mean() - p.mean())) < 5 * 0.5 / math.sqrt(n)
    # Not separable by the true weights: some labels disagree with the side of the hyperplane.
    assert 0 < int(((X @ w > 0).to(F64) != y).sum()) < n // 2


@pytest.mark.parametrize("call,match", [
    (lambda: linear_regression_data(0, 3), "Invalid n_samples"),
    (lambda: linear_regression_data(10, 0), "Invalid n_features"),
    (lambda: linear_regression_data(10, 3, noise=-1.0), "Invalid noise"),
    (lambda: linear_regression_data(10, 3, seed=1.5), "Invalid seed"),
    (lambda: linear_regression_data(10, 3, dtype=torch.int32), "Invalid dtype"),
    (lambda: logistic_regression_data(10, 3, margin=0.5), "Invalid margin"),
    (lambda: logistic_regression_data(10, 3, separable="yes"), "Invalid separable"),
    (lambda: logistic_regression_data(10, 3, separable=True, margin=-0.1), "Invalid margin"),
])
def test_bad_generator_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# Finite-sum problems


def test_linear_regression_matches_numpy(device):
    X, y, w_true = linear_regression_data(40, 3, noise=0.1, seed=3, device=device)
    Xn, yn = X.cpu().numpy(), y.cpu().numpy()
    for l2 in (0.0, 0.5):
        problem = LinearRegressionProblem(X, y, l2=l2)
        w = np.array([0.3, -1.0, 2.0])
        expected = 0.5 * np.mean((Xn @ w - yn) ** 2) + 0.5 * l2 * w @ w
        assert float(problem.value(torch.tensor(w, device=device))) == pytest.approx(expected, rel=1e-12)
        w_star = np.linalg.solve(Xn.T @ Xn / 40 + l2 * np.eye(3), Xn.T @ yn / 40)
        np.testing.assert_allclose(problem.minimizers[0].cpu().numpy(), w_star, rtol=1e-10)
    np.testing.assert_allclose(LinearRegressionProblem(X, y).minimizers[0].cpu().numpy(),
                               w_true.cpu().numpy(), atol=0.1)


def test_rank_deficient_least_squares_gives_the_minimum_norm_solution(device):
    X, y, _ = linear_regression_data(10, 2, seed=0, device=device)
    X = torch.cat([X, X[:, :1]], 1)  # a repeated column: X^T X is singular
    problem = LinearRegressionProblem(X, y)
    w_min_norm = np.linalg.lstsq(X.cpu().numpy(), y.cpu().numpy(), rcond=None)[0]
    np.testing.assert_allclose(problem.minimizers[0].cpu().numpy(), w_min_norm, rtol=1e-9)


def test_logistic_regression_matches_numpy(device):
    X, y, _ = logistic_regression_data(40, 3, seed=3, device=device)
    problem = LogisticRegressionProblem(X, y, l2=0.2)
    w = np.array([0.3, -1.0, 2.0])
    z = X.cpu().numpy() @ w
    expected = np.mean(np.logaddexp(0, z) - y.cpu().numpy() * z) + 0.1 * w @ w
    assert float(problem.value(torch.tensor(w, device=device))) == pytest.approx(expected, rel=1e-12)
    assert problem.minimizers.shape == (0, 3) and problem.min_value is None


@pytest.mark.parametrize("call,match", [
    (lambda X, y: LogisticRegressionProblem(X, 2 * y), "Invalid y"),
    (lambda X, y: LinearRegressionProblem(X, y[:-1]), "Invalid y"),
    (lambda X, y: LinearRegressionProblem(X[0], y), "Invalid X"),
    (lambda X, y: LinearRegressionProblem(X, y, l2=-1.0), "Invalid l2"),
])
def test_bad_data_raises(call, match):
    X, y, _ = logistic_regression_data(10, 2, seed=0)
    with pytest.raises(ValueError, match=match):
        call(X, y)


@pytest.mark.parametrize("key", ["linear-regression", "logistic-regression"])
def test_per_example_grads(key, device):
    problem = PROBLEMS[key](device)
    w = _random_points(problem, (), seed=3)
    G = problem.per_example_grads(w)
    assert G.shape == (problem.n_samples, problem.dim)
    torch.testing.assert_close(G.mean(0), problem.grad(w), rtol=1e-12, atol=1e-14)
    # Row i is the gradient of the one-sample problem (x_i, y_i), by autodiff.
    cls = type(problem)
    for i in (0, 7, problem.n_samples - 1):
        single = cls(problem.X[i:i + 1], problem.y[i:i + 1], l2=problem.l2)
        torch.testing.assert_close(G[i], single.autograd_grad(w), rtol=1e-12, atol=1e-14)
    batch = torch.stack([w, 2 * w])
    assert problem.per_example_grads(batch).shape == (2, problem.n_samples, problem.dim)


@pytest.mark.parametrize("key", ["linear-regression", "logistic-regression"])
def test_minibatch_grad_samples_without_replacement(key, device):
    problem = PROBLEMS[key](device)
    w = _random_points(problem, (), seed=3)
    gen = lambda: torch.Generator().manual_seed(11)
    # All N examples without replacement: exactly the full gradient (with replacement, almost never).
    torch.testing.assert_close(problem.minibatch_grad(w, problem.n_samples, gen()), problem.grad(w),
                               rtol=1e-12, atol=1e-14)
    one = problem.minibatch_grad(w, 1, gen())
    G = problem.per_example_grads(w)
    assert torch.isclose(G, one, rtol=1e-12, atol=1e-14).all(dim=1).any()
    assert torch.equal(problem.minibatch_grad(w, 5, gen()), problem.minibatch_grad(w, 5, gen()))


def test_minibatch_grad_arguments():
    problem = PROBLEMS["linear-regression"]("cpu")
    w, gen = torch.zeros(problem.dim, dtype=F64), torch.Generator()
    for b in (0, problem.n_samples + 1, 2.0):
        with pytest.raises(ValueError, match="Invalid batch_size"):
            problem.minibatch_grad(w, b, gen)
    with pytest.raises(ValueError, match="Invalid generator"):
        problem.minibatch_grad(w, 3, 0)


def test_minibatch_gradient_variance_has_the_finite_population_correction(device):
    """E||g_b - grad f||^2 = (S^2 / b)(1 - b/N) for b samples drawn without replacement, where
    S^2 = sum_i ||g_i - grad f||^2 / (N - 1)."""
    X, y, _ = logistic_regression_data(40, 3, seed=6, device=device)
    problem = LogisticRegressionProblem(X, y, l2=0.05)
    w = torch.tensor([0.5, -0.3, 0.8], dtype=F64, device=device)
    n, b, trials = problem.n_samples, 20, 10000
    G = problem.per_example_grads(w).cpu()
    full = G.mean(0)
    S2 = float(((G - full) ** 2).sum() / (n - 1))
    without_replacement = S2 / b * (1 - b / n)
    with_replacement = S2 * (n - 1) / n / b  # sigma^2 / b, sigma^2 the population variance
    gen = torch.Generator().manual_seed(0)
    sq = torch.stack([((problem.minibatch_grad(w, b, gen).cpu() - full) ** 2).sum() for _ in range(trials)])
    estimate, stderr = float(sq.mean()), float(sq.std() / math.sqrt(trials))
    assert abs(estimate - without_replacement) < 5 * stderr
    # The test has the power to tell the two formulas apart (here they differ by a factor 20/39).
    assert abs(estimate - with_replacement) > 10 * stderr
