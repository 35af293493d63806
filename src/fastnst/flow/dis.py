"""Optical flow of real video: OpenCV's DIS (Kroeger et al. 2016), an optional dependency.

DIS (dense inverse search) runs on a CPU at hundreds of frames per second at small sizes and is
in the plain ``opencv-python-headless`` wheel (``pip install 'fastnst[video]'``). OpenCV is
imported on first use only, so nothing else of fastnst needs it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from fastnst.errors import FastNSTError
from fastnst.flow.warp import FlowPair, non_occluded

PRESETS = ("ultrafast", "fast", "medium")


def _import_cv2():
    """Import OpenCV, or tell the user how to install it."""
    try:
        import cv2
    except ImportError as err:
        raise FastNSTError(
            "optical flow needs OpenCV: pip install 'fastnst[video]' (or opencv-python-headless)"
        ) from err
    return cv2


def to_gray(image: Tensor) -> np.ndarray:
    """(1, 3, H, W) or (3, H, W) RGB in [0, 1] -> (H, W) uint8 luma (ITU-R BT.601 weights)."""
    rgb = image.reshape(-1, *image.shape[-3:])[0].detach().float().cpu().clamp(0, 1)
    luma = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return luma.mul(255).round().to(torch.uint8).numpy()


class DISFlow:
    """``DISFlow()(a, b)``: the flow from frame a to frame b, a(p) ~ b(p + flow(p)).

    Args:
        preset: ``"ultrafast"``, ``"fast"`` or ``"medium"`` (OpenCV's presets: speed vs accuracy).

    Raises:
        FastNSTError: an unknown preset, or OpenCV missing.
    """

    def __init__(self, preset: str = "medium") -> None:
        if preset not in PRESETS:
            raise FastNSTError(f"unknown flow preset {preset!r}; use one of {', '.join(PRESETS)}")
        cv2 = _import_cv2()
        code = getattr(cv2, f"DISOPTICAL_FLOW_PRESET_{preset.upper()}")
        self._dis = cv2.DISOpticalFlow_create(code)

    def gray(self, a: np.ndarray, b: np.ndarray) -> Tensor:
        """The flow between two (H, W) uint8 frames, (1, 2, H, W) float32 in pixels."""
        flow = self._dis.calc(a, b, None)  # (H, W, 2): x, y
        return torch.from_numpy(flow).permute(2, 0, 1).unsqueeze(0).contiguous()

    def __call__(self, a: Tensor, b: Tensor) -> Tensor:
        """The flow from RGB frame ``a`` to ``b`` ((1, 3, H, W) in [0, 1]), (1, 2, H, W)."""
        return self.gray(to_gray(a), to_gray(b))


def flow_pairs(frames: Tensor, preset: str = "medium") -> Iterator[FlowPair]:
    """For t = 1 .. T-1: the flow from frame t-1 to frame t and its non-occluded mask.

    The flow is computed both ways and checked forward-backward
    (:func:`~fastnst.flow.warp.non_occluded`), as Lai et al. 2018 do with their flow.

    Args:
        frames: (T, 3, H, W) RGB in [0, 1].
        preset: DIS preset (:class:`DISFlow`).
    """
    dis = DISFlow(preset)
    gray = [to_gray(frame) for frame in frames]
    for prev, cur in zip(gray[:-1], gray[1:], strict=True):
        forward, backward = dis.gray(prev, cur), dis.gray(cur, prev)
        yield FlowPair(forward, non_occluded(forward, backward))
