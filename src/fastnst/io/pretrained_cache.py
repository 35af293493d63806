"""The pretrained-model cache: its folder and its manifest of what was fetched.

Layout (``$FASTNST_CACHE``, default ``~/.cache/fastnst``)::

    pretrained/
      manifest.json                         sizes, SHA-256s, dates, accepted licences
      pytorch_examples/saved_models.zip     the download, as published
      pytorch_examples/saved_models.zip.unzip/...   unpacked once
      onnx_zoo/candy-9.onnx  johnson/...  adain/...  magenta/...

The manifest records, for every file placed in the cache (downloads, unpacked members,
converted checkpoints), its size and SHA-256 at the time it was placed. Where the source
publishes no hash this is trust on first use: later uses check the file against the record,
so a file corrupted on disk is found and fetched again, and a re-download that differs from
the first one is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from fastnst.io.atomic import write_json

MANIFEST = "manifest.json"


def cache_root() -> Path:
    """``$FASTNST_CACHE/pretrained`` (default ``~/.cache/fastnst/pretrained``)."""
    return Path(os.environ.get("FASTNST_CACHE") or "~/.cache/fastnst").expanduser() / "pretrained"


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class FileRecord:
    """What the manifest says about one cached file."""

    size: int
    sha256: str
    url: str | None
    placed: str
    pinned: bool

    def matches(self, path: Path) -> bool:
        """Whether ``path`` still has the recorded size and SHA-256."""
        if not path.is_file() or path.stat().st_size != self.size:
            return False
        return sha256_of(path) == self.sha256


class Manifest:
    """``<root>/manifest.json``, re-read before each change and written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / MANIFEST

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):  # none yet, or damaged: start again (files re-verify)
            data = {}
        data.setdefault("files", {})
        data.setdefault("licenses", {})
        return data

    def _write(self, data: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        write_json(self.path, data)

    def record(self, key: str) -> FileRecord | None:
        """The record of ``key`` (a path relative to the root), or None."""
        entry = self._read()["files"].get(key)
        return FileRecord(**entry) if entry else None

    def put(self, key: str, url: str | None, pinned: bool) -> FileRecord:
        """Record the file now at ``<root>/<key>``: its size and SHA-256."""
        path = self.root / key
        rec = FileRecord(
            size=path.stat().st_size, sha256=sha256_of(path), url=url,
            placed=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), pinned=pinned,
        )  # fmt: skip
        data = self._read()
        data["files"][key] = rec.__dict__
        self._write(data)
        return rec

    def forget(self, prefix: str) -> None:
        """Drop the records of ``prefix`` and of every file under it."""
        data = self._read()
        data["files"] = {
            k: v for k, v in data["files"].items() if k != prefix and not k.startswith(prefix + "/")
        }
        self._write(data)

    def accepted(self, license_key: str) -> bool:
        """Whether the licence ``license_key`` was accepted with ``--accept-license``."""
        return license_key in self._read()["licenses"]

    def accept(self, license_key: str) -> None:
        """Remember that the user accepted ``license_key`` (and when)."""
        data = self._read()
        data["licenses"][license_key] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self._write(data)
