"""Write files so that a crash never leaves half a file and nothing is overwritten by accident."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastnst.errors import FastNSTError


def refuse_existing(path: Path, overwrite: bool) -> None:
    """FastNSTError if ``path`` exists and ``overwrite`` is false; call it before costly work."""
    if path.exists() and not overwrite:
        raise FastNSTError(f"output exists: {path}; pass overwrite=true to replace it")


@contextlib.contextmanager
def atomic_path(path: str | Path, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a hidden temporary path beside ``path``; rename it over ``path`` on success.

    On any failure the temporary file is removed and ``path`` is untouched. The temporary name
    keeps ``path``'s suffix, so writers that pick a format from it (Pillow, PyAV) still can.

    Raises:
        FastNSTError: ``path`` exists and ``overwrite`` is false.
    """
    path = Path(path)
    refuse_existing(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: str | Path, data: Any, *, indent: int = 2) -> Path:
    """Write ``data`` as indented JSON, atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=indent) + "\n")
    return Path(path)
