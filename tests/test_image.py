"""Tests for fastnst.io.image: decoding odd modes, conversions, resizing, saving and listing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fastnst.errors import FastNSTError
from fastnst.io.image import (
    IMAGE_SUFFIXES,
    list_images,
    load_image,
    open_alpha,
    open_rgb,
    pil_to_tensor,
    resize_long_side,
    resize_short_side,
    save_image,
    tensor_to_pil,
)

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def _pixels(img: Image.Image) -> np.ndarray:
    return np.asarray(img).astype(int)


def _rgba_file(path: Path) -> Path:
    data = np.zeros((4, 5, 4), dtype=np.uint8)
    data[..., 0] = 200
    data[..., 3] = np.arange(5, dtype=np.uint8) * 60
    Image.fromarray(data).save(path)
    return path


def test_tensor_pil_round_trip_within_one_level() -> None:
    t = torch.rand(1, 3, 7, 9)
    back = pil_to_tensor(tensor_to_pil(t))
    assert back.shape == (1, 3, 7, 9)
    assert back.dtype == torch.float32
    assert torch.max(torch.abs(back - t)).item() <= 0.5 / 255 + 1e-6


def test_tensor_to_pil_clamps_and_accepts_3d_double() -> None:
    t = torch.tensor([-1.0, 0.5, 2.0], dtype=torch.float64).view(3, 1, 1)
    assert tensor_to_pil(t).getpixel((0, 0)) == (0, 128, 255)


@pytest.mark.parametrize("shape", [(2, 3, 4, 4), (1, 4, 4, 4), (4, 4), (1, 1, 3, 4, 4)])
def test_tensor_to_pil_rejects_other_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="shape"):
        tensor_to_pil(torch.zeros(shape))


def test_grayscale_becomes_equal_channels(tmp_path: Path) -> None:
    path = tmp_path / "gray.png"
    Image.fromarray(np.array([[0, 100, 255]], dtype=np.uint8)).save(path)
    img = open_rgb(path)
    assert img.mode == "RGB"
    assert _pixels(img).tolist() == [[[0] * 3, [100] * 3, [255] * 3]]


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    path = tmp_path / "deep.png"
    source = Image.fromarray(np.array([[0, 32768, 65535]], dtype=np.uint16))
    assert source.mode == "I;16"
    source.save(path)
    levels = _pixels(open_rgb(path))[0, :, 0]
    assert levels[0] == 0
    assert abs(levels[1] - 128) <= 1
    assert levels[2] == 255


def test_float_image_in_unit_range_is_scaled(tmp_path: Path) -> None:
    path = tmp_path / "float.tif"
    Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32)).save(path)
    assert _pixels(open_rgb(path))[0, :, 1].tolist() == [0, 128, 255]


def test_rgba_alpha_is_dropped_then_returned_separately(tmp_path: Path) -> None:
    path = _rgba_file(tmp_path / "rgba.png")
    rgb = open_rgb(path)
    assert rgb.mode == "RGB"
    assert rgb.getpixel((0, 0)) == (200, 0, 0)
    alpha = open_alpha(path)
    assert alpha is not None and alpha.mode == "L"
    assert _pixels(alpha)[0].tolist() == [0, 60, 120, 180, 240]


def test_open_alpha_is_none_without_transparency(tmp_path: Path) -> None:
    path = tmp_path / "plain.png"
    Image.new("RGB", (3, 3), RED).save(path)
    assert open_alpha(path) is None


def test_palette_with_transparency(tmp_path: Path) -> None:
    path = tmp_path / "palette.png"
    img = Image.new("P", (2, 1))
    img.putpalette([*RED, *BLUE])
    img.putpixel((1, 0), 1)
    img.save(path, transparency=0)
    assert open_rgb(path).getpixel((1, 0)) == BLUE
    alpha = open_alpha(path)
    assert alpha is not None
    assert _pixels(alpha).tolist() == [[0, 255]]


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (8, 8), (255, 0, 0, 0)).save(path, quality=100)
    r, g, b = open_rgb(path).getpixel((4, 4))
    assert r <= 5 and g >= 250 and b >= 250


def test_exif_orientation_rotates_pixels(tmp_path: Path) -> None:
    path = tmp_path / "rotated.png"
    img = Image.new("RGB", (2, 3), (0, 0, 0))
    corners = {(0, 0): RED, (1, 0): GREEN, (0, 2): BLUE, (1, 2): WHITE}
    for xy, colour in corners.items():
        img.putpixel(xy, colour)
    exif = Image.Exif()
    exif[0x0112] = 6  # Stored rotated; display after turning 90 degrees clockwise.
    img.save(path, exif=exif.tobytes())
    upright = open_rgb(path)
    assert upright.size == (3, 2)
    # Clockwise turn: bottom-left -> top-left, top-left -> top-right, and so on.
    assert upright.getpixel((0, 0)) == BLUE
    assert upright.getpixel((2, 0)) == RED
    assert upright.getpixel((2, 1)) == GREEN
    assert upright.getpixel((0, 1)) == WHITE


def _assert_one_line_naming(error: pytest.ExceptionInfo[FastNSTError], path: Path) -> None:
    message = str(error.value)
    assert str(path) in message
    assert "\n" not in message


def test_truncated_jpeg_is_a_fastnst_error(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    whole = tmp_path / "whole.jpg"
    Image.fromarray(noise).save(whole)
    path = tmp_path / "cut.jpg"
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(FastNSTError) as error:
        open_rgb(path)
    _assert_one_line_naming(error, path)


def test_non_image_is_a_fastnst_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("not an image\n")
    with pytest.raises(FastNSTError) as error:
        open_rgb(path)
    _assert_one_line_naming(error, path)


def test_missing_file_is_a_fastnst_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.jpg"
    with pytest.raises(FastNSTError, match="no such file") as error:
        load_image(path)
    _assert_one_line_naming(error, path)


@pytest.mark.parametrize(
    ("resize", "size", "expected"),
    [
        (resize_short_side, 50, (50, 123)),
        (resize_long_side, 50, (20, 50)),
        (resize_short_side, 1, (1, 2)),
        (resize_long_side, 1, (1, 1)),
    ],
)
def test_resize_keeps_aspect_ratio(resize, size: int, expected: tuple[int, int]) -> None:
    assert resize(Image.new("RGB", (37, 91)), size).size == expected


def test_resize_rejects_zero() -> None:
    with pytest.raises(ValueError):
        resize_long_side(Image.new("RGB", (4, 4)), 0)


def test_load_image_resizes_and_checks_options(tmp_path: Path) -> None:
    path = tmp_path / "wide.png"
    Image.new("RGB", (40, 20), GREEN).save(path)
    assert load_image(path, long_side=10).shape == (1, 3, 5, 10)
    assert load_image(path, short_side=10).shape == (1, 3, 10, 20)
    with pytest.raises(ValueError):
        load_image(path, long_side=10, short_side=10)


def test_save_refuses_then_overwrites_without_leftovers(tmp_path: Path) -> None:
    path = tmp_path / "out" / "result.png"
    save_image(torch.zeros(1, 3, 4, 4), path)
    with pytest.raises(FastNSTError, match="output exists"):
        save_image(torch.ones(1, 3, 4, 4), path)
    assert open_rgb(path).getpixel((0, 0)) == (0, 0, 0)
    assert save_image(torch.ones(1, 3, 4, 4), path, overwrite=True) == path
    assert open_rgb(path).getpixel((0, 0)) == WHITE
    assert [p.name for p in path.parent.iterdir()] == ["result.png"]


def test_save_rejects_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "result.xyz"
    with pytest.raises(FastNSTError, match=r"\.png") as error:
        save_image(torch.zeros(3, 2, 2), path)
    _assert_one_line_naming(error, path)
    assert not path.exists()


def test_save_writes_alpha_to_png_and_drops_it_for_jpeg(tmp_path: Path) -> None:
    alpha = Image.fromarray(np.array([[0, 100, 200, 255]] * 2, dtype=np.uint8))
    png = save_image(torch.full((1, 3, 2, 4), 0.5), tmp_path / "a.png", alpha=alpha)
    with Image.open(png) as saved:
        assert saved.mode == "RGBA"
        assert _pixels(saved.getchannel("A"))[0].tolist() == [0, 100, 200, 255]
        assert saved.getpixel((1, 1))[:3] == (128, 128, 128)
    jpg = save_image(torch.full((1, 3, 2, 4), 0.5), tmp_path / "a.jpg", alpha=alpha)
    with Image.open(jpg) as saved:
        assert saved.mode == "RGB"


def test_save_resizes_mismatched_alpha(tmp_path: Path) -> None:
    alpha = Image.fromarray(np.array([[0, 255]], dtype=np.uint8))
    png = save_image(torch.zeros(1, 3, 3, 8), tmp_path / "a.webp", alpha=alpha)
    with Image.open(png) as saved:
        mask = _pixels(saved.getchannel("A"))
    assert mask.shape == (3, 8)
    assert mask[:, 0].max() <= 5 and mask[:, -1].min() >= 250


def test_save_writes_exif_with_orientation_reset(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "fastnst-camera"
    path = save_image(torch.zeros(1, 3, 2, 2), tmp_path / "e.jpg", exif=exif.tobytes())
    with Image.open(path) as saved:
        written = saved.getexif()
    assert written[0x010F] == "fastnst-camera"
    assert written.get(0x0112, 1) == 1


def test_list_images_recurses_and_skips_hidden(tmp_path: Path) -> None:
    wanted = [tmp_path / "a.JPG", tmp_path / "sub" / "deep" / "b.Png", tmp_path / "sub" / "c.webp"]
    unwanted = [
        tmp_path / ".hidden.png",
        tmp_path / ".cache" / "d.png",
        tmp_path / "sub" / "notes.txt",
        tmp_path / "sub" / "png",
    ]
    for path in wanted + unwanted:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    assert list_images(tmp_path) == sorted(wanted)
    assert all(p.suffix.lower() in IMAGE_SUFFIXES for p in list_images(tmp_path))


def test_list_images_rejects_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(FastNSTError, match="not a directory"):
        list_images(tmp_path / "nope")
