"""Batched against per-point evaluation of a 2-D loss surface (chapter 9).

A 2-D landscape plot (Li et al. 2018) needs the loss at every point
:math:`\\theta + a\\,\\delta + b\\,\\eta` of a grid. On a small ReLU MLP (2-24-24-2, 722 parameters,
float32, PyTorch's default threads) and a 51 x 51 grid, the benchmark times four ways:

* ``notes loop`` -- the per-point Python double loop of the course's source notes: load the
  perturbed parameters into the module, call it, ``loss.item()``; 2,601 forward passes;
* ``lean loop`` -- a per-point loop without copies into the module: ``FlatLoss``
  (``functional_call`` on a flat vector) at one grid point at a time, results kept as tensors
  (on a 2-core CI machine it was no faster than the notes' loop: ``functional_call`` costs about
  as much as the copies it saves);
* ``vmap`` -- ``course_lib.loss_surface.loss_surface_2d(..., method="vmap")``: ``torch.func.vmap``
  of ``functional_call`` over the grid, ``--chunk`` points at a time (the activations of a chunk
  are held at once: chunk x examples x 24 floats per hidden layer);
* ``mlp`` -- ``loss_surface_2d(..., method="mlp")``, the default for a plain MLP: every layer is one
  batched matrix product over the grid points, in the transposed layout (points, units,
  examples) with a constant unit that folds the bias into the weights; the weights of a block of
  grid points are one small matrix product (they are affine in the grid coordinates), blocks are
  sized to a core's L2 cache and reuse preallocated buffers, and the cross-entropy takes the
  transposed outputs directly. Its ``chunk_size`` is the whole grid: it only bounds how many
  outputs (points x examples x classes) are held at once.

For each number of training examples (``--examples``) it prints the best time of each over
``--repeats`` (after one untimed warm-up call, which pays ``vmap``'s one-off tracing cost; the best
rather than the median because other work on a shared machine only ever adds time), the time per
grid point, the speed-ups over the notes' loop and the largest difference between the grids. The
issue's target is a speed-up of at least 20 over a per-point Python loop. On the 2-core CI
machine the ``mlp`` column meets it with 16 and 64 examples (about 25x to 90x between runs) but
not with 256 (about 15x) or 1024 (about 4x): the notes' loop costs 0.12 to 0.15 ms per point
up to 256 examples, mostly Python and dispatch overhead, while the batched
evaluation costs only the arithmetic, about 8 microseconds per point at 256 examples, of which
the 24 x 24 layer alone (320 thousand floating-point operations per point) needs about 3 at this
machine's best batched-GEMM speed of some 100 GFLOP/s. The speed-up is therefore largest when a
forward pass is cheap (few examples) and shrinks as the work per point grows. The chapter points
here rather than printing timings (they vary between runs and machines).

Run: ``.venv/bin/python benchmarks/landscape_2d.py [--repeats 3] [--grid 51] [--chunk 256]
[--examples 16 64 256 1024] [--threads N] [--device cpu]``.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.nn.utils import vector_to_parameters

from course_lib.loss_surface import FlatLoss, filter_normalize, loss_surface_2d, random_direction


def setup(seed=0, hidden=24, n=256, device="cpu"):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(2, hidden), torch.nn.ReLU(),
                              torch.nn.Linear(hidden, hidden), torch.nn.ReLU(),
                              torch.nn.Linear(hidden, 2)).to(device)
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 2, generator=gen).to(device)
    y = (X[:, 0] * X[:, 1] > 0).long()
    f = FlatLoss(net, torch.nn.functional.cross_entropy, X, y)
    d1 = filter_normalize(f, random_direction(f, gen))
    d2 = filter_normalize(f, random_direction(f, gen))
    return net, f, d1, d2


def notes_loop(net, f, theta, d1, d2, xs, ys):
    """The source notes' way: write each grid point into the module, evaluate, read the float."""
    Z = torch.empty(len(ys), len(xs))
    with torch.no_grad():
        for i, b in enumerate(ys.tolist()):
            for j, a in enumerate(xs.tolist()):
                vector_to_parameters(theta + a * d1 + b * d2, net.parameters())
                Z[i, j] = f.loss_fn(net(f.X), f.y).item()
        vector_to_parameters(theta, net.parameters())  # leave the module as it was
    return Z.to(theta.device)


def lean_loop(f, theta, d1, d2, xs, ys):
    """One functional forward pass per grid point, no copies into the module, no .item()."""
    with torch.no_grad():
        rows = [torch.stack([f(theta + a * d1 + b * d2) for a in xs]) for b in ys]
    return torch.stack(rows)


def best_time(fn, repeats, device):
    out = fn()  # warm-up: vmap's first call traces, CUDA's first call initialises
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times), out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--grid", type=int, default=51)
    parser.add_argument("--chunk", type=int, default=256, help="grid points per vmap call")
    parser.add_argument("--examples", type=int, nargs="+", default=[16, 64, 256, 1024])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="CPU threads (default: PyTorch's default)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"{args.grid} x {args.grid} grid, MLP 2-24-24-2 (722 parameters), float32, "
          f"{torch.get_num_threads()} CPU threads, device {device}, best of {args.repeats}")
    print(f"{'examples':>8} {'notes loop':>10} {'lean loop':>9} {'vmap':>7} {'mlp':>7}   "
          f"{'per point: loop':>15} {'mlp':>6}   speed-up over the notes' loop: "
          f"{'lean':>5} {'vmap':>5} {'mlp':>5}  {'max |diff|':>9}")
    points = args.grid ** 2
    for n in args.examples:
        net, f, d1, d2 = setup(n=n, device=device)
        grid = torch.linspace(-1.0, 1.0, args.grid, device=device)
        theta = f.theta0
        times, grids = {}, {}
        for method, chunk in (("vmap", args.chunk), ("mlp", points)):
            times[method], grids[method] = best_time(
                lambda: loss_surface_2d(f, theta, d1, d2, grid, grid, chunk_size=chunk,
                                        method=method), args.repeats, device)
        times["notes"], grids["notes"] = best_time(
            lambda: notes_loop(net, f, theta, d1, d2, grid, grid), args.repeats, device)
        times["lean"], grids["lean"] = best_time(
            lambda: lean_loop(f, theta, d1, d2, grid, grid), args.repeats, device)
        diff = max(float((grids[k] - grids["notes"]).abs().max()) for k in ("lean", "vmap", "mlp"))
        ms = {k: f"{v * 1e3:.1f}" for k, v in times.items()}
        us = {k: f"{v * 1e6 / points:.1f}" for k, v in times.items()}
        up = {k: f"{times['notes'] / times[k]:.1f}x" for k in ("lean", "vmap", "mlp")}
        print(f"{n:8d} {ms['notes']:>10} {ms['lean']:>9} {ms['vmap']:>7} {ms['mlp']:>7}   "
              f"{us['notes']:>15} {us['mlp']:>6}   {'':30}"
              f"{up['lean']:>5} {up['vmap']:>5} {up['mlp']:>5}  {diff:9.1e}")
    print("times in ms; per point in microseconds")
    print("target: speed-up >= 20x over a per-point Python loop")


if __name__ == "__main__":
    main()
