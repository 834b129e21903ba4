"""Grokking on (a + b) mod 97 on the CPU: how long until validation accuracy reaches 99%?

Prints the step at which training accuracy first reaches 100%, the step and the wall-clock time at
which validation accuracy first reaches 99%, and their ratio. The issue's target: >= 99%
validation accuracy within 30 s, with training accuracy at 100% at least three times earlier in
steps. Run: ``python benchmarks/grokking.py`` (one thread, as on a shared 2-core machine).
"""

import time

import torch

from course_lib.generalization import ModularMLP, first_step_reaching, modular_dataset, train_full_batch
from course_lib.optim import AdamW


def main() -> None:
    torch.set_num_threads(1)
    split = modular_dataset(97, op="add", train_fraction=0.4, seed=0)
    model = ModularMLP(97, embed_dim=32, hidden=128, seed=0)
    opt = AdamW(model.parameters(), lr=3e-3, weight_decay=1.0, betas=(0.9, 0.98))
    start = time.perf_counter()
    history = train_full_batch(model, opt, split, steps=4000, eval_every=20, stop_at_val=0.99)
    seconds = time.perf_counter() - start
    memorized = first_step_reaching(history, "train_acc", 1.0)
    generalized = first_step_reaching(history, "val_acc", 0.99)
    print(f"train accuracy 100% at step {memorized}")
    print(f"val accuracy >= 99% at step {generalized} after {seconds:.1f} s "
          f"(final val accuracy {history['val_acc'][-1]:.4f})")
    if memorized and generalized:
        print(f"delay ratio (val step / train step): {generalized / memorized:.2f}")
    print("target met:", bool(generalized and seconds <= 30 and generalized >= 3 * memorized))


if __name__ == "__main__":
    main()
