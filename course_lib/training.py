r"""Training practice: gradient clipping, gradient accumulation, the linear scaling rule, and one
data-parallel SGD step with ``torch.distributed`` (Chapter 5).

* :func:`clip_grad_norm` and :func:`clip_grad_value` clip the ``.grad`` of parameters in place,
  as ``torch.nn.utils.clip_grad_norm_`` and ``clip_grad_value_`` do, and both return the norm the
  gradient had *before* clipping (PyTorch's value-clipper returns nothing).
* :func:`accumulate_gradients` sums the gradients of several micro-batches so that they equal the
  gradient of the mean loss over all their samples.
* :func:`linear_scaling_lr` is Goyal et al.'s rule :math:`\eta_B = \eta_{B_0} B / B_0`.
* :func:`data_parallel_sgd_step` runs one SGD step in ``world_size`` local processes (gloo backend,
  CPU) that each see a shard of the batch and average their gradients with ``all_reduce``;
  :func:`sgd_step` is the single-process step on the whole batch it must reproduce.

Example::

    loss = accumulate_gradients(model, torch.nn.functional.mse_loss, [(x[:8], y[:8]), (x[8:], y[8:])])
    norm_before = clip_grad_norm(model.parameters(), max_norm=1.0)
    optimizer.step()
"""

from __future__ import annotations

import copy
import math
import os
import socket
import tempfile
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from pathlib import Path

import torch

from .checks import as_float, check_non_negative, check_positive

__all__ = [
    "clip_grad_norm", "clip_grad_value", "grad_vector", "angle_degrees",
    "accumulate_gradients", "linear_scaling_lr", "sgd_step", "data_parallel_sgd_step",
    "free_port",
]


def _params_with_grad(parameters) -> list[torch.Tensor]:
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def _norm_type(norm_type) -> float:
    p = as_float("norm_type", norm_type)
    if not (p >= 1.0 or p == math.inf):
        raise ValueError(f"Invalid norm_type: {norm_type!r} (must be >= 1 or inf)")
    return p


def _total_norm(grads: Sequence[torch.Tensor], p: float) -> torch.Tensor:
    norms = torch.stack([torch.linalg.vector_norm(g, p) for g in grads])
    return torch.linalg.vector_norm(norms, p)


def clip_grad_norm(parameters: Iterable[torch.Tensor] | torch.Tensor, max_norm, norm_type=2.0,
                   eps: float = 1e-6) -> torch.Tensor:
    r"""Scale all gradients together so that their joint norm is at most ``max_norm``; return the
    norm before clipping.

    With :math:`g` the concatenation of every ``p.grad`` and :math:`c` = ``max_norm``,

    .. math::  g \leftarrow g \cdot \min\Bigl(1, \frac{c}{\lVert g \rVert_p + \epsilon}\Bigr).

    One factor for all parameters, so the *direction* of :math:`g` is kept; only its length
    changes. :math:`\epsilon = 10^{-6}` is PyTorch's (``torch.nn.utils.clip_grad_norm_``), which
    this reproduces to rounding: the clipped norm is :math:`c\lVert g\rVert/(\lVert g\rVert +
    \epsilon)`, a hair below :math:`c`. Returns :math:`\lVert g\rVert_p` as a 0-dimensional tensor
    (0 when no parameter has a gradient). ``norm_type`` is :math:`p \ge 1` or ``inf``.
    Parameters may live on any device and have any floating dtype (the norm is computed on the
    first gradient's device).
    """
    max_norm_f = as_float("max_norm", max_norm)
    check_positive("max_norm", max_norm_f)
    p = _norm_type(norm_type)
    params = _params_with_grad(parameters)
    if not params:
        return torch.tensor(0.0)
    grads = [q.grad for q in params]
    device = grads[0].device
    total = _total_norm([g.to(device) for g in grads], p)
    factor = torch.clamp(max_norm_f / (total + eps), max=1.0)
    for g in grads:
        g.mul_(factor.to(g.device, g.dtype))
    return total


def clip_grad_value(parameters: Iterable[torch.Tensor] | torch.Tensor, clip_value) -> torch.Tensor:
    r"""Clamp every gradient entry to :math:`[-c, c]`; return the Euclidean norm before clipping.

    .. math::  g_i \leftarrow \min(\max(g_i, -c), c) \quad\text{for every entry } i.

    Each entry is clipped on its own, so unlike :func:`clip_grad_norm` the direction changes as
    soon as one entry is clipped and another is not (the large entries lose weight). As
    ``torch.nn.utils.clip_grad_value_``, which returns ``None``; this returns the 2-norm
    :math:`\lVert g \rVert_2` before clipping, for monitoring.
    """
    c = as_float("clip_value", clip_value)
    check_positive("clip_value", c)
    params = _params_with_grad(parameters)
    if not params:
        return torch.tensor(0.0)
    grads = [q.grad for q in params]
    device = grads[0].device
    total = _total_norm([g.to(device) for g in grads], 2.0)
    for g in grads:
        g.clamp_(-c, c)
    return total


def grad_vector(parameters: Iterable[torch.Tensor]) -> torch.Tensor:
    """All gradients flattened into one vector (zeros for parameters without a gradient)."""
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                      for p in parameters])


def angle_degrees(a: torch.Tensor, b: torch.Tensor) -> float:
    r"""The angle :math:`\arccos\frac{\langle a, b\rangle}{\lVert a\rVert\lVert b\rVert}` between
    two non-zero vectors, in degrees (computed in float64, cosine clamped to [-1, 1])."""
    a64, b64 = a.detach().reshape(-1).double().cpu(), b.detach().reshape(-1).double().cpu()
    na, nb = float(a64.norm()), float(b64.norm())
    if na == 0.0 or nb == 0.0:
        raise ValueError("Invalid a or b: the angle of a zero vector is undefined")
    cos = max(-1.0, min(1.0, float(a64 @ b64) / (na * nb)))
    return math.degrees(math.acos(cos))


def accumulate_gradients(model: torch.nn.Module, loss_fn: Callable, micro_batches: Sequence) -> float:
    r"""Zero the gradients, then backpropagate every micro-batch so that the gradients equal those
    of the mean loss over all samples; return that mean loss.

    Micro-batch :math:`k` has :math:`n_k` samples and mean loss :math:`\bar\ell_k` =
    ``loss_fn(model(x_k), y_k)`` (``loss_fn`` must average over the batch, as PyTorch's losses do
    by default). Its loss is weighted by :math:`n_k / N`, :math:`N = \sum_k n_k`, before
    ``backward``, so the accumulated gradient is

    .. math::  \sum_k \frac{n_k}{N} \nabla \bar\ell_k = \nabla \frac1N \sum_{i=1}^N \ell_i ,

    the large-batch gradient (exactly, for a model whose output on a sample does not depend on the
    other samples of its batch: *not* with BatchNorm in training mode). Without the weights,
    ``backward`` on each of :math:`K` equal micro-batches sums :math:`K` mean gradients, which is
    :math:`K` times the large-batch gradient.
    """
    if not isinstance(micro_batches, Sequence) or len(micro_batches) == 0:
        raise ValueError(f"Invalid micro_batches: {micro_batches!r} (must be a non-empty list of "
                         f"(inputs, targets) pairs)")
    sizes = [len(x) for x, _ in micro_batches]
    if min(sizes) == 0:
        raise ValueError(f"Invalid micro_batches: sizes {sizes} (every micro-batch needs a sample)")
    total = sum(sizes)
    model.zero_grad(set_to_none=True)
    mean_loss = 0.0
    for (x, y), n in zip(micro_batches, sizes):
        loss = loss_fn(model(x), y) * (n / total)
        loss.backward()
        mean_loss += float(loss.detach())
    return mean_loss


def linear_scaling_lr(base_lr, base_batch_size, batch_size) -> float:
    r"""Goyal et al.'s linear scaling rule: :math:`\eta_B = \eta_{B_0} \cdot B / B_0`.

    The rule makes :math:`k` SGD steps with batch :math:`B_0` and one step with batch :math:`kB_0`
    nearly equal when the gradient changes little over :math:`k` steps; it fails when
    :math:`\eta_B` exceeds the stability limit of the problem (about :math:`2/L` for gradient
    descent on an :math:`L`-smooth function) and early in training, which is why Goyal et al.
    pair it with a warm-up.
    """
    check_non_negative("base_lr", base_lr)
    for name, value in (("base_batch_size", base_batch_size), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"Invalid {name}: {value!r} (must be an integer >= 1)")
    return as_float("base_lr", base_lr) * batch_size / base_batch_size


def _check_step_args(model, inputs, targets, lr):
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"Invalid model: {type(model).__name__} is not a torch.nn.Module")
    check_non_negative("lr", lr)
    if len(inputs) != len(targets):
        raise ValueError(f"Invalid targets: {len(targets)} targets for {len(inputs)} inputs")


def sgd_step(model: torch.nn.Module, loss_fn: Callable, inputs: torch.Tensor, targets: torch.Tensor,
             lr) -> dict[str, torch.Tensor]:
    r"""One plain SGD step :math:`\theta - \eta \nabla \bar\ell(\theta)` on the whole batch, on a
    copy of ``model``; returns the new parameters by name (``model`` is left unchanged)."""
    _check_step_args(model, inputs, targets, lr)
    clone = copy.deepcopy(model)
    clone.zero_grad(set_to_none=True)
    loss_fn(clone(inputs), targets).backward()
    with torch.no_grad():
        return {name: (p - as_float("lr", lr) * p.grad).detach().clone()
                for name, p in clone.named_parameters()}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _data_parallel_worker(rank: int, world_size: int, port: int, model: torch.nn.Module,
                          loss_fn: Callable, inputs: torch.Tensor, targets: torch.Tensor,
                          lr: float, timeout_s: float, out_dir: str) -> None:
    """One process of :func:`data_parallel_sgd_step` (module level, so that ``spawn`` can import it)."""
    import torch.distributed as dist

    torch.set_num_threads(1)
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world_size,
                            timeout=timedelta(seconds=timeout_s))
    try:
        # torch.multiprocessing hands every process the *same* shared-memory storage: update a
        # private copy, or the processes would all subtract their step from one set of weights.
        model = copy.deepcopy(model)
        shard = len(inputs) // world_size
        x = inputs[rank * shard:(rank + 1) * shard]
        y = targets[rank * shard:(rank + 1) * shard]
        model.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        params = list(model.parameters())
        with torch.no_grad():
            for p in params:  # average the shard gradients: the gradient of the whole batch
                g = p.grad if p.grad is not None else torch.zeros_like(p)
                dist.all_reduce(g, op=dist.ReduceOp.SUM)
                p -= lr * (g / world_size)
        new = {name: p.detach().clone() for name, p in model.named_parameters()}
        torch.save(new, Path(out_dir) / f"rank{rank}.pt")
        dist.barrier()
    finally:
        dist.destroy_process_group()


def data_parallel_sgd_step(model: torch.nn.Module, loss_fn: Callable, inputs: torch.Tensor,
                           targets: torch.Tensor, lr, world_size: int = 2, timeout_s: float = 60.0,
                           attempts: int = 3) -> tuple[dict[str, torch.Tensor], float]:
    r"""One SGD step computed by ``world_size`` processes on CPU, as ``DistributedDataParallel``
    does it; returns (rank 0's new parameters by name, the largest difference between ranks).

    The batch of :math:`N` samples is cut into ``world_size`` :math:`= W` consecutive shards of
    :math:`N/W` samples (:math:`N` must be divisible by :math:`W`). Process :math:`r` computes the
    gradient :math:`g_r` of the mean loss on its shard; an ``all_reduce`` (gloo backend) sums them
    and every process applies

    .. math::  \theta \leftarrow \theta - \eta \,\frac1W \sum_{r=0}^{W-1} g_r
               = \theta - \eta\, \nabla \frac1N \sum_{i=1}^{N} \ell_i(\theta),

    the large-batch step of :func:`sgd_step` up to the order of floating-point additions. The
    processes are started with ``torch.multiprocessing.spawn`` and meet at ``127.0.0.1`` on a port
    the OS reports free; if the rendezvous fails (a port taken in between), it is tried again on a
    new port, up to ``attempts`` times. ``model``, ``loss_fn`` and the tensors must be picklable
    (``loss_fn`` a module-level function such as ``torch.nn.functional.mse_loss``). ``model`` is
    left unchanged.
    """
    import torch.distributed as dist
    import torch.multiprocessing as mp

    _check_step_args(model, inputs, targets, lr)
    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"Invalid world_size: {world_size!r} (must be an integer >= 1)")
    if len(inputs) % world_size != 0:
        raise ValueError(f"Invalid world_size: {world_size} does not divide the batch size {len(inputs)}")
    check_positive("timeout_s", timeout_s)
    if not dist.is_available() or not dist.is_gloo_available():
        raise RuntimeError("torch.distributed with the gloo backend is not available in this build")
    model_cpu = copy.deepcopy(model).cpu()
    args_tail = (model_cpu, loss_fn, inputs.detach().cpu(), targets.detach().cpu(),
                 as_float("lr", lr), float(timeout_s))
    last_error: Exception | None = None
    for _ in range(max(1, int(attempts))):
        with tempfile.TemporaryDirectory() as out_dir:
            try:
                mp.spawn(_data_parallel_worker, args=(world_size, free_port(), *args_tail, out_dir),
                         nprocs=world_size, join=True)
            except Exception as exc:  # noqa: BLE001 - a failed rendezvous: retry on a new port
                last_error = exc
                continue
            results = [torch.load(Path(out_dir) / f"rank{r}.pt") for r in range(world_size)]
        spread = max((float((results[r][k] - results[0][k]).abs().max())
                      for r in range(1, world_size) for k in results[0]), default=0.0)
        return results[0], spread
    raise RuntimeError(f"data_parallel_sgd_step failed {attempts} times; last error: {last_error}")
