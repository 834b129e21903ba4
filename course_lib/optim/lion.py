"""Lion: the sign of an interpolated momentum, with decoupled weight decay (not in torch.optim)."""

from __future__ import annotations

import torch

from ._base import CourseOptimizer, check_betas, check_bool, check_non_negative


class Lion(CourseOptimizer):
    r"""Lion, EvoLved Sign Momentum (Chen et al. 2023, "Symbolic Discovery of Optimization
    Algorithms", NeurIPS; Algorithm 2).

    With gradient :math:`g_t = \nabla f(\theta_{t-1})` (negated when ``maximize``):

    .. math::

        c_t = \beta_1 m_{t-1} + (1 - \beta_1)\, g_t

        \theta_t = \theta_{t-1} - \eta \left( \operatorname{sign}(c_t) + \lambda\, \theta_{t-1} \right)

        m_t = \beta_2 m_{t-1} + (1 - \beta_2)\, g_t

    with :math:`m_0 = 0`, :math:`\eta` ``lr`` and :math:`\lambda` ``weight_decay`` (decoupled: it
    shrinks the weights and never enters :math:`m`). Every coordinate moves by exactly
    :math:`\eta` (before decay), so Lion wants a learning rate 3-10 times smaller than AdamW's and a
    weight decay as many times larger, to keep :math:`\eta\lambda` the same. The update direction
    uses :math:`\beta_1`, the tracked momentum the slower :math:`\beta_2`: the step reacts to the
    new gradient more than the memory does.

    Defaults: ``lr=1e-4, betas=(0.9, 0.99), weight_decay=0, maximize=False``.

    Example::

        opt = Lion(model.parameters(), lr=3e-4, weight_decay=0.1)
        loss_fn(model(x), y).backward()
        opt.step(); opt.zero_grad()
    """

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, *, maximize=False):
        defaults = dict(lr=lr, betas=betas, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_non_negative("lr", group["lr"])
        check_betas(group["betas"])
        check_non_negative("weight_decay", group["weight_decay"])
        check_bool("maximize", group["maximize"])

    @torch.no_grad()
    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, wd = float(group["lr"]), float(group["weight_decay"])
            beta1, beta2 = map(float, group["betas"])
            for p, g in self._descent_gradients(group):
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p)
                m = state["exp_avg"]
                c = m.mul(beta1).add_(g, alpha=1 - beta1)
                p.mul_(1 - lr * wd).add_(c.sign_(), alpha=-lr)
                m.mul_(beta2).add_(g, alpha=1 - beta2)
        return loss
