"""Paintings: the style image of a name, a local file or a URL, at the size its statistics use."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from fastnst.io.download import ensure_style_image
from fastnst.io.image import load_image


def load_style(
    name: str,
    *,
    image: str | Path | None = None,
    url: str | None = None,
    sha256: str | None = None,
    size: int | None = 512,
    cache_dir: str | Path = "~/.cache/fastnst",
) -> Tensor:
    """The painting ``name`` at ``size`` px on its long side, RGB in [0, 1], (1, 3, H, W).

    ``image`` (a local file) wins over ``url``, which is downloaded once into
    ``<cache_dir>/styles`` and checked against ``sha256`` when given. The painting is never
    squashed to a square; ``size=None`` keeps the file's size.
    """
    path = ensure_style_image(name, image, url, sha256, Path(cache_dir).expanduser())
    return load_image(path, long_side=size)
