"""Seconds per submission of the grader (``python -m course_lib.grade``), sandboxed and not.

Grades a folder of generated submissions of ex01_gradient_descent with the public and example
hidden tests, end to end through the command line (interpreter start-up included), and prints
the wall-clock seconds per submission. The mix: correct solutions, blank notebooks, solutions with
one wrong function, and solutions whose functions use torch (its import is the main cost of a
worker). ``--run-notebook`` adds a run of a few notebooks top to bottom in a fresh kernel, which is
reported and costs a kernel start-up per submission. Target: at most 2 s per submission.

Run: ``.venv/bin/python benchmarks/grade_speed.py [--count 50] [--run-notebook 10]``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SET = "ex01_gradient_descent"
SOURCE = ROOT / "exercises" / "source" / f"{SET}.ipynb"
STUDENT = ROOT / "exercises" / f"{SET}.ipynb"
HIDDEN = ROOT / "exercises" / "instructor" / f"{SET}_hidden.py"
TARGET = 2.0

WRONG = "def minibatch_gradient_variance(per_example_grads, b):\n    return 1.0 / b\n"
TORCH = ("import torch\n\ndef gd_step(x, grad, lr):\n"
         "    return (torch.as_tensor(x) - lr * torch.as_tensor(grad)).numpy()\n")


def generate(folder: Path, count: int) -> None:
    """``count`` submissions: 40% correct, 20% blank, 30% one function wrong, 10% using torch."""
    kinds = ["correct", "correct", "blank", "wrong", "correct", "wrong", "blank", "correct", "wrong", "torch"]
    for i in range(count):
        kind = kinds[i % len(kinds)]
        nb = nbformat.read(STUDENT if kind == "blank" else SOURCE, as_version=4)
        if kind in ("wrong", "torch"):
            nb.cells.append(nbformat.v4.new_code_cell(WRONG if kind == "wrong" else TORCH))
        nbformat.write(nb, folder / f"student{i:03d}_{kind}.ipynb")


def grade(folder: Path, out: Path, *extra: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "course_lib.grade", SET, str(folder), "--hidden", str(HIDDEN),
                    "--out", str(out / "grades.csv"), "--json-dir", str(out / "json"), "--quiet", *extra],
                   check=True, cwd=out)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=50, help="submissions to grade (default 50)")
    parser.add_argument("--run-notebook", type=int, default=0, metavar="N",
                        help="also time N submissions graded with --run-notebook (default 0: skip)")
    args = parser.parse_args()

    from course_lib.grade import sandbox

    sandbox_ok, why = sandbox.usable()
    with tempfile.TemporaryDirectory(prefix="grade-bench-") as tmp:
        tmp = Path(tmp)
        (tmp / "all").mkdir()
        generate(tmp / "all", args.count)
        runs = [("unsandboxed", tmp / "all", args.count, ())]
        if sandbox_ok:
            runs.append(("sandboxed", tmp / "all", args.count, ("--sandbox",)))
        if args.run_notebook:
            (tmp / "some").mkdir()
            generate(tmp / "some", args.run_notebook)
            runs.append(("unsandboxed + notebook run", tmp / "some", args.run_notebook, ("--run-notebook",)))
            if sandbox_ok:
                runs.append(("sandboxed + notebook run", tmp / "some", args.run_notebook,
                             ("--sandbox", "--run-notebook")))
        print(f"{'mode':28s} {'submissions':>11s} {'seconds':>8s} {'s/submission':>13s}")
        for label, folder, count, extra in runs:
            out = tmp / label.replace(" ", "_")
            out.mkdir()
            seconds = grade(folder, out, *extra)
            flag = "" if seconds / count <= TARGET else f"  (over the {TARGET:g} s target)"
            print(f"{label:28s} {count:11d} {seconds:8.1f} {seconds / count:13.2f}{flag}")
            shutil.rmtree(out)
        if not sandbox_ok:
            print(f"sandboxed: skipped ({why})")


if __name__ == "__main__":
    main()
