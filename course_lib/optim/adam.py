"""Adam and AdamW: bias-corrected first and second moment estimates (as ``torch.optim.Adam``/``AdamW``)."""

from __future__ import annotations

import torch

from ._base import CourseOptimizer, check_betas, check_bool, check_non_negative, check_positive


class Adam(CourseOptimizer):
    r"""Adam (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization", ICLR), with the
    AMSGrad variant (Reddi, Kale & Kumar 2018) and optional decoupled weight decay (AdamW).

    With gradient :math:`g_t = \nabla f(\theta_{t-1}) + \lambda \theta_{t-1}` (weight decay
    :math:`\lambda`, coupled; the gradient is negated when ``maximize``):

    .. math::

        m_t = \beta_1 m_{t-1} + (1 - \beta_1)\, g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t \odot g_t

        \hat v_t = \max(\hat v_{t-1}, v_t) \ \text{(amsgrad)}, \qquad
        \hat v_t = v_t \ \text{(otherwise)}

        \theta_t = \theta_{t-1} - \frac{\eta}{1 - \beta_1^t}\,
            \frac{m_t}{\sqrt{\hat v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    with :math:`m_0 = v_0 = \hat v_0 = 0` and :math:`\eta` ``lr``. The divisions by
    :math:`1 - \beta^t` undo the bias of averages started at zero, so the first step moves every
    coordinate by :math:`\eta` (up to :math:`\epsilon`), whatever the gradient's scale. With
    ``decoupled_weight_decay`` the decay skips the moments and shrinks the weights directly,
    :math:`\theta_{t-1} \leftarrow (1 - \eta\lambda)\, \theta_{t-1}`, before the update (AdamW).

    Defaults: ``lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
    maximize=False, decoupled_weight_decay=False``.

    Example::

        opt = Adam(model.parameters(), lr=1e-3)
        loss_fn(model(x), y).backward()
        opt.step(); opt.zero_grad()
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 *, maximize=False, decoupled_weight_decay=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_non_negative("lr", group["lr"])
        check_betas(group["betas"])
        check_positive("eps", group["eps"])
        check_non_negative("weight_decay", group["weight_decay"])
        check_bool("amsgrad", group["amsgrad"])
        check_bool("maximize", group["maximize"])
        check_bool("decoupled_weight_decay", group["decoupled_weight_decay"])

    @torch.no_grad()
    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, eps, wd = float(group["lr"]), group["eps"], group["weight_decay"]
            beta1, beta2 = map(float, group["betas"])
            decoupled = group["decoupled_weight_decay"]
            for p, g in self._descent_gradients(group, l2=0.0 if decoupled else wd,
                                                 decay=lr * wd if decoupled else 0.0):
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"]
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                if group["amsgrad"]:
                    v = torch.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
                denom = (v.sqrt() / (1 - beta2**t) ** 0.5).add_(eps)
                p.addcdiv_(m, denom, value=-lr / (1 - beta1**t))
        return loss


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization", ICLR): Adam whose
    weight decay shrinks the weights directly instead of entering the moment estimates.

    .. math::

        \theta_{t-1} \leftarrow (1 - \eta\lambda)\, \theta_{t-1}, \quad\text{then the Adam update
        of} \ \theta_{t-1} \ \text{with} \ g_t = \nabla f(\theta_{t-1})

    (see :class:`Adam`). With L2 regularisation inside Adam, the decay term :math:`\lambda\theta`
    is divided by :math:`\sqrt{\hat v_t}` like the gradient, so large-gradient weights are barely
    regularised; decoupling makes every weight decay at the same rate :math:`\eta\lambda` per step.

    Defaults: ``lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
    maximize=False``.

    Example::

        opt = AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
        loss_fn(model(x), y).backward()
        opt.step(); opt.zero_grad()
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                 *, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
