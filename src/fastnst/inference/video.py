"""Stylize a video frame by frame with PyAV, copying its audio streams unchanged.

PyAV (FFmpeg bindings, ``pip install fastnst[video]``) is used rather than ``torchvision.io``
because it decodes and encodes lazily, frame by frame (a long clip never sits in memory), and
because it can remux audio packets without re-encoding them; ``torchvision.io``'s video API is
deprecated and drops or re-encodes audio. Frames keep their presentation timestamps, so frame
count and frame rate (including variable rates) are those of the input. Each frame is stylized
on its own unless a :class:`~fastnst.inference.flow_blend.FlowBlend` is given, which blends the
previous output, carried along the input's optical flow, into each frame (less flicker, two
optical flows per frame). A frame that cannot be decoded (a corrupt packet) or stylized is left
out and counted, with a warning; the rest of the clip goes on.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
from tqdm import tqdm

from fastnst.errors import FastNSTError
from fastnst.inference.stylizer import Stylizer, target_size
from fastnst.io.atomic import atomic_path

if TYPE_CHECKING:
    from fastnst.inference.flow_blend import FlowBlend

VIDEO_SUFFIXES: frozenset[str] = frozenset({".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v"})
log = logging.getLogger(__name__)


class VideoResult(NamedTuple):
    """Frames written, and frames left out because they were corrupt or failed to stylize."""

    frames: int
    skipped: int = 0


def _import_av():
    """Import PyAV, or tell the user how to install it."""
    try:
        import av
    except ImportError as err:
        raise FastNSTError("video needs PyAV: pip install 'fastnst[video]' (or av)") from err
    return av


def stylize_video(
    stylizer: Stylizer, src: str | Path, dst: str | Path, *, overwrite: bool = False,
    progress: bool = True, blend: FlowBlend | None = None,
) -> VideoResult:  # fmt: skip
    """Stylize every frame of ``src`` into ``dst`` (written atomically); returns the frame counts.

    With ``blend``, each output frame is passed through it in order (flow-guided blending with
    the previous output; it is reset first).

    The container format follows ``dst``'s suffix, with its default video codec (H.264 for .mp4
    and .mkv) in yuv420p; odd output sizes lose their last row/column (yuv420p needs even sizes).

    Raises:
        FastNSTError: ``dst`` exists without ``overwrite``, ``src`` is not a readable video (or
            not one of its frames could be stylized), or PyAV is missing.
    """
    av = _import_av()
    src, dst = Path(src), Path(dst)
    with atomic_path(dst, overwrite=overwrite) as tmp:
        try:
            source = av.open(str(src))
        except (av.FFmpegError, OSError) as err:
            raise FastNSTError(f"cannot read video {src}: {err}") from err
        with source, av.open(str(tmp), "w") as sink:
            if not source.streams.video:
                raise FastNSTError(f"cannot read video {src}: it has no video stream")
            if blend is not None:
                blend.reset()
            result = _transcode(stylizer, source, sink, progress, blend)
        if result.skipped:
            log.warning("skipped %d corrupt or failed frames of %s", result.skipped, src)
        if result.skipped and not result.frames:
            raise FastNSTError(f"cannot read video {src}: not one of its frames could be stylized")
        return result


def _transcode(stylizer: Stylizer, source, sink, progress: bool, blend=None) -> VideoResult:
    """Decode, stylize in batches and encode the first video stream; remux every audio stream."""
    video = source.streams.video[0]
    video.thread_type = "AUTO"
    h, w = target_size(video.height, video.width, stylizer.size, stylizer.max_size)
    out = sink.add_stream(sink.default_video_codec, rate=video.average_rate or 25)
    out.height, out.width, out.pix_fmt = h - h % 2, w - w % 2, "yuv420p"
    if out.codec_context.name == "libx264":
        out.options = {"crf": "18"}  # near-transparent quality: stylized frames are detailed
    audio = {s.index: sink.add_stream_from_template(s) for s in source.streams.audio}
    bar = tqdm(total=video.frames or None, unit="frame", disable=not progress)
    batch, decoded, count, corrupt = [], 0, 0, 0
    for packet in source.demux(video, *source.streams.audio):
        if packet.stream.index in audio:
            if packet.dts is not None:
                packet.stream = audio[packet.stream.index]
                sink.mux(packet)
            continue
        frames = _decode(packet)
        if frames is None:
            corrupt += 1
            continue
        for frame in frames:
            batch.append(frame)
            decoded += 1
            if len(batch) == stylizer.batch_size:
                count += _encode(stylizer, batch, out, sink, blend)
                bar.update(len(batch))
                batch = []
    count += _encode(stylizer, batch, out, sink, blend)
    bar.update(len(batch))
    bar.close()
    sink.mux(out.encode(None))
    return VideoResult(count, corrupt + decoded - count)


def _decode(packet) -> list | None:
    """The frames of one packet, or None (logged) when the packet is corrupt."""
    av = _import_av()
    try:
        return packet.decode()
    except av.FFmpegError as err:
        log.warning("skipped a corrupt video frame at pts %s: %s", packet.pts, err)
        return None


def _encode(stylizer: Stylizer, frames: list, out, sink, blend=None) -> int:
    """Stylize decoded frames and encode them with their original timestamps; returns how many
    were encoded. A failing batch is retried frame by frame; a frame that fails alone is left
    out (logged)."""
    if not frames:
        return 0
    try:
        pixels = _stylize_frames(stylizer, frames, out.height, out.width, blend)
    except Exception as err:  # noqa: BLE001 - one bad frame must not stop the video
        if len(frames) == 1:
            log.warning("skipped a video frame at pts %s: %s", frames[0].pts, err)
            return 0
        return sum(_encode(stylizer, [frame], out, sink, blend) for frame in frames)
    av = _import_av()
    for frame, array in zip(frames, pixels, strict=True):
        encoded = av.VideoFrame.from_ndarray(array, format="rgb24")
        encoded.pts, encoded.time_base = frame.pts, frame.time_base
        sink.mux(out.encode(encoded))
    return len(frames)


def _stylize_frames(
    stylizer: Stylizer, frames: list, height: int, width: int, blend=None
) -> np.ndarray:
    """Decoded frames -> stylized (N, height, width, 3) uint8 RGB arrays, blended in order."""
    rgb = np.stack([frame.to_ndarray(format="rgb24") for frame in frames])  # (N, H, W, 3)
    content = torch.from_numpy(rgb).permute(0, 3, 1, 2).float().div_(255)
    styled = stylizer.stylize(content)
    if blend is not None:
        styled = torch.cat([blend(c[None], s[None]) for c, s in zip(content, styled, strict=True)])
    styled = styled[..., :height, :width].clamp(0, 1)
    return styled.mul_(255).round_().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
