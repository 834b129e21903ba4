"""The grader's end of a worker: start it, send it one request at a time, kill it.

The worker runs ``python -I`` (isolated: no user site, no PYTHONPATH, no current folder on the path)
from the grader's own interpreter, so it imports the venv's numpy, torch and course_lib but nothing
else of the grader's. It is a process-group leader (``start_new_session``): on a timeout the whole
group gets SIGKILL, so a loop that ignores SIGINT or a child it forked dies too. Answers are read
with ``select`` against a deadline, so a worker that never answers cannot stall the grader.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import sandbox

WORKER_PATH = str(Path(__file__).with_name("worker.py"))
# Loads worker.py by path: the worker must not import the course_lib package itself.
BOOT = (
    "import importlib.util as u, sys; s = u.spec_from_file_location('_grade_worker', sys.argv[1]); "
    "m = u.module_from_spec(s); s.loader.exec_module(m); m.main(sys.argv[2:])"
)
MAX_ANSWER_BYTES = 64 << 20


class WorkerGone(Exception):
    """The worker stopped answering: it exited, crashed, or wrote something that is not an answer."""


class WorkerTimeout(Exception):
    """The worker did not answer before the deadline (it has been killed)."""


class WorkerProcess:
    """One running worker; ``request`` sends a JSON message and returns the decoded JSON answer."""

    def __init__(self, *, sandboxed: bool, memory_bytes: int):
        self.sandboxed = sandboxed
        self.memory_bytes = memory_bytes
        self.proc: subprocess.Popen | None = None
        self.home: str | None = None
        self._pending = b""

    def start(self) -> None:
        command = [sys.executable, "-I", "-c", BOOT, WORKER_PATH, str(self.memory_bytes)]
        if self.sandboxed:
            command = sandbox.prefix([]) + command
            env, cwd = sandbox.minimal_env("/tmp"), None
        else:
            # Unsandboxed, the worker still gets an empty folder of its own as home and cwd.
            self.home = tempfile.mkdtemp(prefix="grade-worker-")
            env, cwd = sandbox.minimal_env(self.home), self.home
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env, cwd=cwd, start_new_session=True, close_fds=True,
        )
        os.set_blocking(self.proc.stdin.fileno(), False)
        self._pending = b""

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def request(self, message: dict, timeout: float) -> dict:
        """Send ``message``; the answer, or WorkerTimeout / WorkerGone (the worker is then dead)."""
        deadline = time.monotonic() + max(timeout, 0.0)
        try:
            self._send(json.dumps(message, allow_nan=True).encode() + b"\n", deadline)
            line = self._receive(deadline)
        except WorkerTimeout:
            self.kill()
            raise
        except WorkerGone:
            self.kill()
            raise
        try:
            answer = json.loads(line)
        except (ValueError, RecursionError) as exc:
            self.kill()
            raise WorkerGone(f"unreadable answer ({type(exc).__name__})") from None
        if not isinstance(answer, dict) or not isinstance(answer.get("ok"), bool):
            self.kill()
            raise WorkerGone("malformed answer")
        return answer

    def _send(self, data: bytes, deadline: float) -> None:
        fd = self.proc.stdin.fileno()
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerTimeout()
            _, writable, _ = select.select([], [fd], [], remaining)
            if not writable:
                continue
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                continue
            except (BrokenPipeError, OSError):
                raise WorkerGone("the worker exited") from None

    def _receive(self, deadline: float) -> bytes:
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerTimeout()
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise WorkerGone("the worker exited")
            self._pending += chunk
            if len(self._pending) > MAX_ANSWER_BYTES:
                raise WorkerGone("the answer is too large")
        line, self._pending = self._pending.split(b"\n", 1)
        return line

    def kill(self) -> None:
        """SIGKILL to the worker's whole process group; reap it; remove its folder. Idempotent."""
        proc, self.proc = self.proc, None
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.kill()
            except ProcessLookupError:
                pass
            proc.wait()
            for stream in (proc.stdin, proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None
