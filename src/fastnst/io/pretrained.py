"""Catalogue names as checkpoints: ``resolve_model("candy")`` is the local file, fetched once.

Every entry point that takes a checkpoint (``fastnst stylize --model``, ``stylize.py ckpt=``,
``Stylizer.from_pretrained``, ``hubconf.py``, ``fastnst models fetch``) calls
:func:`resolve_model`: an existing path is returned as it is; a catalogue name
(:mod:`fastnst.models.catalog`) is downloaded into the cache (:mod:`fastnst.io.pretrained_cache`)
on first use and checked on every use.

Downloads go through pooch (retries, a tqdm progress bar, a temporary file in the cache folder
moved into place only once complete and hash-checked, zip unpacking), with a read timeout
(``FASTNST_DOWNLOAD_TIMEOUT`` seconds, default 60) and ``FASTNST_DOWNLOAD_RETRIES`` further
attempts (default 2). A licence that forbids commercial use is printed before the download and
needs ``accept_license=True`` (``--accept-license``) once; the acceptance is remembered.
Every failure is one line naming the URL and how to pass a local file instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from fastnst.errors import FastNSTError
from fastnst.io.pretrained_cache import FileRecord, Manifest, cache_root, sha256_of
from fastnst.models.catalog import CatalogModel, Download, catalog_model

_FILE_SUFFIXES = (".ckpt", ".pth", ".pt", ".onnx", ".t7")


def resolve_model(name_or_path: str | Path, *, accept_license: bool = False) -> Path:
    """The local file of ``name_or_path``: an existing file or folder, or a catalogue name.

    Raises:
        FastNSTError: Neither a file nor a catalogue name; a licence not accepted; a failed
            download, conversion or check.
    """
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path
    text = str(name_or_path)
    if "/" in text or "\\" in text or path.suffix.lower() in _FILE_SUFFIXES:
        raise FastNSTError(
            f"checkpoint not found: {path}; pass a file, or a catalogue name ('fastnst models')"
        )
    return fetch_model(catalog_model(text), accept_license=accept_license)


def cached_path(model: CatalogModel) -> Path | None:
    """``model``'s file when it is in the cache (its hash is not checked here), else None."""
    root = cache_root()
    if model.member is not None:
        folder = root / f"{model.downloads[0].key}.unzip"
        found = sorted(folder.rglob(model.member)) if folder.is_dir() else []
        return found[0] if found else None
    path = root / (model.file or model.downloads[0].key)
    others = [root / d.key for d in model.downloads[1:]]  # AdaIN's encoder beside the decoder
    return path if path.is_file() and all(p.is_file() for p in others) else None


def is_cached(model: CatalogModel) -> bool:
    """Whether ``model``'s files are in the cache (without checking their hashes)."""
    return cached_path(model) is not None


def fetch_model(model: CatalogModel, *, accept_license: bool = False) -> Path:
    """Download (once), check, unpack or convert ``model``; its local file."""
    root = cache_root()
    manifest = Manifest(root)
    _check_license(model, manifest, accept_license)
    hint = _local_hint(model)
    paths = [_ensure_download(d, root, manifest, hint) for d in model.downloads]
    if model.member is not None:
        return _ensure_member(model, paths[0], root, manifest, hint)
    if model.convert is not None:
        return _ensure_converted(model, paths[0], root, manifest)
    return root / (model.file or model.downloads[0].key)


def _local_hint(model: CatalogModel) -> str:
    if model.kind == "arbitrary":
        return (f"or download {' and '.join(d.url for d in model.downloads)} into one folder "
                f"and pass --model /path/to/{Path(model.downloads[0].key).name}")  # fmt: skip
    name = model.member or Path(model.downloads[0].key).name
    return f"or download {model.downloads[0].url} yourself and pass --model /path/to/{name}"


def _check_license(model: CatalogModel, manifest: Manifest, accept: bool) -> None:
    lic = model.license
    if lic.commercial or manifest.accepted(lic.key):
        return
    print(f"licence of {model.name}: {lic.text} ({lic.url})", file=sys.stderr)
    if not accept:
        raise FastNSTError(
            f"{model.name} is licensed for {lic.name} ({lic.url}); to accept that licence, "
            f"pass --accept-license once (fastnst models fetch {model.name} --accept-license)"
        )
    manifest.accept(lic.key)


def _settings() -> tuple[float, int]:
    try:
        timeout = float(os.environ.get("FASTNST_DOWNLOAD_TIMEOUT", "60"))
        retries = int(os.environ.get("FASTNST_DOWNLOAD_RETRIES", "2"))
    except ValueError as err:
        raise FastNSTError(
            f"FASTNST_DOWNLOAD_TIMEOUT / FASTNST_DOWNLOAD_RETRIES must be numbers: {err}"
        ) from err
    return timeout, retries


def _ensure_download(d: Download, root: Path, manifest: Manifest, hint: str) -> Path:
    """``<root>/<d.key>``, fetched unless the cached copy matches its published or recorded hash."""
    path = root / d.key
    record = manifest.record(d.key)
    if path.is_file():
        if _still_good(path, d, record, manifest):
            return path
        print(f"cached {path} does not match its recorded size and SHA-256: fetching it again",
              file=sys.stderr)  # fmt: skip
        path.unlink()
    expected = d.sha256 or (record.sha256 if record else None)
    _download(d, root, expected, hint)
    if d.size is not None and (size := path.stat().st_size) != d.size:
        path.unlink()
        raise FastNSTError(
            f"refused {d.url}: {size} bytes, the source publishes {d.size}; the file was "
            f"removed; {hint}"
        )
    rec = manifest.put(d.key, d.url, pinned=d.sha256 is not None)
    print(f"{d.key}: {rec.size} bytes, sha256 {rec.sha256} "
          f"({'as published' if rec.pinned else 'recorded at this first download'})",
          file=sys.stderr)  # fmt: skip
    return path


def _still_good(path: Path, d: Download, record: FileRecord | None, manifest: Manifest) -> bool:
    """Whether the cached ``path`` matches the published hash, else the manifest's record."""
    if record is not None:
        return record.matches(path) and d.sha256 in (None, record.sha256)
    if d.sha256 is not None and sha256_of(path) != d.sha256:
        return False
    manifest.put(d.key, d.url, pinned=d.sha256 is not None)  # placed whole, record lost
    return True


@contextlib.contextmanager
def _quiet_pooch() -> Iterator[None]:
    """Pooch logs the hash of unhashed downloads as advice to pin it; we record it instead."""
    import pooch

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        yield
    finally:
        logger.setLevel(level)


def _download(d: Download, root: Path, expected: str | None, hint: str) -> None:
    """Fetch ``d.url`` into ``<root>/<d.key>`` through pooch; one-line errors."""
    import pooch
    import requests

    timeout, retries = _settings()
    print(f"downloading {d.url} -> {root / d.key}", file=sys.stderr)
    fetcher = pooch.create(
        path=root, base_url="", registry={d.key: f"sha256:{expected}" if expected else None},
        urls={d.key: d.url}, retry_if_failed=retries,
    )  # fmt: skip
    downloader = pooch.HTTPDownloader(progressbar=sys.stderr.isatty(), timeout=timeout)
    try:
        with _quiet_pooch():
            fetcher.fetch(d.key, downloader=downloader)
    except requests.exceptions.HTTPError as err:
        status = err.response.status_code if err.response is not None else "?"
        raise FastNSTError(f"could not download {d.url}: HTTP {status}; {hint}") from err
    except (requests.exceptions.RequestException, OSError) as err:
        raise FastNSTError(f"could not download {d.url}: {_why(err, timeout)}; {hint}") from err
    except ValueError as err:  # pooch: the hash did not match; the temporary file is gone
        raise FastNSTError(
            f"refused {d.url}: its SHA-256 is not the expected {expected} "
            f"({'published by the source' if d.sha256 else 'recorded at the first download'}); "
            f"nothing was kept; if the source replaced the file, run 'fastnst models remove' "
            f"on the model first; {hint}"
        ) from err


def _why(err: BaseException, timeout: float) -> str:
    """A short reason for a failed request: timeout, cut-short transfer, no connection."""
    import requests

    text = str(err)
    if isinstance(err, requests.exceptions.Timeout) or "timed out" in text.lower():
        return f"no data for {timeout:g} s (timed out)"
    if isinstance(err, requests.exceptions.ChunkedEncodingError) or "IncompleteRead" in text:
        return "the transfer was cut short (nothing was kept; try again)"
    if isinstance(err, requests.exceptions.ConnectionError):
        return "cannot connect (no network, or the server is down)"
    return text.splitlines()[0] if text else type(err).__name__


def _ensure_member(
    model: CatalogModel, archive: Path, root: Path, manifest: Manifest, hint: str
) -> Path:
    """``model.member`` from the archive, unpacked once (atomically) and checked on each use."""
    import pooch

    folder = archive.with_name(archive.name + ".unzip")
    found = sorted(folder.rglob(model.member)) if folder.is_dir() else []
    if found:
        key = found[0].relative_to(root).as_posix()
        record = manifest.record(key)
        if record is not None and record.matches(found[0]):
            return found[0]
        print(f"cached {found[0]} does not match the manifest: unpacking it again", file=sys.stderr)
    shutil.rmtree(folder, ignore_errors=True)
    manifest.forget(folder.relative_to(root).as_posix())
    tmp = Path(tempfile.mkdtemp(prefix=".unzip-", dir=archive.parent))
    try:
        pooch.Unzip(extract_dir=str(tmp))(str(archive), "download", None)
        os.replace(tmp, folder)
    except zipfile.BadZipFile as err:
        archive.unlink()
        manifest.forget(archive.relative_to(root).as_posix())
        raise FastNSTError(f"{archive} is not a valid zip ({err}): removed; {hint}") from err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for member in sorted(p for p in folder.rglob("*") if p.is_file()):
        manifest.put(member.relative_to(root).as_posix(), None, pinned=False)
    found = sorted(folder.rglob(model.member))
    if not found:
        raise FastNSTError(f"{archive} has no {model.member}; {hint}")
    return found[0]


def _ensure_converted(model: CatalogModel, source: Path, root: Path, manifest: Manifest) -> Path:
    """``model.file``: the download converted once (Magenta's TensorFlow checkpoints)."""
    dest = root / str(model.file)
    record = manifest.record(str(model.file))
    if record is not None and record.matches(dest):
        return dest
    try:
        from fastnst.models.interop.magenta import convert_magenta_checkpoint
    except ImportError as err:
        raise FastNSTError(
            f"{model.name} needs fastnst[magenta] to convert Magenta's TensorFlow checkpoint "
            f'once: pip install "fastnst[magenta]" ({err})'
        ) from err
    convert_magenta_checkpoint(source, dest, overwrite=True)  # TensorFlow: FastNSTError
    manifest.put(str(model.file), None, pinned=False)
    return dest
