"""Stylize files: one image or a folder tree of images, with a report of what happened.

The file mechanics of the stylize command (:mod:`fastnst.inference.command`). Images keep
their EXIF metadata (orientation applied to the pixels) and alpha channel; outputs are written
atomically and an existing file is never replaced unless ``overwrite=True``. In a folder, an
unreadable image, an existing output or an image that fails to stylize or save is reported and
skipped, the rest go on. A folder of frames can be stylized as a sequence, each output blended
with the previous one along the input's optical flow (``blend``,
:mod:`fastnst.inference.flow_blend`).
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
from fastnst.inference.flow_blend import FlowBlend
from fastnst.inference.stylizer import Stylizer
from fastnst.io.image import (
    SAVE_SUFFIXES,
    list_images,
    open_alpha,
    open_rgb,
    pil_to_tensor,
    save_image,
)

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
    precision: str = ""  # what the network ran in, when it was chosen by a probe

    def __str__(self) -> str:
        text = (
            f"wrote {len(self.written)}, left {len(self.existing)} existing outputs alone "
            f"(overwrite=true replaces them), skipped {len(self.unreadable)} unreadable inputs"
        )
        if self.failed:
            text += f", {len(self.failed)} failed to stylize or save (see the log above)"
        if self.skipped_frames:
            text += f", skipped {self.skipped_frames} corrupt video frames"
        if self.precision:
            text += f"; ran in {self.precision}"
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
    stylizer: Stylizer, src: Path, dst: Path, *, overwrite: bool = False, progress: bool = True,
    blend: FlowBlend | None = None,
) -> Report:  # fmt: skip
    """Stylize every image under ``src`` (recursively) into the same tree under ``dst``.

    Consecutive images of equal size go through the network together, ``batch_size`` at a time.
    No single image stops the run: one that cannot be read, stylized or saved is logged and
    listed in the report, and the rest go on. With ``blend`` the images are frames of one
    sequence, in sorted order, each blended with the previous output along the optical flow.
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
            _stylize_group(stylizer, group, report, overwrite, blend)
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


def _stylize_group(
    stylizer: Stylizer, group: list[_Job], report: Report, overwrite: bool, blend=None
) -> None:
    """Stylize equal-size images as one batch and save them. If the batch fails (say, out of
    memory), each image is retried alone, so only the images that fail by themselves are lost."""
    try:
        styled = stylizer.stylize(torch.cat([pil_to_tensor(job.image) for job in group]))
        if blend is not None:
            pairs = zip(group, styled, strict=True)
            styled = torch.cat([blend(pil_to_tensor(job.image), s[None]) for job, s in pairs])
    except Exception as err:  # noqa: BLE001 - one bad image must not stop the folder
        if len(group) == 1:
            _record_failure(report, group[0].source, err)
        else:
            for job in group:
                _stylize_group(stylizer, [job], report, overwrite, blend)
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
