r"""Second-order methods: Newton steps with damping and a backtracking line search, BFGS and
L-BFGS (the two-loop recursion), Hessian-vector products, Hutchinson's estimate of the Hessian's
diagonal, the Fisher matrix and natural gradient of logistic regression, and Gauss-Newton.

Newton's method minimizes the local quadratic model
:math:`m(d) = f(x) + \nabla f(x)^\top d + \tfrac12 d^\top \nabla^2 f(x)\, d`; with damping
:math:`\lambda \ge 0` the step is

.. math::

    d = -\big(\nabla^2 f(x) + \lambda I\big)^{-1} \nabla f(x).

Quasi-Newton methods replace :math:`(\nabla^2 f)^{-1}` by a matrix :math:`H_k` built from the
pairs :math:`s_i = x_{i+1} - x_i`, :math:`y_i = \nabla f(x_{i+1}) - \nabla f(x_i)` by the BFGS
update

.. math::

    H_{k+1} = (I - \rho_k s_k y_k^\top) H_k (I - \rho_k y_k s_k^\top) + \rho_k s_k s_k^\top,
    \qquad \rho_k = 1 / (y_k^\top s_k).

L-BFGS keeps the last :math:`m` pairs and applies :math:`H_k` to a vector by the two-loop
recursion (:func:`lbfgs_two_loop`) in :math:`O(mn)` operations, starting from
:math:`H_0 = \gamma I` with :math:`\gamma = s^\top y / y^\top y` of the newest pair (Nocedal and
Wright 2006, algorithm 7.4). :func:`inverse_bfgs_matrix` builds the same matrix explicitly.

A Hessian-vector product :math:`\nabla^2 f(x)\, v` costs a small multiple of a gradient
(Pearlmutter 1994): :func:`hvp` computes it forward-over-reverse with ``torch.func.jvp`` of
``torch.func.grad``, or by double backward. :func:`hutchinson_diagonal` estimates
:math:`\operatorname{diag}\nabla^2 f` as the mean of :math:`z \odot \nabla^2 f\, z` over Rademacher
vectors :math:`z`.

For logistic regression with mean log-loss, the Fisher matrix
:math:`F(w) = \tfrac1n \sum_i p_i(1 - p_i)\, x_i x_i^\top`, :math:`p_i = \sigma(w^\top x_i)`,
equals the Hessian (:func:`logistic_fisher`); :func:`natural_gradient_step` takes
:math:`w - \eta (F + \lambda I)^{-1} \nabla L(w)`. For least squares
:math:`\tfrac12\lVert r(x)\rVert^2`, :func:`gauss_newton` steps by
:math:`-(J^\top J + \lambda I)^{-1} J^\top r`.

Functions take 1-D floating tensors and keep their dtype and device. Invalid arguments raise
ValueError naming the parameter and the value.

Example::

    from course_lib.second_order import newton, lbfgs
    xs = newton(rosenbrock, torch.tensor([-1.2, 1.0]), steps=30)     # (31, 2) iterates
    xs, n_evals = lbfgs(rosenbrock, torch.tensor([-1.2, 1.0]), steps=100, history=10)
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

from .checks import as_float, check_non_negative, check_positive

__all__ = [
    "backtracking_line_search",
    "bfgs",
    "gauss_newton",
    "hutchinson_diagonal",
    "hvp",
    "inverse_bfgs_matrix",
    "lbfgs",
    "lbfgs_two_loop",
    "logistic_fisher",
    "logistic_loss",
    "natural_gradient_step",
    "newton",
    "newton_step",
]


def _check_vector(name: str, x) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"Invalid {name}: expected a tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"Invalid {name}: dtype {x.dtype} (must be floating point)")
    if x.dim() != 1:
        raise ValueError(f"Invalid {name}: shape {tuple(x.shape)} (must be 1-D)")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"Invalid {name}: contains a non-finite entry")
    return x


def _check_count(name: str, value, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"Invalid {name}: {value!r} (must be an int >= {minimum})")
    return value


def _value_and_grad(f: Callable, x: torch.Tensor):
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        fx = f(x)
        (g,) = torch.autograd.grad(fx, x)
    return fx.detach(), g.detach()


# --- Newton -----------------------------------------------------------------------------------

def newton_step(grad: torch.Tensor, hess: torch.Tensor, damping=0.0) -> torch.Tensor:
    r"""The (damped) Newton direction :math:`d = -(H + \lambda I)^{-1} g`.

    ``grad`` has shape ``(n,)``, ``hess`` shape ``(n, n)``; ``damping`` is :math:`\lambda \ge 0`.
    Solved by ``torch.linalg.solve``, never by forming the inverse.
    """
    _check_vector("grad", grad)
    if not isinstance(hess, torch.Tensor) or hess.shape != (grad.numel(), grad.numel()):
        raise ValueError(f"Invalid hess: shape {tuple(getattr(hess, 'shape', ()))} "
                         f"(must be ({grad.numel()}, {grad.numel()}))")
    check_non_negative("damping", damping)
    lam = as_float("damping", damping)
    eye = torch.eye(grad.numel(), dtype=grad.dtype, device=grad.device)
    return -torch.linalg.solve(hess + lam * eye, grad)


def backtracking_line_search(f: Callable, x: torch.Tensor, direction: torch.Tensor,
                             grad: torch.Tensor, t0=1.0, c=1e-4, beta=0.5,
                             max_iter: int = 60) -> float:
    r"""Largest :math:`t = t_0 \beta^j` satisfying the Armijo condition
    :math:`f(x + t d) \le f(x) + c\, t\, \nabla f(x)^\top d`.

    ``direction`` must be a descent direction (:math:`\nabla f^\top d < 0`). Returns 0.0 if no
    :math:`j <` ``max_iter`` satisfies the condition.
    """
    _check_vector("x", x)
    _check_vector("direction", direction)
    _check_vector("grad", grad)
    check_positive("t0", t0)
    c_, b_ = as_float("c", c), as_float("beta", beta)
    if not 0.0 < c_ < 1.0:
        raise ValueError(f"Invalid c: {c!r} (must lie in (0, 1))")
    if not 0.0 < b_ < 1.0:
        raise ValueError(f"Invalid beta: {beta!r} (must lie in (0, 1))")
    _check_count("max_iter", max_iter, 1)
    slope = float(grad @ direction)
    if slope >= 0:
        raise ValueError(f"Invalid direction: grad . direction = {slope!r} (must be < 0)")
    with torch.no_grad():
        fx = float(f(x))
        t = as_float("t0", t0)
        for _ in range(max_iter):
            ft = float(f(x + t * direction))
            if math.isfinite(ft) and ft <= fx + c_ * t * slope:
                return t
            t *= b_
    return 0.0


def newton(f: Callable, x0: torch.Tensor, steps: int, damping=0.0, line_search: bool = False,
           tol=0.0) -> torch.Tensor:
    r"""Newton's method from ``x0``; returns the iterates, shape ``(k + 1, n)``.

    Each step solves :math:`(\nabla^2 f + \lambda I) d = -\nabla f` (``damping`` :math:`\lambda`).
    With ``line_search`` the step length comes from :func:`backtracking_line_search`, and a
    direction that is not a descent direction (possible when :math:`\nabla^2 f + \lambda I` is
    not positive definite) is replaced by :math:`-\nabla f`. Without it the full step
    :math:`x + d` is taken, whatever :math:`f` does. Stops early once
    :math:`\lVert\nabla f\rVert \le` ``tol``.
    """
    _check_vector("x0", x0)
    _check_count("steps", steps)
    check_non_negative("damping", damping)
    check_non_negative("tol", tol)
    x = x0.detach().clone()
    xs = [x.clone()]
    for _ in range(steps):
        _, g = _value_and_grad(f, x)
        if float(g.norm()) <= as_float("tol", tol):
            break
        H = torch.autograd.functional.hessian(f, x)
        d = newton_step(g, H, damping)
        if line_search:
            if float(g @ d) >= 0:
                d = -g
            t = backtracking_line_search(f, x, d, g)
        else:
            t = 1.0
        x = x + t * d
        if not bool(torch.isfinite(x).all()):
            break
        xs.append(x.clone())
    return torch.stack(xs)


# --- quasi-Newton -----------------------------------------------------------------------------

def inverse_bfgs_matrix(s_list: Sequence[torch.Tensor], y_list: Sequence[torch.Tensor],
                        gamma=None) -> torch.Tensor:
    r"""The inverse-Hessian approximation :math:`H` after BFGS updates with the pairs
    ``(s_list[i], y_list[i])`` (oldest first), from :math:`H_0 = \gamma I`.

    ``gamma`` defaults to :math:`s^\top y / y^\top y` of the newest pair, as in
    :func:`lbfgs_two_loop`. An explicit :math:`n \times n` matrix: for checks and small problems.
    """
    if len(s_list) != len(y_list) or len(s_list) == 0:
        raise ValueError(f"Invalid s_list, y_list: lengths {len(s_list)} and {len(y_list)} "
                         "(must be equal and > 0)")
    s_new, y_new = s_list[-1], y_list[-1]
    n = s_new.numel()
    g0 = float(s_new @ y_new) / float(y_new @ y_new) if gamma is None else as_float("gamma", gamma)
    eye = torch.eye(n, dtype=s_new.dtype, device=s_new.device)
    H = g0 * eye
    for s, y in zip(s_list, y_list):
        sy = float(s @ y)
        if sy <= 0:
            raise ValueError(f"Invalid pair: s . y = {sy!r} (curvature condition needs > 0)")
        rho = 1.0 / sy
        V = eye - rho * torch.outer(y, s)
        H = V.T @ H @ V + rho * torch.outer(s, s)
    return H


def lbfgs_two_loop(grad: torch.Tensor, s_list: Sequence[torch.Tensor],
                   y_list: Sequence[torch.Tensor], gamma=None) -> torch.Tensor:
    r"""Return :math:`H_k\, g` by the L-BFGS two-loop recursion (the search direction is its
    negative).

    ``s_list`` and ``y_list`` hold the stored pairs, oldest first. :math:`H_0 = \gamma I`, with
    ``gamma`` defaulting to :math:`s^\top y / y^\top y` of the newest pair (1 with no pairs).
    First loop, newest to oldest: :math:`\alpha_i = \rho_i s_i^\top q`, :math:`q \leftarrow q -
    \alpha_i y_i`; then :math:`r = \gamma q`; second loop, oldest to newest:
    :math:`\beta = \rho_i y_i^\top r`, :math:`r \leftarrow r + s_i(\alpha_i - \beta)`.
    """
    _check_vector("grad", grad)
    if len(s_list) != len(y_list):
        raise ValueError(f"Invalid s_list, y_list: lengths {len(s_list)} and {len(y_list)} "
                         "(must be equal)")
    if gamma is None:
        gamma = (float(s_list[-1] @ y_list[-1]) / float(y_list[-1] @ y_list[-1])
                 if s_list else 1.0)
    q = grad.clone()
    rhos = [1.0 / float(s @ y) for s, y in zip(s_list, y_list)]
    alphas = []
    for s, y, rho in reversed(list(zip(s_list, y_list, rhos))):
        a = rho * float(s @ q)
        alphas.append(a)
        q = q - a * y
    r = as_float("gamma", gamma) * q
    for (s, y, rho), a in zip(zip(s_list, y_list, rhos), reversed(alphas)):
        b = rho * float(y @ r)
        r = r + (a - b) * s
    return r


def _quasi_newton(f, x0, steps, tol, direction_fn, update_fn):
    x = x0.detach().clone()
    fx, g = _value_and_grad(f, x)
    xs, n_evals = [x.clone()], 1
    for _ in range(steps):
        if float(g.norm()) <= tol:
            break
        d = direction_fn(g)
        if float(g @ d) >= 0:
            d = -g
        slope = float(g @ d)
        # weak Wolfe line search by bisection and expansion (Lewis and Overton 2013):
        # sufficient decrease (c1 = 1e-4) and curvature (c2 = 0.9), which makes s . y > 0
        t, lo, hi, found = 1.0, 0.0, math.inf, False
        for _ in range(60):
            f_new, g_new = _value_and_grad(f, x + t * d)
            n_evals += 1
            if not math.isfinite(float(f_new)) or float(f_new) > float(fx) + 1e-4 * t * slope:
                hi = t
            elif float(g_new @ d) < 0.9 * slope:
                lo = t
            else:
                found = True
                break
            t = (lo + hi) / 2 if math.isfinite(hi) else 2 * lo
        if not found:
            break
        s, y = t * d, g_new - g
        if float(s @ y) > 1e-10 * float(s.norm() * y.norm()):
            update_fn(s, y)                                   # skip pairs without curvature
        x, fx, g = x + s, f_new, g_new
        xs.append(x.clone())
    return torch.stack(xs), n_evals


def bfgs(f: Callable, x0: torch.Tensor, steps: int, tol=1e-10):
    r"""BFGS with an explicit inverse-Hessian matrix and a weak Wolfe line search (bisection
    and expansion from :math:`t = 1`, :math:`c_1 = 10^{-4}`, :math:`c_2 = 0.9`), which guarantees
    the curvature condition :math:`s^\top y > 0`.

    Returns ``(iterates, n_evals)``: iterates of shape ``(k + 1, n)`` and the number of
    function-and-gradient evaluations. :math:`H_0 = I`, rescaled by :math:`s^\top y / y^\top y`
    before the first update.
    """
    _check_vector("x0", x0)
    _check_count("steps", steps)
    check_non_negative("tol", tol)
    n = x0.numel()
    eye = torch.eye(n, dtype=x0.dtype, device=x0.device)
    state = {"H": eye.clone(), "first": True}

    def update(s, y):
        rho = 1.0 / float(s @ y)
        if state["first"]:
            state["H"] = float(s @ y) / float(y @ y) * eye
            state["first"] = False
        V = eye - rho * torch.outer(y, s)
        state["H"] = V.T @ state["H"] @ V + rho * torch.outer(s, s)

    return _quasi_newton(f, x0, steps, as_float("tol", tol), lambda g: -state["H"] @ g, update)


def lbfgs(f: Callable, x0: torch.Tensor, steps: int, history: int = 10, tol=1e-10):
    r"""L-BFGS: the direction :math:`-H_k \nabla f` from :func:`lbfgs_two_loop` with the last
    ``history`` pairs, and the same weak Wolfe line search as :func:`bfgs`.

    Returns ``(iterates, n_evals)``. Memory :math:`O(mn)` for :math:`m` = ``history``.
    """
    _check_vector("x0", x0)
    _check_count("steps", steps)
    _check_count("history", history, 1)
    check_non_negative("tol", tol)
    s_list: list[torch.Tensor] = []
    y_list: list[torch.Tensor] = []

    def update(s, y):
        s_list.append(s)
        y_list.append(y)
        if len(s_list) > history:
            s_list.pop(0)
            y_list.pop(0)

    return _quasi_newton(f, x0, steps, as_float("tol", tol),
                         lambda g: -lbfgs_two_loop(g, s_list, y_list), update)


# --- Hessian-vector products ----------------------------------------------------------------

def hvp(f: Callable, x: torch.Tensor, v: torch.Tensor, method: str = "forward") -> torch.Tensor:
    r"""The Hessian-vector product :math:`\nabla^2 f(x)\, v` without forming the Hessian.

    ``method="forward"``: forward-over-reverse, ``torch.func.jvp(torch.func.grad(f), (x,), (v,))``,
    the directional derivative of the gradient (Pearlmutter's :math:`\mathcal R`-operator).
    ``method="double_backward"``: :math:`\nabla_x (\nabla f(x)^\top v)` by two reverse passes.
    """
    _check_vector("x", x)
    _check_vector("v", v)
    if v.shape != x.shape:
        raise ValueError(f"Invalid v: shape {tuple(v.shape)} (must match x, {tuple(x.shape)})")
    if method == "forward":
        return torch.func.jvp(torch.func.grad(f), (x,), (v,))[1]
    if method == "double_backward":
        xr = x.detach().requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(f(xr), xr, create_graph=True)
            (hv,) = torch.autograd.grad(g @ v, xr)
        return hv
    raise ValueError(f"Invalid method: {method!r} (must be 'forward' or 'double_backward')")


def hutchinson_diagonal(f: Callable, x: torch.Tensor, samples: int,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Hutchinson's estimate of :math:`\operatorname{diag}\nabla^2 f(x)`: the mean of
    :math:`z \odot \nabla^2 f(x)\, z` over ``samples`` Rademacher vectors :math:`z`
    (entries :math:`\pm 1`), unbiased because :math:`\mathbb E[z_i z_j] = \delta_{ij}`.
    """
    _check_vector("x", x)
    _check_count("samples", samples, 1)
    total = torch.zeros_like(x)
    for _ in range(samples):
        z = torch.randint(0, 2, x.shape, generator=generator).to(x) * 2 - 1
        total += z * hvp(f, x, z)
    return total / samples


# --- natural gradient and Gauss-Newton --------------------------------------------------------

def _check_logistic(X, y, w):
    if not isinstance(X, torch.Tensor) or X.dim() != 2 or not X.is_floating_point():
        raise ValueError(f"Invalid X: expected a 2-D floating tensor, got "
                         f"{getattr(X, 'shape', type(X).__name__)}")
    _check_vector("w", w)
    if w.numel() != X.shape[1]:
        raise ValueError(f"Invalid w: {w.numel()} entries (X has {X.shape[1]} columns)")
    if y is not None:
        _check_vector("y", y)
        if y.numel() != X.shape[0] or not bool(((y == 0) | (y == 1)).all()):
            raise ValueError(f"Invalid y: must hold {X.shape[0]} labels in {{0, 1}}")


def logistic_loss(X: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    r"""Mean log-loss :math:`\tfrac1n\sum_i \log(1 + e^{z_i}) - y_i z_i`, :math:`z = Xw`,
    labels :math:`y_i \in \{0, 1\}`."""
    _check_logistic(X, y, w)
    z = X @ w
    return (torch.nn.functional.softplus(z) - y * z).mean()


def logistic_fisher(X: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    r"""Fisher information of the logistic model per example,
    :math:`F(w) = \tfrac1n X^\top \operatorname{diag}(p \odot (1 - p)) X`, :math:`p = \sigma(Xw)`.

    The expectation is over the model's own labels, so it does not depend on the data labels; for
    this model it equals the Hessian of :func:`logistic_loss`.
    """
    _check_logistic(X, None, w)
    p = torch.sigmoid(X @ w)
    return (X * (p * (1 - p))[:, None]).T @ X / X.shape[0]


def natural_gradient_step(X: torch.Tensor, y: torch.Tensor, w: torch.Tensor, lr=1.0,
                          damping=0.0) -> torch.Tensor:
    r"""One natural-gradient step on :func:`logistic_loss`:
    :math:`w - \eta (F(w) + \lambda I)^{-1} \nabla L(w)`."""
    _check_logistic(X, y, w)
    check_positive("lr", lr)
    check_non_negative("damping", damping)
    p = torch.sigmoid(X @ w)
    g = X.T @ (p - y) / X.shape[0]
    return w + as_float("lr", lr) * newton_step(g, logistic_fisher(X, w), damping)


def gauss_newton(residual: Callable, x0: torch.Tensor, steps: int, damping=0.0) -> torch.Tensor:
    r"""Gauss-Newton for :math:`\min_x \tfrac12\lVert r(x)\rVert^2`: :math:`x \leftarrow x -
    (J^\top J + \lambda I)^{-1} J^\top r` with the Jacobian :math:`J` of ``residual`` at :math:`x`
    (:math:`\lambda > 0`: Levenberg-Marquardt with a fixed damping). Returns the iterates.
    """
    _check_vector("x0", x0)
    _check_count("steps", steps)
    check_non_negative("damping", damping)
    x = x0.detach().clone()
    xs = [x.clone()]
    for _ in range(steps):
        r = residual(x)
        J = torch.autograd.functional.jacobian(residual, x)
        x = x + newton_step(J.T @ r, J.T @ J, damping)
        xs.append(x.clone())
    return torch.stack(xs)
