"""NAdam: Adam with Nesterov momentum (as ``torch.optim.NAdam``)."""

from __future__ import annotations

import torch

from ._base import CourseOptimizer, check_betas, check_bool, check_non_negative, check_positive


class NAdam(CourseOptimizer):
    r"""NAdam (Dozat 2016, "Incorporating Nesterov Momentum into Adam", ICLR workshop), with the
    momentum schedule of the paper and optional decoupled weight decay (NAdamW).

    With gradient :math:`g_t = \nabla f(\theta_{t-1}) + \lambda \theta_{t-1}` (weight decay
    :math:`\lambda`, coupled; the gradient is negated when ``maximize``):

    .. math::

        \mu_t = \beta_1 \bigl(1 - \tfrac12\, 0.96^{t\psi}\bigr), \qquad
        \Pi_t = \prod_{i=1}^{t} \mu_i

        m_t = \beta_1 m_{t-1} + (1 - \beta_1)\, g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t \odot g_t, \qquad
        \delta_t = \sqrt{v_t / (1 - \beta_2^t)} + \epsilon

        \theta_t = \theta_{t-1} - \eta\, \frac{1 - \mu_t}{1 - \Pi_t}\, \frac{g_t}{\delta_t}
            - \eta\, \frac{\mu_{t+1}}{1 - \Pi_{t+1}}\, \frac{m_t}{\delta_t}

    with :math:`m_0 = v_0 = 0`, :math:`\eta` ``lr`` and :math:`\psi` ``momentum_decay``. The
    Nesterov look-ahead is the :math:`\mu_{t+1}` in the second term: the momentum part of the
    step uses next step's momentum coefficient. With ``decoupled_weight_decay`` the decay
    instead shrinks the weights, :math:`\theta_{t-1} \leftarrow (1 - \eta\lambda)\, \theta_{t-1}`,
    before the update.

    Defaults: ``lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
    decoupled_weight_decay=False, maximize=False``.

    Example::

        opt = NAdam(model.parameters(), lr=2e-3)
        loss_fn(model(x), y).backward()
        opt.step(); opt.zero_grad()
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, maximize=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_non_negative("lr", group["lr"])
        check_betas(group["betas"])
        check_positive("eps", group["eps"])
        check_non_negative("weight_decay", group["weight_decay"])
        check_non_negative("momentum_decay", group["momentum_decay"])
        check_bool("decoupled_weight_decay", group["decoupled_weight_decay"])
        check_bool("maximize", group["maximize"])

    @torch.no_grad()
    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, eps, wd, psi = float(group["lr"]), group["eps"], group["weight_decay"], group["momentum_decay"]
            beta1, beta2 = map(float, group["betas"])
            decoupled = group["decoupled_weight_decay"]
            for p, g in self._descent_gradients(group, l2=0.0 if decoupled else wd,
                                                 decay=lr * wd if decoupled else 0.0):
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["mu_product"] = 1.0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"]
                mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
                mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
                state["mu_product"] *= mu
                mu_product = state["mu_product"]
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                denom = v.div(1 - beta2**t).sqrt_().add_(eps)
                p.addcdiv_(g, denom, value=-lr * (1.0 - mu) / (1.0 - mu_product))
                p.addcdiv_(m, denom, value=-lr * mu_next / (1.0 - mu_product * mu_next))
        return loss
