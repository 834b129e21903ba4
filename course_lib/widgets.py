"""Interactive figures with two faces: live sliders in Jupyter, small multiples in the book.

A static HTML page cannot run Python, so a slider embedded in the built book would move while its
plot stayed put. Every interactive figure of the course is therefore made by one call that gives
it two faces:

* **static** -- a grid of small multiples, one panel per chosen control value (for two controls, a
  grid over both), each titled with its values, followed by the caption "Interactive when run: ...".
  This is what the book, nbval and any headless run show.
* **live** -- the controls and a figure that redraws when a control is released, followed by the
  same small multiples and caption. This is what a student gets in Jupyter, Binder or Colab, with
  no extra step.

How to call it
--------------
::

    from course_lib.widgets import Choice, Slider, interactive_figure

    def draw(ax, lr, method):                    # one keyword argument per control
        ax.contour(X, Y, Z, levels=15)           # value-independent work, grid computed once
        (line,) = ax.plot(*run(method, lr).T, ".-")

        def update(lr, method):                  # optional: the fast path for the live face
            line.set_data(*run(method, lr).T)
        return update

    interactive_figure(
        draw,
        {"lr": Slider(0.01, 0.6, step=0.01, value=0.1, static_values=[0.05, 0.2, 0.4, 0.6]),
         "method": Choice(["gd", "momentum"], static_values=["gd"])},
        title="Gradient descent on a quadratic",
    )

Rules for ``draw(ax, **values)``:

* Draw only on the ``ax`` it is given (``ax.plot``, never ``plt.plot``): a pyplot figure would be
  shown a second time by the inline backend, so the helper raises if ``draw`` opens one.
* Leave the panel title alone: the helper titles every panel with its control values. The figure
  title is the ``title`` argument.
* Optionally return ``update(**values)``, which brings the same Axes to new values by changing
  artists in place with their setters (``set_data``, ``set_offsets``, ``set_text``, ...). The live
  face then redraws only those artists over a cached picture of the rest (contours, ticks): about
  four times faster. Without ``update`` it clears the Axes and calls ``draw`` again.
* Fix the axis limits in ``draw`` (``ax.set(xlim=..., ylim=...)``): ``set_data`` does not rescale,
  the live figure keeps the layout of its first draw, and equal limits make panels comparable.
* Do expensive value-independent computation (a contour grid) once, outside ``draw``.

Controls:

* ``Slider(min, max, step=..., value=..., static_values=..., label=...)``: an integer slider when
  ``min``, ``max`` and the given ``step``/``value`` are all ints (write ``0.0`` for a float one);
* ``Choice(options, value=..., static_values=..., label=...)``: a dropdown; ``options`` is a list of
  values or a ``{label: value}`` dict, and ``draw`` receives the value (a function, a class, ...).

``static_values`` are the values the static face shows; a control with a single static value is
held there (and named in the figure title), so that the grid varies at most two controls. ``label``
(default: the control's name) names the control in titles, captions and the widget: prefer
Unicode (``"η"``) to LaTeX, which the book's captions would show as typed. Bad ranges or values
raise ValueError naming the parameter and the value.

How the face is chosen
----------------------
A kernel cannot tell whether a person is watching, so the choice is an explicit switch, with
defaults that are right wherever a person can be and wherever a page is built. First match wins:

1. ``interactive_figure(..., mode="static" | "live")``, for a figure that must be one or the other;
2. the environment variable ``COURSE_STATIC``: ``1`` for static, ``0`` for live. The Makefile sets
   ``COURSE_STATIC=1`` for ``jupyter-book build`` and for nbval; the kernels those tools start
   inherit it;
3. static outside a Jupyter kernel (scripts, terminal IPython) or without ipywidgets;
4. static when the kernel was started by a tool that turns notebooks into pages -- jupyter-book,
   sphinx-build, jupyter-cache, nbconvert, papermill -- found among the kernel's parent processes.
   A safety net for a build run by hand or by a CI that does not set the variable;
5. live otherwise: Jupyter, Binder, Colab, VS Code, and nbclient or nbval run from pytest.

Static mode creates no widget at all: a widget model would be saved into the notebook's metadata
and myst-nb would embed it in the page as a control that moves but redraws nothing.

Why the outputs are what they are
---------------------------------
nbval compares every output mime type of every cell except ``image/png``, ``image/jpeg`` and
``application/vnd.jupyter.widget-view+json`` (whose model id is random); ``metadata`` and execution
counts are ignored too. So the static face is two outputs whose text is fixed by the control values
alone: the PNG with a text/plain description, and the caption as text/markdown plus text/plain.
The live face adds one output that carries only the widget-view mime type -- no text/plain, which
for a widget is its repr. nbval therefore sees the same text in both modes: a notebook saved from a
live Jupyter session passes ``COURSE_STATIC=1 pytest --nbval``.

Figures are opaque white cards with dark text whatever the matplotlib style in force: a transparent
PNG with black text vanishes on the dark themes of the book and of JupyterLab, while a white card is
readable on light and dark pages alike.

The live face re-renders one Agg figure into an ``ipywidgets.Image`` (no pyplot, no ipympl: nothing
to install, and the same code path in every frontend) with fast PNG compression; its layout is
computed once; ``update`` redraws by blitting; and sliders fire on release
(``continuous_update=False``), so a drag costs one redraw, not one per pixel.
``benchmarks/widget_callback.py`` times a callback.
"""

from __future__ import annotations

import base64
import inspect
import io
import math
import numbers
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["Slider", "Choice", "InteractiveFigure", "interactive_figure", "display_mode", "ENV_VAR"]

ENV_VAR = "COURSE_STATIC"
CAPTION_LEAD = "Interactive when run:"
CAPTION_HINT = "open this page in Binder or Colab, or the notebook in Jupyter, to move the sliders."
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"

LIVE_DPI = 100     # the live PNG is re-encoded on every change: pixels cost time
STATIC_DPI = 120   # the book's PNG is rendered once: sharper, shown at 100-dpi size
STATIC_SCALE = 0.6  # a static panel is this fraction of the live figure's size
DEFAULT_STATIC_COUNT = 4

# Forced on every course figure, over any user or course style: see "opaque white cards" above.
_INK = "#1a1a1a"
_CARD_STYLE = {
    "figure.facecolor": "white", "figure.edgecolor": "white", "axes.facecolor": "white",
    "savefig.facecolor": "white", "savefig.edgecolor": "white", "savefig.transparent": False,
    "text.color": _INK, "axes.labelcolor": _INK, "axes.titlecolor": _INK, "axes.edgecolor": _INK,
    "xtick.color": _INK, "ytick.color": _INK, "xtick.labelcolor": _INK, "ytick.labelcolor": _INK,
}


# --- controls ---------------------------------------------------------------------------------

def _is_int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _real(name: str, value) -> float | int:
    """``value`` if it is a finite real number (ints stay ints), else ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"Invalid {name}: {value!r} (must be a number)")
    if not math.isfinite(value):
        raise ValueError(f"Invalid {name}: {value!r} (must be finite)")
    return int(value) if _is_int(value) else float(value)


def _sequence(name: str, value) -> list:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"Invalid {name}: {value!r} (must be a list)")
    if len(value) == 0:
        raise ValueError(f"Invalid {name}: {value!r} (must not be empty)")
    return list(value)


def _fmt_number(v) -> str:
    # 4 significant digits hide float noise (0.30000000000000004 -> 0.3) and keep titles short.
    return str(v) if _is_int(v) else f"{v:.4g}"


class Slider:
    """A numeric control: a slider live, the values ``static_values`` in the static face.

    ``step`` defaults to 1 for an integer slider, else to a hundredth of the range; ``value`` to the
    middle of the range; ``static_values`` to four values evenly spread from ``min`` to ``max``.
    """

    def __init__(self, min, max, *, step=None, value=None, static_values=None, label: str | None = None):
        lo, hi = _real("Slider min", min), _real("Slider max", max)
        if not lo < hi:
            raise ValueError(f"Invalid Slider max: {max!r} (must be greater than min={min!r})")
        given = [x for x in (step, value) if x is not None]
        self.integer = _is_int(lo) and _is_int(hi) and all(_is_int(x) for x in given)
        if step is None:
            step = 1 if self.integer else (hi - lo) / 100
        step = _real("Slider step", step)
        if not 0 < step <= hi - lo:
            raise ValueError(f"Invalid Slider step: {step!r} (must be > 0 and at most max - min = {hi - lo!r})")
        if value is None:
            value = self._snap(lo + (hi - lo) / 2, lo, hi, step)
        value = _real("Slider value", value)
        if not lo <= value <= hi:
            raise ValueError(f"Invalid Slider value: {value!r} (must lie in [min, max] = [{lo!r}, {hi!r}])")
        if static_values is None:
            spread = (self._snap(lo + k * (hi - lo) / (DEFAULT_STATIC_COUNT - 1), lo, hi, step)
                      for k in range(DEFAULT_STATIC_COUNT))
            static_values = list(dict.fromkeys(spread))
        checked = []
        for i, v in enumerate(_sequence("Slider static_values", static_values)):
            v = _real(f"Slider static_values[{i}]", v)
            if not lo <= v <= hi:
                raise ValueError(f"Invalid Slider static_values[{i}]: {v!r} "
                                 f"(must lie in [min, max] = [{lo!r}, {hi!r}])")
            checked.append(v)
        if label is not None and not isinstance(label, str):
            raise ValueError(f"Invalid Slider label: {label!r} (must be a string)")
        kind = int if self.integer else float  # draw sees one type, whether static or live
        self.min, self.max, self.step, self.value = kind(lo), kind(hi), kind(step), kind(value)
        self.static_values, self.label = [kind(v) for v in checked], label

    def _snap(self, x, lo, hi, step):
        v = lo + round((x - lo) / step) * step
        v = hi if v > hi else v
        return int(v) if self.integer else float(v)

    def format(self, value) -> str:
        return _fmt_number(value)

    def _make_widget(self, description: str):
        import ipywidgets as w

        common = dict(min=self.min, max=self.max, step=self.step, value=self.value, description=description,
                      continuous_update=False, style={"description_width": "initial"})
        if self.integer:
            return w.IntSlider(**common)
        return w.FloatSlider(readout_format=_readout_format(self.step), **common)

    def _read(self, widget):
        return widget.value

    def __repr__(self):
        return (f"Slider({self.min!r}, {self.max!r}, step={self.step!r}, value={self.value!r}, "
                f"static_values={self.static_values!r})")


def _readout_format(step: float) -> str:
    # As many decimals as the step has, so the readout shows exactly the values a drag can reach.
    decimals = f"{step:.10f}".rstrip("0").split(".")[1]
    if not decimals:
        return ".0f" if step >= 1 else ".3g"  # a step below 1e-10: significant digits instead
    return f".{len(decimals)}f"


class Choice:
    """A control over a few named alternatives: a dropdown live, ``static_values`` in the static face.

    ``options`` is a list of values (each shown as ``str(value)``) or a ``{label: value}`` dict;
    ``draw`` receives the value. ``value`` defaults to the first option, ``static_values`` to all.
    """

    def __init__(self, options, *, value=None, static_values=None, label: str | None = None):
        if isinstance(options, Mapping):
            pairs = [(str(k), v) for k, v in options.items()]
            if not pairs:
                raise ValueError(f"Invalid Choice options: {options!r} (must not be empty)")
        else:
            pairs = [(str(v), v) for v in _sequence("Choice options", options)]
        labels = [lab for lab, _ in pairs]
        if len(set(labels)) != len(labels):
            raise ValueError(f"Invalid Choice options: {options!r} (the labels {labels!r} must be distinct)")
        self.options = pairs
        self.value = pairs[0][1] if value is None else pairs[self._index("Choice value", value)][1]
        if static_values is None:
            static_values = [v for _, v in pairs]
        self.static_values = [pairs[self._index(f"Choice static_values[{i}]", v)][1]
                              for i, v in enumerate(_sequence("Choice static_values", static_values))]
        if label is not None and not isinstance(label, str):
            raise ValueError(f"Invalid Choice label: {label!r} (must be a string)")
        self.label = label

    def _index(self, name: str, value) -> int:
        for i, (_, v) in enumerate(self.options):
            if v is value:
                return i
        for i, (_, v) in enumerate(self.options):
            try:
                if bool(v == value):
                    return i
            except Exception:  # arrays and other values without a plain truth value
                continue
        raise ValueError(f"Invalid {name}: {value!r} (must be one of the option values "
                         f"{[v for _, v in self.options]!r})")

    def format(self, value) -> str:
        return self.options[self._index("Choice value", value)][0]

    def _make_widget(self, description: str):
        import ipywidgets as w

        # Indices, not the values, go to the frontend: values may be functions or classes.
        return w.Dropdown(options=[(lab, i) for i, (lab, _) in enumerate(self.options)],
                          value=self._index("Choice value", self.value), description=description,
                          style={"description_width": "initial"})

    def _read(self, widget):
        return self.options[widget.value][1]

    def __repr__(self):
        return f"Choice({[lab for lab, _ in self.options]!r}, value={self.format(self.value)!r})"


# --- choosing the face --------------------------------------------------------------------------

def _in_kernel() -> bool:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


# Programs (or ``python -m`` modules) that execute notebooks to publish them: a kernel they start
# has no one watching, and a widget it displayed would be saved into the page.
_PAGE_BUILDERS = frozenset({"jupyter-book", "jb", "sphinx-build", "jcache", "jupyter-nbconvert", "papermill"})
_PAGE_BUILDER_MODULES = frozenset({"jupyter_book", "sphinx", "jupyter_cache", "nbconvert", "papermill"})
_ANCESTORS_CHECKED = 6  # kernel -> executor worker -> forkserver -> builder, with room to spare


def _ancestor_cmdlines():
    """Command lines of this process's parent, grandparent, ...; nothing where they cannot be read."""
    try:
        import psutil
    except ImportError:
        psutil = None
    try:
        if psutil is not None:
            proc = psutil.Process().parent()
            for _ in range(_ANCESTORS_CHECKED):
                if proc is None:
                    return
                yield proc.cmdline()
                proc = proc.parent()
            return
        pid = os.getppid()  # Linux without psutil: /proc
        for _ in range(_ANCESTORS_CHECKED):
            if pid <= 0:  # above init; init itself may be the builder, in a container
                return
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                yield [arg.decode(errors="replace") for arg in f.read().split(b"\0") if arg]
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
    except Exception:  # a process that ended, access denied, no /proc: no evidence either way
        return


def _page_builder(cmdlines=None) -> str | None:
    """The notebook-to-page tool among the command lines (default: this process's ancestors)."""
    for argv in _ancestor_cmdlines() if cmdlines is None else cmdlines:
        # the program, or the script after the interpreter; \\ as well as / for Windows paths
        programs = [arg.replace("\\", "/").rsplit("/", 1)[-1].lower().removesuffix(".exe") for arg in argv[:2]]
        for name in programs:
            if name in _PAGE_BUILDERS:
                return name
        if "-m" in argv[:3]:
            at = argv.index("-m")
            module = argv[at + 1].split(".")[0] if at + 1 < len(argv) else ""
            if module in _PAGE_BUILDER_MODULES:
                return module
    return None


def display_mode() -> str:
    """``"static"`` or ``"live"``, by the rules of the module docstring (explicit ``mode`` aside)."""
    raw = os.environ.get(ENV_VAR, "").strip().lower()
    if raw in {"1", "true", "yes", "static"}:
        return "static"
    if raw in {"0", "false", "no", "live"}:
        return "live"
    if raw:
        raise ValueError(f"Invalid {ENV_VAR}: {os.environ[ENV_VAR]!r} (must be 1 for static figures, "
                         f"0 for live widgets, or unset)")
    if not _in_kernel():
        return "static"
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return "static"
    return "static" if _page_builder() else "live"


# --- the figure ---------------------------------------------------------------------------------

def _guarded(fn: Callable, /, *args, **kwargs):
    """Call ``fn``; raise if it opened a pyplot figure (which the inline backend would show again)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    before = set(pyplot.get_fignums()) if pyplot is not None else set()
    result = fn(*args, **kwargs)
    pyplot = sys.modules.get("matplotlib.pyplot")
    opened = sorted(set(pyplot.get_fignums()) - before) if pyplot is not None else []
    if opened:
        for num in opened:
            pyplot.close(num)
        raise RuntimeError(f"{getattr(fn, '__name__', 'draw')} opened pyplot figure(s) {opened}: draw on the "
                           f"Axes it is given (ax.plot, not plt.plot)")
    return result


class InteractiveFigure:
    """The two faces of one figure; ``interactive_figure`` builds one and shows it.

    ``static_figure()`` / ``static_png()`` / ``caption()`` make the static face, ``live_widget()``
    the live one (built once; afterwards ``widgets``, ``image``, ``figure`` and ``axes`` hold its
    controls, image widget, Figure and Axes), ``show(mode)`` displays the face ``mode`` asks for.
    """

    def __init__(self, draw: Callable, controls: Mapping[str, Slider | Choice], *, title: str | None = None,
                 static_columns: int = 3, figsize: Sequence[float] = (6.0, 4.0)):
        if not callable(draw):
            raise ValueError(f"Invalid draw: {draw!r} (must be a function draw(ax, **values))")
        if not isinstance(controls, Mapping) or not controls:
            raise ValueError(f"Invalid controls: {controls!r} (must be a non-empty dict name -> Slider or Choice)")
        for name, control in controls.items():
            if not (isinstance(name, str) and name.isidentifier()):
                raise ValueError(f"Invalid control name: {name!r} (must be a Python identifier: it is "
                                 f"passed to draw as a keyword argument)")
            if not isinstance(control, (Slider, Choice)):
                raise ValueError(f"Invalid control {name!r}: {control!r} (must be a Slider or a Choice)")
        if not (_is_int(static_columns) and static_columns >= 1):
            raise ValueError(f"Invalid static_columns: {static_columns!r} (must be an integer >= 1)")
        if title is not None and not isinstance(title, str):
            raise ValueError(f"Invalid title: {title!r} (must be a string)")
        try:
            width, height = (_real("figsize", x) for x in figsize)
        except (TypeError, ValueError):
            width = height = -1
        if not (width > 0 and height > 0):
            raise ValueError(f"Invalid figsize: {figsize!r} (must be a pair of positive numbers, inches)")
        try:
            inspect.signature(draw).bind(None, **{name: None for name in controls})
        except TypeError as exc:
            raise ValueError(f"Invalid draw: {getattr(draw, '__name__', draw)!r} cannot be called as "
                             f"draw(ax, {', '.join(f'{n}=...' for n in controls)}) ({exc})") from None
        except ValueError:  # builtins and C callables without a signature: trust them
            pass
        self.varying = [n for n, c in controls.items() if len(c.static_values) > 1]
        if len(self.varying) > 2:
            raise ValueError(f"Invalid controls: {len(self.varying)} controls vary in the static view "
                             f"{self.varying!r}; a grid shows at most two: give the others a single "
                             f"static value (static_values=[v]) to hold them there")
        self.draw, self.controls, self.title = draw, dict(controls), title
        self.static_columns, self.figsize = static_columns, (width, height)
        self.widgets: dict[str, Any] = {}
        self.image = self.figure = self.axes = None
        self._box = self._update = self._errors = None
        self._error_shown = False
        self._animated: list = []
        self._background = self._blit_structure = None

    # -- text ------------------------------------------------------------------------------------

    def _label(self, name: str) -> str:
        return self.controls[name].label or name

    def _describe(self, values: Mapping[str, Any]) -> str:
        return ", ".join(f"{self._label(n)} = {self.controls[n].format(v)}" for n, v in values.items())

    def _held(self) -> dict[str, Any]:
        return {n: c.static_values[0] for n, c in self.controls.items() if n not in self.varying}

    def _shown_values(self) -> str:
        """``lr = 0.05, 0.5, 1`` (and ``x momentum = 0, 0.9`` for a second varying control)."""
        parts = [f"{self._label(n)} = " + ", ".join(map(self.controls[n].format, self.controls[n].static_values))
                 for n in self.varying]
        return " \N{MULTIPLICATION SIGN} ".join(parts)

    def _suptitle(self) -> str | None:
        held = self._describe(self._held())
        if self.title and held:
            return f"{self.title} ({held})"
        return self.title or held or None

    def caption(self, markdown: bool = True) -> str:
        """The caption under the static face: what it shows and how to make it move."""
        shown = self._shown_values()
        held = self._describe(self._held())
        what = f"Static view at {shown}" if shown else "Static view"
        if held:
            what += f" with {held}" if shown else f" at {held}"
        if markdown:
            return f"*{what}.* **{CAPTION_LEAD}** {CAPTION_HINT}"
        return f"{what}. {CAPTION_LEAD} {CAPTION_HINT}"

    def alt_text(self) -> str:
        """The static image's text/plain: what nbval compares in place of the pixels."""
        name = self.title or "Figure"
        shown = self._shown_values()
        return f"[{name}: small multiples at {shown}]" if shown else f"[{name}: {self._describe(self._held())}]"

    # -- static face -----------------------------------------------------------------------------

    def _panels(self) -> tuple[int, int, list[dict[str, Any]]]:
        """Grid shape and the control values of each panel, row by row."""
        held = self._held()
        if not self.varying:
            return 1, 1, [dict(held)]
        first = self.varying[0]
        if len(self.varying) == 1:
            values = self.controls[first].static_values
            # At most static_columns columns, rows as full as possible: 4 values in 3 columns
            # make 2 x 2, not 3 + 1.
            nrows = math.ceil(len(values) / self.static_columns)
            return nrows, math.ceil(len(values) / nrows), [{**held, first: v} for v in values]
        second = self.varying[1]
        rows, cols = self.controls[first].static_values, self.controls[second].static_values
        return len(rows), len(cols), [{**held, first: a, second: b} for a in rows for b in cols]

    def _ordered(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {n: values[n] for n in self.controls}

    def static_figure(self) -> Figure:
        """The small multiples: one panel per static value (or pair of values), titled with them."""
        nrows, ncols, panels = self._panels()
        pw, ph = self.figsize[0] * STATIC_SCALE, self.figsize[1] * STATIC_SCALE
        with matplotlib.rc_context(_CARD_STYLE):
            fig = Figure(figsize=(pw * ncols, ph * nrows), layout="constrained", facecolor="white")
            FigureCanvasAgg(fig)
            for i, values in enumerate(panels):
                ax = fig.add_subplot(nrows, ncols, i + 1)
                values = self._ordered(values)
                _guarded(self.draw, ax, **values)
                ax.set_title(self._describe({n: values[n] for n in self.varying}) or None, fontsize="medium")
            suptitle = self._suptitle()
            if suptitle:
                fig.suptitle(suptitle)
        return fig

    def static_png(self) -> bytes:
        """The small multiples as PNG bytes, identical from run to run (no timestamp, no version)."""
        fig = self.static_figure()
        buf = io.BytesIO()
        with matplotlib.rc_context(_CARD_STYLE):
            fig.savefig(buf, format="png", dpi=STATIC_DPI, facecolor="white", transparent=False,
                        metadata={"Software": None})
        return buf.getvalue()

    def static_outputs(self) -> list[tuple[dict, dict]]:
        """The static face as (mime bundle, metadata) pairs, the form ``display(..., raw=True)`` takes."""
        png = self.static_png()
        width = int.from_bytes(png[16:20], "big")  # IHDR width, to show the 120-dpi image at 100-dpi size
        image = ({"image/png": base64.b64encode(png).decode("ascii"), "text/plain": self.alt_text()},
                 {"image/png": {"width": round(width * 100 / STATIC_DPI)}})
        caption = ({"text/markdown": self.caption(markdown=True), "text/plain": self.caption(markdown=False)}, {})
        return [image, caption]

    # -- live face -------------------------------------------------------------------------------

    def live_widget(self):
        """The controls above a figure that redraws when one of them changes (built once)."""
        if self._box is not None:
            return self._box
        import ipywidgets as w

        with matplotlib.rc_context(_CARD_STYLE):
            self.figure = Figure(figsize=self.figsize, dpi=LIVE_DPI, layout="constrained", facecolor="white")
            # Wider pads than the default 3/72 in: the layout is frozen after the first draw, and
            # tick labels of later values may be a character longer.
            self.figure.get_layout_engine().set(w_pad=0.1, h_pad=0.06)
            FigureCanvasAgg(self.figure)
            self.axes = self.figure.add_subplot()
            if self.title:
                self.figure.suptitle(self.title)
        self.widgets = {n: c._make_widget(self._label(n)) for n, c in self.controls.items()}
        self.image = w.Image(format="png")
        self._errors = w.Output()
        self._redraw(self._widget_values(), first=True)  # errors in draw surface here, in the cell
        for widget in self.widgets.values():
            widget.observe(self._on_change, names="value")
        self._box = w.VBox([*self.widgets.values(), self.image, self._errors])
        return self._box

    def _widget_values(self) -> dict[str, Any]:
        return {n: c._read(self.widgets[n]) for n, c in self.controls.items()}

    def _on_change(self, _change=None) -> None:
        if self._error_shown:
            self._errors.clear_output()
            self._error_shown = False
        try:
            self._redraw(self._widget_values())
        except Exception:
            # A callback's exception would otherwise go to the kernel log, unseen: the Output
            # widget shows it under the figure in a kernel (and lets it propagate elsewhere).
            self._error_shown = True
            with self._errors:
                raise

    def _redraw(self, values: dict[str, Any], first: bool = False) -> None:
        with matplotlib.rc_context(_CARD_STYLE):
            if self._update is not None and not first:
                _guarded(self._update, **values)
            else:
                self.axes.clear()
                result = _guarded(self.draw, self.axes, **values)
                self._update = result if callable(result) else None
            self.axes.set_title(self._describe(values), fontsize="medium")
            self._paint(blit_allowed=self._update is not None and not first)
            self.image.value = self._encode_live()
        if first:
            # Constrained layout is half the cost of a redraw; the first draw places everything
            # and later values keep that layout (which is why draw should fix the axis limits).
            self.figure.set_layout_engine("none")

    # Blitting. Most of a redraw is the unchanging part: tick labels, contours. After ``update``,
    # the artists it changed are the Axes' children marked stale (every matplotlib setter marks
    # its artist stale). These become "animated": left out of a background rendered once, and
    # drawn over a copy of it on each change. Anything else -- new or removed artists, other
    # limits, a changed axis, spine or Axes patch -- falls back to a full draw, which learns the
    # changed artists anew.

    def _structure(self) -> tuple:
        ax = self.axes
        return ([id(a) for a in ax.get_children()], [id(a) for a in self.figure.get_children()],
                ax.viewLim.get_points().tobytes())

    def _paint(self, blit_allowed: bool) -> None:
        ax, canvas = self.axes, self.figure.canvas
        changed = [a for a in ax.get_children() if a.stale]
        fixed = {ax.patch, ax.xaxis, ax.yaxis, *ax.spines.values()}
        if (blit_allowed and self._background is not None and self._structure() == self._blit_structure
                and set(changed) <= set(self._animated)):
            canvas.restore_region(self._background)
        else:
            for a in self._animated:
                a.set_animated(False)
            self._animated = [] if not blit_allowed or fixed & set(changed) else changed
            for a in self._animated:
                a.set_animated(True)
            canvas.draw()  # everything but the animated artists
            self._background = canvas.copy_from_bbox(self.figure.bbox)
            self._blit_structure = self._structure()
        for a in sorted(self._animated, key=lambda a: a.get_zorder()):
            ax.draw_artist(a)

    def _encode_live(self) -> bytes:
        import numpy as np
        from PIL import Image

        canvas = self.figure.canvas
        buf = io.BytesIO()
        # Level 1: about twice as fast as the default 6 for a few percent more bytes.
        Image.fromarray(np.asarray(canvas.buffer_rgba())).save(buf, format="png", compress_level=1)
        return buf.getvalue()

    # -- showing ---------------------------------------------------------------------------------

    def show(self, mode: str | None = None) -> None:
        """Display the face ``mode`` ("static" or "live") asks for; ``None``: ``display_mode()``."""
        if mode is None:
            mode = display_mode()
        if mode not in {"static", "live"}:
            raise ValueError(f"Invalid mode: {mode!r} (must be 'static', 'live' or None)")
        from IPython.core.interactiveshell import InteractiveShell
        from IPython.display import display

        if not InteractiveShell.initialized():  # a plain script: nowhere to display
            return
        if mode == "live":
            box = self.live_widget()
            # The view alone, without the widget's text/plain repr: nbval skips this mime type, so
            # the cell's compared text is the same as in static mode.
            display({WIDGET_VIEW_MIME: {"version_major": 2, "version_minor": 0, "model_id": box.model_id}},
                    raw=True)
        for bundle, metadata in self.static_outputs():
            display(bundle, raw=True, metadata=metadata)


def interactive_figure(draw: Callable, controls: Mapping[str, Slider | Choice], *, title: str | None = None,
                       static_columns: int = 3, figsize: Sequence[float] = (6.0, 4.0),
                       mode: str | None = None) -> None:
    """Show an interactive figure: live controls in Jupyter, small multiples in the book.

    ``draw(ax, **values)`` draws the figure for one set of control values on ``ax`` (and may return
    ``update(**values)``, see the module docstring); ``controls`` maps each keyword of ``draw`` to a
    ``Slider`` or ``Choice``; ``title`` is the figure title; ``static_columns`` the most columns of
    small multiples when one control varies (two varying controls make rows x columns); ``figsize``
    the live figure's size in inches (a static panel is 0.6 of it); ``mode`` forces "static" or
    "live" (default: ``display_mode()``). Returns None, so that a call ending a cell adds no output
    of its own.
    """
    InteractiveFigure(draw, controls, title=title, static_columns=static_columns, figsize=figsize).show(mode)
