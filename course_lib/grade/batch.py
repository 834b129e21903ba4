"""Grading one submission, and a batch of them, into feedback dictionaries."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

from . import scoring
from .extract import SubmissionError, extract, read_notebook
from .session import StudentSession
from .submissions import Submission
from .suite import Suite
from .testing import Student


@dataclass
class Options:
    sandboxed: bool = False
    call_timeout: float = 10.0  # seconds per call of a student function
    load_timeout: float = 30.0  # seconds per top-level statement (an import of torch takes seconds)
    budget: float = 120.0  # seconds for all of one submission's scoring
    memory_mb: int = 4096  # address-space limit of the worker
    run_notebook: bool = False  # also run the notebook top to bottom (reported, not scored)
    cell_timeout: float = 30.0
    run_timeout: float = 300.0
    public_tests_text: str = ""  # copied next to the notebook for its check() cells


def grade_submission(submission: Submission, suite: Suite, options: Options) -> dict:
    """The feedback for one submission (JSON-ready). Never raises for a bad submission."""
    start = time.perf_counter()
    timings: dict[str, float] = {}
    feedback = {
        "student": submission.student,
        "set": suite.set_name,
        "file": str(submission.path),
        "submission_sha256": submission.sha256,
        "tests_sha256": dict(suite.sha256),
        "sandboxed": options.sandboxed,
        "score": 0.0,
        "max_score": sum(suite.max_points(q) for q in suite.questions),
        "questions": {},
        "errors": [],
        "extraction": None,
        "notebook_run": {"status": "skipped", "message": "not requested (--run-notebook)"},
        "timings": timings,
    }
    notebook = None
    try:
        if submission.data is None:
            raise SubmissionError(submission.error)
        notebook = read_notebook(submission.data)
        extraction = extract(notebook)
    except SubmissionError as exc:
        feedback["errors"].append(str(exc))
        feedback["questions"] = scoring.unscored(suite, f"no score: {exc}")
    else:
        timings["extract"] = round(time.perf_counter() - start, 3)
        feedback["extraction"] = extraction.summary()
        feedback["errors"] += extraction.problems
        session = StudentSession(extraction, sandboxed=options.sandboxed, memory_bytes=options.memory_mb << 20,
                                 call_timeout=options.call_timeout, load_timeout=options.load_timeout,
                                 budget=options.budget)
        try:
            t = time.perf_counter()
            session.open()
            timings["load"] = round(time.perf_counter() - t, 3)
            t = time.perf_counter()
            feedback["questions"] = scoring.score(suite, Student(session))
            timings["tests"] = round(time.perf_counter() - t, 3)
        except Exception as exc:  # noqa: BLE001 - the grader's own failure (bwrap gone, disk full)
            # Recorded and flagged, not raised: the rest of the batch is still graded, and the
            # command exits non-zero so that nobody mistakes this 0 for the student's.
            feedback["grader_error"] = f"{type(exc).__name__}: {exc}"
            feedback["questions"] = scoring.unscored(suite, "not graded: the grader failed (see grader_error)")
        finally:
            session.close()
        feedback["errors"] += [f"{e['where']}: {e['type']}: {e['message']}".lstrip(": ") for e in session.load_errors]
        feedback["errors"] += session.events
        feedback["worker_restarts"] = session.restarts
    if notebook is not None and options.run_notebook:
        from .notebook_run import run_notebook

        support = {f"tests/{suite.set_name}.py": options.public_tests_text} if options.public_tests_text else {}
        feedback["notebook_run"] = run_notebook(notebook, sandboxed=options.sandboxed, cell_timeout=options.cell_timeout,
                                                total_timeout=options.run_timeout, support_files=support)
        timings["notebook_run"] = feedback["notebook_run"]["seconds"]
    feedback["score"] = sum(q["points"] for q in feedback["questions"].values())
    timings["total"] = round(time.perf_counter() - start, 3)
    return feedback


def grade_batch(submissions: list[Submission], suite: Suite, options: Options, *, progress: bool = True):
    """Yield the feedback of each submission in turn, with a tqdm progress bar on stderr."""
    from tqdm import tqdm

    bar = tqdm(submissions, desc=f"grading {suite.set_name}", unit="submission", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    for submission in bar:
        bar.set_postfix_str(submission.student[:20])
        yield grade_submission(submission, suite, options)
