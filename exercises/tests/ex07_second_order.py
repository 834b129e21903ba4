"""Public tests of exercise set 7 (second-order methods): run by ``check`` in the notebook and by
the grader.

Expected values here are public: they may appear in the feedback. See course_lib.grade.testing.
"""

import numpy as np

from course_lib.grade.testing import AsTensor, Code, assert_close, assert_number, graded

QUESTIONS = {
    "q1_newton_step": "A damped Newton step",
    "q2_backtracking": "Backtracking line search",
    "q3_two_loop": "The L-BFGS two-loop recursion",
    "q4_hvp": "A Hessian-vector product by double backward",
    "q5_uphill": "Where does plain Newton walk uphill?",
    "q6_shampoo": "Shampoo's preconditioner of a matrix gradient",
}


@graded("q1_newton_step")
def diagonal_hessian(student):
    """a diagonal Hessian, without and with damping"""
    g, H = np.array([2.0, -3.0]), np.diag([4.0, 1.0])
    assert_close(student.newton_step(g, H), [-0.5, 3.0], "newton_step([2, -3], diag(4, 1))")
    assert_close(student.newton_step(g, H, 1.0), [-0.4, 1.5],
                 "newton_step([2, -3], diag(4, 1), damping=1)")


@graded("q2_backtracking")
def halving(student):
    """f(x) = |x|^2 from x = (1, 0) along -grad with t0 = 4: 4, 2 and 1 fail, 0.5 passes"""
    t = student.backtracking(Code("lambda x: float(x @ x)"), np.array([1.0, 0.0]),
                             np.array([-2.0, 0.0]), np.array([2.0, 0.0]), 4.0)
    assert_close(t, 0.5, "backtracking(f = |x|^2, x = [1, 0], d = [-2, 0], t0 = 4)")


@graded("q3_two_loop")
def one_pair(student):
    """one pair (s, y) = ([1, 0], [2, 0]): H = diag(0.5, 0.5), H g = g / 2"""
    r = student.two_loop(np.array([1.0, 4.0]), [np.array([1.0, 0.0])], [np.array([2.0, 0.0])])
    assert_close(r, [0.5, 2.0], "two_loop(g=[1, 4], s=[[1, 0]], y=[[2, 0]])")


@graded("q4_hvp")
def quadratic(student):
    """f(x) = x0^2 + 3 x0 x1: the Hessian is [[2, 3], [3, 0]]"""
    hv = student.hvp_double_backward(Code("lambda x: x[0] ** 2 + 3 * x[0] * x[1]"),
                                     AsTensor(np.array([0.5, -1.0])), AsTensor(np.array([1.0, 2.0])))
    assert_close(hv, [8.0, 3.0], "hvp_double_backward(x0^2 + 3 x0 x1, x=[0.5, -1], v=[1, 2])")


@graded("q5_uphill", points=0)
def recorded(student):
    """UPHILL_RIGHT_END is recorded as a number in [0, 1] (its value is graded by hidden tests)"""
    r = assert_number(student.UPHILL_RIGHT_END, "UPHILL_RIGHT_END")
    assert 0 <= r <= 1, f"UPHILL_RIGHT_END should lie in [0, 1], got {r}"


@graded("q6_shampoo")
def diagonal_gradient(student):
    """G = diag(3, 1) with eps = 0.25: L = R = diag(9.25, 1.25), each entry scaled by (eps + s^2)^(-1/2)"""
    got = student.shampoo_direction(np.diag([3.0, 1.0]), 0.25)
    assert_close(got, np.diag([3.0 / 9.25 ** 0.5, 1.0 / 1.25 ** 0.5]), "shampoo_direction(diag(3, 1), 0.25)")


@graded("q6_shampoo")
def rectangular_gradient(student):
    """a 2 x 3 gradient: L = eps I_2 + G G^T is 2 x 2 and R = eps I_3 + G^T G is 3 x 3"""
    G = np.array([[3.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    got = student.shampoo_direction(G, 0.25)
    # L = diag(9.25, 1.25), R = diag(9.25, 1.25, 0.25): entry (i, i) scaled by (eps + s_i^2)^(-1/2)
    assert_close(got, [[3.0 / 9.25 ** 0.5, 0.0, 0.0], [0.0, 1.0 / 1.25 ** 0.5, 0.0]],
                 "shampoo_direction([[3, 0, 0], [0, 1, 0]], 0.25)")
