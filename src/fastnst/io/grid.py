"""A labelled image grid (Pillow alone), shared by the solver's reports and inference sheets."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


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
