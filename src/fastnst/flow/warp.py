"""Backward warping with ``grid_sample`` and the occlusion mask of the forward-backward check."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor


class FlowPair(NamedTuple):
    """The flow from frame a to frame b, (1, 2, H, W) on a's grid, and where it is reliable,
    (1, 1, H, W) bool: what the warping error needs of each consecutive pair of an input clip."""

    flow: Tensor
    mask: Tensor


def _sample_points(flow: Tensor) -> tuple[Tensor, Tensor]:
    """Absolute sample coordinates ``p + f(p)``: x and y, each (N, H, W), in pixels."""
    _, _, h, w = flow.shape
    ys = torch.arange(h, dtype=flow.dtype, device=flow.device).view(1, h, 1)
    xs = torch.arange(w, dtype=flow.dtype, device=flow.device).view(1, 1, w)
    return xs + flow[:, 0], ys + flow[:, 1]


def warp(image: Tensor, flow: Tensor, padding_mode: str = "border") -> Tensor:
    """Backward warp: ``out(p) = image(p + flow(p))``, bilinear.

    Pixel centres sit on integer coordinates (``align_corners=True``), so an integer flow moves
    pixels exactly. Samples outside the frame take the border value (or zero with
    ``padding_mode="zeros"``); :func:`in_bounds` says where that happened.

    Args:
        image: (N, C, H, W), any channels (images, flows).
        flow: (N, 2, H, W) in pixels, x then y, on the output's grid.
        padding_mode: ``"border"``, ``"zeros"`` or ``"reflection"`` (``grid_sample``'s).

    Returns:
        (N, C, H, W), the dtype of ``image``.
    """
    _, _, h, w = image.shape
    x, y = _sample_points(flow.to(image.dtype))
    grid = torch.stack((2 * x / max(w - 1, 1) - 1, 2 * y / max(h - 1, 1) - 1), dim=-1)
    return F.grid_sample(
        image, grid, mode="bilinear", padding_mode=padding_mode, align_corners=True
    )


def in_bounds(flow: Tensor) -> Tensor:
    """(N, 1, H, W) bool: where ``p + flow(p)`` lies inside the frame (``warp`` is defined)."""
    _, _, h, w = flow.shape
    x, y = _sample_points(flow)
    return ((x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)).unsqueeze(1)


def motion_boundaries(flow: Tensor) -> Tensor:
    """(N, 1, H, W) bool: ``|grad f|^2 > 0.01 |f|^2 + 0.002`` (Ruder et al. 2016; Lai et al. 2018).

    Central differences (one-sided at the border), as ``numpy.gradient`` in Lai et al.'s code.
    """
    du_dy, du_dx = torch.gradient(flow[:, 0], dim=(1, 2))
    dv_dy, dv_dx = torch.gradient(flow[:, 1], dim=(1, 2))
    gradient = du_dx.square() + du_dy.square() + dv_dx.square() + dv_dy.square()
    return (gradient > 0.01 * flow.square().sum(1) + 0.002).unsqueeze(1)


def non_occluded(flow: Tensor, back: Tensor) -> Tensor:
    """(N, 1, H, W) bool: pixels whose flow is reliable, the mask of the warping error.

    ``flow`` maps frame a to frame b (on a's grid: a(p) ~ b(p + flow(p))) and ``back`` maps b
    to a. A pixel p of a is occluded in b when the round trip does not come back,

        |flow(p) + back~(p)|^2 > 0.01 (|flow(p)|^2 + |back~(p)|^2) + 0.5,
        back~ = warp(back, flow)   (Sundaram et al. 2010; Ruder et al. 2016),

    or when it sits on a motion boundary of ``flow`` (:func:`motion_boundaries`). The thresholds
    are Lai et al. 2018's (``detect_occlusion`` of their evaluation code, which is called with the
    flow used for warping as its second argument, as here). Ours also drops pixels whose flow
    leaves the frame (:func:`in_bounds`), where a warp has nothing to compare.
    """
    back_at = warp(back, flow)
    round_trip = (flow + back_at).square().sum(1, keepdim=True)
    scale = flow.square().sum(1, keepdim=True) + back_at.square().sum(1, keepdim=True)
    occluded = (round_trip > 0.01 * scale + 0.5) | motion_boundaries(flow)
    return ~occluded & in_bounds(flow)
