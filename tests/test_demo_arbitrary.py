"""The demo with arbitrary-style models: paintings uploaded by id or picked from a folder."""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_images
from PIL import Image
from test_arbitrary_export import lively_adain
from test_arbitrary_stylize import save_adain_checkpoint
from test_demo_api import assert_one_line_error, decode, photo_bytes, stylize

pytest.importorskip("starlette")
pytest.importorskip("httpx")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

from fastnst.demo.server import DemoSettings, create_app  # noqa: E402
from fastnst.inference import Stylizer  # noqa: E402
from fastnst.inference.export import export_model, predictor_path  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")
STYLE_SIZE = 32


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("demo_arbitrary")
    models = root / "models"
    models.mkdir()
    save_adain_checkpoint(models / "adain.ckpt", lively_adain())
    write_images(root / "art" / "dutch", 1, size=(40, 32), seed=7)
    write_images(root / "art", 1, size=(32, 48), seed=8)
    (root / "outside.png").write_bytes(photo_bytes())  # beside the folder: never served
    return models, root / "art"


def client_for(folders: tuple[Path, Path], **settings) -> TestClient:
    models, paintings = folders
    settings = {"backend": "torch", "paintings": paintings, "style_size": STYLE_SIZE} | settings
    return TestClient(
        create_app(DemoSettings(models=models, **settings)), raise_server_exceptions=False
    )


def upload(client: TestClient, data: bytes, content_type: str = "image/png"):
    return client.post("/api/paintings", content=data, headers={"content-type": content_type})


def test_arbitrary_models_are_listed_and_paintings_are_offered_by_name(folders) -> None:
    client = client_for(folders)
    listed = client.get("/api/models").json()["models"]
    assert [(m["name"], m["kind"]) for m in listed] == [("adain.ckpt", "arbitrary")]
    names = client.get("/api/paintings").json()["paintings"]
    assert names == ["dutch/img_000.png", "img_000.png"]
    served = client.get("/api/painting", params={"name": names[0]})
    assert served.status_code == 200 and decode(served.content).shape == (32, 40, 3)
    for name in ["../outside.png", "/etc/passwd", "dutch", "", "dutch/../img_000.png"]:
        response = client.get("/api/painting", params={"name": name})
        assert "unknown painting" in assert_one_line_error(response, 404)
    assert client.get("/api/config").json()["style_size"] == STYLE_SIZE


def test_a_painting_uploaded_once_paints_the_photo_like_the_stylizer(folders) -> None:
    models, paintings = folders
    client = client_for(folders)
    painting = (paintings / "img_000.png").read_bytes()
    answer = upload(client, painting).json()
    assert re.fullmatch(r"[0-9a-f]{16}", answer["painting"])
    photo = photo_bytes(48, 40)
    response = stylize(client, photo, model="adain.ckpt", painting=answer["painting"])
    assert response.status_code == 200, response.text
    result = decode(response.content)
    assert result.shape == (40, 48, 3) and np.abs(result - decode(photo)).mean() > 10
    kept = Image.open(paintings / "img_000.png").convert("RGB")  # 32 px short side: kept as is
    expected = Stylizer.from_checkpoint(
        models / "adain.ckpt", device="cpu", style_image=kept, style_size=STYLE_SIZE
    )(Image.open(io.BytesIO(photo)))
    assert np.abs(result - np.asarray(expected, dtype=np.float64)).max() <= 1
    other = upload(client, (paintings / "dutch" / "img_000.png").read_bytes()).json()
    second = decode(stylize(client, photo, model="adain.ckpt", painting=other["painting"]).content)
    assert np.abs(second - result).mean() > 1  # the painting reaches the network


def test_a_missing_or_forgotten_painting_is_a_one_line_error(folders) -> None:
    client = client_for(folders)
    photo = photo_bytes()
    message = assert_one_line_error(stylize(client, photo, model="adain.ckpt"), 422)
    assert "choose or upload a painting" in message
    forgotten = stylize(client, photo, model="adain.ckpt", painting="0123456789abcdef")
    assert "upload it again" in assert_one_line_error(forgotten, 404)
    assert "not an image" in assert_one_line_error(upload(client, b"%PDF-1.4"), 415)
    assert "text/plain" in assert_one_line_error(upload(client, photo, "text/plain"), 415)
    small = client_for(folders, max_bytes=10)
    assert "bytes" in assert_one_line_error(upload(small, photo), 413)


def test_the_demo_command_refuses_a_missing_painting_folder(folders) -> None:
    from fastnst.app.main import main

    with pytest.raises(SystemExit, match="painting folder not found"):
        main(["demo", "--models", str(folders[0]), "--paintings", str(folders[1] / "missing")])


@pytest.mark.slow
def test_a_split_export_is_one_model_and_serves_both_graphs(folders, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from test_predicted import perturbed

    from fastnst.models.predicted import PredictedStyleNet

    torch.manual_seed(0)
    net = PredictedStyleNet()
    net.encoder.load_vgg("random", seed=2)
    models = tmp_path / "models"
    export_model(perturbed(net), models / "predicted.onnx", "onnx")
    assert predictor_path(models / "predicted.onnx").is_file()
    client = client_for((models, folders[1]))
    listed = client.get("/api/models").json()["models"]
    assert [(m["name"], m["kind"], m["format"]) for m in listed] == [
        ("predicted.onnx", "arbitrary", "onnx")
    ]
    style = client.get("/api/onnx", params={"model": "predicted.onnx", "part": "style"})
    assert style.content == predictor_path(models / "predicted.onnx").read_bytes()
    painting = upload(client, (folders[1] / "img_000.png").read_bytes()).json()["painting"]
    photo = photo_bytes()
    response = stylize(client, photo, model="predicted.onnx", painting=painting)
    assert (
        response.status_code == 200 and np.abs(decode(response.content) - decode(photo)).mean() > 1
    )
    bad = client.get("/api/onnx", params={"model": "predicted.onnx", "part": "../x"})
    assert "unknown part" in assert_one_line_error(bad, 422)
