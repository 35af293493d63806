"""The warping error of Lai et al. 2018: zero for exact warps, hand-computed values, DIS flows."""

from __future__ import annotations

import pytest
import torch
from test_flow import texture

from fastnst.errors import FastNSTError
from fastnst.flow import FlowPair, warp
from fastnst.flow.synthetic import camera_clip, random_smooth_flow
from fastnst.video_metrics import known_pairs, pair_warping_error, warping_error, warping_errors


def exact_warp_sequence(frames: int = 5, size: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    """Frames built backwards, frame t-1 = warp(frame t, f_t), with random smooth flows f_t."""
    generator = torch.Generator().manual_seed(0)
    flows = random_smooth_flow(frames - 1, size, size, sigma=2.0, max_shift=3.0,
                               generator=generator)  # fmt: skip
    sequence = [texture(size, size, seed=1)]
    for flow in flows.flip(0):
        sequence.insert(0, warp(sequence[0], flow[None]))
    return torch.cat(sequence), flows


def test_warping_error_is_zero_for_frames_that_are_exact_warps() -> None:
    frames, flows = exact_warp_sequence()
    pairs = known_pairs(flows)
    assert all(pair.mask.float().mean() > 0.5 for pair in pairs)  # most pixels are scored
    assert warping_error(frames, pairs) < 1e-10
    assert warping_error(frames, known_pairs(torch.zeros_like(flows))) > 1e-3  # motion is real


def test_warping_error_by_hand() -> None:
    prev = torch.zeros(1, 3, 4, 6)
    cur = torch.full((1, 3, 4, 6), 0.1)
    cur[..., 3:] = 0.5  # right half differs more
    mask = torch.zeros(1, 1, 4, 6, dtype=torch.bool)
    mask[..., :3] = True
    pair = FlowPair(torch.zeros(1, 2, 4, 6), mask)
    # sum over RGB of 0.1^2 on every masked pixel, divided by the number of masked pixels
    assert float(pair_warping_error(prev, cur, pair)) == pytest.approx(3 * 0.01)
    frames = torch.cat([prev, cur, cur])
    assert warping_errors(frames, [pair, pair]) == pytest.approx([0.03, 0.0])
    assert warping_error(frames, [pair, pair]) == pytest.approx(0.015)
    nothing = FlowPair(pair.flow, torch.zeros_like(mask))
    assert float(pair_warping_error(prev, cur, nothing)) == 0.0


def test_flicker_raises_the_warping_error_by_the_noise_variance() -> None:
    frames, flows = exact_warp_sequence(frames=6, size=48)
    noise = torch.randn(frames.shape, generator=torch.Generator().manual_seed(2)) * 0.05
    error = warping_error(frames + noise, known_pairs(flows))
    # independent noise on both frames: 3 channels x 2 x 0.05^2 (warping smooths it a little)
    assert 0.6 * 0.015 < error < 1.05 * 0.015


def test_mismatched_frames_and_flows_are_user_errors() -> None:
    frames, flows = exact_warp_sequence()
    with pytest.raises(FastNSTError, match="5 frames need 4 flows, got 3"):
        warping_errors(frames, known_pairs(flows[:3]))
    with pytest.raises(FastNSTError, match="frames of"):
        warping_errors(frames[..., :20], known_pairs(flows))


def test_dis_flow_pairs_score_a_filmed_still_near_its_known_flow_floor() -> None:
    pytest.importorskip("cv2")
    from fastnst.flow.dis import flow_pairs

    image = texture(121, 161, seed=3, cells=20)
    frames, flows = camera_clip(image, 5, (72, 96), shift=(1.5, -0.5), zoom=0.98)
    pairs = list(flow_pairs(frames, "medium"))
    assert len(pairs) == 4 and pairs[0].flow.shape == (1, 2, 72, 96)
    assert all(pair.mask.float().mean() > 0.7 for pair in pairs)
    estimated, exact = warping_error(frames, pairs), warping_error(frames, known_pairs(flows))
    flicker = frames + torch.randn(frames.shape, generator=torch.Generator().manual_seed(4)) * 0.03
    # the floor, flow and interpolation errors (measured 1.9e-5 exact, 7.8e-5 DIS), far below
    # the error with no motion compensation (2.1e-2)
    assert exact < 1e-4 and estimated < 5e-4
    assert estimated < 0.05 * warping_error(frames, known_pairs(torch.zeros_like(flows)))
    assert warping_error(flicker, pairs) > 2 * 3 * 0.03**2 * 0.6 > 4 * estimated
