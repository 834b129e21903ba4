"""Step time of course_lib's optimizers against PyTorch's, and optimizer-state bytes per parameter.

For every algorithm PyTorch also has, one ``step()`` of course_lib's optimizer is timed against
PyTorch's single-tensor implementation (``foreach=False``, the like-for-like comparison: a Python
loop over parameters) and its multi-tensor implementation (``foreach=True``), on CPU, float32, at
1M and 10M parameters split over several tensors as in a real model. The target is a ratio of at
most 1.25 against ``foreach=False``. Optimizers PyTorch lacks are timed on their own.

Run: ``make bench`` or ``.venv/bin/python benchmarks/optimizer_step.py [--sizes 1e6 1e7]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import course_lib.optim as ours

# course_lib name -> PyTorch class (None: PyTorch has no such optimizer)
ALGORITHMS = {
    "SGD": (dict(lr=0.01, momentum=0.9), torch.optim.SGD),
    "Adagrad": (dict(lr=0.01), torch.optim.Adagrad),
    "RMSprop": (dict(lr=0.01), torch.optim.RMSprop),
    "Adadelta": (dict(lr=1.0), torch.optim.Adadelta),
    "Adam": (dict(lr=1e-3), torch.optim.Adam),
    "AdamW": (dict(lr=1e-3), torch.optim.AdamW),
    "Adamax": (dict(lr=2e-3), torch.optim.Adamax),
    "NAdam": (dict(lr=2e-3), torch.optim.NAdam),
    "RAdam": (dict(lr=1e-3), torch.optim.RAdam),
    "Adafactor": (dict(lr=1e-2), torch.optim.Adafactor),
    "Lion": (dict(lr=1e-4), None),
    "AdaBound": (dict(lr=1e-3), None),
}
TARGET = 1.25


def make_params(n_params: int, seed: int = 0) -> list[torch.Tensor]:
    """Matrices of 1024 columns plus a bias-like vector, ``n_params`` numbers in all."""
    gen = torch.Generator().manual_seed(seed)
    cols = 1024
    rows_total = n_params // cols
    chunks = [rows_total // 8] * 7 + [rows_total - 7 * (rows_total // 8)]
    params = [torch.randn(r, cols, generator=gen) for r in chunks]
    params.append(torch.randn(n_params - rows_total * cols, generator=gen))
    for p in params:
        p.requires_grad_()
        p.grad = torch.randn(p.shape, generator=gen) * 1e-2
    return params


def time_interleaved(optimizers: list[torch.optim.Optimizer], repeats: int) -> list[float]:
    """Median step time of each optimizer, timing them in turn within every repeat so that all of
    them see the same machine load (a busy core slows every entry, not just one)."""
    for opt in optimizers:
        opt.step()  # creates the state, which is not part of a steady-state step
    times = [[] for _ in optimizers]
    for _ in range(repeats):
        for opt, bucket in zip(optimizers, times):
            start = time.perf_counter()
            opt.step()
            bucket.append(time.perf_counter() - start)
    return [statistics.median(bucket) for bucket in times]


def state_bytes_per_param(opt: torch.optim.Optimizer, params: list[torch.Tensor]) -> float:
    total = sum(v.numel() * v.element_size() for s in opt.state.values() for v in s.values()
                if isinstance(v, torch.Tensor))
    return total / sum(p.numel() for p in params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1e6, 1e7])
    parser.add_argument("--only", nargs="*", help="benchmark only these optimizers")
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32 on CPU; median step time")
    worst = 0.0
    for size in (int(s) for s in args.sizes):
        repeats = 31 if size <= 2_000_000 else 9
        print(f"\n{size / 1e6:g}M parameters ({repeats} timed steps each)")
        print(f"{'optimizer':<12}{'course_lib ms':>14}{'torch ms':>10}{'ratio':>7}"
              f"{'foreach ms':>12}{'ratio':>7}{'state B/param':>15}")
        for name, (kwargs, torch_cls) in ALGORITHMS.items():
            if args.only and name not in args.only:
                continue
            params = make_params(size)
            opt = getattr(ours, name)(params, **kwargs)
            if torch_cls is None:
                (t_ours,) = time_interleaved([opt], repeats)
                bytes_pp = state_bytes_per_param(opt, params)
                print(f"{name:<12}{t_ours * 1e3:14.2f}{'-':>10}{'-':>7}{'-':>12}{'-':>7}{bytes_pp:15.2f}")
                continue
            t_ours, t_single, t_foreach = time_interleaved(
                [opt, torch_cls(make_params(size), foreach=False, **kwargs),
                 torch_cls(make_params(size), foreach=True, **kwargs)], repeats)
            bytes_pp = state_bytes_per_param(opt, params)
            ratio = t_ours / t_single
            worst = max(worst, ratio)
            flag = "" if ratio <= TARGET else "  above target"
            print(f"{name:<12}{t_ours * 1e3:14.2f}{t_single * 1e3:10.2f}{ratio:7.2f}"
                  f"{t_foreach * 1e3:12.2f}{t_ours / t_foreach:7.2f}{bytes_pp:15.2f}{flag}")
    print(f"\nworst ratio against PyTorch's single-tensor implementation: {worst:.2f} (target <= {TARGET})")


if __name__ == "__main__":
    main()
