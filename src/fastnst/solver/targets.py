"""Optimized target images for a file or a folder of content images, resumable.

Each content image gets one solver result (evaluation reference, later a distillation target)
and an entry in ``losses.json`` beside the outputs: its final loss terms and solver time.
Outputs that already exist are skipped, so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from torch import Tensor

from fastnst.errors import FastNSTError
from fastnst.io.atomic import write_json
from fastnst.io.image import list_images, load_image, save_image
from fastnst.losses import PerceptualLoss
from fastnst.solver.optimize import Callback, SolverConfig, optimize

log = logging.getLogger(__name__)


def target_jobs(content: str | Path, output: str | Path) -> list[tuple[Path, Path]]:
    """(content image, output image) pairs.

    A file maps to ``output`` itself (a folder there means ``<output>/<stem>.png``); a folder
    maps every image below it to ``<output>/<relative path>.png``.
    """
    content, output = Path(content).expanduser(), Path(output).expanduser()
    if content.is_file():
        return [(content, output / f"{content.stem}.png" if output.is_dir() else output)]
    if not content.is_dir():
        raise FastNSTError(f"content={content} does not exist; pass an image file or a folder")
    files = list_images(content)
    if not files:
        raise FastNSTError(f"no images under content={content}")
    return [(path, output / path.relative_to(content).with_suffix(".png")) for path in files]


def _read_losses(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise FastNSTError(f"cannot read {path}: {err}; delete it to start over") from err


def make_targets(
    loss: PerceptualLoss,
    jobs: Sequence[tuple[Path, Path]],
    config: SolverConfig,
    *,
    losses_json: str | Path,
    style: Tensor | None = None,
    size: int | None = None,
    overwrite: bool = False,
    callbacks: Callable[[Path], list[Callback]] = lambda _: [],
) -> dict[str, Any]:
    """Optimize every job's content image and save it; returns the losses JSON's content.

    Args:
        loss: The perceptual loss, style set, on the device to run on.
        jobs: From :func:`target_jobs`.
        config: The solver's settings.
        losses_json: ``{output path: {"content": ..., "terms": ..., "seconds": ...}}``,
            updated after every image.
        style: The painting; needed only by a ``luminance_only`` loss, whose style luminance is
            matched to each content image.
        size: Long side of the content in px; ``None`` keeps the file's size.
        overwrite: Redo images whose output exists.
        callbacks: Output path -> the solver callbacks of that image; their ``close()``, if
            any, is called afterwards.
    """
    losses_json = Path(losses_json)
    losses = _read_losses(losses_json)
    device = next(loss.buffers()).device
    for content_path, output in jobs:
        if output.exists() and not overwrite:
            log.info("skipping %s: %s exists", content_path, output)
            continue
        content = load_image(content_path, long_side=size).to(device)
        if getattr(loss, "luminance_only", False) and style is not None:
            loss.set_style(style.to(device), content)
        image_callbacks = callbacks(output)
        try:
            result = optimize(loss, content, config, callbacks=image_callbacks)
        finally:
            for callback in image_callbacks:
                getattr(callback, "close", lambda: None)()
        save_image(result.image, output, overwrite=overwrite)
        losses[str(output)] = {
            "content": str(content_path),
            "terms": result.terms,
            "seconds": result.seconds,
        }
        write_json(losses_json, losses)
        log.info("%s: total %.4g in %.1f s", output, result.terms["total"], result.seconds)
    return losses
