"""Preprocessed training data: images decoded and resized once, stored as uint8 shards.

Decoding a JPEG costs more CPU than a training step's data needs on a fast GPU; a shard folder
is read by memory mapping instead. Layout (written by ``scripts/prepare_data.py``)::

    manifest.json        {"format": "fastnst-shards", "version": 1, "size": S, "count": N,
                          "shards": [{"file": "shard_00000.npy", "count": n}, ...], "skipped": k}
    shard_00000.npy ...  uint8 arrays (n, S, S, 3): RGB, each image resized so its short side
                         is S, then centre-cropped to a square

Samples leave the loader as uint8 (a quarter of the bytes of float) and become float in [0, 1]
on the training device (:meth:`ImageFolderDataModule.on_after_batch_transfer`).
"""

from __future__ import annotations

import bisect
import itertools
import json
import logging
from collections.abc import Iterable, Iterator
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.transforms import CenterCrop

from fastnst.errors import FastNSTError
from fastnst.io.atomic import atomic_path, write_json
from fastnst.io.image import open_rgb, resize_short_side
from fastnst.training.data import ImageFolderDataModule, default_num_workers, split_held_out

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
FORMAT = "fastnst-shards"


def prepare_image(path: Path, size: int) -> np.ndarray | None:
    """``path`` resized to short side ``size`` and centre-cropped, uint8 (size, size, 3).

    None (logged) when the file cannot be decoded.
    """
    try:
        image = open_rgb(path)
    except FastNSTError as err:
        log.warning("skipping %s", err)
        return None
    return np.asarray(CenterCrop(size)(resize_short_side(image, size)), dtype=np.uint8)


def _prepare(job: tuple[Path, int]) -> np.ndarray | None:
    return prepare_image(*job)


def _save_npy(array: np.ndarray, path: Path) -> None:
    """Write ``array`` to ``path`` atomically (a temporary file, then a rename)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)


def write_shards(
    files: Iterable[Path], out_dir: str | Path, size: int, *, shard_size: int = 1024,
    workers: int | None = None, overwrite: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Decode, resize and centre-crop ``files`` into a shard folder; returns its manifest.

    Unreadable files are logged and counted in ``manifest["skipped"]``. The manifest is written
    last, so an interrupted run leaves no folder that :func:`read_manifest` accepts.

    Args:
        files: Images to store, in this order.
        out_dir: The shard folder, created if needed.
        size: Side of the stored squares, px; train at ``data.image_size`` <= ``size``.
        shard_size: Images per shard file.
        workers: Decoding processes; ``None`` is one per core but one.
        overwrite: Replace an existing shard folder.
    """
    out = Path(out_dir).expanduser()
    if (out / MANIFEST).exists() and not overwrite:
        raise FastNSTError(f"{out} already holds shards; pass --overwrite or another output folder")
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(Path(path), size) for path in files]
    shards, skipped = [], 0
    with Pool(workers or max(1, default_num_workers())) as pool:
        arrays = pool.imap(_prepare, jobs, chunksize=16)
        for index, chunk in enumerate(_batched(arrays, shard_size)):
            images = [array for array in chunk if array is not None]
            skipped += len(chunk) - len(images)
            if images:
                name = f"shard_{index:05d}.npy"
                _save_npy(np.stack(images), out / name)  # (n, S, S, 3)
                shards.append({"file": name, "count": len(images)})
    count = sum(shard["count"] for shard in shards)
    if count == 0:
        raise FastNSTError(
            f"none of the {len(jobs)} images could be read; nothing written to {out}"
        )
    manifest = {"format": FORMAT, "version": 1, "size": size, "count": count, "shards": shards,
                "skipped": skipped}  # fmt: skip
    write_json(out / MANIFEST, manifest, indent=1)
    return manifest


def _batched(items: Iterable[Any], n: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, n)):
        yield chunk


def read_manifest(root: str | Path) -> dict[str, Any]:
    """The manifest of the shard folder ``root``, checked."""
    path = Path(root).expanduser() / MANIFEST
    if not path.is_file():
        raise FastNSTError(
            f"no {MANIFEST} in {path.parent}; run `python scripts/prepare_data.py IMAGES "
            f"{path.parent} --size 256` first, or pass data.root= a prepared shard folder"
        )
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise FastNSTError(f"{path} is not a fastnst shard manifest; rerun prepare_data.py")
    return manifest


class ShardDataset(Dataset):
    """Square crops of side ``image_size`` of the images ``indices`` of the shard folder ``root``.

    Random crops (``train=True``) or centre crops, uint8 RGB, shape (3, S, S). Shards are memory
    mapped on first access in each process, so a worker reads only the images it serves.
    """

    def __init__(self, root: str | Path, indices: list[int], image_size: int, *, train: bool):
        self.root = Path(root).expanduser()
        manifest = read_manifest(self.root)
        if image_size > manifest["size"]:
            raise FastNSTError(
                f"data.image_size={image_size} exceeds the {manifest['size']} px of the shards in "
                f"{self.root}; rerun prepare_data.py with --size {image_size} or larger"
            )
        self.files = [self.root / shard["file"] for shard in manifest["shards"]]
        self.starts = list(itertools.accumulate(s["count"] for s in manifest["shards"]))[:-1]
        self.starts.insert(0, 0)
        self.indices = indices
        self.image_size = image_size
        self.stored_size = manifest["size"]
        self.train = train
        self._arrays: list[np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.indices)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_arrays": None}  # workers map the files themselves

    def __getitem__(self, index: int) -> Tensor:
        if self._arrays is None:
            self._arrays = [np.load(file, mmap_mode="r") for file in self.files]
        item = self.indices[index]
        shard = bisect.bisect_right(self.starts, item) - 1
        margin = self.stored_size - self.image_size
        if self.train:
            top, left = (int(v) for v in torch.randint(0, margin + 1, (2,)))
        else:
            top = left = margin // 2
        crop = self._arrays[shard][item - self.starts[shard], top : top + self.image_size,
                                   left : left + self.image_size]  # fmt: skip
        return torch.from_numpy(np.array(crop)).permute(2, 0, 1)  # a writable copy, (3, S, S)


class ShardDataModule(ImageFolderDataModule):
    """:class:`ImageFolderDataModule` over a shard folder written by ``scripts/prepare_data.py``.

    Same options and held-out split; ``root`` (and ``val_root``) are shard folders, and the
    ``train_files`` / ``val_files`` it keeps are image indices into them.
    """

    def __init__(
        self, root: str, image_size: int = 256, batch_size: int = 4, num_workers: int | None = None,
        val_images: int = 8, val_root: str | None = None, seed: int = 0,
    ) -> None:  # fmt: skip
        super().__init__(root, image_size, batch_size, num_workers, val_images, val_root, seed=seed)

    def prepare_data(self) -> None:
        read_manifest(self.root)

    def setup(self, stage: str | None = None) -> None:
        indices = list(range(read_manifest(self.root)["count"]))
        if self.val_root is not None:
            self.train_files = indices
            self.val_files = list(range(read_manifest(self.val_root)["count"]))
            return
        self.train_files, self.val_files = split_held_out(indices, self.val_images, self.seed)

    def _dataset(self, files: list[int], *, train: bool) -> Dataset:
        root = self.root if train or self.val_root is None else self.val_root
        return ShardDataset(root, files, self.image_size, train=train)
