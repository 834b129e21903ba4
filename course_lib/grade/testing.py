"""What a test file uses: the ``graded`` decorator, assertions, and the ``student`` it is handed.

A test file (``exercises/tests/<set>.py`` public, a hidden one passed with ``--hidden``) is plain
Python::

    import numpy as np
    from course_lib.grade.testing import Code, assert_close, graded

    QUESTIONS = {"q1_gd": "Gradient descent"}   # public file only: question ids, in order

    @graded("q1_gd", points=1)
    def one_step(student):
        "One step from x=[1, 2] along grad=[0.5, -1] with lr=0.1."
        assert_close(student.gd_step(np.array([1.0, 2.0]), np.array([0.5, -1.0]), 0.1),
                     [0.95, 2.1], "gd_step([1, 2], [0.5, -1], 0.1)")

A test receives ``student``: ``student.f(...)`` calls the student's function ``f`` and
``student.X`` reads their top-level constant ``X``. Arguments and results are plain data (see
``codec.py``): a result array comes back as a numpy array whatever the student returned (numpy,
torch, list). Pass a function argument as ``Code("lambda x: ...", name=value)``. In the grader the
student's code runs in a separate process and expected values are computed here, in the test;
in the student's kernel (``check``) the same test calls their functions directly.

A test passes when it returns; it fails on AssertionError (its message is the feedback for a
public test; a hidden test's feedback never includes it), when the student's code raises, times
out or returns something unreadable; it counts as *not attempted* when their code raises
NotImplementedError or a constant is still ``None``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .codec import AsTensor, Code  # noqa: F401 - re-exported for test files

__all__ = ["graded", "Code", "AsTensor", "assert_close", "assert_number", "fixed_rng", "StudentError",
           "Student", "Outcome", "run_test"]


def graded(question: str, points: float = 1, name: str | None = None):
    """Mark a test function as one graded test of ``question``, worth ``points``.

    ``name`` (default: the first line of the docstring, else the function name) is what the
    student sees, also for a hidden test: do not put hidden values in it.
    """

    def mark(function):
        title = name or (function.__doc__ or "").strip().split("\n")[0] or function.__name__
        function._graded = (question, float(points), title)
        return function

    return mark


# --------------------------------------------------------------------------------------------
# Assertions with feedback a student can act on


def assert_close(actual, expected, what: str, *, rtol: float = 1e-6, atol: float = 1e-9) -> None:
    """``actual`` equals ``expected`` within tolerances, with the same shape."""
    expected = np.asarray(expected, dtype=float)
    try:
        got = np.asarray(actual, dtype=float)
    except (TypeError, ValueError):
        raise AssertionError(f"{what} should be numbers of shape {expected.shape}, got {_short(actual)}") from None
    if got.shape != expected.shape:
        raise AssertionError(f"{what} should have shape {expected.shape}, got shape {got.shape}")
    if not np.allclose(got, expected, rtol=rtol, atol=atol):
        raise AssertionError(f"{what} should be {_short(expected)}, got {_short(got)}")


def fixed_rng(seed: int) -> np.random.Generator:
    """A fresh numpy generator for one test: every submission is graded on the same inputs."""
    return np.random.default_rng(seed)


def assert_number(value, what: str) -> float:
    """``value`` is one finite real number; returns it as a float."""
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise AssertionError(f"{what} should be a finite number, got {_short(value)}")
    return float(value)


def _short(value, limit: int = 160) -> str:
    if isinstance(value, np.ndarray):
        text = np.array2string(value, precision=6, threshold=20)
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------------------------
# The student, as a test sees it


class StudentError(Exception):
    """The student's code did not produce a value.

    ``kind`` is one of ``raised``, ``timeout``, ``crashed``, ``missing``, ``unreadable``,
    ``not_attempted``, ``budget``. ``str()`` is the full message (public tests); ``brief`` omits
    anything that depends on the test's inputs (hidden tests).
    """

    def __init__(self, kind: str, message: str, brief: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.brief = brief if brief is not None else message


class Student:
    """The student's notebook as seen by a test: functions to call, constants to read.

    The backend is a ``session.StudentSession`` in the grader (worker process) or a
    ``course_lib.exercises.KernelBackend`` in the student's kernel; both offer ``kind(name)``
    (``"function"``, ``"value"`` or None), ``call(name, args, kwargs)`` and ``get(name)``.
    """

    def __init__(self, backend):
        self._backend = backend

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        kind = self._backend.kind(name)
        if kind is None:
            hint = getattr(self._backend, "missing_hint", lambda _: "")(name)
            raise StudentError("missing", f"`{name}` is not defined in your notebook{hint}")
        if kind == "function":
            return lambda *args, **kwargs: self._backend.call(name, list(args), kwargs)
        value = self._backend.get(name)
        if value is None:
            raise StudentError("not_attempted", f"`{name}` is still None: record your answer")
        return value


@dataclass
class Outcome:
    """The result of one test: ``status`` is passed, failed or not_attempted."""

    status: str
    message: str
    seconds: float


def run_test(test, student: Student, *, hidden: bool) -> Outcome:
    """Run one test function against ``student``; never raises (but KeyboardInterrupt)."""
    start = time.perf_counter()
    try:
        test(student)
    except StudentError as exc:
        status = "not_attempted" if exc.kind == "not_attempted" else "failed"
        message = (f"hidden test: {exc.brief}" if hidden else str(exc))
    except AssertionError as exc:
        status = "failed"
        message = "hidden test failed" if hidden else (str(exc) or "the check failed")
    except Exception as exc:  # noqa: BLE001 - e.g. the student returned None where numbers were due
        status = "failed"
        message = ("hidden test failed: your result could not be checked" if hidden
                   else f"your result could not be checked ({type(exc).__name__}: {exc})")
    else:
        status, message = "passed", ""
    return Outcome(status, message, time.perf_counter() - start)
