"""The demo server's API: models by name only, bounded uploads, one-line errors, 503 when busy."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

pytest.importorskip("starlette")
pytest.importorskip("httpx")
with warnings.catch_warnings():  # Starlette 1.x prefers httpx2; httpx still works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

from fastnst.demo.catalog import LRU  # noqa: E402
from fastnst.demo.server import DemoSettings, create_app  # noqa: E402
from fastnst.inference import Stylizer  # noqa: E402
from fastnst.models import TransformerNet  # noqa: E402
from fastnst.models.checkpoint import checkpoint_entry  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")


def tiny_model(seed: int = 0) -> TransformerNet:
    torch.manual_seed(seed)
    return TransformerNet(width=4, num_residual_blocks=1, head="sigmoid").eval()


def save_checkpoint(model: TransformerNet, path: Path, styles: list[str]) -> Path:
    """What ``train.py`` writes, as far as inference reads it."""
    state = {f"transformer.{key}": value for key, value in model.state_dict().items()}
    entry = checkpoint_entry(model, styles, {})
    torch.save({"state_dict": state, "fastnst": entry, "global_step": 1}, path)
    return path


def photo_bytes(width: int = 48, height: int = 40, fmt: str = "PNG") -> bytes:
    """A smooth colourful photo, encoded."""
    y, x = np.mgrid[0:height, 0:width]
    array = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], -1)
    buffer = io.BytesIO()
    Image.fromarray(array.astype(np.uint8)).save(buffer, fmt)
    return buffer.getvalue()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(np.float64)


@pytest.fixture
def models(tmp_path: Path) -> Path:
    """A model folder: one tiny checkpoint, one broken file, and files that are not models."""
    folder = tmp_path / "models"
    folder.mkdir()
    save_checkpoint(tiny_model(), folder / "tiny.ckpt", ["stripes"])
    (folder / "broken.ckpt").write_bytes(b"PK\x03\x04 not really a zip")
    (folder / "notes.txt").write_text("not a model")
    save_checkpoint(tiny_model(1), folder / ".hidden.ckpt", ["hidden"])
    save_checkpoint(tiny_model(2), tmp_path / "outside.ckpt", ["outside"])
    return folder


def client_for(models: Path, **settings) -> TestClient:
    app = create_app(DemoSettings(models=models, backend="torch", **settings))
    return TestClient(app, raise_server_exceptions=False)


def stylize(client: TestClient, data: bytes, model: str = "tiny.ckpt", **params):
    return client.post(
        "/api/stylize", params={"model": model, **params}, content=data,
        headers={"content-type": "image/png"},
    )  # fmt: skip


def assert_one_line_error(response, status: int) -> str:
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert message and "\n" not in message and "Traceback" not in message
    return message


def test_models_lists_the_folders_model_files_with_their_kinds(models: Path) -> None:
    listed = client_for(models).get("/api/models").json()["models"]
    assert [info["name"] for info in listed] == ["broken.ckpt", "tiny.ckpt"]
    broken, tiny = listed
    assert tiny["kind"] == "single" and tiny["styles"] == ["stripes"] and tiny["error"] is None
    assert broken["kind"] == "broken" and "corrupt" in broken["error"]
    assert str(models) not in broken["error"]  # the page never sees the server's paths


def test_stylize_returns_the_networks_output_at_the_photos_size(models: Path) -> None:
    photo = photo_bytes(48, 40)
    response = stylize(client_for(models), photo)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    result, original = decode(response.content), decode(photo)
    assert result.shape == original.shape == (40, 48, 3)
    assert np.abs(result - original).mean() > 10  # really stylized, not echoed
    expected = Stylizer(tiny_model(), device="cpu", backend="torch")(Image.open(io.BytesIO(photo)))
    assert np.abs(result - np.asarray(expected, dtype=np.float64)).max() <= 1


def test_strength_zero_gives_back_the_photo_and_jpeg_is_offered(models: Path) -> None:
    client, photo = client_for(models), photo_bytes()
    response = stylize(client, photo, strength="0")
    assert np.abs(decode(response.content) - decode(photo)).max() <= 1
    jpeg = stylize(client, photo, format="jpeg", preserve_color="luminance")
    assert jpeg.headers["content-type"] == "image/jpeg" and decode(jpeg.content).shape[:2] == (
        40,
        48,
    )


@pytest.mark.parametrize(
    ("params", "fragment"),
    [({"strength": "2"}, "strength"), ({"strength": "x"}, "strength"),
     ({"preserve_color": "sepia"}, "preserve_color"), ({"style": "{bad json"}, "style")],
)  # fmt: skip
def test_bad_options_are_one_line_400s(models: Path, params: dict, fragment: str) -> None:
    message = assert_one_line_error(stylize(client_for(models), photo_bytes(), **params), 400)
    assert fragment in message


def test_a_file_that_is_not_an_image_is_a_one_line_415(models: Path) -> None:
    client = client_for(models)
    message = assert_one_line_error(stylize(client, b"%PDF-1.4 hello"), 415)
    assert "not an image" in message
    truncated = photo_bytes(200, 200)[:300]
    assert "truncated" in assert_one_line_error(stylize(client, truncated), 400)
    assert_one_line_error(stylize(client, b""), 400)
    as_text = client.post(
        "/api/stylize", params={"model": "tiny.ckpt"}, content=photo_bytes(),
        headers={"content-type": "text/plain"},
    )  # fmt: skip
    assert "text/plain" in assert_one_line_error(as_text, 415)


@pytest.mark.parametrize(
    "name",
    ["../outside.ckpt", "..%2Foutside.ckpt", "/etc/passwd", "models/tiny.ckpt", ".hidden.ckpt",
     "notes.txt", "tiny", "", "\x00"],
)  # fmt: skip
def test_models_are_addressed_by_listed_names_only(models: Path, name: str) -> None:
    client = client_for(models)
    message = assert_one_line_error(stylize(client, photo_bytes(), model=name), 404)
    assert "unknown model" in message
    assert client.get("/api/onnx", params={"model": name}).status_code == 404


def test_oversized_uploads_are_refused_by_bytes_and_by_pixels(
    models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = photo_bytes(48, 40)
    small = client_for(models, max_bytes=len(photo) - 1)
    assert "bytes" in assert_one_line_error(stylize(small, photo), 413)

    def refuse_to_decode(self, *args, **kwargs):
        raise AssertionError("pixels were decoded before the size check")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse_to_decode)
    few_pixels = client_for(models, max_pixels=48 * 40 - 1)
    assert "48x40" in assert_one_line_error(stylize(few_pixels, photo), 413)


def test_a_full_queue_answers_503_with_retry_after(models: Path) -> None:
    client = client_for(models, workers=1, queue=0)
    slots = client.app.state.slots
    slots.enter()  # an inference in progress fills the only place
    response = stylize(client, photo_bytes())
    assert "busy" in assert_one_line_error(response, 503)
    assert int(response.headers["retry-after"]) >= 1
    slots.leave()
    assert stylize(client, photo_bytes()).status_code == 200
    assert slots.pending == 0  # every place given back


def test_a_broken_model_is_an_error_and_the_server_keeps_answering(models: Path) -> None:
    client = client_for(models)
    message = assert_one_line_error(stylize(client, photo_bytes(), model="broken.ckpt"), 422)
    assert "broken.ckpt" in message and "corrupt" in message
    assert client.get("/api/models").status_code == 200
    assert stylize(client, photo_bytes()).status_code == 200


def test_stylizers_are_cached_per_options_with_a_bound(models: Path) -> None:
    client = client_for(models)
    catalog = client.app.state.catalog
    for strength in [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.1]:
        assert stylize(client, photo_bytes(16, 16), strength=str(strength)).status_code == 200
    assert len(catalog._stylizers.items) == 8
    first = catalog.stylizer("tiny.ckpt", strength=0.9)
    assert catalog.stylizer("tiny.ckpt", strength=0.9) is first  # a hit, not a rebuild


def test_lru_forgets_the_least_recently_used() -> None:
    cache, made = LRU(2), []
    for key in ["a", "b", "a", "c", "b"]:
        cache.get(key, lambda key=key: made.append(key) or key.upper())
    assert made == ["a", "b", "c", "b"] and list(cache.items) == ["c", "b"]


def test_page_is_served_with_isolation_headers_and_no_remote_urls(models: Path) -> None:
    client = client_for(models)
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert page.headers["cross-origin-embedder-policy"] == "require-corp"
    for asset in ["/static/app.js", "/static/style.css"]:
        text = client.get(asset).text
        assert len(text) > 100 and "://" not in text  # no CDN: everything is local


def test_ort_web_files_come_from_the_local_copy_only(models: Path, tmp_path: Path) -> None:
    copy = tmp_path / "ort"
    absent = client_for(models, ort_web=copy)
    assert absent.get("/api/config").json()["ort_web_ready"] is False
    assert absent.get("/ort/ort.wasm.min.js").status_code == 404
    copy.mkdir()
    for name in ["ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"]:
        (copy / name).write_bytes(b"// stub " + name.encode())
    (copy / "secret.txt").write_text("not served")
    present = client_for(models, ort_web=copy)
    assert present.get("/api/config").json()["ort_web_ready"] is True
    script = present.get("/ort/ort-wasm-simd-threaded.mjs")
    assert script.status_code == 200 and script.headers["content-type"].startswith(
        "text/javascript"
    )
    wasm = present.get("/ort/ort-wasm-simd-threaded.wasm")
    assert wasm.headers["content-type"] == "application/wasm"
    assert present.get("/ort/secret.txt").status_code == 404


def test_demo_command_binds_loopback_and_warns_for_other_hosts(
    models: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import uvicorn

    from fastnst.app.main import main

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append(kwargs))
    main(["demo", "--models", str(models), "--port", "8123"])
    out = capsys.readouterr()
    assert calls[-1]["host"] == "127.0.0.1" and "http://127.0.0.1:8123/" in out.out
    assert "warning" not in out.err
    main(["demo", "--models", str(models), "--host", "0.0.0.0"])
    assert (
        calls[-1]["host"] == "0.0.0.0" and "warning: serving on 0.0.0.0" in capsys.readouterr().err
    )
    with pytest.raises(SystemExit, match="model folder not found"):
        main(["demo", "--models", str(models / "missing")])


def test_multi_style_models_list_their_styles_and_take_a_style_or_a_blend(
    models: Path,
) -> None:
    try:
        torch.manual_seed(3)
        model = TransformerNet(width=4, num_residual_blocks=1, head="sigmoid", num_styles=2)
    except TypeError:
        pytest.skip("this fastnst has no multi-style networks")
    for parameter in model.parameters():  # distinct styles: perturb every per-style scale
        parameter.data += 0.3 * torch.randn_like(parameter)
    save_checkpoint(model, models / "duo.ckpt", ["wave", "scream"])
    client = client_for(models)
    listed = {info["name"]: info for info in client.get("/api/models").json()["models"]}
    assert listed["duo.ckpt"]["kind"] == "multi"
    assert listed["duo.ckpt"]["styles"] == ["wave", "scream"]
    photo = photo_bytes()
    wave, scream = (decode(stylize(client, photo, model="duo.ckpt", style=name).content)
                    for name in ["wave", "scream"])  # fmt: skip
    assert np.abs(wave - scream).mean() > 1  # the style choice reaches the network
    default = decode(stylize(client, photo, model="duo.ckpt").content)
    assert np.abs(default - wave).max() <= 1  # no choice: the first style
    blend = stylize(client, photo, model="duo.ckpt", style='{"wave": 0.5, "scream": 0.5}')
    assert blend.status_code == 200 and decode(blend.content).shape == wave.shape
    unknown = stylize(client, photo, model="duo.ckpt", style="starry")
    assert "starry" in assert_one_line_error(unknown, 422)


@pytest.mark.slow
def test_onnxruntime_backend_and_the_browser_export_agree_with_torch(models: Path) -> None:
    pytest.importorskip("onnxscript")
    import onnxruntime

    photo = photo_bytes(48, 40)
    torch_result = decode(stylize(client_for(models), photo).content)
    app = create_app(DemoSettings(models=models))  # auto: ONNX Runtime
    client = TestClient(app)
    assert np.abs(decode(stylize(client, photo).content) - torch_result).max() <= 1
    exported = client.get("/api/onnx", params={"model": "tiny.ckpt"})
    assert exported.status_code == 200
    session = onnxruntime.InferenceSession(exported.content, providers=["CPUExecutionProvider"])
    x = decode(photo).transpose(2, 0, 1)[None].astype(np.float32) / 255
    y = session.run(None, {"image": x})[0][0].transpose(1, 2, 0)
    assert np.abs(np.round(np.clip(y, 0, 1) * 255) - torch_result).max() <= 1
