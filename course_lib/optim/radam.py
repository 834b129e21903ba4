"""RAdam: Adam with the variance of its adaptive step rectified (as ``torch.optim.RAdam``)."""

from __future__ import annotations

import torch

from ._base import CourseOptimizer, check_betas, check_bool, check_non_negative, check_positive


class RAdam(CourseOptimizer):
    r"""Rectified Adam (Liu et al. 2020, "On the Variance of the Adaptive Learning Rate and Beyond",
    ICLR), with optional decoupled weight decay.

    With gradient :math:`g_t = \nabla f(\theta_{t-1}) + \lambda \theta_{t-1}` (weight decay
    :math:`\lambda`, coupled; the gradient is negated when ``maximize``):

    .. math::

        m_t = \beta_1 m_{t-1} + (1 - \beta_1)\, g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t \odot g_t, \qquad
        \hat m_t = \frac{m_t}{1 - \beta_1^t}

        \rho_\infty = \frac{2}{1 - \beta_2} - 1, \qquad
        \rho_t = \rho_\infty - \frac{2 t \beta_2^t}{1 - \beta_2^t}

        r_t = \sqrt{\frac{(\rho_t - 4)(\rho_t - 2)\,\rho_\infty}{(\rho_\infty - 4)(\rho_\infty - 2)\,\rho_t}}

        \theta_t = \theta_{t-1} - \eta\, \hat m_t\, r_t\, \frac{\sqrt{1 - \beta_2^t}}{\sqrt{v_t} + \epsilon}
            \ \text{if} \ \rho_t > 5, \qquad
        \theta_t = \theta_{t-1} - \eta\, \hat m_t \ \text{otherwise}

    with :math:`m_0 = v_0 = 0` and :math:`\eta` ``lr``. :math:`\rho_t` is the length of the simple
    moving average that :math:`v_t` approximates; while it is short the adaptive step's variance
    is too large (or undefined), so RAdam takes plain momentum steps, then scales the adaptive
    step by :math:`r_t \to 1`. With ``decoupled_weight_decay`` the decay instead shrinks the
    weights, :math:`\theta_{t-1} \leftarrow (1 - \eta\lambda)\, \theta_{t-1}`, before the update.

    Defaults: ``lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
    maximize=False``.

    Example::

        opt = RAdam(model.parameters(), lr=1e-3)
        loss_fn(model(x), y).backward()
        opt.step(); opt.zero_grad()
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, *, maximize=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_non_negative("lr", group["lr"])
        check_betas(group["betas"])
        check_positive("eps", group["eps"])
        check_non_negative("weight_decay", group["weight_decay"])
        check_bool("decoupled_weight_decay", group["decoupled_weight_decay"])
        check_bool("maximize", group["maximize"])

    @torch.no_grad()
    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, eps, wd = float(group["lr"]), group["eps"], group["weight_decay"]
            beta1, beta2 = map(float, group["betas"])
            rho_inf = 2 / (1 - beta2) - 1
            decoupled = group["decoupled_weight_decay"]
            for p, g in self._descent_gradients(group, l2=0.0 if decoupled else wd,
                                                 decay=lr * wd if decoupled else 0.0):
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"]
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                bias_correction2 = 1 - beta2**t
                m_hat = m / (1 - beta1**t)
                rho_t = rho_inf - 2 * t * beta2**t / bias_correction2
                if rho_t > 5.0:
                    r_t = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                    adaptive = bias_correction2**0.5 / v.sqrt().add_(eps)
                    p.add_(m_hat * adaptive, alpha=-lr * r_t)
                else:
                    p.add_(m_hat, alpha=-lr)
        return loss
