"""Stochastic gradient descent with heavy-ball or Nesterov momentum (as ``torch.optim.SGD``)."""

from __future__ import annotations

import torch

from ._base import CourseOptimizer, check_bool, check_in_unit_interval, check_non_negative


class SGD(CourseOptimizer):
    r"""Stochastic gradient descent, optionally with momentum (Polyak 1964; Sutskever et al. 2013).

    With gradient :math:`g_t = \nabla f(\theta_{t-1}) + \lambda \theta_{t-1}` (weight decay
    :math:`\lambda`; the gradient is negated when ``maximize``):

    .. math::

        b_1 = g_1, \qquad b_t = \mu\, b_{t-1} + (1 - \tau)\, g_t \quad (t > 1)

        d_t = g_t + \mu\, b_t \ \text{(Nesterov)}, \qquad d_t = b_t \ \text{(heavy ball)}, \qquad
        d_t = g_t \ \text{(no momentum)}

        \theta_t = \theta_{t-1} - \eta\, d_t

    where :math:`\eta` is ``lr``, :math:`\mu` ``momentum`` and :math:`\tau` ``dampening``.
    This is PyTorch's form of momentum: the buffer accumulates gradients, not steps, so
    ``lr`` multiplies the whole buffer.

    Defaults: ``lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False``.

    Example::

        opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
        loss_fn(model(x), y).backward()
        opt.step(); opt.zero_grad()
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_non_negative("lr", group["lr"])
        check_in_unit_interval("momentum", group["momentum"], closed_right=True)
        check_in_unit_interval("dampening", group["dampening"], closed_right=True)
        check_non_negative("weight_decay", group["weight_decay"])
        check_bool("nesterov", group["nesterov"])
        check_bool("maximize", group["maximize"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"Invalid nesterov: Nesterov momentum requires momentum > 0 and dampening = 0, "
                f"got momentum={group['momentum']!r}, dampening={group['dampening']!r}")

    @torch.no_grad()
    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, mu, tau = float(group["lr"]), group["momentum"], group["dampening"]
            wd = float(group["weight_decay"])
            for p, g in self._descent_gradients(group, l2=wd):
                if mu != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = g.clone()
                    else:
                        buf.mul_(mu).add_(g, alpha=1 - tau)
                    g = g.add(buf, alpha=mu) if group["nesterov"] else buf
                p.add_(g, alpha=-lr)
        return loss
