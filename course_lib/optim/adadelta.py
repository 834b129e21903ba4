"""Adadelta: steps whose units match the parameters' (as ``torch.optim.Adadelta``)."""

from __future__ import annotations

import torch

from ._base import CourseOptimizer, check_bool, check_in_unit_interval, check_non_negative, check_positive


class Adadelta(CourseOptimizer):
    r"""Adadelta (Zeiler 2012, "ADADELTA: An Adaptive Learning Rate Method", arXiv:1212.5701).

    With gradient :math:`g_t = \nabla f(\theta_{t-1}) + \lambda \theta_{t-1}` (weight decay
    :math:`\lambda`; the gradient is negated when ``maximize``):

    .. math::

        v_t = \rho\, v_{t-1} + (1 - \rho)\, g_t \odot g_t

        \Delta_t = \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}} \odot g_t

        u_t = \rho\, u_{t-1} + (1 - \rho)\, \Delta_t \odot \Delta_t

        \theta_t = \theta_{t-1} - \eta\, \Delta_t

    with :math:`v_0 = u_0 = 0`, :math:`\rho` ``rho`` and :math:`\eta` ``lr``. The ratio of the
    two root-mean-squares gives :math:`\Delta_t` the units of :math:`\theta`, which is why the
    paper needs no learning rate (``lr=1`` recovers it).

    Defaults: ``lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False``.

    Example::

        opt = Adadelta(model.parameters())
        loss_fn(model(x), y).backward()
        opt.step(); opt.zero_grad()
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, *, maximize=False):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_non_negative("lr", group["lr"])
        check_in_unit_interval("rho", group["rho"], closed_right=True)
        check_positive("eps", group["eps"])
        check_non_negative("weight_decay", group["weight_decay"])
        check_bool("maximize", group["maximize"])

    @torch.no_grad()
    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, rho, eps, wd = float(group["lr"]), group["rho"], group["eps"], group["weight_decay"]
            for p, g in self._descent_gradients(group, l2=wd):
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["square_avg"] = torch.zeros_like(p)
                    state["acc_delta"] = torch.zeros_like(p)
                # counted, as torch.optim does, though the update never reads it
                state["step"] += 1
                v, u = state["square_avg"], state["acc_delta"]
                v.mul_(rho).addcmul_(g, g, value=1 - rho)
                delta = u.add(eps).sqrt_().div_(v.add(eps).sqrt_()).mul_(g)
                u.mul_(rho).addcmul_(delta, delta, value=1 - rho)
                p.add_(delta, alpha=-lr)
        return loss
