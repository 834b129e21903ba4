r"""Gradient flow through depth: initialisation scales, a deep MLP to experiment with, and a monitor
of per-layer gradient norms (Chapter 8).

In a network :math:`h_\ell = \phi(W_\ell h_{\ell-1})`, the gradient reaching layer :math:`\ell` is a
product of Jacobians,

.. math::  \frac{\partial L}{\partial h_\ell} = J_{\ell+1}^\top \cdots J_{D}^\top
           \frac{\partial L}{\partial h_D}, \qquad J_k = \operatorname{diag}(\phi'(W_k h_{k-1}))\, W_k,

so its norm changes by a factor per layer; below 1 it vanishes geometrically with depth, above 1
it explodes. Initialisation sets that factor at the start of training:

* :func:`xavier_std` -- Glorot and Bengio's :math:`\sigma = g\sqrt{2/(n_\text{in} + n_\text{out})}`;
* :func:`he_std` -- He et al.'s :math:`\sigma = g/\sqrt{n_\text{in}}`, with :math:`g = \sqrt 2` for
  ReLU;
* :func:`activation_gain` -- the gain :math:`g` recommended per activation (the values of
  ``torch.nn.init.calculate_gain``).

:func:`deep_mlp` builds the networks of the experiments (activation, initialisation, residual
connections, LayerNorm/BatchNorm); :func:`layer_gradient_norms` returns the norm of each linear
layer's weight gradient after one backward pass, :func:`preactivation_gradient_norms` (with hooks)
the norm of the gradient with respect to each linear layer's output, and :class:`GradientNormMonitor` records them over
the steps of a training run and reports or plots them.

Example::

    model = deep_mlp(depth=30, width=64, activation="relu", init="he", seed=0)
    norms = layer_gradient_norms(model, x, y)          # one value per Linear layer, input first
    monitor = GradientNormMonitor(model)
    for step in range(100):
        opt.zero_grad(); loss_fn(model(x), y).backward()
        monitor.record()                               # after backward, before clipping
        opt.step()
    print(monitor.report())
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from .checks import as_float, check_non_negative, check_positive

__all__ = [
    "activation_gain", "xavier_std", "he_std", "DeepMLP", "deep_mlp", "layer_gradient_norms",
    "preactivation_gradient_norms", "GradientNormMonitor", "ACTIVATIONS",
]

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "linear": nn.Identity, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU,
}
_INITS = ("xavier", "he", "pytorch")
_NORMS = (None, "layer", "batch")


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"Invalid {name}: {value!r} (must be an integer >= {minimum})")
    return value


def _check_activation(activation) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(f"Invalid activation: {activation!r} (must be one of {sorted(ACTIVATIONS)})")
    return activation


def activation_gain(activation: str) -> float:
    r"""The recommended gain :math:`g` for an activation: 1 for ``"linear"`` and ``"sigmoid"``,
    :math:`5/3` for ``"tanh"``, :math:`\sqrt 2` for ``"relu"``.

    For ReLU, :math:`\mathbb E[\mathrm{relu}(z)^2] = \tfrac12\mathbb E[z^2]` for symmetric
    :math:`z`, so weights of variance :math:`g^2/n = 2/n` keep the second moment of the
    pre-activations constant from layer to layer. The tanh and sigmoid values are PyTorch's
    conventions (``torch.nn.init.calculate_gain``), not derived from a fixed point.
    """
    _check_activation(activation)
    return {"linear": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3.0, "relu": math.sqrt(2.0)}[activation]


def xavier_std(fan_in, fan_out, gain=1.0) -> float:
    r"""Glorot and Bengio's standard deviation :math:`\sigma = g\,\sqrt{2/(n_\text{in} + n_\text{out})}`.

    It is the compromise between :math:`\mathrm{Var}(W) = 1/n_\text{in}`, which keeps the forward
    activations' variance, and :math:`1/n_\text{out}`, which keeps the backward gradients' variance,
    for an activation with derivative 1 at 0 (tanh, the identity). Same value as
    ``torch.nn.init.xavier_normal_(w, gain)`` uses.
    """
    n_in = _check_int("fan_in", fan_in, 1)
    n_out = _check_int("fan_out", fan_out, 1)
    g = as_float("gain", gain)
    check_non_negative("gain", g)
    return g * math.sqrt(2.0 / (n_in + n_out))


def he_std(fan_in, gain=math.sqrt(2.0)) -> float:
    r"""He et al.'s standard deviation :math:`\sigma = g/\sqrt{n_\text{in}}`, by default with
    :math:`g = \sqrt 2` (ReLU): :math:`\sigma = \sqrt{2/n_\text{in}}`.

    Same value as ``torch.nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu")`` uses.
    """
    n_in = _check_int("fan_in", fan_in, 1)
    g = as_float("gain", gain)
    check_non_negative("gain", g)
    return g / math.sqrt(n_in)


class DeepMLP(nn.Module):
    r"""An input layer, ``depth`` hidden blocks of width ``width``, and an output layer; the input
    and output layers are linear (no activation).

    A hidden block computes :math:`b(h) = \phi(N(W h + c))`, with :math:`N` a normalization layer
    (or the identity) and :math:`\phi` the activation; the network applies
    :math:`h \leftarrow b(h)` or, with residual connections, :math:`h \leftarrow h + s\,b(h)`.
    ``linears`` lists every ``nn.Linear`` in forward order (input layer first, output layer last):
    these are the layers whose gradients :func:`layer_gradient_norms` reports.
    """

    def __init__(self, inp: nn.Module, blocks: nn.ModuleList, out: nn.Module, residual: bool,
                 residual_scale: float):
        super().__init__()
        self.inp, self.blocks, self.out = inp, blocks, out
        self.residual, self.residual_scale = residual, residual_scale

    @property
    def linears(self) -> list[nn.Linear]:
        return [m for m in self.modules() if isinstance(m, nn.Linear)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x)
        for block in self.blocks:
            h = h + self.residual_scale * block(h) if self.residual else block(h)
        return self.out(h)


def deep_mlp(depth, width, in_features=None, out_features=1, *, activation: str = "relu",
             init: str = "he", gain=None, residual: bool = False, residual_scale=1.0,
             norm: str | None = None, seed: int = 0, device=None,
             dtype: torch.dtype = torch.float32) -> DeepMLP:
    r"""A deep MLP for gradient-flow experiments (see :class:`DeepMLP`).

    ``init`` sets every ``nn.Linear`` weight to :math:`\mathcal N(0, \sigma^2)` and its bias to 0,
    with :math:`\sigma` = :func:`xavier_std` (``"xavier"``, default gain 1) or :func:`he_std`
    (``"he"``, default gain :func:`activation_gain` of ``activation``); ``gain`` overrides the
    default. ``"pytorch"`` keeps ``nn.Linear``'s own default (uniform, :math:`\sigma =
    1/\sqrt{3 n_\text{in}}`) and accepts no gain. The input layer is ``in_features -> width``
    (``in_features`` defaults to ``width``), the output layer ``width -> out_features``; both
    are initialised like the hidden ones. ``norm`` is ``None``, ``"layer"`` (``nn.LayerNorm``) or
    ``"batch"`` (``nn.BatchNorm1d``). Weights are drawn on the CPU from a generator seeded with
    ``seed`` and then moved to ``device`` and ``dtype``, so every device gets the same network.
    """
    depth = _check_int("depth", depth, 0)
    width = _check_int("width", width, 1)
    in_features = width if in_features is None else _check_int("in_features", in_features, 1)
    out_features = _check_int("out_features", out_features, 1)
    _check_activation(activation)
    if init not in _INITS:
        raise ValueError(f"Invalid init: {init!r} (must be one of {list(_INITS)})")
    if norm not in _NORMS:
        raise ValueError(f"Invalid norm: {norm!r} (must be one of {list(_NORMS)})")
    if not isinstance(residual, bool):
        raise ValueError(f"Invalid residual: {residual!r} (must be True or False)")
    scale = as_float("residual_scale", residual_scale)
    check_positive("residual_scale", scale)
    if gain is not None:
        if init == "pytorch":
            raise ValueError(f"Invalid gain: {gain!r} (init='pytorch' takes no gain)")
        check_non_negative("gain", gain)
        gain = as_float("gain", gain)
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"Invalid dtype: {dtype!r} (must be a floating torch.dtype)")

    gen = torch.Generator().manual_seed(int(seed))

    def linear(n_in: int, n_out: int) -> nn.Linear:
        layer = nn.Linear(n_in, n_out, dtype=torch.float64)
        with torch.no_grad():
            if init == "pytorch":
                bound = 1.0 / math.sqrt(n_in)
                layer.weight.uniform_(-bound, bound, generator=gen)
                layer.bias.uniform_(-bound, bound, generator=gen)
            else:
                if init == "xavier":
                    std = xavier_std(n_in, n_out, 1.0 if gain is None else gain)
                else:
                    std = he_std(n_in, activation_gain(activation) if gain is None else gain)
                layer.weight.normal_(0.0, std, generator=gen)
                layer.bias.zero_()
        return layer

    def block() -> nn.Sequential:
        parts: list[nn.Module] = [linear(width, width)]
        if norm == "layer":
            parts.append(nn.LayerNorm(width, dtype=torch.float64))
        elif norm == "batch":
            parts.append(nn.BatchNorm1d(width, dtype=torch.float64))
        parts.append(ACTIVATIONS[activation]())
        return nn.Sequential(*parts)

    inp = linear(in_features, width)
    blocks = nn.ModuleList(block() for _ in range(depth))
    out = linear(width, out_features)
    model = DeepMLP(inp, blocks, out, residual, scale)
    return model.to(device=device, dtype=dtype)


def _linear_layers(model: nn.Module) -> list[tuple[str, nn.Linear]]:
    layers = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not layers:
        raise ValueError(f"Invalid model: {type(model).__name__} has no nn.Linear layer")
    return layers


def _weight_grad_norms(layers) -> torch.Tensor:
    norms = []
    for name, m in layers:
        if m.weight.grad is None:
            raise ValueError(f"Invalid model: layer {name!r} has no gradient (call backward first)")
        norms.append(torch.linalg.vector_norm(m.weight.grad.detach()).to("cpu", torch.float64))
    return torch.stack(norms)


def layer_gradient_norms(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                         loss_fn: Callable = nn.functional.mse_loss) -> torch.Tensor:
    r"""The Frobenius norm :math:`\lVert \partial L/\partial W_\ell \rVert_F` of every ``nn.Linear``
    weight gradient, in forward order, after one forward and backward pass of
    ``loss_fn(model(inputs), targets)``.

    Existing gradients are cleared first and the new ones are left in ``.grad``. Returns a float64
    CPU tensor of shape ``(number of linear layers,)``.
    """
    layers = _linear_layers(model)
    model.zero_grad(set_to_none=True)
    loss_fn(model(inputs), targets).backward()
    return _weight_grad_norms(layers)


def preactivation_gradient_norms(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                                 loss_fn: Callable = nn.functional.mse_loss) -> torch.Tensor:
    r"""The norm :math:`\lVert \partial L/\partial z_\ell \rVert` of the gradient with respect to the
    output :math:`z_\ell = W_\ell h_{\ell-1} + c_\ell` of every ``nn.Linear`` layer, in forward order.

    This is the backward signal itself, the product of Jacobians of the module docstring applied to
    :math:`\partial L/\partial z_D`; the weight gradient is its outer product with the layer's input,
    :math:`\partial L/\partial W_\ell = \sum_{\text{samples}} (\partial L/\partial z_\ell)\,
    h_{\ell-1}^\top`. Collected with forward hooks that register a tensor hook on each output; the
    hooks are removed before returning, and the parameters' ``.grad`` are left as the backward pass
    set them. Returns a float64 CPU tensor of shape ``(number of linear layers,)``.
    """
    layers = _linear_layers(model)
    found: dict[int, torch.Tensor] = {}
    handles = []

    def watch(i):
        def forward_hook(module, args, output):
            def grad_hook(grad):
                found[i] = torch.linalg.vector_norm(grad.detach()).to("cpu", torch.float64)
            output.register_hook(grad_hook)
        return forward_hook

    try:
        for i, (_, m) in enumerate(layers):
            handles.append(m.register_forward_hook(watch(i)))
        model.zero_grad(set_to_none=True)
        loss_fn(model(inputs), targets).backward()
    finally:
        for h in handles:
            h.remove()
    missing = [layers[i][0] for i in range(len(layers)) if i not in found]
    if missing:
        raise ValueError(f"Invalid model: layers {missing} received no gradient")
    return torch.stack([found[i] for i in range(len(layers))])


class GradientNormMonitor:
    r"""Records the per-layer weight-gradient norms of a model at each training step.

    Call :meth:`record` after ``loss.backward()`` (and before clipping, to see the raw
    gradients). ``history`` is a ``(steps, layers)`` float64 tensor, ``names`` the layers' names.
    :meth:`report` summarises the run in text; :meth:`plot` draws the norms of chosen layers over
    the steps on a log scale.
    """

    def __init__(self, model: nn.Module):
        if not isinstance(model, nn.Module):
            raise ValueError(f"Invalid model: expected a torch.nn.Module, got {type(model).__name__}")
        self._layers = _linear_layers(model)
        self.names = [name for name, _ in self._layers]
        self._rows: list[torch.Tensor] = []

    def record(self) -> torch.Tensor:
        """Append and return the current per-layer gradient norms."""
        row = _weight_grad_norms(self._layers)
        self._rows.append(row)
        return row

    @property
    def history(self) -> torch.Tensor:
        if not self._rows:
            return torch.empty(0, len(self.names), dtype=torch.float64)
        return torch.stack(self._rows)

    def report(self, vanish_below=1e-6, explode_above=1e2) -> str:
        r"""A text summary: steps recorded, first and last layer's norm at the first and last step,
        the ratio first/last layer (how much the gradient shrinks towards the input), and the
        number of steps in which some layer's norm was below ``vanish_below`` or above
        ``explode_above`` (or not finite)."""
        lo, hi = as_float("vanish_below", vanish_below), as_float("explode_above", explode_above)
        check_positive("vanish_below", lo)
        check_positive("explode_above", hi)
        h = self.history
        if len(h) == 0:
            return "no steps recorded"
        bad_hi = ((h > hi) | ~torch.isfinite(h)).any(dim=1)
        bad_lo = (h < lo).any(dim=1)
        lines = [f"{len(h)} steps, {len(self.names)} layers",
                 f"step 1: first layer {float(h[0, 0]):.2e}, last layer {float(h[0, -1]):.2e}, "
                 f"ratio first/last {float(h[0, 0] / h[0, -1]):.2e}",
                 f"step {len(h)}: first layer {float(h[-1, 0]):.2e}, last layer {float(h[-1, -1]):.2e}, "
                 f"ratio first/last {float(h[-1, 0] / h[-1, -1]):.2e}",
                 f"steps with a norm < {lo:.0e}: {int(bad_lo.sum())}; "
                 f"with a norm > {hi:.0e} or not finite: {int(bad_hi.sum())}"]
        return "\n".join(lines)

    def plot(self, ax, layers=None, **kwargs):
        """Plot the norm of each chosen layer (indices, default: first, middle, last) over the steps
        on a log scale, on the Matplotlib Axes ``ax``; returns the lines."""
        h = self.history
        n = len(self.names)
        if layers is None:
            layers = sorted({0, n // 2, n - 1})
        lines = []
        for i in layers:
            if not (isinstance(i, int) and -n <= i < n):
                raise ValueError(f"Invalid layers: {i!r} (must be layer indices in [{-n}, {n}))")
            (line,) = ax.semilogy(range(1, len(h) + 1), h[:, i].numpy(),
                                  label=f"layer {i % n} ({self.names[i]})", **kwargs)
            lines.append(line)
        ax.set(xlabel="step", ylabel="‖∂L/∂W‖ (Frobenius)")
        return lines
