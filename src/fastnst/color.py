"""Colour spaces and colour preservation (Gatys et al. 2017, "Controlling Perceptual Factors").

YIQ (NTSC 1953) splits RGB into luminance Y and chroma I, Q:

    [Y]   [0.299     0.587     0.114   ] [R]
    [I] = [0.595716 -0.274453 -0.321263] [G]
    [Q]   [0.211456 -0.522591  0.311135] [B]

Luminance-only transfer (Gatys et al. 2017, sec. 5.1): stylize the luminance, then recombine it
with the content's I and Q. The style's luminance is first matched to the content's mean and std,
Y_s' = (sigma_c / sigma_s) (Y_s - mu_s) + mu_c, so the style's brightness does not leak in.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

_RGB_TO_YIQ = torch.tensor(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]]
)


def rgb_to_yiq(image: Tensor) -> Tensor:
    """(N, 3, H, W) RGB -> (N, 3, H, W) YIQ."""
    matrix = _RGB_TO_YIQ.to(image.device, image.dtype)
    return torch.einsum("ij,njhw->nihw", matrix, image)


def yiq_to_rgb(image: Tensor) -> Tensor:
    """(N, 3, H, W) YIQ -> (N, 3, H, W) RGB (exact inverse of :func:`rgb_to_yiq`)."""
    matrix = torch.linalg.inv(_RGB_TO_YIQ.double()).to(image.device, image.dtype)
    return torch.einsum("ij,njhw->nihw", matrix, image)


def luminance(image: Tensor) -> Tensor:
    """Y of YIQ, (N, 1, H, W)."""
    return rgb_to_yiq(image)[:, :1]


def match_luminance(style: Tensor, content: Tensor, eps: float = 1e-6) -> Tensor:
    """The style's luminance, grey RGB, with the content's luminance mean and std (per image).

    Returns (N, 3, H_s, W_s): Y_s' = (sigma_c / sigma_s) (Y_s - mu_s) + mu_c repeated on RGB.
    """
    y_s, y_c = luminance(style), luminance(content)
    mu_s, sigma_s = y_s.mean(dim=(2, 3), keepdim=True), y_s.std(dim=(2, 3), keepdim=True)
    mu_c, sigma_c = y_c.mean(dim=(2, 3), keepdim=True), y_c.std(dim=(2, 3), keepdim=True)
    return ((y_s - mu_s) * sigma_c / (sigma_s + eps) + mu_c).expand(-1, 3, -1, -1)


def transfer_luminance(stylized: Tensor, content: Tensor) -> Tensor:
    """Y of ``stylized`` with I, Q of ``content`` (resized to the stylized size), back in RGB."""
    if content.shape[-2:] != stylized.shape[-2:]:
        content = F.interpolate(content, size=stylized.shape[-2:], mode="bilinear", antialias=True)
    y = luminance(stylized)
    iq = rgb_to_yiq(content)[:, 1:]
    return yiq_to_rgb(torch.cat([y, iq], dim=1)).clamp(0, 1)


def match_histograms(source: Tensor, reference: Tensor) -> Tensor:
    """Per-channel histogram matching of ``source`` to ``reference`` (exact, by sorting).

    Each channel's values are replaced by the reference's values of equal rank, interpolated
    over ranks when the sizes differ, so the output has the reference's per-channel distribution.

    Shape:
        source: (N, C, H, W). reference: (N or 1, C, H', W') of any size.
    """
    n, c, h, w = source.shape
    src = source.reshape(n, c, h * w)
    ref = reference.expand(n, -1, -1, -1).reshape(n, c, -1).sort(dim=-1).values  # (N, C, M)
    ranks = src.argsort(dim=-1).argsort(dim=-1).to(ref.dtype)  # rank of every source pixel
    position = ranks * (ref.shape[-1] - 1) / max(h * w - 1, 1)
    low = position.floor().long()
    high = (low + 1).clamp(max=ref.shape[-1] - 1)
    frac = position - low
    matched = ref.gather(-1, low) * (1 - frac) + ref.gather(-1, high) * frac
    return matched.reshape(n, c, h, w)
