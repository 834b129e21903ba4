"""Public tests of exercise set 8 (vanishing and exploding gradients): run by ``check`` in the
notebook and by the grader.

Expected values here are public: they may appear in the feedback. See course_lib.grade.testing.
"""

import math

import numpy as np

from course_lib.grade.testing import AsTensor, Code, assert_close, assert_number, graded

QUESTIONS = {
    "q1_derivatives": "How much can an activation pass back?",
    "q2_init_scales": "The Xavier and He scales",
    "q3_layer_norms": "The gradient norm of every layer",
    "q4_flat_gain": "The gain that keeps the gradient flat",
}


@graded("q1_derivatives")
def derivatives_at_zero(student):
    """the derivatives at t = 0: 1/4 (sigmoid), 1 (tanh), 0 (relu)"""
    for name, expected in [("sigmoid", 0.25), ("tanh", 1.0), ("relu", 0.0)]:
        assert_close(student.activation_derivative(name, np.array([0.0])), [expected],
                     f"activation_derivative({name!r}, t=[0])")


@graded("q1_derivatives")
def relu_derivative(student):
    """relu' is 1 for t > 0 and 0 for t < 0"""
    assert_close(student.activation_derivative("relu", np.array([-2.0, -0.5, 0.5, 3.0])), [0, 0, 1, 1],
                 "activation_derivative('relu', t=[-2, -0.5, 0.5, 3])")


@graded("q1_derivatives", points=0)
def predictions_recorded(student):
    """PREDICTED_MAX_SIGMOID and PREDICTED_MAX_TANH are recorded as numbers (graded by hidden tests)"""
    for name in ("PREDICTED_MAX_SIGMOID", "PREDICTED_MAX_TANH"):
        value = assert_number(getattr(student, name), name)
        assert 0 < value <= 10, f"{name} should be between 0 and 10, got {value}"


@graded("q2_init_scales")
def xavier_square(student):
    """xavier_std(50, 50) = sqrt(2/100)"""
    assert_close(student.xavier_std(50, 50), math.sqrt(0.02), "xavier_std(fan_in=50, fan_out=50)")


@graded("q2_init_scales")
def he_default_gain(student):
    """he_std(8) = sqrt(2/8) = 0.5"""
    assert_close(student.he_std(8), 0.5, "he_std(fan_in=8)")


_MODEL = ("__import__('course_lib.gradient_flow', fromlist=['deep_mlp'])"
          ".deep_mlp(2, 5, in_features=3, seed=0, dtype=__import__('torch').float64)")


@graded("q3_layer_norms")
def one_norm_per_linear_layer(student):
    """returns one positive norm per nn.Linear layer (4 for a network with 2 hidden blocks)"""
    x = np.linspace(-1, 1, 12).reshape(4, 3)
    y = np.array([[0.5], [-0.5], [1.0], [0.0]])
    norms = np.asarray(student.layer_grad_norms(Code(_MODEL), AsTensor(x), AsTensor(y)), dtype=float)
    assert norms.shape == (4,), f"layer_grad_norms should return 4 norms, got shape {norms.shape}"
    assert np.all(norms > 0), f"the norms should be positive, got {norms}"


@graded("q4_flat_gain", points=0)
def recorded(student):
    """FLAT_GAIN is recorded as a number in (0, 5) (its value is graded by hidden tests)"""
    value = assert_number(student.FLAT_GAIN, "FLAT_GAIN")
    assert 0 < value < 5, f"FLAT_GAIN should lie in (0, 5), got {value}"
