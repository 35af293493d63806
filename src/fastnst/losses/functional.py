"""Pure tensor functions behind the loss modules.

Normalization convention (one for every term, so that weights do not change with image size):
every loss is a *mean* over the elements it compares, and a Gram matrix is divided by the
number of elements of the feature map it came from. With F_l the (C, H*W) features of layer l,

    G_l = F_l F_l^T / (C H W)                      (Johnson et al. 2016, eq. 3)
    E_content = ||F_l(y) - F_l(x)||^2 / (C H W)    (Johnson et al. 2016, eq. 2; mean squared error)
    E_style,l = ||G_l(y) - G_l(s)||_F^2 / C^2      (Gatys et al. 2016, eq. 4, with G as above)
    TV(y) = mean |y[i+1, j] - y[i, j]|^p + mean |y[i, j+1] - y[i, j]|^p

Gatys et al. use sums with a 1 / (4 N^2 M^2) factor instead; the means above differ from
theirs by constants per layer, which the layer weights absorb. All reductions run in fp32.
"""

from __future__ import annotations

import torch
from torch import Tensor


def gram_matrix(features: Tensor) -> Tensor:
    """Channel correlations G = F F^T / (C H W) of each image.

    Shape:
        features: (B, C, H, W). Returns: (B, C, C), fp32.
    """
    b, c, h, w = features.shape
    flat = features.float().reshape(b, c, h * w)  # (B, C, H*W)
    return torch.bmm(flat, flat.transpose(1, 2)) / (c * h * w)


def content_loss(features: Tensor, target: Tensor) -> Tensor:
    """Mean squared feature difference ||F(y) - F(x)||^2 / (B C H W) (Johnson et al. 2016)."""
    return torch.mean((features.float() - target.float()) ** 2)


def gram_loss(gram: Tensor, target: Tensor) -> Tensor:
    """Mean squared Gram difference ||G - A||_F^2 / (B C^2) (Gatys et al. 2016, eq. 4).

    Shape:
        gram: (B, C, C). target: (1, C, C) or (B, C, C), broadcast over the batch.
    """
    return torch.mean((gram - target) ** 2)


def total_variation(image: Tensor, p: int = 2) -> Tensor:
    """Total variation: mean |vertical differences|^p + mean |horizontal differences|^p.

    p=2 is the squared form (Mahendran & Vedaldi 2015, used by Johnson et al. 2016); p=1 is the
    anisotropic L1 form, which keeps edges sharper.

    Shape:
        image: (B, C, H, W) with H, W >= 2.
    """
    if p not in (1, 2):
        raise ValueError(f"total_variation supports p=1 or p=2, got {p}")
    image = image.float()
    dy = (image[:, :, 1:, :] - image[:, :, :-1, :]).abs() ** p
    dx = (image[:, :, :, 1:] - image[:, :, :, :-1]).abs() ** p
    return dy.mean() + dx.mean()
