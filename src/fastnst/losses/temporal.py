"""Temporal stability losses: teach a per-frame network not to flicker, without video.

A transform network T that flickers answers small input changes (sensor noise, a shift of a
few pixels) with large output changes. Both losses here add a second, slightly changed copy of
the training batch x and penalise the change it causes, weighted by w_t into the total:

    L = L_perceptual(T(x); x, s) + w_t L_temporal

- :class:`NoiseStabilityLoss`: L = mean((T(x + n) - T(x))^2), n ~ N(0, sigma^2) per pixel
  (the stability term of Gupta et al. 2017 and the noise part of Wang et al. 2020).
- :class:`WarpStabilityLoss`: the compound regularization of Wang et al. 2020 ("Consistent
  Video Style Transfer via Compound Regularization", AAAI): x' = W_f(x) + n with W_f a warp by
  a random smooth flow f (:func:`~fastnst.flow.synthetic.random_smooth_flow`), and
  L = sum_p M(p) ||W_f(T(x))(p) - T(x')(p)||^2 / (3 sum_p M(p)), M the pixels whose flow stays
  in the frame. Stylizing must commute with the motion. Ruder et al. 2018 train on shifted and
  zoomed stills with exactly known flow the same way.

Both terms are mean squared errors of [0, 1] images (per channel, so 1/3 of the warping error
of :mod:`fastnst.video_metrics`, which sums channels), and gradients flow through both
outputs, as in Wang et al. Only the transform network runs twice; the loss network is not
involved, so the extra cost is one forward and backward pass of T per step.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fastnst.flow.synthetic import random_smooth_flow
from fastnst.flow.warp import in_bounds, warp


def masked_mse(a: Tensor, b: Tensor, mask: Tensor) -> Tensor:
    """mean over the pixels where ``mask`` (N, 1, H, W) holds, and over channels, of (a - b)^2."""
    squared = (a - b).square() * mask
    return squared.sum() / (mask.sum() * a.shape[1]).clamp(min=1)


class NoiseStabilityLoss(nn.Module):
    """mean((T(x + n) - T(x))^2) with Gaussian pixel noise n of std ``noise_std``.

    Args:
        weight: w_t, the weight of this term in the total loss.
        noise_std: sigma on [0, 1] images; a few /255 (default 4/255).
    """

    def __init__(self, weight: float = 30.0, noise_std: float = 4 / 255) -> None:
        super().__init__()
        self.weight = float(weight)
        self.noise_std = float(noise_std)

    def forward(
        self, transformer: nn.Module, content: Tensor, output: Tensor, style: Tensor | None = None
    ) -> Tensor:
        """The unweighted term for the batch ``content`` (B, 3, H, W) and its ``output``."""
        noisy = (content + self.noise_std * torch.randn_like(content)).clamp(0, 1)
        return (transformer(noisy, style) - output).float().square().mean()


class WarpStabilityLoss(nn.Module):
    """Wang et al. 2020's compound regularization: W_f(T(x)) should equal T(W_f(x) + n).

    Args:
        weight: w_t, the weight of this term in the total loss (Wang et al. use about 60 in
            their loss scale, which is not ours: sweep it).
        sigma: Std of the random flow values on the coarse grid, px.
        cell: Pixels per coarse grid cell (Wang et al.: H/100 x W/100 points, so 100).
        max_shift: Largest global shift per axis, px (Wang et al.: 10).
        noise_std: Std of the Gaussian noise added to the warped frame, on [0, 1] images
            (Wang et al.: 0.001 to 0.002; ours defaults a little higher, 2/255, to also teach
            stability to noise).
    """

    def __init__(
        self, weight: float = 30.0, *, sigma: float = 8.0, cell: int = 100,
        max_shift: float = 10.0, noise_std: float = 2 / 255,
    ) -> None:  # fmt: skip
        super().__init__()
        self.weight = float(weight)
        self.sigma, self.cell, self.max_shift = float(sigma), int(cell), float(max_shift)
        self.noise_std = float(noise_std)

    def second_frame(self, content: Tensor) -> tuple[Tensor, Tensor]:
        """A random smooth flow f (B, 2, H, W) and the frame W_f(x) + n, clamped to [0, 1]."""
        b, _, h, w = content.shape
        flow = random_smooth_flow(b, h, w, sigma=self.sigma, cell=self.cell,
                                  max_shift=self.max_shift).to(content)  # fmt: skip
        moved = warp(content, flow) + self.noise_std * torch.randn_like(content)
        return flow, moved.clamp(0, 1)

    def forward(
        self, transformer: nn.Module, content: Tensor, output: Tensor, style: Tensor | None = None
    ) -> Tensor:
        """The unweighted term for the batch ``content`` (B, 3, H, W) and its ``output``."""
        flow, second = self.second_frame(content)
        moved_output = warp(output.float(), flow.float())
        return masked_mse(moved_output, transformer(second, style).float(), in_bounds(flow))
