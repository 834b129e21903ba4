"""Generate a student notebook from its source notebook (the one with the solutions).

::

    python -m course_lib.grade.author exercises/source/ex01_gradient_descent.ipynb   # writes exercises/ex01_gradient_descent.ipynb
    python -m course_lib.grade.author --all             # every exercises/source/*.ipynb
    python -m course_lib.grade.author --all --check     # exit 1 if a student notebook is stale

Markers in the source notebook:

* In a code cell, the lines from ``# BEGIN SOLUTION`` to ``# END SOLUTION`` (markers included)
  become one ``raise NotImplementedError("...")`` at the marker's indentation. Text after
  ``# BEGIN SOLUTION`` becomes the message: ``# BEGIN SOLUTION return the new point``.
* A line ``NAME = value  # SOLUTION`` becomes ``NAME = None  # your answer``.
* In a markdown cell, the lines from ``<!-- BEGIN SOLUTION -->`` to ``<!-- END SOLUTION -->``
  become ``*Your answer here.*``.
* A cell tagged ``solution-only`` is left out.

The student notebook has no outputs, no execution counts, and the source's cell ids, so it is
byte-for-byte reproducible: the test-suite regenerates it and fails when the committed one differs.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import nbformat

SOURCE_DIR = Path("exercises") / "source"
STUDENT_DIR = Path("exercises")

_BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION\b:?\s*(?P<message>.*)$")
_END = re.compile(r"^\s*# END SOLUTION\s*$")
_INLINE = re.compile(r"^(?P<lhs>\s*[A-Za-z_][A-Za-z0-9_]*\s*(?::[^=]+)?=)\s*.*#\s*SOLUTION\s*$")
_MD_BEGIN = re.compile(r"^\s*<!--\s*BEGIN SOLUTION\s*-->\s*$")
_MD_END = re.compile(r"^\s*<!--\s*END SOLUTION\s*-->\s*$")
DEFAULT_MESSAGE = "your code here"


class MarkerError(ValueError):
    """Unbalanced or misplaced solution markers."""


def strip_code(source: str, where: str = "") -> str:
    out, inside = [], False
    for number, line in enumerate(source.split("\n"), start=1):
        begin = _BEGIN.match(line)
        if begin:
            if inside:
                raise MarkerError(f"{where} line {number}: BEGIN SOLUTION inside a solution")
            inside = True
            message = begin["message"].strip() or DEFAULT_MESSAGE
            out.append(f'{begin["indent"]}raise NotImplementedError({json.dumps(message, ensure_ascii=False)})')
        elif _END.match(line):
            if not inside:
                raise MarkerError(f"{where} line {number}: END SOLUTION without BEGIN SOLUTION")
            inside = False
        elif not inside:
            inline = _INLINE.match(line)
            out.append(f"{inline['lhs']} None  # your answer" if inline else line)
    if inside:
        raise MarkerError(f"{where}: BEGIN SOLUTION without END SOLUTION")
    return "\n".join(out)


def strip_markdown(source: str, where: str = "") -> str:
    out, inside = [], False
    for line in source.split("\n"):
        if _MD_BEGIN.match(line):
            if inside:
                raise MarkerError(f"{where}: nested BEGIN SOLUTION")
            inside = True
            out.append("*Your answer here.*")
        elif _MD_END.match(line):
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise MarkerError(f"{where}: BEGIN SOLUTION without END SOLUTION")
    return "\n".join(out)


def student_notebook(source_nb) -> nbformat.NotebookNode:
    """The student notebook for a source notebook (a new object; the source is untouched)."""
    nb = nbformat.from_dict(source_nb)
    cells = []
    for index, cell in enumerate(nb.cells, start=1):
        if "solution-only" in cell.get("metadata", {}).get("tags", []):
            continue
        where = f"cell {index} ({cell.get('id', '?')})"
        if cell.cell_type == "code":
            cell.source = strip_code(cell.source, where)
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown":
            cell.source = strip_markdown(cell.source, where)
        for key in ("execution", "collapsed", "scrolled"):
            cell.metadata.pop(key, None)
        cells.append(cell)
    nb.cells = cells
    nb.metadata = nbformat.from_dict({
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    leftover = [c.get("id") for c in nb.cells if "SOLUTION" in c.source]
    if leftover:
        raise MarkerError(f"the word SOLUTION is left in cell(s) {leftover}: check the markers")
    return nb


def render(nb) -> str:
    """The exact text written to disk (nbformat's layout, with a final newline)."""
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def generate(source: Path, out: Path | None = None) -> tuple[Path, str]:
    """(path, text) of the student notebook for ``source`` (nothing is written)."""
    source = Path(source)
    nb = nbformat.read(source, as_version=4)
    target = out or source.parent.parent / source.name
    return target, render(student_notebook(nb))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.grade.author", description=__doc__.split("\n")[0])
    parser.add_argument("sources", nargs="*", type=Path, help="source notebooks (exercises/source/*.ipynb)")
    parser.add_argument("--all", action="store_true", help="every notebook in exercises/source/")
    parser.add_argument("--out", type=Path, help="where to write (one source only; default exercises/<set>.ipynb)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a student notebook is stale")
    args = parser.parse_args(argv)
    sources = list(args.sources)
    if args.all:
        from .suite import repo_root

        sources += sorted((repo_root() / SOURCE_DIR).glob("*.ipynb"))
    if not sources or (args.out and len(sources) > 1):
        parser.error("give one or more source notebooks (or --all); --out needs exactly one")
    stale = 0
    for source in sources:
        target, text = generate(source, args.out)
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if args.check:
            if current != text:
                print(f"stale: {target} (regenerate: python -m course_lib.grade.author {source})")
                stale += 1
        elif current != text:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target}")
        else:
            print(f"up to date: {target}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
