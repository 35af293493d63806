"""Temporal stability losses: teach a per-frame network not to flicker.

A transform network T that flickers answers small input changes (sensor noise, a shift of a
few pixels) with large output changes. The first two losses here need no video: they add a
second, slightly changed copy of the training batch x and penalise the change it causes; the
third fine-tunes on consecutive frames of real video. Each is weighted by w_t into the total:

    L = L_perceptual(T(x); x, s) + w_t L_temporal

- :class:`NoiseStabilityLoss`: L = mean((T(x + n) - T(x))^2), n ~ N(0, sigma^2) per pixel
  (the stability term of Gupta et al. 2017 and the noise part of Wang et al. 2020).
- :class:`WarpStabilityLoss`: the compound regularization of Wang et al. 2020 ("Consistent
  Video Style Transfer via Compound Regularization", AAAI): x' = W_f(x) + n with W_f a warp by
  a random smooth flow f (:func:`~fastnst.flow.synthetic.random_smooth_flow`), and
  L = sum_p M(p) ||W_f(T(x))(p) - T(x')(p)||^2 / (3 sum_p M(p)), M the pixels whose flow stays
  in the frame. Stylizing must commute with the motion. Ruder et al. 2018 train on shifted and
  zoomed stills with exactly known flow the same way.
- :class:`FlowTemporalLoss`: the short-term temporal loss of Ruder et al. 2016 ("Artistic style
  transfer for videos", GCPR) and 2018 (IJCV), here on a per-frame network: consecutive frames
  (x_t, x_t+1) of real video, the DIS flow f from x_t to x_t+1 on x_t's grid and its reliable
  pixels M (forward-backward check and motion boundaries, the mask of the warping error),
  all computed once (:class:`~fastnst.flow.frame_pairs.FramePairs`), and
  L = sum_p M(p) ||W_f(T(x_t+1))(p) - T(x_t)(p)||^2 / (3 sum_p M(p)), W_f(y)(p) = y(p + f(p)):
  the output of frame t+1 brought back to frame t along the input's flow, exactly the
  direction of the warping error of :mod:`fastnst.video_metrics` (and of ``warp`` above, whose
  second frame plays x_t). The pairs are a batch of their own, drawn at random each step.

All three terms are mean squared errors of [0, 1] images (per channel, so 1/3 of the warping error
of :mod:`fastnst.video_metrics`, which sums channels), and gradients flow through both
outputs, as in Wang et al. The loss network is not involved: ``noise`` and ``warp`` cost one
more forward and backward pass of T per step, ``flow`` two (on its own batch of pairs).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fastnst.errors import FastNSTError
from fastnst.flow.frame_pairs import FramePairs
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


class FlowTemporalLoss(nn.Module):
    """Ruder et al.'s temporal loss on consecutive frames of real video: W_f(T(x_t+1)) should
    equal T(x_t) where the input's flow f is reliable (see the module docstring).

    Each call draws its own batch of ``pairs_per_step`` frame pairs (default: the content
    batch's size), random crops of ``crop`` px, moves them to the content's device and returns
    the term; ``content`` and ``output`` are not used. A multi-style network gets the batch's
    ``style`` (indices or weights), repeated or cut to the pairs' count, for both frames.

    Args:
        weight: w_t, the weight of this term in the total loss.
        frames: A video file or a folder of frames, or a list of them (``temporal.frames``).
        size: Short side the frames are decoded at, px (default in the config: the training
            size ``data.image_size``).
        crop: Side of the square crops of a pair, px; ``None``: the smallest clip's short side.
        pairs_per_step: Frame pairs per step; ``None``: the content batch's size.
        preset: DIS preset of the flow, ``ultrafast``, ``fast`` or ``medium``.
        start: First frame of every clip used (0-based): train on frames the score does not use.
        stop: One past the last frame; ``None``: to the end.
        cache_dir: Where frames, flows and masks of each clip are cached; ``None``: memory only.

    Raises:
        FastNSTError: ``frames`` missing or unreadable, or OpenCV missing (
            :class:`~fastnst.flow.frame_pairs.FramePairs`).
    """

    def __init__(
        self, weight: float = 30.0, *, frames: str | list[str] | None = None, size: int = 256,
        crop: int | None = None, pairs_per_step: int | None = None, preset: str = "medium",
        start: int = 0, stop: int | None = None, cache_dir: str | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        self.weight = float(weight)
        self.crop = None if crop is None else int(crop)
        self.pairs_per_step = None if pairs_per_step is None else int(pairs_per_step)
        if self.pairs_per_step is not None and self.pairs_per_step < 1:
            raise FastNSTError(f"temporal.pairs_per_step={pairs_per_step}; use null or >= 1")
        self.pairs = FramePairs(frames, size=size, preset=preset, start=start, stop=stop,
                                cache_dir=cache_dir)  # fmt: skip

    def forward(
        self, transformer: nn.Module, content: Tensor, output: Tensor, style: Tensor | None = None
    ) -> Tensor:
        """The unweighted term on a fresh random batch of frame pairs."""
        count = self.pairs_per_step or content.shape[0]
        first, second, flow, mask = self.pairs.sample(count, self.crop)
        layout = (torch.channels_last if content.dim() == 4 and not content.is_contiguous()
                  and content.is_contiguous(memory_format=torch.channels_last)
                  else torch.contiguous_format)  # fmt: skip
        both = torch.cat([first, second]).to(content.device, content.dtype)
        both = both.contiguous(memory_format=layout)
        if style is not None:
            chosen = style[torch.arange(count, device=style.device) % len(style)]
            style = torch.cat([chosen, chosen])
        styled_first, styled_second = transformer(both, style).float().chunk(2)
        flow, mask = flow.to(content.device), mask.to(content.device)
        return masked_mse(warp(styled_second, flow), styled_first, mask)
