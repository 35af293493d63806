"""Fetch the files a run needs: style paintings and training image folders.

Downloads go through torchvision's utilities so users get the same tqdm progress bar and md5
check as for torchvision datasets. Single files are written atomically (into a temporary folder
beside ``dest``, then renamed), so an interrupted or corrupt download never leaves a file that a
later run would trust. Every failure becomes a one-line :class:`FastNSTError` that names the URL
and the option to set instead.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from torchvision.datasets.utils import check_integrity, download_and_extract_archive, download_url

from fastnst.errors import FastNSTError

# What urllib, http.client and torchvision raise for network, HTTP, checksum and archive errors.
_FETCH_ERRORS = (
    OSError,
    ValueError,
    RuntimeError,
    http.client.HTTPException,
    zipfile.BadZipFile,
    tarfile.TarError,
)


class _DownloadError(Exception):
    """A failed download; callers turn it into a FastNSTError that names their own option."""


def _reason(exc: BaseException) -> str:
    """The first line of an exception's message, so error messages stay on one line."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks so large files do not fill memory."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _is_valid(path: Path, sha256: str | None, md5: str | None) -> bool:
    """Whether ``path`` is a file matching every checksum given (any file when none is)."""
    if not check_integrity(path, md5):
        return False
    return sha256 is None or _sha256(path) == sha256.lower()


def _fetch(url: str, dest: Path, sha256: str | None, md5: str | None) -> Path:
    """Download ``url`` to ``dest`` atomically unless a valid copy is already there.

    Raises:
        _DownloadError: The download or a checksum failed; ``dest`` is left as it was.
    """
    if _is_valid(dest, sha256, md5):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        tmp = tmp_dir / dest.name
        try:
            download_url(url, str(tmp_dir), filename=dest.name, md5=md5)
        except _FETCH_ERRORS as exc:
            raise _DownloadError(_reason(exc)) from exc
        if sha256 is not None and (actual := _sha256(tmp)) != sha256.lower():
            raise _DownloadError(f"sha256 mismatch: expected {sha256}, got {actual}")
        tmp.replace(dest)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return dest


def download_file(
    url: str, dest: Path, *, sha256: str | None = None, md5: str | None = None
) -> Path:
    """Download ``url`` to ``dest`` with a progress bar, verifying the checksums given.

    An existing ``dest`` that matches the checksums (or any existing ``dest`` when none is
    given) is returned without touching the network, so repeated runs work offline.

    Args:
        url: Where to download from.
        dest: The file to create; its parent folders are created as needed.
        sha256: Expected hex SHA-256 of the file, or None to skip that check.
        md5: Expected hex MD5 of the file (checked by torchvision), or None to skip it.

    Returns:
        ``dest``.

    Raises:
        FastNSTError: The download failed or a checksum did not match; no file is left at
            ``dest`` by the failed attempt.
    """
    dest = Path(dest)
    try:
        return _fetch(url, dest, sha256, md5)
    except _DownloadError as exc:
        raise FastNSTError(
            f"could not download {url} to {dest}: {exc}; check your network, or download it "
            f"yourself and save it as {dest}"
        ) from exc


def ensure_style_image(
    name: str,
    image: str | Path | None,
    url: str | None,
    sha256: str | None,
    cache_dir: str | Path,
) -> Path:
    """The local file of a style painting, downloading it into the cache on first use.

    Args:
        name: The style's name (``style.name``); names the cached file.
        image: A local file chosen by the user (``style.image``); wins over ``url``.
        url: Where to download the painting when ``image`` is None (``style.url``).
        sha256: Expected hex SHA-256 of the download, or None to skip the check.
        cache_dir: The cache root (``paths.cache_dir``); files go to ``<cache_dir>/styles``.

    Returns:
        The path of the painting on disk.

    Raises:
        FastNSTError: ``image`` does not exist, neither ``image`` nor ``url`` is set, or the
            download failed.
    """
    hint = f"pass style.image=/path/to/{name}.jpg"
    if image is not None:
        path = Path(image).expanduser()
        if not path.is_file():
            raise FastNSTError(
                f"style image not found: {path}; pass style.image=/path/to/painting.jpg"
            )
        return path
    if url is None:
        raise FastNSTError(f"style {name!r} has no style.image and no style.url; {hint}")
    suffix = PurePosixPath(urlparse(url).path).suffix
    dest = Path(cache_dir).expanduser() / "styles" / f"{name}{suffix}"
    try:
        return _fetch(url, dest, sha256, None)
    except _DownloadError as exc:
        raise FastNSTError(
            f"could not download style image {name!r} from {url}: {exc}; download it and {hint}"
        ) from exc


def ensure_image_folder(
    root: str | Path,
    *,
    url: str | None = None,
    md5: str | None = None,
    download_root: str | Path | None = None,
) -> Path:
    """The folder of training images, downloading and extracting an archive if it is missing.

    Args:
        root: The image folder (``data.root``); returned as is when it exists.
        url: An archive (zip or tar) whose extraction creates ``root``, or None.
        md5: Expected hex MD5 of the archive, or None to skip the check.
        download_root: Where the archive is saved and extracted; defaults to ``root``'s parent.

    Returns:
        ``root``.

    Raises:
        FastNSTError: ``root`` is missing and there is no ``url``, the download or extraction
            failed, or the extracted archive did not create ``root``.
    """
    root = Path(root).expanduser()
    if root.is_dir():
        return root
    if url is None:
        raise FastNSTError(f"image folder not found: {root}; pass data.root=/path/to/images")
    download_root = Path(download_root).expanduser() if download_root is not None else root.parent
    _download_archive(url, download_root, md5)
    if not root.is_dir():
        raise FastNSTError(
            f"extracting {url} into {download_root} did not create {root}; "
            f"pass data.root=/path/to/images"
        )
    return root


def _download_archive(url: str, download_root: Path, md5: str | None) -> None:
    """Download and extract ``url`` into ``download_root``, removing a failed new archive.

    Raises:
        FastNSTError: The download, its md5 check or the extraction failed.
    """
    archive = download_root / os.path.basename(url)  # the name torchvision saves it under
    existed = archive.exists()
    try:
        download_and_extract_archive(url, str(download_root), md5=md5)
    except _FETCH_ERRORS as exc:
        if not existed and archive.is_file():
            archive.unlink()
        raise FastNSTError(
            f"could not download or extract {url}: {_reason(exc)}; "
            f"download and unpack it yourself and pass data.root=/path/to/images"
        ) from exc
