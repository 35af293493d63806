"""Optical flow: backward warping and the occlusion mask (pure PyTorch), synthetic smooth
flows for training, OpenCV's DIS flow for real video (an optional dependency), and frame pairs
of real video with their flow, decoded and computed once (``temporal=flow``).

Convention everywhere: a flow is (N, 2, H, W) in pixels, channel 0 the x (column) and channel 1
the y (row) displacement, defined on the grid of the frame it is *used for*: ``warp(b, f)`` is
the frame whose pixel p shows ``b`` at ``p + f(p)``.
"""

from __future__ import annotations

from fastnst.flow.warp import FlowPair, in_bounds, motion_boundaries, non_occluded, warp

__all__ = ["FlowPair", "in_bounds", "motion_boundaries", "non_occluded", "warp"]
