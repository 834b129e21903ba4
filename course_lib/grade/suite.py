"""Loading the tests of an exercise set: the public file and, for grading, the hidden one.

Both are read into memory and executed *before* any student code runs (their sha256 goes into
every feedback file), so nothing a submission does to the disk later can change them. A test file
defines ``QUESTIONS`` (public file: question id -> title, in order) and test functions marked with
``@graded`` (see ``testing.py``); a hidden file adds tests to the public file's questions.
"""

from __future__ import annotations

import hashlib
import types
from dataclasses import dataclass, field
from pathlib import Path


class SuiteError(Exception):
    """A test file that cannot be used (an instructor's error: the batch stops)."""


@dataclass
class TestCase:
    question: str
    name: str
    points: float
    function: object
    hidden: bool


@dataclass
class Suite:
    set_name: str
    questions: dict[str, str]
    tests: list[TestCase] = field(default_factory=list)
    sha256: dict[str, str | None] = field(default_factory=dict)

    def max_points(self, question: str) -> float:
        return sum(t.points for t in self.tests if t.question == question)

    def for_question(self, question: str, *, hidden: bool = True) -> list[TestCase]:
        return [t for t in self.tests if t.question == question and (hidden or not t.hidden)]


def _exec_tests(text: str, filename: str) -> dict:
    module = types.ModuleType(f"_grade_tests_{abs(hash(filename))}")
    module.__file__ = filename
    try:
        exec(compile(text, filename, "exec"), module.__dict__)  # noqa: S102 - the instructor's tests
    except Exception as exc:
        raise SuiteError(f"{filename}: {type(exc).__name__}: {exc}") from exc
    return module.__dict__


def _collect(namespace: dict, hidden: bool, questions: dict[str, str], filename: str) -> list[TestCase]:
    tests = []
    for value in namespace.values():
        mark = getattr(value, "_graded", None)
        if not (callable(value) and isinstance(mark, tuple)):
            continue
        question, points, name = mark
        if question not in questions:
            raise SuiteError(f"{filename}: test {name!r} is for unknown question {question!r}")
        tests.append(TestCase(question, name, points, value, hidden))
    return tests


def load_suite(set_name: str, public_text: str, public_name: str,
               hidden_text: str | None = None, hidden_name: str = "<hidden>") -> Suite:
    """The suite from the text of the public (and hidden) test file."""
    namespace = _exec_tests(public_text, public_name)
    questions = namespace.get("QUESTIONS")
    if not isinstance(questions, dict) or not questions:
        raise SuiteError(f"{public_name}: define QUESTIONS = {{question id: title}}")
    suite = Suite(set_name, dict(questions))
    suite.tests += _collect(namespace, False, suite.questions, public_name)
    suite.sha256["public"] = hashlib.sha256(public_text.encode()).hexdigest()
    suite.sha256["hidden"] = None
    if hidden_text is not None:
        hidden_ns = _exec_tests(hidden_text, hidden_name)
        suite.tests += _collect(hidden_ns, True, suite.questions, hidden_name)
        suite.sha256["hidden"] = hashlib.sha256(hidden_text.encode()).hexdigest()
    return suite


def load_suite_files(set_name: str, public: Path, hidden: Path | None = None) -> Suite:
    public_text = Path(public).read_text(encoding="utf-8")
    hidden_text = Path(hidden).read_text(encoding="utf-8") if hidden is not None else None
    return load_suite(set_name, public_text, str(public), hidden_text, str(hidden))


def repo_root() -> Path:
    """The checkout that holds course_lib (where ``exercises/`` lives)."""
    import course_lib

    return Path(course_lib.__file__).resolve().parent.parent


def public_tests_path(set_name: str) -> Path:
    return repo_root() / "exercises" / "tests" / f"{set_name}.py"
