"""A local HTTP server and a test catalogue for the pretrained-model tests (no internet).

The server (``http.server`` in a thread, 127.0.0.1, a random port) serves bytes per path and
can misbehave on purpose: ``truncate`` (a Content-Length larger than the body, then the
connection closes), ``stall`` (headers, then silence), or 404 for unknown paths. The catalogue
is written in the packaged format and selected with ``FASTNST_CATALOG``, as a user selects a
mirror.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from test_interop import examples_checkpoint
from torch import nn


class FileServer:
    """``files[path] = bytes``; ``modes[path] = "truncate" | "stall"`` to misbehave."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.modes: dict[str, str] = {}
        self.hits: Counter[str] = Counter()
        self.release = threading.Event()  # ends stalls at shutdown
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = self.path.split("?")[0]
                server.hits[path] += 1
                body, mode = server.files.get(path), server.modes.get(path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body) + 1000 * (mode == "truncate")))
                self.end_headers()
                if mode == "stall":
                    server.release.wait(30)
                    return
                self.wfile.write(body[: len(body) // 2] if mode == "truncate" else body)
                self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def examples_pth(path: Path) -> tuple[bytes, nn.Module]:
    """A pytorch/examples ``.pth`` (their keys and shapes, random weights) and its network.

    The last convolution is scaled to give outputs of about 128 +- 40 (in their 0-255 units),
    so a comparison of stylized images sees colours, not a black picture."""
    reference = examples_checkpoint(path)
    state = torch.load(path, weights_only=True)
    with torch.no_grad():
        reference.deconv3.conv2d.weight.mul_(100)
        reference.deconv3.conv2d.bias.add_(128)
    state["deconv3.conv2d.weight"] = reference.deconv3.conv2d.weight.clone()
    state["deconv3.conv2d.bias"] = reference.deconv3.conv2d.bias.clone()
    torch.save(state, path)
    return path.read_bytes(), reference


def saved_models_zip(folder: Path) -> tuple[bytes, dict[str, nn.Module]]:
    """pytorch/examples' ``saved_models.zip`` layout: ``saved_models/<style>.pth``."""
    buffer, nets = io.BytesIO(), {}
    with zipfile.ZipFile(buffer, "w") as archive:
        for style in ("candy", "mosaic"):
            data, nets[style] = examples_pth(folder / f"{style}.pth")
            archive.writestr(f"saved_models/{style}.pth", data)
    return buffer.getvalue(), nets


def adain_files(folder: Path) -> dict[str, bytes]:
    """pytorch-AdaIN's ``decoder.pth`` and ``vgg_normalised.pth``: their ``net.py`` modules'
    state dicts (keys ``<index>.weight``), random weights."""
    torch.manual_seed(1)
    pad = nn.ReflectionPad2d(1)
    decoder, vgg = [], [nn.Conv2d(3, 3, 1)]
    widths = [(512, 256), "up", (256, 256), (256, 256), (256, 256), (256, 128), "up",
              (128, 128), (128, 64), "up", (64, 64), (64, 3)]  # fmt: skip
    for item in widths:
        decoder += [nn.Upsample(scale_factor=2)] if item == "up" else [pad, nn.Conv2d(*item, 3)]
        if item != "up":
            decoder.append(nn.ReLU())
    decoder.pop()  # no ReLU after the last convolution
    for block in ([(3, 64), (64, 64)], [(64, 128), (128, 128)], [(128, 256)] + [(256, 256)] * 3,
                  [(256, 512)] + [(512, 512)] * 3, [(512, 512)] * 4):  # fmt: skip
        for cin, cout in block:
            vgg += [pad, nn.Conv2d(cin, cout, 3), nn.ReLU()]
        vgg.append(nn.MaxPool2d(2, 2, ceil_mode=True))
    vgg.pop()  # their vgg ends at relu5_4
    out = {}
    for name, modules in (("decoder.pth", decoder), ("vgg_normalised.pth", vgg)):
        torch.save(nn.Sequential(*modules).state_dict(), folder / name)
        out[name] = (folder / name).read_bytes()
    return out


def write_catalog(path: Path, base: str, downloads: dict[str, dict], models: dict[str, dict]):
    """A catalogue in the packaged format whose URLs are ``base + <path>``."""
    licenses = {
        "open": {"name": "BSD-3-Clause", "commercial": True, "url": "u", "text": "BSD-3."},
        "research": {"name": "personal or research use only", "commercial": False,
                     "url": "https://example.invalid/license", "text": "Research use only."},
    }  # fmt: skip
    for entry in downloads.values():
        entry["url"] = base + entry["url"]
    path.write_text(json.dumps({"schema": 1, "licenses": licenses, "downloads": downloads,
                                "models": models}))  # fmt: skip


def single(name: str, download: str, license: str = "open", **extra: object) -> dict:
    return {name: {"title": name, "kind": "single", "styles": [name], "reference": "test",
                   "format": "pytorch/examples .pth", "license": license,
                   "downloads": [download], **extra}}  # fmt: skip


@pytest.fixture(name="server")
def server_fixture() -> Iterator[FileServer]:
    served = FileServer()
    yield served
    served.close()


@pytest.fixture(name="fresh_cache")
def fresh_cache_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty FASTNST_CACHE, a 1 s download timeout and no retries (fast failures)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("FASTNST_CACHE", str(cache))
    monkeypatch.setenv("FASTNST_DOWNLOAD_TIMEOUT", "1")
    monkeypatch.setenv("FASTNST_DOWNLOAD_RETRIES", "0")
    monkeypatch.setenv("FASTNST_CATALOG", str(tmp_path / "catalog.json"))
    return cache / "pretrained"
