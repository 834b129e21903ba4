r"""Differentiable test problems with closed-form gradients and Hessians, and data generators.

Every problem is a :class:`Problem`: an objective :math:`f:\mathbb{R}^n \to \mathbb{R}` with

* ``value(x)``, ``grad(x)``, ``hessian(x)`` in closed form, batched over leading dimensions:
  ``x`` of shape ``(..., n)`` gives shapes ``(...)``, ``(..., n)`` and ``(..., n, n)``;
* ``autograd_grad(x)`` and ``autograd_hessian(x)``, the same derivatives computed by
  ``torch.func`` from ``value`` alone, so that the closed forms can be checked;
* ``minimizers`` (a ``(k, n)`` tensor of the known global minimizers, ``k = 0`` when there is
  none or none is known in closed form), ``min_value`` (the infimum of :math:`f`: a float,
  ``-inf`` when :math:`f` is unbounded below, ``None`` when it has no closed form),
  ``critical_points`` (the known points with :math:`\nabla f = 0`), ``dim``, ``name``, and
  ``bounds``, a plotting box ``((x_min, x_max), (y_min, y_max))`` for the 2-D problems.

A problem is created on a ``device`` with a ``dtype`` (its minimizers and data live there).
Problems without data (Rosenbrock, Beale, ...) evaluate inputs on whatever device they are on;
problems that hold tensors (:class:`Quadratic`, the regression problems) require inputs on their
own device and dtype.

Example::

    f = Rosenbrock()
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    f.value(x)          # tensor([1., 0.])
    f.grad(x)[1]        # tensor([0., 0.]): (1, 1) is the minimizer
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from .devices import resolve_device
from .checks import check_non_negative, check_positive

__all__ = [
    "Problem",
    "Quadratic",
    "Rosenbrock",
    "Beale",
    "Himmelblau",
    "Saddle",
    "MonkeySaddle",
    "Rastrigin",
    "LinearRegressionProblem",
    "LogisticRegressionProblem",
    "RegressionData",
    "linear_regression_data",
    "logistic_regression_data",
]

# Eigenvalues (and components of b along eigenvectors) this many machine epsilons times the
# dimension times the scale of the matrix count as zero: rounding in building A = Q diag(λ) Q^T
# leaves residues of that order where the exact value is 0.
_ZERO_TOL_ULPS = 100


def _concrete_device(device) -> torch.device:
    """The device with its index (``cuda`` -> ``cuda:0``), as tensors report theirs, so that an
    input's device can be compared with the problem's."""
    return torch.empty(0, device=resolve_device(device)).device


def _check_dtype(dtype) -> torch.dtype:
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"Invalid dtype: {dtype!r} (must be a floating-point torch.dtype)")
    return dtype


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"Invalid {name}: {value!r} (must be an integer >= {minimum})")
    return value


def _check_finite_number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"Invalid {name}: {value!r} (must be a finite number)")
    return float(value)


def _as_float64_cpu(name: str, value) -> torch.Tensor:
    """``value`` as a float64 CPU tensor, for set-up computations done once, in full precision."""
    try:
        t = torch.as_tensor(value.detach() if isinstance(value, torch.Tensor) else value)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"Invalid {name}: cannot be converted to a tensor ({exc})") from None
    if t.is_complex():
        raise ValueError(f"Invalid {name}: expected real numbers, got dtype {t.dtype}")
    t = t.to(device="cpu", dtype=torch.float64)
    if not torch.isfinite(t).all():
        raise ValueError(f"Invalid {name}: contains non-finite entries")
    return t


def _random_orthogonal(n: int, seed: int) -> torch.Tensor:
    """A Haar-distributed random orthogonal matrix (float64, CPU) from a local generator.

    QR of a Gaussian matrix, with the signs of R's diagonal moved into Q: without that sign fix
    the distribution of Q is not uniform on the orthogonal group (Mezzadri 2007).
    """
    gen = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))


def _stack_2x2(hxx, hxy, hyy) -> torch.Tensor:
    return torch.stack([torch.stack([hxx, hxy], -1), torch.stack([hxy, hyy], -1)], -2)


class Problem:
    r"""Base class of the test problems: input checks, autograd derivatives, known solutions.

    Subclasses implement ``value``, ``grad`` and ``hessian`` in closed form and call
    ``_set_solutions`` in their constructor.
    """

    name = "problem"
    bounds: tuple[tuple[float, float], tuple[float, float]] | None = None
    # Problems whose formulas involve stored tensors need inputs on the same device and dtype.
    _holds_tensors = False

    def __init__(self, dim: int, *, device=None, dtype=torch.float64):
        self.dim = _check_int("dim", dim, 1)
        self.device = _concrete_device(device)
        self.dtype = _check_dtype(dtype)

    def _points(self, points) -> torch.Tensor:
        return torch.as_tensor(points, dtype=torch.float64).reshape(-1, self.dim).to(self.device, self.dtype)

    def _set_solutions(self, minimizers, min_value: float | None, critical_points=None) -> None:
        self.minimizers = self._points(minimizers)
        self.min_value = min_value
        self.critical_points = self.minimizers if critical_points is None else self._points(critical_points)

    def _check_x(self, x) -> None:
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"Invalid x: expected a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise ValueError(f"Invalid x: expected a floating-point tensor, got dtype {x.dtype}")
        if x.dim() == 0 or x.shape[-1] != self.dim:
            raise ValueError(f"Invalid x: expected shape (..., {self.dim}), got {tuple(x.shape)}")
        if self._holds_tensors and (x.device != self.device or x.dtype != self.dtype):
            raise ValueError(
                f"Invalid x: {self.name} lives on {self.device} in {self.dtype}, "
                f"got x on {x.device} in {x.dtype}")

    def value(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def grad(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def hessian(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def autograd_grad(self, x: torch.Tensor) -> torch.Tensor:
        r""":math:`\nabla f(x)` by reverse-mode autodiff of ``value`` (``torch.func.grad``)."""
        self._check_x(x)
        return self._per_point(torch.func.grad(self.value), x)

    def autograd_hessian(self, x: torch.Tensor) -> torch.Tensor:
        r""":math:`\nabla^2 f(x)` by reverse-over-reverse autodiff of ``value``
        (``torch.func.jacrev`` of ``torch.func.grad``)."""
        self._check_x(x)
        # Not torch.func.hessian: its forward-mode pass loads TorchScript decompositions, which
        # warn (deprecated) on first use; reverse-over-reverse gives the same matrix.
        return self._per_point(torch.func.jacrev(torch.func.grad(self.value)), x)

    def _per_point(self, fn, x: torch.Tensor) -> torch.Tensor:
        # torch.func transforms differentiate a function of one point; vmap maps it over the batch.
        if x.dim() == 1:
            return fn(x)
        out = torch.func.vmap(fn)(x.reshape(-1, self.dim))
        return out.reshape(x.shape[:-1] + out.shape[1:])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim}, device={self.device}, dtype={self.dtype})"


class Quadratic(Problem):
    r"""The quadratic :math:`f(x) = \tfrac12 x^\top A x - b^\top x` with :math:`A` symmetric
    positive semidefinite.

    .. math::

        \nabla f(x) = A x - b, \qquad \nabla^2 f(x) = A, \qquad x^\star = A^{-1} b,
        \qquad f(x^\star) = -\tfrac12 b^\top x^\star .

    ``mu`` and ``L`` are the smallest and largest eigenvalues of :math:`A` and
    ``condition_number`` is :math:`\kappa = L/\mu`. When :math:`A` is singular the minimizers form
    an affine set if :math:`b \in \operatorname{range}(A)` (``minimizers`` then holds the
    minimum-norm one, :math:`A^+ b`) and :math:`f` is unbounded below otherwise (no minimizers,
    ``min_value = -inf``).

    ``A`` may be a matrix or a 1-D tensor of eigenvalues (then :math:`A` is that diagonal matrix);
    ``b`` defaults to zero.

    Example::

        f = Quadratic.with_condition_number(100.0, dim=10, seed=0)
        f.mu, f.L, f.condition_number      # 1.0, 100.0, 100.0
        f.grad(f.minimizers[0])            # zeros
    """

    name = "quadratic"
    _holds_tensors = True

    def __init__(self, A, b=None, *, device=None, dtype=torch.float64):
        A64 = _as_float64_cpu("A", A)
        if A64.dim() == 1:
            A64 = torch.diag(A64)
        if A64.dim() != 2 or A64.shape[0] != A64.shape[1] or A64.shape[0] == 0:
            raise ValueError(f"Invalid A: expected a square matrix or a 1-D tensor of eigenvalues, "
                             f"got shape {tuple(A64.shape)}")
        in_dtype = A.dtype if isinstance(A, torch.Tensor) and A.is_floating_point() else torch.float64
        scale = float(A64.abs().max())
        asym = float((A64 - A64.T).abs().max())
        if asym > _ZERO_TOL_ULPS * torch.finfo(in_dtype).eps * scale:
            raise ValueError(f"Invalid A: not symmetric (max |A - A^T| = {asym:.3g})")
        # Exact symmetry makes grad = A x agree with the gradient of value to rounding.
        A64 = (A64 + A64.T) / 2
        eigenvalues, eigenvectors = torch.linalg.eigh(A64)
        tol = _ZERO_TOL_ULPS * A64.shape[0] * torch.finfo(in_dtype).eps * scale
        if float(eigenvalues[0]) < -tol:
            raise ValueError(f"Invalid A: not positive semidefinite "
                             f"(smallest eigenvalue {float(eigenvalues[0]):.6g})")
        eigenvalues = torch.where(eigenvalues.abs() <= tol, torch.zeros_like(eigenvalues), eigenvalues)
        self._setup(A64, eigenvalues, eigenvectors, b, device, dtype)

    @classmethod
    def from_eigenvalues(cls, eigenvalues, b=None, *, seed: int = 0, rotate: bool = True,
                         device=None, dtype=torch.float64) -> "Quadratic":
        r"""The quadratic with :math:`A = Q \operatorname{diag}(\lambda) Q^\top`.

        :math:`Q` is a random orthogonal matrix drawn from ``seed`` (Haar measure) when ``rotate``,
        else the identity. ``mu``, ``L`` are the given extreme eigenvalues exactly.

        Example::

            f = Quadratic.from_eigenvalues([1.0, 4.0, 9.0], seed=1)
        """
        lam = _as_float64_cpu("eigenvalues", eigenvalues)
        if lam.dim() != 1 or lam.numel() == 0:
            raise ValueError(f"Invalid eigenvalues: expected a non-empty 1-D tensor, got shape {tuple(lam.shape)}")
        if (lam < 0).any():
            raise ValueError(f"Invalid eigenvalues: {lam.tolist()} (must all be >= 0)")
        _check_int("seed", seed, 0)
        if not isinstance(rotate, bool):
            raise ValueError(f"Invalid rotate: {rotate!r} (must be True or False)")
        lam, order = torch.sort(lam)
        n = lam.numel()
        q = _random_orthogonal(n, seed)[:, order] if rotate else torch.eye(n, dtype=torch.float64)
        A = (q * lam) @ q.T
        problem = cls.__new__(cls)
        problem._setup((A + A.T) / 2, lam, q, b, device, dtype)
        return problem

    @classmethod
    def with_condition_number(cls, kappa: float, dim: int, *, mu: float = 1.0, b=None, seed: int = 0,
                              rotate: bool = True, device=None, dtype=torch.float64) -> "Quadratic":
        r"""The quadratic whose eigenvalues are evenly spaced from :math:`\mu` to
        :math:`L = \kappa\mu`, both included, so that its condition number is exactly ``kappa``.

        Example::

            f = Quadratic.with_condition_number(10.0, dim=5)    # eigenvalues 1, 3.25, 5.5, 7.75, 10
        """
        kappa = _check_finite_number("kappa", kappa)
        if kappa < 1:
            raise ValueError(f"Invalid kappa: {kappa!r} (a condition number is >= 1)")
        _check_int("dim", dim, 1)
        check_positive("mu", mu)
        if dim == 1 and kappa != 1:
            raise ValueError(f"Invalid dim: 1 (a 1-D quadratic has condition number 1, not {kappa!r})")
        lam = torch.linspace(mu, kappa * mu, dim, dtype=torch.float64)
        # Pin the endpoints: linspace may round them, and kappa must come out exact.
        lam[0], lam[-1] = mu, kappa * mu
        return cls.from_eigenvalues(lam, b, seed=seed, rotate=rotate, device=device, dtype=dtype)

    def _setup(self, A64, eigenvalues, eigenvectors, b, device, dtype) -> None:
        n = A64.shape[0]
        super().__init__(n, device=device, dtype=dtype)
        b64 = torch.zeros(n, dtype=torch.float64) if b is None else _as_float64_cpu("b", b)
        if b64.shape != (n,):
            raise ValueError(f"Invalid b: expected shape ({n},), got {tuple(b64.shape)}")
        self._eigenvalues = eigenvalues
        self._eigenvectors = eigenvectors
        self._A = A64.to(self.device, self.dtype)
        self._b = b64.to(self.device, self.dtype)
        pos = eigenvalues > 0
        b_coords = eigenvectors.T @ b64
        null_part = float(b_coords[~pos].abs().max()) if (~pos).any() else 0.0
        if null_part > _ZERO_TOL_ULPS * n * torch.finfo(torch.float64).eps * float(b64.norm()):
            self._set_solutions([], -math.inf)
        else:
            x_star = eigenvectors[:, pos] @ (b_coords[pos] / eigenvalues[pos])
            self._set_solutions(x_star, float(-0.5 * (b64 @ x_star)))

    @property
    def A(self) -> torch.Tensor:
        return self._A

    @property
    def b(self) -> torch.Tensor:
        return self._b

    @property
    def eigenvalues(self) -> torch.Tensor:
        """Eigenvalues of :math:`A` in ascending order (float64, CPU)."""
        return self._eigenvalues

    @property
    def eigenvectors(self) -> torch.Tensor:
        """Orthonormal eigenvectors of :math:`A`, as columns matching ``eigenvalues`` (float64, CPU)."""
        return self._eigenvectors

    @property
    def mu(self) -> float:
        """Strong-convexity constant: the smallest eigenvalue of :math:`A`."""
        return float(self._eigenvalues[0])

    @property
    def L(self) -> float:
        """Smoothness constant: the largest eigenvalue of :math:`A`."""
        return float(self._eigenvalues[-1])

    @property
    def condition_number(self) -> float:
        r""":math:`\kappa = L/\mu`; ValueError when :math:`A` is singular (:math:`\mu = 0`)."""
        if self.mu == 0:
            raise ValueError("Invalid A: singular (mu = 0), so the condition number is infinite")
        return self.L / self.mu

    def value(self, x):
        self._check_x(x)
        return 0.5 * (x * (x @ self._A)).sum(-1) - x @ self._b

    def grad(self, x):
        self._check_x(x)
        return x @ self._A - self._b

    def hessian(self, x):
        self._check_x(x)
        return self._A.expand(x.shape[:-1] + self._A.shape).clone()


class Rosenbrock(Problem):
    r"""Rosenbrock's banana function (Rosenbrock 1960) and its chained n-dimensional form

    .. math::

        f(x) = \sum_{i=1}^{n-1} b\,(x_{i+1} - x_i^2)^2 + (a - x_i)^2 ,

    with gradient and tridiagonal Hessian (:math:`r_i = x_{i+1} - x_i^2`)

    .. math::

        \partial_j f = \underbrace{-4b\,x_j r_j - 2(a - x_j)}_{j \le n-1}
                     + \underbrace{2b\, r_{j-1}}_{j \ge 2}, \qquad
        \partial_j^2 f = \underbrace{2 - 4b\,r_j + 8b\,x_j^2}_{j \le n-1} + \underbrace{2b}_{j \ge 2},
        \qquad \partial_j\partial_{j+1} f = -4b\,x_j .

    The global minimizer is :math:`(a, a^2)` in 2-D, with :math:`f = 0`. For :math:`n > 2` the
    value 0 is reached only when :math:`a \in \{0, 1\}` (at :math:`x = a\mathbf{1}`); other
    ``a`` are refused there, since their minimizer has no closed form.

    Example::

        f = Rosenbrock()               # a = 1, b = 100, minimizer (1, 1)
        f.hessian(f.minimizers[0])     # [[802, -400], [-400, 200]]
    """

    name = "Rosenbrock"

    def __init__(self, dim: int = 2, a: float = 1.0, b: float = 100.0, *, device=None, dtype=torch.float64):
        super().__init__(_check_int("dim", dim, 2), device=device, dtype=dtype)
        self.a = _check_finite_number("a", a)
        check_positive("b", b)
        self.b = float(b)
        if dim > 2 and self.a not in (0.0, 1.0):
            raise ValueError(f"Invalid a: {a!r} (for dim > 2 only a = 0 or a = 1 have a closed-form minimizer)")
        self._set_solutions([self.a, self.a ** 2] if dim == 2 else [self.a] * dim, 0.0)
        if dim == 2:
            self.bounds = ((self.a - 3.0, self.a + 1.0), (self.a ** 2 - 2.0, self.a ** 2 + 2.0))

    def value(self, x):
        self._check_x(x)
        head, tail = x[..., :-1], x[..., 1:]
        return (self.b * (tail - head ** 2) ** 2 + (self.a - head) ** 2).sum(-1)

    def grad(self, x):
        self._check_x(x)
        head, tail = x[..., :-1], x[..., 1:]
        r = tail - head ** 2
        return (F.pad(-4 * self.b * head * r - 2 * (self.a - head), (0, 1))
                + F.pad(2 * self.b * r, (1, 0)))

    def hessian(self, x):
        self._check_x(x)
        head, tail = x[..., :-1], x[..., 1:]
        r = tail - head ** 2
        diag = F.pad(2 - 4 * self.b * r + 8 * self.b * head ** 2, (0, 1)) + F.pad(
            torch.full_like(r, 2 * self.b), (1, 0))
        off = -4 * self.b * head
        return (torch.diag_embed(diag) + torch.diag_embed(off, offset=1)
                + torch.diag_embed(off, offset=-1))


class Beale(Problem):
    r"""Beale's function, a sum of three squared residuals :math:`r_k = c_k - x + x y^k`
    with :math:`c = (1.5,\ 2.25,\ 2.625)`:

    .. math::

        f(x, y) = \sum_{k=1}^{3} r_k^2, \qquad
        \nabla f = 2 \sum_k r_k \nabla r_k, \qquad
        \nabla^2 f = 2 \sum_k \left(\nabla r_k \nabla r_k^\top + r_k \nabla^2 r_k\right),

    where :math:`\nabla r_k = (y^k - 1,\ k x y^{k-1})` and :math:`\nabla^2 r_k` has
    :math:`\partial_{xy} r_k = k y^{k-1}`, :math:`\partial_{yy} r_k = k(k-1) x y^{k-2}`.
    Minimum :math:`f(3, 0.5) = 0`; flat valleys make it hard for plain gradient descent.

    Example::

        Beale().value(torch.tensor([3.0, 0.5], dtype=torch.float64))    # tensor(0.)
    """

    name = "Beale"
    bounds = ((-4.5, 4.5), (-4.5, 4.5))
    _C = (1.5, 2.25, 2.625)

    def __init__(self, *, device=None, dtype=torch.float64):
        super().__init__(2, device=device, dtype=dtype)
        self._set_solutions([3.0, 0.5], 0.0)

    def _residuals(self, x):
        u, v = x[..., 0], x[..., 1]
        return [(c - u + u * v ** k, v ** k - 1, k * u * v ** (k - 1), k * v ** (k - 1),
                 k * (k - 1) * u * v ** (k - 2) if k >= 2 else torch.zeros_like(u))
                for k, c in zip((1, 2, 3), self._C)]

    def value(self, x):
        self._check_x(x)
        return sum(r ** 2 for r, *_ in self._residuals(x))

    def grad(self, x):
        self._check_x(x)
        res = self._residuals(x)
        return torch.stack([2 * sum(r * rx for r, rx, *_ in res),
                            2 * sum(r * ry for r, _, ry, *_ in res)], -1)

    def hessian(self, x):
        self._check_x(x)
        res = self._residuals(x)
        hxx = 2 * sum(rx * rx for _, rx, _, _, _ in res)
        hxy = 2 * sum(rx * ry + r * rxy for r, rx, ry, rxy, _ in res)
        hyy = 2 * sum(ry * ry + r * ryy for r, _, ry, _, ryy in res)
        return _stack_2x2(hxx, hxy, hyy)


def _himmelblau_minimizers() -> list[list[float]]:
    r"""The four zeros of both residuals of Himmelblau's function, in closed form.

    With :math:`y = 11 - x^2`, the second residual vanishes where
    :math:`x^4 - 22x^2 + x + 114 = (x - 3)(x^3 + 3x^2 - 13x - 38) = 0`. Shifting
    :math:`x = t - 1` gives the depressed cubic :math:`t^3 - 16t - 23 = 0`, whose three real roots
    follow from Viète's trigonometric formula.
    """
    p, q = -16.0, -23.0
    m = 2 * math.sqrt(-p / 3)
    theta = math.acos(3 * q / (p * m)) / 3
    xs = [3.0] + [m * math.cos(theta - 2 * math.pi * k / 3) - 1 for k in range(3)]
    return [[x, 11 - x * x] for x in xs]


class Himmelblau(Problem):
    r"""Himmelblau's function (Himmelblau 1972), with four global minima:

    .. math::

        f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2, \qquad
        \nabla f = \begin{pmatrix} 4x\,r_1 + 2r_2 \\ 2r_1 + 4y\,r_2 \end{pmatrix}, \qquad
        \nabla^2 f = \begin{pmatrix} 12x^2 + 4y - 42 & 4(x + y) \\ 4(x + y) & 12y^2 + 4x - 26 \end{pmatrix},

    with :math:`r_1 = x^2 + y - 11`, :math:`r_2 = x + y^2 - 7`. The minima, where
    :math:`f = 0`, are :math:`(3, 2)` and three points with irrational coordinates, computed in
    closed form (approximately :math:`(-2.805118, 3.131312)`, :math:`(-3.779310, -3.283186)`,
    :math:`(3.584428, -1.848126)`).

    Example::

        f = Himmelblau()
        f.minimizers.shape      # (4, 2)
    """

    name = "Himmelblau"
    bounds = ((-5.0, 5.0), (-5.0, 5.0))

    def __init__(self, *, device=None, dtype=torch.float64):
        super().__init__(2, device=device, dtype=dtype)
        self._set_solutions(_himmelblau_minimizers(), 0.0)

    def value(self, x):
        self._check_x(x)
        u, v = x[..., 0], x[..., 1]
        return (u ** 2 + v - 11) ** 2 + (u + v ** 2 - 7) ** 2

    def grad(self, x):
        self._check_x(x)
        u, v = x[..., 0], x[..., 1]
        r1, r2 = u ** 2 + v - 11, u + v ** 2 - 7
        return torch.stack([4 * u * r1 + 2 * r2, 2 * r1 + 4 * v * r2], -1)

    def hessian(self, x):
        self._check_x(x)
        u, v = x[..., 0], x[..., 1]
        return _stack_2x2(12 * u ** 2 + 4 * v - 42, 4 * (u + v), 12 * v ** 2 + 4 * u - 26)


class Saddle(Problem):
    r"""The saddle :math:`f(x, y) = x^2 - y^2`: :math:`\nabla f = (2x, -2y)`,
    :math:`\nabla^2 f = \operatorname{diag}(2, -2)`.

    Its only critical point, the origin, is a saddle (indefinite Hessian); :math:`f` is unbounded
    below, so there are no minimizers and ``min_value = -inf``. Gradient descent started on the
    :math:`x`-axis converges to the saddle; any other start escapes along :math:`y`.

    Example::

        Saddle().critical_points      # tensor([[0., 0.]])
    """

    name = "saddle"
    bounds = ((-2.0, 2.0), (-2.0, 2.0))

    def __init__(self, *, device=None, dtype=torch.float64):
        super().__init__(2, device=device, dtype=dtype)
        self._set_solutions([], -math.inf, critical_points=[0.0, 0.0])

    def value(self, x):
        self._check_x(x)
        return x[..., 0] ** 2 - x[..., 1] ** 2

    def grad(self, x):
        self._check_x(x)
        return torch.stack([2 * x[..., 0], -2 * x[..., 1]], -1)

    def hessian(self, x):
        self._check_x(x)
        ones = torch.ones_like(x[..., 0])
        return _stack_2x2(2 * ones, 0 * ones, -2 * ones)


class MonkeySaddle(Problem):
    r"""The monkey saddle :math:`f(x, y) = x^3 - 3xy^2`:

    .. math::

        \nabla f = (3x^2 - 3y^2,\ -6xy), \qquad
        \nabla^2 f = \begin{pmatrix} 6x & -6y \\ -6y & -6x \end{pmatrix},

    whose eigenvalues are :math:`\pm 6\lVert (x, y) \rVert`. The only critical point, the origin,
    is degenerate (zero Hessian): second-order information cannot classify it. :math:`f` is
    unbounded below: no minimizers, ``min_value = -inf``.

    Example::

        MonkeySaddle().hessian(torch.zeros(2, dtype=torch.float64))   # zeros
    """

    name = "monkey saddle"
    bounds = ((-2.0, 2.0), (-2.0, 2.0))

    def __init__(self, *, device=None, dtype=torch.float64):
        super().__init__(2, device=device, dtype=dtype)
        self._set_solutions([], -math.inf, critical_points=[0.0, 0.0])

    def value(self, x):
        self._check_x(x)
        u, v = x[..., 0], x[..., 1]
        return u ** 3 - 3 * u * v ** 2

    def grad(self, x):
        self._check_x(x)
        u, v = x[..., 0], x[..., 1]
        return torch.stack([3 * u ** 2 - 3 * v ** 2, -6 * u * v], -1)

    def hessian(self, x):
        self._check_x(x)
        u, v = x[..., 0], x[..., 1]
        return _stack_2x2(6 * u, -6 * v, -6 * u)


class Rastrigin(Problem):
    r"""Rastrigin's function, a convex bowl covered in cosine ripples (many local minima):

    .. math::

        f(x) = A n + \sum_{i=1}^n \left(x_i^2 - A\cos(2\pi x_i)\right), \qquad
        \partial_i f = 2x_i + 2\pi A \sin(2\pi x_i), \qquad
        \nabla^2 f = \operatorname{diag}\!\left(2 + 4\pi^2 A \cos(2\pi x_i)\right).

    The global minimum is :math:`f(0) = 0` (since :math:`f(x) \ge \lVert x\rVert^2`).

    Example::

        f = Rastrigin(dim=3)
        f.value(torch.zeros(3, dtype=torch.float64))     # tensor(0.)
    """

    name = "Rastrigin"

    def __init__(self, dim: int = 2, A: float = 10.0, *, device=None, dtype=torch.float64):
        super().__init__(dim, device=device, dtype=dtype)
        check_positive("A", A)
        self.A = float(A)
        self._set_solutions([0.0] * self.dim, 0.0)
        if self.dim == 2:
            self.bounds = ((-5.12, 5.12), (-5.12, 5.12))

    def value(self, x):
        self._check_x(x)
        return self.A * self.dim + (x ** 2 - self.A * torch.cos(2 * math.pi * x)).sum(-1)

    def grad(self, x):
        self._check_x(x)
        return 2 * x + 2 * math.pi * self.A * torch.sin(2 * math.pi * x)

    def hessian(self, x):
        self._check_x(x)
        return torch.diag_embed(2 + 4 * math.pi ** 2 * self.A * torch.cos(2 * math.pi * x))


class _FiniteSumProblem(Problem):
    r"""An empirical risk of a linear model, :math:`f(w) = \frac1N \sum_{i=1}^N \ell_i(w)` with

    .. math::

        \ell_i(w) = \phi(x_i^\top w,\ y_i) + \tfrac{\lambda}{2} \lVert w \rVert^2, \qquad
        \nabla \ell_i(w) = \phi'(x_i^\top w, y_i)\, x_i + \lambda w, \qquad
        \nabla^2 f(w) = \tfrac1N X^\top \operatorname{diag}(\phi'') X + \lambda I,

    :math:`\lambda` = ``l2``. Subclasses give :math:`\phi`, :math:`\phi'`, :math:`\phi''`.
    """

    _holds_tensors = True

    def __init__(self, X, y, l2, device, dtype):
        if not isinstance(X, torch.Tensor) or not X.is_floating_point() or X.dim() != 2 or 0 in X.shape:
            raise ValueError(f"Invalid X: expected a non-empty floating-point tensor of shape (N, n), got "
                             f"{tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__}")
        super().__init__(X.shape[1], device=X.device if device is None else device,
                         dtype=X.dtype if dtype is None else dtype)
        if not isinstance(y, torch.Tensor) or y.shape != (X.shape[0],):
            raise ValueError(f"Invalid y: expected a tensor of shape ({X.shape[0]},), got "
                             f"{tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__}")
        check_non_negative("l2", l2)
        self.X = X.detach().to(self.device, self.dtype)
        self.y = y.detach().to(self.device, self.dtype)
        if not (torch.isfinite(self.X).all() and torch.isfinite(self.y).all()):
            raise ValueError("Invalid X, y: contain non-finite entries")
        self.l2 = float(l2)
        self.n_samples = X.shape[0]

    def value(self, w):
        self._check_x(w)
        return self._phi(w @ self.X.T, self.y).mean(-1) + 0.5 * self.l2 * (w * w).sum(-1)

    def grad(self, w):
        self._check_x(w)
        return self._dphi(w @ self.X.T, self.y) @ self.X / self.n_samples + self.l2 * w

    def hessian(self, w):
        self._check_x(w)
        weights = self._d2phi(w @ self.X.T, self.y)
        eye = torch.eye(self.dim, device=self.device, dtype=self.dtype)
        return (self.X.T * weights.unsqueeze(-2)) @ self.X / self.n_samples + self.l2 * eye

    def per_example_grads(self, w: torch.Tensor) -> torch.Tensor:
        r"""The matrix of :math:`\nabla \ell_i(w)`, shape ``(..., N, n)``; its mean over the
        sample axis is ``grad(w)``.

        For the variance of minibatch gradients: with :math:`S^2 = \frac{1}{N-1}\sum_i
        \lVert \nabla\ell_i - \nabla f \rVert^2`, the mean of :math:`b` of them drawn without
        replacement has :math:`\mathbb{E}\lVert g_b - \nabla f \rVert^2 = \frac{S^2}{b}(1 - \frac bN)`.

        Example::

            G = problem.per_example_grads(w)
            S2 = ((G - G.mean(0)) ** 2).sum(1).sum() / (G.shape[0] - 1)
        """
        self._check_x(w)
        return (self._dphi(w @ self.X.T, self.y).unsqueeze(-1) * self.X
                + self.l2 * w.unsqueeze(-2))

    def minibatch_grad(self, w: torch.Tensor, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        r"""The mean of :math:`\nabla \ell_i(w)` over ``batch_size`` indices drawn uniformly
        *without replacement* with ``generator`` (an unbiased estimate of ``grad(w)``).

        Example::

            gen = torch.Generator().manual_seed(0)
            g = problem.minibatch_grad(w, 32, gen)
        """
        self._check_x(w)
        _check_int("batch_size", batch_size, 1)
        if batch_size > self.n_samples:
            raise ValueError(f"Invalid batch_size: {batch_size} (larger than the {self.n_samples} samples)")
        if not isinstance(generator, torch.Generator):
            raise ValueError(f"Invalid generator: expected a torch.Generator, got {type(generator).__name__}")
        idx = torch.randperm(self.n_samples, generator=generator, device=generator.device)[:batch_size]
        idx = idx.to(self.device)
        Xb, yb = self.X[idx], self.y[idx]
        return self._dphi(w @ Xb.T, yb) @ Xb / batch_size + self.l2 * w


class LinearRegressionProblem(_FiniteSumProblem):
    r"""Least squares, :math:`f(w) = \frac{1}{2N}\lVert Xw - y\rVert^2 + \frac{\lambda}{2}\lVert w\rVert^2`:

    .. math::

        \nabla f(w) = \tfrac1N X^\top (Xw - y) + \lambda w, \qquad
        \nabla^2 f = \tfrac1N X^\top X + \lambda I, \qquad
        w^\star = \left(\tfrac1N X^\top X + \lambda I\right)^{+} \tfrac1N X^\top y

    (the minimum-norm minimizer when :math:`X^\top X` is singular and :math:`\lambda = 0`).
    ``device`` and ``dtype`` default to those of ``X``.

    Example::

        X, y, w_true = linear_regression_data(200, 5, noise=0.1, seed=0)
        f = LinearRegressionProblem(X, y, l2=1e-3)
        f.minimizers[0]        # close to w_true
    """

    name = "linear regression"

    def __init__(self, X, y, l2: float = 0.0, *, device=None, dtype=None):
        super().__init__(X, y, l2, device, dtype)
        X64, y64 = self.X.to("cpu", torch.float64), self.y.to("cpu", torch.float64)
        H = X64.T @ X64 / self.n_samples + self.l2 * torch.eye(self.dim, dtype=torch.float64)
        w_star = torch.linalg.pinv(H, hermitian=True) @ (X64.T @ y64 / self.n_samples)
        r = X64 @ w_star - y64
        self._set_solutions(w_star, float(0.5 * (r @ r) / self.n_samples + 0.5 * self.l2 * (w_star @ w_star)))

    @staticmethod
    def _phi(z, y):
        return 0.5 * (z - y) ** 2

    @staticmethod
    def _dphi(z, y):
        return z - y

    @staticmethod
    def _d2phi(z, y):
        return torch.ones_like(z)


class LogisticRegressionProblem(_FiniteSumProblem):
    r"""Logistic regression with labels :math:`y_i \in \{0, 1\}` (mean cross-entropy):

    .. math::

        f(w) = \frac1N \sum_i \left[\log\!\left(1 + e^{z_i}\right) - y_i z_i\right]
               + \tfrac{\lambda}{2}\lVert w\rVert^2, \quad z_i = x_i^\top w, \qquad
        \nabla f = \tfrac1N X^\top(\sigma(z) - y) + \lambda w, \qquad
        \nabla^2 f = \tfrac1N X^\top \operatorname{diag}(\sigma(z)(1 - \sigma(z))) X + \lambda I.

    The minimizer has no closed form (``minimizers`` is empty, ``min_value`` is ``None``); on
    separable data with :math:`\lambda = 0` it does not exist: the infimum 0 is approached as
    :math:`\lVert w \rVert \to \infty`.

    Example::

        X, y, w_true = logistic_regression_data(500, 3, seed=0)
        f = LogisticRegressionProblem(X, y, l2=1e-2)
    """

    name = "logistic regression"

    def __init__(self, X, y, l2: float = 0.0, *, device=None, dtype=None):
        super().__init__(X, y, l2, device, dtype)
        if not ((self.y == 0) | (self.y == 1)).all():
            raise ValueError("Invalid y: logistic regression labels must be 0 or 1")
        self._set_solutions([], None)

    @staticmethod
    def _phi(z, y):
        return F.softplus(z) - y * z

    @staticmethod
    def _dphi(z, y):
        return torch.sigmoid(z) - y

    @staticmethod
    def _d2phi(z, y):
        s = torch.sigmoid(z)
        return s * (1 - s)


class RegressionData(NamedTuple):
    """A data set ``(X, y, w_true)``: features ``(N, n)``, targets or labels ``(N,)``, and the
    weights that generated them ``(n,)``."""

    X: torch.Tensor
    y: torch.Tensor
    w_true: torch.Tensor


def _check_generator_args(n_samples, n_features, seed, device, dtype):
    _check_int("n_samples", n_samples, 1)
    _check_int("n_features", n_features, 1)
    _check_int("seed", seed, 0)
    return _concrete_device(device), _check_dtype(dtype)


def linear_regression_data(n_samples: int, n_features: int, noise: float = 0.1, seed: int = 0,
                           device=None, dtype=torch.float64) -> RegressionData:
    r"""Gaussian features and targets :math:`y = X w_{\text{true}} + \sigma\varepsilon` with
    :math:`X_{ij}, (w_{\text{true}})_j, \varepsilon_i \sim \mathcal N(0, 1)` i.i.d. and
    :math:`\sigma` = ``noise``.

    Drawn on the CPU in float64 from a local generator seeded with ``seed`` (the global RNG is
    untouched), then moved to ``device`` and ``dtype``: the same seed gives the same data on
    every call and every device.

    Example::

        X, y, w_true = linear_regression_data(100, 3, noise=0.5, seed=1, device="cpu")
    """
    device, dtype = _check_generator_args(n_samples, n_features, seed, device, dtype)
    check_non_negative("noise", noise)
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n_samples, n_features, generator=gen, dtype=torch.float64)
    w = torch.randn(n_features, generator=gen, dtype=torch.float64)
    y = X @ w + float(noise) * torch.randn(n_samples, generator=gen, dtype=torch.float64)
    return RegressionData(X.to(device, dtype), y.to(device, dtype), w.to(device, dtype))


def logistic_regression_data(n_samples: int, n_features: int, separable: bool = False, margin: float = 0.0,
                             seed: int = 0, device=None, dtype=torch.float64) -> RegressionData:
    r"""Gaussian features :math:`x_i \sim \mathcal N(0, I)`, weights
    :math:`w_{\text{true}} \sim \mathcal N(0, I)` and labels in :math:`\{0, 1\}`.

    * ``separable=False``: :math:`y_i \sim \operatorname{Bernoulli}(\sigma(x_i^\top w_{\text{true}}))`,
      the logistic model itself; with many more samples than features the classes overlap.
    * ``separable=True``: :math:`y_i = [x_i^\top w_{\text{true}} > 0]`, and each point is then pushed
      ``margin`` further from the separating hyperplane along its unit normal
      :math:`\hat w`, so that every :math:`|x_i^\top \hat w| \ge` ``margin``.

    Seeded with a local generator on the CPU in float64, then moved to ``device``/``dtype``, as in
    :func:`linear_regression_data`.

    Example::

        X, y, w_true = logistic_regression_data(200, 2, separable=True, margin=0.5, seed=0)
    """
    device, dtype = _check_generator_args(n_samples, n_features, seed, device, dtype)
    if not isinstance(separable, bool):
        raise ValueError(f"Invalid separable: {separable!r} (must be True or False)")
    check_non_negative("margin", margin)
    if margin > 0 and not separable:
        raise ValueError(f"Invalid margin: {margin!r} (a margin needs separable=True)")
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n_samples, n_features, generator=gen, dtype=torch.float64)
    w = torch.randn(n_features, generator=gen, dtype=torch.float64)
    if separable:
        w_hat = w / w.norm()
        y = (X @ w_hat > 0).to(torch.float64)
        X = X + float(margin) * (2 * y - 1).unsqueeze(1) * w_hat
    else:
        y = (torch.rand(n_samples, generator=gen, dtype=torch.float64) < torch.sigmoid(X @ w)).to(torch.float64)
    return RegressionData(X.to(device, dtype), y.to(device, dtype), w.to(device, dtype))
