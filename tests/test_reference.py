"""The optimizer catalogue of the appendix (course_lib.reference): its data and its helpers."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import matplotlib
import pytest
import torch

from course_lib.reference import (CATALOGUE, by_name, default_mismatches, draw_family_tree,
                                  family_tree_edges, resolve_class, signature_defaults)

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

BIB = Path(__file__).resolve().parent.parent / "chapters" / "references.bib"


def _bib_keys() -> set[str]:
    return set(re.findall(r"^@\w+\{([^,\s]+),", BIB.read_text(encoding="utf-8"), re.M))


def test_names_are_unique():
    names = [e.name for e in CATALOGUE]
    assert len(names) == len(set(names))


def test_every_parent_exists_and_years_do_not_decrease_along_edges():
    entries = {e.name: e for e in CATALOGUE}
    edges = family_tree_edges()
    assert len(edges) == sum(len(e.parents) for e in CATALOGUE) > 15
    for parent, child in edges:
        assert parent in entries, f"{child}: unknown parent {parent}"
        p, c = entries[parent], entries[child]
        # Two methods of one paper (Adam and Adamax) share a year; otherwise a child is later.
        if p.bibkey == c.bibkey:
            assert p.year == c.year
        else:
            assert p.year < c.year, f"{parent} ({p.year}) -> {child} ({c.year})"


def test_the_tree_has_no_cycle():
    parents = {e.name: e.parents for e in CATALOGUE}

    def ancestors(name, seen=()):
        for p in parents[name]:
            assert p not in seen + (name,), f"cycle through {name}"
            ancestors(p, seen + (name,))

    for name in parents:
        ancestors(name)


def test_every_bibkey_is_in_references_bib():
    keys = _bib_keys()
    assert len(keys) > 50  # the parser found the file's entries
    missing = [e.bibkey for e in CATALOGUE if e.bibkey not in keys]
    assert not missing


def test_every_listed_class_exists_and_is_an_optimizer_class():
    for e in CATALOGUE:
        for path in (e.course_lib, e.torch):
            if path is not None:
                cls = resolve_class(path)
                assert inspect.isclass(cls), path
        if e.torch is not None:
            assert issubclass(e.torch_class, torch.optim.Optimizer)
            assert e.torch.startswith("torch.optim.")
        if e.course_lib is not None:
            assert e.course_lib.startswith("course_lib.optim.")


def test_options_are_constructor_arguments_of_both_classes():
    for e in CATALOGUE:
        for cls in (e.course_lib_class, e.torch_class):
            if cls is not None:
                assert set(e.options) <= set(inspect.signature(cls).parameters), (e.name, cls)


def _constructed_defaults(cls, **options):
    # Independent of the signature: what the constructor actually stores in its param group.
    p = torch.zeros(3, requires_grad=True)
    group = cls([p], **options).param_groups[0]
    return {k: v for k, v in group.items() if k != "params"}


def test_course_lib_defaults_equal_pytorch_defaults():
    checked = 0
    for e in CATALOGUE:
        if e.course_lib_class is None or e.torch_class is None:
            continue
        assert default_mismatches(e.course_lib_class, e.torch_class) == {}, e.name
        ours = _constructed_defaults(e.course_lib_class, **e.options)
        theirs = _constructed_defaults(e.torch_class, **e.options)
        for key in signature_defaults(e.torch_class):
            if key in theirs:
                assert ours[key] == theirs[key], (e.name, key, ours[key], theirs[key])
        checked += 1
    assert checked >= 10


def test_paper_defaults_name_real_arguments_and_differ_from_pytorch():
    for e in CATALOGUE:
        if not e.paper_defaults:
            continue
        torch_defaults = signature_defaults(e.torch_class)
        for key, value in e.paper_defaults.items():
            assert key in torch_defaults, (e.name, key)
            assert torch_defaults[key] != value, (e.name, key)


def test_signature_defaults_reads_the_signature():
    class Toy:
        def __init__(self, params, lr=0.5, *, foreach=None, eps=1e-3, fused=None):
            pass

    assert signature_defaults(Toy) == {"lr": 0.5, "eps": 1e-3}
    assert signature_defaults(torch.optim.SGD)["lr"] == 1e-3
    assert "params" not in signature_defaults(torch.optim.Adam)
    assert "foreach" not in signature_defaults(torch.optim.Adam)


def test_default_mismatches_can_fail():
    class A:
        def __init__(self, params, lr=0.1, eps=1e-8):
            pass

    class B:
        def __init__(self, params, lr=0.1, eps=1e-6, momentum=0):
            pass

    assert default_mismatches(A, B) == {"eps": (1e-8, 1e-6),
                                        "momentum": (inspect.Parameter.empty, 0)}
    assert default_mismatches(A, A) == {}
    assert default_mismatches(torch.optim.Adam, torch.optim.AdamW) == {"weight_decay": (0, 0.01),
                                                                       "decoupled_weight_decay":
                                                                       (False, inspect.Parameter.empty)}


def test_validation_names_the_parameter_and_the_value():
    with pytest.raises(ValueError, match="name: 'Adamm'"):
        by_name("Adamm")
    with pytest.raises(ValueError, match="path: 'torch.optim.Nope'"):
        resolve_class("torch.optim.Nope")
    with pytest.raises(ValueError, match="path: 'SGD'"):
        resolve_class("SGD")
    with pytest.raises(ValueError, match="cls: 3"):
        signature_defaults(3)
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="fontsize: 0"):
        draw_family_tree(ax, fontsize=0)
    broken = CATALOGUE[:2] + (CATALOGUE[2].__class__("X", 2000, "k", ("Nobody",)),)
    with pytest.raises(ValueError, match="'Nobody'"):
        draw_family_tree(ax, broken)
    plt.close(fig)


def test_by_name_and_resolve_class():
    assert by_name("Adam").torch_class is torch.optim.Adam
    assert by_name("Nesterov").options == {"momentum": 0.9, "nesterov": True}
    assert resolve_class(None) is None


def test_draw_family_tree_places_nodes_by_year_and_draws_every_edge():
    fig, ax = plt.subplots()
    pos = draw_family_tree(ax)
    assert set(pos) == {e.name for e in CATALOGUE}
    assert [t.get_text() for t in ax.texts if t.get_text()] == [e.name for e in CATALOGUE]
    arrows = [t for t in ax.texts if isinstance(t, matplotlib.text.Annotation) and not t.get_text()]
    assert len(arrows) == len(family_tree_edges())
    entries = {e.name: e for e in CATALOGUE}
    for a in CATALOGUE:
        for b in CATALOGUE:
            # x follows the year: same year, same column; later year, further right.
            assert (pos[a.name][0] < pos[b.name][0]) == (a.year < b.year)
    for parent, child in family_tree_edges():
        assert pos[parent][0] <= pos[child][0]
        assert entries[child].row == pos[child][1]
    years = sorted({e.year for e in CATALOGUE})
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(y) for y in years]
    plt.close(fig)


def test_years_match_the_bibliography():
    text = BIB.read_text(encoding="utf-8")
    for e in CATALOGUE:
        start = text.index("{" + e.bibkey + ",")
        entry = text[start:text.find("\n@", start)]
        year = re.search(r"^\s*year\s*=\s*[{\"]?(\d{4})", entry, re.M | re.I)
        assert year is not None, e.bibkey
        assert int(year.group(1)) == e.year, (e.name, e.bibkey, year.group(1))
