"""Helpers for the exercise notebooks: ``check`` runs the public tests, ``pending`` tolerates blanks.

In a student notebook::

    from course_lib.exercises import check, pending

    check("ex01_gradient_descent", "q1_gradient_descent")   # prints ✅ / ❌ / ⏳ per public test

    with pending():          # a demo that uses a function the student has not written yet
        plot(gradient_descent(...))

``check`` runs the same public tests as the grader, on the functions defined in the notebook,
with arguments and results passed through the same plain-data conversion (so a result that the
grader could not read fails here too). It never raises, and it only knows the public tests.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from .grade import codec
from .grade.extract import ungraded_binding
from .grade.suite import SuiteError, load_suite, repo_root
from .grade.testing import Student, StudentError, run_test

_MARK = {"passed": "✅", "failed": "❌", "not_attempted": "⏳"}


class KernelBackend:
    """The notebook's own namespace as the backend of ``testing.Student``."""

    def __init__(self, namespace: dict):
        self.namespace = namespace

    def kind(self, name: str) -> str | None:
        if name.startswith("_") or name not in self.namespace:
            return None
        value = self.namespace[name]
        if type(value).__name__ == "module" or self.missing_hint(name):
            return None
        return "function" if callable(value) else "value"

    def missing_hint(self, name: str) -> str:
        """Why the grader would not find ``name`` although this kernel has it ('' if it would)."""
        history = self.namespace.get("In")  # IPython's list of the cells run, in order
        if not isinstance(history, list):
            return ""
        reason = ungraded_binding(history, name)
        return f" in a form the grader reads: {reason}" if reason else ""

    def call(self, name: str, args: list, kwargs: dict):
        function = self.namespace[name]
        args = codec.decode_for_student(codec.encode(args))
        kwargs = codec.decode_for_student(codec.encode(kwargs))
        try:
            result = function(*args, **kwargs)
        except NotImplementedError:
            raise StudentError("not_attempted", f"`{name}` still raises NotImplementedError") from None
        except Exception as exc:  # noqa: BLE001 - reported as the test's failure
            raise StudentError("raised", f"`{name}` raised {type(exc).__name__}: {exc}") from None
        return self._plain(result, f"`{name}` returned")

    def get(self, name: str):
        return self._plain(self.namespace[name], f"`{name}` is")

    @staticmethod
    def _plain(value, what: str):
        try:
            return codec.decode(codec.encode(value))
        except codec.NotPlainData as exc:
            raise StudentError("unreadable", f"{what} {exc}, which the grader cannot read: "
                               "use numbers, lists or numpy arrays") from None


def public_tests_file(set_name: str) -> Path | None:
    """The public tests of ``set_name``: next to the notebook (``tests/``) or in the checkout."""
    candidates = []
    if os.environ.get("COURSE_EXERCISE_TESTS"):
        candidates.append(Path(os.environ["COURSE_EXERCISE_TESTS"]) / f"{set_name}.py")
    candidates += [Path.cwd() / "tests" / f"{set_name}.py", repo_root() / "exercises" / "tests" / f"{set_name}.py"]
    return next((p for p in candidates if p.is_file()), None)


def check(set_name: str, question: str | None = None, *, namespace: dict | None = None) -> None:
    """Run the public tests of ``question`` (every question if None) and print the results.

    The functions and constants tested are those of the calling notebook (or ``namespace``).
    """
    try:
        namespace = namespace if namespace is not None else sys._getframe(1).f_globals
        path = public_tests_file(set_name)
        if path is None:
            print(f"⚠️ The public tests of {set_name} were not found (looked in ./tests and the course checkout).")
            return
        suite = load_suite(set_name, path.read_text(encoding="utf-8"), str(path))
        questions = [question] if question is not None else list(suite.questions)
        unknown = [q for q in questions if q not in suite.questions]
        if unknown:
            print(f"⚠️ {set_name} has no question {unknown[0]!r}; its questions are {', '.join(suite.questions)}.")
            return
        student = Student(KernelBackend(namespace))
        for q in questions:
            _report(suite, q, student)
    except SuiteError as exc:
        print(f"⚠️ The public tests could not be loaded: {exc}")
    except Exception as exc:  # noqa: BLE001 - a check must never break the notebook
        print(f"⚠️ The check itself failed ({type(exc).__name__}: {exc}); please report this.")


def _report(suite, question: str, student: Student) -> None:
    cases = suite.for_question(question, hidden=False)
    print(f"{question}: {suite.questions[question]}")
    outcomes = [run_test(case.function, student, hidden=False) for case in cases]
    if all(o.status == "not_attempted" for o in outcomes):
        print(f"  ⏳ not attempted yet: {outcomes[0].message}" if outcomes else "  (no public tests)")
        return
    for case, outcome in zip(cases, outcomes):
        line = f"  {_MARK[outcome.status]} {case.name}"
        if outcome.status != "passed":
            line += f"\n     {outcome.message}"
        print(line)
    passed = sum(o.status == "passed" for o in outcomes)
    print(f"  {passed} of {len(outcomes)} public tests passed (the grade also uses hidden tests).")


@contextlib.contextmanager
def pending(message: str = "This cell uses a function you have not written yet: "
                           "fill it in above, then run this cell again."):
    """Run a block that may call unfinished functions: NotImplementedError prints a hint instead."""
    try:
        yield
    except NotImplementedError:
        if "matplotlib.pyplot" in sys.modules:  # drop the half-drawn figure of the failed block
            sys.modules["matplotlib.pyplot"].close("all")
        print(f"⏳ {message}")
