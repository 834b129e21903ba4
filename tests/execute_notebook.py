"""Execute chapter notebooks in place, the way they are committed.

    COURSE_STATIC=1 .venv/bin/python tests/execute_notebook.py chapters/ch02_convexity.ipynb

(or ``make execute NB=chapters/ch02_convexity.ipynb``). Each notebook runs top to bottom in a fresh
kernel in its own folder; then consecutive pieces of one stream are merged (the kernel may flush
a print in several pieces), per-cell timing metadata and saved widget state are dropped, and the
kernelspec is set to ``python3``, so that a re-execution changes the file only where an output
changed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_reexecution import execute  # noqa: E402  (one way to run a notebook, shared)


def tidy(nb: nbformat.NotebookNode) -> None:
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        merged = []
        for out in cell.outputs:
            if (out.output_type == "stream" and merged and merged[-1].output_type == "stream"
                    and merged[-1].name == out.name):
                merged[-1].text += out.text
            else:
                merged.append(out)
        cell.outputs = merged
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}


def main(paths: list[str]) -> None:
    if not paths:
        sys.exit(__doc__)
    for name in paths:
        path = Path(name)
        nb = execute(path)
        tidy(nb)
        nbformat.validate(nb)
        nbformat.write(nb, path)
        print(f"executed {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
