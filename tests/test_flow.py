"""Optical flow helpers: warping against known shifts, the occlusion mask, synthetic flows, DIS."""

from __future__ import annotations

import sys

import pytest
import torch
import torch.nn.functional as F

from fastnst.errors import FastNSTError
from fastnst.flow import in_bounds, motion_boundaries, non_occluded, warp
from fastnst.flow.synthetic import camera_clip, random_smooth_flow


def texture(height: int, width: int, seed: int = 0, cells: int = 8) -> torch.Tensor:
    """A smooth random RGB image (1, 3, H, W) in [0, 1]."""
    low = torch.rand(1, 3, cells, cells, generator=torch.Generator().manual_seed(seed))
    image = F.interpolate(low, size=(height, width), mode="bicubic", align_corners=True)
    return image.clamp(0, 1)


def constant_flow(dx: float, dy: float, height: int, width: int, batch: int = 1) -> torch.Tensor:
    return (
        torch.tensor([float(dx), float(dy)])
        .view(1, 2, 1, 1)
        .expand(batch, 2, height, width)
        .clone()
    )


def test_warp_by_an_integer_shift_moves_pixels_exactly() -> None:
    image = torch.rand(2, 3, 20, 24, generator=torch.Generator().manual_seed(1))
    out = warp(image, constant_flow(3, -2, 20, 24, batch=2))
    # out(y, x) = image(y - 2, x + 3) wherever that pixel exists
    torch.testing.assert_close(out[:, :, 2:, :-3], image[:, :, :-2, 3:], atol=1e-5, rtol=0)
    mask = in_bounds(constant_flow(3, -2, 20, 24))
    assert mask.shape == (1, 1, 20, 24)
    assert mask[0, 0, 2:, :-3].all() and mask.sum() == 18 * 21


def test_warp_by_a_fractional_shift_interpolates_linearly() -> None:
    image = torch.rand(1, 3, 10, 12, generator=torch.Generator().manual_seed(2))
    out = warp(image, constant_flow(0.25, 0.0, 10, 12))
    expected = 0.75 * image[..., :-1] + 0.25 * image[..., 1:]
    torch.testing.assert_close(out[..., :-1], expected, atol=1e-5, rtol=0)


def test_smooth_flow_with_no_noise_is_its_global_shift_and_warps_like_it() -> None:
    generator = torch.Generator().manual_seed(3)
    flow = random_smooth_flow(4, 24, 32, sigma=0.0, max_shift=5.0, generator=generator)
    shift = flow[:, :, :1, :1]  # (4, 2, 1, 1)
    assert torch.equal(flow, shift.expand_as(flow)) and shift.abs().max() <= 5.0
    assert shift.abs().max() > 1.0  # really shifted
    image = texture(24, 32).expand(4, -1, -1, -1)
    for k in range(4):
        dx, dy = shift[k, :, 0, 0].tolist()
        expected = warp(image[k : k + 1], constant_flow(dx, dy, 24, 32))
        torch.testing.assert_close(warp(image[k : k + 1], flow[k : k + 1]), expected)
    integer = random_smooth_flow(1, 24, 32, sigma=0.0, max_shift=0.0)
    torch.testing.assert_close(
        warp(image[:1], integer + constant_flow(2, 1, 24, 32)),
        F.pad(image[:1, :, 1:, 2:], [0, 2, 0, 1], mode="replicate"),
    )


def test_smooth_flow_is_smooth_random_and_seeded() -> None:
    make = lambda seed: random_smooth_flow(  # noqa: E731
        8, 64, 64, sigma=8.0, max_shift=0.0, generator=torch.Generator().manual_seed(seed)
    )
    flow = make(0)
    assert torch.equal(flow, make(0)) and not torch.equal(flow, make(1))
    assert 1.0 < flow.std() < 8.0  # blurred Gaussian values of sigma 8
    step = (flow[..., 1:] - flow[..., :-1]).abs().max()
    assert step < 0.1 * flow.abs().max()  # neighbours move together
    assert not motion_boundaries(constant_flow(3.5, -1.0, 16, 16)).any()
    assert motion_boundaries(flow).float().mean() < 0.5  # Lai et al.'s threshold is strict


def test_non_occluded_flags_what_a_moving_square_covers() -> None:
    h, w = 32, 32
    forward, backward = torch.zeros(1, 2, h, w), torch.zeros(1, 2, h, w)
    forward[0, 0, 10:20, 8:16] = 4.0  # a square at x 8..15 of frame a moves 4 px right
    backward[0, 0, 10:20, 12:20] = -4.0  # ... to x 12..19 of frame b
    mask = non_occluded(forward, backward)[0, 0]
    assert not mask[12:18, 16:20].any()  # background of a that the square covers in b
    assert not mask[10:20, 15:17].any()  # the motion boundary
    assert mask[12:18, 10:14].all()  # inside the square: consistent
    assert mask[:, 26:].all() and mask[:6].all()  # static background far away
    shift = constant_flow(2, 0, h, w)
    assert torch.equal(non_occluded(shift, -shift), in_bounds(shift))


def test_camera_clip_flow_is_the_true_motion() -> None:
    image = texture(81, 101, seed=4)
    frames, flows = camera_clip(image, 4, (40, 60), shift=(2.0, -1.0))  # integer pan: exact
    assert frames.shape == (4, 3, 40, 60) and flows.shape == (3, 2, 40, 60)
    for t in range(1, 4):
        back = warp(frames[t : t + 1], flows[t - 1 : t])
        inside = in_bounds(flows[t - 1 : t]).expand_as(back)
        assert inside.float().mean() > 0.9
        torch.testing.assert_close(back[inside], frames[t - 1 : t][inside], atol=1e-5, rtol=0)
    frames, flows = camera_clip(texture(81, 101, 4, cells=16), 4, (40, 60), shift=(1.3, 0.4),
                                zoom=0.97)  # fmt: skip
    inside = in_bounds(flows).expand(-1, 3, -1, -1)
    still = (frames[1:] - frames[:-1])[inside].square().mean()
    pan_only = warp(frames[1:], flows.mean((2, 3), keepdim=True).expand_as(flows)) - frames[:-1]
    moved = (warp(frames[1:], flows) - frames[:-1])[inside].square().mean()
    assert pan_only[inside].square().mean() < 0.5 * still  # the zoom matters ...
    assert moved < 0.05 * pan_only[inside].square().mean()  # ... and the flow has it: only
    # interpolation error is left (measured 1.2e-5 vs 1.5e-3 pan only and 7.5e-3 no warp)


def test_dis_flow_recovers_a_shift() -> None:
    pytest.importorskip("cv2")
    from fastnst.flow.dis import DISFlow

    image = texture(90, 110, seed=5, cells=16)
    a, b = image[..., 5:75, 5:95], image[..., 8:78, 2:92]  # a(p) = b(p + (3, -3))
    flow = DISFlow("medium")(a, b)
    assert flow.shape == (1, 2, 70, 90)
    interior = flow[0, :, 15:-15, 15:-15].mean(dim=(1, 2))
    torch.testing.assert_close(interior, torch.tensor([3.0, -3.0]), atol=0.3, rtol=0)
    with pytest.raises(FastNSTError, match="unknown flow preset"):
        DISFlow("slow")


def test_missing_opencv_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from fastnst.flow import dis

    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(FastNSTError, match=r"pip install 'fastnst\[video\]'"):
        dis.DISFlow()
