"""Command line of the grader: ``python -m course_lib.grade`` (usage: see ``course_lib.grade``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import sandbox
from .batch import Options, grade_batch
from .report import write_csv, write_feedback
from .submissions import discover
from .suite import SuiteError, load_suite, public_tests_path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.grade",
        description="Grade the notebooks of one exercise set (details: pydoc course_lib.grade).",
    )
    parser.add_argument("set", help="exercise set, e.g. ex01_gradient_descent")
    parser.add_argument("target", type=Path, help="a submitted notebook, or a folder of submissions")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"), help="CSV of points (default grades.csv)")
    parser.add_argument("--json-dir", type=Path, default=Path("feedback"),
                        help="folder for one JSON feedback file per student (default feedback/)")
    parser.add_argument("--hidden", type=Path, help="hidden tests (kept outside the repository)")
    parser.add_argument("--tests", type=Path, help="public tests (default exercises/tests/<set>.py)")
    parser.add_argument("--sandbox", action="store_true", help="run student code under bubblewrap")
    parser.add_argument("--run-notebook", action="store_true",
                        help="also run each notebook top to bottom in a fresh kernel (reported, not scored)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per call of a student function")
    parser.add_argument("--load-timeout", type=float, default=30.0,
                        help="seconds per top-level statement of a submission (imports)")
    parser.add_argument("--budget", type=float, default=120.0, help="seconds of scoring per submission")
    parser.add_argument("--cell-timeout", type=float, default=30.0, help="seconds per cell (--run-notebook)")
    parser.add_argument("--memory-mb", type=int, default=4096, help="address-space limit of student code")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    error = _preflight(args)
    if error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    # Everything the grader needs is read before any student code runs: tests, then submissions.
    public = args.tests or public_tests_path(args.set)
    public_text = public.read_text(encoding="utf-8")
    hidden_text = args.hidden.read_text(encoding="utf-8") if args.hidden else None
    try:
        suite = load_suite(args.set, public_text, str(public), hidden_text, str(args.hidden))
    except SuiteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if hidden_text is None:
        print("warning: no --hidden tests: grading with the public tests only", file=sys.stderr)
    submissions = discover(args.target, args.set)

    options = Options(sandboxed=args.sandbox, call_timeout=args.timeout, load_timeout=args.load_timeout,
                      budget=args.budget,
                      memory_mb=args.memory_mb, run_notebook=args.run_notebook,
                      cell_timeout=args.cell_timeout, public_tests_text=public_text)
    feedbacks = []
    for feedback in grade_batch(submissions, suite, options, progress=not args.quiet):
        write_feedback(args.json_dir, feedback)
        feedbacks.append(feedback)
    write_csv(args.out, list(suite.questions), feedbacks)
    failed = [f["student"] for f in feedbacks if f.get("grader_error")]
    if failed:
        print(f"error: the grader failed on {len(failed)} submission(s), scored 0 but not graded: "
              f"{', '.join(failed[:10])} (see grader_error in their feedback)", file=sys.stderr)
        return 1
    if not args.quiet:
        total = sum(f["score"] for f in feedbacks)
        print(f"graded {len(feedbacks)} submission(s) of {args.set}: mean "
              f"{total / max(len(feedbacks), 1):.2f} / {suite_max(suite):g}; {args.out}, {args.json_dir}/",
              file=sys.stderr)
    return 0


def suite_max(suite) -> float:
    return sum(suite.max_points(q) for q in suite.questions)


def _preflight(args) -> str:
    public = args.tests or public_tests_path(args.set)
    if not public.is_file():
        return f"no public tests at {public} (pass --tests)"
    if args.hidden and not args.hidden.is_file():
        return f"no hidden tests at {args.hidden}"
    if not args.target.exists():
        return f"no submission at {args.target}"
    if args.sandbox:
        ok, why = sandbox.usable()
        if not ok:
            return f"--sandbox: {why}"
        # The sandbox shows student code the venv and course_lib: grader files there would leak.
        for label, path in (("hidden tests", args.hidden), ("submissions", args.target),
                            ("the CSV", args.out), ("the feedback folder", args.json_dir)):
            if path is None:
                continue
            resolved = path.resolve()
            for root in sandbox.read_only_roots():
                if resolved.is_relative_to(root):
                    return f"--sandbox: {label} ({path}) would be visible to student code inside {root}"
    return ""
