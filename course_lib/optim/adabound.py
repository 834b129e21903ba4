"""AdaBound and AMSBound: Adam whose per-coordinate step size is squeezed towards SGD's (not in torch.optim)."""

from __future__ import annotations

import math

import torch

from ._base import CourseOptimizer, check_betas, check_bool, check_non_negative, check_positive


class AdaBound(CourseOptimizer):
    r"""AdaBound, and AMSBound with ``amsbound=True`` (Luo, Xiong, Liu & Sun 2019, "Adaptive Gradient
    Methods with Dynamic Bound of Learning Rate", ICLR), as in the authors' reference code.

    With gradient :math:`g_t = \nabla f(\theta_{t-1}) + \lambda \theta_{t-1}` (weight decay
    :math:`\lambda` as L2, added to the gradient; the gradient is negated when ``maximize``):

    .. math::

        m_t = \beta_1 m_{t-1} + (1 - \beta_1)\, g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t \odot g_t

        \hat v_t = \max(\hat v_{t-1}, v_t) \ \text{(amsbound)}, \qquad
        \hat v_t = v_t \ \text{(otherwise)}

        \alpha^*_t = \alpha^* \, \eta_t / \eta_0, \qquad
        \ell_t = \alpha^*_t \Big(1 - \frac{1}{\gamma t + 1}\Big), \qquad
        u_t = \alpha^*_t \Big(1 + \frac{1}{\gamma t}\Big)

        \hat\eta_t = \operatorname{clip}\Big(\frac{\eta_t \sqrt{1 - \beta_2^t}}{1 - \beta_1^t}
            \cdot \frac{1}{\sqrt{\hat v_t} + \epsilon},\ \ell_t,\ u_t\Big), \qquad
        \theta_t = \theta_{t-1} - \hat\eta_t \odot m_t

    with :math:`m_0 = v_0 = \hat v_0 = 0`, :math:`\eta_t` the current ``lr``, :math:`\eta_0` the
    group's ``base_lr`` (its ``lr`` when it was added), :math:`\alpha^*` ``final_lr`` and
    :math:`\gamma` ``gamma``. Early on the bounds :math:`[0, \infty)` leave Adam alone; as
    :math:`t` grows they close on :math:`\alpha^*_t`, so every coordinate ends up taking SGD-with-
    momentum steps of rate :math:`\alpha^*_t`, reached after roughly :math:`1/\gamma` steps.
    Scaling :math:`\alpha^*` by :math:`\eta_t/\eta_0` makes a learning-rate schedule move the
    bounds too. A group added with ``lr=0`` takes the first positive ``lr`` it is given as its
    ``base_lr``; while ``lr`` is 0 the bounds are 0 and nothing moves.

    Defaults: ``lr=1e-3, betas=(0.9, 0.999), final_lr=0.1, gamma=1e-3, eps=1e-8, weight_decay=0,
    amsbound=False, maximize=False``.

    Example::

        opt = AdaBound(model.parameters(), lr=1e-3, final_lr=0.1)
        loss_fn(model(x), y).backward()
        opt.step(); opt.zero_grad()
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), final_lr=0.1, gamma=1e-3, eps=1e-8,
                 weight_decay=0.0, amsbound=False, *, maximize=False):
        defaults = dict(lr=lr, betas=betas, final_lr=final_lr, gamma=gamma, eps=eps,
                        weight_decay=weight_decay, amsbound=amsbound, maximize=maximize)
        super().__init__(params, defaults)

    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        # A float copy: a tensor lr that a scheduler fills in place must not drag base_lr along.
        self.param_groups[-1].setdefault("base_lr", float(self.param_groups[-1]["lr"]))

    def _check_group(self, group):
        check_non_negative("lr", group["lr"])
        # base_lr is set from lr after these checks unless the group gives its own.
        if "base_lr" in group:
            check_non_negative("base_lr", group["base_lr"])
        check_betas(group["betas"])
        check_positive("final_lr", group["final_lr"])
        check_positive("gamma", group["gamma"])
        check_positive("eps", group["eps"])
        check_non_negative("weight_decay", group["weight_decay"])
        check_bool("amsbound", group["amsbound"])
        check_bool("maximize", group["maximize"])

    @torch.no_grad()
    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, eps, wd, gamma = float(group["lr"]), group["eps"], group["weight_decay"], group["gamma"]
            beta1, beta2 = map(float, group["betas"])
            if group["base_lr"] == 0:
                # a group added frozen (lr=0) has no reference rate until it is first given one
                group["base_lr"] = lr
            # the bounds follow the schedule: lr relative to base_lr, not lr / lr (always 1)
            final_lr = group["final_lr"] * lr / group["base_lr"] if lr > 0 else 0.0
            for p, g in self._descent_gradients(group, l2=wd):
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                if group["amsbound"] and "max_exp_avg_sq" not in state:
                    state["max_exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"]
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.mul_(beta1).add_(g, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                if group["amsbound"]:
                    v = torch.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
                lower = final_lr * (1 - 1 / (gamma * t + 1))
                upper = final_lr * (1 + 1 / (gamma * t))
                adam_rate = lr * math.sqrt(1 - beta2**t) / (1 - beta1**t)
                step_size = (adam_rate / v.sqrt().add_(eps)).clamp_(lower, upper)
                p.addcmul_(step_size, m, value=-1)
        return loss
