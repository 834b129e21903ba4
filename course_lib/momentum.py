r"""Momentum on quadratics: the heavy-ball iteration matrix, its spectral radius, the optimal
parameters, and the conversions between the common ways of writing momentum.

Heavy ball (Polyak 1964) with learning rate :math:`\alpha` and momentum :math:`\beta`,

.. math::

    x_{t+1} = x_t - \alpha \nabla f(x_t) + \beta (x_t - x_{t-1}),

is exactly ``course_lib.optim.SGD(lr=alpha, momentum=beta)`` (PyTorch's form, buffer
:math:`b_t = \beta b_{t-1} + g_t`, step :math:`-\alpha b_t`). On the quadratic
:math:`f(x) = \tfrac12 x^\top A x`, the component :math:`e_t` of :math:`x_t - x^\star` along an
eigenvector of :math:`A` with eigenvalue :math:`\lambda` obeys

.. math::

    \begin{pmatrix} e_{t+1} \\ e_t \end{pmatrix}
    = \underbrace{\begin{pmatrix} 1 + \beta - \alpha\lambda & -\beta \\ 1 & 0 \end{pmatrix}}_{M(\alpha, \beta, \lambda)}
      \begin{pmatrix} e_t \\ e_{t-1} \end{pmatrix},

and converges for every start if and only if the spectral radius of :math:`M` is below 1, which
for :math:`0 \le \beta < 1` means :math:`0 < \alpha\lambda < 2 + 2\beta` (Goh 2017).

Every function accepts Python numbers or tensors, broadcasts its arguments against each other,
and returns tensors of ``dtype`` (default: the dtype of a tensor argument, else float64) on
``device`` (default: the device of a tensor argument, else the CPU). Invalid arguments raise
ValueError naming the parameter and the value.

Example::

    from course_lib.momentum import optimal_heavy_ball, spectral_radius_map
    alpha, beta, rate = optimal_heavy_ball(mu=1.0, L=100.0)      # 4/121, (9/11)^2, 9/11
    rho = spectral_radius_map(torch.linspace(0.001, 0.04, 200), torch.linspace(0, 0.99, 100),
                              torch.tensor([1.0, 100.0]))         # (100, 200) map, worst of mu and L
"""

from __future__ import annotations

import math

import torch

from .checks import as_float, check_in_unit_interval, check_positive
from .devices import resolve_device

__all__ = [
    "classical_to_ema_lr",
    "critical_momentum",
    "ema_to_classical_lr",
    "heavy_ball_iteration_matrix",
    "heavy_ball_spectral_radius",
    "optimal_gradient_descent",
    "optimal_heavy_ball",
    "spectral_radius_map",
]


def _tensors(names_values, *, device=None, dtype=None) -> list[torch.Tensor]:
    """Convert the arguments to tensors of one floating dtype on one device, checking that they
    are real, finite numbers."""
    tensors = [v for _, v in names_values if isinstance(v, torch.Tensor)]
    if dtype is None:
        floats = [t.dtype for t in tensors if t.is_floating_point()]
        dtype = floats[0] if floats else torch.float64
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"Invalid dtype: {dtype!r} (must be a floating-point torch.dtype)")
    if device is None:
        device = tensors[0].device if tensors else torch.device("cpu")
    else:
        device = resolve_device(device)
    out = []
    for name, value in names_values:
        if isinstance(value, torch.Tensor):
            if value.is_complex():
                raise ValueError(f"Invalid {name}: complex tensors are not supported")
            t = value.to(device=device, dtype=dtype)
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"Invalid {name}: expected a number or a tensor, got {value!r}")
        else:
            t = torch.tensor(float(value), device=device, dtype=dtype)
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"Invalid {name}: {value!r} (must be finite)")
        out.append(t)
    return out


def _check_range(name: str, t: torch.Tensor, *, low: float, high: float | None = None,
                 high_open: bool = False, low_open: bool = False) -> None:
    bad = (t <= low) if low_open else (t < low)
    if high is not None:
        bad = bad | ((t >= high) if high_open else (t > high))
    if bool(bad.any()):
        lo = "(" if low_open else "["
        hi = "inf)" if high is None else (f"{high:g})" if high_open else f"{high:g}]")
        first = float(t[bad].flatten()[0])
        raise ValueError(f"Invalid {name}: {first!r} (every entry must lie in {lo}{low:g}, {hi})")


def heavy_ball_iteration_matrix(alpha, beta, lam, *, device=None, dtype=None) -> torch.Tensor:
    r"""The 2x2 matrix :math:`M` that advances :math:`(e_t, e_{t-1})` to :math:`(e_{t+1}, e_t)`
    for heavy ball on one eigendirection with eigenvalue :math:`\lambda`:

    .. math::

        M(\alpha, \beta, \lambda) = \begin{pmatrix} 1 + \beta - \alpha\lambda & -\beta \\ 1 & 0 \end{pmatrix}.

    ``alpha`` (learning rate, :math:`\ge 0`), ``beta`` (momentum, in :math:`[0, 1]`) and ``lam``
    (eigenvalue, :math:`\ge 0`) broadcast; the result has shape ``broadcast_shape + (2, 2)``.
    Its eigenvalues are the roots of :math:`z^2 - (1 + \beta - \alpha\lambda) z + \beta`.
    """
    a, b, lam_t = _tensors([("alpha", alpha), ("beta", beta), ("lam", lam)], device=device, dtype=dtype)
    _check_range("alpha", a, low=0.0)
    _check_range("beta", b, low=0.0, high=1.0)
    _check_range("lam", lam_t, low=0.0)
    a, b, lam_t = torch.broadcast_tensors(a, b, lam_t)
    top = torch.stack([1 + b - a * lam_t, -b], dim=-1)
    bottom = torch.stack([torch.ones_like(b), torch.zeros_like(b)], dim=-1)
    return torch.stack([top, bottom], dim=-2)


def heavy_ball_spectral_radius(alpha, beta, lam, *, device=None, dtype=None) -> torch.Tensor:
    r"""The spectral radius of :func:`heavy_ball_iteration_matrix`, in closed form and vectorised.

    With :math:`s = 1 + \beta - \alpha\lambda` the eigenvalues are
    :math:`z_\pm = \big(s \pm \sqrt{s^2 - 4\beta}\big)/2`. When :math:`s^2 < 4\beta` they are
    complex conjugates with :math:`|z_\pm|^2 = z_+ z_- = \beta`; otherwise they are real and the
    larger modulus is :math:`\big(|s| + \sqrt{s^2 - 4\beta}\big)/2`:

    .. math::

        \rho(\alpha, \beta, \lambda) =
        \begin{cases} \sqrt{\beta} & s^2 < 4\beta, \\
        \tfrac12\big(|s| + \sqrt{s^2 - 4\beta}\big) & s^2 \ge 4\beta. \end{cases}

    The error along the eigendirection shrinks like :math:`\rho^t` (times a polynomial in
    :math:`t` when the roots coincide). Arguments broadcast as in
    :func:`heavy_ball_iteration_matrix`; the result has the broadcast shape.
    """
    a, b, lam_t = _tensors([("alpha", alpha), ("beta", beta), ("lam", lam)], device=device, dtype=dtype)
    _check_range("alpha", a, low=0.0)
    _check_range("beta", b, low=0.0, high=1.0)
    _check_range("lam", lam_t, low=0.0)
    s = 1 + b - a * lam_t
    disc = s * s - 4 * b
    real = 0.5 * (s.abs() + disc.clamp(min=0).sqrt())
    return torch.where(disc < 0, b.sqrt().expand_as(real), real)


def spectral_radius_map(alphas, betas, lams, *, device=None, dtype=None) -> torch.Tensor:
    r"""The convergence-rate map of heavy ball: for every pair :math:`(\beta_i, \alpha_j)` the
    worst spectral radius over the eigenvalues ``lams``,

    .. math::

        R_{ij} = \max_k \rho(\alpha_j, \beta_i, \lambda_k),

    as a tensor of shape ``(len(betas), len(alphas))`` (rows: momentum, columns: learning rate,
    the layout ``imshow``/``pcolormesh`` expect). ``alphas``, ``betas`` and ``lams`` are 1-D (or
    numbers). For a quadratic whose eigenvalues lie in :math:`[\mu, L]`, ``lams = [mu, L]``
    suffices: for fixed :math:`\alpha, \beta`, :math:`\rho` is :math:`\sqrt\beta` or increases
    with :math:`|s|`, and :math:`s` is affine in :math:`\lambda`, so its maximum over an interval
    is at an end. :math:`R_{ij} < 1` exactly where heavy ball converges from every start.
    """
    a, b, lam_t = _tensors([("alphas", alphas), ("betas", betas), ("lams", lams)], device=device, dtype=dtype)
    for name, t in [("alphas", a), ("betas", b), ("lams", lam_t)]:
        if t.dim() > 1:
            raise ValueError(f"Invalid {name}: expected a number or a 1-D tensor, got shape {tuple(t.shape)}")
        if t.numel() == 0:
            raise ValueError(f"Invalid {name}: empty")
    a, b, lam_t = a.reshape(1, -1, 1), b.reshape(-1, 1, 1), lam_t.reshape(1, 1, -1)
    return heavy_ball_spectral_radius(a, b, lam_t).amax(dim=-1)


def _check_mu_L(mu, L) -> tuple[float, float]:
    check_positive("mu", mu)
    check_positive("L", L)
    mu, L = as_float("mu", mu), as_float("L", L)
    if mu > L:
        raise ValueError(f"Invalid mu: {mu!r} (must not exceed L={L!r})")
    return mu, L


def optimal_heavy_ball(mu, L) -> tuple[float, float, float]:
    r"""The learning rate and momentum that minimise the worst spectral radius of heavy ball over
    all quadratics with eigenvalues in :math:`[\mu, L]`, and that radius (Polyak 1964):

    .. math::

        \alpha^\star = \frac{4}{(\sqrt L + \sqrt\mu)^2}, \qquad
        \beta^\star = \Big(\frac{\sqrt\kappa - 1}{\sqrt\kappa + 1}\Big)^2, \qquad
        \rho^\star = \frac{\sqrt\kappa - 1}{\sqrt\kappa + 1}, \qquad \kappa = L/\mu.

    Returns ``(alpha, beta, rate)`` as floats. Requires :math:`0 < \mu \le L`.
    """
    mu, L = _check_mu_L(mu, L)
    sk = math.sqrt(L / mu)
    rate = (sk - 1) / (sk + 1)
    return 4 / (math.sqrt(L) + math.sqrt(mu)) ** 2, rate ** 2, rate


def optimal_gradient_descent(mu, L) -> tuple[float, float]:
    r"""Gradient descent's best constant learning rate on quadratics with eigenvalues in
    :math:`[\mu, L]` and its rate: :math:`\big(2/(L+\mu),\ (\kappa-1)/(\kappa+1)\big)`."""
    mu, L = _check_mu_L(mu, L)
    return 2 / (L + mu), (L - mu) / (L + mu)


def critical_momentum(alpha, lam, *, device=None, dtype=None) -> torch.Tensor:
    r"""The momentum at which the two eigenvalues of :math:`M(\alpha, \beta, \lambda)` coincide,
    *critical damping* (Goh 2017):

    .. math::

        \beta_c = \big(1 - \sqrt{\alpha\lambda}\big)^2, \qquad 0 < \alpha\lambda < 4 .

    Then :math:`\rho = \sqrt{\beta_c} = |1 - \sqrt{\alpha\lambda}|`, the smallest spectral radius
    any :math:`\beta` gives for this :math:`\alpha\lambda`. Smaller :math:`\beta` is overdamped
    (real roots, slower), larger :math:`\beta` underdamped (complex roots, oscillation with
    modulus :math:`\sqrt\beta`). Arguments broadcast.
    """
    a, lam_t = _tensors([("alpha", alpha), ("lam", lam)], device=device, dtype=dtype)
    _check_range("alpha", a, low=0.0, low_open=True)
    _check_range("lam", lam_t, low=0.0, low_open=True)
    h = a * lam_t
    _check_range("alpha * lam", h, low=0.0, high=4.0, low_open=True, high_open=True)
    return (1 - h.sqrt()) ** 2


def ema_to_classical_lr(lr_ema, beta) -> float:
    r"""The learning rate of the classical form that gives the same iterates as the EMA form.

    EMA form: :math:`v_t = \beta v_{t-1} + (1-\beta) g_t`, :math:`x_t = x_{t-1} - \eta_{\text{EMA}} v_t`.
    Classical (PyTorch) form: :math:`b_t = \beta b_{t-1} + g_t`, :math:`x_t = x_{t-1} - \eta\, b_t`.
    From zero buffers, :math:`v_t = (1-\beta) b_t` at every step, so the iterates are identical
    exactly when :math:`\eta = (1-\beta)\,\eta_{\text{EMA}}`. Returns that :math:`\eta`.
    """
    check_positive("lr_ema", lr_ema)
    check_in_unit_interval("beta", beta)
    return as_float("lr_ema", lr_ema) * (1 - as_float("beta", beta))


def classical_to_ema_lr(lr, beta) -> float:
    r"""The inverse of :func:`ema_to_classical_lr`: :math:`\eta_{\text{EMA}} = \eta / (1 - \beta)`."""
    check_positive("lr", lr)
    check_in_unit_interval("beta", beta)
    return as_float("lr", lr) / (1 - as_float("beta", beta))
