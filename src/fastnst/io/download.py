"""Fetch the files a run needs: style paintings and training image folders.

Downloads go through ``torch.hub.download_url_to_file``, as PyTorch's own weights do: a tqdm
progress bar, a SHA-256 check while the bytes stream in, a temporary file renamed into place.
Every file is written atomically (a hidden temporary beside ``dest``, renamed only once every
checksum matched), so an interrupted or corrupt download never leaves a file that a later run
would trust; archives are extracted into a temporary folder and moved into place the same way.
Every failure becomes a one-line :class:`FastNSTError` that names the URL and the option to set
instead.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from torch.hub import download_url_to_file

from fastnst.errors import FastNSTError
from fastnst.io.atomic import atomic_path

# What urllib, http.client and archive readers raise for network, HTTP and archive errors.
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


def _digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file, read in 1 MiB chunks so large files do not fill memory."""
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _is_valid(path: Path, sha256: str | None, md5: str | None) -> bool:
    """Whether ``path`` is a file matching every checksum given (any file when none is)."""
    if not path.is_file():
        return False
    if md5 is not None and _digest(path, "md5") != md5.lower():
        return False
    return sha256 is None or _digest(path, "sha256") == sha256.lower()


def _fetch(url: str, dest: Path, sha256: str | None, md5: str | None) -> Path:
    """Download ``url`` to ``dest`` atomically unless a valid copy is already there.

    Raises:
        _DownloadError: The download or a checksum failed; ``dest`` is left as it was.
    """
    if _is_valid(dest, sha256, md5):
        return dest
    sha256 = sha256.lower() if sha256 is not None else None
    with atomic_path(dest) as tmp:
        try:
            download_url_to_file(url, str(tmp), hash_prefix=sha256, progress=True)
        except _FETCH_ERRORS as exc:
            if sha256 is not None and (got := re.search(r'got "([0-9a-f]+)"', str(exc))):
                raise _DownloadError(f"sha256 mismatch: expected {sha256}, got {got[1]}") from exc
            raise _DownloadError(_reason(exc)) from exc
        if md5 is not None and (actual := _digest(tmp, "md5")) != md5.lower():
            raise _DownloadError(f"md5 mismatch: expected {md5}, got {actual}")
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
        md5: Expected hex MD5 of the file, or None to skip that check.

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

    Only the archive's own place is filled by a download: ``root`` must be ``download_root`` or
    lie under it. Any other missing ``root`` is a mistyped ``data.root``, and an error, rather
    than the start of a long download of a data set the user did not ask for.

    Args:
        root: The image folder (``data.root``); returned as is when it exists.
        url: An archive (zip or tar) whose extraction creates ``root``, or None.
        md5: Expected hex MD5 of the archive, or None to skip the check.
        download_root: Where the archive is saved and extracted; defaults to ``root``'s parent.

    Returns:
        ``root``.

    Raises:
        FastNSTError: ``root`` is missing and there is no ``url`` or it lies outside
            ``download_root``, the download or extraction failed, or the extracted archive did
            not create ``root``.
    """
    root = Path(root).expanduser()
    if root.is_dir():
        return root
    download_root = Path(download_root).expanduser() if download_root is not None else root.parent
    if url is None or not root.resolve().is_relative_to(download_root.resolve()):
        raise FastNSTError(f"image folder not found: {root}; pass data.root=/path/to/images")
    archive = download_root / PurePosixPath(urlparse(url).path).name
    existed = archive.exists()
    try:
        _fetch(url, archive, None, md5)
        _extract(archive, root, download_root)
    except (_DownloadError, *_FETCH_ERRORS) as exc:
        if not existed:
            archive.unlink(missing_ok=True)
        raise FastNSTError(
            f"could not download or extract {url}: {_reason(exc)}; "
            f"download and unpack it yourself and pass data.root=/path/to/images"
        ) from exc
    if not root.is_dir():
        raise FastNSTError(
            f"extracting {url} into {download_root} did not create {root}; "
            f"pass data.root=/path/to/images"
        )
    return root


def _extract(archive: Path, root: Path, download_root: Path) -> None:
    """Extract ``archive`` into a temporary folder, then move its ``root`` into place.

    An interrupted extraction leaves only a hidden temporary folder, never a half-filled
    ``root`` that a later run would take for the whole data set.
    """
    from torchvision.datasets.utils import extract_archive  # zip, tar, tar.gz, ...

    relative = root.resolve().relative_to(download_root.resolve())
    if relative == Path("."):
        extract_archive(archive, download_root)
        return
    with tempfile.TemporaryDirectory(prefix=".extract.", dir=download_root) as tmp:
        extract_archive(archive, tmp)
        extracted = Path(tmp) / relative
        if extracted.is_dir():
            root.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(extracted, root)
