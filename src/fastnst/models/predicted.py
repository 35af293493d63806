"""Style prediction + conditional instance norm (Ghiasi et al. 2017), on the loss VGG's features.

    z     = P(s) = W_b [mu_l(f_l(s)), sigma_l(f_l(s))]_l + b_b           a 100-d style vector
    gamma = W_g z + b_g,   beta = W_b' z + b_b'                          for every norm at once
    T(c, s; alpha) = N(c; alpha P(s) + (1 - alpha) P(c))

Ghiasi, Lee, Kudlur, Dumoulin & Shlens, "Exploring the structure of a real-time, arbitrary
neural artistic stylization network", BMVC 2017. A Johnson-style network N whose every
instance norm takes its scale and shift from the style vector z; the painting enters only
through z, so it is computed once (:meth:`PredictedStyleNet.style_statistics`), and strength
alpha interpolates the painting's z with the photo's own (their sec. 5). Deviations: the
predictor stands on the per-channel mean and standard deviation of the frozen VGG-19 at
relu1_1 ... relu4_1 (the AdaIN encoder, :class:`~fastnst.models.adain.VGG19Encoder`, stored
in the checkpoint), not on Inception-v3, and is one linear bottleneck; all 15 norms are
conditioned (the reference conditions the residual blocks and the upsampling stages). The
heads start at zero weight and bias 1 (gamma) / 0 (beta): at initialisation every norm is
a plain instance norm, whatever the painting. ``train.py`` trains it with the AdaIN loss
(:mod:`fastnst.losses.adain`: mean/std style statistics, relu4_1 content against the photo's),
not the paper's Gram loss (``experiment=predicted_smoke``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fastnst.models.adain import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    VGG19Encoder,
    feature_statistics,
    pad_to_multiple,
)

ENCODER_CHANNELS = (64, 128, 256, 512)  # relu1_1 ... relu4_1


class PredictedNorm(nn.Module):
    """Instance norm with per-sample scale and shift: gamma (B, C) x_hat + beta (B, C)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.norm = nn.InstanceNorm2d(channels, affine=False)

    def forward(self, x: Tensor, gamma: Tensor, beta: Tensor) -> Tensor:
        return self.norm(x) * gamma[:, :, None, None] + beta[:, :, None, None]


class _Conv(nn.Module):
    """Reflection pad, convolution (optionally after a nearest 2x upsampling), norm, ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, *, up: bool = False,
                 relu: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.up, self.relu = up, relu
        self.conv = nn.Sequential(
            nn.ReflectionPad2d(kernel // 2), nn.Conv2d(cin, cout, kernel, stride)
        )
        self.norm = PredictedNorm(cout)

    def forward(self, x: Tensor, gamma: Tensor, beta: Tensor) -> Tensor:
        if self.up:
            x = nn.functional.interpolate(x, scale_factor=2, mode="nearest")
        x = self.norm(self.conv(x), gamma, beta)
        return torch.relu(x) if self.relu else x


class PredictedStyleNet(nn.Module):
    """Encoder (frozen VGG-19), style predictor, heads and the conditioned Johnson network.

    Johnson et al. 2016's layout, c9s1-32, d64, d128, 5 residual blocks, u64, u32, c9s1-3,
    with reflection padding, nearest upsampling and a sigmoid head (as ``model=johnson_cin``);
    the input is padded to a multiple of 8 and cropped back, so any size comes out as it went in.

    Args:
        bottleneck: Size of the style vector z (100 in the paper).
        mean: The encoder's input mean.
        std: The encoder's input standard deviation.
        eps: Of the style statistics.
    """

    arch = "johnson_predicted"
    split_export = True  # ONNX: predictor and transform network as two graphs (export.py)

    def __init__(
        self,
        bottleneck: int = 100,
        mean: tuple[float, ...] | list[float] = IMAGENET_MEAN,
        std: tuple[float, ...] | list[float] = IMAGENET_STD,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.config = {"bottleneck": bottleneck, "mean": [float(v) for v in mean],
                       "std": [float(v) for v in std], "eps": eps}  # fmt: skip
        self.eps = eps
        self.encoder = VGG19Encoder(tuple(self.config["mean"]), tuple(self.config["std"]))
        self.predictor = nn.Linear(2 * sum(ENCODER_CHANNELS), bottleneck)
        self.layers = nn.ModuleList(
            [_Conv(3, 32, 9), _Conv(32, 64, 3, 2), _Conv(64, 128, 3, 2)]
            + [_Conv(128, 128, 3, relu=k % 2 == 0) for k in range(10)]
            + [_Conv(128, 64, 3, up=True), _Conv(64, 32, 3, up=True)]
        )
        self.output = nn.Sequential(nn.ReflectionPad2d(4), nn.Conv2d(32, 3, 9))
        self.norm_channels = [layer.norm.channels for layer in self.layers]
        self.gamma_head = nn.Linear(bottleneck, sum(self.norm_channels))
        self.beta_head = nn.Linear(bottleneck, sum(self.norm_channels))
        for head, start in ((self.gamma_head, 1.0), (self.beta_head, 0.0)):
            nn.init.zeros_(head.weight)
            nn.init.constant_(head.bias, start)

    def style_statistics(self, style: Tensor) -> Tensor:
        """z = P(style): (N, 3, H, W) paintings -> (N, bottleneck) style vectors."""
        return self.predict(self.encoder(style))

    def predict(self, features: list[Tensor]) -> Tensor:
        """z from the encoder's relu1_1 ... relu4_1 features of the paintings."""
        stats = [feature_statistics(f, self.eps).flatten(1) for f in features]
        return self.predictor(torch.cat(stats, dim=1))

    def norm_parameters(self, z: Tensor) -> list[tuple[Tensor, Tensor]]:
        """(gamma, beta) of every norm, each (N, C_k), from style vectors z (N, bottleneck)."""
        gammas = self.gamma_head(z).split(self.norm_channels, dim=1)
        betas = self.beta_head(z).split(self.norm_channels, dim=1)
        return list(zip(gammas, betas, strict=True))

    def forward(
        self,
        content: Tensor,
        style: Tensor | None = None,
        alpha: float | Tensor = 1.0,
        *,
        style_stats: Tensor | None = None,
    ) -> Tensor:
        """N(c; alpha z_s + (1 - alpha) z_c), in [0, 1].

        Args:
            content: (N, 3, H, W) photos in [0, 1].
            style: (N or 1, 3, H', W') paintings, or ``None`` with ``style_stats``.
            alpha: Strength: 0 paints the photo in its own style vector, 1 in the painting's.
            style_stats: (N or 1, bottleneck) style vectors in place of ``style``.
        """
        if style_stats is None:
            if style is None:
                raise ValueError("pass style= paintings or style_stats= their style vectors")
            style_stats = self.style_statistics(style)
        z = style_stats.expand(content.shape[0], -1)
        if isinstance(alpha, Tensor) or alpha != 1.0:
            z = torch.lerp(self.style_statistics(content), z, alpha)
        p = self.norm_parameters(z)
        h, w = content.shape[-2:]
        x = pad_to_multiple(content)
        for k in range(3):  # c9s1-32, d64, d128
            x = self.layers[k](x, *p[k])
        for k in range(3, 13, 2):  # residual blocks: x + N(conv(ReLU(N(conv(x)))))
            x = x + self.layers[k + 1](self.layers[k](x, *p[k]), *p[k + 1])
        for k in (13, 14):  # u64, u32
            x = self.layers[k](x, *p[k])
        return torch.sigmoid(self.output(x))[..., :h, :w]
