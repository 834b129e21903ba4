"""Running a submitted notebook top to bottom, as the student would: reported, never scored.

A fresh kernel (nbclient) runs every cell in order with a per-cell timeout; errors are recorded and
the run goes on, like "Run All" with errors allowed. On a timeout the kernel is *killed* (SIGKILL
to its process group), not interrupted: a loop that ignores SIGINT cannot hold the grader. An
overall limit kills the kernel too. The kernel runs in a throwaway folder holding a copy of the
public tests (so the notebook's ``check`` cells work); with ``--sandbox`` it runs inside the same
bubblewrap sandbox as the worker and reaches the grader through Unix sockets in that folder (its
network namespace has no loopback to the grader's TCP ports).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import nbformat

from . import sandbox


def _kernel_manager_class(workdir: Path, sandboxed: bool):
    from jupyter_client.manager import AsyncKernelManager

    # The async manager gives nbclient an async client: with a blocking one, a kernel that dies
    # mid-cell blocks nbclient's event loop in a poll with no timeout, forever.
    class GradingKernelManager(AsyncKernelManager):
        """Starts the kernel in the sandbox (if asked) and remembers its process group."""

        def format_kernel_cmd(self, extra_arguments=None):
            command = super().format_kernel_cmd(extra_arguments)
            if sandboxed:
                # ipykernel exits when JPY_PARENT_PID is not its parent, which inside a pid
                # namespace it never is; --die-with-parent does that job instead.
                command = sandbox.prefix([workdir], chdir=str(workdir)) + ["--unsetenv", "JPY_PARENT_PID"] + command
            return command

    return GradingKernelManager


def run_notebook(notebook, *, sandboxed: bool, cell_timeout: float, total_timeout: float,
                 support_files: dict[str, str]) -> dict:
    """Run ``notebook`` (a NotebookNode, not modified); a JSON-ready report of what happened.

    ``support_files`` maps relative paths to text written into the working folder first (the
    public tests, for the ``check`` cells).
    """
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    _ErrorsOnlyClient = _errors_only_client_class()

    start = time.perf_counter()
    nb = _copy_without_outputs(notebook)  # a v4 NotebookNode, from extract.read_notebook
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    workdir = Path(tempfile.mkdtemp(prefix="grade-run-"))
    report = {"status": "completed", "sandboxed": sandboxed, "cells_run": 0, "errors": [], "message": ""}
    watchdog = manager = None
    try:
        for relative, text in support_files.items():
            target = workdir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        manager = _kernel_manager_class(workdir, sandboxed)(
            kernel_name="python3", transport="ipc", ip=str(workdir / "kernel"))
        manager.connection_file = str(workdir / "kernel.json")
        client = _ErrorsOnlyClient(nb, km=manager, store_widget_state=False, timeout=cell_timeout, allow_errors=True,
                                interrupt_on_timeout=False, startup_timeout=60, record_timing=False,
                                shutdown_kernel="immediate")
        killed = threading.Event()

        def on_start(**_):
            nonlocal watchdog
            pgid = manager.provisioner.pgid if manager.provisioner else None
            watchdog = threading.Timer(max(total_timeout - (time.perf_counter() - start), 0.1),
                                       _kill_group, (pgid, killed))
            watchdog.daemon = True
            watchdog.start()

        client.on_notebook_start = on_start
        env = sandbox.minimal_env("/tmp" if sandboxed else str(workdir))
        try:
            # cleanup_kc: nbclient shuts down (kills, "immediate") a kernel it did not create only if asked.
            client.execute(cwd=str(workdir), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           cleanup_kc=True)
        except CellTimeoutError:
            report["status"] = "timeout"
            report["message"] = f"a cell did not finish within {cell_timeout:g} s; the kernel was killed"
        except DeadKernelError:
            report["status"] = "timeout" if killed.is_set() else "kernel_died"
            report["message"] = (f"the notebook did not finish within {total_timeout:g} s; the kernel was killed"
                                 if killed.is_set() else "the kernel died (os._exit, a crash, or too much memory)")
        except Exception as exc:  # noqa: BLE001 - a kernel that does not start, a protocol error
            report["status"] = "failed"
            report["message"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        _summarise(nb, report)
    finally:
        if watchdog is not None:
            watchdog.cancel()
        if manager is not None and manager.has_kernel:  # nbclient failed before its own cleanup
            from jupyter_core.utils import run_sync

            run_sync(manager.shutdown_kernel)(now=True)
        shutil.rmtree(workdir, ignore_errors=True)
    report["seconds"] = round(time.perf_counter() - start, 3)
    return report


def _errors_only_client_class():
    from nbclient import NotebookClient

    class ErrorsOnlyClient(NotebookClient):
        """Keeps a cell's error outputs only: the report needs nothing else, and a notebook that
        prints gigabytes must not fill the grader's memory."""

        def output(self, outs, msg, display_id, cell_index):
            if msg.get("msg_type") == "error":
                return super().output(outs, msg, display_id, cell_index)
            return None

    return ErrorsOnlyClient


def _kill_group(pgid, killed: threading.Event) -> None:
    if pgid:
        killed.set()
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _copy_without_outputs(nb) -> dict:
    data = nbformat.from_dict(nb)
    for cell in data.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return data


def _summarise(nb, report: dict) -> None:
    number = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        number += 1
        if cell.get("execution_count") is not None:
            report["cells_run"] += 1
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                report["errors"].append({"cell": number, "error": f"{output.get('ename')}: {str(output.get('evalue'))[:300]}"})
    if report["status"] == "completed" and report["errors"]:
        report["status"] = "errors"
