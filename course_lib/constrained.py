r"""Constrained optimization: Euclidean projections, projected gradient descent, penalty and
log-barrier methods, KKT residuals, and a solver for the dual of a linear support vector machine.

Problems have the form

.. math::

    \min_x f(x) \quad \text{subject to} \quad g_i(x) \le 0,\ i = 1, \dots, m,

with Lagrangian :math:`\mathcal L(x, \lambda) = f(x) + \sum_i \lambda_i g_i(x)`. A point
:math:`x` and multipliers :math:`\lambda` satisfy the KKT conditions when

.. math::

    \nabla f(x) + \textstyle\sum_i \lambda_i \nabla g_i(x) = 0, \quad g(x) \le 0, \quad
    \lambda \ge 0, \quad \lambda_i g_i(x) = 0 ;

:func:`kkt_residuals` measures how far each of the four fails.

Projections :math:`P_C(v) = \arg\min_{x \in C} \tfrac12\lVert x - v\rVert^2` act on the last
dimension of a tensor (a batch of vectors is projected row by row) and keep its dtype and device:
:func:`project_box`, :func:`project_l2_ball`, :func:`project_simplex` (the sort-based algorithm
of Held, Wolfe and Crowder 1974 and Duchi et al. 2008) and :func:`project_l1_ball`. Every one
satisfies the variational inequality :math:`\langle v - P_C(v), y - P_C(v)\rangle \le 0` for all
:math:`y \in C`, which characterises the projection onto a closed convex set.

Invalid arguments raise ValueError naming the parameter and the value.

Example::

    from course_lib.constrained import project_simplex, projected_gradient_descent
    p = project_simplex(torch.tensor([0.5, 1.2, -0.3]))                # tensor([0.15, 0.85, 0.])
    xs = projected_gradient_descent(lambda x: x - c, project_simplex, x0, lr=0.5, steps=100)
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from .checks import as_float, check_positive

__all__ = [
    "barrier_method",
    "kkt_residuals",
    "penalty_method",
    "project_box",
    "project_l1_ball",
    "project_l2_ball",
    "project_simplex",
    "projected_gradient_descent",
    "svm_dual_coordinate_ascent",
    "svm_kkt_residuals",
]


def _check_tensor(name: str, x, *, min_dim: int = 1) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"Invalid {name}: expected a tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"Invalid {name}: dtype {x.dtype} (must be floating point)")
    if x.dim() < min_dim:
        raise ValueError(f"Invalid {name}: shape {tuple(x.shape)} (needs at least {min_dim} dimension(s))")
    if x.numel() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"Invalid {name}: contains a non-finite entry")
    return x


def _check_steps(name: str, steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"Invalid {name}: {steps!r} (must be an int >= 0)")
    return steps


# --- projections ------------------------------------------------------------------------------

def project_box(x: torch.Tensor, lower, upper) -> torch.Tensor:
    r"""Projection onto the box :math:`\{z : \ell \le z \le u\}`: :math:`P(x)_i = \min(\max(x_i,
    \ell_i), u_i)`, coordinate by coordinate. ``lower`` and ``upper`` are numbers or tensors that
    broadcast against ``x``; every entry must satisfy ``lower <= upper``."""
    _check_tensor("x", x, min_dim=0)
    lo = torch.as_tensor(lower, dtype=x.dtype, device=x.device)
    hi = torch.as_tensor(upper, dtype=x.dtype, device=x.device)
    if bool(torch.isnan(lo).any()) or bool(torch.isnan(hi).any()):
        raise ValueError(f"Invalid lower/upper: {lower!r}, {upper!r} (NaN)")
    if bool((lo > hi).any()):
        raise ValueError(f"Invalid lower: {lower!r} (must not exceed upper={upper!r})")
    return torch.minimum(torch.maximum(x, lo), hi)


def project_l2_ball(x: torch.Tensor, radius=1.0, center=None) -> torch.Tensor:
    r"""Projection onto the ball :math:`\{z : \lVert z - c\rVert_2 \le r\}`:
    :math:`P(x) = c + (x - c)\,\min\!\big(1, r/\lVert x - c\rVert_2\big)`, along the last dimension."""
    _check_tensor("x", x)
    check_positive("radius", radius)
    r = as_float("radius", radius)
    c = torch.zeros((), dtype=x.dtype, device=x.device) if center is None else \
        torch.as_tensor(center, dtype=x.dtype, device=x.device)
    d = x - c
    norm = torch.linalg.vector_norm(d, dim=-1, keepdim=True)
    scale = torch.clamp(r / torch.clamp(norm, min=torch.finfo(x.dtype).tiny), max=1.0)
    return c + d * scale


def project_simplex(x: torch.Tensor, total=1.0) -> torch.Tensor:
    r"""Projection onto the simplex :math:`\Delta_s = \{z : z \ge 0,\ \sum_i z_i = s\}`, along the
    last dimension.

    The solution is :math:`P(x)_i = \max(x_i - \tau, 0)` with the threshold :math:`\tau` that makes
    the entries sum to :math:`s`. Sorting :math:`x` decreasingly, :math:`u_1 \ge \dots \ge u_n`,
    the number of positive entries is :math:`k = \max\{j : u_j - (\sum_{i \le j} u_i - s)/j > 0\}`
    and :math:`\tau = (\sum_{i \le k} u_i - s)/k` (Held, Wolfe and Crowder 1974; Duchi et al.
    2008). Cost :math:`O(n \log n)`."""
    _check_tensor("x", x)
    check_positive("total", total)
    s = as_float("total", total)
    n = x.shape[-1]
    if n == 0:
        raise ValueError("Invalid x: the last dimension is empty")
    u, _ = torch.sort(x, dim=-1, descending=True)
    css = torch.cumsum(u, dim=-1) - s
    j = torch.arange(1, n + 1, dtype=x.dtype, device=x.device)
    positive = u - css / j > 0                      # true for j = 1..k, false after
    k = positive.sum(dim=-1, keepdim=True)          # at least 1: u_1 - (u_1 - s) = s > 0
    tau = torch.gather(css, -1, k - 1) / k.to(x.dtype)
    return torch.clamp(x - tau, min=0.0)


def project_l1_ball(x: torch.Tensor, radius=1.0) -> torch.Tensor:
    r"""Projection onto the l1 ball :math:`\{z : \lVert z\rVert_1 \le r\}`, along the last
    dimension: :math:`x` itself if it lies inside, else
    :math:`\operatorname{sign}(x) \odot P_{\Delta_r}(|x|)` (Duchi et al. 2008)."""
    _check_tensor("x", x)
    check_positive("radius", radius)
    r = as_float("radius", radius)
    inside = torch.linalg.vector_norm(x, ord=1, dim=-1, keepdim=True) <= r
    outside = torch.sign(x) * project_simplex(x.abs(), r)
    return torch.where(inside, x, outside)


# --- projected gradient descent -----------------------------------------------------------------

def projected_gradient_descent(grad: Callable, project: Callable, x0: torch.Tensor, lr,
                               steps: int) -> torch.Tensor:
    r"""Iterates of :math:`x_{t+1} = P_C\big(x_t - \eta \nabla f(x_t)\big)` from
    :math:`x_0 \leftarrow P_C(x_0)`. Returns a tensor of shape ``(steps + 1, *x0.shape)`` whose first
    row is the projected start. For an :math:`L`-smooth convex :math:`f` and
    :math:`\eta \le 1/L` it satisfies :math:`f(x_T) - f^\star \le \lVert x_0 - x^\star\rVert^2/(2\eta T)`."""
    _check_tensor("x0", x0, min_dim=0)
    check_positive("lr", lr)
    _check_steps("steps", steps)
    eta = as_float("lr", lr)
    xs = [project(x0)]
    for _ in range(steps):
        xs.append(project(xs[-1] - eta * grad(xs[-1])))
    return torch.stack(xs)


# --- KKT residuals ------------------------------------------------------------------------------

def kkt_residuals(grad_f: torch.Tensor, g: torch.Tensor, jac_g: torch.Tensor,
                  lam: torch.Tensor) -> dict[str, float]:
    r"""The four KKT residuals of :math:`\min f(x)` s.t. :math:`g(x) \le 0` at a point, from the
    gradient ``grad_f`` (shape ``(n,)``), the constraint values ``g`` (shape ``(m,)``), their
    Jacobian ``jac_g`` (shape ``(m, n)``, row :math:`i` is :math:`\nabla g_i`) and the multipliers
    ``lam`` (shape ``(m,)``):

    * ``stationarity``: :math:`\lVert \nabla f + J_g^\top \lambda\rVert_2`;
    * ``primal_feasibility``: :math:`\max_i \max(g_i, 0)`;
    * ``dual_feasibility``: :math:`\max_i \max(-\lambda_i, 0)`;
    * ``complementary_slackness``: :math:`\max_i |\lambda_i g_i|`.

    All four are zero exactly at a KKT point. Returned as floats."""
    for name, t, dim in (("grad_f", grad_f, 1), ("g", g, 1), ("jac_g", jac_g, 2), ("lam", lam, 1)):
        _check_tensor(name, t)
        if t.dim() != dim:
            raise ValueError(f"Invalid {name}: shape {tuple(t.shape)} (must have {dim} dimension(s))")
    m, n = jac_g.shape
    if grad_f.shape[0] != n:
        raise ValueError(f"Invalid grad_f: shape {tuple(grad_f.shape)} (jac_g has {n} columns)")
    if g.shape[0] != m or lam.shape[0] != m:
        raise ValueError(f"Invalid g/lam: shapes {tuple(g.shape)}, {tuple(lam.shape)} (jac_g has {m} rows)")
    zero = torch.zeros((), dtype=g.dtype, device=g.device)
    return {
        "stationarity": float(torch.linalg.vector_norm(grad_f + jac_g.T @ lam)),
        "primal_feasibility": float(torch.maximum(g, zero).max()) if m else 0.0,
        "dual_feasibility": float(torch.maximum(-lam, zero).max()) if m else 0.0,
        "complementary_slackness": float((lam * g).abs().max()) if m else 0.0,
    }


# --- penalty and barrier methods ----------------------------------------------------------------

def _newton(phi: Callable, x: torch.Tensor, steps: int, feasible: Callable | None = None,
            tol: float = 1e-20) -> tuple[torch.Tensor, int]:
    """Damped Newton's method with Armijo backtracking on phi; returns the point and the number of
    Newton steps taken. With ``feasible``, backtracking also rejects points outside its domain."""
    taken = 0
    for _ in range(steps):
        xr = x.detach().requires_grad_(True)
        value = phi(xr)
        (grad,) = torch.autograd.grad(value, xr)
        hess = torch.autograd.functional.hessian(phi, x.detach())
        n = x.numel()
        hess = hess.reshape(n, n) + 1e-12 * torch.eye(n, dtype=x.dtype, device=x.device)
        try:
            step = -torch.linalg.solve(hess, grad.reshape(n)).reshape(x.shape)
        except RuntimeError:
            step = -grad
        decrement = float(-(grad * step).sum())
        if decrement < 0:                         # not a descent direction: use the gradient
            step, decrement = -grad, float((grad * grad).sum())
        if decrement / 2 <= tol:
            break
        t, value, accepted = 1.0, float(value.detach()), False
        while t > 1e-14:
            cand = x.detach() + t * step
            if (feasible is None or feasible(cand)) and float(phi(cand)) <= value - 0.25 * t * decrement:
                accepted = True
                break
            t *= 0.5
        if not accepted:                          # no decrease left at this precision
            break
        x = cand
        taken += 1
    return x.detach(), taken


def penalty_method(f: Callable, g: Callable, x0: torch.Tensor, rhos, newton_steps: int = 50):
    r"""The quadratic penalty method: for each :math:`\rho` in ``rhos`` (increasing), minimize

    .. math::

        \phi_\rho(x) = f(x) + \frac{\rho}{2} \sum_i \max(g_i(x), 0)^2

    by damped Newton steps, warm-started at the previous minimizer. ``f(x)`` returns a scalar and
    ``g(x)`` the vector of constraint values. The minimizers are infeasible by :math:`O(1/\rho)`,
    and :math:`\lambda_i \approx \rho \max(g_i(x_\rho), 0)` estimates the multipliers.

    Returns ``(xs, lams, newton)``: the minimizer and the multiplier estimate for each
    :math:`\rho` (tensors of shape ``(len(rhos), n)`` and ``(len(rhos), m)``) and the cumulative
    number of Newton steps."""
    _check_tensor("x0", x0)
    rhos = [as_float("rhos", r) for r in rhos]
    for r in rhos:
        check_positive("rhos", r)
    _check_steps("newton_steps", newton_steps)
    x, xs, lams, counts, total = x0.clone(), [], [], [], 0
    for rho in rhos:
        x, k = _newton(lambda z, rho=rho: f(z) + 0.5 * rho * (torch.clamp(g(z), min=0) ** 2).sum(),
                       x, newton_steps)
        total += k
        xs.append(x)
        lams.append(rho * torch.clamp(g(x), min=0))
        counts.append(total)
    return torch.stack(xs), torch.stack(lams), counts


def barrier_method(f: Callable, g: Callable, x0: torch.Tensor, ts, newton_steps: int = 50):
    r"""The logarithmic barrier (interior-point) method: for each :math:`t` in ``ts``
    (increasing), minimize

    .. math::

        \psi_t(x) = f(x) - \frac1t \sum_i \log(-g_i(x))

    by damped Newton steps that never leave the interior :math:`g(x) < 0`, warm-started.
    ``x0`` must be strictly feasible. The minimizer :math:`x_t` is feasible, :math:`\lambda_i =
    -1/(t\, g_i(x_t))` are dual feasible multipliers, and for a convex problem
    :math:`f(x_t) - f^\star \le m/t` (Boyd and Vandenberghe 2004, section 11.2).

    Returns ``(xs, lams, newton)`` as :func:`penalty_method`."""
    _check_tensor("x0", x0)
    if not bool((g(x0) < 0).all()):
        raise ValueError(f"Invalid x0: {x0.tolist()!r} (must be strictly feasible, g(x0) < 0)")
    ts = [as_float("ts", t) for t in ts]
    for t in ts:
        check_positive("ts", t)
    _check_steps("newton_steps", newton_steps)

    def feasible(z):
        return bool((g(z) < 0).all())

    x, xs, lams, counts, total = x0.clone(), [], [], [], 0
    for t in ts:
        x, k = _newton(lambda z, t=t: f(z) - torch.log(-g(z)).sum() / t, x, newton_steps, feasible)
        total += k
        xs.append(x)
        lams.append(-1.0 / (t * g(x)))
        counts.append(total)
    return torch.stack(xs), torch.stack(lams), counts


# --- the support vector machine dual ------------------------------------------------------------

def _check_svm(X, y, C):
    _check_tensor("X", X, min_dim=2)
    _check_tensor("y", y)
    if X.dim() != 2 or y.dim() != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"Invalid X/y: shapes {tuple(X.shape)}, {tuple(y.shape)} (need (N, d) and (N,))")
    if not bool(((y == 1) | (y == -1)).all()):
        raise ValueError("Invalid y: labels must be +1 or -1")
    check_positive("C", C)
    return as_float("C", C)


def svm_dual_coordinate_ascent(X: torch.Tensor, y: torch.Tensor, C, epochs: int = 100):
    r"""The dual of the linear soft-margin SVM **without an unregularized bias**, solved by exact
    coordinate ascent (Hsieh et al. 2008).

    Primal: :math:`\min_{w, \xi} \tfrac12\lVert w\rVert^2 + C\sum_i \xi_i` s.t.
    :math:`y_i w^\top x_i \ge 1 - \xi_i`, :math:`\xi_i \ge 0`. Its dual,

    .. math::

        \max_{0 \le \alpha \le C}\ \sum_i \alpha_i - \tfrac12 \alpha^\top Q \alpha,
        \qquad Q_{ij} = y_i y_j x_i^\top x_j ,

    has only box constraints, with :math:`w = \sum_i \alpha_i y_i x_i`. With a bias :math:`b`
    the dual would gain the equality :math:`\sum_i \alpha_i y_i = 0`, which a single coordinate
    cannot move along; a bias is obtained instead by appending a constant feature to ``X`` (it is
    then regularized like the other weights). Each update maximizes the dual exactly in one
    coordinate: :math:`\alpha_i \leftarrow \min(\max(\alpha_i + (1 - y_i w^\top x_i)/Q_{ii}, 0), C)`.

    Returns ``(alpha, w)``."""
    C = _check_svm(X, y, C)
    _check_steps("epochs", epochs)
    N = X.shape[0]
    qdiag = (X * X).sum(dim=1)
    if bool((qdiag == 0).any()):
        raise ValueError("Invalid X: a row is zero (its dual coordinate is undetermined)")
    alpha = torch.zeros(N, dtype=X.dtype, device=X.device)
    w = torch.zeros(X.shape[1], dtype=X.dtype, device=X.device)
    for _ in range(epochs):
        for i in range(N):
            margin = y[i] * (X[i] @ w)
            new = torch.clamp(alpha[i] + (1 - margin) / qdiag[i], 0.0, C)
            w = w + (new - alpha[i]) * y[i] * X[i]
            alpha[i] = new
    return alpha, w


def svm_kkt_residuals(X: torch.Tensor, y: torch.Tensor, C, alpha: torch.Tensor,
                      w: torch.Tensor | None = None) -> dict[str, float]:
    r"""The KKT residuals of the no-bias soft-margin SVM at the primal point
    :math:`(w, \xi)`, :math:`\xi_i = \max(0, 1 - y_i w^\top x_i)`, with the multipliers
    :math:`\alpha` of the margin constraints and :math:`\beta = C - \alpha` of :math:`\xi \ge 0`.
    ``w`` defaults to :math:`\sum_i \alpha_i y_i x_i`. The constraints are written
    :math:`g = (1 - \xi - y \odot Xw,\ -\xi) \le 0` and passed to :func:`kkt_residuals`."""
    C = _check_svm(X, y, C)
    _check_tensor("alpha", alpha)
    if alpha.shape != y.shape:
        raise ValueError(f"Invalid alpha: shape {tuple(alpha.shape)} (must be {tuple(y.shape)})")
    if w is None:
        w = (alpha * y) @ X
    N, d = X.shape
    margins = y * (X @ w)
    xi = torch.clamp(1 - margins, min=0)
    grad_f = torch.cat([w, torch.full((N,), C, dtype=X.dtype, device=X.device)])
    g = torch.cat([1 - xi - margins, -xi])
    eye = torch.eye(N, dtype=X.dtype, device=X.device)
    jac = torch.cat([torch.cat([-(y[:, None] * X), -eye], dim=1),
                     torch.cat([torch.zeros(N, d, dtype=X.dtype, device=X.device), -eye], dim=1)])
    lam = torch.cat([alpha, C - alpha])
    return kkt_residuals(grad_f, g, jac, lam)
