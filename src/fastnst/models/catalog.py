"""The catalogue of published style networks: data in ``catalog.json``, read here.

Each model names its kind (``single``: one style, ``multi``: many styles, ``arbitrary``: any
painting), its reference, its file format, its licence and the downloads it needs. Each
download names its URL and, only where the source publishes one, its SHA-256 and size (the
ONNX zoo's Git LFS pointers); the others are recorded at the first download in the cache's
manifest (:mod:`fastnst.io.pretrained`). Set ``FASTNST_CATALOG=/path/to/catalog.json`` to
use another catalogue in the same format: a mirror of the files, or a test server.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from fastnst.errors import FastNSTError

KINDS = {"single": "one style", "multi": "many styles", "arbitrary": "any painting"}


@dataclass(frozen=True)
class License:
    """A licence as its source states it; ``commercial=False`` needs ``--accept-license``."""

    key: str
    name: str
    commercial: bool
    url: str
    text: str


@dataclass(frozen=True)
class Download:
    """One file to fetch, stored at ``key`` (a path relative to the cache's root).

    Attributes:
        sha256, size: Published by the source (``hash_source`` says where), else None.
        unpack: ``"zip"`` for archives, unpacked once beside the file.
    """

    key: str
    url: str
    sha256: str | None = None
    size: int | None = None
    unpack: str | None = None
    hash_source: str | None = None


@dataclass(frozen=True)
class CatalogModel:
    """One catalogue entry.

    Attributes:
        file: The file to load, relative to the cache root (for ``member`` entries: found by
            name in the unpacked archive of the first download).
        convert: ``"magenta"`` when the download is converted once into ``file``.
    """

    name: str
    title: str
    kind: str
    reference: str
    format: str
    license: License
    downloads: tuple[Download, ...]
    styles: tuple[str, ...] = ()
    file: str | None = None
    member: str | None = None
    convert: str | None = None
    num_styles: int | None = None

    @property
    def kind_words(self) -> str:
        """``one style``, ``many styles`` or ``any painting``."""
        return KINDS[self.kind]


def catalog_path() -> Path | None:
    """``$FASTNST_CATALOG`` when set (None: the packaged ``catalog.json``)."""
    override = os.environ.get("FASTNST_CATALOG")
    return Path(override).expanduser() if override else None


def load_catalog() -> dict[str, CatalogModel]:
    """Every catalogue model by name, in the file's order.

    Raises:
        FastNSTError: ``$FASTNST_CATALOG`` is missing, not JSON, or an entry is malformed.
    """
    path = catalog_path()
    try:
        if path is None:
            text = resources.files("fastnst.models").joinpath("catalog.json").read_text()
        else:
            text = path.read_text()
        data = json.loads(text)
        licenses = {k: License(key=k, **v) for k, v in data["licenses"].items()}
        downloads = {k: Download(key=k, **v) for k, v in data["downloads"].items()}
        models = {}
        for name, entry in data["models"].items():
            entry = dict(entry)
            lic = licenses[entry.pop("license")]
            files = tuple(downloads[key] for key in entry.pop("downloads"))
            styles = tuple(entry.pop("styles", ()))
            if entry["kind"] not in KINDS:
                raise ValueError(f"model {name!r}: kind {entry['kind']!r} is not one of {KINDS}")
            models[name] = CatalogModel(
                name=name, license=lic, downloads=files, styles=styles, **entry
            )
    except (OSError, ValueError, KeyError, TypeError) as err:
        where = path or "the packaged catalog.json"
        raise FastNSTError(
            f"cannot read the model catalogue {where}: {err!s}; fix FASTNST_CATALOG or unset it"
        ) from err
    return models


def catalog_model(name: str) -> CatalogModel:
    """The catalogue entry ``name``.

    Raises:
        FastNSTError: Unknown name (the message lists the names).
    """
    models = load_catalog()
    if name not in models:
        raise FastNSTError(
            f"unknown model {name!r}: not a file and not in the catalogue ({', '.join(models)}); "
            "'fastnst models' lists them, or pass --model /path/to/file"
        )
    return models[name]
