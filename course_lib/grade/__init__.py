"""Autograding of the course's exercise notebooks.

Grading
-------

Each exercise set has a source notebook with the solutions, ``exercises/source/<set>.ipynb``;
the student notebook ``exercises/<set>.ipynb`` is generated from it, public tests live in
``exercises/tests/<set>.py`` and an example of hidden tests in
``exercises/instructor/<set>_hidden.py`` (keep your real hidden tests outside the repository).

Students fill in functions and run ``check("<set>", "<question>")`` cells (``course_lib.exercises``),
which run the public tests in their kernel and print ✅ (passed), ❌ (failed, with the reason) or ⏳
(not attempted); a check also fails when the grader would not see a name the kernel has (a value
set by ``X = f(...)`` rather than a plain number). Cells that demonstrate unfinished functions
run inside ``with pending():``, which prints a hint instead of a NotImplementedError.

To grade a folder of submissions (one ``.ipynb`` per student, or one subfolder per student)::

    python -m course_lib.grade ex01_gradient_descent submissions/ \\
        --hidden ~/grading/ex01_gradient_descent_hidden.py \\
        --out grades.csv --json-dir feedback/ --sandbox

This writes ``grades.csv`` (a column per question, then ``total`` and ``max``) and one
``feedback/<student>.json`` per student: points per question, pass/fail and a message per test,
timings, errors. Options: ``--timeout`` (seconds per call of a student function, default 10),
``--load-timeout`` (seconds per top-level statement, such as an import, default 30),
``--budget`` (seconds per submission, default 120), ``--memory-mb`` (default 4096), ``--tests``
(other public tests), ``--run-notebook`` (also run each notebook top to bottom in a fresh kernel
with ``--cell-timeout``: reported in the feedback, never scored), ``--quiet``. The exit status is
0 when every submission was graded (whatever its score), 1 when the grader itself failed on some
(they are listed, and flagged ``grader_error`` in their feedback), 2 on a configuration error.

How a submission is scored:

1. The tests (public and hidden) and every submission are read into memory before any student
   code runs; the hidden tests' sha256 is recorded in each feedback file.
2. The notebook is *parsed*, not run: its top-level imports, functions, classes and constants
   (``X = 0.5``; literals and arithmetic only) are kept, the last definition winning as in
   "Restart and Run All". Other top-level code (plots, loops, calls) never runs for scoring.
3. Those definitions are loaded in a worker process (``python -I``, own process group, memory
   limit); a test calls the student's functions there one call at a time, with a timeout after
   which the worker's process group is killed and restarted (a function that hung or crashed is
   not called again, so one infinite loop costs only its own tests). Only plain data comes back
   (numbers, strings, lists, numeric arrays), and expected values are computed in the grader, so
   patching numpy, returning an always-equal object or tampering with the kernel gains nothing.
4. A question's points are the sum of its passed tests' points. A hidden test's feedback gives its
   name and whether it passed, never its expected values or its assertion message.

``--sandbox`` (use it for any untrusted batch; needs ``bwrap``: ``apt-get install bubblewrap``)
runs the worker, and with ``--run-notebook`` the notebook's kernel too, under bubblewrap: no
network, read-only system, Python, venv and course_lib, a private /tmp, its own /proc, nothing of
the grader's files (tests, hidden tests, other submissions, outputs). Without it student code runs
as the grader's user: it could read files on the machine, and a process it detaches with setsid
could outlive the grading.

Writing tests: see ``course_lib.grade.testing``. Generating a student notebook from its source:
``python -m course_lib.grade.author exercises/source/<set>.ipynb`` (see ``author``; the
test-suite fails when a committed student notebook differs from the generated one). Speed:
``benchmarks/grade_speed.py``.
"""
