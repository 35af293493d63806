"""Every style of a multi-style network on one photo, and a strip blending two of them.

Both are labelled grids (:func:`fastnst.io.grid.image_grid`): the photo first, then one
column per style (``style_sheet``) or per blend weight (``interpolation_strip``: from style a
to style b with w = (1 - t) e_a + t e_b, t = 0, 1 / (n - 1), ..., 1; Dumoulin et al. 2017,
sec. 4.2, interpolate the norms' scale and shift the same way).
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image
from torch import Tensor

from fastnst.errors import FastNSTError
from fastnst.inference.blend import StyleChoice
from fastnst.inference.stylizer import Stylizer
from fastnst.io.grid import image_grid
from fastnst.io.image import tensor_to_pil


def _columns(
    stylizer: Stylizer, content: Tensor, choices: Sequence[StyleChoice], labels: Sequence[str]
) -> Image.Image:
    """The photo, then ``content`` stylized under each choice, labelled; the style restored."""
    before = stylizer.style
    try:
        cells = []
        for choice in choices:
            stylizer.style = choice
            cells.append(tensor_to_pil(stylizer.stylize(content)))
    finally:
        stylizer.style = before
    photo = tensor_to_pil(content).resize(cells[0].size)
    height = max(128, cells[0].height)  # room for the labels under tiny images
    return image_grid([[photo, *cells]], ["photo", *labels], height=height)


def style_sheet(stylizer: Stylizer, content: Tensor) -> Image.Image:
    """(1, 3, H, W) ``content`` in every style of the network, one labelled column each."""
    return _columns(stylizer, content, list(stylizer.styles), list(stylizer.styles))


def interpolation_strip(
    stylizer: Stylizer, content: Tensor, pair: Sequence[str], steps: int = 5
) -> Image.Image:
    """``content`` blended from style ``pair[0]`` to ``pair[1]`` in ``steps`` columns.

    Raises:
        FastNSTError: Not two styles, fewer than 2 steps, or a single-style network.
    """
    if len(pair) != 2 or steps < 2:
        raise FastNSTError(f"strip= needs two style names and strip_steps >= 2, got {pair}")
    if len(stylizer.styles) < 2:
        raise FastNSTError("strip= needs a multi-style network (trained with model=johnson_cin)")
    a, b = (str(name) for name in pair)
    ts = [k / (steps - 1) for k in range(steps)]
    choices = [{a: 1 - t, b: t} if 0 < t < 1 else (a if t == 0 else b) for t in ts]
    labels = [f"{1 - t:.2f} : {t:.2f}" if 0 < t < 1 else (a if t == 0 else b) for t in ts]
    return _columns(stylizer, content, choices, labels)
