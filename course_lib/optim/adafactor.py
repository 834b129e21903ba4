"""Adafactor: second moments of a matrix kept as row and column factors (as ``torch.optim.Adafactor``)."""

from __future__ import annotations

import torch

from ._base import CourseOptimizer, _as_float, check_bool, check_non_negative, check_positive


class Adafactor(CourseOptimizer):
    r"""Adafactor (Shazeer & Stern 2018, "Adafactor: Adaptive Learning Rates with Sublinear Memory
    Cost", ICML), in PyTorch's variant: ``lr`` caps the relative step size and scales a decoupled
    weight decay, and :math:`\epsilon_1` is applied to the variance estimate, not to the factors.

    With :math:`G_t = \nabla f(\theta_{t-1})` (negated when ``maximize``) and
    :math:`\text{RMS}(x) = \lVert x \rVert_2 / \sqrt{\text{numel}(x)}`:

    .. math::

        1 - \hat\beta_{2,t} = t^{\tau}, \qquad \rho_t = \min(\eta, 1/\sqrt t), \qquad
        \alpha_t = \max(\epsilon_2, \text{RMS}(\theta_{t-1}))\, \rho_t

        \theta_{t-1} \leftarrow (1 - \eta\lambda)\, \theta_{t-1}

        R_t = \hat\beta_{2,t} R_{t-1} + (1 - \hat\beta_{2,t})\, \text{mean}_{\text{cols}}(G_t \odot G_t), \qquad
        C_t = \hat\beta_{2,t} C_{t-1} + (1 - \hat\beta_{2,t})\, \text{mean}_{\text{rows}}(G_t \odot G_t)

        \hat V_t = \frac{R_t C_t^\top}{\max(\text{mean}(R_t), \epsilon_1)} \ \text{(matrices)}, \qquad
        \hat V_t = \hat\beta_{2,t} \hat V_{t-1} + (1 - \hat\beta_{2,t})\, G_t \odot G_t \ \text{(otherwise)}

        U_t = \frac{G_t}{\max(\sqrt{\hat V_t}, \epsilon_1)}, \qquad
        \theta_t = \theta_{t-1} - \frac{\alpha_t}{\max(1, \text{RMS}(U_t) / d)}\, U_t

    with :math:`\tau` ``beta2_decay``, :math:`\eta` ``lr``, :math:`\lambda` ``weight_decay``,
    :math:`(\epsilon_1, \epsilon_2)` ``eps`` (:math:`\epsilon_1` defaults to the machine epsilon of
    the parameter's dtype) and :math:`d` the clipping threshold. For a parameter of shape
    :math:`(\dots, m, n)` the state holds :math:`R` of shape :math:`(\dots, m)` and :math:`C` of
    shape :math:`(\dots, n)`: :math:`O(m + n)` memory instead of Adam's :math:`O(mn)`. The rank-one
    :math:`\hat V_t` has the row means :math:`R_t` and column means :math:`C_t`. The step is relative
    to the parameter's scale, :math:`\alpha_t`, and update clipping by :math:`d` replaces
    Adam's first moment.

    Defaults: ``lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0, maximize=False``.

    Example::

        opt = Adafactor(model.parameters())
        loss_fn(model(x), y).backward()
        opt.step(); opt.zero_grad()
    """

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0,
                 *, maximize=False):
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_non_negative("lr", group["lr"])
        if not _as_float("beta2_decay", group["beta2_decay"]) <= 0.0:
            raise ValueError(f"Invalid beta2_decay: {group['beta2_decay']!r} (must be <= 0)")
        eps = group["eps"]
        if not isinstance(eps, (tuple, list)) or len(eps) != 2:
            raise ValueError(f"Invalid eps: {eps!r} (must be a pair (eps1, eps2); eps1 may be None)")
        if eps[0] is not None:
            check_positive("eps[0]", eps[0])
        check_positive("eps[1]", eps[1])
        if not _as_float("d", group["d"]) >= 1.0:
            raise ValueError(f"Invalid d: {group['d']!r} (must be >= 1; inf disables update clipping)")
        check_non_negative("weight_decay", group["weight_decay"])
        check_bool("maximize", group["maximize"])

    @torch.no_grad()
    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, tau, d, wd = float(group["lr"]), group["beta2_decay"], group["d"], group["weight_decay"]
            for p, g in self._descent_gradients(group):
                factored = g.dim() > 1
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    if factored:
                        state["row_var"] = p.new_zeros(p.shape[:-1])
                        state["col_var"] = p.new_zeros(p.shape[:-2] + p.shape[-1:])
                    else:
                        state["variance"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"]
                eps1 = torch.finfo(p.dtype).eps if group["eps"][0] is None else group["eps"][0]
                eps2 = group["eps"][1]
                one_minus_beta2 = t**tau
                rho = min(lr, 1 / t**0.5)
                alpha = max(eps2, p.norm().item() / p.numel() ** 0.5) * rho
                if wd != 0:
                    p.mul_(1 - lr * wd)
                g2 = g * g
                if factored:
                    r, c = state["row_var"], state["col_var"]
                    r.lerp_(g2.mean(dim=-1), one_minus_beta2)
                    c.lerp_(g2.mean(dim=-2), one_minus_beta2)
                    v_hat = r.unsqueeze(-1) * c.unsqueeze(-2)
                    v_hat.div_(r.mean(dim=-1, keepdim=True).unsqueeze(-1).clamp_(min=eps1))
                else:
                    v_hat = state["variance"].lerp_(g2, one_minus_beta2)
                # clamping before the square root keeps eps1 on the scale of sqrt(V), as in the formula
                u = v_hat.clamp(min=eps1 * eps1).rsqrt_().mul_(g)
                p.add_(u, alpha=-alpha / max(1.0, u.norm().item() / (u.numel() ** 0.5 * d)))
        return loss
