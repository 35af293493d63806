"""uint8 shards: same pixels as the JPEG path, crops inside the stored squares, same data= API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_images

from fastnst.app.train import train
from fastnst.errors import FastNSTError
from fastnst.models.checkpoint import load_style_checkpoint
from fastnst.training.data import ImageFolderDataset
from fastnst.training.shards import ShardDataModule, ShardDataset, write_shards


@pytest.fixture
def folder(tmp_path: Path) -> list[Path]:
    files = write_images(tmp_path / "src", 5, size=(60, 40))
    files += write_images(tmp_path / "src_tall", 2, size=(36, 70), seed=1)
    broken = tmp_path / "src" / "zz_broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    return [*files, broken]


def test_shards_hold_the_pixels_of_the_folder_path(folder: list[Path], tmp_path: Path) -> None:
    manifest = write_shards(folder, tmp_path / "shards", 32, shard_size=3, workers=1)
    assert manifest["count"] == 7 and manifest["skipped"] == 1
    assert [s["count"] for s in manifest["shards"]] == [3, 3, 1]  # the broken file left a gap
    stored = np.load(tmp_path / "shards" / "shard_00001.npy")
    assert stored.shape == (3, 32, 32, 3) and stored.dtype == np.uint8
    shards = ShardDataset(tmp_path / "shards", list(range(7)), 32, train=False)
    reference = ImageFolderDataset(folder[:7], 32, train=False)  # resize + centre crop
    for index in range(7):
        assert torch.equal(shards[index].float() / 255, reference[index])


def test_random_crops_are_windows_of_the_stored_square(folder: list[Path], tmp_path: Path) -> None:
    write_shards(folder[:2], tmp_path / "shards", 40, workers=1)
    full = ShardDataset(tmp_path / "shards", [1], 40, train=False)[0]
    crops = ShardDataset(tmp_path / "shards", [1], 24, train=True)
    torch.manual_seed(0)
    seen = set()
    for _ in range(8):
        crop = crops[0]
        windows = [
            (top, left) for top in range(17) for left in range(17)
            if torch.equal(full[:, top : top + 24, left : left + 24], crop)
        ]  # fmt: skip
        assert windows
        seen.add(windows[0])
    assert len(seen) > 1
    centre = ShardDataset(tmp_path / "shards", [1], 24, train=False)[0]
    assert torch.equal(centre, full[:, 8:32, 8:32])


def test_datamodule_splits_and_batches_become_float(folder: list[Path], tmp_path: Path) -> None:
    write_shards(folder, tmp_path / "shards", 32, workers=1)
    data = ShardDataModule(str(tmp_path / "shards"), 32, batch_size=2, num_workers=0, val_images=3)
    data.prepare_data()
    data.setup()
    assert len(data.val_files) == 3 and not set(data.val_files) & set(data.train_files)
    assert sorted(data.train_files + data.val_files) == list(range(7))
    batch = next(iter(data.train_dataloader()))
    assert batch.dtype == torch.uint8 and batch.shape == (2, 3, 32, 32)
    floats = data.on_after_batch_transfer(batch, 0)
    assert floats.dtype == torch.float32 and torch.equal(floats, batch.float() / 255)
    assert data.sample_images(2).dtype == torch.float32


def test_one_line_errors(folder: list[Path], tmp_path: Path) -> None:
    with pytest.raises(FastNSTError, match="prepare_data.py"):
        ShardDataModule(str(tmp_path / "none")).prepare_data()
    write_shards(folder[:2], tmp_path / "shards", 32, workers=1)
    with pytest.raises(FastNSTError, match="--overwrite"):
        write_shards(folder[:2], tmp_path / "shards", 32, workers=1)
    with pytest.raises(FastNSTError, match="data.image_size=48"):
        ShardDataset(tmp_path / "shards", [0], 48, train=True)
    (tmp_path / "shards" / "manifest.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(FastNSTError, match="not a fastnst shard"):
        ShardDataset(tmp_path / "shards", [0], 32, train=True)


def test_training_on_shards_through_the_data_option(make_cfg, image_folder: Path, tmp_path) -> None:
    write_shards(sorted(image_folder.iterdir()), tmp_path / "shards", 36, workers=1)
    train(make_cfg("data=shards", f"data.root={tmp_path / 'shards'}"))
    checkpoint = load_style_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert checkpoint.global_step == 4
    assert checkpoint.config["data"]["_target_"] == "fastnst.training.shards.ShardDataModule"
