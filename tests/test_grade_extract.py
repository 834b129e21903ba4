"""What of a notebook is run for scoring (course_lib.grade.extract)."""

import json

import nbformat
import pytest

from course_lib.grade.extract import SubmissionError, extract, read_notebook


def notebook_bytes(*sources: str) -> bytes:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return nbformat.writes(nb).encode()


def kept(*sources):
    ex = extract(read_notebook(notebook_bytes(*sources)))
    return [(s.kind, s.names) for s in ex.statements], ex


def test_keeps_imports_definitions_and_constants_only():
    statements, ex = kept(
        "import numpy as np\nfrom math import pi as PI\nimport os.path",
        "def f(x):\n    return x\n\nclass C:\n    pass",
        "LR = 0.5\nSIZES = (1, 2 * 3, -4.0)\nCONFIG = {'a': [1, 2]}\nTWO_PI = 2 * PI\nANN: float = 1e-3",
        "x = f(3)\nprint(x)\nwhile True:\n    pass\nnp.allclose = lambda *a: True\nfor i in range(3):\n    y = i",
    )
    assert statements == [
        ("import", ["np"]), ("import", ["PI"]), ("import", ["os"]), ("def", ["f"]), ("class", ["C"]),
        ("constant", ["LR"]), ("constant", ["SIZES"]), ("constant", ["CONFIG"]), ("constant", ["TWO_PI"]),
        ("constant", ["ANN"]),
    ]
    assert [s["names"] for s in ex.skipped] == [["x"]]


def test_later_definitions_come_later_so_the_last_one_wins():
    statements, ex = kept("def f():\n    return 1", "def f():\n    return 2")
    assert [(s.cell, s.names) for s in ex.statements] == [(1, ["f"]), (2, ["f"])]


def test_ipython_syntax_is_dropped_and_a_syntax_error_skips_its_cell():
    statements, ex = kept("%matplotlib inline\n!pip install x\ndef f():\n    return 1", "def g(:\n  pass",
                          "get_ipython().set_custom_exc((Exception,), print)")
    assert statements == [("def", ["f"])]
    assert ex.problems and "code cell 2" in ex.problems[0]


@pytest.mark.parametrize("data", [b"", b"not json", b"\xff\xfe", b"[1, 2]", b'{"cells": 3}', b'{"a": 1}'])
def test_unreadable_notebooks_raise_submission_error(data):
    with pytest.raises(SubmissionError):
        extract(read_notebook(data))


def test_odd_but_readable_cells_are_tolerated():
    nb = {"cells": [{"cell_type": "code", "source": ["def f():\n", "    return 1\n"], "metadata": {},
                     "outputs": [], "execution_count": None},
                    {"cell_type": "markdown", "source": "text", "metadata": {}}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 2}
    ex = extract(read_notebook(json.dumps(nb).encode()))
    assert [s.names for s in ex.statements] == [["f"]]
    # Invalid for nbformat (no metadata, no outputs, odd entries) but its code is readable.
    broken = {"cells": [{"cell_type": "code", "source": "def g():\n    return 2"}, 7, {"cell_type": "x"}],
              "nbformat": 4}
    assert [s.names for s in extract(read_notebook(json.dumps(broken).encode())).statements] == [["g"]]
