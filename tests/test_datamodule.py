"""Folder data: every image mode becomes RGB crops, bad files are skipped, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_images
from PIL import Image

from fastnst.errors import FastNSTError
from fastnst.training.data import ImageFolderDataModule, ImageFolderDataset, collate_skipping_none


def _odd_modes(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rgb = Image.new("RGB", (50, 40), (200, 30, 10))
    images = {
        "gray.png": rgb.convert("L"),
        "rgba.png": rgb.convert("RGBA"),
        "palette.gif": rgb.convert("P"),
        "cmyk.jpg": rgb.convert("CMYK"),
        "deep.png": Image.fromarray(np.full((40, 50), 40000, dtype=np.uint16)),
    }
    for name, image in images.items():
        image.save(folder / name)
    return [folder / name for name in images]


def test_every_mode_becomes_an_rgb_crop(tmp_path: Path) -> None:
    files = _odd_modes(tmp_path / "modes")
    dataset = ImageFolderDataset(files, 32, train=True)
    for index in range(len(files)):
        sample = dataset[index]
        assert sample.shape == (3, 32, 32)
        assert sample.min() >= 0 and sample.max() <= 1
    gray = dataset[0]
    assert torch.allclose(gray[0], gray[1]) and torch.allclose(gray[1], gray[2])
    deep = dataset[4]
    assert deep.mean().item() == pytest.approx(40000 / 65535, abs=0.01)  # not clipped to white


def test_corrupt_file_is_skipped_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = write_images(tmp_path / "data", 3)
    broken = tmp_path / "data" / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    dataset = ImageFolderDataset([*files, broken], 32, train=False)
    batch = collate_skipping_none([dataset[i] for i in range(4)])
    assert batch.shape == (3, 3, 32, 32)
    assert dataset.skipped == {broken}
    assert "broken.jpg" in caplog.text and "1 unreadable" in caplog.text


def test_split_is_seeded_and_disjoint(tmp_path: Path) -> None:
    write_images(tmp_path / "data", 20)
    first = ImageFolderDataModule(str(tmp_path / "data"), 32, val_images=4, num_workers=0)
    second = ImageFolderDataModule(str(tmp_path / "data"), 32, val_images=4, num_workers=0)
    first.setup(), second.setup()
    assert first.val_files == second.val_files and len(first.val_files) == 4
    assert not set(first.val_files) & set(first.train_files)
    assert len(first.train_files) == 16
    batch = next(iter(first.train_dataloader()))
    assert batch.shape == (4, 3, 32, 32)


def test_center_crop_is_deterministic_random_crop_is_not(tmp_path: Path) -> None:
    files = write_images(tmp_path / "data", 1, size=(96, 40))
    val = ImageFolderDataset(files, 32, train=False)
    assert torch.equal(val[0], val[0])
    train = ImageFolderDataset(files, 32, train=True)
    torch.manual_seed(0)
    crops = [train[0] for _ in range(6)]
    assert any(not torch.equal(crops[0], crop) for crop in crops[1:])


def test_missing_or_empty_folder_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(FastNSTError, match="data.root="):
        ImageFolderDataModule(str(tmp_path / "nope"), 32).setup()
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(FastNSTError, match="no images in"):
        ImageFolderDataModule(str(tmp_path / "empty"), 32).setup()
