"""Sophia: momentum divided by a running diagonal-Hessian estimate, clipped coordinate by coordinate."""

from __future__ import annotations

import torch

from ._base import CourseOptimizer, check_betas, check_bool, check_non_negative, check_positive


class Sophia(CourseOptimizer):
    r"""Sophia (Liu, Li, Hall, Liang & Ma 2024, "Sophia: A Scalable Stochastic Second-order
    Optimizer for Language Model Pre-training", ICLR), with Hutchinson's estimate of the Hessian's
    diagonal (the paper's Sophia-H).

    With gradient :math:`g_t = \nabla f(\theta_{t-1})` (negated when ``maximize``):

    .. math::

        m_t = \beta_1 m_{t-1} + (1 - \beta_1)\, g_t

        h_t = \beta_2 h_{t-k} + (1 - \beta_2)\, \hat h_t \quad \text{after a call of
        } \texttt{update\_hessian}, \qquad h_t = h_{t-1} \ \text{otherwise}

        \theta_{t-1} \leftarrow (1 - \eta\lambda)\, \theta_{t-1}

        \theta_t = \theta_{t-1} - \eta\, \operatorname{clip}\!\Big(\frac{m_t}{\max(\gamma h_t, \epsilon)}, 1\Big)

    where :math:`\operatorname{clip}(z, 1) = \max(\min(z, 1), -1)` coordinate by coordinate,
    :math:`\eta` is ``lr``, :math:`\lambda` the decoupled ``weight_decay``, :math:`\gamma`
    ``gamma`` and :math:`m_0 = h_0 = 0`. The clipping bounds every coordinate's move by
    :math:`\eta` (plus the decay): where the curvature estimate is tiny or negative, the step falls
    back to :math:`\eta\, \operatorname{sign}(m_t)`, so a wrong curvature cannot throw the iterate
    far. Before the first Hessian estimate, :math:`h = 0` and every step is such a sign step.

    :meth:`update_hessian` computes :math:`\hat h = z \odot \nabla^2 f\, z` for a Rademacher vector
    :math:`z` (entries :math:`\pm 1`; unbiased, :math:`\mathbb E[\hat h] = \operatorname{diag}
    \nabla^2 f`) from gradients that carry their graph, and averages it into :math:`h`. The caller
    decides how often (the paper's :math:`k`, about 10)::

        loss = loss_fn(model(x), y)
        if t % k == 0:
            opt.update_hessian(loss)   # gradients with their graph, one Hessian-vector product;
        else:                          # also fills .grad
            loss.backward()
        opt.step(); opt.zero_grad()

    Defaults: ``lr=1e-4, betas=(0.965, 0.99), gamma=0.01, eps=1e-12, weight_decay=0.1,
    maximize=False``. ``lr``, ``betas`` and ``weight_decay`` are the defaults of the authors'
    released SophiaG code, whose ``rho=0.04`` multiplies the batch size in the denominator and so is
    not this ``gamma``; ``gamma=0.01`` and ``eps=1e-12`` follow the paper's setting for Sophia-H
    (the paper also uses :math:`k = 10`).

    Example::

        opt = Sophia(model.parameters(), lr=1e-3, gamma=0.05)
        opt.update_hessian(loss_fn(model(x), y))
        opt.step(); opt.zero_grad()
    """

    def __init__(self, params, lr=1e-4, betas=(0.965, 0.99), gamma=0.01, eps=1e-12, weight_decay=0.1, *,
                 maximize=False):
        defaults = dict(lr=lr, betas=betas, gamma=gamma, eps=eps, weight_decay=weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_non_negative("lr", group["lr"])
        check_betas(group["betas"])
        check_positive("gamma", group["gamma"])
        check_positive("eps", group["eps"])
        check_non_negative("weight_decay", group["weight_decay"])
        check_bool("maximize", group["maximize"])

    def _init_state(self, p):
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["hessian_updates"] = 0
            state["exp_avg"] = torch.zeros_like(p)
            state["hessian"] = torch.zeros_like(p)
        return state

    def update_hessian(self, loss: torch.Tensor | None = None,
                       generator: torch.Generator | None = None) -> None:
        """Average one Hutchinson estimate of the Hessian's diagonal into ``h``.

        With ``loss``, the gradients are computed here with ``torch.autograd.grad(...,
        create_graph=True)`` and also added to the parameters' ``.grad`` (detached), so no separate
        ``backward`` is needed on that step. Without it, the parameters' ``.grad`` must carry their
        graph (``loss.backward(create_graph=True)``). ``generator`` (a CPU generator) draws the
        probe vectors."""
        params, grads, groups = [], [], []
        if loss is not None:
            candidates = [(p, grp) for grp in self.param_groups for p in grp["params"] if p.requires_grad]
            gs = torch.autograd.grad(loss, [p for p, _ in candidates], create_graph=True, allow_unused=True)
            for (p, group), g in zip(candidates, gs):
                if g is None:
                    continue
                p.grad = g.detach().clone() if p.grad is None else p.grad + g.detach()
                params.append(p)
                grads.append(g)
                groups.append(group)
        else:
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    if p.grad.grad_fn is None:
                        raise RuntimeError("update_hessian needs gradients with a graph: pass the loss, or "
                                           "call loss.backward(create_graph=True) first")
                    params.append(p)
                    grads.append(p.grad)
                    groups.append(group)
        probes = [(torch.randint(0, 2, p.shape, generator=generator) * 2 - 1).to(p) for p in params]
        if not params:
            return
        hz = torch.autograd.grad(grads, params, grad_outputs=probes, allow_unused=True)
        with torch.no_grad():
            for p, z, hzp, group in zip(params, probes, hz, groups):
                h_hat = torch.zeros_like(p) if hzp is None else z * hzp
                if group["maximize"]:
                    h_hat = -h_hat  # the curvature of -f, the function actually minimized
                state = self._init_state(p)
                state["hessian_updates"] += 1
                state["hessian"].lerp_(h_hat, 1 - float(group["betas"][1]))

    @torch.no_grad()
    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, wd = float(group["lr"]), group["weight_decay"]
            gamma, eps = float(group["gamma"]), float(group["eps"])
            beta1 = float(group["betas"][0])
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.detach()
                g = -g if group["maximize"] else g
                state = self._init_state(p)
                state["step"] += 1
                if wd != 0:
                    p.mul_(1 - lr * wd)
                m = state["exp_avg"]
                m.lerp_(g, 1 - beta1)
                ratio = (m / (gamma * state["hessian"]).clamp_min(eps)).clamp_(-1.0, 1.0)
                p.add_(ratio, alpha=-lr)
        return loss
