"""Consecutive frame pairs of real video, with their optical flow and occlusion mask, for
``temporal=flow`` (:class:`~fastnst.losses.temporal.FlowTemporalLoss`).

Every clip (a video file or a folder of frames, taken in sorted order) is decoded once, its
short side resized to the training size, and kept in memory as uint8. For every pair of
consecutive frames (a, b) the DIS flow a -> b and b -> a is computed once
(:func:`fastnst.flow.dis.flow_pairs`) and the forward flow is kept with its reliable pixels,
the forward-backward check and motion boundaries of Lai et al. 2018
(:func:`fastnst.flow.warp.non_occluded`, the same mask the warping error of
:mod:`fastnst.video_metrics` uses). With a ``cache_dir`` the decoded frames, flows and masks are
also written to ``<cache_dir>/<key>.pt``, the key hashing the clip (its path, size and
modification time, or those of every frame of a folder), the frame range, the size and the DIS
preset, so a second run on the same clip skips decoding and flow.

A corrupt frame (a video packet that does not decode, an unreadable image of a folder) is
skipped, counted in :attr:`FramePairs.skipped` and logged; the frames on either side of it are
not paired, so every pair is truly consecutive.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from fastnst.errors import FastNSTError
from fastnst.flow.warp import in_bounds
from fastnst.io.atomic import atomic_path
from fastnst.io.clip import resize_frame
from fastnst.io.image import list_images, load_image

log = logging.getLogger(__name__)

CACHE_VERSION = 1
OPTION = "temporal.frames"


def _sources(frames: Any) -> list[str]:
    """``temporal.frames`` as a list of paths: one path, or a list (or tuple) of them."""
    if frames is None or (not isinstance(frames, str) and len(frames) == 0):
        raise FastNSTError(
            f"temporal=flow needs {OPTION}=<a video file, a folder of frames, or a list of them>"
        )
    return [str(frames)] if isinstance(frames, (str, Path)) else [str(f) for f in frames]


def _import_av():
    try:
        import av
    except ImportError as err:
        raise FastNSTError(
            f"{OPTION} names a video file, which needs PyAV: pip install 'fastnst[video]' (or av)"
        ) from err
    return av


def _video_segments(path: Path, start: int, stop: int | None, size: int) -> tuple[list, int]:
    """Runs of consecutive decodable frames ``start <= index < stop`` of the first video
    stream, each (n, 3, h, w) uint8, and the count of corrupt packets skipped in that range."""
    av = _import_av()
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as err:
        raise FastNSTError(f"{OPTION}: cannot read video {path}: {err}") from err
    segments: list[list[Tensor]] = [[]]
    index, skipped = 0, 0
    with container:
        for packet in container.demux(video=0):
            if stop is not None and index >= stop:
                break
            try:
                decoded = packet.decode()
            except av.FFmpegError as err:
                if index >= start:
                    skipped += 1
                    log.warning("%s: skipped a corrupt frame at pts %s (%d so far): %s",
                                path, packet.pts, skipped, err)  # fmt: skip
                    segments.append([])
                continue
            for frame in decoded:
                if start <= index and (stop is None or index < stop):
                    rgb = torch.from_numpy(frame.to_ndarray(format="rgb24").copy())
                    segments[-1].append(_to_uint8(rgb.permute(2, 0, 1)[None].float() / 255, size))
                index += 1
    return [torch.cat(s) for s in segments if s], skipped


def _folder_segments(path: Path, start: int, stop: int | None, size: int) -> tuple[list, int]:
    """As :func:`_video_segments` for a folder of frames in sorted order."""
    segments: list[list[Tensor]] = [[]]
    skipped = 0
    for file in list_images(path)[start:stop]:
        try:
            segments[-1].append(_to_uint8(load_image(file), size))
        except FastNSTError as err:
            skipped += 1
            log.warning("%s: skipped an unreadable frame (%d so far): %s", path, skipped, err)
            segments.append([])
    shapes = {tuple(s.shape[-2:]) for seg in segments for s in seg}
    if len(shapes) > 1:
        raise FastNSTError(f"{OPTION}: the frames of {path} differ in size; resize them")
    return [torch.cat(s) for s in segments if s], skipped


def _to_uint8(frame: Tensor, size: int) -> Tensor:
    """(1, 3, H, W) in [0, 1] -> short side ``size``, uint8."""
    return resize_frame(frame, size).clamp(0, 1).mul(255).round().to(torch.uint8)


def _fingerprint(path: Path) -> list:
    """What identifies the clip's content for the cache: name, size and mtime of its file(s)."""
    files = list_images(path) if path.is_dir() else [path]
    return [[str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns] for f in files]


def _compute(path: Path, start: int, stop: int | None, size: int, preset: str) -> dict:
    """Decoded frames, pair indices, forward flows and masks of one clip (no cache)."""
    from fastnst.flow.dis import flow_pairs  # OpenCV is imported only here

    read = _folder_segments if path.is_dir() else _video_segments
    segments, skipped = read(path, start, stop, size)
    frames, firsts, flows, masks = [], [], [], []
    offset = 0
    for segment in segments:
        if len(segment) >= 2:
            for k, pair in enumerate(flow_pairs(segment.float() / 255, preset)):
                firsts.append(offset + k)
                flows.append(pair.flow[0])
                masks.append(pair.mask[0])
        frames.append(segment)
        offset += len(segment)
    if not flows:
        raise FastNSTError(
            f"{OPTION}: {path} has no two consecutive readable frames"
            f" (frames {start} to {stop if stop is not None else 'end'}); pass a longer clip"
        )
    return {"frames": torch.cat(frames), "first": torch.tensor(firsts),
            "flows": torch.stack(flows), "masks": torch.stack(masks),
            "skipped": skipped}  # fmt: skip


class FramePairs:
    """Consecutive frame pairs of clips with the flow between them, decoded and computed once.

    Args:
        sources: A video file or a folder of frames, or a list of them (``temporal.frames``).
        size: Short side of the frames, px (the training size).
        preset: DIS preset (:class:`~fastnst.flow.dis.DISFlow`): ``ultrafast``, ``fast``,
            ``medium``.
        start: First frame index of every clip (0-based, before any corrupt frame is dropped).
        stop: One past the last frame index of every clip; ``None``: to the end.
        cache_dir: Where to cache each clip's frames, flows and masks; ``None``: memory only.

    Raises:
        FastNSTError: ``sources`` is empty, a clip is missing or unreadable or has fewer than
            two consecutive readable frames, or OpenCV (or, for a video file, PyAV) is missing.
    """

    def __init__(
        self, sources: str | Sequence[str], *, size: int, preset: str = "medium",
        start: int = 0, stop: int | None = None, cache_dir: str | Path | None = None,
    ) -> None:  # fmt: skip
        paths = [Path(p).expanduser() for p in _sources(sources)]
        for path in paths:
            if not path.exists():
                raise FastNSTError(
                    f"{OPTION}: {path} not found; pass a video file, a folder of frames or a list"
                )
        try:
            import cv2  # noqa: F401
        except ImportError as err:
            raise FastNSTError(
                "temporal=flow computes optical flow with OpenCV: "
                "pip install 'fastnst[video]' (or opencv-python-headless)"
            ) from err
        self.size, self.preset = int(size), str(preset)
        self.start, self.stop = int(start), None if stop is None else int(stop)
        self.cache_dir = None if cache_dir is None else Path(cache_dir).expanduser()
        self.clips = [self._load(path) for path in paths]
        self.skipped = sum(clip["skipped"] for clip in self.clips)
        self.index = [
            (c, k) for c, clip in enumerate(self.clips) for k in range(len(clip["first"]))
        ]
        self.min_side = min(min(clip["frames"].shape[-2:]) for clip in self.clips)
        log.info("temporal=flow: %d frame pairs from %d clip(s) at %d px, %d corrupt frame(s) "
                 "skipped", len(self), len(self.clips), self.size, self.skipped)  # fmt: skip

    def _load(self, path: Path) -> dict:
        key = {"v": CACHE_VERSION, "clip": _fingerprint(path), "start": self.start,
               "stop": self.stop, "size": self.size, "preset": self.preset}  # fmt: skip
        digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:20]
        cache = None if self.cache_dir is None else self.cache_dir / f"{path.name}-{digest}.pt"
        if cache is not None and cache.is_file():
            try:
                return torch.load(cache, weights_only=True)
            except Exception as err:  # a truncated or foreign file: compute it again
                log.warning("ignoring the unreadable flow cache %s: %s", cache, err)
        clip = _compute(path, self.start, self.stop, self.size, self.preset)
        if cache is not None:
            with atomic_path(cache, overwrite=True) as tmp:
                torch.save(clip, tmp)
        return clip

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Pair ``i``: frames a and b (3, h, w) float in [0, 1], the flow a -> b (2, h, w) on
        a's grid (a(p) ~ b(p + flow(p))) and its reliable pixels (1, h, w) bool."""
        c, k = self.index[i]
        clip = self.clips[c]
        first = int(clip["first"][k])
        a, b = clip["frames"][first : first + 2].float().div(255)
        return a, b, clip["flows"][k], clip["masks"][k]

    def sample(
        self, count: int, crop: int | None = None, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``count`` pairs drawn at random (with replacement), each randomly cropped to
        ``crop`` x ``crop`` px (at most the smallest clip's short side; ``None``: that side), so
        clips of any size and shape batch together: a and b (count, 3, c, c), flow
        (count, 2, c, c), mask (count, 1, c, c). The crop's mask also drops pixels whose flow
        leaves the crop."""
        side = self.min_side if crop is None else min(int(crop), self.min_side)
        picks = torch.randint(len(self), (count,), generator=generator).tolist()
        out: list[list[Tensor]] = [[], [], [], []]
        for i in picks:
            a, b, flow, mask = self[i]
            h, w = a.shape[-2:]
            y = int(torch.randint(h - side + 1, (1,), generator=generator))
            x = int(torch.randint(w - side + 1, (1,), generator=generator))
            for kind, tensor in enumerate((a, b, flow, mask)):
                out[kind].append(tensor[:, y : y + side, x : x + side])
        a, b, flow, mask = (torch.stack(parts) for parts in out)
        return a, b, flow, mask & in_bounds(flow)
