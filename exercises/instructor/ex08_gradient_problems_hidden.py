"""Example hidden tests of exercise set 8: the instructor kit (see exercises/README.md).

Real hidden tests stay outside the repository (``--hidden``); expected values are computed here.
"""

import math

import numpy as np
import torch

from course_lib.gradient_flow import deep_mlp, layer_gradient_norms
from course_lib.grade.testing import AsTensor, Code, assert_close, assert_number, fixed_rng, graded


@graded("q1_derivatives", points=2)
def derivatives_on_a_grid(student):
    """sigmoid', tanh' and relu' match the formulas at 200 random points"""
    t = fixed_rng(1).uniform(-8, 8, 200)
    s = 1 / (1 + np.exp(-t))
    expected = {"sigmoid": s * (1 - s), "tanh": 1 - np.tanh(t) ** 2, "relu": (t > 0).astype(float)}
    for name, d in expected.items():
        assert_close(student.activation_derivative(name, t), d, name, rtol=1e-7, atol=1e-12)


@graded("q1_derivatives")
def predictions(student):
    """PREDICTED_MAX_SIGMOID is 1/4 and PREDICTED_MAX_TANH is 1, within 1%"""
    assert abs(assert_number(student.PREDICTED_MAX_SIGMOID, "PREDICTED_MAX_SIGMOID") - 0.25) <= 0.0025
    assert abs(assert_number(student.PREDICTED_MAX_TANH, "PREDICTED_MAX_TANH") - 1.0) <= 0.01


@graded("q2_init_scales", points=2)
def scales_match_pytorch(student):
    """xavier_std and he_std match the formulas of torch.nn.init for several fans and gains"""
    for fan_in, fan_out, gain in [(3, 700, 1.0), (128, 64, 5 / 3), (1, 1, 0.5)]:
        assert_close(student.xavier_std(fan_in, fan_out, gain), gain * math.sqrt(2 / (fan_in + fan_out)),
                     "xavier_std", rtol=1e-9)
        assert_close(student.he_std(fan_in, gain), gain / math.sqrt(fan_in), "he_std", rtol=1e-9)
    assert_close(student.he_std(50), torch.nn.init.calculate_gain("relu") / math.sqrt(50), "he_std", rtol=1e-9)


_SOURCE = ("__import__('course_lib.gradient_flow', fromlist=['deep_mlp'])"
           ".deep_mlp({depth}, {width}, in_features={n_in}, activation={act!r}, norm={norm!r}, seed={seed}, "
           "dtype=__import__('torch').float64)")


@graded("q3_layer_norms", points=2)
def norms_match_reference(student):
    """the norms match a reference for a tanh network and a BatchNorm ReLU network"""
    for k, (act, norm) in enumerate([("tanh", None), ("relu", "batch")]):
        spec = dict(depth=4, width=7, n_in=3, act=act, norm=norm, seed=10 + k)
        rng = fixed_rng(20 + k)
        x, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
        model = deep_mlp(4, 7, in_features=3, activation=act, norm=norm, seed=10 + k, dtype=torch.float64)
        expected = layer_gradient_norms(model, torch.tensor(x), torch.tensor(y)).numpy()
        code = Code(_SOURCE.format(**spec))
        got = student.layer_grad_norms(code, AsTensor(x), AsTensor(y))
        assert_close(got, expected, "layer_grad_norms", rtol=1e-8)


@graded("q4_flat_gain", points=2)
def within_tolerance(student):
    """FLAT_GAIN is within 0.05 of sqrt(2)"""
    assert abs(assert_number(student.FLAT_GAIN, "FLAT_GAIN") - math.sqrt(2.0)) <= 0.05
