"""One submission's code loaded in a worker, as the backend of ``testing.Student``.

The session starts one worker per submission and reuses it for every call of every test (start-up
is the main cost of grading). After a timeout or a crash it starts a fresh worker and replays the
statements that had loaded fine, skipping any statement that itself timed out, at most
``max_restarts`` times. A time budget bounds the whole submission.
"""

from __future__ import annotations

import time

from . import codec
from .extract import Extraction
from .testing import StudentError
from .worker_client import WorkerGone, WorkerProcess, WorkerTimeout


class StudentSession:
    def __init__(self, extraction: Extraction, *, sandboxed: bool, memory_bytes: int,
                 call_timeout: float, budget: float, load_timeout: float = 30.0, max_restarts: int = 5):
        self.extraction = extraction
        self.sandboxed = sandboxed
        self.memory_bytes = memory_bytes
        self.call_timeout = call_timeout
        self.load_timeout = load_timeout  # per top-level statement: imports (torch) can take seconds
        self.deadline = time.monotonic() + budget
        self.max_restarts = max_restarts
        self.restarts = 0
        self.worker: WorkerProcess | None = None
        self.loaded: list = []  # statements that ran (with or without an exception): replayed
        self.load_errors: list[dict] = []
        self.events: list[str] = []  # timeouts and crashes, for the feedback
        self.poisoned: dict[str, tuple[str, str]] = {}  # name -> (kind, what happened)
        self._names: dict[str, str] | None = None

    # -- life cycle -------------------------------------------------------------------------

    def open(self) -> None:
        """Start the worker and run the submission's statements (errors are recorded, not raised)."""
        self._start()
        for statement in self.extraction.statements:
            try:
                self._ensure_worker()
                self._run_statement(statement, record=True)
            except StudentError as exc:
                self.load_errors.append({"where": "", "type": exc.kind, "message": str(exc)})
                break

    def close(self) -> None:
        if self.worker is not None:
            self.worker.kill()
            self.worker = None

    def _start(self) -> None:
        self.worker = WorkerProcess(sandboxed=self.sandboxed, memory_bytes=self.memory_bytes)
        self.worker.start()
        self._names = None

    def _restart(self) -> None:
        """A fresh worker with the statements that loaded before; StudentError if out of restarts."""
        while True:
            self.close()
            if self.restarts >= self.max_restarts:
                raise StudentError("crashed", "grading stopped after too many timeouts or crashes")
            self.restarts += 1
            self._start()
            if all(self._run_statement(s, record=False) for s in list(self.loaded)):
                return

    def _run_statement(self, statement, *, record: bool) -> bool:
        """Run one statement; False when it killed or hung the worker (it is then dropped)."""
        where = f"code cell {statement.cell}, line {statement.line}"
        request = {"op": "exec", "cell": statement.cell, "index": statement.index,
                   "source": self.extraction.sources[statement.cell]}
        try:
            answer = self.worker.request(request, self._timeout(self.load_timeout))
        except (WorkerTimeout, WorkerGone) as exc:
            if statement in self.loaded:
                self.loaded.remove(statement)
            what = "did not finish in time" if isinstance(exc, WorkerTimeout) else "ended the grading process"
            self.load_errors.append({"where": where, "type": type(exc).__name__,
                                     "message": f"this statement {what}; it was skipped"})
            self.close()
            return False
        if statement not in self.loaded:
            self.loaded.append(statement)
        if record and not answer["ok"]:
            error = answer.get("error") or {}
            self.load_errors.append({"where": where, "type": str(error.get("type"))[:100],
                                     "message": str(error.get("message"))[:500]})
        return True

    def _timeout(self, limit: float | None = None) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise StudentError("budget", "the time limit for the whole submission was used up")
        return min(self.call_timeout if limit is None else limit, remaining)

    def _ensure_worker(self) -> None:
        if self.worker is None or not self.worker.alive:
            self._restart()

    # -- the backend of testing.Student -----------------------------------------------------

    def kind(self, name: str) -> str | None:
        if self._names is None:
            self._ensure_worker()
            answer = self._request({"op": "names"}, "(the list of names)")
            names = answer if isinstance(answer, dict) else {}
            self._names = {str(k): v for k, v in names.items() if v in ("function", "value")}
        return self._names.get(name)

    def missing_hint(self, name: str) -> str:
        for skipped in self.extraction.skipped:
            if name in skipped["names"]:
                return (f" in a form the grader reads: code cell {skipped['cell']}, line {skipped['line']} sets it "
                        "with top-level code, which the grader does not run (define it with def, or assign a "
                        "plain number)")
        return ""

    def call(self, name: str, args: list, kwargs: dict):
        request = {"op": "call", "name": name, "args": codec.encode(args), "kwargs": codec.encode(kwargs)}
        return self._request(request, name)

    def get(self, name: str):
        return self._request({"op": "get", "name": name}, name)

    def _request(self, request: dict, name: str):
        what = f"`{name}`"
        if name in self.poisoned:
            # A function that hung or crashed once is not run again: one infinite loop must not
            # use up the restarts and the time budget that the other questions need.
            kind, message = self.poisoned[name]
            raise StudentError(kind, f"{what} {message} earlier, so it was not run again")
        self._ensure_worker()
        timeout = self._timeout()
        try:
            answer = self.worker.request(request, timeout)
        except WorkerTimeout:
            self.events.append(f"{what} timed out after {timeout:g} s")
            self.poisoned[name] = ("timeout", "did not finish in time")
            self.close()
            raise StudentError("timeout", f"{what} did not finish within {timeout:g} s and was stopped") from None
        except WorkerGone as exc:
            self.events.append(f"{what}: {exc}")
            self.poisoned[name] = ("crashed", "ended the grading process")
            self.close()
            raise StudentError("crashed", f"{what} ended the grading process ({exc}: os._exit, a crash, "
                               "or too much memory)") from None
        if not answer["ok"]:
            raise _student_error(answer.get("error"), what)
        try:
            return codec.decode(answer.get("value"))
        except codec.NotPlainData as exc:
            raise StudentError("unreadable", f"{what} gave {exc}", f"{what} gave a value the grader cannot read") from None


def _student_error(error, what: str) -> StudentError:
    error = error if isinstance(error, dict) else {}
    kind, message, where = (str(error.get(k, ""))[:500] for k in ("type", "message", "where"))
    if kind == "NotImplementedError":
        return StudentError("not_attempted", f"{what} still raises NotImplementedError")
    if kind == "NotPlainData":
        return StudentError("unreadable", message, f"{what} returned a value the grader cannot read")
    if kind == "NameError" and message.endswith("is not defined") and not where:
        return StudentError("missing", f"{what} is not defined in your notebook")
    at = f" at {where}" if where else ""
    return StudentError("raised", f"{what} raised {kind}: {message}{at}", f"{what} raised {kind}{at}")
