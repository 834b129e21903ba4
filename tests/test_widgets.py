"""course_lib.widgets: the static face (small multiples), the live face (controls that redraw),
validation, and what a notebook run through a kernel emits in each mode, as nbval sees it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap

import matplotlib
import matplotlib.style
import numpy as np
import pytest
from PIL import Image

import course_lib.widgets as widgets
from course_lib.widgets import (CAPTION_LEAD, ENV_VAR, WIDGET_VIEW_MIME, Choice, InteractiveFigure, Slider,
                                display_mode)

X = np.linspace(0.0, 1.0, 20)


def curve(a, kind):
    return a * X if kind == "lin" else a * X**2


def make_draw(calls: list, with_update: bool = True):
    """A draw function that records each call; with an ``update`` fast path or without."""

    def draw(ax, a, kind="lin"):
        calls.append(("draw", a, kind))
        (line,) = ax.plot(X, curve(a, kind))
        ax.set_ylim(-0.5, 4.5)
        if not with_update:
            return None

        def update(a, kind="lin"):
            calls.append(("update", a, kind))
            line.set_ydata(curve(a, kind))

        return update

    return draw


def a_slider(**kw):
    kw.setdefault("static_values", [0.5, 1.0, 1.5, 2.0])
    kw.setdefault("value", 1.0)
    return Slider(0.5, 2.0, step=0.25, **kw)


def ydata(ax):
    (line,) = ax.get_lines()
    return np.asarray(line.get_ydata())


# --- static face -----------------------------------------------------------------------------------

def test_static_figure_has_one_titled_panel_per_static_value_with_distinct_content():
    calls = []
    fig = InteractiveFigure(make_draw(calls), {"a": a_slider()}, title="Toy").static_figure()
    assert len(fig.axes) == 4
    assert [ax.get_title() for ax in fig.axes] == ["a = 0.5", "a = 1", "a = 1.5", "a = 2"]
    assert [c[1] for c in calls] == [0.5, 1.0, 1.5, 2.0]
    data = [ydata(ax) for ax in fig.axes]
    for i in range(4):
        np.testing.assert_allclose(data[i], curve([0.5, 1.0, 1.5, 2.0][i], "lin"))
        for j in range(i):
            assert not np.allclose(data[i], data[j])
    assert fig.get_suptitle() == "Toy"


@pytest.mark.parametrize("n, columns, shape", [(4, 3, (2, 2)), (5, 3, (2, 3)), (3, 3, (1, 3)), (7, 3, (3, 3)),
                                               (2, 1, (2, 1))])
def test_static_grid_has_at_most_static_columns_columns(n, columns, shape):
    values = list(np.linspace(0.5, 2.0, n))
    fig = InteractiveFigure(make_draw([]), {"a": a_slider(static_values=values)},
                            static_columns=columns).static_figure()
    assert len(fig.axes) == n
    assert fig.axes[0].get_subplotspec().get_geometry()[:2] == shape


def test_two_varying_controls_make_a_grid_over_both():
    calls = []
    controls = {"a": a_slider(static_values=[0.5, 1.0, 2.0]), "kind": Choice(["lin", "sq"])}
    fig = InteractiveFigure(make_draw(calls), controls).static_figure()
    assert fig.axes[0].get_subplotspec().get_geometry()[:2] == (3, 2)
    assert [ax.get_title() for ax in fig.axes] == [
        f"a = {a}, kind = {k}" for a in ("0.5", "1", "2") for k in ("lin", "sq")]
    pairs = [(a, k) for a in (0.5, 1.0, 2.0) for k in ("lin", "sq")]
    for ax, (a, k) in zip(fig.axes, pairs):
        np.testing.assert_allclose(ydata(ax), curve(a, k))


def test_a_control_with_one_static_value_is_held_and_named():
    seen = []

    def draw(ax, a, c):
        seen.append(c)
        ax.plot(X, a * X + c)

    controls = {"a": a_slider(static_values=[0.5, 2.0]), "c": Slider(0.0, 1.0, value=0.7, static_values=[0.3])}
    f = InteractiveFigure(draw, controls, title="Toy")
    fig = f.static_figure()
    assert seen == [0.3, 0.3]
    assert fig.get_suptitle() == "Toy (c = 0.3)"
    assert [ax.get_title() for ax in fig.axes] == ["a = 0.5", "a = 2"]
    assert "with c = 0.3" in f.caption()


def test_caption_and_image_text_name_the_values_and_say_how_to_interact():
    f = InteractiveFigure(make_draw([]), {"a": a_slider(label="slope")}, title="Toy")
    (image, image_meta), (caption, _) = f.static_outputs()
    assert set(image) == {"image/png", "text/plain"}
    assert image["text/plain"] == "[Toy: small multiples at slope = 0.5, 1, 1.5, 2]"
    assert image_meta["image/png"]["width"] > 0
    assert set(caption) == {"text/markdown", "text/plain"}
    for text in caption.values():
        assert "slope = 0.5, 1, 1.5, 2" in text
        assert CAPTION_LEAD in text
        assert "Binder" in text and "Jupyter" in text


def test_static_output_is_identical_run_to_run():
    def outputs():
        controls = {"a": a_slider(static_values=[0.5, 2.0]), "kind": Choice(["lin", "sq"])}
        return InteractiveFigure(make_draw([]), controls, title="Toy").static_outputs()

    first, second = outputs(), outputs()
    assert first == second
    assert first[0][0]["image/png"]  # the comparison above included the pixels


def _png_pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def test_figures_are_opaque_white_cards_under_a_dark_transparent_style():
    f = InteractiveFigure(make_draw([]), {"a": a_slider(static_values=[0.5, 2.0])}, title="Toy")
    with matplotlib.style.context("dark_background"), matplotlib.rc_context({"savefig.transparent": True}):
        static = _png_pixels(f.static_png())
        f.live_widget()
        live = _png_pixels(f.image.value)
        title_colour = f.axes.title.get_color()
    for pixels in (static, live):
        assert tuple(pixels[1, 1]) == (255, 255, 255, 255)
        assert (pixels[..., 3] == 255).all()
    assert matplotlib.colors.to_rgb(title_colour) == pytest.approx((0.1, 0.1, 0.1), abs=0.01)


def test_drawing_through_pyplot_is_refused():
    import matplotlib.pyplot as plt

    def draw(ax, a):
        plt.plot(X, a * X)

    before = plt.get_fignums()
    with pytest.raises(RuntimeError, match="ax.plot, not plt.plot"):
        InteractiveFigure(draw, {"a": a_slider()}).static_figure()
    assert plt.get_fignums() == before


# --- live face -------------------------------------------------------------------------------------

def test_live_controls_have_the_ranges_given():
    controls = {"a": Slider(0.01, 1.0, step=0.01, value=0.1, label="learning rate"),
                "n": Slider(1, 50, value=10, static_values=[10]),
                "kind": Choice({"linear": "lin", "square": "sq"}, value="sq")}

    def draw(ax, a, n, kind):
        ax.plot(X, a * X**n)

    f = InteractiveFigure(draw, controls)
    box = f.live_widget()
    a, n, kind = (f.widgets[k] for k in ("a", "n", "kind"))
    assert type(a).__name__ == "FloatSlider" and type(n).__name__ == "IntSlider"
    assert (a.min, a.max, a.step, a.value, a.description) == (0.01, 1.0, 0.01, 0.1, "learning rate")
    assert a.readout_format == ".2f"
    assert (n.min, n.max, n.step, n.value) == (1, 50, 1, 10)
    assert not a.continuous_update and not n.continuous_update
    assert [label for label, _ in kind.options] == ["linear", "square"] and kind.label == "square"
    assert a in box.children and f.image in box.children
    assert f.image.value[:8] == b"\x89PNG\r\n\x1a\n"


def test_moving_a_slider_calls_update_with_the_new_value_and_redraws_the_image():
    calls = []
    f = InteractiveFigure(make_draw(calls), {"a": a_slider(), "kind": Choice(["lin", "sq"])})
    f.live_widget()
    assert calls == [("draw", 1.0, "lin")]
    before = f.image.value
    f.widgets["a"].value = 1.75
    assert calls[-1] == ("update", 1.75, "lin")
    np.testing.assert_allclose(ydata(f.axes), curve(1.75, "lin"))
    assert f.axes.get_title() == "a = 1.75, kind = lin"
    assert f.image.value != before
    assert f.axes in f.figure.axes and len(f.figure.axes) == 1  # the same figure and Axes, reused


def _count_full_draws(f) -> list:
    draws = []
    full_draw = f.figure.canvas.draw
    f.figure.canvas.draw = lambda *a, **k: (draws.append(1), full_draw(*a, **k))[1]
    return draws


def test_after_update_only_the_changed_artists_are_redrawn_and_the_frame_equals_a_full_draw():
    controls = {"a": a_slider(), "kind": Choice(["lin", "sq"])}
    f = InteractiveFigure(make_draw([]), controls, title="Toy")
    f.live_widget()
    draws = _count_full_draws(f)
    for a in (1.25, 1.5, 1.75, 2.0):
        f.widgets["a"].value = a
    f.widgets["kind"].value = 1
    # one full draw, to learn which artists update changes (the line, the title); then blits
    assert len(draws) == 1
    fresh_controls = {"a": a_slider(value=2.0), "kind": Choice(["lin", "sq"], value="sq")}
    fresh = InteractiveFigure(make_draw([]), fresh_controls, title="Toy")
    fresh.live_widget()
    np.testing.assert_array_equal(_png_pixels(f.image.value), _png_pixels(fresh.image.value))


@pytest.mark.parametrize("also", ["limits", "background"])
def test_an_update_that_changes_more_than_its_artists_gets_full_draws(also):
    def draw(ax, a):
        (line,) = ax.plot(X, a * X)
        ax.set_ylim(0, 2 * a)

        def update(a):
            line.set_ydata(a * X)
            if also == "limits":  # a background with the old tick labels would be wrong
                ax.set_ylim(0, 2 * a)
            else:  # the Axes patch drawn over the background would hide everything
                ax.set_facecolor((1.0, 1.0, 1.0 - a / 4))

        return update

    f = InteractiveFigure(draw, {"a": a_slider()})
    f.live_widget()
    draws = _count_full_draws(f)
    for a in (1.25, 1.5, 1.75):
        f.widgets["a"].value = a
        np.testing.assert_array_equal(_png_pixels(f.image.value), np.asarray(f.figure.canvas.buffer_rgba()))
    assert len(draws) == 3


def test_without_update_the_axes_is_cleared_and_drawn_again():
    calls = []
    f = InteractiveFigure(make_draw(calls, with_update=False), {"a": a_slider(), "kind": Choice(["lin", "sq"])})
    f.live_widget()
    axes, before = f.axes, f.image.value
    f.widgets["kind"].value = 1  # the dropdown holds option indices
    assert calls[-1] == ("draw", 1.0, "sq")
    assert f.axes is axes and len(axes.get_lines()) == 1
    np.testing.assert_allclose(ydata(axes), curve(1.0, "sq"))
    assert f.image.value != before


def test_a_choice_passes_the_option_value_itself():
    seen = []

    def linear(x):
        return x

    def square(x):
        return x**2

    def draw(ax, fn):
        seen.append(fn)
        ax.plot(X, fn(X))

    f = InteractiveFigure(draw, {"fn": Choice({"linear": linear, "square": square})})
    assert [ax.get_title() for ax in f.static_figure().axes] == ["fn = linear", "fn = square"]
    f.live_widget()
    f.widgets["fn"].value = 1
    assert seen == [linear, square, linear, square]


def test_the_live_widget_is_built_once():
    f = InteractiveFigure(make_draw([]), {"a": a_slider()})
    assert f.live_widget() is f.live_widget()


# --- controls and validation -----------------------------------------------------------------------

def test_slider_defaults_spread_over_the_range_and_keep_one_number_type():
    s = Slider(0.0, 1.0, value=1)
    assert (s.step, s.static_values) == (0.01, [0.0, 0.33, 0.67, 1.0])
    assert type(s.value) is float and s.value == 1.0
    assert Slider(0.0, 1.0).value == 0.5
    n = Slider(0, 10)
    assert (n.integer, n.step, n.value, n.static_values) == (True, 1, 5, [0, 3, 7, 10])
    assert Choice(["gd", "adam"]).static_values == ["gd", "adam"]


@pytest.mark.parametrize("make, name, value", [
    (lambda: Slider(1.0, 0.01), "max", "0.01"),
    (lambda: Slider(0.5, 0.5), "max", "0.5"),
    (lambda: Slider(0.0, 1.0, value=1.5), "value", "1.5"),
    (lambda: Slider(0.0, 1.0, value=-0.1), "value", "-0.1"),
    (lambda: Slider(0.0, 1.0, step=0), "step", "0"),
    (lambda: Slider(0.0, 1.0, step=2.0), "step", "2.0"),
    (lambda: Slider(0.01, 1.0, static_values=[0.05, 0.5, 1.0, 1.05]), "static_values[3]", "1.05"),
    (lambda: Slider(0.01, 1.0, static_values=[]), "static_values", "[]"),
    (lambda: Slider(0.01, 1.0, static_values=0.5), "static_values", "0.5"),
    (lambda: Slider(float("nan"), 1.0), "min", "nan"),
    (lambda: Slider(0.0, float("inf")), "max", "inf"),
    (lambda: Slider("0", 1.0), "min", "'0'"),
    (lambda: Slider(True, 2), "min", "True"),
    (lambda: Choice([]), "options", "[]"),
    (lambda: Choice({}), "options", "{}"),
    (lambda: Choice(["gd", "adam"], value="sgd"), "value", "'sgd'"),
    (lambda: Choice(["gd", "adam"], static_values=["gd", "lion"]), "static_values[1]", "'lion'"),
    (lambda: Choice(["gd", "adam"], static_values=[]), "static_values", "[]"),
    (lambda: Choice(["1", 1]), "options", "['1', 1]"),
])
def test_bad_controls_raise_value_error_naming_the_parameter_and_value(make, name, value):
    with pytest.raises(ValueError) as info:
        make()
    message = str(info.value)
    assert f"Invalid {'Slider' if 'Slider' in message else 'Choice'} {name}: {value}" in message


def _draw_a(ax, a):
    ax.plot(X, a * X)


def _draw_abc(ax, a, b, c):
    ax.plot(X, a * X + b + c)


@pytest.mark.parametrize("kwargs, name, value", [
    (dict(controls={}), "controls", "{}"),
    (dict(controls={"a": (0.0, 1.0)}), "control 'a'", "(0.0, 1.0)"),
    (dict(controls={"not valid": Slider(0.0, 1.0)}), "control name", "'not valid'"),
    (dict(static_columns=0), "static_columns", "0"),
    (dict(static_columns=2.0), "static_columns", "2.0"),
    (dict(figsize=(0, 4)), "figsize", "(0, 4)"),
    (dict(title=3), "title", "3"),
    (dict(draw=lambda ax, b: None), "draw", "'<lambda>' cannot be called as draw(ax, a=...)"),
    (dict(draw="plot"), "draw", "'plot'"),
    (dict(draw=_draw_abc, controls={"a": Slider(0.0, 1.0), "b": Slider(0.0, 1.0), "c": Slider(0.0, 1.0)}),
     "controls",
     "3 controls vary in the static view ['a', 'b', 'c']"),
])
def test_bad_figure_arguments_raise_value_error_naming_the_parameter_and_value(kwargs, name, value):
    args = dict(draw=_draw_a, controls={"a": Slider(0.0, 1.0)})
    args.update(kwargs)
    draw, controls = args.pop("draw"), args.pop("controls")
    with pytest.raises(ValueError, match="^" + __import__("re").escape(f"Invalid {name}: {value}")):
        InteractiveFigure(draw, controls, **args)


def test_three_controls_are_fine_when_one_is_held():
    controls = {"a": Slider(0.0, 1.0), "b": Slider(0.0, 1.0), "c": Slider(0.0, 1.0, static_values=[0.5])}
    assert len(InteractiveFigure(_draw_abc, controls).static_figure().axes) == 16


def test_show_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="Invalid mode: 'html'"):
        InteractiveFigure(_draw_a, {"a": Slider(0.0, 1.0)}).show("html")


# --- choosing the face -----------------------------------------------------------------------------

@pytest.mark.parametrize("raw, mode", [("1", "static"), ("true", "static"), ("0", "live"), (" NO ", "live")])
def test_the_environment_variable_chooses_the_face(monkeypatch, raw, mode):
    monkeypatch.setenv(ENV_VAR, raw)
    assert display_mode() == mode


def test_without_the_variable_a_process_that_is_no_kernel_is_static(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert display_mode() == "static"


@pytest.mark.parametrize("argv, builder", [
    (["/x/.venv/bin/python", "/x/.venv/bin/jupyter-book", "build", "."], "jupyter-book"),
    (["/usr/bin/jb", "build", "."], "jb"),
    (["python3", "-m", "sphinx", "-b", "html", ".", "_build"], "sphinx"),
    (["python", "-m", "jupyter_cache.cli", "project", "execute"], "jupyter_cache"),
    (["C:\\env\\Scripts\\jupyter-nbconvert.EXE", "--execute", "a.ipynb"], "jupyter-nbconvert"),
    (["/x/python", "/x/bin/jupyter-lab", "--no-browser"], None),
    (["/x/python", "-m", "ipykernel_launcher", "-f", "k.json"], None),
    (["/x/python", "-m", "pytest", "--nbval", "chapters"], None),  # nbval's comparison is the same live
    (["python", "-m"], None),
])
def test_notebook_to_page_tools_are_recognised_by_their_command_line(argv, builder):
    assert widgets._page_builder([["bash"], argv]) == builder


@pytest.mark.parametrize("builder, mode", [("jupyter-book", "static"), (None, "live")])
def test_in_a_kernel_the_face_is_live_unless_a_page_builder_started_it(monkeypatch, builder, mode):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(widgets, "_in_kernel", lambda: True)
    monkeypatch.setattr(widgets, "_page_builder", lambda: builder)
    assert display_mode() == mode


@pytest.mark.skipif(not os.path.exists(f"/proc/{os.getpid()}/stat"), reason="needs Linux /proc")
def test_parent_command_lines_read_from_proc_match_psutil(monkeypatch):
    psutil = pytest.importorskip("psutil")
    with_psutil, parent = list(widgets._ancestor_cmdlines()), psutil.Process(os.getppid()).cmdline()
    monkeypatch.setitem(sys.modules, "psutil", None)  # import psutil now fails: the /proc path
    with_proc = list(widgets._ancestor_cmdlines())
    assert with_proc == with_psutil
    assert with_proc[0] == parent


def test_an_unknown_value_of_the_variable_is_an_error(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "maybe")
    with pytest.raises(ValueError, match=f"Invalid {ENV_VAR}: 'maybe'"):
        display_mode()


# --- through a kernel, as jupyter-book, nbval and Jupyter run it -----------------------------------

NOTEBOOK_CELLS = [
    """\
    import matplotlib.pyplot as plt  # imported, as chapters do: must add no output of its own
    import numpy as np
    from course_lib.widgets import Choice, Slider, interactive_figure

    x = np.linspace(0, 1, 20)

    def draw(ax, a, kind):
        (line,) = ax.plot(x, a * x if kind == "lin" else a * x**2)

        def update(a, kind):
            line.set_ydata(a * x if kind == "lin" else a * x**2)
        return update

    interactive_figure(draw, {"a": Slider(0.5, 2.0, step=0.5, value=1.0, static_values=[0.5, 1.0, 2.0]),
                              "kind": Choice(["lin", "sq"], static_values=["lin"])}, title="Toy")
    """,
    'print("done")',
]

# What nbval leaves out of its comparison (nbval/plugin.py, IPyNbFile.skip_compare, without --nbdime).
NBVAL_SKIPPED = {"metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
                 WIDGET_VIEW_MIME, "image/png", "image/jpeg"}


def _execute(tmp_path, name: str, static: bool | None):
    """Run the notebook in a fresh kernel, which inherits the environment it is started with."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(textwrap.dedent(c)) for c in NOTEBOOK_CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    saved = os.environ.get(ENV_VAR)
    try:
        os.environ.pop(ENV_VAR, None)
        if static is not None:
            os.environ[ENV_VAR] = "1" if static else "0"
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        os.environ.pop(ENV_VAR, None)
        if saved is not None:
            os.environ[ENV_VAR] = saved
    nbformat.write(nb, tmp_path / f"{name}.ipynb")
    return nb


def _nbval_view(nb) -> list[dict]:
    """Per code cell, what nbval compares: each output mime type (or key) with its values."""
    view = []
    for cell in nb.cells:
        keys: dict[str, list] = {}
        for out in cell.outputs:
            for key, value in out.items():
                if key == "data":
                    for mime, content in value.items():
                        if mime not in NBVAL_SKIPPED:
                            keys.setdefault(mime, []).append(content)
                elif key not in NBVAL_SKIPPED:
                    keys.setdefault(key, []).append(value)
        view.append(keys)
    return view


def _pngs(nb) -> list[str]:
    outputs = [out for cell in nb.cells for out in cell.outputs]
    return [out.data["image/png"] for out in outputs if "image/png" in out.get("data", {})]


def _mimes(nb) -> list[str]:
    return [mime for cell in nb.cells for out in cell.outputs for mime in out.get("data", {})]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("notebooks")
    return {"dir": tmp,
            "static": _execute(tmp, "static", static=True),
            "static_again": _execute(tmp, "static_again", static=True),
            "live": _execute(tmp, "live", static=None)}


def test_static_notebook_text_is_identical_run_to_run_and_has_no_widget(executed):
    first, second = executed["static"], executed["static_again"]
    assert _nbval_view(first) == _nbval_view(second)
    assert _pngs(first) == _pngs(second) and len(_pngs(first)) == 1  # check_reexecution.py compares PNGs
    figure_cell = first.cells[0]
    assert [sorted(o.get("data", {})) for o in figure_cell.outputs] == [
        ["image/png", "text/plain"], ["text/markdown", "text/plain"]]
    assert figure_cell.outputs[0].data["text/plain"] == "[Toy: small multiples at a = 0.5, 1, 2]"
    assert CAPTION_LEAD in figure_cell.outputs[1].data["text/plain"]
    assert first.cells[1].outputs[0].text == "done\n"
    for nb in (first, second):
        assert WIDGET_VIEW_MIME not in _mimes(nb)
        # no widget model at all: myst-nb would embed saved widget state as a dead control
        assert not nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state")


def test_live_notebook_emits_the_widget_and_the_same_text_as_static(executed):
    live = executed["live"]
    outputs = live.cells[0].outputs
    views = [o for o in outputs if WIDGET_VIEW_MIME in o.get("data", {})]
    assert len(views) == 1
    assert set(views[0].data) == {WIDGET_VIEW_MIME}  # no text/plain repr for nbval to compare
    model_id = views[0].data[WIDGET_VIEW_MIME]["model_id"]
    state = live.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert model_id in state and state[model_id]["model_name"] == "VBoxModel"
    assert "image/png" in _mimes(live)  # the small multiples too
    assert _nbval_view(live) == _nbval_view(executed["static"])


PAGE_BUILDER_SCRIPT = """\
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=120, kernel_name="python3").execute()
nbformat.write(nb, sys.argv[2])
"""


def test_a_kernel_started_by_a_program_named_jupyter_book_is_static_without_the_variable(executed):
    tmp = executed["dir"]
    script = tmp / "jupyter-book"  # what the kernel sees as its parent's program
    script.write_text(PAGE_BUILDER_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    subprocess.run([sys.executable, str(script), str(tmp / "live.ipynb"), str(tmp / "built.ipynb")], cwd=tmp,
                   env=env, check=True, capture_output=True, timeout=300)
    import nbformat

    built = nbformat.read(tmp / "built.ipynb", as_version=4)
    assert WIDGET_VIEW_MIME not in _mimes(built)
    assert _nbval_view(built) == _nbval_view(executed["static"])


def test_nbval_in_static_mode_passes_a_notebook_saved_live(executed):
    tmp = executed["dir"]
    (tmp / "pytest.ini").write_text("[pytest]\n")  # keep the repository's configuration out
    env = dict(os.environ, **{ENV_VAR: "1"})
    result = subprocess.run([sys.executable, "-m", "pytest", "--nbval", "-p", "no:cacheprovider", "-q",
                             "live.ipynb"], cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
