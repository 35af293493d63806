"""Arbitrary style transfer with adaptive instance normalization (Huang & Belongie 2017).

    AdaIN(x, y) = sigma(y) (x - mu(x)) / sigma(x) + mu(y)              (their eq. 8)
    mu_c(x) = mean_hw x_chw,   sigma_c(x) = sqrt(mean_hw (x_chw - mu_c)^2 + eps)
    T(c, s; alpha) = g((1 - alpha) f(c) + alpha AdaIN(f(c), f(s)))     (their eq. 13)

Huang & Belongie, "Arbitrary Style Transfer in Real-time with Adaptive Instance Normalization",
ICCV 2017. f is a frozen VGG-19 up to relu4_1, g a decoder that mirrors it (nearest-neighbour
upsampling, reflection padding, no normalization, no output activation). The painting enters
only through the 2 x 512 numbers (mu, sigma) of f(s) at relu4_1, so
:meth:`AdaINNet.style_statistics` computes them once for any number of photos. Several
paintings blend with weights w_k (sum 1): sum_k w_k AdaIN(x, y_k) = AdaIN with
(sum_k w_k mu_k, sum_k w_k sigma_k), since AdaIN is affine in (mu(y), sigma(y)), so
:func:`blend_statistics` computes exactly the paper's blend of AdaIN outputs (their eq. 14).

The encoder's weights are frozen parameters stored with the decoder's in the checkpoint (about
3.5 M of them, 14 MB): a checkpoint is all that stylizing needs, with no VGG download, and a
random-VGG run (``vgg.weights=random``) stylizes with exactly the encoder it was trained with.
This module does not import :mod:`fastnst.vgg` (the inference wing must not): the encoder is
built here in torchvision's layer order, so torchvision VGG-19 state dicts load into it as they
are (:meth:`VGG19Encoder.load_vgg`, used by training, imports it then).
"""

from __future__ import annotations

import torch
from torch import SymInt, Tensor, nn

from fastnst.errors import FastNSTError

ENCODER_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
# torchvision's vgg19().features up to relu4_1: index of each tap, channels of each conv
_VGG19_TO_RELU4_1: list[int | str] = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512]
_TAPS = (1, 6, 11, 20)  # features.1 = relu1_1, .6 = relu2_1, .11 = relu3_1, .20 = relu4_1
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's, as fastnst.vgg.IMAGENET_MEAN
IMAGENET_STD = (0.229, 0.224, 0.225)
MULTIPLE = 8  # three 2x poolings
MIN_SIDE = 16  # so relu4_1 is at least 2 px: the decoder's first reflection pad needs that


def feature_statistics(features: Tensor, eps: float = 1e-5) -> Tensor:
    """Per-channel mean and standard deviation over H, W (biased variance, as the paper).

    Shape:
        features: (B, C, H, W). Returns: (B, 2, C) in fp32: [mu, sigma].
    """
    flat = features.float().flatten(2)  # (B, C, H*W)
    mu = flat.mean(dim=2)
    sigma = (flat.var(dim=2, unbiased=False) + eps).sqrt()
    return torch.stack([mu, sigma], dim=1)


def adain(content: Tensor, style: Tensor, eps: float = 1e-5) -> Tensor:
    """AdaIN(x, y) = sigma(y) (x - mu(x)) / sigma(x) + mu(y), per sample and channel.

    Args:
        content: x, features (B, C, H, W).
        style: y, features (B or 1, C, H', W'), or their statistics (B or 1, 2, C) as
            :func:`feature_statistics` returns them.
        eps: Added to the variances before the square root.

    Returns:
        (B, C, H, W), in the dtype of ``content``.
    """
    stats = style if style.dim() == 3 else feature_statistics(style, eps)
    own = feature_statistics(content, eps)
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


def _padded_length(n: int | SymInt) -> int | SymInt:
    """max(MIN_SIDE, ``n`` rounded up to a multiple of 8), for ints and export's SymInts."""
    return torch.sym_max(MIN_SIDE, n + (-n) % MULTIPLE)


def pad_to_multiple(image: Tensor) -> Tensor:
    """Replicate-pad (N, C, H, W) at the bottom and right to sides of :func:`_padded_length`.

    Gathers rows and columns by clamped indices, with no branch on the shape, so ONNX export
    keeps H and W symbolic; replication, unlike reflection, fits any pad length.
    """
    h, w = image.shape[-2:]
    rows = torch.arange(_padded_length(h), device=image.device).clamp(max=h - 1)
    cols = torch.arange(_padded_length(w), device=image.device).clamp(max=w - 1)
    return image.index_select(-2, rows).index_select(-1, cols)


class VGG19Encoder(nn.Module):
    """Frozen VGG-19 ``features`` up to relu4_1, normalizing RGB [0, 1] inside.

    Indices follow torchvision (``features.0`` is conv1_1), so a torchvision VGG-19 state dict
    loads as it is. The weights are parameters with ``requires_grad=False`` (they are part of
    the checkpoint, see the module docstring); ``train()`` keeps eval mode.

    Args:
        mean, std: The input normalization the weights were trained with, (x - mean) / std.
    """

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        modules: list[nn.Module] = []
        channels = 3
        for item in _VGG19_TO_RELU4_1:
            if item == "M":
                modules.append(nn.MaxPool2d(2, 2))
            else:
                modules += [nn.Conv2d(channels, int(item), 3, padding=1), nn.ReLU()]
                channels = int(item)
        self.features = nn.Sequential(*modules).requires_grad_(False)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.eval()

    def load_vgg(self, weights: str, *, seed: int = 0) -> None:
        """Copy VGG-19 weights in: ``"imagenet"``, ``"random"`` (seeded) or a file path, as
        :func:`fastnst.vgg.load_vgg_state_dict` takes them (imported here, for training only)."""
        from fastnst.vgg import load_vgg_state_dict

        state = load_vgg_state_dict("vgg19", weights, seed=seed)
        own = self.features.state_dict()
        try:
            self.features.load_state_dict({key: state[key] for key in own})
        except (KeyError, RuntimeError) as err:
            raise FastNSTError(
                f"vgg.weights={weights} do not fit a VGG-19 up to relu4_1 ({err}); pass the "
                "weights of a torchvision vgg19"
            ) from err

    def train(self, mode: bool = True) -> VGG19Encoder:  # noqa: ARG002 - always frozen
        """Stay in eval mode whatever a parent module asks for."""
        return super().train(False)

    def forward(self, image: Tensor, *, deepest_only: bool = False) -> list[Tensor]:
        """relu1_1, relu2_1, relu3_1, relu4_1 of ``image`` (or only relu4_1).

        Shape:
            image: (N, 3, H, W), RGB in [0, 1]. Outputs: (N, C_l, H / 2^(l-1), W / 2^(l-1)).
        """
        x = (image - self.mean) / self.std
        outputs = []
        for index, module in enumerate(self.features):
            x = module(x)
            if index in _TAPS and (not deepest_only or index == _TAPS[-1]):
                outputs.append(x)
        return outputs


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
    is padded to a multiple of 8 (and at least 16 px) and the output cropped back: any size
    comes out as it went in.

    Args:
        mean, std: The encoder's input normalization (ImageNet's for torchvision weights).
        eps: Of the standard deviations.
    """

    arch = "adain"

    def __init__(
        self,
        mean: tuple[float, ...] | list[float] = IMAGENET_MEAN,
        std: tuple[float, ...] | list[float] = IMAGENET_STD,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.config = {"mean": [float(v) for v in mean], "std": [float(v) for v in std], "eps": eps}
        self.eps = eps
        self.encoder = VGG19Encoder(tuple(self.config["mean"]), tuple(self.config["std"]))
        self.decoder = AdaINDecoder()

    def style_statistics(self, style: Tensor) -> Tensor:
        """(mu, sigma) of the painting(s) at relu4_1: (N, 3, H, W) -> (N, 2, 512)."""
        return feature_statistics(self.encoder(style, deepest_only=True)[0], self.eps)

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
        features = self.encoder(pad_to_multiple(content), deepest_only=True)[0]
        target = torch.lerp(features, adain(features, style_stats, self.eps), alpha)
        return self.decoder(target)[..., :h, :w]
