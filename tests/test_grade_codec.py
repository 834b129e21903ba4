"""Plain data between the grader and student code (course_lib.grade.codec)."""

import json

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from course_lib.grade import codec


def roundtrip(value):
    """What the grader receives when the worker sends ``value``."""
    return codec.loads(codec.dumps(value))


class AlwaysEqual(float):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __float__(self):
        return 42.0

    def __repr__(self):
        return "1e308"


class SneakyList(list):
    def __iter__(self):
        return iter([1, 2, 3])


def test_float_subclass_is_flattened_without_its_methods():
    value = roundtrip(AlwaysEqual(0.25))
    assert type(value) is float and value == 0.25 and value != 0.5


def test_int_str_bool_subclasses_are_flattened():
    class I(int):
        def __int__(self):
            return 7

    class S(str):
        def __str__(self):
            return "other"

    assert roundtrip([I(3), S("abc"), True, None]) == [3, "abc", True, None]
    assert type(roundtrip(I(3))) is int and type(roundtrip(S("x"))) is str


def test_list_subclass_is_read_with_the_builtin_iterator():
    assert roundtrip(SneakyList([9.0])) == [9.0]


def test_numpy_and_torch_arrive_as_plain_ndarrays():
    class Weird(np.ndarray):
        def __eq__(self, other):
            return np.ones(self.shape, dtype=bool)

    for value in (np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(2, 3).view(Weird),
                  torch.arange(6.0, dtype=torch.float64).reshape(2, 3).requires_grad_()):
        out = roundtrip(value)
        assert type(out) is np.ndarray and out.shape == (2, 3)
        np.testing.assert_array_equal(out, np.arange(6.0).reshape(2, 3))
    scalar = roundtrip(np.float32(1.5))
    assert scalar.shape == () and scalar.dtype == np.float32
    assert roundtrip(np.zeros((0, 3))).shape == (0, 3)
    assert roundtrip(torch.ones(2, dtype=torch.bfloat16)).tolist() == [1.0, 1.0]


def test_nan_and_infinity_survive():
    out = roundtrip([float("nan"), float("inf"), np.array([-np.inf])])
    assert np.isnan(out[0]) and out[1] == float("inf") and out[2][0] == -np.inf


@pytest.mark.parametrize("value", [object(), {1: 2}, {"__array__": 1}, np.array(["a"]), np.array([1j]),
                                   lambda x: x, b"bytes", {1, 2}])
def test_anything_else_is_refused(value):
    with pytest.raises(codec.NotPlainData):
        codec.encode(value)


def test_grader_refuses_code_and_malformed_arrays_from_the_worker():
    with pytest.raises(codec.NotPlainData):
        codec.loads(json.dumps({"__code__": "lambda: 1"}))
    for bad in ({"__array__": [1, 2], "dtype": "object", "shape": [2]},
                {"__array__": [1, 2], "dtype": "float64", "shape": [3]},
                {"__array__": [1], "dtype": "float64", "shape": [-1]},
                {"__array__": [1], "dtype": "float64", "shape": [10**12]}):
        with pytest.raises(codec.NotPlainData):
            codec.loads(json.dumps(bad))


def test_code_is_rebuilt_for_the_student_with_its_constants():
    data = codec.encode([codec.Code("lambda x: A @ x", A=np.eye(2) * 3), codec.AsTensor(np.ones(2))])
    fn, tensor = codec.decode_for_student(json.loads(json.dumps(data)))
    np.testing.assert_array_equal(fn(np.ones(2)), [3.0, 3.0])
    assert isinstance(tensor, torch.Tensor)


nested = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(alphabet="abc", max_size=3), children, max_size=3),
    max_leaves=20,
)


@given(nested)
def test_plain_data_roundtrips_unchanged(value):
    assert roundtrip(value) == value
