"""AdaGrad: per-coordinate steps scaled by the accumulated squared gradients (as ``torch.optim.Adagrad``)."""

from __future__ import annotations

import torch

from ._base import CourseOptimizer, check_bool, check_non_negative, check_positive


class Adagrad(CourseOptimizer):
    r"""AdaGrad (Duchi, Hazan & Singer 2011, "Adaptive Subgradient Methods for Online Learning
    and Stochastic Optimization", JMLR 12).

    With gradient :math:`g_t = \nabla f(\theta_{t-1}) + \lambda \theta_{t-1}` (weight decay
    :math:`\lambda`; the gradient is negated when ``maximize``):

    .. math::

        \eta_t = \frac{\eta}{1 + (t - 1)\, \kappa}

        s_t = s_{t-1} + g_t \odot g_t, \qquad s_0 = s_{\text{init}}

        \theta_t = \theta_{t-1} - \eta_t\, \frac{g_t}{\sqrt{s_t} + \epsilon}

    where :math:`\eta` is ``lr``, :math:`\kappa` ``lr_decay`` and :math:`s_{\text{init}}`
    ``initial_accumulator_value``. Coordinates with large past gradients take small steps;
    under a constant gradient the step shrinks like :math:`t^{-1/2}`.

    Defaults: ``lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
    maximize=False``.

    Example::

        opt = Adagrad(model.parameters(), lr=0.1)
        loss_fn(model(x), y).backward()
        opt.step(); opt.zero_grad()
    """

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                 eps=1e-10, *, maximize=False):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_non_negative("lr", group["lr"])
        check_non_negative("lr_decay", group["lr_decay"])
        check_non_negative("weight_decay", group["weight_decay"])
        check_non_negative("initial_accumulator_value", group["initial_accumulator_value"])
        check_positive("eps", group["eps"])
        check_bool("maximize", group["maximize"])

    @torch.no_grad()
    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, wd, eps = float(group["lr"]), group["weight_decay"], group["eps"]
            for p, g in self._descent_gradients(group, l2=wd):
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["sum"] = torch.full_like(p, group["initial_accumulator_value"])
                state["step"] += 1
                lr_t = lr / (1 + (state["step"] - 1) * group["lr_decay"])
                state["sum"].addcmul_(g, g)
                p.addcdiv_(g, state["sum"].sqrt().add_(eps), value=-lr_t)
        return loss
