"""Stylizer API and the file/folder driver: sizes, EXIF, alpha, overwrite, controls, errors."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO, write_images
from numerics import assert_close_fp32
from PIL import Image

from fastnst import FastNSTError, Stylizer
from fastnst.color import rgb_to_yiq
from fastnst.inference import files
from fastnst.inference.command import run
from fastnst.inference.files import stylize_image
from fastnst.models import TransformerNet
from fastnst.training.module import CHECKPOINT_KEY


@pytest.fixture(scope="module", autouse=True)
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Cached ONNX exports go to a folder of this module, never to ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FASTNST_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


def tiny_model(seed: int = 0) -> TransformerNet:
    torch.manual_seed(seed)
    return TransformerNet(width=4, num_residual_blocks=1, head="sigmoid").eval()


def save_checkpoint(model: TransformerNet, path: Path, **extra) -> Path:
    """The dict a ``train.py`` checkpoint holds, as far as inference reads it."""
    state = {f"transformer.{k}": v for k, v in model.state_dict().items()}
    meta = {"version": "test", "model_args": dict(model.config), "style": "stripes"}
    torch.save({"state_dict": state, CHECKPOINT_KEY: meta, "global_step": 3, **extra}, path)
    return path


@pytest.fixture
def ckpt(tmp_path: Path) -> Path:
    return save_checkpoint(tiny_model(), tmp_path / "tiny.ckpt")


def smooth_image(width: int, height: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    low = torch.rand(1, 3, 4, 4, generator=generator) * 0.6 + 0.2
    return torch.nn.functional.interpolate(low, size=(height, width), mode="bilinear")


def test_odd_sizes_come_out_at_input_size_and_match_the_network() -> None:
    model = tiny_model()
    stylizer = Stylizer(model, device="cpu", backend="torch")
    content = smooth_image(37, 23)
    expected = model(content).clamp(0, 1)
    # tiny_model: 8 layers (3 down, a residual block of 2, 2 up, 1 out); the Stylizer's own convs
    assert_close_fp32(stylizer(content[0]), expected[0], depth=8, scale=1.0)
    channels_last = Stylizer(tiny_model(), channels_last=True, backend="torch")
    assert_close_fp32(channels_last(content), expected, depth=8, scale=1.0, what="channels last")
    out = stylizer(Image.new("RGB", (37, 23), (200, 30, 90)))
    assert isinstance(out, Image.Image) and out.size == (37, 23)


def test_size_and_max_size_set_the_output_size() -> None:
    content = smooth_image(60, 40)
    assert Stylizer(tiny_model(), backend="torch", size=20)(content).shape[-2:] == (20, 30)
    assert Stylizer(tiny_model(), backend="torch", max_size=30)(content).shape[-2:] == (20, 30)
    assert Stylizer(tiny_model(), backend="torch", size=40, max_size=45)(content).shape[-2:] == (
        30,
        45,
    )


def test_strength_zero_returns_the_content_and_half_is_the_midpoint() -> None:
    content = smooth_image(32, 24)
    full = Stylizer(tiny_model(), backend="torch", strength=1.0)(content)
    assert torch.equal(Stylizer(tiny_model(), backend="torch", strength=0.0)(content), content)
    half = Stylizer(tiny_model(), backend="torch", strength=0.5)(content)
    assert torch.allclose(half, (full + content) / 2, atol=1e-6)


def test_preserve_color_keeps_the_content_chroma_at_another_size() -> None:
    content = smooth_image(48, 32, seed=1)
    small = torch.nn.functional.interpolate(content, size=(16, 24), mode="bilinear", antialias=True)
    plain = Stylizer(tiny_model(), backend="torch", size=16)(content)
    kept = Stylizer(tiny_model(), backend="torch", size=16, preserve_color="luminance")(content)
    assert kept.shape[-2:] == (16, 24)
    chroma_error = (rgb_to_yiq(kept)[:, 1:] - rgb_to_yiq(small)[:, 1:]).abs().mean()
    plain_error = (rgb_to_yiq(plain)[:, 1:] - rgb_to_yiq(small)[:, 1:]).abs().mean()
    assert chroma_error < 0.01 < plain_error
    matched = Stylizer(tiny_model(), backend="torch", size=16, preserve_color="histogram")(content)
    means = matched.mean(dim=(2, 3))
    assert torch.allclose(means, content.mean(dim=(2, 3)), atol=0.01)
    assert not torch.allclose(plain.mean(dim=(2, 3)), content.mean(dim=(2, 3)), atol=0.05)


def test_exif_and_alpha_are_kept(tmp_path: Path) -> None:
    stylizer = Stylizer(tiny_model(), backend="torch")
    exif = Image.Exif()
    exif[0x0112], exif[0x010F] = 6, "TestCam"  # Orientation: rotate 90 CW; Make
    Image.new("RGB", (40, 24), (10, 200, 90)).save(tmp_path / "rot.jpg", exif=exif.tobytes())
    with Image.open(stylize_image(stylizer, tmp_path / "rot.jpg", tmp_path / "out.jpg")) as out:
        assert out.size == (24, 40)  # upright pixels
        assert out.getexif().get(0x010F) == "TestCam"
        assert out.getexif().get(0x0112, 1) == 1
    alpha = np.tile(np.arange(0, 250, 5, dtype=np.uint8), (30, 1))  # (30, 50) gradient
    rgba = np.dstack([np.full((30, 50, 3), 120, np.uint8), alpha])
    Image.fromarray(rgba).save(tmp_path / "alpha.png")
    with Image.open(stylize_image(stylizer, tmp_path / "alpha.png", tmp_path / "a.png")) as out:
        assert out.mode == "RGBA" and out.size == (50, 30)
        assert np.array_equal(np.asarray(out.getchannel("A")), alpha)


def test_pil_input_is_stylized_upright(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW, so the 30 x 20 pixels show a 20 x 30 photo
    Image.new("RGB", (30, 20), (10, 200, 90)).save(tmp_path / "rot.jpg", exif=exif.tobytes())
    with Image.open(tmp_path / "rot.jpg") as photo:
        assert Stylizer(tiny_model(), backend="torch")(photo).size == (20, 30)


def test_never_overwrites_without_overwrite(tmp_path: Path, ckpt: Path) -> None:
    (src,) = write_images(tmp_path / "in", 1)
    dst = tmp_path / "out.png"
    dst.write_bytes(b"precious")
    with pytest.raises(FastNSTError, match="overwrite=true"):
        run(ckpt=str(ckpt), input=str(src), output=str(dst), device="cpu")
    assert dst.read_bytes() == b"precious"
    run(ckpt=str(ckpt), input=str(src), output=str(dst), device="cpu", overwrite=True)
    assert Image.open(dst).size == (48, 40)
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind


def test_folder_is_recursive_batched_and_skips_bad_and_existing_files(
    tmp_path: Path, ckpt: Path
) -> None:
    src, dst = tmp_path / "in", tmp_path / "out"
    write_images(src, 3)
    write_images(src / "sub", 2, size=(33, 21), seed=1)
    (src / "broken.png").write_bytes(b"not an image")
    Image.new("P", (20, 10)).save(src / "anim.gif")
    dst.mkdir()
    (dst / "img_000.png").write_bytes(b"keep")
    report = run(
        ckpt=str(ckpt), input=str(src), output=str(dst), batch_size=2, progress=False,
        backend="torch",
    )  # fmt: skip
    assert report.unreadable == [src / "broken.png"]
    assert report.existing == [dst / "img_000.png"]
    assert (dst / "img_000.png").read_bytes() == b"keep"
    assert sorted(p.relative_to(dst).as_posix() for p in report.written) == [
        "anim.png", "img_001.png", "img_002.png", "sub/img_000.png", "sub/img_001.png",
    ]  # fmt: skip
    single = stylize_image(
        Stylizer(tiny_model(), backend="torch"), src / "sub" / "img_001.png", tmp_path / "s.png"
    )
    batched, alone = (
        np.asarray(Image.open(p), dtype=int) for p in (dst / "sub/img_001.png", single)
    )
    assert np.abs(batched - alone).max() <= 1


def test_an_image_that_fails_to_stylize_or_save_does_not_stop_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, dst = tmp_path / "in", tmp_path / "out"
    write_images(src, 3)  # 48 x 40, batched together
    write_images(src / "odd", 1, size=(33, 21), seed=1)  # a batch of its own
    stylizer = Stylizer(tiny_model(), backend="torch", batch_size=4)
    real_stylize, real_save = stylizer.stylize, files.save_image

    def stylize(content: torch.Tensor) -> torch.Tensor:
        if content.shape[-1] == 33 or any((image == image.flatten()[0]).all() for image in content):
            raise RuntimeError("boom")
        return real_stylize(content)

    def save_image(image: torch.Tensor, target: Path, **kwargs) -> Path:
        if target.name == "img_002.png":
            raise OSError("disk full")
        return real_save(image, target, **kwargs)

    monkeypatch.setattr(stylizer, "stylize", stylize)
    monkeypatch.setattr(files, "save_image", save_image)
    Image.new("RGB", (48, 40), (7, 7, 7)).save(src / "flat.png")  # in the batch; fails alone
    report = files.stylize_folder(stylizer, src, dst, progress=False)
    failed = sorted(p.relative_to(src).as_posix() for p in report.failed)
    assert failed == ["flat.png", "img_002.png", "odd/img_000.png"]
    assert sorted(p.relative_to(dst).as_posix() for p in report.written) == [
        "img_000.png", "img_001.png"
    ]  # fmt: skip
    assert sorted(p.name for p in dst.rglob("*")) == ["img_000.png", "img_001.png"]
    assert "3 failed" in str(report)


@pytest.mark.slow
def test_onnxruntime_folder_takes_tiny_and_thin_images(tmp_path: Path, ckpt: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    src, dst = tmp_path / "in", tmp_path / "out"
    for size in [(400, 3), (1, 1), (7, 5), (48, 40)]:
        write_images(src / f"{size[0]}x{size[1]}", 1, size=size)
    report = run(ckpt=str(ckpt), input=str(src), output=str(dst), backend="onnxruntime")
    assert len(report.written) == 4 and not report.failed
    for path in report.written:
        assert Image.open(path).size == Image.open(src / path.relative_to(dst)).size


def test_checkpoint_errors_are_one_line(tmp_path: Path, ckpt: Path) -> None:
    torch.save({"weights": torch.zeros(2), "payload": Path("/etc/passwd")}, tmp_path / "evil.ckpt")
    torch.save({"state_dict": {}}, tmp_path / "foreign.ckpt")
    (tmp_path / "corrupt.ckpt").write_bytes(ckpt.read_bytes()[:200])
    for name, message in [
        ("evil.ckpt", "refusing .*pickled Python objects"),  # refused, never run
        ("foreign.ckpt", "not a fastnst checkpoint"),
        ("corrupt.ckpt", "cannot load checkpoint"),
        ("missing.ckpt", "checkpoint not found"),
    ]:
        with pytest.raises(FastNSTError, match=message) as info:
            Stylizer.from_checkpoint(tmp_path / name)
        assert "\n" not in str(info.value)


def test_bad_options_are_user_errors() -> None:
    for options in ({"strength": 1.5}, {"preserve_color": "lab"}, {"tile": 4}, {"device": "tpu"}):
        with pytest.raises(FastNSTError):
            Stylizer(tiny_model(), backend="torch", **options)


def test_command_line_reports_errors_in_one_line(tmp_path: Path, ckpt: Path) -> None:
    (src,) = write_images(tmp_path / "in", 1)
    out = tmp_path / "out.jpg"
    out.write_bytes(b"precious")
    command = [sys.executable, str(REPO / "stylize.py"), f"ckpt={ckpt}", f"input={src}"]
    failed = subprocess.run([*command, f"output={out}"], capture_output=True, text=True)
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines() == [
        f"error: output exists: {out}; pass overwrite=true to replace it"
    ]


@pytest.mark.slow
def test_command_line_stylizes_an_image(tmp_path: Path, ckpt: Path) -> None:
    (src,) = write_images(tmp_path / "in", 1, size=(35, 27))
    out = tmp_path / "out.jpg"
    command = [sys.executable, str(REPO / "stylize.py"), f"ckpt={ckpt}", f"input={src}"]
    done = subprocess.run([*command, f"output={out}", "progress=false"], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    assert Image.open(out).size == (35, 27)
