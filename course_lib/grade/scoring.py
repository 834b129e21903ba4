"""Run a suite's tests against one student and add up the points.

A question's points are the sum of the points of its passed tests, public and hidden together, so
a submission that passes the public tests but fails hidden ones gets partial marks.
"""

from __future__ import annotations

from .suite import Suite
from .testing import Student, run_test


def score(suite: Suite, student: Student) -> dict:
    """Per question: title, points, max_points, status and per-test results (JSON-ready)."""
    questions = {}
    for question, title in suite.questions.items():
        tests = []
        for case in suite.for_question(question):
            outcome = run_test(case.function, student, hidden=case.hidden)
            tests.append({
                "name": case.name,
                "hidden": case.hidden,
                "status": outcome.status,
                "points": case.points if outcome.status == "passed" else 0.0,
                "max_points": case.points,
                "message": outcome.message,
                "seconds": round(outcome.seconds, 4),
            })
        questions[question] = {
            "title": title,
            "points": sum(t["points"] for t in tests),
            "max_points": sum(t["max_points"] for t in tests),
            "status": _status([t["status"] for t in tests]),
            "tests": tests,
        }
    return questions


def unscored(suite: Suite, reason: str) -> dict:
    """Zero for every test, with ``reason`` (an unreadable notebook, say)."""
    return {
        question: {
            "title": title, "points": 0.0, "max_points": suite.max_points(question), "status": "failed",
            "tests": [{"name": c.name, "hidden": c.hidden, "status": "failed", "points": 0.0,
                       "max_points": c.points, "message": reason, "seconds": 0.0}
                      for c in suite.for_question(question)],
        }
        for question, title in suite.questions.items()
    }


def _status(statuses: list[str]) -> str:
    if statuses and all(s == "passed" for s in statuses):
        return "passed"
    if all(s == "not_attempted" for s in statuses):
        return "not_attempted"
    return "partial" if "passed" in statuses else "failed"
