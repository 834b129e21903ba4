"""Student notebooks generated from their sources (course_lib.grade.author)."""

from pathlib import Path

import nbformat
import pytest

from course_lib.grade import author
from course_lib.grade.suite import repo_root

SOURCES = sorted((repo_root() / "exercises" / "source").glob("*.ipynb"))


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_committed_student_notebook_is_the_generated_one(source):
    target, text = author.generate(source)
    assert target == repo_root() / "exercises" / source.name
    assert target.read_text(encoding="utf-8") == text, (
        f"{target.name} is stale: run python -m course_lib.grade.author {source.relative_to(repo_root())}")


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_student_notebook_has_no_solutions_or_outputs(source):
    student = nbformat.reads(author.generate(source)[1], as_version=4)
    nbformat.validate(student)
    for cell in student.cells:
        assert "SOLUTION" not in cell.source
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_markers():
    code = ("def f(x):\n    # BEGIN SOLUTION compute it\n    y = x + 1\n    return y\n    # END SOLUTION\n"
            "\n\ndef g():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n"
            "LR: float = 0.55  # SOLUTION\nKEEP = 1  # not a marker")
    assert author.strip_code(code) == (
        'def f(x):\n    raise NotImplementedError("compute it")\n'
        '\n\ndef g():\n    raise NotImplementedError("your code here")\n'
        "LR: float = None  # your answer\nKEEP = 1  # not a marker")
    md = "Predict:\n<!-- BEGIN SOLUTION -->\nsecret\n<!-- END SOLUTION -->\nend"
    assert author.strip_markdown(md) == "Predict:\n*Your answer here.*\nend"


@pytest.mark.parametrize("code", ["# BEGIN SOLUTION\nx = 1", "x = 1\n# END SOLUTION",
                                  "# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION"])
def test_unbalanced_markers_are_errors(code):
    with pytest.raises(author.MarkerError):
        author.strip_code(code)


def test_solution_only_cells_are_dropped_and_check_mode_reports_staleness(tmp_path: Path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("assert solution_works()")]
    nb.cells[1].metadata["tags"] = ["solution-only"]
    (tmp_path / "source").mkdir()
    source = tmp_path / "source" / "ex99.ipynb"
    nbformat.write(nb, source)
    assert author.main([str(source), "--check"]) == 1
    assert author.main([str(source)]) == 0
    assert author.main([str(source), "--check"]) == 0
    student = nbformat.read(tmp_path / "ex99.ipynb", as_version=4)
    assert [c.source for c in student.cells] == ["x = 1"]
