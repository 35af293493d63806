"""Catalogue downloads against a local server: first use, the cache, and every way it fails."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import pytest
import torch
from pretrained_fixtures import (  # noqa: F401 - the fixtures server and fresh_cache
    examples_pth,
    fresh_cache_fixture,
    saved_models_zip,
    server_fixture,
    sha256,
    single,
    write_catalog,
)

from fastnst import FastNSTError
from fastnst.io.pretrained import resolve_model
from fastnst.models.catalog import load_catalog
from fastnst.models.checkpoint import load_style_checkpoint


def serve_plain(server, tmp_path: Path, *, pin: str | None = None, size: int | None = None,
                license: str = "open") -> tuple[bytes, torch.nn.Module]:  # fmt: skip
    data, net = examples_pth(tmp_path / "plain.pth")
    server.files["/m/plain.pth"] = data
    write_catalog(tmp_path / "catalog.json", server.url,
                  {"t/plain.pth": {"url": "/m/plain.pth", "sha256": pin, "size": size}},
                  single("plain", "t/plain.pth", license))  # fmt: skip
    return data, net


def cache_files(root: Path) -> list[str]:
    """Every file under the cache, temporaries included (pooch's are hidden names)."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_first_use_downloads_records_and_then_stays_offline(server, fresh_cache, tmp_path):
    data, net = serve_plain(server, tmp_path)
    path = resolve_model("plain")
    assert path == fresh_cache / "t/plain.pth" and path.read_bytes() == data
    record = json.loads((fresh_cache / "manifest.json").read_text())["files"]["t/plain.pth"]
    assert (record["size"], record["sha256"], record["pinned"]) == (len(data), sha256(data), False)
    assert resolve_model("plain") == path and server.hits["/m/plain.pth"] == 1
    x = torch.rand(1, 3, 20, 28)
    with torch.no_grad():
        assert (load_style_checkpoint(path).model(x) - net(x * 255) / 255).abs().max() < 1e-4


def test_zip_is_unpacked_once_and_each_member_is_a_model(server, fresh_cache, tmp_path):
    archive, nets = saved_models_zip(tmp_path)
    server.files["/saved_models.zip"] = archive
    models = {**single("candy", "ex/saved_models.zip", member="candy.pth"),
              **single("mosaic", "ex/saved_models.zip", member="mosaic.pth")}  # fmt: skip
    write_catalog(tmp_path / "catalog.json", server.url,
                  {"ex/saved_models.zip": {"url": "/saved_models.zip", "unpack": "zip"}}, models)
    candy, mosaic = resolve_model("candy"), resolve_model("mosaic")
    assert candy == fresh_cache / "ex/saved_models.zip.unzip/saved_models/candy.pth"
    assert mosaic.parent == candy.parent and server.hits["/saved_models.zip"] == 1
    x = torch.rand(1, 3, 16, 24)
    with torch.no_grad():
        ours = load_style_checkpoint(candy).model(x)
        assert (ours - nets["candy"](x * 255) / 255).abs().max() < 1e-4
    candy.write_bytes(b"corrupt")  # a damaged member is unpacked again from the checked zip
    assert resolve_model("candy").read_bytes() == (tmp_path / "candy.pth").read_bytes()
    assert server.hits["/saved_models.zip"] == 1


def test_published_hash_and_size_are_checked(server, fresh_cache, tmp_path):
    data, _ = examples_pth(tmp_path / "plain.pth")
    serve_plain(server, tmp_path, pin=sha256(data), size=len(data))
    resolve_model("plain")
    record = json.loads((fresh_cache / "manifest.json").read_text())["files"]["t/plain.pth"]
    assert record["pinned"] is True


def test_hash_mismatch_is_refused_and_nothing_is_kept(server, fresh_cache, tmp_path):
    serve_plain(server, tmp_path, pin="0" * 64)
    with pytest.raises(FastNSTError) as info:
        resolve_model("plain")
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"refused {server.url}/m/plain.pth")
    assert "0" * 64 in message and "--model /path/to/plain.pth" in message
    assert cache_files(fresh_cache) == []


def test_a_size_unlike_the_published_one_is_refused(server, fresh_cache, tmp_path):
    data, _ = serve_plain(server, tmp_path, size=123)
    with pytest.raises(FastNSTError) as info:
        resolve_model("plain")
    assert str(info.value).startswith(
        f"refused {server.url}/m/plain.pth: {len(data)} bytes, the source publishes 123; "
        "the file was removed; or download")  # fmt: skip
    assert cache_files(fresh_cache) == []


def test_truncated_transfer_keeps_nothing_then_a_second_try_succeeds(server, fresh_cache, tmp_path):
    data, _ = serve_plain(server, tmp_path)
    server.modes["/m/plain.pth"] = "truncate"
    with pytest.raises(FastNSTError, match="cut short") as info:
        resolve_model("plain")
    assert "\n" not in str(info.value) and cache_files(fresh_cache) == []
    del server.modes["/m/plain.pth"]
    assert resolve_model("plain").read_bytes() == data


def test_404_is_one_line(server, fresh_cache, tmp_path):
    serve_plain(server, tmp_path)
    del server.files["/m/plain.pth"]
    with pytest.raises(FastNSTError) as info:
        resolve_model("plain")
    assert str(info.value) == (
        f"could not download {server.url}/m/plain.pth: HTTP 404; or download "
        f"{server.url}/m/plain.pth yourself and pass --model /path/to/plain.pth"
    )


def test_a_stalling_server_times_out_in_one_line(server, fresh_cache, tmp_path):
    serve_plain(server, tmp_path)
    server.modes["/m/plain.pth"] = "stall"
    start = time.perf_counter()
    with pytest.raises(FastNSTError, match=r"no data for 1 s \(timed out\)") as info:
        resolve_model("plain")
    assert time.perf_counter() - start < 10  # FASTNST_DOWNLOAD_TIMEOUT=1, no retries
    assert "\n" not in str(info.value) and cache_files(fresh_cache) == []


def test_without_network_one_line_names_the_url_and_the_local_option(fresh_cache, tmp_path):
    with socket.socket() as probe:  # a port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    data, _ = examples_pth(tmp_path / "plain.pth")
    write_catalog(tmp_path / "catalog.json", url, {"t/plain.pth": {"url": "/m/plain.pth"}},
                  single("plain", "t/plain.pth"))  # fmt: skip
    with pytest.raises(FastNSTError) as info:
        resolve_model("plain")
    assert str(info.value) == (
        f"could not download {url}/m/plain.pth: cannot connect (no network, or the server is "
        f"down); or download {url}/m/plain.pth yourself and pass --model /path/to/plain.pth"
    )
    assert resolve_model(tmp_path / "plain.pth") == tmp_path / "plain.pth"  # the way round


def test_a_corrupt_cached_file_is_detected_and_fetched_again(server, fresh_cache, tmp_path):
    data, _ = serve_plain(server, tmp_path)
    path = resolve_model("plain")
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # same size, one bit flipped
    assert resolve_model("plain").read_bytes() == data and server.hits["/m/plain.pth"] == 2
    path.write_bytes(data[:100])  # truncated on disk
    assert resolve_model("plain").read_bytes() == data and server.hits["/m/plain.pth"] == 3


def test_a_download_unlike_the_first_one_is_refused(server, fresh_cache, tmp_path):
    data, _ = serve_plain(server, tmp_path)
    resolve_model("plain").write_bytes(b"damaged")
    server.files["/m/plain.pth"] = data + b"changed upstream"
    with pytest.raises(FastNSTError, match="recorded at the first download"):
        resolve_model("plain")
    assert not (fresh_cache / "t/plain.pth").exists()


def test_a_research_licence_is_shown_and_accepted_once(server, fresh_cache, tmp_path, capsys):
    serve_plain(server, tmp_path, license="research")
    with pytest.raises(FastNSTError, match=r"personal or research use only .*--accept-license"):
        resolve_model("plain")
    assert "Research use only." in capsys.readouterr().err and server.hits["/m/plain.pth"] == 0
    resolve_model("plain", accept_license=True)
    (fresh_cache / "t/plain.pth").unlink()
    resolve_model("plain")  # remembered in the manifest
    assert server.hits["/m/plain.pth"] == 2


def test_unknown_names_and_missing_paths_are_one_line(fresh_cache, tmp_path):
    serve_plain_catalog = single("plain", "t/plain.pth")
    write_catalog(tmp_path / "catalog.json", "http://x", {"t/plain.pth": {"url": "/p"}},
                  serve_plain_catalog)  # fmt: skip
    with pytest.raises(FastNSTError, match=r"unknown model 'candi'.*\(plain\).*--model"):
        resolve_model("candi")
    with pytest.raises(FastNSTError, match="checkpoint not found"):
        resolve_model("runs/last.ckpt")


def test_the_packaged_catalogue_pins_only_published_hashes(monkeypatch):
    monkeypatch.delenv("FASTNST_CATALOG", raising=False)
    models = load_catalog()
    assert {m.kind for m in models.values()} == {"single", "multi", "arbitrary"}
    for model in models.values():
        for d in model.downloads:
            assert (d.sha256 is None) == (d.hash_source is None), d.key
            if d.sha256 is not None:  # the ONNX zoo's Git LFS pointers
                assert re.fullmatch("[0-9a-f]{64}", d.sha256) and d.size == 6728029
                assert d.url.startswith("https://github.com/onnx/models/raw/main/validated/")
        commercial = not model.name.startswith("johnson_")
        assert model.license.commercial == commercial, model.name
    assert [d.key for d in models["adain"].downloads] == [
        "adain/decoder.pth", "adain/vgg_normalised.pth"]  # fmt: skip
    assert models["candy"].downloads[0].url == (
        "https://www.dropbox.com/s/lrvwfehqdcxoza8/saved_models.zip?dl=1")  # fmt: skip
