"""Small report figures drawn with Pillow alone: a line plot and a labelled image grid."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
MARGIN = (70, 20, 30, 50)  # left, top, right, bottom


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def _ticks(low: float, high: float, log: bool) -> list[float]:
    """Powers of ten inside [low, high] on a log axis, five even steps on a linear one."""
    if log:
        decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
        for mantissas in ((1,), (1, 2, 5), (1, 2, 3, 5, 7)):  # at least three ticks if possible
            inside = [m * 10.0**d for d in decades for m in mantissas if low <= m * 10.0**d <= high]
            if len(inside) >= 3:
                return inside
        return inside or [low, high]
    return [low + (high - low) * k / 4 for k in range(5)]


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

    Args:
        curves: Label -> values at x = 0, 1, 2, ...
        levels: Label -> constant y.
        log_y: Logarithmic y axis (non-positive values are clipped to the smallest positive).
    """
    values = [v for c in curves.values() for v in c] + list(levels.values())
    positive = [v for v in values if v > 0] or [1.0]
    low, high = (min(positive), max(positive)) if log_y else (min(values), max(values))
    high = high if high > low else low + 1.0
    x_max = max(1, max((len(c) - 1 for c in curves.values()), default=1))
    left, top, right, bottom = MARGIN
    width, height = size[0] - left - right, size[1] - top - bottom

    def to_px(x: float, y: float) -> tuple[float, float]:
        if log_y:
            frac = (math.log10(max(y, low)) - math.log10(low)) / (
                math.log10(high) - math.log10(low)
            )
        else:
            frac = (y - low) / (high - low)
        return left + width * x / x_max, top + height * (1 - frac)

    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = _font(12)
    draw.rectangle([left, top, left + width, top + height], outline="black")
    for y in _ticks(low, high, log_y):
        _, py = to_px(0, y)
        draw.line([left - 4, py, left, py], fill="black")
        draw.text((left - 6, py), f"{y:.3g}", fill="black", font=font, anchor="rm")
    for k in range(5):
        x = round(x_max * k / 4)
        px, _ = to_px(x, low)
        draw.line([px, top + height, px, top + height + 4], fill="black")
        draw.text((px, top + height + 6), str(x), fill="black", font=font, anchor="mt")
    draw.text((left + width / 2, size[1] - 6), xlabel, fill="black", font=font, anchor="mb")
    draw.text((6, top + height / 2), ylabel, fill="black", font=font, anchor="lm")
    draw.text((left + width / 2, 4), title, fill="black", font=font, anchor="mt")
    legend = []
    for index, (label, curve) in enumerate(curves.items()):
        color = PALETTE[index % len(PALETTE)]
        draw.line([to_px(x, y) for x, y in enumerate(curve)], fill=color, width=2)
        legend.append((label, color))
    for index, (label, y) in enumerate(levels.items()):
        color = PALETTE[(len(curves) + index) % len(PALETTE)]
        _, py = to_px(0, y)
        for x0 in range(left, left + width, 12):
            draw.line([x0, py, min(x0 + 6, left + width), py], fill=color, width=2)
        legend.append((label, color))
    for index, (label, color) in enumerate(legend):
        y = top + 10 + 16 * index
        draw.line([left + width - 170, y, left + width - 150, y], fill=color, width=3)
        draw.text((left + width - 145, y), label, fill="black", font=font, anchor="lm")
    return img


def image_grid(
    rows: Sequence[Sequence[Image.Image]], header: Sequence[str], *, height: int = 160
) -> Image.Image:
    """Rows of images, each scaled to ``height`` px, under a header row of column labels."""
    pad, label = 4, 20
    scaled = [
        [im.resize((max(1, round(im.width * height / im.height)), height)) for im in row]
        for row in rows
    ]
    widths = [max(row[col].width for row in scaled) for col in range(len(header))]
    size = (sum(widths) + pad * (len(widths) + 1), label + (height + pad) * len(scaled) + pad)
    grid = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(grid)
    font = _font(13)
    x = pad
    for col, text in enumerate(header):
        draw.text((x + widths[col] / 2, label / 2 + 2), text, fill="black", font=font, anchor="mm")
        for r, row in enumerate(scaled):
            cell = row[col]
            grid.paste(
                cell, (x + (widths[col] - cell.width) // 2, label + pad + r * (height + pad))
            )
        x += widths[col] + pad
    return grid
