"""Time of one live-figure callback of ``course_lib.widgets``: a control changes, the figure redraws.

The draw function is the course's typical one: 200 steps of gradient descent with heavy-ball
momentum on an ill-conditioned 2-D quadratic, the trajectory plotted over 15 contour lines whose
grid is computed once. A callback is timed from setting the slider's value (as the frontend does)
to the new PNG being in the ``Image`` widget: recompute the trajectory, redraw, encode. Two paths:

* ``update`` -- ``draw`` returns ``update``, which moves the trajectory with ``set_data``; only the
  trajectory and the title are drawn, over a cached picture of the rest (blitting);
* ``redraw`` -- no ``update``: the Axes is cleared and ``draw`` runs again, contours included.

The target is well under 100 ms per callback. Without a frontend the widget's messages go nowhere,
so sending the PNG to the browser is not included. The machine's load shows in the p95: run it on
an otherwise idle machine.

Run: ``.venv/bin/python benchmarks/widget_callback.py [--repeats 40]`` (a few seconds).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from course_lib.widgets import InteractiveFigure, Slider

H = np.array([[3.0, 0.8], [0.8, 0.6]])  # condition number about 11
START = np.array([-2.6, 2.2])
STEPS = 200
GRID = np.linspace(-3.0, 3.0, 200)
X, Y = np.meshgrid(GRID, GRID)
Z = 0.5 * (H[0, 0] * X**2 + 2 * H[0, 1] * X * Y + H[1, 1] * Y**2)  # computed once, not per callback
LEVELS = np.geomspace(0.01, Z.max(), 15)
FIGSIZE = (5.0, 4.5)


def trajectory(lr: float, momentum: float) -> np.ndarray:
    """Heavy-ball iterates w_{t+1} = w_t - lr * H w_t + momentum * (w_t - w_{t-1}), clipped to the plot."""
    w, prev, out = START.copy(), START.copy(), [START]
    for _ in range(STEPS):
        w, prev = w - lr * (H @ w) + momentum * (w - prev), w
        out.append(w)
    return np.clip(np.array(out), -3.5, 3.5)


def draw(ax, lr, momentum):
    ax.contour(X, Y, Z, levels=LEVELS, colors="0.6", linewidths=0.7)
    (line,) = ax.plot(*trajectory(lr, momentum).T, ".-", color="C3", markersize=3, linewidth=1)
    ax.set(xlim=(-3, 3), ylim=(-3, 3), xlabel="$w_1$", ylabel="$w_2$", aspect="equal")

    def update(lr, momentum):
        line.set_data(*trajectory(lr, momentum).T)

    return update


def draw_without_update(ax, lr, momentum):
    draw(ax, lr, momentum)


def controls():
    return {"lr": Slider(0.01, 0.6, step=0.01, value=0.1, static_values=[0.05, 0.2, 0.4, 0.6]),
            "momentum": Slider(0.0, 0.95, step=0.05, value=0.0, static_values=[0.0])}


def time_callbacks(draw_fn, repeats: int) -> list[float]:
    fig = InteractiveFigure(draw_fn, controls(), title="Gradient descent on a quadratic", figsize=FIGSIZE)
    fig.live_widget()
    lr, momentum = fig.widgets["lr"], fig.widgets["momentum"]
    values = np.round(np.linspace(0.02, 0.6, repeats), 2)
    for v in values[:3]:  # warm-up: font cache, first-use imports
        lr.value = float(v)
    times = []
    for i, v in enumerate(values):
        slider, value = (momentum, round(0.05 * (i % 19), 2)) if i % 4 == 3 else (lr, float(v))
        if slider.value == value:  # an unchanged value fires no callback
            continue
        before = fig.image.value
        start = time.perf_counter()
        slider.value = value
        times.append(time.perf_counter() - start)
        assert fig.image.value is not before, "the callback did not redraw"
    return times


def summary(times: list[float]) -> str:
    ms = sorted(t * 1e3 for t in times)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"median {statistics.median(ms):6.1f} ms   p95 {p95:6.1f} ms   (n={len(ms)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40, help="callbacks timed per path")
    args = parser.parse_args()

    print(f"live callback, {STEPS} GD steps + contour plot, one figure reused, Agg + PNG into an Image widget")
    print(f"  update (set_data)     {summary(time_callbacks(draw, args.repeats))}")
    print(f"  redraw (clear + draw) {summary(time_callbacks(draw_without_update, args.repeats))}")
    start = time.perf_counter()
    png = InteractiveFigure(draw, controls(), title="Gradient descent on a quadratic", figsize=FIGSIZE).static_png()
    print(f"static face, 4 panels: {1e3 * (time.perf_counter() - start):.0f} ms, {len(png) / 1024:.0f} KiB PNG")


if __name__ == "__main__":
    main()
