r"""Probing the shape of an objective: convexity checks, critical points, random Hessians, saddles.

Four tools, each checked against an independent computation in ``tests/test_landscape.py``:

* :func:`convexity_gap` samples chords: for points :math:`x, y` and weights :math:`\theta \in [0, 1]`,

  .. math::

      \operatorname{gap}(x, y, \theta) = f(\theta x + (1 - \theta) y) - \big(\theta f(x) + (1 - \theta) f(y)\big),

  which is :math:`\le 0` for every chord exactly when :math:`f` is convex. A positive gap proves
  that :math:`f` is not convex; gaps that are all :math:`\le 0` are only evidence that it is.
* :func:`classify_critical_point` reads a critical point off the eigenvalues of its Hessian:
  all :math:`> \text{tol}` a strict local minimum, all :math:`< -\text{tol}` a strict local
  maximum, some of each sign a saddle, otherwise ``"degenerate"`` (second-order information does
  not decide).
* :func:`goe_matrices` and :func:`fraction_positive_definite` sample the Gaussian orthogonal
  ensemble (GOE), :math:`H = (A + A^\top)/2` with i.i.d. standard normal :math:`A`, and measure
  the probability that all :math:`d` eigenvalues are positive (1/2 for :math:`d = 1`,
  :math:`(2 - \sqrt 2)/4` for :math:`d = 2`, and :math:`\approx e^{-(\ln 3 / 4) d^2}` for large
  :math:`d`, Dean and Majumdar 2006).
* :func:`escape_time` runs gradient descent, optionally with isotropic Gaussian noise,
  :math:`x_{t+1} = x_t - \eta \nabla f(x_t) + \sigma \xi_t`, from a batch of points near a
  critical point :math:`c`, and returns the first step :math:`t` with
  :math:`\lVert x_t - c \rVert \ge r` (``inf`` if none within the budget).

Every function takes its randomness from a ``torch.Generator`` it is given (never the global one),
computes on the device and dtype of its inputs (or the ones it is given), and raises ValueError,
naming the parameter, on bad input.

Example::

    from course_lib.landscape import classify_critical_point
    from course_lib.problems import Saddle
    classify_critical_point(Saddle().hessian(torch.zeros(2, dtype=torch.float64)))   # 'saddle'
"""

from __future__ import annotations

import math

import torch

from .checks import check_non_negative, check_positive
from .devices import resolve_device
from .problems import Problem

__all__ = [
    "convexity_gap",
    "classify_critical_point",
    "goe_matrices",
    "fraction_positive_definite",
    "escape_time",
]

_KINDS = ("minimum", "maximum", "saddle", "degenerate")


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"Invalid {name}: {value!r} (must be an integer >= {minimum})")
    return value


def _check_generator(generator) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"Invalid generator: {generator!r} (must be a torch.Generator or None)")


def _check_float_dtype(dtype) -> torch.dtype:
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"Invalid dtype: {dtype!r} (must be a floating-point torch.dtype)")
    return dtype


def _as_real_tensor(name: str, value) -> torch.Tensor:
    try:
        t = value if isinstance(value, torch.Tensor) else torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"Invalid {name}: cannot be converted to a tensor ({exc})") from None
    if not t.is_floating_point():
        t = t.to(torch.float64)
    if not torch.isfinite(t).all():
        raise ValueError(f"Invalid {name}: contains non-finite entries")
    return t


def convexity_gap(f, x, y, thetas) -> torch.Tensor:
    r"""The chord gaps :math:`f(\theta x + (1-\theta) y) - \theta f(x) - (1-\theta) f(y)`.

    ``f`` maps a tensor of points of shape ``(..., n)`` to values of shape ``(...)`` (every
    :class:`~course_lib.problems.Problem`'s ``value`` does). ``x`` and ``y`` have shape
    ``(m, n)`` (``m`` chords; a 1-D point is one chord) and ``thetas`` shape ``(k,)``, entries in
    :math:`[0, 1]`. Returns the gaps, shape ``(m, k)``, on the device and dtype of ``x``.

    By definition :math:`f` is convex if and only if every gap, for all :math:`x, y, \theta`, is
    :math:`\le 0`: ``gap.max() > 0`` (beyond rounding) certifies non-convexity, while a
    non-positive maximum over samples is evidence, not proof, of convexity.
    """
    if not callable(f):
        raise ValueError(f"Invalid f: {f!r} (must be callable)")
    x = _as_real_tensor("x", x)
    y = _as_real_tensor("y", y).to(device=x.device, dtype=x.dtype)
    if x.dim() == 1:
        x = x.unsqueeze(0)
    if y.dim() == 1:
        y = y.unsqueeze(0)
    if x.dim() != 2 or x.shape != y.shape or x.shape[0] == 0:
        raise ValueError(f"Invalid x, y: shapes {tuple(x.shape)} and {tuple(y.shape)} (must be equal, (m, n), m >= 1)")
    thetas = _as_real_tensor("thetas", thetas).to(device=x.device, dtype=x.dtype)
    if thetas.dim() != 1 or thetas.numel() == 0 or (thetas < 0).any() or (thetas > 1).any():
        raise ValueError(f"Invalid thetas: {thetas.tolist()!r} (must be a non-empty 1-D list of numbers in [0, 1])")
    th = thetas[None, :, None]                                   # (1, k, 1)
    mid = th * x[:, None, :] + (1 - th) * y[:, None, :]          # (m, k, n)
    fx, fy, fm = f(x), f(y), f(mid)
    if fx.shape != x.shape[:1] or fm.shape != mid.shape[:2]:
        raise ValueError(f"Invalid f: returned shape {tuple(fm.shape)} for points of shape {tuple(mid.shape)} "
                         "(must map (..., n) to (...))")
    return fm - (thetas[None, :] * fx[:, None] + (1 - thetas[None, :]) * fy[:, None])


def classify_critical_point(hessian, tol: float = 1e-8) -> str | list:
    r"""Classify a critical point from the eigenvalues :math:`\lambda_i` of its Hessian.

    Returns ``"minimum"`` if every :math:`\lambda_i > \text{tol}` (a strict local minimum),
    ``"maximum"`` if every :math:`\lambda_i < -\text{tol}`, ``"saddle"`` if some
    :math:`\lambda_i > \text{tol}` and some :math:`\lambda_j < -\text{tol}` (the Hessian is
    indefinite: a saddle whatever the higher derivatives), and ``"degenerate"`` otherwise: some
    :math:`|\lambda_i| \le \text{tol}` and no sign change, where the second-order test is silent
    (:math:`x^4`, :math:`-x^4` and :math:`x^3` all have zero Hessian at 0).

    ``hessian`` is a symmetric ``(n, n)`` matrix, or a batch ``(..., n, n)``, for which a nested
    list of the same leading shape is returned. ``tol >= 0`` is an absolute tolerance.
    """
    H = _as_real_tensor("hessian", hessian)
    check_non_negative("tol", tol)
    if H.dim() < 2 or H.shape[-1] != H.shape[-2] or H.shape[-1] == 0:
        raise ValueError(f"Invalid hessian: shape {tuple(H.shape)} (must be (..., n, n) with n >= 1)")
    scale = max(float(H.abs().max()), 1.0)
    if not torch.allclose(H, H.transpose(-1, -2), rtol=0, atol=1e-10 * scale):
        raise ValueError("Invalid hessian: not symmetric")
    eig = torch.linalg.eigvalsh((H + H.transpose(-1, -2)) / 2)
    pos, neg = (eig > tol).any(-1), (eig < -tol).any(-1)
    allpos, allneg = (eig > tol).all(-1), (eig < -tol).all(-1)
    code = torch.full(pos.shape, 3, dtype=torch.long, device=eig.device)
    code[pos & neg] = 2
    code[allneg] = 1
    code[allpos] = 0
    if code.dim() == 0:
        return _KINDS[int(code)]

    def names(c):
        return [names(row) for row in c] if c.dim() > 0 else _KINDS[int(c)]
    return names(code.cpu())


def goe_matrices(dim: int, samples: int, generator: torch.Generator | None = None, *,
                 device=None, dtype=torch.float64) -> torch.Tensor:
    r"""``samples`` matrices of the Gaussian orthogonal ensemble, shape ``(samples, dim, dim)``.

    :math:`H = (A + A^\top)/2` with i.i.d. standard normal entries :math:`A_{ij}`: the diagonal
    entries have variance 1, the off-diagonal ones variance 1/2, and the density, proportional to
    :math:`e^{-\operatorname{tr}(H^2)/2}`, is invariant under :math:`H \mapsto Q H Q^\top` for
    orthogonal :math:`Q`. Drawn on CPU from ``generator`` (reproducible on every device), then
    moved to ``device``.
    """
    _check_int("dim", dim, 1)
    _check_int("samples", samples, 1)
    _check_generator(generator)
    _check_float_dtype(dtype)
    A = torch.randn(samples, dim, dim, generator=generator, dtype=torch.float64)
    H = (A + A.transpose(-1, -2)) / 2
    return H.to(device=resolve_device(device), dtype=dtype)


def fraction_positive_definite(dim: int, samples: int, generator: torch.Generator | None = None, *,
                               batch: int = 100_000, device=None, dtype=torch.float64) -> float:
    r"""The fraction of ``samples`` GOE matrices of size ``dim`` whose eigenvalues are all positive.

    A Monte Carlo estimate of :math:`p_d = P(\lambda_{\min}(H) > 0)`, whose standard error is
    :math:`\sqrt{p_d (1 - p_d) / \text{samples}}`. Known values: :math:`p_1 = 1/2`,
    :math:`p_2 = (2 - \sqrt 2)/4 \approx 0.1464`, and :math:`\ln p_d \approx -(\ln 3/4)\, d^2`
    as :math:`d \to \infty` (Dean and Majumdar 2006). Matrices are drawn ``batch`` at a time and
    tested by a Cholesky factorization, which exists exactly when the matrix is positive definite
    (a matrix with a zero eigenvalue has probability zero).
    """
    _check_int("dim", dim, 1)
    _check_int("samples", samples, 1)
    _check_int("batch", batch, 1)
    hits, done = 0, 0
    while done < samples:
        n = min(batch, samples - done)
        H = goe_matrices(dim, n, generator, device=device, dtype=dtype)
        hits += int((torch.linalg.cholesky_ex(H).info == 0).sum())
        done += n
    return hits / samples


def escape_time(problem: Problem, x0, lr: float, steps: int, *, center=None, radius: float = 1.0,
                noise: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""The first step at which (noisy) gradient descent is ``radius`` away from ``center``.

    Runs :math:`x_{t+1} = x_t - \eta \nabla f(x_t) + \sigma \xi_t` with :math:`\xi_t` i.i.d.
    standard normal vectors drawn from ``generator`` (:math:`\sigma` = ``noise``; ``noise = 0`` is
    plain gradient descent) for every row of ``x0`` (shape ``(n,)`` or ``(b, n)``), and returns,
    per row, the first :math:`t \le` ``steps`` with :math:`\lVert x_t - c\rVert \ge r`, or
    ``inf`` if there is none, as a tensor of shape ``(b,)`` (``()`` for a single point) in the
    dtype and device of ``x0``. ``center`` defaults to ``problem.critical_points[0]``.

    Near a saddle with most negative Hessian eigenvalue :math:`\lambda_{\min} < 0`, the component
    along its eigenvector grows by :math:`1 + \eta|\lambda_{\min}|` per step, so a start with
    component :math:`\varepsilon` along it escapes after about
    :math:`\ln(r/\varepsilon) / \ln(1 + \eta|\lambda_{\min}|)` steps; a start with no such
    component never escapes without noise.
    """
    if not isinstance(problem, Problem):
        raise ValueError(f"Invalid problem: {problem!r} (must be a course_lib.problems.Problem)")
    x = _as_real_tensor("x0", x0)
    single = x.dim() == 1
    if single:
        x = x.unsqueeze(0)
    if x.dim() != 2 or x.shape[-1] != problem.dim or x.shape[0] == 0:
        raise ValueError(f"Invalid x0: shape {tuple(x.shape)} (must be ({problem.dim},) or (b, {problem.dim}))")
    check_positive("lr", lr)
    _check_int("steps", steps, 0)
    check_positive("radius", radius)
    check_non_negative("noise", noise)
    _check_generator(generator)
    if center is None:
        if problem.critical_points is None or len(problem.critical_points) == 0:
            raise ValueError(f"Invalid center: None, and {problem.name} has no known critical point")
        center = problem.critical_points[0]
    c = _as_real_tensor("center", center).to(device=x.device, dtype=x.dtype)
    if c.shape != (problem.dim,):
        raise ValueError(f"Invalid center: shape {tuple(c.shape)} (must be ({problem.dim},))")
    out = torch.full((x.shape[0],), math.inf, dtype=x.dtype, device=x.device)
    out[(x - c).norm(dim=1) >= radius] = 0
    for t in range(1, steps + 1):
        if not torch.isinf(out).any():
            break
        x = x - lr * problem.grad(x)
        if noise > 0:
            xi = torch.randn(x.shape, generator=generator, dtype=torch.float64).to(device=x.device, dtype=x.dtype)
            x = x + noise * xi
        newly = torch.isinf(out) & ((x - c).norm(dim=1) >= radius)
        out[newly] = t
    return out[0] if single else out
