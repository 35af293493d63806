"""``fastnst demo`` without a folder: the catalogue's cached models, thumbnails, the page."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from pretrained_fixtures import (  # noqa: F401 - the fixtures server and fresh_cache
    adain_files,
    fresh_cache_fixture,
    saved_models_zip,
    server_fixture,
    single,
    write_catalog,
)

pytest.importorskip("starlette")
pytest.importorskip("httpx")
with warnings.catch_warnings():  # Starlette 1.x prefers httpx2; httpx still works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

from fastnst.demo.pretrained import THUMBNAIL_SIZE, pretrained_catalog, sample_scene  # noqa: E402
from fastnst.demo.server import DemoSettings, create_app  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")


@pytest.fixture
def catalogue(server, fresh_cache, tmp_path) -> dict[str, torch.nn.Module]:
    """candy (pytorch/examples' zip) and adain (pytorch-AdaIN's two files), served locally."""
    archive, nets = saved_models_zip(tmp_path)
    server.files["/saved_models.zip"] = archive
    for name, data in adain_files(tmp_path).items():
        server.files[f"/rel/{name}"] = data
    adain = {"title": "AdaIN", "kind": "arbitrary", "reference": "pytorch-AdaIN",
             "format": "pth", "license": "open", "file": "adain/decoder.pth",
             "downloads": ["adain/decoder.pth", "adain/vgg_normalised.pth"]}  # fmt: skip
    write_catalog(tmp_path / "catalog.json", server.url, {
        "ex/saved_models.zip": {"url": "/saved_models.zip", "unpack": "zip"},
        "adain/decoder.pth": {"url": "/rel/decoder.pth"},
        "adain/vgg_normalised.pth": {"url": "/rel/vgg_normalised.pth"},
    }, {**single("candy", "ex/saved_models.zip", member="candy.pth"), "adain": adain})
    return nets


def test_nothing_cached_fetches_candy_then_lists_the_cached_models(catalogue, server):
    catalog = pretrained_catalog(backend="torch")
    assert list(catalog.files()) == ["candy"] and server.hits["/saved_models.zip"] == 1
    assert [info.kind for info in catalog.list()] == ["single"]


def test_api_lists_the_catalogue_with_thumbnails(catalogue, tmp_path):
    from fastnst.io.pretrained import resolve_model

    resolve_model("adain"), resolve_model("candy")
    catalog = pretrained_catalog(backend="torch")
    app = create_app(DemoSettings(models=catalog.folder), catalog)
    with TestClient(app) as client:
        models = client.get("/api/models").json()["models"]
        assert [(m["name"], m["kind"]) for m in models] == [("candy", "single"),
                                                            ("adain", "arbitrary")]  # fmt: skip
        entries = client.get("/api/config").json()["catalogue"]
        assert entries["candy"]["license"] == "BSD-3-Clause" and entries["adain"]["kind"] == (
            "any painting")  # fmt: skip
        thumb = client.get("/api/thumbnail?model=candy")
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/png"
        got = np.asarray(Image.open(io.BytesIO(thumb.content)).convert("RGB")).astype(np.float32)
        scene = torch.from_numpy(np.array(sample_scene())).permute(2, 0, 1)[None].float()
        with torch.no_grad():
            expected = catalogue["candy"](scene).clamp(0, 255)[0].permute(1, 2, 0).numpy()
        assert got.shape == (*THUMBNAIL_SIZE[::-1], 3) and np.abs(got - expected).max() <= 1.0
        assert got.std() > 10  # a picture, not a flat colour
        assert client.get("/api/thumbnail?model=adain").status_code == 404
        missing = client.get("/api/thumbnail?model=../manifest.json")
        assert missing.status_code == 404 and "\n" not in missing.json()["error"]


@pytest.mark.browser
def test_the_page_shows_the_catalogue_and_the_painting_picker(catalogue, tmp_path: Path):
    sync_api = pytest.importorskip("playwright.sync_api")
    pytest.importorskip("uvicorn")
    from test_demo_browser import CHROMIUM, ServerThread

    if CHROMIUM is None:
        pytest.skip("chromium is not installed")
    from fastnst.io.pretrained import resolve_model

    resolve_model("adain"), resolve_model("candy")
    catalog = pretrained_catalog(backend="torch")
    running = ServerThread(create_app(DemoSettings(models=catalog.folder), catalog))
    try:
        with sync_api.sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM)
            page = chromium.new_page()
            page.goto(running.url)
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            assert page.is_visible("#gallery-section")
            cards = page.locator("#gallery .card")
            assert cards.count() == 2
            page.wait_for_function(
                "() => document.querySelector('#gallery img').naturalWidth === 160",
                timeout=60_000,
            )  # fmt: skip
            assert "BSD-3-Clause" in cards.nth(0).inner_text()
            cards.nth(1).click()  # adain: the painting picker appears
            assert page.input_value("#model") == "adain" and page.is_visible("#paintings")
            assert cards.nth(1).get_attribute("aria-pressed") == "true"
            cards.nth(0).click()
            assert page.input_value("#model") == "candy" and not page.is_visible("#paintings")
            chromium.close()
    finally:
        running.stop()
