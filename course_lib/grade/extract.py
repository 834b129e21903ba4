"""What of a submitted notebook is scored: its top-level definitions, chosen by reading its AST.

The grader never runs a notebook's other top-level code to score it (a stray loop, a plot, a
cheat that patches the kernel, an input transformer: none of it runs). From each code cell, in
order, it keeps

* ``import`` and ``from ... import`` statements,
* ``def`` and ``class`` statements (with their decorators),
* assignments of *constants* to plain names: ``LR = 0.55``, ``EPS = 1e-3 / 2``, ``SIZES = (1, 2)``
  (literals, arithmetic, tuples/lists/dicts of them, names defined earlier; no calls),

and the worker runs them in the same order, so the last definition of a name wins, as in "Restart
and Run All". A cell with a syntax error is skipped whole. IPython syntax (``%magic``, ``!cmd``)
is first turned into Python by IPython's own transformer, then dropped with the other top-level
code. Nothing here executes the notebook: reading it is parsing only.
"""

from __future__ import annotations

import ast
import json
import warnings
from dataclasses import dataclass, field

import nbformat

_CONSTANT_NODES = (ast.Constant, ast.UnaryOp, ast.BinOp, ast.Tuple, ast.List, ast.Set, ast.Dict,
                   ast.Name, ast.Load, ast.operator, ast.unaryop, ast.Attribute)


class SubmissionError(Exception):
    """The submission is not a readable notebook."""


@dataclass
class Statement:
    """One top-level statement that the worker will run: statement ``index`` of code cell ``cell``."""

    cell: int
    index: int
    line: int
    kind: str  # import, def, class, constant
    names: list[str]


@dataclass
class Extraction:
    sources: dict[int, str] = field(default_factory=dict)  # code cell number -> Python source
    statements: list[Statement] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # top-level code that assigns names, not run
    problems: list[str] = field(default_factory=list)  # cells that could not be read

    def summary(self) -> dict:
        return {
            "kept": [{"cell": s.cell, "line": s.line, "kind": s.kind, "names": s.names} for s in self.statements],
            "skipped_assignments": self.skipped,
            "problems": self.problems,
        }


def read_notebook(data: bytes) -> nbformat.NotebookNode:
    """The notebook in ``data`` (raw file bytes), as nbformat v4; SubmissionError if unreadable."""
    try:
        text = data.decode("utf-8")
        raw = json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SubmissionError(f"the file is not a notebook (not valid JSON: {exc})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells", raw.get("worksheets")), list):
        raise SubmissionError("the file is JSON but not a notebook (no list of cells)")
    try:
        with warnings.catch_warnings():  # missing cell ids and the like: not the student's concern
            warnings.simplefilter("ignore")
            return nbformat.reads(text, as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds of errors on odd input
        repaired = _repair(raw)
        if repaired is None:
            raise SubmissionError(f"the notebook cannot be read: {type(exc).__name__}: {str(exc)[:300]}") from None
        return repaired


def _repair(raw: dict):
    """A v4 notebook from JSON that fails validation but has usable cells (a missing ``metadata``
    or ``outputs`` key, as some editors write): a student should not score 0 for that."""
    cells = raw.get("cells")
    if not isinstance(cells, list):
        return None
    repaired = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            continue
        source = cell.get("source", "")
        source = "".join(s for s in source if isinstance(s, str)) if isinstance(source, list) else source
        if not isinstance(source, str):
            continue
        make = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell,
                "raw": nbformat.v4.new_raw_cell}[cell["cell_type"]]
        repaired.append(make(source))
    return nbformat.v4.new_notebook(cells=repaired)


def _python_source(source: str) -> str:
    """Cell source with IPython syntax turned into plain Python (magics become calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - fall back to dropping the IPython lines
        lines = source.splitlines()
        return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines) + "\n"


def _is_constant(node: ast.AST) -> bool:
    return all(isinstance(n, _CONSTANT_NODES) for n in ast.walk(node))


def _kept(node: ast.stmt) -> tuple[str, list[str]] | None:
    """(kind, names bound) when the statement is run for scoring, else None."""
    if isinstance(node, ast.Import):
        return "import", [a.asname or a.name.split(".")[0] for a in node.names]
    if isinstance(node, ast.ImportFrom):
        return "import", [a.asname or a.name for a in node.names]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return ("class" if isinstance(node, ast.ClassDef) else "def"), [node.name]
    if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
        if _is_constant(node.value):
            return "constant", [t.id for t in node.targets]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
        if _is_constant(node.value):
            return "constant", [node.target.id]
    return None


def _assigned_names(node: ast.stmt) -> list[str]:
    targets = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        targets = [node.target]
    return [name for t in targets for name in _target_names(t)]


def _target_names(target: ast.expr) -> list[str]:
    """Names bound by an assignment target (``a``, ``a, b``); none for ``obj.attr`` or ``d[k]``."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for elt in target.elts for name in _target_names(elt)]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return []


def extract(notebook) -> Extraction:
    """The statements of ``notebook`` that are run for scoring (see the module docstring)."""
    result = Extraction()
    code_cells = [c for c in notebook.get("cells", []) if c.get("cell_type") == "code"]
    for number, cell in enumerate(code_cells, start=1):
        source = cell.get("source", "")
        if isinstance(source, list):  # tolerate unnormalised notebooks
            source = "".join(source)
        if not isinstance(source, str) or not source.strip():
            continue
        python = _python_source(source)
        try:
            tree = ast.parse(python, filename=f"<code cell {number}>")
        except (SyntaxError, ValueError) as exc:
            line = getattr(exc, "lineno", None)
            result.problems.append(f"code cell {number} has a syntax error (line {line}); it was skipped")
            continue
        result.sources[number] = python
        for index, node in enumerate(tree.body):
            kept = _kept(node)
            if kept is not None:
                result.statements.append(Statement(number, index, node.lineno, *kept))
                continue
            names = _assigned_names(node)
            if names:
                result.skipped.append({
                    "cell": number, "line": node.lineno, "names": names,
                    "reason": "not a constant (only literals and arithmetic are read for grading)",
                })
    return result


def _bound_at_top_level(node: ast.AST) -> set[str]:
    """Names a top-level statement binds in the module namespace (not inside functions/classes)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {a.asname or a.name.split(".")[0] for a in node.names}
    names = set()
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
            names.add(child.id)
        elif not isinstance(child, (ast.Lambda, ast.comprehension, ast.GeneratorExp, ast.ListComp,
                                    ast.SetComp, ast.DictComp)):
            names |= _bound_at_top_level(child)
    return names


def ungraded_binding(history: list[str], name: str) -> str | None:
    """Why the grader would not see ``name`` as the kernel has it, or None if it would.

    ``history`` is the sources of the cells run so far, in order (IPython's ``In``). The last
    top-level statement that binds ``name`` decides, as it does in the kernel: if the grader does
    not run that statement (``X = f(...)``, a name set inside a loop or a ``with`` block), the
    grader will not find ``name`` although the kernel has it.
    """
    for source in reversed(history):
        if not isinstance(source, str) or name not in source:
            continue
        try:
            tree = ast.parse(_python_source(source))
        except (SyntaxError, ValueError):
            continue
        for node in reversed(tree.body):
            if name in _bound_at_top_level(node):
                if _kept(node) is not None:
                    return None
                snippet = ast.get_source_segment(_python_source(source), node) or ""
                snippet = snippet.splitlines()[0][:60] if snippet else type(node).__name__
                return (f"it is set by `{snippet}`, top-level code that the grader does not run "
                        "(define it with def, or assign a plain number)")
    return None
