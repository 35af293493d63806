"""Paintings for arbitrary-style models: uploads kept by digest, and an optional folder by name.

The page uploads the painting it shows (picked from the folder or the user's own) once; the
server keeps it decoded, its short side at ``style_size``, under the first 16 hex digits of
its bytes' sha256, in a small LRU, and stylize requests name it by that id. An id the server
has forgotten (evicted, or a restart) is answered 404, and the page uploads it again. Folder
paintings are addressed by their path below the folder as the listing spells it, never by a
path from the request.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from PIL import Image

from fastnst.demo.catalog import LRU
from fastnst.demo.uploads import decode_image
from fastnst.io.image import list_images, resize_short_side


class UnknownPainting(LookupError):
    """A painting id or name the server does not have (upload it again, or pick a listed one)."""


class PaintingStore:
    """Uploaded paintings by id, at most ``size`` kept, and the paintings under ``folder``.

    Args:
        folder: Paintings to offer on the page (recursive), or None.
        style_size: Short side the uploads are kept at, px (what arbitrary networks encode).
        size: Uploads kept in memory (about 1 MB each at 512 px).
    """

    def __init__(self, folder: Path | None, style_size: int = 512, size: int = 16) -> None:
        self.folder = None if folder is None else Path(folder).expanduser()
        self.style_size = style_size
        self._uploads, self._lock = LRU(size), threading.Lock()

    def add(self, data: bytes, max_pixels: int) -> str:
        """Decode ``data`` (the upload checks of :func:`decode_image`) and keep it; its id."""
        key = hashlib.sha256(data).hexdigest()[:16]
        with self._lock:
            if self._uploads.touch(key):  # the page uploads a painting again: no new decode
                return key
        image = resize_short_side(decode_image(data, max_pixels), self.style_size)
        with self._lock:
            self._uploads.get(key, lambda: image)
        return key

    def get(self, key: str) -> Image.Image:
        """The painting uploaded as ``key``; UnknownPainting when it is not (or no longer) kept."""

        def unknown() -> Image.Image:
            raise UnknownPainting("the server no longer has this painting; upload it again")

        with self._lock:
            return self._uploads.get(key, unknown)

    def names(self) -> list[str]:
        """The folder's paintings, as paths below it with forward slashes."""
        if self.folder is None or not self.folder.is_dir():
            return []
        return [path.relative_to(self.folder).as_posix() for path in list_images(self.folder)]

    def path(self, name: str) -> Path:
        """The file of the listed painting ``name``; UnknownPainting for any other name."""
        if name not in self.names():
            raise UnknownPainting("unknown painting; pick one of the listed paintings")
        return self.folder / name
