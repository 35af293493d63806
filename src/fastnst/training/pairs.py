"""Training data of arbitrary-style networks: photos x paintings, both any folder tree.

Each training sample is a photo (as :class:`~fastnst.training.data.ImageFolderDataModule` crops
it) paired with a painting drawn at random, augmented: resized so its short side is a random
multiple in [1, ``style_scale``] of the crop, randomly cropped and flipped (Huang & Belongie
2017 resize to 512 and crop 256, a scale of 2; Ghiasi et al. 2017 draw the style size at
random), and, with ``style_jitter`` j > 0, colour-jittered (brightness, contrast and saturation
by a factor in [1 - j, 1 + j], hue by up to j / 2 of a turn), as Ghiasi et al. augment their
paintings so that the predictor sees more palettes than the collection has. A held-out set
of *paintings* (and of photos) validates: those paintings are never trained on, so the
validation loss measures how well the network paints unseen styles; the ``val_seen`` loader
pairs the held-out photos with training paintings for the comparison.
A corrupt photo or painting drops its pair from the batch and is logged with a running count.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, default_collate
from torchvision.transforms import ColorJitter
from torchvision.transforms.functional import hflip

from fastnst.errors import FastNSTError
from fastnst.io.image import list_images
from fastnst.training.data import ImageFolderDataModule, ImageFolderDataset, split_held_out

log = logging.getLogger(__name__)
Pair = tuple[Tensor, Tensor]


class PaintingDataset(ImageFolderDataset):
    """Square crops of paintings, (3, S, S) in [0, 1]; unreadable files give ``None``.

    Training: short side resized to S x U(1, ``scale``), random crop, random horizontal flip,
    colour jitter of strength ``jitter`` (0: none). Validation: short side S, centre crop (the
    same pixels every time).
    """

    def __init__(
        self, files: list[Path], image_size: int, *, train: bool, scale: float,
        jitter: float = 0.0,
    ) -> None:  # fmt: skip
        super().__init__(files, image_size, train=train)
        self.scale = scale if train else 1.0
        self.train = train
        self.jitter = None
        if train and jitter > 0:
            self.jitter = ColorJitter(jitter, jitter, jitter, hue=min(0.5, jitter / 2))

    kind = "paintings"

    def short_side(self) -> int:
        return round(self.image_size * (1.0 + (self.scale - 1.0) * float(torch.rand(()))))

    def __getitem__(self, index: int) -> Tensor | None:
        tensor = super().__getitem__(index)
        if tensor is None or not self.train:
            return tensor
        if self.jitter is not None:
            tensor = self.jitter(tensor).clamp(0, 1)
        return hflip(tensor) if bool(torch.rand(()) < 0.5) else tensor


class PairDataset(Dataset):
    """(photo, painting) pairs: a random painting per photo in training; in validation pair i
    is (photo i mod P, painting i mod S) over max(P, S) pairs, so every painting is seen."""

    def __init__(self, photos: Dataset, paintings: Dataset, *, train: bool) -> None:
        self.photos, self.paintings, self.train = photos, paintings, train

    def __len__(self) -> int:
        if self.train:
            return len(self.photos)
        return max(len(self.photos), len(self.paintings))

    def __getitem__(self, index: int) -> Pair | None:
        if self.train:
            painting = int(torch.randint(len(self.paintings), ()))
        else:
            index, painting = index % len(self.photos), index % len(self.paintings)
        photo, style = self.photos[index], self.paintings[painting]
        return None if photo is None or style is None else (photo, style)


def collate_pairs(batch: list[Pair | None]) -> Pair:
    """Stack the pairs whose photo and painting both loaded; two empty tensors if none did."""
    pairs = [pair for pair in batch if pair is not None]
    if not pairs:
        return torch.empty(0), torch.empty(0)
    return default_collate(pairs)


class PhotoPaintingDataModule(ImageFolderDataModule):
    """Photos under ``root`` x paintings under ``style_root``, each with a held-out split.

    Args:
        style_root: Folder tree of paintings (any format Pillow reads).
        val_styles: Paintings held out (chosen with ``seed``) for validation and the samples.
        style_scale: Upper end of the random painting scale (see module); 1 disables it.
        style_jitter: Colour jitter of the training paintings (see module); 0 disables it.
        **kwargs: Those of :class:`~fastnst.training.data.ImageFolderDataModule` (photos).
    """

    def __init__(
        self, style_root: str, val_styles: int = 8, style_scale: float = 2.0,
        style_jitter: float = 0.0, **kwargs,
    ) -> None:  # fmt: skip
        super().__init__(**kwargs)
        if style_scale < 1.0:
            raise FastNSTError(f"data.style_scale={style_scale} must be at least 1")
        if not 0.0 <= style_jitter <= 1.0:
            raise FastNSTError(f"data.style_jitter={style_jitter} must be in [0, 1] (0: none)")
        self.style_jitter = style_jitter
        if val_styles < 1:
            raise FastNSTError(f"data.val_styles={val_styles}: hold out at least 1 painting")
        self.style_root, self.val_styles, self.style_scale = style_root, val_styles, style_scale
        self.train_styles: list[Path] = []
        self.val_style_files: list[Path] = []

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        root = Path(self.style_root).expanduser()
        paintings = list_images(root) if root.is_dir() else []
        if not paintings:
            raise FastNSTError(
                f"no paintings in {root} (missing or empty folder); pass data.style_root= a "
                "folder of jpg/png paintings"
            )
        self.train_styles, self.val_style_files = split_held_out(
            paintings, self.val_styles, self.seed
        )
        if len(self.train_styles) == len(paintings):
            log.warning("only %d paintings: validating on training paintings", len(paintings))

    def _pairs(self, photos: list[Path], paintings: list[Path], *, train: bool) -> PairDataset:
        size = self.image_size
        painting_set = PaintingDataset(
            paintings, size, train=train, scale=self.style_scale, jitter=self.style_jitter
        )
        return PairDataset(ImageFolderDataset(photos, size, train=train), painting_set, train=train)

    def _pair_loader(self, dataset: Dataset, *, train: bool) -> DataLoader:
        return DataLoader(
            dataset, batch_size=self.batch_size, shuffle=train,
            drop_last=train and len(dataset) >= self.batch_size, num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0, pin_memory=torch.cuda.is_available(),
            collate_fn=collate_pairs,
        )  # fmt: skip

    def train_dataloader(self) -> DataLoader:
        pairs = self._pairs(self.train_files, self.train_styles, train=True)
        return self._pair_loader(pairs, train=True)

    def val_dataloader(self) -> list[DataLoader]:
        """[held-out photos x held-out paintings, held-out photos x training paintings]."""
        seen = self.train_styles[: len(self.val_style_files)]
        return [
            self._pair_loader(self._pairs(self.val_files, styles, train=False), train=False)
            for styles in (self.val_style_files, seen)
        ]

    def on_after_batch_transfer(self, batch: Pair, dataloader_idx: int) -> Pair:
        return batch

    def sample_pairs(self, count: int) -> Pair:
        """The first ``count`` validation pairs (held-out paintings), centre-cropped: fixed."""
        dataset = self._pairs(self.val_files, self.val_style_files, train=False)
        return collate_pairs([dataset[i] for i in range(min(count, len(dataset)))])
