"""RMSprop: steps scaled by a running average of squared gradients (as ``torch.optim.RMSprop``)."""

from __future__ import annotations

import torch

from ._base import CourseOptimizer, check_bool, check_in_unit_interval, check_non_negative, check_positive


class RMSprop(CourseOptimizer):
    r"""RMSprop (Tieleman & Hinton 2012, Lecture 6.5 of "Neural Networks for Machine Learning",
    Coursera), with the centered variant of Graves (2013) and optional momentum.

    With gradient :math:`g_t = \nabla f(\theta_{t-1}) + \lambda \theta_{t-1}` (weight decay
    :math:`\lambda`; the gradient is negated when ``maximize``):

    .. math::

        v_t = \alpha\, v_{t-1} + (1 - \alpha)\, g_t \odot g_t

        \bar g_t = \alpha\, \bar g_{t-1} + (1 - \alpha)\, g_t \ \text{(centered)}, \qquad
        \delta_t = \sqrt{v_t - \bar g_t \odot \bar g_t} + \epsilon \ \text{(centered)}, \qquad
        \delta_t = \sqrt{v_t} + \epsilon \ \text{(otherwise)}

        b_t = \mu\, b_{t-1} + g_t / \delta_t, \qquad \theta_t = \theta_{t-1} - \eta\, b_t

    where :math:`\eta` is ``lr`` and :math:`\mu` ``momentum``; with :math:`\mu = 0` the last
    line is :math:`\theta_t = \theta_{t-1} - \eta\, g_t / \delta_t`. All averages start at zero
    and are not bias-corrected, so early steps are larger than ``lr`` by up to
    :math:`1/\sqrt{1 - \alpha^t}`.

    Defaults: ``lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
    maximize=False``.

    Example::

        opt = RMSprop(model.parameters(), lr=1e-3)
        loss_fn(model(x), y).backward()
        opt.step(); opt.zero_grad()
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, *, maximize=False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_non_negative("lr", group["lr"])
        check_in_unit_interval("alpha", group["alpha"], closed_right=True)
        check_positive("eps", group["eps"])
        check_non_negative("weight_decay", group["weight_decay"])
        check_in_unit_interval("momentum", group["momentum"], closed_right=True)
        check_bool("centered", group["centered"])
        check_bool("maximize", group["maximize"])

    @torch.no_grad()
    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, alpha, eps = float(group["lr"]), group["alpha"], group["eps"]
            wd, mu, centered = group["weight_decay"], group["momentum"], group["centered"]
            for p, g in self._descent_gradients(group, l2=wd):
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["square_avg"] = torch.zeros_like(p)
                    if mu > 0:
                        state["momentum_buffer"] = torch.zeros_like(p)
                    if centered:
                        state["grad_avg"] = torch.zeros_like(p)
                # counted, as torch.optim does, though the update never reads it
                state["step"] += 1
                v = state["square_avg"]
                v.mul_(alpha).addcmul_(g, g, value=1 - alpha)
                if centered:
                    g_bar = state["grad_avg"]
                    g_bar.lerp_(g, 1 - alpha)
                    # v - g_bar^2 estimates the variance of g, not its second moment
                    delta = v.addcmul(g_bar, g_bar, value=-1).sqrt_()
                else:
                    delta = v.sqrt()
                delta.add_(eps)
                if mu > 0:
                    buf = state["momentum_buffer"]
                    buf.mul_(mu).addcdiv_(g, delta)
                    p.add_(buf, alpha=-lr)
                else:
                    p.addcdiv_(g, delta, value=-lr)
        return loss
