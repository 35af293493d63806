"""Stylize files: one image, a folder tree of images, a video, or export the network.

This is what ``python stylize.py`` runs, without Hydra: ``run(ckpt=..., input=..., output=...)``.
Images keep their EXIF metadata (orientation applied to the pixels) and alpha channel; outputs
are written atomically and an existing file is never replaced unless ``overwrite=True``. In a
folder, an unreadable image or an existing output is reported and skipped, the rest go on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from fastnst.errors import FastNSTError
from fastnst.inference.export import export_model
from fastnst.inference.stylizer import Stylizer
from fastnst.inference.video import VIDEO_SUFFIXES, stylize_video
from fastnst.io.atomic import refuse_existing
from fastnst.io.image import (
    SAVE_SUFFIXES,
    list_images,
    open_alpha,
    open_rgb,
    pil_to_tensor,
    save_image,
)
from fastnst.models.checkpoint import load_style_checkpoint

log = logging.getLogger(__name__)


@dataclass
class Report:
    """What a run did: files written, outputs that existed and were left alone, bad inputs."""

    written: list[Path] = field(default_factory=list)
    existing: list[Path] = field(default_factory=list)
    unreadable: list[Path] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"wrote {len(self.written)}, left {len(self.existing)} existing outputs alone "
            f"(overwrite=true replaces them), skipped {len(self.unreadable)} unreadable inputs"
        )


def output_path(src: Path, src_root: Path, dst_root: Path) -> Path:
    """``src``'s place under ``dst_root``; formats we cannot write (GIF, PPM...) become PNG."""
    dst = dst_root / src.relative_to(src_root)
    return dst if dst.suffix.lower() in SAVE_SUFFIXES else dst.with_suffix(".png")


def stylize_image(stylizer: Stylizer, src: Path, dst: Path, *, overwrite: bool = False) -> Path:
    """Stylize one image file into ``dst``, keeping its EXIF and alpha."""
    img = open_rgb(src)
    exif, content = img.info.get("exif"), pil_to_tensor(img)
    del img  # an 8K photo is 100 MB as 8-bit RGB; keep only the tensor
    styled = stylizer.stylize(content)
    del content
    return save_image(styled, dst, overwrite=overwrite, alpha=open_alpha(src), exif=exif)


def stylize_folder(
    stylizer: Stylizer, src: Path, dst: Path, *, overwrite: bool = False, progress: bool = True
) -> Report:
    """Stylize every image under ``src`` (recursively) into the same tree under ``dst``.

    Consecutive images of equal size go through the network together, ``batch_size`` at a time.
    """
    report = Report()
    jobs = []
    for path in list_images(src):
        target = output_path(path, src, dst)
        if target.exists() and not overwrite:
            log.warning("output exists, left alone: %s", target)
            report.existing.append(target)
        else:
            jobs.append((path, target))
    bar = tqdm(total=len(jobs), unit="image", disable=not progress)
    for start in range(0, len(jobs), stylizer.batch_size):
        batch = []
        for path, target in jobs[start : start + stylizer.batch_size]:
            try:
                img = open_rgb(path)
                batch.append((img, open_alpha(path), target))
            except FastNSTError as err:
                log.warning("skipped: %s", err)
                report.unreadable.append(path)
        for group in _same_size_runs(batch):
            styled = stylizer.stylize(torch.cat([pil_to_tensor(img) for img, _, _ in group]))
            for (img, alpha, target), image in zip(group, styled, strict=True):
                exif = img.info.get("exif")
                save_image(image, target, overwrite=overwrite, alpha=alpha, exif=exif)
                report.written.append(target)
        bar.update(len(jobs[start : start + stylizer.batch_size]))
    bar.close()
    return report


def _same_size_runs(batch: list[tuple]) -> list[list[tuple]]:
    """Split a list of (image, ...) tuples into runs of consecutive equal-size images."""
    runs: list[list[tuple]] = []
    for item in batch:
        if runs and runs[-1][0][0].size == item[0].size:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def run(
    *, ckpt: str, output: str, input: str | None = None, export: str | None = None,
    overwrite: bool = False, progress: bool = True, **options,
) -> Report:  # fmt: skip
    """Stylize ``input`` (image, folder or video) into ``output``, or export the network.

    Args:
        ckpt: A ``train.py`` checkpoint or a pytorch/examples ``.pth``.
        output: Output file or folder (the model file with ``export``).
        input: Image file, folder of images, or video file.
        export: None, ``"torchscript"`` or ``"onnx"``.
        overwrite: Replace existing outputs.
        progress: Show a progress bar for folders and videos.
        **options: Keyword arguments of ``Stylizer`` (device, strength, size, tile, ...).
    """
    report = Report()
    if export is not None:
        model = load_style_checkpoint(ckpt).model
        report.written.append(export_model(model, output, export, overwrite=overwrite))
        return report
    if input is None:
        raise FastNSTError("no input: pass input=photo.jpg, input=folder/ or input=clip.mp4")
    src, dst = Path(input).expanduser(), Path(output).expanduser()
    if not src.exists():
        raise FastNSTError(f"input not found: {src}")
    is_video = src.suffix.lower() in VIDEO_SUFFIXES
    if options.get("backend", "auto") == "auto" and not (is_video or src.is_dir()):
        options["backend"] = "torch"  # one image does not repay the seconds of ONNX export
    stylizer = Stylizer.from_checkpoint(ckpt, **options)
    if src.is_dir():
        if dst.suffix.lower() in SAVE_SUFFIXES | VIDEO_SUFFIXES:
            raise FastNSTError(f"input {src} is a folder, so output={dst} must be a folder too")
        return stylize_folder(stylizer, src, dst, overwrite=overwrite, progress=progress)
    if dst.is_dir():
        dst = dst / src.name if is_video else output_path(src, src.parent, dst)
    refuse_existing(dst, overwrite)
    if is_video:
        stylize_video(stylizer, src, dst, overwrite=overwrite, progress=progress)
    else:
        stylize_image(stylizer, src, dst, overwrite=overwrite)
    report.written.append(dst)
    return report
