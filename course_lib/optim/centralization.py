"""Gradient centralization: weight gradients with zero mean over each output unit's inputs."""

from __future__ import annotations

import torch

from .lookahead import OptimizerWrapper


def centralize_gradient_(grad: torch.Tensor) -> torch.Tensor:
    r"""Subtract from ``grad``, in place, its mean over all dimensions but the first, and return it.

    For a weight of shape ``(out, in, ...)`` (linear layers, convolution kernels) each output
    unit's gradient :math:`g_i` becomes :math:`g_i - \operatorname{mean}(g_i)`. A tensor of one
    dimension or none (biases, scales) is left as it is: its fan-in is a single number.
    """
    if grad.dim() > 1:
        grad.sub_(grad.mean(dim=tuple(range(1, grad.dim())), keepdim=True))
    return grad


class GradientCentralization(OptimizerWrapper):
    r"""Gradient centralization (Yong, Huang, Hua & Zhang 2020, "Gradient Centralization: A New
    Optimization Technique for Deep Neural Networks", ECCV) around any base optimizer.

    Before the base optimizer's step, the gradient of every parameter with more than one
    dimension is centred over its fan-in (all dimensions but the first; see
    :func:`centralize_gradient_`):

    .. math::

        \Phi_{GC}(g)_{i,\cdot} = g_{i,\cdot} - \frac{1}{M} \sum_{j=1}^{M} g_{i,j}

    where row :math:`i` gathers the :math:`M` weights feeding output unit :math:`i`. This projects
    each row of the gradient onto the hyperplane orthogonal to :math:`(1, \dots, 1)`: under plain
    SGD every row keeps its initial mean, a constraint on the weights that the paper shows smooths
    the loss landscape. Parameters with one dimension (biases) are left alone. With a closure, the
    gradients are centralized after every evaluation, so base optimizers that evaluate it several
    times (L-BFGS) see them centralized too. Only the loss's gradient is centralized: the authors'
    SGD code centralizes the whole update direction, so the two differ when the base optimizer
    adds weight decay to the gradient (momentum being linear, centralizing the buffer is the same
    as accumulating centralized gradients).

    No hyperparameters.

    Example::

        opt = GradientCentralization(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
        loss_fn(model(x), y).backward()
        opt.step(); opt.zero_grad()
    """

    @torch.no_grad()
    def _centralize(self) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    centralize_gradient_(p.grad)

    @torch.no_grad()
    def step(self, closure=None):
        if closure is None:
            self._centralize()
            return self.base_optimizer.step()

        def centralized_closure():
            loss = closure()
            self._centralize()
            return loss

        return self.base_optimizer.step(centralized_closure)
