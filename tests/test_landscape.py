"""course_lib.landscape: every function against an independent computation, and its validation."""

import math

import pytest
import torch

from course_lib.devices import available_devices
from course_lib.landscape import (classify_critical_point, convexity_gap, escape_time,
                                  fraction_positive_definite, goe_matrices)
from course_lib.problems import Himmelblau, MonkeySaddle, Quadratic, Rosenbrock, Saddle

DEVICES = available_devices()


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# --- convexity_gap ---------------------------------------------------------------------------

def test_convexity_gap_of_a_quadratic_is_exact():
    # f(x) = |x|^2: gap = -theta (1 - theta) |x - y|^2, exactly.
    x = torch.randn(50, 3, generator=gen(1), dtype=torch.float64)
    y = torch.randn(50, 3, generator=gen(2), dtype=torch.float64)
    thetas = torch.linspace(0, 1, 11, dtype=torch.float64)
    gap = convexity_gap(lambda z: (z ** 2).sum(-1), x, y, thetas)
    expected = -(thetas * (1 - thetas))[None, :] * ((x - y) ** 2).sum(-1)[:, None]
    assert gap.shape == (50, 11)
    torch.testing.assert_close(gap, expected, rtol=1e-12, atol=1e-12)


def test_convexity_gap_detects_non_convexity():
    # Rosenbrock is not convex: the chord from (-1, 1) to (1, 1) passes over the ridge.
    f = Rosenbrock()
    gap = convexity_gap(f.value, torch.tensor([-1.0, 1.0], dtype=torch.float64),
                        torch.tensor([1.0, 1.0], dtype=torch.float64), [0.5])
    assert float(gap) == pytest.approx(101.0 - (4.0 + 0.0) / 2)   # f(0, 1) - (f(-1, 1) + f(1, 1)) / 2
    # A convex problem never shows a positive gap on random chords.
    q = Quadratic.with_condition_number(50.0, dim=4, seed=3)
    x = torch.randn(200, 4, generator=gen(4), dtype=torch.float64)
    y = torch.randn(200, 4, generator=gen(5), dtype=torch.float64)
    assert convexity_gap(q.value, x, y, torch.rand(7, generator=gen(6), dtype=torch.float64)).max() <= 1e-12


def test_convexity_gap_endpoints_are_zero():
    f = Himmelblau()
    x = torch.randn(5, 2, generator=gen(7), dtype=torch.float64)
    y = torch.randn(5, 2, generator=gen(8), dtype=torch.float64)
    gap = convexity_gap(f.value, x, y, [0.0, 1.0])
    assert gap.abs().max() < 1e-12


@pytest.mark.parametrize("kwargs", [
    dict(f=3),
    dict(thetas=[0.5, 1.5]),
    dict(thetas=[]),
    dict(thetas=[[0.5]]),
    dict(y=torch.zeros(3, 3, dtype=torch.float64)),
    dict(x=torch.tensor([[math.nan, 0.0], [0.0, 0.0]], dtype=torch.float64)),
    dict(f=lambda z: z),                        # wrong output shape
])
def test_convexity_gap_validation(kwargs):
    args = dict(f=lambda z: (z ** 2).sum(-1), x=torch.zeros(2, 2, dtype=torch.float64),
                y=torch.ones(2, 2, dtype=torch.float64), thetas=[0.5])
    args.update(kwargs)
    with pytest.raises(ValueError):
        convexity_gap(args["f"], args["x"], args["y"], args["thetas"])


# --- classify_critical_point -----------------------------------------------------------------

def test_classify_known_critical_points():
    zero = torch.zeros(2, dtype=torch.float64)
    assert classify_critical_point(Saddle().hessian(zero)) == "saddle"
    assert classify_critical_point(MonkeySaddle().hessian(zero)) == "degenerate"
    assert classify_critical_point(Rosenbrock().hessian(torch.ones(2, dtype=torch.float64))) == "minimum"
    h = Himmelblau()
    kinds = classify_critical_point(h.hessian(h.minimizers))
    assert kinds == ["minimum"] * 4
    # Himmelblau's local maximum, near (-0.270845, -0.923039): negative definite Hessian.
    assert classify_critical_point(h.hessian(torch.tensor([-0.270845, -0.923039], dtype=torch.float64))) == "maximum"


@pytest.mark.parametrize("eigs, kind", [
    ([1.0, 2.0, 3.0], "minimum"), ([-1.0, -2.0], "maximum"), ([1.0, -1e-3, 4.0], "saddle"),
    ([1.0, 0.0, 2.0], "degenerate"), ([0.0, -1.0], "degenerate"), ([0.0, -1.0, 2.0], "saddle"),
    ([1e-9, 1.0], "degenerate"), ([5.0], "minimum"),
])
def test_classify_rotated_diagonal(eigs, kind):
    Q, _ = torch.linalg.qr(torch.randn(len(eigs), len(eigs), generator=gen(11), dtype=torch.float64))
    H = Q @ torch.diag(torch.tensor(eigs, dtype=torch.float64)) @ Q.T   # a random rotation of diag(eigs)
    assert classify_critical_point((H + H.T) / 2, tol=1e-8) == kind


def test_classify_batch_and_tolerance():
    H = torch.stack([torch.diag(torch.tensor(v, dtype=torch.float64))
                     for v in ([1.0, 2.0], [1.0, -2.0], [-1.0, -2.0], [1e-3, 2.0])])
    assert classify_critical_point(H) == ["minimum", "saddle", "maximum", "minimum"]
    assert classify_critical_point(H, tol=1e-2)[3] == "degenerate"
    assert classify_critical_point(H.reshape(2, 2, 2, 2)) == [["minimum", "saddle"], ["maximum", "minimum"]]


@pytest.mark.parametrize("hessian, tol", [
    (torch.zeros(2, 3), 1e-8), (torch.tensor([[1.0, 2.0], [0.0, 1.0]]), 1e-8), (torch.eye(2), -1.0),
    (torch.tensor([1.0]), 1e-8), (torch.tensor([[math.inf]]), 1e-8), ("abc", 1e-8),
])
def test_classify_validation(hessian, tol):
    with pytest.raises(ValueError):
        classify_critical_point(hessian, tol)


# --- GOE -------------------------------------------------------------------------------------

def test_goe_moments_and_symmetry():
    H = goe_matrices(3, 40_000, gen(0))
    assert H.shape == (40_000, 3, 3) and torch.equal(H, H.transpose(-1, -2))
    diag_var = H.diagonal(dim1=-2, dim2=-1).var().item()
    off_var = H[:, 0, 1].var().item()
    assert diag_var == pytest.approx(1.0, rel=0.03)
    assert off_var == pytest.approx(0.5, rel=0.03)


def test_goe_is_reproducible():
    assert torch.equal(goe_matrices(4, 10, gen(3)), goe_matrices(4, 10, gen(3)))
    assert not torch.equal(goe_matrices(4, 10, gen(3)), goe_matrices(4, 10, gen(4)))


def test_fraction_positive_definite_closed_forms():
    n = 200_000
    p1 = fraction_positive_definite(1, n, gen(0))
    p2 = fraction_positive_definite(2, n, gen(1), batch=30_000)
    exact2 = (2 - math.sqrt(2)) / 4                     # Dean and Majumdar's d = 2 value
    for p, exact in [(p1, 0.5), (p2, exact2)]:
        se = math.sqrt(exact * (1 - exact) / n)
        assert abs(p - exact) < 4 * se, (p, exact)


def test_fraction_positive_definite_matches_eigenvalues():
    # Independent count: smallest eigenvalue > 0 on the same draws.
    H = goe_matrices(3, 20_000, gen(5))
    by_eig = (torch.linalg.eigvalsh(H)[:, 0] > 0).double().mean().item()
    assert fraction_positive_definite(3, 20_000, gen(5)) == pytest.approx(by_eig, abs=1e-12)


def test_fraction_positive_definite_decreases():
    ps = [fraction_positive_definite(d, 50_000, gen(d)) for d in (1, 2, 3, 4)]
    assert ps[0] > ps[1] > ps[2] > ps[3] > 0
    assert ps[3] < 2.0 ** -4 / 5          # far below the independent-signs guess 2^-d


@pytest.mark.parametrize("kwargs", [dict(dim=0), dict(dim=2.0), dict(samples=0), dict(batch=0),
                                    dict(generator=3), dict(dtype=torch.int64)])
def test_goe_validation(kwargs):
    args = dict(dim=2, samples=10, generator=gen(0))
    extra = {k: kwargs.pop(k) for k in ("batch",) if k in kwargs}
    args.update(kwargs)
    with pytest.raises(ValueError):
        if extra:
            fraction_positive_definite(args["dim"], args["samples"], args["generator"], **extra)
        else:
            dtype = args.pop("dtype", torch.float64)
            goe_matrices(args["dim"], args["samples"], args["generator"], dtype=dtype)
            fraction_positive_definite(args["dim"], args["samples"], args["generator"])


# --- escape_time -----------------------------------------------------------------------------

def test_escape_along_unstable_direction_matches_theory():
    # f = x^2 - y^2: y grows by exactly (1 + 2 lr) per step, so from y0 = eps the escape step is
    # the smallest t with eps (1 + 2 lr)^t >= 1 (x0 = 0 stays 0).
    s = Saddle()
    for eps, lr in [(1e-8, 0.1), (1e-3, 0.05), (0.3, 0.2)]:
        t = escape_time(s, torch.tensor([0.0, eps], dtype=torch.float64), lr, 10_000)
        expected = math.ceil(math.log(1 / eps) / math.log(1 + 2 * lr))
        assert float(t) == expected


def test_no_escape_from_the_stable_direction_without_noise():
    s = Saddle()
    x0 = torch.tensor([[1e-8, 0.0], [0.5, 0.0]], dtype=torch.float64)
    t = escape_time(s, x0, 0.1, 5_000)
    assert torch.isinf(t).all()


def test_noisy_escape_matches_the_gaussian_prediction():
    # y_t ~ N(0, s^2 ((1+a)^(2t) - 1) / ((1+a)^2 - 1)) with a = 2 lr, so the mean escape step is
    # about [ln(r sqrt((1+a)^2-1) / s) + E(-ln|Z|)] / ln(1+a), E(-ln|Z|) = (gamma + ln 2)/2.
    s, lr, sigma = Saddle(), 0.1, 1e-6
    a = 2 * lr
    t = escape_time(s, torch.tensor([1e-8, 0.0], dtype=torch.float64).repeat(2000, 1), lr, 1000,
                    noise=sigma, generator=gen(0))
    assert torch.isfinite(t).all()
    euler = 0.5772156649015329
    pred = (math.log(math.sqrt((1 + a) ** 2 - 1) / sigma) + (euler + math.log(2)) / 2) / math.log(1 + a)
    assert abs(t.mean().item() - pred) < 1.0


def test_escape_reproducible_and_already_outside():
    s = Saddle()
    x0 = torch.tensor([[0.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    t1 = escape_time(s, x0, 0.1, 500, noise=1e-5, generator=gen(9))
    t2 = escape_time(s, x0, 0.1, 500, noise=1e-5, generator=gen(9))
    assert torch.equal(t1, t2) and t1[1] == 0 and 0 < t1[0] < 500


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_devices_and_dtypes(device, dtype):
    s = Saddle(device=device, dtype=dtype)
    t = escape_time(s, torch.tensor([0.0, 1e-3], device=device, dtype=dtype), 0.1, 200)
    assert t.dtype == dtype and t.device.type == torch.device(device).type
    assert float(t) == math.ceil(math.log(1e3) / math.log(1.2))
    H = goe_matrices(2, 5, gen(0), device=device, dtype=dtype)
    assert H.dtype == dtype and H.device.type == torch.device(device).type
    assert classify_critical_point(torch.eye(2, device=device, dtype=dtype)) == "minimum"
    x = torch.zeros(3, 2, device=device, dtype=dtype)
    gap = convexity_gap(lambda z: (z ** 2).sum(-1), x, x + 1, [0.5])
    assert gap.dtype == dtype and gap.device.type == torch.device(device).type


@pytest.mark.parametrize("kwargs", [
    dict(problem="saddle"), dict(lr=0.0), dict(lr=-1.0), dict(steps=-1), dict(steps=1.5),
    dict(radius=0.0), dict(noise=-1e-3), dict(generator=1), dict(x0=torch.zeros(3)),
    dict(x0=torch.zeros(0, 2)), dict(center=torch.zeros(3)),
])
def test_escape_time_validation(kwargs):
    args = dict(problem=Saddle(), x0=torch.zeros(2, dtype=torch.float64), lr=0.1, steps=10)
    opts = {k: kwargs.pop(k) for k in ("radius", "noise", "generator", "center") if k in kwargs}
    args.update(kwargs)
    with pytest.raises(ValueError):
        escape_time(args["problem"], args["x0"], args["lr"], args["steps"], **opts)


class _NoCritical(Saddle):
    def __init__(self):
        super().__init__()
        self.critical_points = torch.zeros(0, 2, dtype=torch.float64)


def test_escape_time_needs_a_center():
    with pytest.raises(ValueError, match="center"):
        escape_time(_NoCritical(), torch.zeros(2, dtype=torch.float64), 0.1, 5)
