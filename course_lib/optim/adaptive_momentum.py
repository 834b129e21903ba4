"""SGD whose heavy-ball momentum follows how steady the recent losses have been."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ._base import (CourseOptimizer, _as_float, check_bool, check_in_unit_interval, check_non_negative,
                    check_positive)


def relative_loss_noise(losses: Sequence[float]) -> float:
    r"""The spread of ``losses`` about their least-squares line, relative to their mean magnitude.

    .. math::

        \rho = \frac{\sqrt{\frac1n \sum_i \big(L_i - a - b\, i\big)^2}}{\big|\frac1n \sum_i L_i\big|}

    where :math:`a + b\,i` is the least-squares line through :math:`(i, L_i)`, :math:`i = 1..n`,
    :math:`n \ge 2`. Fitting the line first means a loss that falls steadily counts as steady:
    only its fluctuation about the trend is noise. :math:`\rho = 0` when the losses lie on a line,
    :math:`\rho = \infty` when they scatter about a mean of exactly 0.
    """
    y = torch.tensor(losses, dtype=torch.float64)
    x = torch.arange(len(y), dtype=torch.float64)
    x -= x.mean()
    y_centred = y - y.mean()
    residual = y_centred - (x @ y_centred) / (x @ x) * x
    spread, scale = residual.square().mean().sqrt().item(), abs(y.mean().item())
    if spread == 0.0:
        return 0.0
    return spread / scale if scale > 0.0 else math.inf


class LossAdaptiveSGD(CourseOptimizer):
    r"""SGD with heavy-ball momentum that is high while the loss is steady and low while it is
    noisy or oscillating: momentum accelerates along a consistent direction but amplifies
    oscillations, so it is turned down when the loss starts to bounce.

    At step :math:`t`, with the loss :math:`L_t` (given as ``step(closure)`` or
    ``step(loss=...)``) and gradient :math:`g_t = \nabla f(\theta_{t-1}) + \lambda\theta_{t-1}`
    (weight decay :math:`\lambda`; the gradient is negated when ``maximize``):

    .. math::

        \rho_t = \frac{\sqrt{\frac1n \sum_{i=1}^{n} r_i^2}}{\big|\frac1n \sum_{i=1}^{n} L_{t-n+i}\big|},
        \qquad
        \mu_t = \mu_{\min} + (\mu_{\max} - \mu_{\min})\, \frac{\tau}{\tau + \rho_t}

        b_1 = g_1, \qquad b_t = \mu_t\, b_{t-1} + g_t, \qquad \theta_t = \theta_{t-1} - \eta\, b_t

    where :math:`r_i` are the residuals of the least-squares line through the last :math:`n`
    losses (:func:`relative_loss_noise`: a steady fall is not noise), :math:`n` is ``window``,
    :math:`\tau` ``tolerance`` (the relative noise at which :math:`\mu_t` is halfway between its
    bounds) and :math:`\eta` ``lr``. Until :math:`n` losses have been seen,
    :math:`\mu_t = \mu_{\min}`. Steady losses (:math:`\rho_t \to 0`) give :math:`\mu_{\max}`,
    wildly scattered ones (:math:`\rho_t \gg \tau`) nearly :math:`\mu_{\min}`; with
    :math:`\mu_{\min} = \mu_{\max} = \mu` this is ``SGD(lr, momentum=mu)`` exactly. The buffer
    accumulates gradients, not steps (PyTorch's form), so a changed ``lr`` applies at once.
    Each group's current :math:`\mu_t` is in ``group["momentum"]``, its window of losses in
    ``group["recent_losses"]``.

    Defaults: ``lr=1e-3, momentum_min=0.5, momentum_max=0.95, window=20, tolerance=0.1,
    weight_decay=0, maximize=False``.

    Example::

        opt = LossAdaptiveSGD(model.parameters(), lr=0.05)
        loss = loss_fn(model(x), y); loss.backward()
        opt.step(loss=loss); opt.zero_grad()
    """

    def __init__(self, params, lr=1e-3, momentum_min=0.5, momentum_max=0.95, window=20, tolerance=0.1,
                 weight_decay=0.0, *, maximize=False):
        defaults = dict(lr=lr, momentum_min=momentum_min, momentum_max=momentum_max, window=window,
                        tolerance=tolerance, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def add_param_group(self, param_group):
        if "momentum" in param_group:
            raise ValueError(f"Invalid momentum: {param_group['momentum']!r} (LossAdaptiveSGD sets it "
                             f"from the losses; give momentum_min and momentum_max instead)")
        super().add_param_group(param_group)
        self.param_groups[-1].update(momentum=self.param_groups[-1]["momentum_min"], recent_losses=[])

    def _check_group(self, group):
        check_non_negative("lr", group["lr"])
        check_in_unit_interval("momentum_min", group["momentum_min"])
        check_in_unit_interval("momentum_max", group["momentum_max"])
        if group["momentum_min"] > group["momentum_max"]:
            raise ValueError(f"Invalid momentum_min: {group['momentum_min']!r} (must not exceed "
                             f"momentum_max={group['momentum_max']!r})")
        window = group["window"]
        if isinstance(window, bool) or not isinstance(window, int) or window < 2:
            raise ValueError(f"Invalid window: {window!r} (must be an integer >= 2)")
        check_positive("tolerance", group["tolerance"])
        check_non_negative("weight_decay", group["weight_decay"])
        check_bool("maximize", group["maximize"])

    @staticmethod
    def _loss_value(loss) -> float:
        if loss is None:
            raise ValueError("Invalid loss: None (LossAdaptiveSGD needs the loss at every step: "
                             "call step(closure) or step(loss=...))")
        value = _as_float("loss", loss)
        if not math.isfinite(value):
            raise ValueError(f"Invalid loss: {value!r} (must be finite)")
        return value

    @torch.no_grad()
    def step(self, closure=None, *, loss=None):
        if closure is not None and loss is not None:
            raise ValueError("Invalid loss: give the loss through closure or loss=, not both")
        if closure is not None:
            loss = self._evaluate(closure)
        # A float, not the tensor: keeping the tensor would keep its whole autograd graph alive.
        value = self._loss_value(loss)
        for group in self.param_groups:
            lr, wd = float(group["lr"]), float(group["weight_decay"])
            losses = group["recent_losses"]
            losses.append(value)
            del losses[:-group["window"]]
            mu_min, mu_max = group["momentum_min"], group["momentum_max"]
            if len(losses) < group["window"]:
                mu = mu_min
            else:
                tau = group["tolerance"]
                # min: rounding would otherwise let a perfectly steady loss overshoot momentum_max
                mu = min(mu_max, mu_min + (mu_max - mu_min) * tau / (tau + relative_loss_noise(losses)))
            group["momentum"] = mu
            for p, g in self._descent_gradients(group, l2=wd):
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = g.clone()
                else:
                    buf.mul_(mu).add_(g)
                p.add_(buf, alpha=-lr)
        return loss
