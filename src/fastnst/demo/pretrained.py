"""``fastnst demo`` without a folder: the page over the catalogue's cached models.

The models are the catalogue's (:mod:`fastnst.models.catalog`) whose files are in the cache,
addressed by their catalogue names; ``fastnst models fetch NAME`` adds one. Every file is read
with :func:`~fastnst.models.checkpoint.load_style_checkpoint`, so the ONNX zoo's ``.onnx`` files
run as networks (at any size) rather than as fixed-size exports. Each model has a thumbnail: a
small built-in scene (drawn here, no photo shipped) stylized by it; any-painting models have
none, the page shows their painting picker instead.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from fastnst.demo.catalog import ModelCatalog, UnknownModel, _version
from fastnst.errors import FastNSTError
from fastnst.inference import Stylizer
from fastnst.io.pretrained import cached_path, fetch_model
from fastnst.io.pretrained_cache import cache_root
from fastnst.models.catalog import load_catalog
from fastnst.models.checkpoint import load_style_checkpoint

THUMBNAIL_SIZE = (160, 120)
FIRST_MODEL = "candy"  # fetched when nothing is cached: BSD-3, one 27 MB zip


def sample_scene(size: tuple[int, int] = THUMBNAIL_SIZE) -> Image.Image:
    """A small deterministic scene (sky, sun, hills, a house) to show what a style does."""
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(height):  # sky: light blue to white
        t = y / height
        draw.line([(0, y), (width, y)], fill=(int(120 + 120 * t), int(170 + 70 * t), 235))
    draw.ellipse([width * 0.70, height * 0.10, width * 0.88, height * 0.34], fill=(250, 210, 80))
    draw.polygon([(0, height), (0, height * 0.6), (width * 0.45, height * 0.42),
                  (width, height * 0.66), (width, height)], fill=(70, 140, 70))  # fmt: skip
    draw.rectangle([width * 0.2, height * 0.55, width * 0.38, height * 0.8], fill=(200, 90, 60))
    draw.polygon([(width * 0.18, height * 0.55), (width * 0.29, height * 0.42),
                  (width * 0.40, height * 0.55)], fill=(120, 50, 40))  # fmt: skip
    return image


class PretrainedCatalog(ModelCatalog):
    """The cached catalogue models, by catalogue name, with thumbnails."""

    def __init__(self, **options: Any) -> None:
        root = cache_root()
        root.mkdir(parents=True, exist_ok=True)
        super().__init__(root, **options)
        self._thumbnails: dict[str, bytes] = {}
        self._thumbnail_lock = threading.Lock()

    def files(self) -> dict[str, Path]:
        """Catalogue name -> file, for the cached models (checked by :func:`pretrained_catalog`
        at start; this runs on every request, so it only looks)."""
        cached = ((name, cached_path(model)) for name, model in load_catalog().items())
        return {name: path for name, path in cached if path is not None}

    def entries(self) -> dict[str, dict[str, str]]:
        """What the page shows beside each cached model: title, kind, licence, reference."""
        catalog = load_catalog()
        return {
            name: {"title": catalog[name].title, "kind": catalog[name].kind_words,
                   "license": catalog[name].license.name, "reference": catalog[name].reference}
            for name in self.files()
        }  # fmt: skip

    def _load(self, name: str, key: tuple) -> Any:
        path = self.path(name)
        return self._models.get(key, lambda: load_style_checkpoint(path))

    def thumbnail(self, name: str) -> bytes:
        """PNG of :func:`sample_scene` stylized by ``name`` (its first style), made once.

        Raises:
            UnknownModel: Not a cached model, or an any-painting model (no thumbnail).
        """
        info = self.describe(name)
        if info.kind == "arbitrary":
            raise UnknownModel(f"{name} paints any painting: it has no thumbnail")
        if info.kind == "broken":
            raise FastNSTError(info.error or f"{name} cannot load")
        with self._thumbnail_lock:
            if name not in self._thumbnails:
                with self._lock:
                    loaded = self._load(name, _version(self.path(name)))
                style = info.styles[0] if info.kind == "multi" else None
                stylizer = Stylizer(loaded.model, device="cpu", backend="torch", style=style,
                                    styles=info.styles)  # fmt: skip
                buffer = io.BytesIO()
                stylizer(sample_scene()).save(buffer, "PNG")
                self._thumbnails[name] = buffer.getvalue()
            return self._thumbnails[name]


def pretrained_catalog(**options: Any) -> PretrainedCatalog:
    """The catalogue's cached models; when none is cached, ``candy`` is fetched first.

    Raises:
        FastNSTError: Nothing cached and the fetch failed (one line: how to pass a folder).
    """
    catalog = PretrainedCatalog(**options)
    for name in catalog.files():  # check each cached file once (a corrupt one is fetched again)
        fetch_model(load_catalog()[name])
    if not catalog.files():
        print(f"no catalogue model is cached yet: fetching {FIRST_MODEL} "
              "('fastnst models fetch NAME' adds others)")  # fmt: skip
        try:
            fetch_model(load_catalog()[FIRST_MODEL])
        except FastNSTError as err:
            raise FastNSTError(f"{err}; or run fastnst demo --models FOLDER") from err
    return catalog
