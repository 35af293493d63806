"""Small report figures: a line plot (matplotlib, the ``plots`` extra) and a labelled image
grid (Pillow alone; it lives in :mod:`fastnst.io.grid`, shared with inference)."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

from PIL import Image

from fastnst.errors import FastNSTError
from fastnst.io.grid import image_grid

__all__ = ["have_matplotlib", "image_grid", "line_plot"]


def have_matplotlib() -> bool:
    """Whether :func:`line_plot` can run (matplotlib is the optional ``plots`` extra)."""
    return importlib.util.find_spec("matplotlib") is not None


def line_plot(
    curves: dict[str, Sequence[float]],
    levels: dict[str, float],
    *,
    title: str = "",
    xlabel: str = "iteration",
    ylabel: str = "loss",
    log_y: bool = True,
    size: tuple[int, int] = (720, 440),
) -> Image.Image:
    """Curves y[i] against i, and horizontal dashed lines at ``levels``, with a legend.

    Drawn by matplotlib's Agg backend on a figure of its own (no pyplot, no global state).

    Args:
        curves: Label -> values at x = 0, 1, 2, ...
        levels: Label -> constant y.
        log_y: Logarithmic y axis (matplotlib leaves non-positive values out).
        size: (width, height) of the image, px.

    Raises:
        FastNSTError: matplotlib is not installed.
    """
    if not have_matplotlib():
        raise FastNSTError("the loss plot needs matplotlib; pip install 'fastnst[plots]'")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    dpi = 100
    figure = Figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi, layout="constrained")
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for label, curve in curves.items():
        axes.plot(range(len(curve)), curve, label=label, linewidth=1.5)
    for label, y in levels.items():
        axes.axhline(y, label=label, linestyle="--", linewidth=1.5, color=f"C{len(axes.lines)}")
    if log_y:
        axes.set_yscale("log")
    axes.set(title=title, xlabel=xlabel, ylabel=ylabel)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")
    canvas.draw()
    return Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba()).convert("RGB")
