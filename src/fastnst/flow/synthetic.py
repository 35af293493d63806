"""Flows known exactly: random smooth flows for training, and camera moves over a still photo.

Both make frame pairs whose true optical flow is known, so temporal consistency can be trained
without video (Wang et al. 2020; Ruder et al. 2018) and measured without a flow estimator.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def random_smooth_flow(
    batch: int, height: int, width: int, *, sigma: float = 8.0, cell: int = 100,
    max_shift: float = 10.0, generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> Tensor:  # fmt: skip
    """Random smooth flows, (batch, 2, height, width) in pixels (Wang et al. 2020, sec. 3.2).

    Gaussian values of standard deviation ``sigma`` on a coarse grid of about
    (height / cell) x (width / cell) points (at least 2 x 2), upsampled bilinearly to full size
    and box-blurred (a kernel of a quarter of the short side, so the bilinear kinks go), plus one
    global shift per sample drawn uniformly from [-max_shift, max_shift] on each axis. Wang et
    al. use a grid of H/100 x W/100, sigma about 8 px and shifts up to 10 px.
    """
    rows, cols = max(2, round(height / cell)), max(2, round(width / cell))
    coarse = torch.randn(batch, 2, rows, cols, generator=generator) * sigma
    flow = F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=True)
    k = max(1, min(height, width) // 8) * 2 + 1
    flow = F.avg_pool2d(F.pad(flow, [k // 2] * 4, mode="replicate"), k, stride=1)
    shift = (torch.rand(batch, 2, 1, 1, generator=generator) * 2 - 1) * max_shift
    return (flow + shift).to(device)


def camera_clip(
    image: Tensor, frames: int, size: tuple[int, int], *, shift: tuple[float, float] = (1.5, 0.5),
    zoom: float = 1.0,
) -> tuple[Tensor, Tensor]:  # fmt: skip
    """A still photo filmed by a panning and zooming camera, with its exact optical flow.

    Frame t shows ``image`` at X_t(p) = c_img + z^t (p - c_out) + t * shift (c the centres,
    bilinear sampling), so the flow from frame t-1 to frame t is

        f_t(p) = (z^(t-1) / z^t - 1)(p - c_out) - shift / z^t

    exactly (frame_t(p + f_t(p)) = frame_(t-1)(p) in the continuum; resampling adds a small
    interpolation error, the floor of the warping error). Ruder et al. 2018 train on such
    shifted and zoomed stills; here they are the test sequences with known flow.

    Args:
        image: (1, 3, H, W) in [0, 1], larger than ``size`` plus the camera path.
        frames: T.
        size: (h, w) of the frames.
        shift: Camera motion per frame (x, y) in pixels of ``image``.
        zoom: z, the image area seen shrinks by z per frame (z < 1 zooms in).

    Returns:
        Frames (T, 3, h, w) and flows (T - 1, 2, h, w), flow t-1 mapping frame t-1 to frame t.
    """
    _, _, big_h, big_w = image.shape
    h, w = size
    ys = torch.arange(h, dtype=torch.float32).view(h, 1) - (h - 1) / 2
    xs = torch.arange(w, dtype=torch.float32).view(1, w) - (w - 1) / 2
    shots, flows = [], []
    for t in range(frames):
        scale = zoom**t
        x = (big_w - 1) / 2 + scale * xs + t * shift[0]
        y = (big_h - 1) / 2 + scale * ys + t * shift[1]
        x, y = x.expand(h, w), y.expand(h, w)
        grid = torch.stack((2 * x / (big_w - 1) - 1, 2 * y / (big_h - 1) - 1), dim=-1)[None]
        shots.append(F.grid_sample(image, grid, mode="bilinear", align_corners=True))
        if t:
            ratio = zoom ** (t - 1) / scale
            fx = (ratio - 1) * xs - shift[0] / scale
            fy = (ratio - 1) * ys - shift[1] / scale
            flows.append(torch.stack((fx.expand(h, w), fy.expand(h, w))))
    return torch.cat(shots), torch.stack(flows)
