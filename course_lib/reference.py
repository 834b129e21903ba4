r"""The optimizer catalogue of the course as data, and the helpers of the appendix that read it.

:data:`CATALOGUE` lists the optimizers the course treats, one :class:`Optimizer` record each: the
name, the year of the paper that introduced it (or of the lecture, for RMSprop), the paper's key in
``chapters/references.bib``, its parents in the family tree (the methods it modifies or combines),
the ``course_lib.optim`` class and the ``torch.optim`` class that implement it (``None`` where there
is none) and, where the method is a setting of a more general class (Nesterov is ``SGD`` with
``nesterov=True``), the keyword arguments that select it.

The helpers:

* :func:`signature_defaults` reads a class's default hyperparameters from its constructor's
  signature, leaving out PyTorch's implementation switches (``foreach``, ``fused``, ...) that do not
  change the update;
* :func:`default_mismatches` compares two classes' defaults;
* :func:`draw_family_tree` draws the tree with matplotlib alone (no Graphviz): one node per
  optimizer, placed by year on the horizontal axis, an arrow from each parent to each child.

Example::

    from course_lib.reference import CATALOGUE, by_name, draw_family_tree, signature_defaults
    signature_defaults(by_name("Adam").torch_class)   # {'lr': 0.001, 'betas': (0.9, 0.999), ...}
    draw_family_tree(ax)                              # on a matplotlib Axes
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Optimizer", "CATALOGUE", "IMPLEMENTATION_KEYWORDS", "by_name", "resolve_class",
           "signature_defaults", "default_mismatches", "family_tree_edges", "draw_family_tree"]

# Keywords of torch.optim constructors that choose an implementation (vectorised, fused, CUDA-graph
# safe, differentiable) and leave the mathematical update unchanged: not hyperparameters.
IMPLEMENTATION_KEYWORDS = frozenset({"foreach", "fused", "capturable", "differentiable"})


@dataclass(frozen=True)
class Optimizer:
    """One optimizer of the catalogue.

    ``course_lib`` and ``torch`` name classes as ``"module.Class"`` strings (resolved by
    :func:`resolve_class`), so that reading the catalogue imports nothing. ``options`` are the
    constructor arguments that turn the class into this method. ``paper_defaults`` are the
    hyperparameters the paper recommends, under the library's argument names, where they differ
    from PyTorch's defaults. ``row`` places the node vertically in :func:`draw_family_tree`.
    """

    name: str
    year: int
    bibkey: str
    parents: tuple[str, ...] = ()
    course_lib: str | None = None
    torch: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    paper_defaults: dict[str, Any] = field(default_factory=dict)
    row: float = 0.0

    @property
    def course_lib_class(self):
        return resolve_class(self.course_lib)

    @property
    def torch_class(self):
        return resolve_class(self.torch)


_C, _T = "course_lib.optim.", "torch.optim."

CATALOGUE: tuple[Optimizer, ...] = (
    Optimizer("SGD", 1951, "robbins1951stochastic", (), _C + "SGD", _T + "SGD", row=0),
    Optimizer("Heavy ball", 1964, "polyak1964some", ("SGD",), _C + "SGD", _T + "SGD",
              {"momentum": 0.9}, row=1),
    Optimizer("Nesterov", 1983, "nesterov1983method", ("Heavy ball",), _C + "SGD", _T + "SGD",
              {"momentum": 0.9, "nesterov": True}, row=1.9),
    Optimizer("L-BFGS", 1989, "liu1989limited", (), None, _T + "LBFGS", row=-3),
    Optimizer("Natural gradient", 1998, "amari1998natural", ("SGD",), row=-2),
    Optimizer("AdaGrad", 2011, "duchi2011adaptive", ("SGD",), _C + "Adagrad", _T + "Adagrad", row=4),
    Optimizer("RMSprop", 2012, "tieleman2012rmsprop", ("AdaGrad",), _C + "RMSprop", _T + "RMSprop",
              paper_defaults={"alpha": 0.9}, row=5),
    Optimizer("Adadelta", 2012, "zeiler2012adadelta", ("AdaGrad",), _C + "Adadelta",
              _T + "Adadelta", paper_defaults={"rho": 0.95}, row=6),
    Optimizer("Adam", 2015, "kingma2015adam", ("RMSprop", "Heavy ball"), _C + "Adam", _T + "Adam",
              row=3.5),
    Optimizer("Adamax", 2015, "kingma2015adam", ("Adam",), _C + "Adamax", _T + "Adamax", row=5),
    Optimizer("K-FAC", 2015, "martens2015kfac", ("Natural gradient",), _C + "KFAC", row=-2),
    Optimizer("NAdam", 2016, "dozat2016nadam", ("Adam", "Nesterov"), _C + "NAdam", _T + "NAdam",
              row=2.2),
    Optimizer("AMSGrad", 2018, "reddi2018amsgrad", ("Adam",), _C + "Adam", _T + "Adam",
              {"amsgrad": True}, row=4.5),
    Optimizer("Adafactor", 2018, "shazeer2018adafactor", ("Adam",), _C + "Adafactor",
              _T + "Adafactor", paper_defaults={"eps": (1e-30, 1e-3)}, row=6),
    Optimizer("Shampoo", 2018, "gupta2018shampoo", ("AdaGrad",), _C + "Shampoo", row=-1.2),
    Optimizer("signSGD", 2018, "bernstein2018signsgd", ("SGD",), row=0.6),
    Optimizer("AdamW", 2019, "loshchilov2019decoupled", ("Adam",), _C + "AdamW", _T + "AdamW",
              row=3.5),
    Optimizer("AdaBound", 2019, "luo2019adabound", ("Adam",), _C + "AdaBound", row=6.1),
    Optimizer("Lookahead", 2019, "zhang2019lookahead", ("SGD",), _C + "Lookahead", row=1.6),
    Optimizer("RAdam", 2020, "liu2020radam", ("Adam",), _C + "RAdam", _T + "RAdam", row=4.7),
    Optimizer("Gradient centralization", 2020, "yong2020gradient", ("SGD",),
              _C + "GradientCentralization", row=-0.2),
    Optimizer("Lion", 2023, "chen2023lion", ("signSGD", "AdamW"), _C + "Lion", row=1.5),
    Optimizer("Sophia", 2024, "liu2024sophia", ("Adam",), _C + "Sophia", row=2.5),
)


def by_name(name: str) -> Optimizer:
    """The catalogue entry called ``name`` (exactly as in :data:`CATALOGUE`)."""
    for entry in CATALOGUE:
        if entry.name == name:
            return entry
    raise ValueError(f"Invalid name: {name!r} is not in the catalogue "
                     f"({', '.join(e.name for e in CATALOGUE)})")


def resolve_class(path: str | None):
    """The class named by a ``"package.module.Class"`` string; ``None`` for ``None``."""
    if path is None:
        return None
    if not isinstance(path, str) or "." not in path:
        raise ValueError(f"Invalid path: {path!r} (expected 'package.module.Class')")
    module, _, attr = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"Invalid path: {path!r} ({err})") from None


def signature_defaults(cls) -> dict[str, Any]:
    """The default hyperparameters of an optimizer class, read from its constructor's signature.

    Parameters without a default (``params``, a wrapped optimizer) and the
    :data:`IMPLEMENTATION_KEYWORDS` are left out; the rest keep the signature's order.
    """
    if not inspect.isclass(cls):
        raise ValueError(f"Invalid cls: {cls!r} (expected a class)")
    defaults = {}
    for name, parameter in inspect.signature(cls).parameters.items():
        if parameter.default is inspect.Parameter.empty or name in IMPLEMENTATION_KEYWORDS:
            continue
        defaults[name] = parameter.default
    return defaults


def default_mismatches(cls, reference_cls) -> dict[str, tuple[Any, Any]]:
    """The hyperparameters whose defaults differ between two classes: ``{name: (ours, theirs)}``.

    A hyperparameter that only one of them has counts as a mismatch, with the other side
    ``inspect.Parameter.empty``. Values compare with ``==`` (``0 == 0.0``).
    """
    ours, theirs = signature_defaults(cls), signature_defaults(reference_cls)
    empty = inspect.Parameter.empty
    return {name: (ours.get(name, empty), theirs.get(name, empty))
            for name in list(ours) + [n for n in theirs if n not in ours]
            if name not in ours or name not in theirs or ours[name] != theirs[name]}


def family_tree_edges(catalogue=CATALOGUE) -> list[tuple[str, str]]:
    """The ``(parent, child)`` pairs of the family tree, in catalogue order."""
    return [(parent, entry.name) for entry in catalogue for parent in entry.parents]


def draw_family_tree(ax, catalogue=CATALOGUE, *, fontsize: float = 8.0):
    """Draw the family tree on a matplotlib Axes and return ``{name: (x, y)}``, the node centres.

    Distinct years are placed at equal spacing on the horizontal axis, labelled with the years:
    the early decades hold few methods and the last one most of them, so a linear time axis
    would crowd them together. Children are drawn after parents in time, so every arrow points
    right. A node whose class is in ``course_lib.optim`` is drawn filled.
    """
    if fontsize <= 0:
        raise ValueError(f"Invalid fontsize: {fontsize!r} (must be positive)")
    names = {entry.name for entry in catalogue}
    for parent, child in family_tree_edges(catalogue):
        if parent not in names:
            raise ValueError(f"Invalid catalogue: {child!r} has the unknown parent {parent!r}")
    years = sorted({entry.year for entry in catalogue})
    column = {year: i for i, year in enumerate(years)}
    pos = {entry.name: (float(column[entry.year]), float(entry.row)) for entry in catalogue}
    for parent, child in family_tree_edges(catalogue):
        ax.annotate("", xy=pos[child], xytext=pos[parent],
                    arrowprops={"arrowstyle": "-|>", "color": "0.45", "lw": 0.9,
                                "shrinkA": 14, "shrinkB": 14, "connectionstyle": "arc3,rad=0.08"})
    for entry in catalogue:
        filled = entry.course_lib is not None
        ax.text(*pos[entry.name], entry.name, ha="center", va="center", fontsize=fontsize,
                bbox={"boxstyle": "round,pad=0.3", "lw": 0.9, "ec": "tab:blue",
                      "fc": "#cfe2f3" if filled else "white"})
    ax.set_xticks(range(len(years)), [str(y) for y in years], rotation=45)
    rows = [pos[n][1] for n in pos]
    ax.set(xlim=(-0.8, len(years) - 0.2), ylim=(min(rows) - 0.8, max(rows) + 0.8),
           xlabel="year of the paper (distinct years, evenly spaced)")
    ax.set_yticks([])
    ax.grid(False)
    return pos
