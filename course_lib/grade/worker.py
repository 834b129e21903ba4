"""The worker: the one process in which a student's code runs during scoring.

The grader starts it as ``python -I -c BOOT`` (see ``worker_client.py``), optionally inside
bubblewrap, with the memory limit as argument. It speaks JSON lines on its original stdin/stdout;
the student's code sees /dev/null on file descriptors 0 and 1, so what it prints cannot corrupt the
protocol. Requests, one JSON object a line, each answered by one line:

``{"op": "exec", "cell": n, "source": s, "index": i}``
    run top-level statement ``i`` of code cell ``n`` (the grader chose which statements run);
    ``import`` statements bind modules that are imported on first use (see ``LazyModule``).
``{"op": "names"}``
    the names the student's code defined, each ``"function"`` (callable) or ``"value"``.
``{"op": "call", "name": f, "args": [...], "kwargs": {...}}``
    call the student's ``f`` on decoded plain-data arguments; answer its result as plain data.
``{"op": "get", "name": x}``
    the value of the student's top-level constant ``x``, as plain data.

An answer is ``{"ok": true, "value": ...}`` or ``{"ok": false, "error": {"type", "message",
"where"}}``. Everything in here is untrusted once a student's statement has run: the grader
validates every answer and enforces every time limit from outside.

Only the standard library is imported at module level; ``codec.py`` is loaded by path, so the
worker does not import the ``course_lib`` package (whose ``__init__`` may grow heavy imports).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import os
import resource
import sys
import time
import traceback
import types

_MAX_MESSAGE = 500  # characters of an exception message passed back


def _load_codec():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "codec.py")
    spec = importlib.util.spec_from_file_location("_grade_codec", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["_grade_codec"] = module  # dataclass-free, but keep the usual import invariant
    spec.loader.exec_module(module)
    return module


class LazyModule(types.ModuleType):
    """A module bound by a student's ``import`` and imported on first attribute access.

    Notebooks import torch and matplotlib for their plots; importing them in every worker would cost
    seconds per submission although graded functions rarely touch them.
    """

    def __init__(self, bound: str, target: str):
        super().__init__(bound)
        self.__dict__["_lazy_spec"] = (bound, target)

    def __getattr__(self, attr):
        if attr == "_lazy_spec":
            raise AttributeError(attr)
        bound, target = self.__dict__["_lazy_spec"]
        importlib.import_module(target)
        return getattr(sys.modules[bound], attr)

    def __dir__(self):
        bound, target = self.__dict__["_lazy_spec"]
        importlib.import_module(target)
        return dir(sys.modules[bound])


# ``from M import name`` binds a LazyAttribute, not the object, when M is one of these: modules
# for plots, widgets and notebook helpers, which graded functions do not need and which cost
# most of a second each to import (matplotlib). Other from-imports run as written.
DISPLAY_MODULES = ("matplotlib", "ipywidgets", "IPython", "tqdm", "seaborn", "plotly",
                   "course_lib.widgets", "course_lib.exercises")


def _is_display_module(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in DISPLAY_MODULES)


class LazyAttribute:
    """A name from ``from <display module> import name``, imported when first called or used."""

    def __init__(self, module: str, attr: str):
        self._lazy = (module, attr)

    def _resolve(self):
        module, attr = self._lazy
        parent = importlib.import_module(module)
        try:
            return getattr(parent, attr)
        except AttributeError:  # a submodule: ``from matplotlib import pyplot``
            return importlib.import_module(f"{module}.{attr}")

    def __call__(self, *args, **kwargs):
        return self._resolve()(*args, **kwargs)

    def __getattr__(self, name):
        if name == "_lazy":
            raise AttributeError(name)
        return getattr(self._resolve(), name)


class Worker:
    def __init__(self, codec):
        self.codec = codec
        self.module = types.ModuleType("__student__")
        sys.modules["__student__"] = self.module  # classes and dataclasses look their module up
        self.namespace = self.module.__dict__
        self.cells: dict[int, ast.Module] = {}

    # -- requests -------------------------------------------------------------------------

    def handle(self, request: dict) -> dict:
        op = request.get("op")
        if op == "exec":
            return self.exec_statement(request["cell"], request["source"], request["index"])
        if op == "names":
            return {"ok": True, "value": self.names()}
        if op == "call":
            return self.call(request["name"], request.get("args", []), request.get("kwargs", {}))
        if op == "get":
            return self.get(request["name"])
        return {"ok": False, "error": {"type": "ProtocolError", "message": f"unknown op {op!r}", "where": ""}}

    def exec_statement(self, cell: int, source: str, index: int) -> dict:
        if cell not in self.cells:
            self.cells[cell] = ast.parse(source, filename=f"<code cell {cell}>")
        node = self.cells[cell].body[index]
        try:
            if isinstance(node, ast.Import):
                for alias in node.names:  # ``import a.b`` binds ``a``; ``import a.b as c`` binds a.b
                    bound = alias.name if alias.asname else alias.name.split(".")[0]
                    self.namespace[alias.asname or bound] = LazyModule(bound, alias.name)
            elif (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                  and _is_display_module(node.module) and all(a.name != "*" for a in node.names)):
                for alias in node.names:
                    self.namespace[alias.asname or alias.name] = LazyAttribute(node.module, alias.name)
            else:
                code = compile(ast.Module(body=[node], type_ignores=[]), f"<code cell {cell}>", "exec")
                exec(code, self.namespace)  # noqa: S102 - the point of the worker
        except BaseException as exc:  # noqa: BLE001 - SystemExit included: report, do not exit
            return {"ok": False, "error": _describe(exc)}
        return {"ok": True, "value": None}

    def names(self) -> dict:
        out = {}
        for name, value in list(self.namespace.items()):
            if name.startswith("_") or isinstance(value, types.ModuleType):
                continue
            out[str(name)] = "function" if callable(value) else "value"
        return out

    def call(self, name: str, args, kwargs) -> dict:
        function = self.namespace.get(name)
        if function is None or not callable(function):
            return {"ok": False, "error": {"type": "NameError", "message": f"{name} is not defined", "where": ""}}
        try:
            args = self.codec.decode_for_student(args)
            kwargs = self.codec.decode_for_student(kwargs)
        except Exception as exc:  # noqa: BLE001 - a test author's Code that does not compile
            return {"ok": False, "error": {"type": "GraderError", "message": repr(exc), "where": ""}}
        start = time.perf_counter()
        try:
            result = function(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001
            return {"ok": False, "error": _describe(exc)}
        seconds = time.perf_counter() - start
        return self._plain(result, f"{name}(...) returned", seconds)

    def get(self, name: str) -> dict:
        if name not in self.namespace:
            return {"ok": False, "error": {"type": "NameError", "message": f"{name} is not defined", "where": ""}}
        return self._plain(self.namespace[name], name + " is", 0.0)

    def _plain(self, value, what: str, seconds: float) -> dict:
        try:
            return {"ok": True, "value": self.codec.encode(value), "seconds": seconds}
        except self.codec.NotPlainData as exc:
            message = f"{what} {exc}, which the grader cannot read: use numbers, lists or numpy arrays"
            return {"ok": False, "error": {"type": "NotPlainData", "message": message, "where": ""}}
        except BaseException as exc:  # noqa: BLE001 - e.g. a tensor that needs grad, a hostile __array__
            return {"ok": False, "error": _describe(exc)}


def _describe(exc: BaseException) -> dict:
    """Type, message and where in the notebook, for an exception raised by student code."""
    try:
        message = str(exc)
    except BaseException:  # noqa: BLE001 - a hostile __str__
        message = "<the message could not be read>"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<code cell")]
    where = ""
    if frames:
        last = frames[-1]
        where = f"{last.filename.strip('<>')}, line {last.lineno}, in {last.name}"
    return {"type": type(exc).__name__, "message": message[:_MAX_MESSAGE], "where": where}


def main(argv: list[str]) -> None:
    memory_bytes = int(argv[0]) if argv else 0
    # Limits first, while only trusted code has run. RLIMIT_AS caps the address space of this
    # process and its children; RLIMIT_FSIZE caps any file it writes; no core dumps.
    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 20, 64 << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    # The protocol keeps the original stdin/stdout; the student's code gets /dev/null.
    requests = os.fdopen(os.dup(0), "rb", buffering=0)
    answers = os.fdopen(os.dup(1), "wb", buffering=0)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    sys.stdin = open(os.devnull)  # noqa: SIM115
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115

    # numpy before any student code: nearly every submission needs it, and importing it here
    # keeps its start-up cost out of the first call's time limit.
    try:
        import numpy  # noqa: F401
    except ImportError:
        pass
    worker = Worker(_load_codec())
    pending = b""
    while True:
        while b"\n" not in pending:
            chunk = requests.read(1 << 16)
            if not chunk:
                return  # the grader closed the pipe: done
            pending += chunk
        line, pending = pending.split(b"\n", 1)
        try:
            answer = worker.handle(json.loads(line))
        except Exception as exc:  # noqa: BLE001 - a malformed request: a grader bug, report it
            answer = {"ok": False, "error": {"type": "ProtocolError", "message": repr(exc)[:_MAX_MESSAGE], "where": ""}}
        try:
            data = json.dumps(answer, allow_nan=True, separators=(",", ":")).encode()
        except Exception as exc:  # noqa: BLE001
            data = json.dumps({"ok": False, "error": {"type": "ProtocolError", "message": repr(exc)[:200], "where": ""}}).encode()
        _write_all(answers, data + b"\n")


def _write_all(stream, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[stream.write(view):]


if __name__ == "__main__":
    main(sys.argv[1:])
