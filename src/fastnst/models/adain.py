"""Arbitrary style transfer with adaptive instance normalization (Huang & Belongie 2017).

    AdaIN(x, y) = sigma(y) (x - mu(x)) / sigma(x) + mu(y)              (their eq. 8)
    mu_c(x) = mean_hw x_chw,   sigma_c(x) = sqrt(sum_hw (x_chw - mu_c)^2 / (HW - u) + eps)
    T(c, s; alpha) = g((1 - alpha) f(c) + alpha AdaIN(f(c), f(s)))     (their eq. 13)

u = 0 (the paper's biased variance) by default; u = 1 (``unbiased=True``) is what the reference
code computes (pytorch-AdaIN's ``calc_mean_std``: ``torch.var``, then + eps, then sqrt).

Huang & Belongie, "Arbitrary Style Transfer in Real-time with Adaptive Instance Normalization",
ICCV 2017. f is a frozen VGG-19 up to relu4_1, g a decoder that mirrors it (nearest-neighbour
upsampling, reflection padding, no normalization, no output activation). Two encoders
(:mod:`fastnst.models.adain_encoders`): ``encoder="torchvision"`` (the default: torchvision's
VGG-19, zero padding, floor pooling; the photo is padded to a multiple of 8) and
``encoder="vgg_normalised"`` (pytorch-AdaIN's own network, index for index, the one its
``decoder.pth`` was trained on; nothing padded, as theirs). The painting enters only through the
2 x 512 numbers (mu, sigma) of f(s) at relu4_1, so :meth:`AdaINNet.style_statistics` computes
them once for any number of photos. Several paintings blend with weights w_k (sum 1):
sum_k w_k AdaIN(x, y_k) = AdaIN with (sum_k w_k mu_k, sum_k w_k sigma_k), since AdaIN is affine
in (mu(y), sigma(y)), so :func:`blend_statistics` computes exactly the paper's blend of AdaIN
outputs (their eq. 14).

The encoder's weights are frozen parameters stored with the decoder's in the checkpoint (about
3.5 M of them, 14 MB): a checkpoint is all that stylizing needs, with no VGG download, and a
random-VGG run (``vgg.weights=random``) stylizes with exactly the encoder it was trained with.
This module does not import :mod:`fastnst.vgg` (the inference wing must not).
"""

from __future__ import annotations

import torch
from torch import SymInt, Tensor, nn

from fastnst.errors import FastNSTError
from fastnst.models.adain_encoders import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    MIN_SIDE,
    MULTIPLE,
    VGG19Encoder,
    VGGNormalisedEncoder,
)

ENCODER_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
ENCODERS = ("torchvision", "vgg_normalised")


def feature_statistics(features: Tensor, eps: float = 1e-5, *, unbiased: bool = False) -> Tensor:
    """Per-channel mean and standard deviation over H, W (see the module for ``unbiased``).

    Shape:
        features: (B, C, H, W). Returns: (B, 2, C) in fp32: [mu, sigma].
    """
    flat = features.float().flatten(2)  # (B, C, H*W)
    mu = flat.mean(dim=2)
    sigma = (flat.var(dim=2, unbiased=unbiased) + eps).sqrt()
    return torch.stack([mu, sigma], dim=1)


def adain(content: Tensor, style: Tensor, eps: float = 1e-5, *, unbiased: bool = False) -> Tensor:
    """AdaIN(x, y) = sigma(y) (x - mu(x)) / sigma(x) + mu(y), per sample and channel.

    Args:
        content: x, features (B, C, H, W).
        style: y, features (B or 1, C, H', W'), or their statistics (B or 1, 2, C) as
            :func:`feature_statistics` returns them.
        eps: Added to the variances before the square root.
        unbiased: Variances over HW - 1 (the reference code) instead of HW (the paper).

    Returns:
        (B, C, H, W), in the dtype of ``content``.
    """
    stats = style if style.dim() == 3 else feature_statistics(style, eps, unbiased=unbiased)
    own = feature_statistics(content, eps, unbiased=unbiased)
    mu_x, sigma_x = own[:, 0, :, None, None], own[:, 1, :, None, None]
    mu_y, sigma_y = stats[:, 0, :, None, None], stats[:, 1, :, None, None]
    return ((content.float() - mu_x) / sigma_x * sigma_y + mu_y).to(content.dtype)


def blend_statistics(stats: Tensor, weights: Tensor | None = None) -> Tensor:
    """One painting's statistics from K paintings' (K, 2, C), mixed with ``weights`` (K,).

    The weights are normalised to sum to 1 (uniform when ``None``); AdaIN with the result equals
    sum_k w_k AdaIN(x, y_k), the interpolation of Huang & Belongie 2017, eq. 14. Any trailing
    shape mixes alike ((K, D) style vectors of :mod:`fastnst.models.predicted`).

    Returns:
        (1, 2, C), or (1, ...) as ``stats`` less its first dimension.
    """
    if weights is None:
        weights = torch.ones(stats.shape[0])
    weights = weights.to(stats).flatten()
    if weights.shape[0] != stats.shape[0] or (weights < 0).any() or float(weights.sum()) <= 0:
        raise ValueError(f"need {stats.shape[0]} non-negative weights, not all 0, got {weights}")
    return torch.tensordot(weights / weights.sum(), stats, dims=1)[None]


def _padded_length(n: int | SymInt, multiple: int, minimum: int) -> int | SymInt:
    """max(``minimum``, ``n`` rounded up to ``multiple``), for ints and export's SymInts."""
    return torch.sym_max(minimum, n + (-n) % multiple)


def pad_to_multiple(image: Tensor, multiple: int = MULTIPLE, minimum: int = MIN_SIDE) -> Tensor:
    """Replicate-pad (N, C, H, W) at the bottom and right to sides of :func:`_padded_length`.

    Gathers rows and columns by clamped indices, with no branch on the shape, so ONNX export
    keeps H and W symbolic; replication, unlike reflection, fits any pad length.
    """
    h, w = image.shape[-2:]
    rows = torch.arange(_padded_length(h, multiple, minimum), device=image.device)
    cols = torch.arange(_padded_length(w, multiple, minimum), device=image.device)
    rows, cols = rows.clamp(max=h - 1), cols.clamp(max=w - 1)
    return image.index_select(-2, rows).index_select(-1, cols)


def _conv(cin: int, cout: int, relu: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3)]
    return [*layers, nn.ReLU()] if relu else layers


class AdaINDecoder(nn.Sequential):
    """g: relu4_1 features (N, 512, H/8, W/8) -> image (N, 3, H, W), the encoder mirrored.

    Nine 3x3 convolutions (512-256, 256-256 x3, 256-128, 128-128, 128-64, 64-64, 64-3) with
    reflection padding and ReLU after all but the last, nearest 2x upsampling after the 1st,
    5th and 7th; no normalization and no output activation (Huang & Belongie 2017, sec. 6.1).
    """

    def __init__(self) -> None:
        up = nn.Upsample(scale_factor=2, mode="nearest")
        super().__init__(
            *_conv(512, 256), up,
            *_conv(256, 256), *_conv(256, 256), *_conv(256, 256), *_conv(256, 128), up,
            *_conv(128, 128), *_conv(128, 64), up,
            *_conv(64, 64), *_conv(64, 3, relu=False),
        )  # fmt: skip


class AdaINNet(nn.Module):
    """Encoder, AdaIN and decoder: any photo in the style of any painting (see module).

    ``forward(content, style)`` takes the painting as an image, or its statistics
    (``style_stats``, from :meth:`style_statistics`, possibly blended by
    :func:`blend_statistics`) so that a painting is encoded once for many photos. The content
    is padded (replicated) as the encoder needs, to a multiple of 8 and at least 16 px for
    ``"torchvision"``, only to at least 9 px for ``"vgg_normalised"`` (whose ceil-mode pooling
    takes any size, as pytorch-AdaIN runs it), and the output cropped back: any size comes out
    as it went in.

    Args:
        mean: The torchvision encoder's input mean (ImageNet's for torchvision weights);
            ``vgg_normalised`` has its own normalization (its index 0) and ignores it.
        std: The torchvision encoder's input standard deviation, likewise.
        eps: Of the standard deviations.
        encoder: ``"torchvision"`` or ``"vgg_normalised"`` (see module).
        unbiased: Variances over HW - 1, as pytorch-AdaIN's ``calc_mean_std``.
    """

    arch = "adain"

    def __init__(
        self,
        mean: tuple[float, ...] | list[float] = IMAGENET_MEAN,
        std: tuple[float, ...] | list[float] = IMAGENET_STD,
        eps: float = 1e-5,
        encoder: str = "torchvision",
        unbiased: bool = False,
    ) -> None:
        super().__init__()
        if encoder not in ENCODERS:
            raise FastNSTError(f"unknown model.encoder={encoder}; use {' or '.join(ENCODERS)}")
        self.config: dict = {"eps": eps}  # non-defaults only: older checkpoints rebuild as saved
        self.encoder: VGG19Encoder | VGGNormalisedEncoder
        if encoder == "torchvision":
            self.config = {"mean": [float(v) for v in mean], "std": [float(v) for v in std]}
            self.config["eps"] = eps
            self.encoder = VGG19Encoder(tuple(self.config["mean"]), tuple(self.config["std"]))
        else:
            self.config["encoder"] = encoder
            self.encoder = VGGNormalisedEncoder()
        if unbiased:
            self.config["unbiased"] = True
        self.eps, self.unbiased = eps, unbiased
        self.decoder = AdaINDecoder()

    def style_statistics(self, style: Tensor) -> Tensor:
        """(mu, sigma) of the painting(s) at relu4_1: (N, 3, H, W) -> (N, 2, 512)."""
        if self.encoder.min_style_side > 1:
            style = pad_to_multiple(style, 1, self.encoder.min_style_side)
        features = self.encoder(style, deepest_only=True)[0]
        return feature_statistics(features, self.eps, unbiased=self.unbiased)

    def forward(
        self,
        content: Tensor,
        style: Tensor | None = None,
        alpha: float | Tensor = 1.0,
        *,
        style_stats: Tensor | None = None,
    ) -> Tensor:
        """T(c, s; alpha), eq. 13 of the paper.

        Args:
            content: (N, 3, H, W) photos, RGB in [0, 1].
            style: (N or 1, 3, H', W') paintings, or ``None`` with ``style_stats``.
            alpha: 0 decodes the photo's own features, 1 the full AdaIN target.
            style_stats: (N or 1, 2, 512) statistics in place of ``style``.

        Returns:
            (N, 3, H, W), not clamped (the decoder has no output activation).
        """
        if style_stats is None:
            if style is None:
                raise ValueError("pass style= paintings or style_stats= their statistics")
            style_stats = self.style_statistics(style)
        h, w = content.shape[-2:]
        padded = pad_to_multiple(content, self.encoder.multiple, self.encoder.min_side)
        features = self.encoder(padded, deepest_only=True)[0]
        stylized = adain(features, style_stats, self.eps, unbiased=self.unbiased)
        return self.decoder(torch.lerp(features, stylized, alpha))[..., :h, :w]
