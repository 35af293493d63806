"""A local copy of onnxruntime-web (its JavaScript and WebAssembly), fetched once with npm.

The page runs models in the browser with onnxruntime-web; its files are served by the demo
server from ``$FASTNST_CACHE/ort-web/`` (default ``~/.cache/fastnst/ort-web/``), never from a
CDN. ``fastnst demo --fetch-ort-web`` (or ``python scripts/fetch_ort_web.py``) fills it:
``npm pack onnxruntime-web@VERSION`` and the three files the WebAssembly backend needs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from fastnst.errors import FastNSTError
from fastnst.io.atomic import atomic_path

ORT_WEB_VERSION = "1.30.0"
ORT_WEB_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")


def ort_web_dir() -> Path:
    """``$FASTNST_CACHE/ort-web`` or ``~/.cache/fastnst/ort-web``."""
    return Path(os.environ.get("FASTNST_CACHE") or "~/.cache/fastnst").expanduser() / "ort-web"


def ort_web_ready(folder: Path) -> bool:
    """Whether ``folder`` holds every file the page needs."""
    return all((folder / name).is_file() for name in ORT_WEB_FILES)


def fetch_ort_web(folder: Path | None = None, version: str = ORT_WEB_VERSION) -> Path:
    """Download onnxruntime-web ``version`` from the npm registry (``npm pack``) and copy its
    WebAssembly backend into ``folder`` (default :func:`ort_web_dir`); returns the folder.

    Raises:
        FastNSTError: npm is missing, or the download or the package fails.
    """
    folder = folder or ort_web_dir()
    npm = shutil.which("npm")
    if npm is None:
        raise FastNSTError("npm not found; install it (apt-get install -y npm) and run again")
    with tempfile.TemporaryDirectory(prefix="fastnst-ort-web-") as tmp:
        command = [npm, "pack", f"onnxruntime-web@{version}", "--silent"]
        try:
            done = subprocess.run(command, cwd=tmp, capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired as err:
            raise FastNSTError("npm pack onnxruntime-web timed out after 600 s") from err
        tarballs = sorted(Path(tmp).glob("onnxruntime-web-*.tgz"))
        if done.returncode != 0 or not tarballs:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise FastNSTError(f"npm pack onnxruntime-web@{version} failed: {last}")
        _extract(tarballs[0], folder)
    (folder / "VERSION").write_text(version + "\n")
    return folder


def _extract(tarball: Path, folder: Path) -> None:
    """Copy ``package/dist/<file>`` for each of ORT_WEB_FILES out of the npm tarball."""
    with tarfile.open(tarball) as archive:
        for name in ORT_WEB_FILES:
            try:
                member = archive.extractfile(f"package/dist/{name}")
            except KeyError as err:
                message = f"{tarball.name} has no dist/{name}; try another --version"
                raise FastNSTError(message) from err
            with atomic_path(folder / name) as tmp:
                tmp.write_bytes(member.read())
