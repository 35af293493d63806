"""Stylize files: one image, a folder tree of images, a video, or export the network.

This is what ``python stylize.py`` runs, without Hydra: ``run(ckpt=..., input=..., output=...)``.
Images keep their EXIF metadata (orientation applied to the pixels) and alpha channel; outputs
are written atomically and an existing file is never replaced unless ``overwrite=True``. In a
folder, an unreadable image, an existing output or an image that fails to stylize or save is
reported and skipped, the rest go on; in a video, so is a corrupt frame. ``ckpt`` may also be an
exported ``.onnx`` model, run by ONNX Runtime on the CPU. A multi-style network takes ``style``
(a name or a blend), or makes a labelled contact sheet of one photo in every style (``sheet``)
or a strip blending two styles (``strip``, ``strip_steps`` columns).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch
from PIL import Image
from tqdm import tqdm

from fastnst.errors import FastNSTError
from fastnst.inference.export import export_model
from fastnst.inference.sheets import interpolation_strip, style_sheet
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
    """What a run did: files written, outputs that existed and were left alone, bad inputs,
    inputs that failed to stylize or save, and corrupt video frames skipped."""

    written: list[Path] = field(default_factory=list)
    existing: list[Path] = field(default_factory=list)
    unreadable: list[Path] = field(default_factory=list)
    failed: list[Path] = field(default_factory=list)
    skipped_frames: int = 0

    def __str__(self) -> str:
        text = (
            f"wrote {len(self.written)}, left {len(self.existing)} existing outputs alone "
            f"(overwrite=true replaces them), skipped {len(self.unreadable)} unreadable inputs"
        )
        if self.failed:
            text += f", {len(self.failed)} failed to stylize or save (see the log above)"
        if self.skipped_frames:
            text += f", skipped {self.skipped_frames} corrupt video frames"
        return text


class _Job(NamedTuple):
    """One opened image of a folder run and where its result goes."""

    source: Path
    target: Path
    image: Image.Image
    alpha: Image.Image | None


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
    No single image stops the run: one that cannot be read, stylized or saved is logged and
    listed in the report, and the rest go on.
    """
    report = Report()
    pending = []
    for path in list_images(src):
        target = output_path(path, src, dst)
        if target.exists() and not overwrite:
            log.warning("output exists, left alone: %s", target)
            report.existing.append(target)
        else:
            pending.append((path, target))
    bar = tqdm(total=len(pending), unit="image", disable=not progress)
    for start in range(0, len(pending), stylizer.batch_size):
        chunk = pending[start : start + stylizer.batch_size]
        for group in _same_size_runs(_open_jobs(chunk, report)):
            _stylize_group(stylizer, group, report, overwrite)
        bar.update(len(chunk))
    bar.close()
    return report


def _open_jobs(chunk: list[tuple[Path, Path]], report: Report) -> list[_Job]:
    """Open each (source, target) pair's image; unreadable ones go to the report."""
    jobs = []
    for path, target in chunk:
        try:
            jobs.append(_Job(path, target, open_rgb(path), open_alpha(path)))
        except FastNSTError as err:
            log.warning("skipped: %s", err)
            report.unreadable.append(path)
        except Exception as err:  # noqa: BLE001 - one bad file must not stop the folder
            _record_failure(report, path, err)
    return jobs


def _stylize_group(stylizer: Stylizer, group: list[_Job], report: Report, overwrite: bool) -> None:
    """Stylize equal-size images as one batch and save them. If the batch fails (say, out of
    memory), each image is retried alone, so only the images that fail by themselves are lost."""
    try:
        styled = stylizer.stylize(torch.cat([pil_to_tensor(job.image) for job in group]))
    except Exception as err:  # noqa: BLE001 - one bad image must not stop the folder
        if len(group) == 1:
            _record_failure(report, group[0].source, err)
        else:
            for job in group:
                _stylize_group(stylizer, [job], report, overwrite)
        return
    for job, image in zip(group, styled, strict=True):
        try:
            exif = job.image.info.get("exif")
            save_image(image, job.target, overwrite=overwrite, alpha=job.alpha, exif=exif)
            report.written.append(job.target)
        except Exception as err:  # noqa: BLE001 - e.g. a full disk or an unwritable folder
            _record_failure(report, job.source, err)


def _record_failure(report: Report, path: Path, err: Exception) -> None:
    """Log, in one line, why ``path`` was not stylized (the traceback at debug level)."""
    reason = str(err) if isinstance(err, FastNSTError) else f"{type(err).__name__}: {err}"
    log.error("failed, skipped %s: %s", path, reason, exc_info=log.isEnabledFor(logging.DEBUG))
    report.failed.append(path)


def _same_size_runs(jobs: list[_Job]) -> list[list[_Job]]:
    """Split a list of jobs into runs of consecutive equal-size images."""
    runs: list[list[_Job]] = []
    for item in jobs:
        if runs and runs[-1][0].image.size == item.image.size:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def run(
    *, ckpt: str, output: str, input: str | None = None, export: str | None = None,
    overwrite: bool = False, progress: bool = True, sheet: bool = False,
    strip: list[str] | None = None, strip_steps: int = 5, **options,
) -> Report:  # fmt: skip
    """Stylize ``input`` (image, folder or video) into ``output``, or export the network.

    Args:
        ckpt: A ``train.py`` checkpoint, a pytorch/examples ``.pth``, or an exported ``.onnx``
            model (run by ONNX Runtime on the CPU; no ``tile``, ``export`` or torch backend).
        output: Output file or folder (the model file with ``export``).
        input: Image file, folder of images, or video file.
        export: None, ``"torchscript"`` or ``"onnx"``.
        overwrite: Replace existing outputs.
        progress: Show a progress bar for folders and videos.
        sheet: Write a labelled grid of the input image in every style of the network.
        strip: Two style names: write the input image blended from one to the other.
        strip_steps: Columns of the strip, both pure styles included.
        **options: Keyword arguments of ``Stylizer`` (device, strength, size, tile, style, ...).
    """
    report = Report()
    is_onnx = Path(ckpt).suffix.lower() == ".onnx"
    if export is not None and is_onnx:
        raise FastNSTError(
            f"ckpt={ckpt} is already an exported model; export= needs its PyTorch checkpoint"
        )
    if export is not None:
        loaded = load_style_checkpoint(ckpt)
        written = export_model(loaded.model, output, export, overwrite=overwrite)
        report.written.append(written)
        return report
    if input is None:
        raise FastNSTError("no input: pass input=photo.jpg, input=folder/ or input=clip.mp4")
    src, dst = Path(input).expanduser(), Path(output).expanduser()
    if not src.exists():
        raise FastNSTError(f"input not found: {src}")
    is_video = src.suffix.lower() in VIDEO_SUFFIXES
    if options.get("backend", "auto") == "auto" and not (is_onnx or is_video or src.is_dir()):
        options["backend"] = "torch"  # one image does not repay the seconds of ONNX export
    if sheet or strip:
        return _grid(ckpt, src, dst, sheet, strip, strip_steps, overwrite, options)
    stylizer = Stylizer.from_checkpoint(ckpt, **options)
    if src.is_dir():
        if dst.suffix.lower() in SAVE_SUFFIXES | VIDEO_SUFFIXES:
            raise FastNSTError(f"input {src} is a folder, so output={dst} must be a folder too")
        return stylize_folder(stylizer, src, dst, overwrite=overwrite, progress=progress)
    if dst.is_dir():
        dst = dst / src.name if is_video else output_path(src, src.parent, dst)
    refuse_existing(dst, overwrite)
    if is_video:
        result = stylize_video(stylizer, src, dst, overwrite=overwrite, progress=progress)
        report.skipped_frames = result.skipped
    else:
        stylize_image(stylizer, src, dst, overwrite=overwrite)
    report.written.append(dst)
    return report


def _grid(
    ckpt: str, src: Path, dst: Path, sheet: bool, strip: list[str] | None, steps: int,
    overwrite: bool, options: dict,
) -> Report:  # fmt: skip
    """``sheet`` / ``strip`` of one image ``src`` into the image file ``dst``."""
    if sheet and strip:
        raise FastNSTError("sheet=true and strip= each write one image: pass one of them")
    if src.is_dir() or src.suffix.lower() in VIDEO_SUFFIXES:
        raise FastNSTError(f"sheet= and strip= take one image as input, not {src}")
    if dst.is_dir() or dst.suffix.lower() not in SAVE_SUFFIXES:
        raise FastNSTError(f"sheet= and strip= write one image: pass output=sheet.png, not {dst}")
    options.pop("style", None)  # every style, or the two of the strip
    stylizer = Stylizer.from_checkpoint(ckpt, **options)
    content = pil_to_tensor(open_rgb(src))
    if strip:
        image = interpolation_strip(stylizer, content, list(strip), steps)
    else:
        image = style_sheet(stylizer, content)
    save_image(image, dst, overwrite=overwrite)
    return Report(written=[dst])
