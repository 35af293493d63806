"""Style statistics beyond the plain Gram matrix: what a style loss compares, per layer.

Each statistic maps features (B, C, H, W) (two feature maps for :func:`cross_gram`) to a
per-image tensor, compared to the style image's with
:func:`~fastnst.losses.functional.style_distance`. Also the content term that removes these
per-channel statistics first (:func:`normalized_content_loss`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor

from fastnst.errors import FastNSTError
from fastnst.losses.functional import gram_matrix

STATISTICS = ("gram", "gradient_gram", "mean_std")


def feature_gradient_gram(features: Tensor, shift: float = 0.0) -> Tensor:
    """Gram matrix of the activations stacked with their finite differences (3C channels).

        A' = [A[1:, 1:],  A[1:, 1:] - A[:-1, 1:],  A[1:, 1:] - A[1:, :-1]]   (over H, W)
        G  = A' A'^T / (3C (H-1)(W-1))

    The two difference blocks make G see local structure (edges, strokes) that a Gram of A
    alone, blind to where activations are, does not. Its off-diagonal blocks are linear
    combinations of the correlations between a feature map and its copy shifted by one pixel,
    the long-range statistic of Berger & Memisevic 2017 ("Incorporating long-range consistency
    in CNN-based texture generation") at offset 1. ``shift`` is added to A before the
    differences (they do not change).

    Shape:
        features: (B, C, H, W) with H, W >= 2. Returns: (B, 3C, 3C), fp32.
    """
    if min(features.shape[-2:]) < 2:
        raise FastNSTError(
            f"loss.style_statistic=gradient_gram needs feature maps of at least 2x2, got "
            f"{tuple(features.shape[-2:])}: use a larger image or shallower style layers"
        )
    a = features.float() + shift
    center = a[:, :, 1:, 1:]
    dy = center - a[:, :, :-1, 1:]
    dx = center - a[:, :, 1:, :-1]
    return gram_matrix(torch.cat([center, dy, dx], dim=1))  # (B, 3C, 3C)


def cross_gram(shallow: Tensor, deep: Tensor, shift: float = 0.0) -> Tensor:
    """Correlations between two layers, G = (F_a + s)(up(F_b) + s)^T / (sqrt(C_a C_b) H W).

    The "correlation chain" of Novak & Nikulin 2016: the deeper map F_b is upsampled
    bilinearly to the shallower map's H x W, so G (C_a x C_b) relates features of neighbouring
    layers at the same position. The sqrt(C_a C_b) makes it :func:`gram_matrix` when a = b.

    Shape:
        shallow: (B, C_a, H, W). deep: (B, C_b, H', W'). Returns: (B, C_a, C_b), fp32.
    """
    b, c_a, h, w = shallow.shape
    c_b = deep.shape[1]
    if deep.shape[-2:] != (h, w):
        deep = F.interpolate(deep.float(), size=(h, w), mode="bilinear", align_corners=False)
    flat_a = shallow.float().reshape(b, c_a, h * w) + shift  # (B, C_a, H*W)
    flat_b = deep.float().reshape(b, c_b, h * w) + shift  # (B, C_b, H*W)
    return torch.bmm(flat_a, flat_b.transpose(1, 2)) / ((c_a * c_b) ** 0.5 * h * w)


def mean_std(features: Tensor, eps: float = 1e-5) -> Tensor:
    """Per-channel mean and standard deviation, the statistics AdaIN aligns.

        mu_c = mean_hw F_chw,  sigma_c = sqrt(mean_hw (F_chw - mu_c)^2 + eps)

    Huang & Belongie 2017 ("Arbitrary Style Transfer in Real-time with Adaptive Instance
    Normalization", eq. 12) match these instead of Gram matrices: 2C numbers per layer rather
    than C^2, blind to correlations between channels. Deviation: compared by
    :func:`~fastnst.losses.functional.style_distance` (squared error) where they use the
    unsquared L2 norm; ``eps`` keeps the gradient of sigma finite for dead channels.

    Shape:
        features: (B, C, H, W). Returns: (B, 2, C), fp32: [mu, sigma].
    """
    flat = features.float().flatten(2)  # (B, C, H*W)
    mu = flat.mean(dim=2)
    sigma = (flat.var(dim=2, unbiased=False) + eps).sqrt()
    return torch.stack([mu, sigma], dim=1)


def standardize_channels(features: Tensor, eps: float = 1e-5) -> Tensor:
    """Each channel of each image shifted to mean 0 and scaled to std 1 over its pixels.

    N(F)[b, c] = (F[b, c] - mu_c) / (s_c + eps), mu_c and s_c the mean and population std over
    H, W; a flat channel (s_c = 0, a 1 x 1 map) becomes 0. Not :func:`mean_std`'s sigma_c =
    sqrt(s_c^2 + eps): the two differ for channels of tiny variance, and this form is the one
    the README's training runs measured.
    """
    variance, mean = torch.var_mean(features.float(), dim=(2, 3), keepdim=True, correction=0)
    return (features.float() - mean) / (variance.sqrt() + eps)


def normalized_content_loss(features: Tensor, target: Tensor) -> Tensor:
    """Content loss between channel-standardized features (``loss.content_features=normalized``).

        E = mean_bchw((N(F(y)) - N(F(x)))^2),   N: :func:`standardize_channels`

    Park & Lee 2019 ("Arbitrary Style Transfer with Style-Attentional Networks", CVPR) compare
    mean-variance normalized features so that the content term does not fight the style term
    over each channel's mean and spread, which are style (Huang & Belongie 2017). It is scale
    free by construction (N removes any factor on the features). Why it matters with a random
    VGG: raw random features are dominated by colour, so a Gaussian blur of sigma 4 costs the
    raw relative term (:func:`~fastnst.losses.functional.content_loss`) only 0.08 at relu2_2
    of a random VGG16 and a tint 0.17, while this term costs 0.66 for the blur and 0.67 for
    the tint: edges weigh as much as colour.

    Shape:
        features, target: (B, C, H, W).
    """
    return torch.mean((standardize_channels(features) - standardize_channels(target)) ** 2)


def make_statistic(name: str, shift: float = 0.0) -> Callable[[Tensor], Tensor]:
    """The statistic called ``name`` (one of :data:`STATISTICS`), with activation shift s."""
    if name == "gram":
        return partial(gram_matrix, shift=shift)
    if name == "gradient_gram":
        return partial(feature_gradient_gram, shift=shift)
    if name == "mean_std":  # a shift moves both means alike and no std: it has no effect
        return mean_std
    raise ValueError(f"unknown style statistic {name!r}; use one of {STATISTICS}")
