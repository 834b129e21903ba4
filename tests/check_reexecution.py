"""Execute every chapter notebook twice, each time in a fresh kernel, and require identical outputs.

    python tests/check_reexecution.py                    # every chapter notebook
    python tests/check_reexecution.py chapters/ch03.ipynb  # just these
    python tests/check_reexecution.py --jobs 1           # one execution at a time

The executions run in parallel, two at a time by default (``--jobs``): each kernel is a separate
process and a chapter spends most of its time in small tensor operations on one core, so two
kernels on a two-core machine finish the check in well under the time of running them in turn.

`make test` runs it after pytest. nbval already compares one fresh execution with the committed
outputs; this check proves the outputs are a function of the code alone (seeds set, no
dependence on time, hash randomisation or leftover state), so that nbval's comparison is
meaningful and the committed notebooks can be regenerated at will.

Compared: every cell's outputs -- stream text, results, display data, errors; images byte for byte.
Ignored: how a stream is split into pieces (consecutive stream outputs are merged, as nbval does),
execution counts, execution timestamps and other cell metadata, and the random model
ids of ipywidgets (renumbered in order of appearance). The sanitizers of
tests/nbval_sanitize.cfg (memory addresses, timings, temporary paths) are applied first, as nbval
does. Only notebooks under chapters/ are chapter notebooks; the student exercise notebooks
(exercises/) have blanks and no outputs.

Exit status 0 when every notebook reproduces (or there are none yet), 1 otherwise.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import difflib
import json
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"
SANITIZE = Path(__file__).resolve().parent / "nbval_sanitize.cfg"
SKIP_PARTS = {"_vendor", "_build", ".ipynb_checkpoints", "node_modules"}
TIMEOUT = 600  # seconds per cell, as in _config.yml
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
BINARY = ("image/png", "image/jpeg", "image/gif", "application/pdf")


def chapter_notebooks() -> list[Path]:
    found = []
    for path in sorted(CHAPTERS.rglob("*.ipynb")):
        rel = path.relative_to(CHAPTERS)
        if not SKIP_PARTS.intersection(rel.parts[:-1]):
            found.append(path)
    return found


def sanitize_patterns() -> list[tuple[str, str]]:
    # the same format, and the same parsing, as nbval's --nbval-sanitize-with
    return re.findall(r"^regex: (.*)$\n^replace: (.*)$", SANITIZE.read_text(), flags=re.MULTILINE)


def execute(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=TIMEOUT,
        kernel_name=nb.metadata.get("kernelspec", {}).get("name", "python3"),
        resources={"metadata": {"path": str(path.parent)}},  # run in the notebook's folder
    )
    client.execute()
    return nb


def normalized_outputs(nb: nbformat.NotebookNode, patterns: list[tuple[str, str]]) -> list[str]:
    """One JSON text per code cell: its outputs, sanitized, with volatile fields removed."""
    widget_ids: dict[str, str] = {}

    def clean(value):
        if isinstance(value, str):
            for regex, replace in patterns:
                value = re.sub(regex, replace, value)
            return value
        if isinstance(value, list):
            return [clean(item) for item in value]
        if isinstance(value, dict):
            return {key: clean(item) for key, item in value.items()}
        return value

    cells = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.get("outputs", []):
            output = json.loads(json.dumps(output))  # plain dicts, a private copy
            output.pop("execution_count", None)
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view and "model_id" in view:
                view["model_id"] = widget_ids.setdefault(view["model_id"], f"widget-{len(widget_ids)}")
            if output.get("output_type") == "stream" and isinstance(output.get("text"), list):
                output["text"] = "".join(output["text"])
            binary = {key: output["data"].pop(key) for key in BINARY if key in output.get("data", {})}
            output = clean(output)
            if binary:  # images are compared byte for byte (and base64 is no text to sanitize)
                output["data"].update(binary)
            previous = outputs[-1] if outputs else None
            if (previous and output.get("output_type") == "stream" == previous.get("output_type")
                    and output.get("name") == previous.get("name")):
                # The kernel may flush one print in several pieces; nbval merges them too.
                previous["text"] += output["text"]
                continue
            outputs.append(output)
        cells.append(json.dumps({"cell": index, "outputs": outputs}, indent=1, sort_keys=True))
    return cells


def timed_execution(path: Path) -> tuple[str, float]:
    """Execute `path` once (in a worker process); the executed notebook as JSON text, and seconds."""
    start = time.perf_counter()
    nb = execute(path)
    return nbformat.writes(nb), time.perf_counter() - start


def differences(first: list[str], second: list[str]) -> list[str]:
    """The cells whose outputs differ between two executions, as unified diffs."""
    found = []
    for one, two in zip(first, second):
        if one != two:
            diff = difflib.unified_diff(
                one.splitlines(), two.splitlines(), "first run", "second run", lineterm="", n=2
            )
            found.append("\n".join(diff))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every chapter notebook")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="executions run at the same time (default: 2, or 1 on one core)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    notebooks = [p.resolve() for p in args.notebooks] or chapter_notebooks()
    if not notebooks:
        print("check_reexecution: no chapter notebooks yet, nothing to check.")
        return 0
    patterns = sanitize_patterns()
    failed = []
    with concurrent.futures.ProcessPoolExecutor(max_workers=args.jobs) as pool:
        # Both executions of every notebook are queued at once; results are read in order.
        runs = {path: [pool.submit(timed_execution, path) for _ in range(2)] for path in notebooks}
        for path in notebooks:
            shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
            print(f"check_reexecution: {shown}", flush=True)
            outputs = []
            try:
                for future in runs[path]:
                    text, seconds = future.result()
                    print(f"  executed in {seconds:.1f} s", flush=True)
                    outputs.append(normalized_outputs(nbformat.reads(text, as_version=4), patterns))
            except Exception as error:  # an execution error is a failure of this check too
                print(f"  FAILED to execute: {type(error).__name__}: {error}")
                failed.append(path)
                continue
            found = differences(*outputs)
            if found:
                print(f"  NOT REPRODUCIBLE: {len(found)} cell(s) differ between two runs:")
                for diff in found:
                    print("    " + diff.replace("\n", "\n    "))
                failed.append(path)
            else:
                print("  identical outputs in both runs")
    print(f"check_reexecution: {len(notebooks) - len(failed)} of {len(notebooks)} notebooks reproduce.")
    print(f"reexecution: {len(notebooks) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
