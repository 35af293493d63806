"""The comparison report: ``compare.md``, ``compare.json``, the loss plot and the image grid.

Written from the :class:`~fastnst.solver.compare.ImageComparison` of every content image.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from torch import Tensor

from fastnst.io.atomic import atomic_path, write_json
from fastnst.io.image import save_image, tensor_to_pil
from fastnst.solver.compare import QUALITY, TERMS, ImageComparison, measure_quality, summarize
from fastnst.solver.figures import have_matplotlib, image_grid, line_plot

log = logging.getLogger(__name__)


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def quality_table(quality: dict[str, dict[str, float]]) -> list[str]:
    """Markdown rows: method | one column per measure of ``QUALITY``."""
    lines = [_row(["method", *QUALITY.values()]), _row(["---"] * (len(QUALITY) + 1))]
    for method, measures in quality.items():
        lines.append(_row([method, *(f"{measures[m]:.4g}" for m in QUALITY)]))
    return lines


def markdown_report(comparisons: Sequence[ImageComparison], summary: dict[str, Any]) -> str:
    """Tables: mean terms per method, mean quality measures per method (when measured), then
    total loss and parity per image."""
    lines = [_row(["method", *TERMS, "seconds", "speedup"]), _row(["---"] * (len(TERMS) + 3))]
    lines.append(_row(["network", *(f"{summary['network'][t]:.4g}" for t in TERMS),
                       f"{summary['network_seconds']:.4g}", "1"]))  # fmt: skip
    for n, terms in summary["solver"].items():
        cells = [f"{terms[t]:.4g}" for t in TERMS]
        seconds, speedup = summary["solver_seconds"][n], summary["speedup"][n]
        lines.append(_row([f"solver@{n}", *cells, f"{seconds:.4g}", f"{speedup:.3g}x"]))
    lines += ["", f"Loss parity N (mean losses): {summary['parity_n']}", ""]
    if summary["quality"]:
        lines += ["Quality (means; lower SWD: closer to the painting):", ""]
        lines += [*quality_table(summary["quality"]), ""]
    wanted = list(summary["solver"])
    header = [
        "image",
        "size",
        "network",
        *(f"solver@{n}" for n in wanted),
        "parity N",
        "first iteration below",
        "speedup@parity",
    ]
    lines += [_row(header), _row(["---"] * len(header))]
    for c in comparisons:
        n = c.parity_n
        speedup = "-" if n is None else f"{c.solver_seconds[n] / c.network_seconds:.3g}x"
        totals = [f"{c.solver[m]['total']:.4g}" for m in wanted]
        size = f"{c.size[1]}x{c.size[0]}"
        cells = [c.name, size, f"{c.network['total']:.4g}", *totals, n, c.parity_iteration]
        lines.append(_row([*cells, speedup]))
    return "\n".join(lines) + "\n"


def write_report(
    out_dir: str | Path,
    comparisons: Sequence[ImageComparison],
    style: Tensor,
    *,
    meta: dict[str, Any] | None = None,
    grid_height: int = 160,
) -> dict[str, Path]:
    """Write ``compare.md``, ``compare.json``, ``compare_loss.png`` and ``compare_grid.png``.

    Comparisons without quality measures are measured here against ``style``. The loss plot
    needs matplotlib (the ``plots`` extra); without it the plot is skipped with a warning.

    Args:
        out_dir: Folder of the four files (created).
        comparisons: One per content image, all with the same iteration counts.
        style: The painting, (1, 3, H, W), last column of the grid.
        meta: Extra JSON fields (checkpoint, device, loss config, ...).
        grid_height: Row height of the grid, px.
    """
    out_dir = Path(out_dir)
    comparisons = [
        c if c.quality else replace(c, quality=measure_quality(c.images, style))
        for c in comparisons
    ]
    summary = summarize(comparisons)
    suffixes = {"md": ".md", "json": ".json", "plot": "_loss.png", "grid": "_grid.png"}
    paths = {kind: out_dir / f"compare{suffix}" for kind, suffix in suffixes.items()}
    images = [c.to_dict() for c in comparisons]
    write_json(paths["json"], {**(meta or {}), "mean": summary, "images": images})
    with atomic_path(paths["md"]) as tmp:
        tmp.write_text(markdown_report(comparisons, summary))
    if have_matplotlib():
        _write_plot(paths["plot"], comparisons, summary)
    else:
        log.warning("matplotlib not installed, no %s; pip install 'fastnst[plots]'", paths["plot"])
        del paths["plot"]
    header = ["content", "network", *(f"solver@{n}" for n in summary["solver"]), "style"]
    rows = [[tensor_to_pil(t) for t in (*c.images.values(), style)] for c in comparisons]
    save_image(image_grid(rows, header, height=grid_height), paths["grid"], overwrite=True)
    return paths


def _write_plot(path: Path, comparisons: Sequence[ImageComparison], summary: dict) -> None:
    """The solver's total loss vs iterations (mean and up to 4 images), the network's level."""
    curves = {"solver (mean)": summary["curve"]}
    if len(comparisons) > 1:
        curves |= {f"solver: {c.name}": c.curve for c in comparisons[:4]}
    network = {"network (mean)": summary["network"]["total"]}
    plot = line_plot(curves, network, title="total loss vs solver iterations", ylabel="total")
    save_image(plot, path, overwrite=True)
