"""Stylize images too large for memory in overlapping tiles, with shared instance-norm statistics.

Instance norm (Ulyanov et al. 2016) normalizes every feature map by its own spatial statistics,

    IN(x)_c = gamma_c (x_c - mu_c) / sqrt(sigma_c^2 + eps) + beta_c,

so a tile stylized on its own gets different mu, sigma than the same pixels inside the whole
image: tiles come out with different brightness and contrast and the seams show. Here the
statistics of every instance norm layer are recorded once, on the whole image downscaled to
``stats_size`` px on its long side, and every tile is normalized with those (the layers' public
``track_running_stats`` eval path: ``running_mean`` / ``running_var`` are set for the duration of
the call, then removed again, so the model's ``state_dict`` never changes). Tiles overlap by
``overlap`` px and are blended with weights that ramp linearly to the tile borders:

    out(p) = sum_t w_t(p) y_t(p) / sum_t w_t(p).

Memory is bounded by one tile's activations plus a 3 x H x W float accumulator.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

NormStats = dict[nn.InstanceNorm2d, tuple[Tensor, Tensor]]


def instance_norms(model: nn.Module) -> list[nn.InstanceNorm2d]:
    """Every ``InstanceNorm2d`` of ``model`` in forward order."""
    return [m for m in model.modules() if isinstance(m, nn.InstanceNorm2d)]


def _run(model: nn.Module, image: Tensor, style: Tensor | None) -> Tensor:
    return model(image) if style is None else model(image, style)


@torch.no_grad()
def record_norm_stats(model: nn.Module, image: Tensor, style: Tensor | None = None) -> NormStats:
    """Run ``model`` on ``image`` (1, 3, H, W) (in style ``style``, for a multi-style network)
    and return each instance norm's input mean and biased variance per channel, each (C,).

    A conditional instance norm normalizes with an inner ``nn.InstanceNorm2d`` before its
    per-style scale and shift, so its statistics are recorded and shared like any other's."""
    stats: NormStats = {}

    def hook(module: nn.Module, inputs: tuple[Tensor, ...]) -> None:
        x = inputs[0].float()
        stats[module] = (x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=False))

    handles = [norm.register_forward_pre_hook(hook) for norm in instance_norms(model)]
    try:
        _run(model, image, style)
    finally:
        for handle in handles:
            handle.remove()
    return stats


@contextlib.contextmanager
def frozen_norm_stats(model: nn.Module, stats: NormStats) -> Iterator[None]:
    """Within the block, every instance norm of ``model`` (in eval mode) uses ``stats``."""
    if model.training:
        raise ValueError("frozen_norm_stats needs the model in eval mode")
    norms = instance_norms(model)
    try:
        for norm in norms:
            mean, var = stats[norm]
            norm.track_running_stats = True
            norm.running_mean, norm.running_var = mean, var
        yield
    finally:
        for norm in norms:
            norm.track_running_stats = False
            norm.running_mean = norm.running_var = None


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of ``tile`` px covering ``length`` px, overlapping >= ``overlap``."""
    if tile >= length:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step))
    return [*starts, length - tile]


def ramp(length: int, overlap: int) -> Tensor:
    """1-D blending weights (length,): min(i + 1, length - i) / (overlap + 1), capped at 1."""
    i = torch.arange(length, dtype=torch.float32)
    return (torch.minimum(i + 1, length - i) / (overlap + 1)).clamp(max=1.0)


@torch.no_grad()
def stylize_tiled(
    model: nn.Module,
    image: Tensor,
    *,
    tile: int = 512,
    overlap: int = 64,
    stats_size: int = 1024,
    device: torch.device | str = "cpu",
    style: Tensor | None = None,
) -> Tensor:
    """Stylize a (1, 3, H, W) CPU image tile by tile with shared instance-norm statistics.

    Args:
        model: The transform network, in eval mode, already on ``device``.
        image: Content in [0, 1] on the CPU.
        tile: Tile side in px (before overlap is counted; tiles are ``tile`` px square).
        overlap: Overlap between neighbouring tiles in px, blended linearly.
        stats_size: Long side of the downscaled whole image that the statistics come from;
            an image no larger than this gives the statistics of the untiled run exactly.
        device: Where the model runs; the accumulators stay on the CPU.
        style: The (S,) style weights of a multi-style network, passed as ``model(x, style)``.

    Returns:
        The stylized (1, 3, H, W) image on the CPU, unclamped.
    """
    if image.dim() != 4 or image.shape[0] != 1:
        raise ValueError(f"stylize_tiled takes one image (1, 3, H, W), got {tuple(image.shape)}")
    if not 0 <= overlap < tile:
        raise ValueError(f"tile_overlap must be in [0, tile), got {overlap} with tile={tile}")
    h, w = image.shape[-2:]
    scale = min(1.0, stats_size / max(h, w))
    small = image
    if scale < 1.0:
        size = (max(8, round(h * scale)), max(8, round(w * scale)))
        small = F.interpolate(image, size=size, mode="bilinear", antialias=True)
    dtype = next(model.parameters()).dtype
    style = None if style is None else style.to(device)
    stats = record_norm_stats(model, small.to(device, dtype), style)
    out = torch.zeros(1, 3, h, w)
    tops, lefts = tile_starts(h, tile, overlap), tile_starts(w, tile, overlap)
    with frozen_norm_stats(model, stats):
        for top in tops:
            for left in lefts:
                crop = image[..., top : top + tile, left : left + tile]
                y = _run(model, crop.to(device, dtype), style).float().cpu()
                weight = ramp(y.shape[-2], overlap)[:, None] * ramp(y.shape[-1], overlap)[None]
                out[..., top : top + y.shape[-2], left : left + y.shape[-1]] += y * weight
    # The tiles form a grid, so sum_t w_t(i, j) = R(i) C(j): two vectors, not an H x W plane.
    return out.div_(_weight_sums(h, tops, tile, overlap)[:, None]).div_(
        _weight_sums(w, lefts, tile, overlap)
    )


def _weight_sums(length: int, starts: list[int], tile: int, overlap: int) -> Tensor:
    """sum over tiles of their 1-D ramps at every position, (length,)."""
    total = torch.zeros(length)
    for start in starts:
        size = min(tile, length - start)
        total[start : start + size] += ramp(size, overlap)
    return total
