"""Training data: any folder tree of images, resized, cropped, shuffled; bad files are skipped."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TypeVar

import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, default_collate
from torchvision.transforms import CenterCrop, RandomCrop

from fastnst.errors import FastNSTError
from fastnst.io.download import ensure_image_folder
from fastnst.io.image import list_images, open_rgb, pil_to_tensor, resize_short_side

log = logging.getLogger(__name__)
T = TypeVar("T")


class ImageFolderDataset(Dataset):
    """Square crops of the images in ``files``, RGB in [0, 1], shape (3, S, S).

    Each image is resized so its short side is ``image_size`` (aspect ratio kept), then cropped
    at random (``train=True``) or in the centre. A file that cannot be decoded yields ``None``,
    is logged with a running count, and is dropped from its batch by :func:`collate_skipping_none`.
    """

    def __init__(self, files: list[Path], image_size: int, *, train: bool) -> None:
        self.files = files
        self.image_size = image_size
        self.crop = RandomCrop(image_size) if train else CenterCrop(image_size)
        self.skipped: set[Path] = set()

    def __len__(self) -> int:
        return len(self.files)

    kind = "images"  # in the warning about unreadable files

    def __getitem__(self, index: int) -> Tensor | None:
        path = self.files[index]
        try:
            image = open_rgb(path)
        except FastNSTError as err:
            self.skipped.add(path)
            log.warning(
                "skipping %s (%d unreadable %s so far in this worker)", err, len(self.skipped),
                self.kind,
            )  # fmt: skip
            return None
        return pil_to_tensor(self.crop(resize_short_side(image, self.short_side())))[0]

    def short_side(self) -> int:
        """The side the image's short side is resized to before cropping."""
        return self.image_size


def collate_skipping_none(batch: list[Tensor | None]) -> Tensor:
    """Stack the samples that loaded; a batch whose every file was unreadable is empty."""
    samples = [sample for sample in batch if sample is not None]
    if not samples:
        return torch.empty(0)
    return default_collate(samples)


def split_held_out(items: list[T], count: int, seed: int) -> tuple[list[T], list[T]]:
    """(train, held out): ``count`` items drawn with ``seed`` are held out for validation.

    With fewer than ``2 * count`` items nothing is held out of training: train is all of
    ``items`` and validation reuses ``count`` of them.
    """
    order = torch.randperm(len(items), generator=torch.Generator().manual_seed(seed)).tolist()
    held_out = [items[i] for i in order[: min(count, len(items))]]
    if len(items) < 2 * count:
        return list(items), held_out
    return [items[i] for i in order[len(held_out) :]], held_out


def default_num_workers() -> int:
    """One worker per core but one (for the training loop), at most 8."""
    return max(0, min(8, (os.cpu_count() or 1) - 1))


class ImageFolderDataModule(pl.LightningDataModule):
    """Images under ``root`` (recursive), a fixed held-out set for validation and samples.

    Args:
        root: Folder of training images, any tree, any format Pillow reads.
        image_size: Side of the square training crops, px; images are resized to this short side.
        batch_size: Images per training step.
        num_workers: DataLoader workers; ``None`` picks :func:`default_num_workers`.
        val_images: How many images (chosen with ``seed``) are held out for validation and the
            sample grid. With fewer than ``2 * val_images`` files, validation reuses training files.
        val_root: A separate validation folder; then nothing is held out of ``root``.
        url: Archive to download when ``root`` does not exist (see ``ensure_image_folder``).
        md5: Its checksum, when known.
        download_root: Where the archive is downloaded and extracted.
        seed: Seed of the held-out split.
    """

    def __init__(
        self,
        root: str,
        image_size: int = 256,
        batch_size: int = 4,
        num_workers: int | None = None,
        val_images: int = 8,
        val_root: str | None = None,
        url: str | None = None,
        md5: str | None = None,
        download_root: str | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.root = root
        self.image_size = image_size
        self.batch_size = batch_size
        self.num_workers = default_num_workers() if num_workers is None else num_workers
        self.val_images = val_images
        self.val_root = val_root
        self.download = {"url": url, "md5": md5, "download_root": download_root}
        self.seed = seed
        self.train_files: list[Path] = []
        self.val_files: list[Path] = []

    def prepare_data(self) -> None:
        ensure_image_folder(self.root, **self.download)

    def setup(self, stage: str | None = None) -> None:
        files = self._list(self.root)
        if self.val_root is not None:
            self.train_files, self.val_files = files, self._list(self.val_root)
            return
        self.train_files, self.val_files = split_held_out(files, self.val_images, self.seed)
        if len(self.train_files) == len(files):
            log.warning(
                "only %d images in %s: validating on training images", len(files), self.root
            )

    @staticmethod
    def _list(root: str) -> list[Path]:
        path = Path(root).expanduser()
        if not path.is_dir():
            raise FastNSTError(f"image folder not found: {path}; pass data.root=/path/to/images")
        files = list_images(path)
        if not files:
            raise FastNSTError(f"no images in {path}; pass data.root= a folder of jpg/png images")
        return files

    def _dataset(self, files: list[Path], *, train: bool) -> Dataset:
        return ImageFolderDataset(files, self.image_size, train=train)

    def _loader(self, dataset: Dataset, *, train: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=train,
            drop_last=train and len(dataset) >= self.batch_size,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
            collate_fn=collate_skipping_none,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self._dataset(self.train_files, train=True), train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self._dataset(self.val_files, train=False), train=False)

    def on_after_batch_transfer(self, batch: Tensor, dataloader_idx: int) -> Tensor:
        """uint8 batches (shards) become float in [0, 1] only now, on the training device.

        Loaders then move a quarter of the bytes of float images to the GPU.
        """
        return batch.float().div_(255) if batch.dtype == torch.uint8 else batch

    def sample_images(self, count: int) -> Tensor:
        """The first ``count`` validation images, centre-cropped, float in [0, 1]: fixed."""
        dataset = self._dataset(self.val_files, train=False)
        samples = [dataset[i] for i in range(min(count, len(dataset)))]
        return self.on_after_batch_transfer(collate_skipping_none(samples), 0)
