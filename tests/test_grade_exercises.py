"""The exercise sets: solutions score full marks, blanks score zero, and ``check`` reports both.

Every set in exercises/source/ needs public tests (exercises/tests/<set>.py) and example hidden
tests (exercises/instructor/<set>_hidden.py). The notebooks themselves are trusted here, so they
are graded without the sandbox; test_grade_robustness.py grades them sandboxed and runs them.
"""

import ast
import contextlib
import io

import nbformat
import pytest

from course_lib.exercises import check
from course_lib.grade.author import student_notebook
from course_lib.grade.batch import Options, grade_submission
from course_lib.grade.extract import extract
from course_lib.grade.submissions import Submission
from course_lib.grade.suite import load_suite_files, repo_root

ROOT = repo_root()
SETS = sorted(p.stem for p in (ROOT / "exercises" / "source").glob("*.ipynb"))


def suite_of(name):
    return load_suite_files(name, ROOT / "exercises" / "tests" / f"{name}.py",
                            ROOT / "exercises" / "instructor" / f"{name}_hidden.py")


def grade(name, data: bytes):
    return grade_submission(Submission(name, ROOT, data), suite_of(name), Options(call_timeout=10.0))


@pytest.mark.parametrize("name", SETS)
def test_set_is_complete(name):
    suite = suite_of(name)
    assert len(suite.questions) >= 3
    for question in suite.questions:
        cases = suite.for_question(question)
        assert any(not c.hidden for c in cases), f"{question} has no public test"
        assert any(c.hidden for c in cases), f"{question} has no hidden test"
        assert suite.max_points(question) > 0


@pytest.mark.parametrize("name", SETS)
def test_solution_scores_full_marks(name):
    fb = grade(name, (ROOT / "exercises" / "source" / f"{name}.ipynb").read_bytes())
    failed = [(q, t["name"], t["message"]) for q, v in fb["questions"].items() for t in v["tests"] if t["status"] != "passed"]
    assert failed == [] and fb["score"] == fb["max_score"]
    assert fb["errors"] == []


@pytest.mark.parametrize("name", SETS)
def test_blank_scores_zero(name):
    fb = grade(name, (ROOT / "exercises" / f"{name}.ipynb").read_bytes())
    assert fb["score"] == 0
    assert all(q["status"] == "not_attempted" for q in fb["questions"].values())


def namespace_of(notebook) -> dict:
    """The notebook's graded definitions, run here (trusted notebooks only)."""
    namespace: dict = {}
    ex = extract(notebook)
    for statement in ex.statements:
        node = ast.parse(ex.sources[statement.cell]).body[statement.index]
        exec(compile(ast.Module([node], []), "<nb>", "exec"), namespace)
    return namespace


def printed_by_check(name, namespace, question=None) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        check(name, question, namespace=namespace)
    return out.getvalue()


@pytest.mark.parametrize("name", SETS)
def test_check_reports_passed_and_not_attempted(name):
    source = nbformat.read(ROOT / "exercises" / "source" / f"{name}.ipynb", as_version=4)
    solved = printed_by_check(name, namespace_of(source))
    assert "✅" in solved and "❌" not in solved and "⏳" not in solved and "⚠️" not in solved
    blank = printed_by_check(name, namespace_of(student_notebook(source)))
    assert "⏳ not attempted yet" in blank and "✅" not in blank and "❌" not in blank


def test_check_explains_a_failure_and_never_raises():
    namespace = {"gd_step": lambda x, grad, lr: x + lr * grad,
                 "gradient_descent": lambda *a: (_ for _ in ()).throw(ZeroDivisionError("oops")),
                 "LARGEST_STABLE_LR": "fast"}
    text = printed_by_check("ex01_gradient_descent", namespace)
    assert "❌ gd_step takes one step against the gradient" in text
    assert "should be [0.95 2.1 ], got [1.05 1.9 ]" in text
    assert "ZeroDivisionError: oops" in text
    assert "LARGEST_STABLE_LR should be a finite number" in text
    assert "`minibatch_gradient_variance` is not defined" in text
    assert "⚠️" in printed_by_check("no_such_set", {})
    assert "no question" in printed_by_check("ex01_gradient_descent", {}, "q9")


def test_check_warns_when_the_grader_would_not_see_a_name():
    """In the kernel the value exists, but it was set by code the grader does not run."""
    history = ["", "import numpy as np", 'LARGEST_STABLE_LR = float("0.552")',
               "with open('/dev/null'):\n    gd_step = lambda x, grad, lr: x - lr * grad"]
    namespace = {"In": history, "LARGEST_STABLE_LR": 0.552, "gd_step": lambda x, grad, lr: x - lr * grad}
    text = printed_by_check("ex01_gradient_descent", namespace)
    assert "`LARGEST_STABLE_LR` is not defined in your notebook in a form the grader reads" in text
    assert "`gd_step` is not defined in your notebook in a form the grader reads" in text
    history.append("LARGEST_STABLE_LR = 0.552")
    assert "✅ LARGEST_STABLE_LR" in printed_by_check("ex01_gradient_descent", namespace, "q3_stable_lr")
