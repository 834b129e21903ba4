"""Plain data: the only values that cross between the grader and a student's code.

The grader never unpickles anything from the worker that runs student code: values travel as JSON
lines, and this module turns Python values into JSON-ready *plain data* and back.

Plain data is ``None``, ``bool``, ``int``, ``float``, ``str``, lists, and dicts with string keys,
nested. Numeric arrays travel tagged, as ``{"__array__": nested list, "dtype": ..., "shape": ...}``
(numpy arrays, numpy scalars and torch tensors alike). A tuple becomes a list. Subclasses of
``int``, ``float`` and ``str`` are flattened to the exact built-in type *without calling any of
their methods*, so a float whose ``__eq__`` always answers True arrives as an ordinary float.
Anything else is refused with :class:`NotPlainData`.

Two more tags travel from the grader to the worker only: ``{"__code__": ...}`` (a function written
by the test author as source text, for example a gradient oracle, see :class:`Code`) and the flag
``"tensor": true`` on an array (hand it to the student as a torch tensor, see :class:`AsTensor`).

This file is loaded by path inside the worker (see ``worker.py``), so it must import only the
standard library at module level: numpy and torch are imported on first use, and the encoder
recognises their types without importing them.
"""

from __future__ import annotations

import json
import math
import sys

# Limits on what the grader accepts: a hostile worker must not exhaust the grader's memory.
MAX_DEPTH = 64
MAX_ITEMS = 5_000_000
_NUMERIC_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                   "float16", "float32", "float64", "bfloat16")


class NotPlainData(TypeError):
    """A value that is not plain data (see the module docstring)."""


class Code:
    """A function written by a test author as source text, rebuilt where student code runs.

    Tests run in the grader, student functions in the worker; a function argument (a gradient
    oracle, say) therefore travels as source: ``Code("lambda x: A @ x", A=A)``. The source is an
    expression evaluated with ``np``, ``math`` and the given constants (plain data) in scope.
    """

    def __init__(self, source: str, **constants):
        self.source = source
        self.constants = constants

    def build(self):
        """The function itself, evaluated here (in the worker, or in the student's kernel)."""
        import numpy as np

        scope = {"np": np, "math": math, **self.constants}
        return eval(compile(self.source, "<test helper>", "eval"), scope)  # noqa: S307 - test author's code

    def __repr__(self):
        return f"Code({self.source!r})"


class AsTensor:
    """Wraps an array argument that the student's function should receive as a torch tensor."""

    def __init__(self, array):
        self.array = array


# --------------------------------------------------------------------------------------------
# Encoding: Python value -> plain data


def encode(value, _depth: int = 0):
    """Plain data for ``value``; raises :class:`NotPlainData` for anything else."""
    if _depth > MAX_DEPTH:
        raise NotPlainData("the value is nested too deeply")
    # Exact built-in values first. ``bool`` before ``int`` (bool is an int subclass).
    if value is None or value is True or value is False:
        return value
    if isinstance(value, bool):  # a bool subclass cannot exist, but numpy.bool_ is handled below
        return bool.__bool__(value)
    if isinstance(value, float):
        # float.__float__ reads the stored number without calling a subclass's methods.
        return float.__float__(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, list):  # the built-in iterator: a subclass's __iter__ is not called
        return [encode(v, _depth + 1) for v in list.__iter__(value)]
    if isinstance(value, tuple):
        return [encode(v, _depth + 1) for v in tuple.__iter__(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in dict.items(value):
            if not isinstance(k, str):
                raise NotPlainData(f"dictionary keys must be strings, found {type(k).__name__}")
            k = str.__str__(k)
            if k.startswith("__"):
                raise NotPlainData(f"dictionary keys may not start with '__' ({k!r})")
            out[k] = encode(v, _depth + 1)
        return out
    if isinstance(value, Code):
        return {"__code__": value.source, "constants": encode(value.constants, _depth + 1)}
    if isinstance(value, AsTensor):
        tagged = _encode_numpy(value.array)
        tagged["tensor"] = True
        return tagged
    if _is_torch_tensor(value):
        tagged = _encode_numpy(value.detach().cpu().to(_float64_if_bf16(value)).numpy())
        tagged["tensor"] = True
        return tagged
    numpy = sys.modules.get("numpy")  # a numpy value exists only if numpy was imported
    if numpy is not None and isinstance(value, (numpy.ndarray, numpy.generic)):
        return _encode_numpy(value)
    raise NotPlainData(f"an object of type {type(value).__name__}")


def _is_torch_tensor(value) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _float64_if_bf16(tensor):
    import torch

    return torch.float64 if tensor.dtype == torch.bfloat16 else tensor.dtype


def _encode_numpy(value):
    import numpy as np

    array = np.asarray(value)
    if type(array) is not np.ndarray:  # a subclass (np.matrix, masked array): read its data only
        array = np.array(array, copy=True).view(np.ndarray)
    if array.dtype.name not in _NUMERIC_DTYPES:
        raise NotPlainData(f"an array of dtype {array.dtype}; use numbers (float, int or bool)")
    if array.size > MAX_ITEMS:
        raise NotPlainData(f"an array with {array.size} entries (at most {MAX_ITEMS})")
    return {"__array__": array.tolist(), "dtype": array.dtype.name, "shape": list(array.shape)}


def dumps(value) -> str:
    """One JSON line holding ``encode(value)``."""
    return json.dumps(encode(value), allow_nan=True, separators=(",", ":"))


# --------------------------------------------------------------------------------------------
# Decoding: plain data -> Python value (numpy arrays for tagged arrays)


def decode(data, *, allow_code: bool = False, _depth: int = 0, _count: list | None = None):
    """The Python value for plain data that came out of ``json.loads``.

    ``allow_code`` lets ``{"__code__": ...}`` through: only the worker and the student's kernel,
    which receive it from the trusted grader, pass True; the grader never does.
    """
    count = _count if _count is not None else [0]
    count[0] += 1
    if _depth > MAX_DEPTH or count[0] > MAX_ITEMS:
        raise NotPlainData("the value is too large or nested too deeply")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v, allow_code=allow_code, _depth=_depth + 1, _count=count) for v in data]
    if not isinstance(data, dict):
        raise NotPlainData(f"an object of type {type(data).__name__}")
    if "__array__" in data:
        return _decode_array(data)
    if "__code__" in data:
        if not allow_code:
            raise NotPlainData("code is accepted from the grader only")
        constants = decode(data.get("constants", {}), allow_code=False, _depth=_depth + 1, _count=count)
        return Code(data["__code__"], **constants).build()
    return {k: decode(v, allow_code=allow_code, _depth=_depth + 1, _count=count) for k, v in data.items()}


def _decode_array(data):
    import numpy as np

    dtype, shape = data.get("dtype"), data.get("shape")
    if dtype not in _NUMERIC_DTYPES or not isinstance(shape, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
    ):
        raise NotPlainData("a malformed array")
    if math.prod(shape) > MAX_ITEMS:
        raise NotPlainData("an array that is too large")
    np_dtype = "float64" if dtype == "bfloat16" else dtype
    try:
        array = np.array(data["__array__"], dtype=np_dtype)
        array = array.reshape(shape)
    except (ValueError, TypeError, OverflowError) as exc:
        raise NotPlainData(f"a malformed array ({exc})") from None
    if data.get("tensor") is True and "torch" in sys.modules and _wants_tensors():
        import torch

        return torch.from_numpy(array)
    return array


_TENSORS = False


def _wants_tensors() -> bool:
    return _TENSORS


def decode_for_student(data):
    """Decode arguments for a student's function: arrays tagged ``tensor`` become torch tensors."""
    global _TENSORS
    _TENSORS = True
    try:
        if _mentions_tensor(data):
            import torch  # noqa: F401 - imported only when a test passes a tensor

        return decode(data, allow_code=True)
    finally:
        _TENSORS = False


def _mentions_tensor(data) -> bool:
    if isinstance(data, dict):
        return data.get("tensor") is True or any(_mentions_tensor(v) for v in data.values())
    if isinstance(data, list):
        return any(_mentions_tensor(v) for v in data)
    return False


def loads(line: str | bytes):
    """The Python value for one JSON line from the worker (the grader's side)."""
    return decode(json.loads(line))
