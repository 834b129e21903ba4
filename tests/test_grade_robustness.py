"""The grader against hostile and broken submissions, every one graded inside the sandbox.

One batch of generated submissions (built in a temporary folder, never in the checkout) is graded
once per module, sandboxed; each test then checks one property of the results. Cheats that walk
the file system run only inside the sandbox: the copies of the solutions and tests they look for
are temporary files, and the checkout is opened read-only at most.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from course_lib.grade import sandbox
from course_lib.grade.batch import Options, grade_submission
from course_lib.grade.report import write_feedback
from course_lib.grade.submissions import Submission
from course_lib.grade.suite import load_suite, repo_root

SET = "ex01_gradient_descent"
ROOT = repo_root()
SOURCE = ROOT / "exercises" / "source" / f"{SET}.ipynb"
STUDENT = ROOT / "exercises" / f"{SET}.ipynb"
PUBLIC = ROOT / "exercises" / "tests" / f"{SET}.py"
HIDDEN = ROOT / "exercises" / "instructor" / f"{SET}_hidden.py"

SANDBOX_OK, SANDBOX_WHY = sandbox.usable()
pytestmark = pytest.mark.skipif(not SANDBOX_OK, reason=f"sandbox unavailable: {SANDBOX_WHY}")

# A hidden test whose assertion message holds a value that must never reach the feedback.
SECRET = "0.31830988"
SECRET_TEST = f'''

@graded("q3_stable_lr", points=0)
def not_absurd(student):
    """LARGEST_STABLE_LR is not absurdly large"""
    assert student.LARGEST_STABLE_LR < 1.5, "expected {SECRET}, the secret"
'''

FUNCTIONS_WRONG = '''
def gd_step(x, grad, lr):
    return np.zeros(3)

def gradient_descent(grad_fn, x0, lr, steps):
    return np.zeros((1, 1))

def minibatch_gradient_variance(per_example_grads, b):
    return -7.0

def backtracking_step_size(f, grad_fn, x, t0=1.0, beta=0.5, c=1e-4):
    return -7.0

LARGEST_STABLE_LR = 1.9
'''


IMPORTS = "import numpy as np\nfrom course_lib.exercises import check, pending"


def with_cells(base: Path, *sources: str, replace: dict[str, str] | None = None) -> bytes:
    """``base`` notebook plus code cells appended (and cells replaced by id)."""
    nb = nbformat.read(base, as_version=4)
    for cell in nb.cells:
        if replace and cell.get("id") in replace:
            cell.source = replace[cell.id]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    return nbformat.writes(nb).encode()


def steal_solutions(paths: list[str], *, tamper: bool) -> str:
    """A cell that, at definition time, execs the solution cells of any notebook it can read."""
    return f'''
import json, glob

def _steal():
    for path in {paths!r} + glob.glob("/work/*/exercises/source/*.ipynb"):
        try:
            with open(path) as handle:
                text = handle.read()
        except OSError:
            continue
        if path.endswith(".ipynb"):
            for cell in json.loads(text)["cells"]:
                source = "".join(cell["source"])
                if cell["cell_type"] == "code" and "SOLUTION" in source:
                    exec(source, globals())
        if {tamper!r} and "/work/" not in path:
            try:
                with open(path, "a") as handle:
                    handle.write("\\n# tampered\\n")
            except OSError:
                pass
    return 0

def _trigger(_=_steal()):
    pass
'''


PROC_CHEAT = '''
import os, glob, json

def _from_proc():
    places = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        for link in ("cwd", "root", "exe"):
            try:
                places.add(os.readlink(f"/proc/{pid}/{link}"))
            except OSError:
                pass
        for name in ("cmdline", "environ"):
            try:
                with open(f"/proc/{pid}/{name}", "rb") as handle:
                    for item in handle.read().split(b"\\0"):
                        places.add(item.decode(errors="ignore").split("=", 1)[-1])
            except OSError:
                pass
    for place in [p for p in places if p.startswith("/")]:
        for base in {place, os.path.dirname(place), os.path.dirname(os.path.dirname(place))}:
            # a cheater knows which set is graded: only that set's notebooks
            for path in glob.glob(base + "/*ex01_gradient_descent*.ipynb") + glob.glob(base + "/*/source/ex01_gradient_descent.ipynb") + glob.glob(base + "/*hidden*"):
                try:
                    cells = json.load(open(path))["cells"]
                except Exception:
                    continue
                for cell in cells:
                    source = "".join(cell["source"])
                    if cell["cell_type"] == "code" and "SOLUTION" in source:
                        try:
                            exec(source, globals())
                        except Exception:
                            pass
    return 0

def _trigger(_=_from_proc()):
    pass
'''


def submissions(tmp: Path) -> dict[str, bytes]:
    """Every case: name -> notebook bytes."""
    solution_copy, hidden_copy = tmp / "solutions" / f"{SET}.ipynb", tmp / "hidden.py"
    return {
        "correct": SOURCE.read_bytes(),
        "blank": STUDENT.read_bytes(),
        "public_only": with_cells(SOURCE, "def minibatch_gradient_variance(per_example_grads, b):\n"
                                  "    G = np.asarray(per_example_grads)\n    return 5 / 12 if G.shape == (4, 1) else 0.0"),
        "raises": with_cells(SOURCE, "def gd_step(x, grad, lr):\n    raise ValueError('boom ' + str(list(x)))"),
        "stray_error": with_cells(SOURCE, "1 / 0", "undefined_function()", "def broken(:\n    pass",
                                  "%not_a_magic", "LARGEST_STABLE_LR = 2 / 3.618"),
        "loop_function": with_cells(SOURCE, "def gd_step(x, grad, lr):\n    while True:\n        pass"),
        "loop_toplevel": with_cells(SOURCE, "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                    "while True:\n    pass"),
        "child_escape": with_cells(SOURCE, "import os, signal\n\ndef gd_step(x, grad, lr):\n"
                                   "    if os.fork() == 0:\n        os.setsid()\n"
                                   "        signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                   "        while True:\n            pass\n    while True:\n        pass"),
        "exit_function": with_cells(SOURCE, "import os\n\ndef gd_step(x, grad, lr):\n    os._exit(0)"),
        "exit_cell": with_cells(SOURCE, "import os\nos._exit(1)"),
        "exit_at_definition": with_cells(SOURCE, "import os\n\ndef _quit(_=os._exit(3)):\n    pass"),
        "memory_hog": with_cells(SOURCE, "def gd_step(x, grad, lr):\n    return bytearray(16 << 30)"),
        "corrupt": b'{"cells": [{"cell_type": "code", "source": "def gd_step(',
        "not_a_notebook": json.dumps({"hello": "world"}).encode(),
        "lr_from_code": with_cells(SOURCE, replace={"q3-answer": 'LARGEST_STABLE_LR = float("0.552")'}),
        "renamed": with_cells(SOURCE, replace={"q2-code": "def minibatch_variance(per_example_grads, b):\n"
                                               "    return 0.0"}),
        "cheat_allclose": with_cells(STUDENT, "np.allclose = lambda *a, **k: True\n"
                                     "def _patch():\n    import numpy, numpy.testing, builtins\n"
                                     "    numpy.allclose = lambda *a, **k: True\n"
                                     "    numpy.testing.assert_allclose = lambda *a, **k: None\n"
                                     "    builtins.abs = lambda x: 0\n    return 0\n"
                                     "def _trigger(_=_patch()):\n    pass\n" + FUNCTIONS_WRONG),
        "cheat_always_equal": with_cells(STUDENT, '''
class Yes(float):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return True
    __le__ = __gt__ = __ge__ = __lt__
    def __abs__(self): return Yes(0.0)
    def __sub__(self, other): return Yes(0.0)
    __rsub__ = __sub__
    def __float__(self): return 0.125

class YesArray(np.ndarray):
    def __eq__(self, other): return np.ones(np.shape(other), dtype=bool)
    def __sub__(self, other): return np.zeros(np.shape(other)).view(YesArray)

def gd_step(x, grad, lr):
    return np.full(len(x), 99.0).view(YesArray)

def gradient_descent(grad_fn, x0, lr, steps):
    return np.full((steps + 1, len(x0)), 99.0).view(YesArray)

def minibatch_gradient_variance(per_example_grads, b):
    return Yes(-7.0)

def backtracking_step_size(f, grad_fn, x, t0=1.0, beta=0.5, c=1e-4):
    return Yes(-7.0)
'''),
        # Kernel tricks go in the first code cell, so that they act on every later cell.
        "cheat_custom_exc": with_cells(STUDENT, FUNCTIONS_WRONG.replace("return", "raise AssertionError(); return"),
                                       replace={"imports": IMPORTS + "\nget_ipython().set_custom_exc("
                                                "(BaseException,), lambda *a, **k: None)"}),
        "cheat_transformer": with_cells(STUDENT, FUNCTIONS_WRONG,
                                        replace={"imports": IMPORTS + "\ndef _blank(lines):\n    return []\n"
                                                 "get_ipython().input_transformers_cleanup.append(_blank)"}),
        "cheat_disk": with_cells(STUDENT, steal_solutions([str(solution_copy), str(hidden_copy), str(SOURCE)], tamper=True)),
        "cheat_read": with_cells(STUDENT, steal_solutions([str(solution_copy)], tamper=False)),
        "cheat_proc": with_cells(STUDENT, PROC_CHEAT),
    }


EXPECTED_TOTAL = {
    # A gd_step that raises costs question 1 but its test of zero steps (which never calls gd_step);
    # one that hangs or crashes costs all of it: gradient_descent hangs too, and is not run again.
    "correct": 15, "blank": 0, "public_only": 13, "raises": 11, "stray_error": 15, "loop_function": 10,
    "loop_toplevel": 15, "child_escape": 10, "exit_function": 10, "exit_cell": 15, "exit_at_definition": 15,
    "memory_hog": 11, "lr_from_code": 13, "corrupt": 0, "not_a_notebook": 0, "renamed": 11, "cheat_allclose": 0,
    "cheat_always_equal": 0, "cheat_custom_exc": 0, "cheat_transformer": 0, "cheat_disk": 0, "cheat_read": 0,
    "cheat_proc": 0,
}
RUN_NOTEBOOK = {"correct": 60.0, "blank": 60.0, "loop_toplevel": 3.0, "exit_cell": 60.0,
                "cheat_custom_exc": 60.0, "cheat_transformer": 60.0}


def marked_processes(marker: str) -> list[str]:
    """Live processes whose environment carries ``marker`` (everything the batch started)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                if marker.encode() in handle.read():
                    with open(f"/proc/{pid}/cmdline", "rb") as cmd:
                        found.append(f"{pid}: {cmd.read()[:120]!r}")
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("robustness")
    (tmp / "solutions").mkdir()
    (tmp / "solutions" / f"{SET}.ipynb").write_bytes(SOURCE.read_bytes())
    hidden_text = HIDDEN.read_text() + SECRET_TEST
    (tmp / "hidden.py").write_text(hidden_text)
    guarded = {p: hashlib.sha256(p.read_bytes()).hexdigest()
               for p in [tmp / "hidden.py", tmp / "solutions" / f"{SET}.ipynb", SOURCE, HIDDEN, PUBLIC]}
    cases = submissions(tmp)
    suite = load_suite(SET, PUBLIC.read_text(), str(PUBLIC), hidden_text, str(tmp / "hidden.py"))
    temp_root = tmp / "grader-tmp"
    temp_root.mkdir()
    marker = f"grade-test-{uuid.uuid4().hex}"
    feedback, jsons = {}, {}
    with pytest.MonkeyPatch.context() as mp:
        original_env = sandbox.minimal_env
        mp.setattr(sandbox, "minimal_env", lambda home: {**original_env(home), "GRADE_TEST_MARKER": marker})
        mp.setattr(tempfile, "tempdir", str(temp_root))
        for name, data in cases.items():
            options = Options(sandboxed=True, call_timeout=2.0, load_timeout=20.0, budget=60.0, memory_mb=4096,
                              run_notebook=name in RUN_NOTEBOOK, cell_timeout=RUN_NOTEBOOK.get(name, 60.0),
                              run_timeout=90.0, public_tests_text=PUBLIC.read_text())
            submission = Submission(name, tmp / f"{name}.ipynb", data)
            feedback[name] = grade_submission(submission, suite, options)
            jsons[name] = write_feedback(tmp / "json", feedback[name]).read_text()
    leftovers = marked_processes(marker)
    for _ in range(50):  # a killed pid namespace may take a moment to disappear from /proc
        if not leftovers:
            break
        time.sleep(0.1)
        leftovers = marked_processes(marker)
    return SimpleNamespace(feedback=feedback, jsons=jsons, leftovers=leftovers, temp_left=os.listdir(temp_root),
                           guarded=guarded, hidden_text=hidden_text)


@pytest.mark.parametrize("name", list(EXPECTED_TOTAL))
def test_score(batch, name):
    fb = batch.feedback[name]
    assert fb["sandboxed"] is True
    assert fb["max_score"] == 15
    summary = {q: v["points"] for q, v in fb["questions"].items()}
    assert fb["score"] == EXPECTED_TOTAL[name], (summary, fb["errors"])


def question(batch, name, q):
    return batch.feedback[name]["questions"][q]


def test_blank_is_not_attempted_everywhere(batch):
    for q in batch.feedback["blank"]["questions"].values():
        assert q["status"] == "not_attempted" and all(t["status"] == "not_attempted" for t in q["tests"])


def test_public_only_gets_partial_marks(batch):
    q2 = question(batch, "public_only", "q2_minibatch_variance")
    assert q2["status"] == "partial" and q2["points"] == 2 and q2["max_points"] == 4


def test_student_errors_are_explained_for_public_tests_only(batch):
    tests = question(batch, "raises", "q1_gradient_descent")["tests"]
    public = [t for t in tests if not t["hidden"]]
    hidden = [t for t in tests if t["hidden"] and t["status"] == "failed"]
    assert len(hidden) == 2
    assert all("ValueError: boom" in t["message"] and "code cell" in t["message"] for t in public)
    assert all("raised ValueError" in t["message"] and "boom" not in t["message"] for t in hidden)


def test_timeouts_and_crashes_cost_only_their_question(batch):
    for name, word in [("loop_function", "did not finish"), ("child_escape", "did not finish"),
                       ("exit_function", "ended the grading process")]:
        q1 = question(batch, name, "q1_gradient_descent")
        assert q1["points"] == 0
        assert word in q1["tests"][0]["message"]
        assert 1 <= batch.feedback[name]["worker_restarts"] <= 3
    message = question(batch, "memory_hog", "q1_gradient_descent")["tests"][0]["message"]
    assert "MemoryError" in message or "ended the grading process" in message


def test_unreadable_notebooks_score_zero_with_a_reason(batch):
    for name in ("corrupt", "not_a_notebook"):
        fb = batch.feedback[name]
        assert fb["errors"] and "notebook" in fb["errors"][0]


def test_missing_function_is_named(batch):
    q2 = question(batch, "renamed", "q2_minibatch_variance")
    assert q2["points"] == 0
    assert "`minibatch_gradient_variance` is not defined" in q2["tests"][0]["message"]


def test_a_value_set_by_code_is_explained(batch):
    message = question(batch, "lr_from_code", "q3_stable_lr")["tests"][0]["message"]
    assert "top-level code, which the grader does not run" in message


def test_stray_top_level_code_is_reported_not_run(batch):
    fb = batch.feedback["stray_error"]
    assert any("syntax error" in e for e in fb["errors"])


def test_notebook_runs(batch):
    runs = {name: batch.feedback[name]["notebook_run"] for name in RUN_NOTEBOOK}
    assert runs["correct"]["status"] == "completed", runs["correct"]
    assert runs["blank"]["status"] == "completed", runs["blank"]
    assert runs["loop_toplevel"]["status"] == "timeout"
    assert runs["exit_cell"]["status"] == "kernel_died"
    assert runs["cheat_custom_exc"]["status"] in ("completed", "errors")
    assert all(run["sandboxed"] for run in runs.values())
    assert batch.feedback["raises"]["notebook_run"]["status"] == "skipped"


def test_feedback_never_holds_hidden_values(batch):
    import numpy as np

    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    threshold = 2 / np.linalg.eigvalsh(A).max()
    secrets = [SECRET, f"{threshold:.6f}", f"{threshold:.4f}"]
    for name, text in batch.jsons.items():
        for secret in secrets:
            assert secret not in text, (name, secret)
    for fb in batch.feedback.values():
        for q in fb["questions"].values():
            for t in q["tests"]:
                if t["hidden"]:
                    assert t["message"] == "" or t["message"].startswith(("hidden test", "no score"))


def test_hidden_tests_hash_is_recorded(batch):
    digest = hashlib.sha256(batch.hidden_text.encode()).hexdigest()
    assert all(fb["tests_sha256"]["hidden"] == digest for fb in batch.feedback.values())


def test_nothing_left_behind(batch):
    assert batch.leftovers == []
    assert batch.temp_left == []


def test_files_on_disk_are_untouched(batch):
    for path, digest in batch.guarded.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, path


@pytest.mark.parametrize("cheat", ["read", "proc"])
def test_the_cheats_work_without_the_sandbox(tmp_path, cheat):
    """Controls: unsandboxed, the read-only cheats do find the solutions; the sandbox stops them.

    Both only read and glob fixed patterns (no walking, no writing), so they are safe to run here.
    """
    (tmp_path / "solutions").mkdir()
    copy = tmp_path / "solutions" / f"{SET}.ipynb"
    copy.write_bytes(SOURCE.read_bytes())
    if cheat == "read":
        cell = steal_solutions([str(copy)], tamper=False).replace('glob.glob("/work/*/exercises/source/*.ipynb")', "[]")
    else:
        cell = PROC_CHEAT
    suite = load_suite(SET, PUBLIC.read_text(), str(PUBLIC), HIDDEN.read_text(), str(HIDDEN))
    fb = grade_submission(Submission("control", copy, with_cells(STUDENT, cell)), suite,
                          Options(sandboxed=False, call_timeout=5.0))
    assert fb["score"] == 15


PROBE = '''
import os, socket, importlib.util

def probe(paths, try_writes):
    seen = {"root": sorted(os.listdir("/")), "pids": [int(p) for p in os.listdir("/proc") if p.isdigit()],
            "interfaces": [name for _, name in socket.if_nameindex()], "env": sorted(os.environ),
            "exercises_importable": importlib.util.find_spec("exercises") is not None,
            "visible": [p for p in paths if os.path.exists(p)], "writable": []}
    for path in (paths + ["/tmp/probe"]) if try_writes else []:
        try:
            with open(os.path.join(path, "probe") if os.path.isdir(path) else path, "a"):
                seen["writable"].append(path)
        except OSError:
            pass
    try:
        socket.create_connection(("192.0.2.1", 80), timeout=1)
        seen["network"] = True
    except OSError:
        seen["network"] = False
    return seen
'''


@pytest.mark.parametrize("sandboxed", [True, False])
def test_what_student_code_sees(tmp_path, sandboxed):
    from course_lib.grade.extract import extract, read_notebook
    from course_lib.grade.session import StudentSession
    import course_lib

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(PROBE)]
    session = StudentSession(extract(read_notebook(nbformat.writes(nb).encode())), sandboxed=sandboxed,
                             memory_bytes=4 << 30, call_timeout=10.0, budget=30.0)
    grader_files = [str(tmp_path), str(PUBLIC), str(HIDDEN), str(SOURCE), os.getcwd()]
    try:
        session.open()
        # Writes are tried only inside the sandbox: outside it they would land in the checkout.
        seen = session.call("probe", [grader_files + [str(Path(course_lib.__file__).parent)], sandboxed], {})
    finally:
        session.close()
    assert seen["exercises_importable"] is False  # python -I: only the venv and course_lib
    assert set(seen["env"]) <= set(sandbox.minimal_env("/tmp")) | {"PWD"}  # nothing of the grader's
    if sandboxed:
        # Only course_lib (read-only) and, as an empty skeleton, the folders above the binds.
        assert not {str(tmp_path), str(PUBLIC), str(HIDDEN), str(SOURCE)} & set(seen["visible"])
        assert str(Path(course_lib.__file__).parent) in seen["visible"]
        # Writes land only in the sandbox's private /tmp: a checkout under /tmp (a CI clone) shows
        # as a writable folder skeleton there, but nothing written reaches the host.
        assert "/tmp/probe" in seen["writable"]
        assert all(Path(p).is_relative_to("/tmp") for p in seen["writable"]), seen["writable"]
        for path in grader_files + [str(Path(course_lib.__file__).parent)]:
            assert not (Path(path) / "probe").exists(), f"a sandboxed write reached the host: {path}"
        assert max(seen["pids"]) < 10  # its own pid namespace
        assert seen["interfaces"] == ["lo"] and seen["network"] is False
        assert not {"home", "var", "srv", "opt", "mnt"} & set(seen["root"])
