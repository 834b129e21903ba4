"""Tests of course_lib.second_order against independent computations (explicit Hessians and
inverses, torch.autograd.functional, torch.optim.LBFGS, closed forms)."""

import pytest
import torch

from course_lib import second_order as so

D = torch.float64


def rosen(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def make_quadratic(n=5, seed=0, dtype=D):
    g = torch.Generator().manual_seed(seed)
    M = torch.randn(n, n, generator=g, dtype=dtype)
    A = M @ M.T + n * torch.eye(n, dtype=dtype)
    b = torch.randn(n, generator=g, dtype=dtype)
    return A, b, (lambda x: 0.5 * x @ A @ x - b @ x)


def logistic_data(n=60, d=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=D)
    y = (X @ torch.tensor([1.0, -2.0, 0.5], dtype=D) + torch.randn(n, generator=g, dtype=D)
         > 0).to(D)
    return X, y


def test_newton_step_matches_inverse():
    A, b, _ = make_quadratic()
    g = torch.randn(5, dtype=D, generator=torch.Generator().manual_seed(3))
    for lam in (0.0, 0.7):
        expected = -torch.linalg.inv(A + lam * torch.eye(5, dtype=D)) @ g
        torch.testing.assert_close(so.newton_step(g, A, lam), expected)


def test_newton_one_step_exact_on_quadratic():
    A, b, f = make_quadratic()
    xs = so.newton(f, torch.zeros(5, dtype=D), steps=1)
    torch.testing.assert_close(xs[-1], torch.linalg.solve(A, b))


def test_newton_quadratic_convergence_rosenbrock():
    xs = so.newton(rosen, torch.tensor([-1.2, 1.0], dtype=D), steps=50, line_search=True,
                   tol=1e-12)
    err = (xs - torch.tensor([1.0, 1.0], dtype=D)).norm(dim=1)
    assert float(err[-1]) < 1e-10
    e = err[(err < 1e-1) & (err > 1e-9)]
    ratios = torch.log(e[1:]) / torch.log(e[:-1])
    assert float(ratios[-1]) > 1.7


def test_plain_newton_goes_uphill_on_nonconvex():
    f = lambda x: x[0] ** 4 - 4 * x[0] ** 2 + x[0]            # noqa: E731
    xs = so.newton(f, torch.tensor([0.3], dtype=D), steps=20)
    # f'' < 0 near 0: plain Newton converges to the local maximum near x = 0.125
    assert abs(float(xs[-1, 0]) - 0.1256) < 1e-3
    xs_ls = so.newton(f, torch.tensor([0.3], dtype=D), steps=50, line_search=True)
    fp = 4 * xs_ls[-1, 0] ** 3 - 8 * xs_ls[-1, 0] + 1
    assert abs(float(fp)) < 1e-8 and 12 * xs_ls[-1, 0] ** 2 - 8 > 0
    assert bool((torch.stack([f(x) for x in xs_ls]).diff() <= 1e-12).all())


def test_backtracking_armijo():
    f = lambda x: (x ** 2).sum()                               # noqa: E731
    x = torch.tensor([1.0, 0.0], dtype=D)
    g = 2 * x
    t = so.backtracking_line_search(f, x, -g, g, t0=4.0)
    assert t == 0.5                                            # 4, 2, 1 fail; 0.5 passes
    with pytest.raises(ValueError, match="direction"):
        so.backtracking_line_search(f, x, g, g)


def test_two_loop_matches_explicit_matrix():
    gen = torch.Generator().manual_seed(5)
    A, _, _ = make_quadratic(6)
    s_list = [torch.randn(6, generator=gen, dtype=D) for _ in range(4)]
    y_list = [A @ s for s in s_list]
    g = torch.randn(6, generator=gen, dtype=D)
    H = so.inverse_bfgs_matrix(s_list, y_list)
    torch.testing.assert_close(so.lbfgs_two_loop(g, s_list, y_list), H @ g)
    # the secant condition H y = s holds for the newest pair
    torch.testing.assert_close(H @ y_list[-1], s_list[-1])


def test_inverse_bfgs_matrix_symmetric_positive_definite_and_secant():
    A, _, _ = make_quadratic(4)
    eye = torch.eye(4, dtype=D)
    s_list = [eye[i] + 0.1 * eye[(i + 1) % 4] for i in range(4)]
    y_list = [A @ s for s in s_list]
    H = so.inverse_bfgs_matrix(s_list, y_list, gamma=1.0)
    torch.testing.assert_close(H, H.T)
    assert float(torch.linalg.eigvalsh(H)[0]) > 0
    torch.testing.assert_close(H @ y_list[-1], s_list[-1])
    with pytest.raises(ValueError, match="curvature"):
        so.inverse_bfgs_matrix([eye[0]], [-eye[0]])


def test_lbfgs_and_bfgs_against_torch_lbfgs():
    x0 = torch.tensor([-1.2, 1.0], dtype=D)
    xs, n = so.lbfgs(rosen, x0, steps=200, history=10)
    xb, nb = so.bfgs(rosen, x0, steps=200)
    p = x0.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([p], lr=1, max_iter=500, history_size=10,
                            line_search_fn="strong_wolfe", tolerance_grad=1e-12,
                            tolerance_change=1e-15)

    def closure():
        opt.zero_grad()
        loss = rosen(p)
        loss.backward()
        return loss
    opt.step(closure)
    assert float(rosen(p.detach())) < 1e-12
    assert float(rosen(xs[-1])) < 1e-12 and float(rosen(xb[-1])) < 1e-12
    assert len(xs) < 100 and n < 200


def test_hvp_both_methods_match_hessian():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(4, generator=gen, dtype=D)
    v = torch.randn(4, generator=gen, dtype=D)
    f = lambda z: torch.sin(z).sum() * (z ** 2).sum() + z.prod()    # noqa: E731
    H = torch.autograd.functional.hessian(f, x)
    for method in ("forward", "double_backward"):
        torch.testing.assert_close(so.hvp(f, x, v, method=method), H @ v)
    with pytest.raises(ValueError, match="method"):
        so.hvp(f, x, v, method="bogus")


def test_hutchinson_unbiased_and_exact_for_diagonal():
    A, _, f = make_quadratic(5)
    gen = torch.Generator().manual_seed(0)
    est = so.hutchinson_diagonal(f, torch.zeros(5, dtype=D), 4000, generator=gen)
    off = (A - torch.diag(torch.diag(A))).pow(2).sum(1).sqrt()
    assert bool(((est - torch.diag(A)).abs() < 5 * off / 4000 ** 0.5).all())
    d = torch.tensor([1.0, 2.0, 3.0], dtype=D)
    est = so.hutchinson_diagonal(lambda z: 0.5 * (d * z * z).sum(), torch.zeros(3, dtype=D), 1)
    torch.testing.assert_close(est, d)


def test_fisher_equals_hessian_of_logistic_loss():
    X, y = logistic_data()
    w = torch.tensor([0.3, -0.2, 0.1], dtype=D)
    H = torch.autograd.functional.hessian(lambda v: so.logistic_loss(X, y, v), w)
    torch.testing.assert_close(so.logistic_fisher(X, w), H)


def test_natural_gradient_is_reparametrization_invariant():
    X, y = logistic_data()
    S = torch.tensor([1.0, 10.0, 0.1], dtype=D)
    w, u = torch.zeros(3, dtype=D), torch.zeros(3, dtype=D)
    for _ in range(5):
        w = so.natural_gradient_step(X, y, w, lr=0.5)
        u = so.natural_gradient_step(X * S, y, u, lr=0.5)
    torch.testing.assert_close(w, u * S)


def test_gauss_newton_linear_least_squares_one_step():
    gen = torch.Generator().manual_seed(4)
    A = torch.randn(10, 3, generator=gen, dtype=D)
    b = torch.randn(10, generator=gen, dtype=D)
    xs = so.gauss_newton(lambda x: A @ x - b, torch.zeros(3, dtype=D), 1)
    torch.testing.assert_close(xs[-1], torch.linalg.lstsq(A, b[:, None]).solution[:, 0])


def test_float32_and_dtype_kept():
    A, b, f = make_quadratic(3, dtype=torch.float32)
    xs = so.newton(f, torch.zeros(3), steps=2)
    assert xs.dtype == torch.float32
    xl, _ = so.lbfgs(f, torch.zeros(3), steps=30)
    assert xl.dtype == torch.float32
    torch.testing.assert_close(xl[-1], torch.linalg.solve(A, b), atol=1e-4, rtol=1e-4)
    assert so.hvp(f, torch.zeros(3), torch.ones(3)).dtype == torch.float32


@pytest.mark.parametrize("call, name", [
    (lambda: so.newton_step(torch.ones(2), torch.eye(2), -1.0), "damping"),
    (lambda: so.newton_step(torch.ones(2), torch.eye(3)), "hess"),
    (lambda: so.newton(rosen, torch.ones(2), -1), "steps"),
    (lambda: so.newton(rosen, torch.ones(2, 1), 1), "x0"),
    (lambda: so.lbfgs(rosen, torch.ones(2), 5, history=0), "history"),
    (lambda: so.natural_gradient_step(torch.ones(3, 2), torch.tensor([0.0, 1, 2]),
                                      torch.zeros(2)), "y"),
    (lambda: so.hutchinson_diagonal(rosen, torch.ones(2), 0), "samples"),
    (lambda: so.backtracking_line_search(rosen, torch.ones(2), -torch.ones(2),
                                         torch.ones(2), beta=1.5), "beta"),
])
def test_validation(call, name):
    with pytest.raises(ValueError, match=name):
        call()
