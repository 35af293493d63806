"""Read the first frames of a clip into memory: a video file (PyAV) or a folder of frames.

For measuring and comparing (:mod:`fastnst.video_metrics`), not for stylizing long videos,
which :mod:`fastnst.inference.video` streams frame by frame.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from fastnst.errors import FastNSTError
from fastnst.io.image import list_images, load_image

log = logging.getLogger(__name__)


def resize_frame(frame: Tensor, size: int | None) -> Tensor:
    """(1, 3, H, W) with the short side scaled to ``size`` (antialiased); None keeps it."""
    if size is None or min(frame.shape[-2:]) == size:
        return frame
    scale = size / min(frame.shape[-2:])
    target = [max(1, round(side * scale)) for side in frame.shape[-2:]]
    return F.interpolate(frame, size=target, mode="bilinear", antialias=True, align_corners=False)


def _video_frames(path: Path, count: int | None) -> list[Tensor]:
    """Decoded RGB frames of the first video stream, corrupt packets skipped (logged)."""
    try:
        import av
    except ImportError as err:
        raise FastNSTError("video needs PyAV: pip install 'fastnst[video]' (or av)") from err
    frames: list[Tensor] = []
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as err:
        raise FastNSTError(f"cannot read video {path}: {err}") from err
    with container:
        for packet in container.demux(video=0):
            try:
                decoded = packet.decode()
            except av.FFmpegError as err:
                log.warning("skipped a corrupt video frame at pts %s: %s", packet.pts, err)
                continue
            for frame in decoded:
                rgb = np.ascontiguousarray(frame.to_ndarray(format="rgb24"))
                frames.append(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255)
            if count is not None and len(frames) >= count:
                break
    return frames[:count]


def read_clip(path: str | Path, *, frames: int | None = None, size: int | None = None) -> Tensor:
    """The first ``frames`` frames of ``path``, (T, 3, H, W) RGB in [0, 1].

    Args:
        path: A video file, or a folder of frames (images, in sorted order of their paths).
        frames: How many frames to read; None reads all.
        size: Short side of the frames in px (antialiased resize); None keeps the size.

    Raises:
        FastNSTError: ``path`` is missing or unreadable, its frames differ in size, or it holds
            fewer than two frames.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FastNSTError(f"clip not found: {path}; pass a video file or a folder of frames")
    if path.is_dir():
        shots = [load_image(file) for file in list_images(path)[:frames]]
    else:
        shots = _video_frames(path, frames)
    if len(shots) < 2:
        raise FastNSTError(f"{path} has {len(shots)} readable frames; a clip needs at least 2")
    if len({tuple(shot.shape) for shot in shots}) > 1:
        raise FastNSTError(f"the frames of {path} differ in size; resize them to one size")
    return torch.cat([resize_frame(shot, size) for shot in shots])
