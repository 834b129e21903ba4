"""Shampoo: a Kronecker-factored, full-matrix AdaGrad for matrix-shaped parameters."""

from __future__ import annotations

import torch

from ._base import CourseOptimizer, check_bool, check_non_negative, check_positive


def matrix_power_psd(M: torch.Tensor, power: float, floor: float = 0.0) -> torch.Tensor:
    r""":math:`M^{p}` of a symmetric positive definite matrix by its eigendecomposition
    :math:`M = U \operatorname{diag}(\lambda) U^\top`, so :math:`M^p = U \operatorname{diag}(\lambda^p) U^\top`.

    The decomposition runs in float64 and the result is cast back to ``M``'s dtype: in float32 the
    error of a small eigenvalue is about :math:`10^{-7}` times the largest one, and a negative power
    turns that error into a huge step. Eigenvalues are clamped at ``floor`` (a known lower bound,
    such as Shampoo's :math:`\epsilon`) and at the smallest positive float64, because rounding can
    push an eigenvalue slightly below its bound, and a negative number has no real fractional power.
    """
    evals, evecs = torch.linalg.eigh(M.to(torch.float64))
    evals = evals.clamp_min(max(floor, torch.finfo(torch.float64).tiny))
    return ((evecs * evals.pow(power)) @ evecs.T).to(M.dtype)


class Shampoo(CourseOptimizer):
    r"""Shampoo (Gupta, Koren & Singer 2018, "Shampoo: Preconditioned Stochastic Tensor
    Optimization", ICML), the matrix case of the paper's algorithm 1, without momentum.

    For a matrix parameter with gradient :math:`G_t \in \mathbb R^{m \times n}`
    (:math:`G_t = \nabla f(W_{t-1}) + \lambda W_{t-1}` with weight decay :math:`\lambda`; negated
    when ``maximize``):

    .. math::

        L_t = L_{t-1} + G_t G_t^\top, \qquad R_t = R_{t-1} + G_t^\top G_t,
        \qquad L_0 = \epsilon I_m,\ R_0 = \epsilon I_n

        W_t = W_{t-1} - \eta\, L_t^{-1/4}\, G_t\, R_t^{-1/4}

    with :math:`\eta` ``lr``. The matrix roots are computed by :func:`torch.linalg.eigh` in float64
    (see :func:`matrix_power_psd`), every
    ``precondition_frequency`` steps (the last roots are reused in between, as the paper suggests
    for large layers). In the vectorised form :math:`\operatorname{vec}(L^{-1/4} G R^{-1/4}) =
    (R^{-1/4} \otimes L^{-1/4}) \operatorname{vec}(G)`: the preconditioner is a Kronecker product of
    two small matrices, an approximation of full-matrix AdaGrad's :math:`(\sum_t g_t g_t^\top)^{-1/2}`
    for :math:`g_t = \operatorname{vec}(G_t)`, with :math:`m^2 + n^2` numbers instead of
    :math:`(mn)^2`.

    Parameters with more than two dimensions are treated as the matrix of shape
    ``(shape[0], numel / shape[0])``. Vectors and scalars use the diagonal version, AdaGrad with the
    same :math:`\epsilon` start: :math:`H_t = H_{t-1} + g_t \odot g_t`, :math:`H_0 = \epsilon`,
    :math:`\theta_t = \theta_{t-1} - \eta\, g_t / \sqrt{H_t}`.

    Defaults: ``lr=0.1, eps=1e-4, weight_decay=0, precondition_frequency=1, maximize=False``.

    Example::

        opt = Shampoo(model.parameters(), lr=0.1)
        loss_fn(model(x), y).backward()
        opt.step(); opt.zero_grad()
    """

    def __init__(self, params, lr=0.1, eps=1e-4, weight_decay=0.0, precondition_frequency=1, *,
                 maximize=False):
        defaults = dict(lr=lr, eps=eps, weight_decay=weight_decay,
                        precondition_frequency=precondition_frequency, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_non_negative("lr", group["lr"])
        check_positive("eps", group["eps"])
        check_non_negative("weight_decay", group["weight_decay"])
        freq = group["precondition_frequency"]
        if isinstance(freq, bool) or not isinstance(freq, int) or freq < 1:
            raise ValueError(f"Invalid precondition_frequency: {freq!r} (must be an integer >= 1)")
        check_bool("maximize", group["maximize"])

    @torch.no_grad()
    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, wd, eps = float(group["lr"]), group["weight_decay"], float(group["eps"])
            for p, g in self._descent_gradients(group, l2=wd):
                state = self.state[p]
                if p.dim() < 2:
                    if not state:
                        state["step"] = 0
                        state["sum"] = torch.full_like(p, eps)
                    state["step"] += 1
                    state["sum"].addcmul_(g, g)
                    p.addcdiv_(g, state["sum"].sqrt(), value=-lr)
                    continue
                G = g.reshape(p.shape[0], -1)
                m, n = G.shape
                if not state:
                    state["step"] = 0
                    state["L"] = eps * torch.eye(m, dtype=p.dtype, device=p.device)
                    state["R"] = eps * torch.eye(n, dtype=p.dtype, device=p.device)
                    state["L_root"] = torch.zeros_like(state["L"])
                    state["R_root"] = torch.zeros_like(state["R"])
                state["step"] += 1
                state["L"].addmm_(G, G.T)
                state["R"].addmm_(G.T, G)
                # the first step always computes the roots, so the cached zeros are never used
                if (state["step"] - 1) % group["precondition_frequency"] == 0:
                    state["L_root"].copy_(matrix_power_psd(state["L"], -0.25, eps))
                    state["R_root"].copy_(matrix_power_psd(state["R"], -0.25, eps))
                update = state["L_root"] @ G @ state["R_root"]
                p.add_(update.reshape(p.shape), alpha=-lr)
        return loss
