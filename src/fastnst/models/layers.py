"""Conditional instance norm (Dumoulin, Shlens & Kudlur 2017) and the style-weight argument.

    CIN(x, w)_bc = gamma_b,c (x_bc - mu_bc) / sqrt(sigma_bc^2 + eps) + beta_b,c
    gamma_b = w_b @ Gamma,  beta_b = w_b @ Beta      (Gamma, Beta: (S, C); w: (B, S))

Dumoulin, Shlens & Kudlur, "A Learned Representation for Artistic Style", ICLR 2017. A one-hot
w_b selects one painting's scale and shift (how each style is trained); a convex mixture blends
styles at inference (their sec. 4.2: interpolating gamma and beta interpolates the styles).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fastnst.errors import FastNSTError


def style_weights(style: Tensor | None, num_styles: int, batch: int) -> Tensor | None:
    """The ``style`` argument of a transform network as (B, S) float weights.

    Args:
        style: ``None`` (only with one style), a (B,) integer tensor of style indices (one-hot
            rows), an (S,) float vector (the same weights for every sample), or (B, S) floats.
        num_styles: S, the number of styles of the network.
        batch: B, the number of images.

    Returns:
        (B, S) weights, (1, S) for weights shared by the batch, or ``None`` when
        ``num_styles == 1`` and ``style`` is ``None``.

    Raises:
        FastNSTError: A shape or type that fits none of the above.
    """
    if style is None:
        if num_styles == 1:
            return None
        raise FastNSTError(
            f"this network holds {num_styles} styles: pass style= a name, indices or weights"
        )
    if not style.is_floating_point():
        if style.dim() != 1 or style.shape[0] != batch:
            raise FastNSTError(
                f"style indices must have shape ({batch},), got {tuple(style.shape)}"
            )
        if style.numel() and (int(style.min()) < 0 or int(style.max()) >= num_styles):
            raise FastNSTError(f"style index out of range: the network has {num_styles} styles")
        return nn.functional.one_hot(style.long(), num_styles).float()
    if style.dim() == 1 and style.shape[0] == num_styles:
        return style[None]  # (1, S): broadcast, so exports keep a symbolic batch
    if style.dim() == 2 and style.shape[1] == num_styles and style.shape[0] in (1, batch):
        return style
    raise FastNSTError(
        f"style weights must have shape ({num_styles},) or ({batch}, {num_styles}), "
        f"got {tuple(style.shape)}"
    )


class ConditionalInstanceNorm2d(nn.Module):
    """Instance norm whose scale and shift are a weighted mix of per-style rows (see module).

    The normalization itself is an inner ``nn.InstanceNorm2d(affine=False)`` (``self.norm``),
    so code that finds instance norms by type (shared statistics for tiles,
    :mod:`fastnst.inference.tiling`) treats this layer like a plain one.

    Args:
        channels: C.
        num_styles: S, the rows of ``gamma`` and ``beta`` (initialised to 1 and 0).

    Shape:
        x: (B, C, H, W); weights: (B, S) -> (B, C, H, W).
    """

    def __init__(self, channels: int, num_styles: int) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.gamma = nn.Parameter(torch.ones(num_styles, channels))
        self.beta = nn.Parameter(torch.zeros(num_styles, channels))

    def forward(self, x: Tensor, weights: Tensor) -> Tensor:
        w = weights.to(self.gamma)
        gamma, beta = w @ self.gamma, w @ self.beta  # (B, C) each
        y = self.norm(x)
        return y * gamma[:, :, None, None].to(y.dtype) + beta[:, :, None, None].to(y.dtype)
