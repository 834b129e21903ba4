"""``python -m course_lib.grade`` end to end: a folder of submissions in, a CSV and JSON files out."""

import csv
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from course_lib.grade import sandbox
from course_lib.grade.suite import repo_root

ROOT = repo_root()
SET = "ex01_gradient_descent"
HIDDEN = ROOT / "exercises" / "instructor" / f"{SET}_hidden.py"


def grader(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "course_lib.grade", *map(str, args)], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


@pytest.fixture
def folder(tmp_path):
    subs = tmp_path / "submissions"
    subs.mkdir()
    shutil.copy(ROOT / "exercises" / "source" / f"{SET}.ipynb", subs / "alice.ipynb")
    (subs / "bob").mkdir()
    shutil.copy(ROOT / "exercises" / f"{SET}.ipynb", subs / "bob" / f"{SET}.ipynb")
    (subs / "bob" / "scratch.ipynb").write_text("{}")
    (subs / "carol.ipynb").write_text("this is not a notebook")
    (subs / "dave").mkdir()
    hidden = tmp_path / "hidden.py"
    shutil.copy(HIDDEN, hidden)
    return tmp_path, subs, hidden


def test_grades_a_folder(folder):
    tmp, subs, hidden = folder
    args = [SET, subs, "--hidden", hidden, "--out", tmp / "grades.csv", "--json-dir", tmp / "json"]
    if sandbox.usable()[0]:
        args.append("--sandbox")
    done = grader(*args)
    assert done.returncode == 0, done.stderr
    assert "grading ex01_gradient_descent" in done.stderr and "100%" in done.stderr
    with open(tmp / "grades.csv") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["student", "q1_gradient_descent", "q2_minibatch_variance", "q3_stable_lr",
                       "q4_backtracking", "total", "max"]
    assert {r[0]: (r[-2], r[-1]) for r in rows[1:]} == {
        "alice": ("15", "15"), "bob": ("0", "15"), "carol": ("0", "15"), "dave": ("0", "15")}
    assert sorted(p.name for p in (tmp / "json").iterdir()) == ["alice.json", "bob.json", "carol.json", "dave.json"]
    alice = json.loads((tmp / "json" / "alice.json").read_text())
    assert alice["tests_sha256"]["hidden"] == hashlib.sha256(hidden.read_bytes()).hexdigest()
    assert alice["questions"]["q1_gradient_descent"]["points"] == 5
    assert {"extract", "load", "tests", "total"} <= set(alice["timings"])
    dave = json.loads((tmp / "json" / "dave.json").read_text())
    assert "no notebook" in dave["errors"][0]


def test_public_tests_only_and_one_notebook(folder):
    tmp, subs, _ = folder
    done = grader(SET, subs / "alice.ipynb", "--out", tmp / "g.csv", "--json-dir", tmp / "j", "--quiet")
    assert done.returncode == 0, done.stderr
    assert "public tests only" in done.stderr
    assert list(csv.reader(open(tmp / "g.csv")))[1] == ["alice", "2", "2", "0", "2", "6", "6"]


def test_configuration_errors_stop_before_grading(folder):
    tmp, subs, hidden = folder
    assert grader(SET, subs, "--hidden", tmp / "nope.py").returncode == 2
    assert grader("ex99_unknown", subs).returncode == 2
    assert grader(SET, tmp / "missing").returncode == 2
    if sandbox.usable()[0]:
        done = grader(SET, subs, "--sandbox", "--json-dir", Path(sys.prefix) / "feedback")
        assert done.returncode == 2 and "visible to student code" in done.stderr
    assert not (Path(sys.prefix) / "feedback").exists()


def test_a_grader_failure_is_flagged_and_the_batch_goes_on(monkeypatch, tmp_path):
    from course_lib.grade import session
    from course_lib.grade.batch import Options, grade_batch
    from course_lib.grade.submissions import discover
    from course_lib.grade.suite import load_suite_files

    def broken_start(self):
        raise OSError("bwrap vanished")

    monkeypatch.setattr(session.WorkerProcess, "start", broken_start)
    shutil.copy(ROOT / "exercises" / "source" / f"{SET}.ipynb", tmp_path / "a.ipynb")
    shutil.copy(ROOT / "exercises" / "source" / f"{SET}.ipynb", tmp_path / "b.ipynb")
    suite = load_suite_files(SET, ROOT / "exercises" / "tests" / f"{SET}.py", HIDDEN)
    feedbacks = list(grade_batch(discover(tmp_path, SET), suite, Options(), progress=False))
    assert [f["grader_error"] for f in feedbacks] == ["OSError: bwrap vanished"] * 2
    assert all(f["score"] == 0 for f in feedbacks)
