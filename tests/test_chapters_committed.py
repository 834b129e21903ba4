"""The chapter notebooks are committed executed, and the book renders those outputs as they are.

`make book` does not execute notebooks (``execute_notebooks: "off"`` in _config.yml): nbval
(`make test`) proves that a fresh execution reproduces every committed output, and
tests/check_reexecution.py that two fresh executions agree. What is left to check is that what
is committed is a complete execution: every code cell run once, top to bottom, in one fresh
kernel (``make execute NB=...``), with no error, no saved widget state and no timing metadata.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_reexecution import ROOT, chapter_notebooks  # noqa: E402

NOTEBOOKS = chapter_notebooks()


def _code_cells(path: Path):
    nb = nbformat.read(path, as_version=4)
    return nb, [cell for cell in nb.cells if cell.cell_type == "code" and cell.source.strip()]


def test_there_are_chapter_notebooks():
    assert len(NOTEBOOKS) >= 8


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_as_one_top_to_bottom_execution(path):
    nb, cells = _code_cells(path)
    counts = [cell.execution_count for cell in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"{path.name}: execution counts {counts} are not 1..{len(cells)}: "
        f"run `make execute NB={path.relative_to(ROOT)}`"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_without_errors_widget_state_or_timings(path):
    nb, cells = _code_cells(path)
    errors = [i for i, cell in enumerate(cells) if any(o.output_type == "error" for o in cell.outputs)]
    assert not errors, f"{path.name}: code cells {errors} have error outputs"
    assert "widgets" not in nb.metadata, f"{path.name}: saved widget state (a dead widget in the HTML)"
    timed = [i for i, cell in enumerate(nb.cells) if "execution" in cell.metadata]
    assert not timed, f"{path.name}: cells {timed} carry execution timing metadata"
