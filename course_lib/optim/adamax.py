"""Adamax: Adam with the infinity norm in place of the second moment (as ``torch.optim.Adamax``)."""

from __future__ import annotations

import torch

from ._base import CourseOptimizer, check_betas, check_bool, check_non_negative, check_positive


class Adamax(CourseOptimizer):
    r"""Adamax (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization", ICLR, Section 7.1).

    With gradient :math:`g_t = \nabla f(\theta_{t-1}) + \lambda \theta_{t-1}` (weight decay
    :math:`\lambda`; the gradient is negated when ``maximize``):

    .. math::

        m_t = \beta_1 m_{t-1} + (1 - \beta_1)\, g_t

        u_t = \max(\beta_2 u_{t-1},\ |g_t| + \epsilon)

        \theta_t = \theta_{t-1} - \frac{\eta}{1 - \beta_1^t}\, \frac{m_t}{u_t}

    with :math:`m_0 = u_0 = 0` and :math:`\eta` ``lr``. :math:`u_t` is the limit
    :math:`p \to \infty` of Adam's :math:`(\sum_i \beta_2^{p(t-i)} |g_i|^p)^{1/p}`; a max of
    zero-started terms is not biased towards zero, so only :math:`m_t` is bias-corrected.
    PyTorch adds :math:`\epsilon` inside the max, not to the denominator.

    Defaults: ``lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False``.

    Example::

        opt = Adamax(model.parameters(), lr=2e-3)
        loss_fn(model(x), y).backward()
        opt.step(); opt.zero_grad()
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *, maximize=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_non_negative("lr", group["lr"])
        check_betas(group["betas"])
        check_positive("eps", group["eps"])
        check_non_negative("weight_decay", group["weight_decay"])
        check_bool("maximize", group["maximize"])

    @torch.no_grad()
    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, eps, wd = float(group["lr"]), group["eps"], group["weight_decay"]
            beta1, beta2 = map(float, group["betas"])
            for p, g in self._descent_gradients(group, l2=wd):
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_inf"] = torch.zeros_like(p)
                state["step"] += 1
                m, u = state["exp_avg"], state["exp_inf"]
                m.lerp_(g, 1 - beta1)
                torch.maximum(u.mul_(beta2), g.abs().add_(eps), out=u)
                p.addcdiv_(m, u, value=-lr / (1 - beta1 ** state["step"]))
        return loss
