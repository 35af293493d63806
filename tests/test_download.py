"""Downloads against a local HTTP server on 127.0.0.1: checksums, atomic writes, error text."""

from __future__ import annotations

import functools
import hashlib
import re
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from fastnst.errors import FastNSTError
from fastnst.io.download import download_file, ensure_image_folder, ensure_style_image


@dataclass
class Server:
    """A running file server: its base URL and the paths it was asked for."""

    url: str
    root: Path
    requests: list[str] = field(default_factory=list)


class _RecordingHandler(SimpleHTTPRequestHandler):
    """Serves files from a folder and records every request path, quietly."""

    def __init__(self, *args: object, requests: list[str], **kwargs: object) -> None:
        self._requests = requests
        super().__init__(*args, **kwargs)

    def parse_request(self) -> bool:
        """Record the path of every well-formed request (GET and HEAD alike)."""
        ok = super().parse_request()
        if ok:
            self._requests.append(self.path)
        return ok

    def log_message(self, *args: object) -> None:
        """Keep test output clean."""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """An HTTP server on 127.0.0.1 (free port) serving ``tmp_path / "served"``."""
    root = tmp_path / "served"
    root.mkdir()
    requests: list[str] = []
    handler = functools.partial(_RecordingHandler, directory=str(root), requests=requests)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_address[1]}", root, requests)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _serve_bytes(server: Server, name: str, data: bytes) -> tuple[str, str]:
    """Put ``data`` on the server as ``name``; return its URL and sha256."""
    (server.root / name).write_bytes(data)
    return f"{server.url}/{name}", hashlib.sha256(data).hexdigest()


def _serve_zip_of_pngs(server: Server, name: str, folder: str, count: int) -> tuple[str, str]:
    """Put a zip holding ``folder/<i>.png`` tiny images on the server; return URL and md5."""
    pngs = server.root / "pngs"
    pngs.mkdir()
    archive = server.root / name
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(count):
            png = pngs / f"{i}.png"
            Image.new("RGB", (4, 3), (40 * i, 80, 160)).save(png)
            zf.write(png, f"{folder}/{i}.png")
    return f"{server.url}/{name}", hashlib.md5(archive.read_bytes()).hexdigest()


def test_download_file_fetches_and_verifies_sha256(server: Server, tmp_path: Path) -> None:
    url, sha = _serve_bytes(server, "painting.jpg", b"not really a jpeg" * 100)
    dest = tmp_path / "cache" / "styles" / "painting.jpg"

    assert download_file(url, dest, sha256=sha) == dest

    assert dest.read_bytes() == b"not really a jpeg" * 100
    assert [p.name for p in dest.parent.iterdir()] == ["painting.jpg"]  # no temp left behind


def test_download_file_checks_md5_too(server: Server, tmp_path: Path) -> None:
    url, _ = _serve_bytes(server, "a.bin", b"abc")
    dest = tmp_path / "a.bin"

    with pytest.raises(FastNSTError, match="could not download"):
        download_file(url, dest, md5="0" * 32)
    assert not dest.exists()

    download_file(url, dest, md5=hashlib.md5(b"abc").hexdigest())
    assert dest.read_bytes() == b"abc"


def test_wrong_sha256_raises_and_leaves_no_file(server: Server, tmp_path: Path) -> None:
    url, _ = _serve_bytes(server, "painting.jpg", b"payload")
    dest = tmp_path / "out" / "painting.jpg"

    with pytest.raises(FastNSTError, match="sha256 mismatch") as info:
        download_file(url, dest, sha256="0" * 64)

    assert url in str(info.value)
    assert "\n" not in str(info.value)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


def test_existing_file_is_not_downloaded_again(server: Server, tmp_path: Path) -> None:
    url, sha = _serve_bytes(server, "painting.jpg", b"payload")
    dest = tmp_path / "painting.jpg"
    dest.write_bytes(b"payload")

    assert download_file(url, dest, sha256=sha) == dest
    assert download_file(url, dest) == dest  # no checksum known: any existing file is trusted

    assert server.requests == []


def test_existing_file_with_wrong_checksum_is_replaced(server: Server, tmp_path: Path) -> None:
    url, sha = _serve_bytes(server, "painting.jpg", b"payload")
    dest = tmp_path / "painting.jpg"
    dest.write_bytes(b"truncated")

    download_file(url, dest, sha256=sha)

    assert dest.read_bytes() == b"payload"
    assert server.requests


def test_404_raises_one_line_error_naming_the_url(server: Server, tmp_path: Path) -> None:
    url = f"{server.url}/missing.jpg"
    dest = tmp_path / "missing.jpg"

    with pytest.raises(FastNSTError) as info:
        download_file(url, dest)

    message = str(info.value)
    assert url in message
    assert "404" in message
    assert "\n" not in message
    assert not dest.exists()


def test_unreachable_host_raises_fastnst_error(tmp_path: Path) -> None:
    with pytest.raises(FastNSTError, match="could not download"):
        download_file("http://127.0.0.1:9/nothing.jpg", tmp_path / "x.jpg")  # discard port


def test_ensure_image_folder_downloads_and_extracts(server: Server, tmp_path: Path) -> None:
    url, md5 = _serve_zip_of_pngs(server, "tiny.zip", "tiny", count=3)
    download_root = tmp_path / "datasets"
    root = download_root / "tiny"

    assert ensure_image_folder(root, url=url, md5=md5, download_root=download_root) == root

    assert sorted(p.name for p in root.iterdir()) == ["0.png", "1.png", "2.png"]
    with Image.open(root / "2.png") as image:
        assert image.size == (4, 3)


def test_ensure_image_folder_defaults_download_root_to_parent(
    server: Server, tmp_path: Path
) -> None:
    url, _ = _serve_zip_of_pngs(server, "tiny.zip", "tiny", count=3)
    root = tmp_path / "data" / "tiny"

    assert ensure_image_folder(root, url=url) == root
    assert len(list(root.glob("*.png"))) == 3
    assert (tmp_path / "data" / "tiny.zip").is_file()


def test_ensure_image_folder_existing_root_needs_no_network(server: Server, tmp_path: Path) -> None:
    root = tmp_path / "images"
    root.mkdir()

    assert ensure_image_folder(root, url=f"{server.url}/never.zip") == root
    assert server.requests == []


def test_ensure_image_folder_missing_root_without_url(tmp_path: Path) -> None:
    root = tmp_path / "nowhere"

    with pytest.raises(FastNSTError) as info:
        ensure_image_folder(root)

    assert str(info.value) == f"image folder not found: {root}; pass data.root=/path/to/images"


def test_ensure_image_folder_404_names_url_and_option(server: Server, tmp_path: Path) -> None:
    url = f"{server.url}/missing.zip"
    root = tmp_path / "data" / "missing"

    with pytest.raises(FastNSTError) as info:
        ensure_image_folder(root, url=url)

    message = str(info.value)
    assert url in message
    assert "data.root=" in message
    assert "\n" not in message
    assert not (tmp_path / "data" / "missing.zip").exists()


def test_ensure_image_folder_bad_md5_removes_archive(server: Server, tmp_path: Path) -> None:
    url, _ = _serve_zip_of_pngs(server, "tiny.zip", "tiny", count=3)
    root = tmp_path / "data" / "tiny"

    with pytest.raises(FastNSTError, match=r"data\.root="):
        ensure_image_folder(root, url=url, md5="0" * 32)

    assert not root.exists()
    assert not (tmp_path / "data" / "tiny.zip").exists()


def test_ensure_image_folder_archive_without_root(server: Server, tmp_path: Path) -> None:
    url, _ = _serve_zip_of_pngs(server, "tiny.zip", "other_name", count=1)
    root = tmp_path / "data" / "tiny"

    with pytest.raises(FastNSTError, match=re.escape(f"did not create {root}")):
        ensure_image_folder(root, url=url)


def test_ensure_style_image_returns_existing_local_file(tmp_path: Path) -> None:
    painting = tmp_path / "mine.jpg"
    painting.write_bytes(b"jpeg")

    assert ensure_style_image("custom", str(painting), None, None, tmp_path / "cache") == painting


def test_ensure_style_image_missing_local_file(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_painting.jpg"

    with pytest.raises(FastNSTError) as info:
        ensure_style_image("custom", str(missing), "http://127.0.0.1:9/x.jpg", None, tmp_path)

    message = str(info.value)
    assert message.startswith(f"style image not found: {missing}")
    assert "style.image=" in message


def test_ensure_style_image_without_image_or_url(tmp_path: Path) -> None:
    with pytest.raises(FastNSTError) as info:
        ensure_style_image("my_style", None, None, None, tmp_path)

    message = str(info.value)
    assert "style.image=/path/to/my_style.jpg" in message
    assert "style.url" in message
    assert "\n" not in message


def test_ensure_style_image_downloads_into_cache(server: Server, tmp_path: Path) -> None:
    url, sha = _serve_bytes(server, "wave.jpg", b"wave bytes")
    cache = tmp_path / "cache"

    path = ensure_style_image("great_wave", None, url, sha, cache)

    assert path == cache / "styles" / "great_wave.jpg"
    assert path.read_bytes() == b"wave bytes"
    server.requests.clear()
    assert ensure_style_image("great_wave", None, url, sha, cache) == path
    assert server.requests == []


def test_ensure_style_image_keeps_url_suffix(server: Server, tmp_path: Path) -> None:
    url, _ = _serve_bytes(server, "kiss.webp", b"webp bytes")

    path = ensure_style_image("the_kiss", None, url, None, tmp_path)

    assert path == tmp_path / "styles" / "the_kiss.webp"


def test_ensure_style_image_download_failure_names_url_and_option(
    server: Server, tmp_path: Path
) -> None:
    url = f"{server.url}/gone.jpg"

    with pytest.raises(FastNSTError) as info:
        ensure_style_image("starry_night", None, url, None, tmp_path)

    message = str(info.value)
    assert url in message
    assert "style.image=/path/to/starry_night.jpg" in message
    assert "\n" not in message
    assert not (tmp_path / "styles" / "starry_night.jpg").exists()


def test_mistyped_root_outside_download_root_is_an_error_not_a_download(
    server: Server, tmp_path: Path
) -> None:
    url, md5 = _serve_zip_of_pngs(server, "tiny.zip", "tiny", count=1)
    typo = tmp_path / "my_photos_typo"

    with pytest.raises(FastNSTError) as info:
        ensure_image_folder(typo, url=url, md5=md5, download_root=tmp_path / "cache" / "coco")

    assert str(info.value) == f"image folder not found: {typo}; pass data.root=/path/to/images"
    assert server.requests == []
    assert not (tmp_path / "cache").exists()


def test_root_deep_under_download_root_is_downloaded(server: Server, tmp_path: Path) -> None:
    url, md5 = _serve_zip_of_pngs(server, "tiny.zip", "sets/tiny", count=2)
    download_root = tmp_path / "cache"
    root = download_root / "sets" / "tiny"

    assert ensure_image_folder(root, url=url, md5=md5, download_root=download_root) == root
    assert len(list(root.glob("*.png"))) == 2
    assert [p.name for p in download_root.iterdir() if p.name.startswith(".")] == []


def test_failed_extraction_leaves_no_partial_image_folder(server: Server, tmp_path: Path) -> None:
    archive = server.root / "broken.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        for i in range(3):
            zf.writestr(f"broken/{i}.png", bytes([i]) * 1000)
    data = bytearray(archive.read_bytes())
    last = data.rindex(b"\x02" * 1000)  # the third member's bytes: its CRC no longer matches
    data[last : last + 10] = b"\x00" * 10
    archive.write_bytes(bytes(data))
    root = tmp_path / "data" / "broken"

    with pytest.raises(FastNSTError, match=r"could not download or extract .*data\.root=") as info:
        ensure_image_folder(root, url=f"{server.url}/broken.zip")

    assert "\n" not in str(info.value)
    assert not root.exists()  # not two of three images, trusted as the data set by the next run
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == []


def test_downloads_go_through_torch_hub_with_the_sha256(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fastnst.io.download as download

    calls: list[tuple[str, str | None]] = []
    real = download.download_url_to_file

    def recording(url: str, dst: str, hash_prefix: str | None = None, progress: bool = True):
        calls.append((url, hash_prefix))
        assert Path(dst).name.startswith(".")  # a hidden temporary, renamed when verified
        return real(url, dst, hash_prefix=hash_prefix, progress=False)

    monkeypatch.setattr(download, "download_url_to_file", recording)
    url, sha = _serve_bytes(server, "painting.jpg", b"payload")

    download_file(url, tmp_path / "painting.jpg", sha256=sha.upper())

    assert calls == [(url, sha)]
    with pytest.raises(FastNSTError, match=f"sha256 mismatch: expected {'0' * 64}, got {sha}"):
        download_file(url, tmp_path / "other.jpg", sha256="0" * 64)
