r"""Loss landscapes of small networks: slices, sharpness, Hessian spectra and mode connectivity.

A network's loss is a function :math:`L(\theta)` of its flattened parameter vector
:math:`\theta \in \mathbb R^n`. :class:`FlatLoss` turns an ``nn.Module``, a loss and a data set into
that function, evaluated with ``torch.func.functional_call``, and :meth:`FlatLoss.batched` evaluates
it at many parameter vectors at once with ``torch.func.vmap`` (in chunks, to bound memory), or, for a
plain MLP, with its layers as batched matrix products.

*Slices.* The 1-D linear interpolation of Goodfellow et al. (2015) is
:math:`L((1-\alpha)\theta_0 + \alpha\theta_1)` (:func:`interpolate`); the 2-D plots of Li et al.
(2018) show :math:`L(\theta + a\,\delta + b\,\eta)` on a grid (:func:`loss_surface_2d`) for random
directions rescaled *per filter* (:func:`filter_normalize`): every row :math:`i` of a weight matrix
gets :math:`\delta_i \leftarrow \delta_i\,\lVert\theta_i\rVert / \lVert\delta_i\rVert`, so that a
step of size 1 changes every neuron's incoming weights by their own norm, and 1-D parameters
(biases) are set to zero.

*Sharpness* is the largest eigenvalue :math:`\lambda_{\max}` of the Hessian
:math:`\nabla^2 L(\theta)`, computed from Hessian-vector products
(:func:`course_lib.second_order.hvp`) by power iteration (:func:`power_iteration`, which finds the
eigenvalue of largest *modulus*) or by Lanczos (:func:`lanczos`, :func:`top_eigenvalue`). After
:math:`m` Lanczos steps from a unit vector :math:`v`, the tridiagonal matrix :math:`T_m` with
eigenvalues :math:`\theta_k` and eigenvectors :math:`u_k` satisfies
:math:`v^\top H^p v = \sum_k \tau_k \theta_k^p` with :math:`\tau_k = (e_1^\top u_k)^2` for
:math:`p \le 2m - 1`. *Stochastic Lanczos quadrature* (:func:`slq`; Lin, Saad and Yang 2016) averages
these Gaussian quadrature rules over random probes :math:`v` into an estimate of the spectral density
:math:`\frac1n \sum_i \delta(\lambda - \lambda_i)`, broadened by a Gaussian of width :math:`\sigma`
(:func:`spectral_density`).
:func:`smoothness_along_gradient` measures how much the loss and its gradient change along a
gradient step (Santurkar et al. 2018's loss range, gradient predictiveness and effective
:math:`\beta`-smoothness).

*Mode connectivity.* A quadratic Bezier curve
:math:`\phi(t) = (1-t)^2\theta_0 + 2t(1-t)\,\omega + t^2\theta_1` (:func:`bezier_curve`) joins two
solutions; :func:`fit_bezier` trains the bend :math:`\omega` to minimise
:math:`\mathbb E_{t\sim U[0,1]} L(\phi(t))` (Garipov et al. 2018). :func:`loss_barrier` is
:math:`\max_t\, [L(\phi(t)) - ((1-t)L(\theta_0) + tL(\theta_1))]`.

Vectors keep their dtype and device; random draws use a CPU ``torch.Generator`` and are moved to the
device, so results do not depend on where they run. Invalid arguments raise ValueError naming the
parameter and the value.

Example::

    import torch
    from course_lib.loss_surface import FlatLoss, top_eigenvalue
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    X, y = torch.randn(50, 2), torch.randn(50, 1)
    f = FlatLoss(net, torch.nn.functional.mse_loss, X, y)
    sharpness = top_eigenvalue(f, f.theta0, steps=20)      # float, lambda_max of the Hessian
    grid = f.batched(f.theta0 + 0.1 * torch.randn(7, f.dim))  # 7 losses at once
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch.func import functional_call, vmap

from .checks import as_float, check_positive
from .second_order import hvp

__all__ = [
    "FlatLoss",
    "bezier_curve",
    "filter_normalize",
    "hessian_vector_product",
    "fit_bezier",
    "interpolate",
    "lanczos",
    "loss_barrier",
    "loss_surface_2d",
    "power_iteration",
    "random_direction",
    "slq",
    "smoothness_along_gradient",
    "spectral_density",
    "top_eigenvalue",
]


# Parameter-free modules that act on each entry alone: a batch dimension in front changes nothing.
_ELEMENTWISE = (torch.nn.ReLU, torch.nn.Tanh, torch.nn.Sigmoid, torch.nn.GELU, torch.nn.SiLU,
                torch.nn.LeakyReLU, torch.nn.ELU, torch.nn.Softplus, torch.nn.Identity)
# The batched MLP evaluation takes blocks of points whose widest activation fits in this many
# bytes, about a core's L2 cache (1 MiB on this course's 2-core CI machine).
_BLOCK_BYTES = 1 << 20


def _check_vector(name: str, x) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() != 1:
        raise ValueError(f"Invalid {name}: expected a 1-D floating tensor, got "
                         f"{getattr(x, 'shape', type(x).__name__)}")
    return x


def _check_count(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"Invalid {name}: {value!r} (must be an int >= {minimum})")
    return value


def _randn(shape, generator, like: torch.Tensor) -> torch.Tensor:
    # drawn on the CPU so that a seed gives the same numbers on every device
    return torch.randn(shape, generator=generator, dtype=like.dtype).to(like.device)


# --- the loss as a function of a flat vector ---------------------------------------------------

class FlatLoss:
    r"""The loss :math:`L(\theta) = \ell(\mathrm{model}(X; \theta), y)` of a flat parameter vector.

    ``model`` is an ``nn.Module`` (its parameters are not modified), ``loss_fn(output, y)`` returns a
    scalar. ``theta0`` is a detached copy of the model's current parameters, flattened in
    ``named_parameters()`` order; ``f(theta)`` evaluates the loss there, differentiably, and works
    under ``torch.func`` transforms (``grad``, ``jvp``, ``vmap``).
    """

    def __init__(self, model: torch.nn.Module, loss_fn: Callable, X: torch.Tensor, y: torch.Tensor):
        if not isinstance(model, torch.nn.Module):
            raise ValueError(f"Invalid model: expected an nn.Module, got {type(model).__name__}")
        if not callable(loss_fn):
            raise ValueError(f"Invalid loss_fn: {loss_fn!r} (must be callable)")
        named = [(k, p) for k, p in model.named_parameters()]
        if not named:
            raise ValueError(f"Invalid model: {type(model).__name__} has no parameters")
        self.model, self.loss_fn, self.X, self.y = model, loss_fn, X, y
        self.names = [k for k, _ in named]
        self.shapes = [tuple(p.shape) for _, p in named]
        self.sizes = [p.numel() for _, p in named]
        self.theta0 = torch.cat([p.detach().reshape(-1) for _, p in named]).clone()
        self.dim = self.theta0.numel()

    def unflatten(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """The parameter dict (views of ``theta``) for ``functional_call``."""
        if theta.shape[-1] != self.dim:
            raise ValueError(f"Invalid theta: last dimension {theta.shape[-1]} (must be {self.dim})")
        parts = torch.split(theta, self.sizes, dim=-1)
        return {k: p.reshape(*theta.shape[:-1], *s) for k, p, s in zip(self.names, parts, self.shapes)}

    def flatten(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """The inverse of :meth:`unflatten` for one parameter vector."""
        return torch.cat([params[k].reshape(-1) for k in self.names])

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        out = functional_call(self.model, self.unflatten(theta), (self.X,))
        return self.loss_fn(out, self.y)

    @property
    def is_plain_mlp(self) -> bool:
        """True when the model is an ``nn.Sequential`` of ``nn.Linear`` layers and parameter-free
        elementwise activations, applied to 2-D inputs: :meth:`batched` can then run its layers as
        batched matrix products directly."""
        if not (isinstance(self.model, torch.nn.Sequential) and self.X.dim() == 2
                and all(isinstance(m, (torch.nn.Linear, *_ELEMENTWISE)) for m in self.model)):
            return False
        linear = [id(m) for m in self.model if isinstance(m, torch.nn.Linear)]
        # a Linear module used twice has one set of parameters for two layers
        return len(linear) > 0 and len(set(linear)) == len(linear)

    # --- the batched forward pass of a plain MLP ---------------------------------------------
    #
    # Every parameter vector (a "point") has its own weights, so a layer is a batched matrix
    # product over points. What makes it fast on a CPU (benchmarks/landscape_2d.py measures it):
    # * activations are kept transposed, (points, units, examples), and every hidden layer carries
    #   a constant unit equal to 1 (homogeneous coordinates): the bias is then one more column of
    #   the weight matrix, [[W, b], [0, 1]], and a layer is a single bmm, with no broadcast copy
    #   of the bias;
    # * points go through in blocks whose activations fit in a core's L2 cache, and every block
    #   writes into the same preallocated buffers: a fresh megabyte-sized tensor per operation
    #   costs page faults that, on a small virtual machine, took longer than the arithmetic;
    # * cross-entropy with class-index targets takes the (points, classes, examples) outputs
    #   directly, as PyTorch's K-dimensional cross-entropy, without transposing them back.

    def _mlp_shapes(self) -> list[tuple[int, int]]:
        """(rows, columns) of each linear layer's augmented matrix: [[W, b], [0, 1]] for a hidden
        layer, [W, b] for the last."""
        layers = [m for m in self.model if isinstance(m, torch.nn.Linear)]
        return [(m.out_features + (i < len(layers) - 1), m.in_features + 1)
                for i, m in enumerate(layers)]

    def _augmented_weights(self, thetas: torch.Tensor, constant: bool = True) -> torch.Tensor:
        """The augmented matrices (:meth:`_mlp_shapes`) of each row of ``thetas``, flattened and
        concatenated: shape (points, total size). The corner entry of [[W, b], [0, c]] is
        c = 1 if ``constant`` else 0; without it the map is linear, so the weights of
        theta + a d1 + b d2 are ``aug(theta) + a aug(d1, False) + b aug(d2, False)``."""
        params, k = self.unflatten(thetas), thetas.shape[0]
        names = [name for name, m in self.model.named_children() if isinstance(m, torch.nn.Linear)]
        parts = []
        for name, (rows, cols) in zip(names, self._mlp_shapes()):
            weight = params[f"{name}.weight"]
            hidden = rows > weight.shape[-2]
            w = thetas.new_zeros(k, rows, cols)
            w[:, :weight.shape[-2], :-1] = weight
            if f"{name}.bias" in params:
                w[:, :weight.shape[-2], -1] = params[f"{name}.bias"]
            if hidden and constant:
                w[:, -1, -1] = 1.0
            parts.append(w.reshape(k, -1))
        return torch.cat(parts, dim=1)

    def _mlp_losses(self, weights_of: Callable, k: int, chunk_size: int) -> torch.Tensor:
        """Losses of ``k`` points. ``weights_of(start, stop, out)`` returns the augmented weights
        (:meth:`_augmented_weights`) of points ``start:stop``, written into ``out`` if it can."""
        X, n = self.X, self.X.shape[0]
        modules = list(self.model)
        first = next(i for i, m in enumerate(modules) if isinstance(m, torch.nn.Linear))
        x = X
        for m in modules[:first]:  # activations before the first layer act on the inputs
            x = m(x)
        x1_t = torch.cat([x, x.new_ones(n, 1)], dim=1).T.contiguous()  # (features + 1, examples)
        shapes = self._mlp_shapes()
        widest = max(rows for rows, _ in shapes)
        if X.device.type == "cpu":
            block = max(1, min(chunk_size, k, _BLOCK_BYTES // (widest * n * X.element_size())))
        else:  # an accelerator wants few large launches, not cache-sized ones
            block = min(chunk_size, k)
        weight_buffer = X.new_empty(block, sum(r * c for r, c in shapes))
        hidden_buffers = [X.new_empty(block, rows, n) for rows, _ in shapes[:-1]]
        losses = []
        for start in range(0, k, chunk_size):
            stop = min(k, start + chunk_size)
            logits = X.new_empty(stop - start, shapes[-1][0], n)
            for i in range(start, stop, block):
                j = min(stop, i + block)
                weights = weights_of(i, j, weight_buffer[:j - i])
                outs = [buf[:j - i] for buf in hidden_buffers] + [logits[i - start:j - start]]
                self._mlp_block(weights, shapes, modules[first:], x1_t, outs)
            losses.append(self._loss_of_logits(logits))
        return torch.cat(losses)

    @staticmethod
    def _mlp_block(weights: torch.Tensor, shapes, modules, x1_t: torch.Tensor, outs) -> None:
        """One block of points through the network; layer l writes its output into ``outs[l]``."""
        g, h, offset, layer = weights.shape[0], None, 0, 0
        for m in modules:
            if isinstance(m, torch.nn.Linear):
                rows, cols = shapes[layer]
                w = weights[:, offset:offset + rows * cols].view(g, rows, cols)
                # the first layer's input is the same for every point (expand: no copy)
                h = torch.bmm(w, x1_t.expand(g, cols, -1) if h is None else h, out=outs[layer])
                offset, layer = offset + rows * cols, layer + 1
            elif isinstance(m, torch.nn.ReLU):
                h.clamp_min_(0)  # in place; relu(1) = 1 keeps the constant unit
            else:
                outs[layer - 1].copy_(m(h))  # other activations: the output stays in its buffer
                if layer < len(shapes):  # a hidden layer: restore the constant unit
                    h[:, -1].fill_(1.0)

    def _loss_of_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """The loss of each point from its transposed outputs (points, classes, examples)."""
        k, n = logits.shape[0], logits.shape[2]
        # Cross-entropy of (N, C, d) inputs takes its softmax over dimension 1: no transposes.
        # Not with a negative target (ignore_index), which the mean must leave out: vmap then.
        if (self.loss_fn is torch.nn.functional.cross_entropy and self.y.dim() == 1
                and not self.y.is_floating_point() and bool((self.y >= 0).all())):
            targets = self.y.expand(k, n).contiguous()  # a contiguous target is faster to index
            return torch.nn.functional.cross_entropy(logits, targets, reduction="none").mean(dim=1)
        return vmap(lambda out: self.loss_fn(out.T, self.y))(logits)

    def batched(self, thetas: torch.Tensor, chunk_size: int = 256, method: str = "auto") -> torch.Tensor:
        """Losses at the rows of ``thetas`` (shape ``(k, n)``), ``chunk_size`` rows at a time; no
        gradient is recorded.

        ``method="vmap"``: ``torch.func.vmap`` of :meth:`__call__`, for any model.
        ``method="mlp"``: for a plain MLP (:attr:`is_plain_mlp`), each layer as one batched matrix
        product over the points, with the bias folded into the weights (see the comment above);
        the same numbers up to rounding, several times faster on a CPU.
        ``method="auto"`` (default) takes ``"mlp"`` when the model allows it, else ``"vmap"``.
        """
        if thetas.dim() != 2 or thetas.shape[1] != self.dim:
            raise ValueError(f"Invalid thetas: shape {tuple(thetas.shape)} (must be (k, {self.dim}))")
        _check_count("chunk_size", chunk_size)
        use_mlp, losses = self._use_mlp(method), []
        with torch.no_grad():
            for chunk in torch.split(thetas, chunk_size):
                if use_mlp:
                    weights = self._augmented_weights(chunk)
                    losses.append(self._mlp_losses(lambda i, j, out: weights[i:j], len(chunk),
                                                   chunk_size))
                else:
                    losses.append(vmap(self)(chunk))
        return torch.cat(losses)

    def _use_mlp(self, method: str) -> bool:
        if method not in ("auto", "vmap", "mlp"):
            raise ValueError(f"Invalid method: {method!r} (must be 'auto', 'vmap' or 'mlp')")
        if method == "mlp" and not self.is_plain_mlp:
            raise ValueError(f"Invalid method: 'mlp' needs an nn.Sequential of Linear layers and "
                             f"elementwise activations on 2-D inputs, got {type(self.model).__name__}")
        return method == "mlp" or (method == "auto" and self.is_plain_mlp)


# --- directions and slices ---------------------------------------------------------------------

def random_direction(f: FlatLoss, generator: torch.Generator | None = None) -> torch.Tensor:
    """A standard normal direction with the shape, dtype and device of ``f.theta0``."""
    return _randn(f.theta0.shape, generator, f.theta0)


def filter_normalize(f: FlatLoss, direction: torch.Tensor, theta: torch.Tensor | None = None,
                     ignore_1d: bool = True, eps: float = 1e-10) -> torch.Tensor:
    r"""Li et al.'s filter normalization of ``direction`` at ``theta`` (default ``f.theta0``).

    For a parameter with two or more dimensions, each filter (index along dimension 0: a row of a
    ``Linear`` weight, an output channel of a convolution) is rescaled to
    :math:`d_i\,\lVert\theta_i\rVert / (\lVert d_i\rVert + \varepsilon)`. One-dimensional
    parameters (biases) are set to zero when ``ignore_1d`` (Li et al.'s choice), and otherwise
    normalised as a single filter.
    """
    theta = f.theta0 if theta is None else theta
    _check_vector("direction", direction)
    _check_vector("theta", theta)
    if direction.shape != theta.shape or direction.numel() != f.dim:
        raise ValueError(f"Invalid direction: shape {tuple(direction.shape)} (must be ({f.dim},))")
    d, t = f.unflatten(direction), f.unflatten(theta)
    out = {}
    for k in f.names:
        dk, tk = d[k], t[k]
        if dk.dim() <= 1:
            if ignore_1d:
                out[k] = torch.zeros_like(dk)
            else:
                out[k] = dk * tk.norm() / (dk.norm() + eps)
            continue
        dn = dk.reshape(dk.shape[0], -1).norm(dim=1)
        tn = tk.reshape(tk.shape[0], -1).norm(dim=1)
        scale = (tn / (dn + eps)).reshape(-1, *([1] * (dk.dim() - 1)))
        out[k] = dk * scale
    return f.flatten(out)


def interpolate(theta0: torch.Tensor, theta1: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
    r"""The points :math:`(1-\alpha)\theta_0 + \alpha\theta_1`, one row per ``alphas`` entry."""
    _check_vector("theta0", theta0)
    _check_vector("theta1", theta1)
    if theta1.shape != theta0.shape:
        raise ValueError(f"Invalid theta1: shape {tuple(theta1.shape)} (must match theta0)")
    a = torch.as_tensor(alphas, dtype=theta0.dtype, device=theta0.device).reshape(-1, 1)
    return (1 - a) * theta0 + a * theta1


def loss_surface_2d(f: FlatLoss, theta: torch.Tensor, d1: torch.Tensor, d2: torch.Tensor,
                    xs: torch.Tensor, ys: torch.Tensor, chunk_size: int = 256,
                    method: str = "auto") -> torch.Tensor:
    r"""The grid :math:`Z_{ij} = L(\theta + x_j d_1 + y_i d_2)`, shape ``(len(ys), len(xs))``,
    evaluated over chunks of ``chunk_size`` grid points at once, never point by point; ``method``
    as in :meth:`FlatLoss.batched`. For a plain MLP the weights of a grid point are affine in
    :math:`(x_j, y_i)`, so those of a block of points are one small matrix product and the
    (points x parameters) matrix is never formed."""
    for name, v in (("theta", theta), ("d1", d1), ("d2", d2)):
        _check_vector(name, v)
        if v.numel() != f.dim:
            raise ValueError(f"Invalid {name}: shape {tuple(v.shape)} (must be ({f.dim},))")
    xs = torch.as_tensor(xs, dtype=theta.dtype, device=theta.device).reshape(-1)
    ys = torch.as_tensor(ys, dtype=theta.dtype, device=theta.device).reshape(-1)
    if xs.numel() == 0 or ys.numel() == 0:
        raise ValueError(f"Invalid xs/ys: sizes {xs.numel()}, {ys.numel()} (must be non-empty)")
    _check_count("chunk_size", chunk_size)
    B, A = torch.meshgrid(ys, xs, indexing="ij")
    a, b = A.reshape(-1, 1), B.reshape(-1, 1)
    if f._use_mlp(method):
        # the augmented weights are affine in (a, b): those of a block of grid points are one
        # small matrix product, never the full (points x parameters) matrix
        with torch.no_grad():
            basis = torch.cat([f._augmented_weights(theta.reshape(1, -1)),
                               f._augmented_weights(d1.reshape(1, -1), constant=False),
                               f._augmented_weights(d2.reshape(1, -1), constant=False)])
            coords = torch.cat([torch.ones_like(a), a, b], dim=1)
            Z = f._mlp_losses(lambda i, j, out: torch.mm(coords[i:j], basis, out=out),
                              coords.shape[0], chunk_size)
        return Z.reshape(len(ys), len(xs))
    out = []
    # the grid of parameter vectors is built chunk by chunk: a 51 x 51 grid of a large net
    # would not fit in memory at once
    for ac, bc in zip(torch.split(a, chunk_size), torch.split(b, chunk_size)):
        out.append(f.batched(theta + ac * d1 + bc * d2, chunk_size, method))
    return torch.cat(out).reshape(len(ys), len(xs))


# --- sharpness: power iteration and Lanczos ----------------------------------------------------

def power_iteration(matvec: Callable, v0: torch.Tensor, steps: int = 100, tol: float = 1e-8):
    r"""Power iteration :math:`v \leftarrow Hv/\lVert Hv\rVert` on a symmetric operator.

    Returns ``(eigenvalue, vector)``: the Rayleigh quotient :math:`v^\top H v` and :math:`v` after at
    most ``steps`` products, stopping when the quotient changes by less than ``tol`` relatively. It
    converges to the eigenvalue of largest *modulus*, which is :math:`\lambda_{\max}` only if
    :math:`\lambda_{\max} \ge |\lambda_{\min}|`; for a symmetric operator the vector's error shrinks
    by :math:`|\lambda_2/\lambda_1|` per step and the Rayleigh quotient's by
    :math:`(\lambda_2/\lambda_1)^2` (:math:`\lambda_2` of second largest modulus).
    """
    _check_vector("v0", v0)
    _check_count("steps", steps)
    check_positive("tol", tol)
    v = v0 / v0.norm()
    lam = float("nan")
    for _ in range(steps):
        hv = matvec(v)
        new = float(v @ hv)
        norm = hv.norm()
        if float(norm) == 0.0:
            return 0.0, v
        v = hv / norm
        if abs(new - lam) <= tol * abs(new):
            return new, v
        lam = new
    return lam, v


def lanczos(matvec: Callable, v0: torch.Tensor, steps: int):
    r"""``steps`` Lanczos steps from ``v0`` with full reorthogonalisation.

    Returns ``(alpha, beta, Q)``: the diagonal (length :math:`m`) and off-diagonal (length
    :math:`m-1`) of the tridiagonal :math:`T_m = Q^\top H Q` and the orthonormal basis ``Q`` of shape
    ``(n, m)``; :math:`m <` ``steps`` when the Krylov space is exhausted (an invariant subspace).
    Full reorthogonalisation costs :math:`O(nm)` per step and keeps ``Q`` orthonormal in floating
    point, which plain Lanczos does not.
    """
    _check_vector("v0", v0)
    _check_count("steps", steps)
    n = v0.numel()
    steps = min(steps, n)
    q = v0 / v0.norm()
    Q, alpha, beta = [q], [], []
    for j in range(steps):
        w = matvec(Q[j])
        alpha.append(float(Q[j] @ w))
        Qm = torch.stack(Q, dim=1)
        for _ in range(2):  # one Gram-Schmidt pass loses orthogonality in floating point
            w = w - Qm @ (Qm.T @ w)
        if j == steps - 1:
            break
        b = float(w.norm())
        if b <= 1e-10 * max(1.0, max(abs(a) for a in alpha)):
            break
        beta.append(b)
        Q.append(w / b)
    m = len(alpha)
    return (torch.tensor(alpha, dtype=v0.dtype, device=v0.device),
            torch.tensor(beta[:m - 1], dtype=v0.dtype, device=v0.device),
            torch.stack(Q[:m], dim=1))


def _tridiagonal(alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    return torch.diag(alpha) + torch.diag(beta, 1) + torch.diag(beta, -1)


def hessian_vector_product(f: Callable, theta: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    r""":math:`\nabla^2 f(\theta)\, v` by double backward
    (:func:`course_lib.second_order.hvp` with ``method="double_backward"``): forward-over-reverse
    fails inside ``functional_call`` for some losses (PyTorch's immutable zero tangents), two
    reverse passes work for every module."""
    return hvp(f, theta, v, method="double_backward")


def smoothness_along_gradient(f: Callable, theta: torch.Tensor, step_sizes) -> dict[str, float]:
    r"""How much the loss and its gradient change along a gradient step (Santurkar et al. 2018).

    With :math:`g = \nabla L(\theta)` and :math:`\theta_\eta = \theta - \eta g` for each step
    size :math:`\eta` in ``step_sizes``, returns

    * ``"loss_range"``: :math:`\max_\eta L(\theta_\eta) - \min_\eta L(\theta_\eta)`, the variation
      of the loss along the step;
    * ``"gradient_change"``: :math:`\max_\eta \lVert \nabla L(\theta_\eta) - g \rVert` (the
      smaller, the better the gradient at :math:`\theta` predicts the gradient after the step);
    * ``"beta"``: :math:`\max_\eta \lVert \nabla L(\theta_\eta) - g \rVert / \lVert \eta g
      \rVert`, an effective smoothness constant along the step, at most the largest absolute
      Hessian eigenvalue on the segment (equal to :math:`|\lambda|` on a quadratic when :math:`g`
      is an eigenvector with eigenvalue :math:`\lambda`).

    ``f`` must work with ``torch.func.grad`` (a :class:`FlatLoss` does).
    """
    _check_vector("theta", theta)
    etas = torch.as_tensor(step_sizes, dtype=torch.float64).reshape(-1)
    if etas.numel() == 0 or not bool(torch.all(torch.isfinite(etas) & (etas > 0))):
        raise ValueError(f"Invalid step_sizes: {step_sizes!r} (must be non-empty, finite and > 0)")
    grad = torch.func.grad(f)
    with torch.no_grad():
        g = grad(theta)
        g_norm = float(g.norm())
        if g_norm == 0.0:
            raise ValueError("Invalid theta: the gradient is zero there, so there is no step direction")
        losses, changes, betas = [], [], []
        for eta in etas.tolist():
            point = theta - eta * g
            change = float((grad(point) - g).norm())
            losses.append(float(f(point)))
            changes.append(change)
            betas.append(change / (eta * g_norm))
    return {"loss_range": max(losses) - min(losses), "gradient_change": max(changes),
            "beta": max(betas)}


def top_eigenvalue(f: Callable, theta: torch.Tensor, steps: int = 20,
                   generator: torch.Generator | None = None) -> float:
    r"""Sharpness :math:`\lambda_{\max}(\nabla^2 f(\theta))` by ``steps`` Lanczos steps on
    Hessian-vector products from a random start: the largest eigenvalue of :math:`T_m`, a lower
    bound that converges fast to :math:`\lambda_{\max}` when it is separated from the rest."""
    _check_vector("theta", theta)
    v0 = _randn(theta.shape, generator, theta)
    alpha, beta, _ = lanczos(lambda v: hessian_vector_product(f, theta, v), v0, steps)
    return float(torch.linalg.eigvalsh(_tridiagonal(alpha, beta))[-1])


def slq(matvec: Callable, dim: int, steps: int, probes: int,
        generator: torch.Generator | None = None, dtype=torch.float64, device=None):
    r"""Stochastic Lanczos quadrature: for each of ``probes`` random unit vectors (normalised
    Rademacher), ``steps`` Lanczos steps give nodes :math:`\theta_k` (eigenvalues of :math:`T_m`)
    and weights :math:`\tau_k = (e_1^\top u_k)^2` (they sum to 1).

    Returns ``(nodes, weights)``, each of shape ``(probes, m)``; the spectral density estimate is
    :math:`\frac1{\text{probes}} \sum_{\text{probes}} \sum_k \tau_k\, \delta(\lambda - \theta_k)`.
    Rows shorter than ``steps`` (early breakdown) are padded with zero weights.
    """
    _check_count("dim", dim)
    _check_count("steps", steps)
    _check_count("probes", probes)
    m = min(steps, dim)
    nodes = torch.zeros(probes, m, dtype=dtype, device=device)
    weights = torch.zeros(probes, m, dtype=dtype, device=device)
    for p in range(probes):
        z = torch.randint(0, 2, (dim,), generator=generator).to(dtype=dtype, device=device) * 2 - 1
        alpha, beta, _ = lanczos(matvec, z, m)
        theta, U = torch.linalg.eigh(_tridiagonal(alpha, beta))
        k = theta.numel()
        nodes[p, :k] = theta
        weights[p, :k] = U[0] ** 2
    return nodes, weights


def spectral_density(nodes: torch.Tensor, weights: torch.Tensor, grid: torch.Tensor,
                     sigma: float) -> torch.Tensor:
    r"""The SLQ density :math:`\frac1P\sum_{p,k} \tau_{pk}\, \mathcal N(\lambda; \theta_{pk},
    \sigma^2)` on ``grid``; it integrates to 1."""
    check_positive("sigma", sigma)
    if nodes.shape != weights.shape:
        raise ValueError(f"Invalid weights: shape {tuple(weights.shape)} (must match nodes, "
                         f"{tuple(nodes.shape)})")
    sigma = as_float("sigma", sigma)
    g = torch.as_tensor(grid, dtype=nodes.dtype, device=nodes.device).reshape(-1, 1)
    kern = torch.exp(-0.5 * ((g - nodes.reshape(1, -1)) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    return (kern * weights.reshape(1, -1)).sum(dim=1) / nodes.shape[0]


# --- mode connectivity -------------------------------------------------------------------------

def bezier_curve(theta0: torch.Tensor, bend: torch.Tensor, theta1: torch.Tensor,
                 ts: torch.Tensor) -> torch.Tensor:
    r"""Points :math:`(1-t)^2\theta_0 + 2t(1-t)\,\omega + t^2\theta_1` of the quadratic Bezier curve,
    one row per ``ts`` entry; differentiable in ``bend`` (:math:`\omega`)."""
    for name, v in (("theta0", theta0), ("bend", bend), ("theta1", theta1)):
        _check_vector(name, v)
        if v.shape != theta0.shape:
            raise ValueError(f"Invalid {name}: shape {tuple(v.shape)} (must match theta0)")
    t = torch.as_tensor(ts, dtype=theta0.dtype, device=theta0.device).reshape(-1, 1)
    return (1 - t) ** 2 * theta0 + 2 * t * (1 - t) * bend + t ** 2 * theta1


def fit_bezier(f: FlatLoss, theta0: torch.Tensor, theta1: torch.Tensor, steps: int,
               lr: float = 0.01, samples: int = 8, generator: torch.Generator | None = None):
    r"""Train the bend :math:`\omega` of a Bezier curve between ``theta0`` and ``theta1`` by Adam
    (``lr``) on the mean loss at ``samples`` points :math:`t \sim U[0,1]` per step, starting from
    the midpoint :math:`(\theta_0 + \theta_1)/2` (the straight line). Returns the bend."""
    _check_count("steps", steps)
    _check_count("samples", samples)
    check_positive("lr", lr)
    bend = (0.5 * (theta0 + theta1)).detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([bend], lr=as_float("lr", lr))
    batched = vmap(f)
    for _ in range(steps):
        ts = torch.rand(samples, generator=generator, dtype=theta0.dtype).to(theta0.device)
        loss = batched(bezier_curve(theta0, bend, theta1, ts)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return bend.detach()


def loss_barrier(ts: torch.Tensor, losses: torch.Tensor) -> float:
    r""":math:`\max_t\, [L(t) - ((1-t)L(0) + tL(1))]` over a path sampled at ``ts`` from 0 to 1:
    how far the loss rises above the chord between the end points (0 for a convex path)."""
    ts = torch.as_tensor(ts).reshape(-1)
    losses = torch.as_tensor(losses).reshape(-1).to(ts.dtype)
    if ts.numel() != losses.numel() or ts.numel() < 2:
        raise ValueError(f"Invalid losses: {losses.numel()} values for {ts.numel()} ts "
                         "(must be equal, at least 2)")
    if float(ts[0]) != 0.0 or float(ts[-1]) != 1.0:
        raise ValueError(f"Invalid ts: runs from {float(ts[0])} to {float(ts[-1])} (must be 0 to 1)")
    chord = (1 - ts) * losses[0] + ts * losses[-1]
    return float((losses - chord).max())
