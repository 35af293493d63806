"""Temporal consistency of a stylized clip: the warping error of Lai et al. 2018.

    E_warp = 1 / (T - 1) sum_{t=1}^{T-1} E_t,
    E_t    = sum_p M_t(p) ||W(O_t)(p) - O_{t-1}(p)||^2 / sum_p M_t(p)

with O the output frames in [0, 1], W(O_t) = warp(O_t, f_t) output frame t brought back to
frame t-1 with the flow f_t of the *input* clip (frame t-1 to frame t), and M_t the pixels
where that flow is reliable (:func:`~fastnst.flow.warp.non_occluded`: forward-backward check
and motion boundaries). As in Lai et al.'s evaluation code, ||.||^2 sums the squares over the
three channels and the sum is divided by the number of pixels. The input clip's own warping
error is the floor: what flow and interpolation errors alone give.

Flows come once from the input (:func:`fastnst.flow.dis.flow_pairs` for real video, or known
exactly for synthetic clips, :func:`known_pairs`), and every output of that input is scored
against the same pairs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from fastnst.errors import FastNSTError
from fastnst.flow.warp import FlowPair, in_bounds, warp


def known_pairs(flows: Tensor) -> list[FlowPair]:
    """Exact flows (T - 1, 2, H, W) -> pairs masked only where a flow leaves the frame."""
    return [FlowPair(flow[None], in_bounds(flow[None])) for flow in flows]


def pair_warping_error(prev: Tensor, cur: Tensor, pair: FlowPair) -> Tensor:
    """E_t for one frame pair: ``prev`` and ``cur`` are (1, 3, H, W) or (3, H, W); a 0-dim
    tensor (differentiable), 0 when no pixel is reliable."""
    prev, cur = prev.reshape(1, *prev.shape[-3:]), cur.reshape(1, *cur.shape[-3:])
    flow, mask = pair.flow.to(cur), pair.mask.to(cur.device)
    squared = (warp(cur, flow) - prev).square().sum(1, keepdim=True)  # (1, 1, H, W)
    count = mask.sum()
    return torch.where(mask, squared, 0).sum() / count.clamp(min=1)


def warping_errors(frames: Tensor, pairs: Sequence[FlowPair]) -> list[float]:
    """E_t for t = 1 .. T-1 of ``frames`` (T, 3, H, W) in [0, 1] against the input's ``pairs``.

    Raises:
        FastNSTError: the frame count or size does not match the pairs.
    """
    if len(pairs) != len(frames) - 1:
        raise FastNSTError(f"{len(frames)} frames need {len(frames) - 1} flows, got {len(pairs)}")
    if pairs and pairs[0].flow.shape[-2:] != frames.shape[-2:]:
        size = tuple(pairs[0].flow.shape[-2:])
        raise FastNSTError(f"frames of {tuple(frames.shape[-2:])} px, flows of {size} px")
    with torch.no_grad():
        return [
            float(pair_warping_error(frames[t - 1], frames[t], pairs[t - 1]))
            for t in range(1, len(frames))
        ]


def warping_error(frames: Tensor, pairs: Sequence[FlowPair]) -> float:
    """E_warp of ``frames`` (T, 3, H, W) in [0, 1]: the mean of :func:`warping_errors`."""
    errors = warping_errors(frames, pairs)
    return sum(errors) / len(errors) if errors else 0.0
