"""The demo page in a real Chromium (Playwright): photo upload, strength, webcam, in-browser mode.

Skipped when Playwright or Chromium is missing. Chromium is Debian's (``/usr/bin/chromium``,
driven with ``executable_path``: Playwright cannot download its own browsers here). The webcam is
Chromium's fake camera fed a small .y4m clip made from ``../shared/data/video/cutBunny.mp4``
(its default test pattern when the clip is absent). ``FASTNST_DEMO_SCREENSHOT=path.png`` keeps a
screenshot of the page; the in-browser test needs the onnxruntime-web copy
(``fastnst demo --fetch-ort-web``) and is skipped without it.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SHARED_DATA, write_images
from PIL import Image

sync_api = pytest.importorskip("playwright.sync_api")
uvicorn = pytest.importorskip("uvicorn")

from test_arbitrary_export import lively_adain  # noqa: E402
from test_arbitrary_stylize import save_adain_checkpoint  # noqa: E402
from test_predicted import perturbed  # noqa: E402

from fastnst.demo.ortweb import ort_web_dir, ort_web_ready  # noqa: E402
from fastnst.demo.server import DemoSettings, create_app  # noqa: E402
from fastnst.models import TransformerNet  # noqa: E402
from fastnst.models.checkpoint import checkpoint_entry  # noqa: E402
from fastnst.models.predicted import PredictedStyleNet  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ORT_WEB = Path(os.environ.get("FASTNST_ORT_WEB") or ort_web_dir())  # before the test cache
CLIP = SHARED_DATA / "video" / "cutBunny.mp4"
STYLE_SIZE = 64  # the paintings' short side, so the page and the server encode the same pixels
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed"),
]


class ServerThread:
    """uvicorn serving ``app`` on 127.0.0.1 (a free port) in a daemon thread."""

    def __init__(self, app) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        for _ in range(400):  # bounded: 20 s
            if self.server.started:
                break
            time.sleep(0.05)
        assert self.server.started, "uvicorn did not start"
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def write_y4m(clip: Path, path: Path, frames: int = 30, size: tuple[int, int] = (640, 360)) -> None:
    """The first ``frames`` frames of ``clip`` as a raw YUV 4:2:0 .y4m at ``size`` (W, H)."""
    import av

    with av.open(str(clip)) as container, open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{size[0]} H{size[1]} F25:1 Ip A1:1 C420jpeg\n".encode())
        for index, frame in enumerate(container.decode(video=0)):
            if index >= frames:
                break
            planes = frame.reformat(width=size[0], height=size[1], format="yuv420p")
            out.write(b"FRAME\n" + planes.to_ndarray().tobytes())


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder (a small random-weight Johnson network, a broken file, a two-style
    network, AdaIN and style prediction on a random VGG), paintings and a photo."""
    root = tmp_path_factory.mktemp("demo")
    (root / "models").mkdir()
    torch.manual_seed(0)
    model = TransformerNet(width=8, num_residual_blocks=1, head="sigmoid").eval()
    state = {f"transformer.{key}": value for key, value in model.state_dict().items()}
    entry = checkpoint_entry(model, ["random"], {})
    torch.save({"state_dict": state, "fastnst": entry}, root / "models" / "random.ckpt")
    (root / "models" / "broken.ckpt").write_bytes(b"PK\x03\x04 truncated")
    try:
        duo = TransformerNet(width=4, num_residual_blocks=1, head="sigmoid", num_styles=2)
    except TypeError:  # a fastnst without multi-style networks
        duo = None
    if duo is not None:
        for parameter in duo.parameters():  # two distinct random styles
            parameter.data += 0.3 * torch.randn_like(parameter)
        state = {f"transformer.{key}": value for key, value in duo.state_dict().items()}
        entry = checkpoint_entry(duo, ["wave", "scream"], {})
        torch.save({"state_dict": state, "fastnst": entry}, root / "models" / "duo.ckpt")
    save_adain_checkpoint(root / "models" / "adain.ckpt", lively_adain())
    torch.manual_seed(0)
    predicted = PredictedStyleNet()
    predicted.encoder.load_vgg("random", seed=2)
    save_adain_checkpoint(root / "models" / "predicted.ckpt", perturbed(predicted))
    write_images(root / "art", 2, size=(80, STYLE_SIZE), seed=9)  # short side: no resizing
    photo = SHARED_DATA / "content" / "chicago.jpg"
    if photo.is_file():
        image = Image.open(photo).convert("RGB")
        image = image.resize((320, round(320 * image.height / image.width)))
    else:
        y, x = np.mgrid[0:180, 0:240]
        image = Image.fromarray(np.stack([x, y, (x + y) // 2], -1).astype(np.uint8))
    image.save(root / "photo.png")  # PNG: the browser and Pillow decode it identically
    return root


@pytest.fixture(scope="module")
def server(folder: Path) -> Iterator[ServerThread]:
    settings = DemoSettings(
        models=folder / "models", ort_web=ORT_WEB, queue=4, paintings=folder / "art",
        style_size=STYLE_SIZE,
    )  # fmt: skip
    running = ServerThread(create_app(settings))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser(folder: Path):
    args = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
    if CLIP.is_file():
        write_y4m(CLIP, folder / "camera.y4m")
        args.append(f"--use-file-for-fake-video-capture={folder / 'camera.y4m'}")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server: ServerThread):
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    page.select_option("#model", "random.ckpt")
    yield page
    context.close()


def result_pixels(page) -> np.ndarray:
    """The result image's RGB pixels, read back through a canvas."""
    flat, width, height = page.evaluate(
        """() => {
            const img = document.getElementById("result");
            const canvas = document.createElement("canvas");
            [canvas.width, canvas.height] = [img.naturalWidth, img.naturalHeight];
            const context = canvas.getContext("2d");
            context.drawImage(img, 0, 0);
            const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
            return [Array.from(data), canvas.width, canvas.height];
        }"""
    )
    return np.array(flat, dtype=np.float64).reshape(height, width, 4)[..., :3]


def wait_for_result(page, count: int, timeout: float = 60_000) -> None:
    page.wait_for_function(
        f"+document.getElementById('result').dataset.count >= {count}", timeout=timeout
    )


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a - b) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def test_upload_a_photo_see_it_stylized_and_move_the_strength(page, folder: Path) -> None:
    photo = np.asarray(Image.open(folder / "photo.png"), dtype=np.float64)
    assert "random.ckpt: single style (random)" in page.inner_text("#model")
    page.set_input_files("#file", str(folder / "photo.png"))
    wait_for_result(page, 1)
    stylized = result_pixels(page)
    assert stylized.shape == photo.shape
    assert np.abs(stylized - photo).mean() > 10
    assert page.get_attribute("#download", "href").startswith("blob:")
    screenshot = Path(os.environ.get("FASTNST_DEMO_SCREENSHOT") or folder / "demo.png")
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    page.locator("#strength").fill("0")
    wait_for_result(page, 2)
    assert page.inner_text("#strength-value") == "0.00"
    assert np.abs(result_pixels(page) - photo).max() <= 1  # strength 0 is the photo itself
    assert page.inner_text("#error") == ""


def test_a_file_that_is_not_an_image_shows_a_one_line_error(page, folder: Path) -> None:
    (folder / "notes.png").write_bytes(b"this is text, not a PNG")
    page.set_input_files("#file", str(folder / "notes.png"))
    page.wait_for_function("document.getElementById('error').textContent.length > 0")
    assert "not an image" in page.inner_text("#error")
    page.set_input_files("#file", str(folder / "photo.png"))  # the server still answers
    wait_for_result(page, 1)
    assert page.inner_text("#error") == ""


def test_a_model_that_fails_to_load_shows_a_one_line_error(page, folder: Path) -> None:
    page.select_option("#model", "broken.ckpt")
    error = page.inner_text("#error")
    assert "broken.ckpt cannot load" in error and "corrupt" in error and "\n" not in error
    page.select_option("#model", "random.ckpt")
    assert page.inner_text("#error") == ""
    page.set_input_files("#file", str(folder / "photo.png"))
    wait_for_result(page, 1)  # the server keeps answering


def test_webcam_mode_streams_stylized_frames_with_fps(page) -> None:
    page.click("#webcam")
    wait_for_result(page, 4)
    fps = float(page.get_attribute("#fps", "data-fps"))
    assert fps > 0 and "fps" in page.inner_text("#fps")
    assert result_pixels(page).shape == (360, 640, 3)  # the camera's 640x360 frames
    assert page.inner_text("#error") == ""
    page.click("#webcam")
    assert page.inner_text("#webcam") == "Start webcam"


@pytest.mark.skipif(not ort_web_ready(ORT_WEB), reason="no onnxruntime-web copy: --fetch-ort-web")
def test_in_browser_output_agrees_with_the_server(page, folder: Path) -> None:
    posted = []
    page.on("request", lambda request: posted.append(request.url))
    page.set_input_files("#file", str(folder / "photo.png"))
    wait_for_result(page, 1)
    on_server = result_pixels(page)
    before = sum("/api/stylize" in url for url in posted)
    page.check("#mode-browser")
    page.wait_for_function(
        "document.getElementById('result').dataset.mode === 'browser'", timeout=120_000
    )
    in_browser = result_pixels(page)
    assert sum("/api/stylize" in url for url in posted) == before  # the photo stayed here
    assert any("/ort/ort-wasm-simd-threaded.wasm" in url for url in posted)
    assert in_browser.shape == on_server.shape
    agreement = psnr(in_browser, on_server)
    print(f"in-browser vs server: PSNR {agreement:.1f} dB")
    assert agreement >= 40
    assert np.abs(in_browser - on_server).mean() < 1


@pytest.mark.skipif(not ort_web_ready(ORT_WEB), reason="no onnxruntime-web copy: --fetch-ort-web")
def test_webcam_in_browser_mode_posts_no_frames(page) -> None:
    posted = []
    page.on("request", lambda request: posted.append(request.url))
    page.check("#mode-browser")
    page.click("#webcam")
    wait_for_result(page, 3, timeout=120_000)
    assert page.get_attribute("#result", "data-mode") == "browser"
    assert float(page.get_attribute("#fps", "data-fps")) > 0
    assert result_pixels(page).shape == (360, 640, 3)
    assert not any("/api/stylize" in url for url in posted)  # frames stayed in the browser
    page.click("#webcam")


def test_multi_style_models_get_a_style_picker_and_blend_sliders(page, folder: Path) -> None:
    if not (folder / "models" / "duo.ckpt").is_file():
        pytest.skip("this fastnst has no multi-style networks")
    assert page.is_hidden("#styles")  # a single-style model: no style controls
    page.select_option("#model", "duo.ckpt")
    assert page.is_visible("#styles")
    assert page.locator("#blend input[type=range]").count() == 2
    assert page.locator("#style option").all_inner_texts() == ["blend", "wave", "scream"]
    page.set_input_files("#file", str(folder / "photo.png"))
    wait_for_result(page, 1)
    wave = result_pixels(page)
    page.select_option("#style", "scream")
    wait_for_result(page, 2)
    assert np.abs(result_pixels(page) - wave).mean() > 1
    page.locator("#blend input").nth(0).fill("0.5")  # a blend: the picker shows "blend"
    wait_for_result(page, 3)
    assert page.input_value("#style") == "" and page.inner_text("#error") == ""


def test_arbitrary_models_paint_a_picked_and_an_uploaded_painting(page, folder: Path) -> None:
    assert page.is_hidden("#paintings")
    page.select_option("#model", "adain.ckpt")
    assert "arbitrary style" in page.inner_text("#model-kind") and page.is_visible("#paintings")
    assert page.locator("#painting option").all_inner_texts()[1:] == ["img_000.png", "img_001.png"]
    page.set_input_files("#file", str(folder / "photo.png"))
    wait_for_result(page, 1)  # the first folder painting, picked for us
    photo = np.asarray(Image.open(folder / "photo.png"), dtype=np.float64)
    first = result_pixels(page)
    assert first.shape == photo.shape and np.abs(first - photo).mean() > 5
    page.set_input_files("#painting-file", str(folder / "art" / "img_001.png"))
    wait_for_result(page, 2)
    assert np.abs(result_pixels(page) - first).mean() > 1  # the upload reached the network
    assert page.input_value("#painting") == "" and page.inner_text("#error") == ""


@pytest.mark.skipif(not ort_web_ready(ORT_WEB), reason="no onnxruntime-web copy: --fetch-ort-web")
@pytest.mark.parametrize("model", ["adain.ckpt", "predicted.ckpt"])
def test_arbitrary_models_in_the_browser_agree_with_the_server(page, folder, model) -> None:
    posted = []
    page.on("request", lambda request: posted.append(request.url))
    page.select_option("#model", model)
    page.set_input_files("#file", str(folder / "photo.png"))
    wait_for_result(page, 1, timeout=120_000)
    on_server = result_pixels(page)
    page.check("#mode-browser")
    page.wait_for_function(
        "document.getElementById('result').dataset.mode === 'browser'", timeout=240_000
    )
    in_browser = result_pixels(page)
    assert any("part=style" in url for url in posted) == (model == "predicted.ckpt")
    agreement = psnr(in_browser, on_server)
    print(f"{model} in-browser vs server: PSNR {agreement:.1f} dB")
    assert in_browser.shape == on_server.shape and agreement >= 40
    assert page.inner_text("#error") == ""


def test_page_without_the_ort_web_copy_says_so_and_server_mode_works(browser, folder) -> None:
    running = ServerThread(create_app(DemoSettings(models=folder / "models", ort_web=folder)))
    try:
        context = browser.new_context()
        page = context.new_page()
        page.goto(running.url)
        page.wait_for_selector("body[data-ready='1']")
        page.select_option("#model", "random.ckpt")
        assert "--fetch-ort-web" in page.inner_text("#ort-note")
        assert page.is_disabled("#mode-browser")
        page.set_input_files("#file", str(folder / "photo.png"))
        wait_for_result(page, 1)
        shape = np.asarray(Image.open(folder / "photo.png")).shape
        assert result_pixels(page).shape == shape
        context.close()
    finally:
        running.stop()


def test_y4m_writer_makes_frames_chromium_can_read(folder: Path, tmp_path: Path) -> None:
    if not CLIP.is_file():
        pytest.skip("../shared/data/video/cutBunny.mp4 is absent")
    write_y4m(CLIP, tmp_path / "clip.y4m", frames=2, size=(64, 36))
    data = (tmp_path / "clip.y4m").read_bytes()
    header, rest = data.split(b"\n", 1)
    assert header.startswith(b"YUV4MPEG2 W64 H36")
    assert len(rest) == 2 * (len(b"FRAME\n") + 64 * 36 * 3 // 2)
    luma = np.frombuffer(rest[6 : 6 + 64 * 36], dtype=np.uint8)
    assert luma.std() > 5  # a real picture, not a blank plane
