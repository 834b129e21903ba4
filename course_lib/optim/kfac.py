"""K-FAC: a natural-gradient optimizer whose per-layer Fisher blocks are Kronecker products."""

from __future__ import annotations

import math

import torch
from torch import nn

from ._base import CourseOptimizer, check_bool, check_in_unit_interval, check_non_negative, check_positive


class KFAC(CourseOptimizer):
    r"""K-FAC (Martens & Grosse 2015, "Optimizing Neural Networks with Kronecker-factored
    Approximate Curvature", ICML) for the ``nn.Linear`` layers of a model, with block-diagonal
    blocks, running averages of the factors and factored Tikhonov damping; no momentum and no
    automatic adjustment of the damping or the step size that the paper also describes.

    For a layer :math:`s = W a` (the bias is the last column of :math:`W` and :math:`a` ends with
    a 1), with :math:`a_i` the layer's input and :math:`g_i = \partial \ell_i / \partial s_i` the
    gradient of sample :math:`i`'s loss with respect to the layer's output (its pre-activation):

    .. math::

        \hat A = \frac1N \sum_i a_i a_i^\top, \qquad \hat G = \frac1N \sum_i g_i g_i^\top, \qquad
        A \leftarrow \beta A + (1 - \beta)\hat A, \quad G \leftarrow \beta G + (1 - \beta)\hat G

        \pi = \sqrt{\frac{\operatorname{tr}(A) / \dim A}{\operatorname{tr}(G) / \dim G}}, \qquad
        W \leftarrow W - \eta\, (G + \tfrac{\sqrt\lambda}{\pi} I)^{-1}\, \nabla_W f\,
        (A + \pi\sqrt\lambda\, I)^{-1}

    with :math:`\eta` ``lr``, :math:`\lambda` ``damping`` and :math:`\beta` ``stat_decay`` (the
    first estimate initialises the averages). The Fisher block of the layer is approximated by
    :math:`\mathbb E[a a^\top] \otimes \mathbb E[g g^\top]` for column-major
    :math:`\operatorname{vec}(W)`, which is :math:`G \otimes A` for PyTorch's row-major flattening
    ``W.flatten()``; the inverse of a Kronecker product is the Kronecker product of the inverses,
    hence the two small solves. Weight decay :math:`\mu` is coupled: :math:`\nabla_W f + \mu W` is
    preconditioned. Parameters of the model outside ``nn.Linear`` layers take plain gradient steps
    :math:`-\eta\,\nabla f`.

    **Which Fisher.** The optimizer registers a forward hook on every ``nn.Linear`` of ``model``
    that keeps the layer's input and output of the latest forward pass with gradients enabled.
    :meth:`update_curvature` takes a scalar ``fisher_loss``, the *sum* over the batch of the
    per-sample losses, differentiates it with respect to the stored outputs and updates
    :math:`A, G`. The true Fisher (as in the paper) uses targets *sampled from the model's
    predictive distribution*, e.g. ``y_s = out.detach() + torch.randn_like(out)`` for a
    unit-variance Gaussian (mean-squared error); passing the loss on the real targets gives the
    empirical Fisher instead. For a single layer with squared error, the exact Fisher has
    :math:`G = \mathbb E[g g^\top] = I` (the sampled estimate is close to it, and equal to it for
    one output with targets ``out + z``, :math:`z = \pm 1`), and then :math:`A \otimes G` is the
    Gauss-Newton matrix, which is the Hessian of linear least squares.
    Call :meth:`remove_hooks` when done.

    Defaults: ``lr=0.1, damping=1e-2, stat_decay=0.95, weight_decay=0, maximize=False``.

    Example::

        opt = KFAC(model, lr=0.1, damping=1e-2)
        out = model(x)
        opt.update_curvature(0.5 * ((out - (out.detach() + torch.randn_like(out))) ** 2).sum())
        loss = ((out - y) ** 2).mean()
        opt.zero_grad(); loss.backward(); opt.step()
    """

    def __init__(self, model: nn.Module, lr=0.1, damping=1e-2, stat_decay=0.95, weight_decay=0.0, *,
                 maximize=False):
        if not isinstance(model, nn.Module):
            raise ValueError(f"Invalid model: {type(model).__name__} (must be a torch.nn.Module)")
        self._layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
        if not self._layers:
            raise ValueError("Invalid model: it has no nn.Linear layer for K-FAC to precondition")
        defaults = dict(lr=lr, damping=damping, stat_decay=stat_decay, weight_decay=weight_decay,
                        maximize=maximize)
        super().__init__(model.parameters(), defaults)
        self._captured: dict[nn.Linear, tuple[torch.Tensor, torch.Tensor]] = {}
        self._handles = [m.register_forward_hook(self._forward_hook) for m in self._layers]

    def _check_group(self, group):
        check_non_negative("lr", group["lr"])
        check_non_negative("damping", group["damping"])
        check_in_unit_interval("stat_decay", group["stat_decay"])
        check_non_negative("weight_decay", group["weight_decay"])
        check_bool("maximize", group["maximize"])

    def _forward_hook(self, module, inputs, output):
        # without gradients there is nothing to differentiate later (evaluation passes)
        if torch.is_grad_enabled():
            self._captured[module] = (inputs[0].detach(), output)

    def remove_hooks(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def update_curvature(self, fisher_loss: torch.Tensor) -> None:
        """Update the running averages of the factors A and G of every ``nn.Linear`` layer from the
        latest forward pass. ``fisher_loss`` is the sum over samples of the per-sample losses,
        on sampled targets (true Fisher) or on the data's targets (empirical Fisher)."""
        missing = [m for m in self._layers if m not in self._captured]
        if missing:
            raise RuntimeError("update_curvature needs a forward pass of the model with gradients enabled")
        outputs = [self._captured[m][1] for m in self._layers]
        grads = torch.autograd.grad(fisher_loss, outputs, retain_graph=True)
        with torch.no_grad():
            for m, gs in zip(self._layers, grads):
                a = self._captured[m][0].reshape(-1, m.in_features)
                if m.bias is not None:
                    a = torch.cat([a, torch.ones_like(a[:, :1])], dim=1)
                gs = gs.reshape(-1, m.out_features)
                A_hat, G_hat = a.T @ a / a.shape[0], gs.T @ gs / gs.shape[0]
                state = self.state[m.weight]
                if "A" not in state:
                    state["A"], state["G"], state["curvature_updates"] = A_hat, G_hat, 0
                else:
                    beta = float(self._group_of(m.weight)["stat_decay"])
                    state["A"].lerp_(A_hat, 1 - beta)
                    state["G"].lerp_(G_hat, 1 - beta)
                state["curvature_updates"] += 1

    def _group_of(self, p):
        return next(g for g in self.param_groups if any(q is p for q in g["params"]))

    @staticmethod
    def _damped_inverse_apply(A, G, grad, damping):
        eye_a = torch.eye(A.shape[0], dtype=A.dtype, device=A.device)
        eye_g = torch.eye(G.shape[0], dtype=G.dtype, device=G.device)
        if damping > 0:
            # pi balances the damping between the factors by their average eigenvalues, as in the paper
            tr_a, tr_g = float(torch.trace(A)) / A.shape[0], float(torch.trace(G)) / G.shape[0]
            pi = math.sqrt(tr_a / tr_g) if tr_a > 0 and tr_g > 0 else 1.0
            A = A + pi * math.sqrt(damping) * eye_a
            G = G + math.sqrt(damping) / pi * eye_g
        left = torch.linalg.solve(G, grad)                 # G^{-1} grad
        return torch.linalg.solve(A, left.T).T             # ... A^{-1}; A is symmetric

    @torch.no_grad()
    def step(self, closure=None):
        loss = self._evaluate(closure)
        done = set()  # ids: tensors compare by value, so a set of tensors would misbehave
        for m in self._layers:
            w, b = m.weight, m.bias
            group = self._group_of(w)
            if w.grad is None:
                continue
            state = self.state[w]
            if "A" not in state:
                raise RuntimeError("KFAC.step needs the factors: call update_curvature first")
            sign = -1.0 if group["maximize"] else 1.0
            gw = sign * w.grad + group["weight_decay"] * w
            grad = gw if b is None else torch.cat([gw, (sign * b.grad + group["weight_decay"] * b)[:, None]
                                                    if b.grad is not None else torch.zeros_like(b)[:, None]], dim=1)
            nat = self._damped_inverse_apply(state["A"], state["G"], grad, float(group["damping"]))
            state["step"] = state.get("step", 0) + 1
            w.add_(nat[:, : m.in_features], alpha=-float(group["lr"]))
            done.add(id(w))
            if b is not None:
                if b.grad is not None:
                    b.add_(nat[:, -1], alpha=-float(group["lr"]))
                done.add(id(b))
        for group in self.param_groups:
            for p in group["params"]:
                if id(p) in done or p.grad is None:
                    continue
                g = -p.grad if group["maximize"] else p.grad
                p.add_(g + group["weight_decay"] * p, alpha=-float(group["lr"]))
        return loss
