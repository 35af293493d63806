"""The image transform network of Johnson et al. 2016 with instance norm (Ulyanov et al. 2016).

Architecture (Johnson et al. 2016, supplementary Table 1, with the two changes everyone adopted):
c9s1-32, d64, d128, 5 residual blocks of 128, u64, u32, c9s1-3, where ``u`` is a nearest-neighbour
2x upsampling followed by a 3x3 convolution (instead of a fractionally strided convolution, to
avoid checkerboard artefacts, Odena et al. 2016) and every batch norm is an instance norm
(Ulyanov et al. 2016). Padding is by reflection. ``width`` scales every channel count.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

HEADS = ("none", "sigmoid", "tanh")


class ConvLayer(nn.Sequential):
    """Reflection-padded convolution, optionally followed by instance norm and ReLU."""

    def __init__(
        self, cin: int, cout: int, kernel: int, stride: int = 1, *, norm: bool = True,
        relu: bool = True,
    ) -> None:  # fmt: skip
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(kernel // 2),
            nn.Conv2d(cin, cout, kernel, stride),
        ]
        if norm:
            layers.append(nn.InstanceNorm2d(cout, affine=True))
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """x + IN(conv(ReLU(IN(conv(x))))), the residual block of Gross & Wilber used by Johnson."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            ConvLayer(channels, channels, 3),
            ConvLayer(channels, channels, 3, relu=False),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.block(x)


class UpsampleConv(nn.Module):
    """Nearest-neighbour 2x upsampling, then a padded convolution, instance norm and ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int = 3) -> None:
        super().__init__()
        self.conv = ConvLayer(cin, cout, kernel)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class TransformerNet(nn.Module):
    """Feed-forward stylizer: RGB in [0, 1], (N, 3, H, W) -> (N, 3, H, W) for any H, W.

    The input is padded to a multiple of 4 (the two stride-2 stages), and to at least 8 px so
    every reflection pad fits, and the output is cropped back: any size comes out as it went in.

    Args:
        width: Channels of the first layer (32 in the paper); the others are 2x and 4x it.
        num_residual_blocks: Residual blocks at the bottleneck (5 in the paper).
        head: Output non-linearity: ``"none"`` (raw, clamp for display), ``"sigmoid"``, or
            ``"tanh"``, Johnson's scaled tanh mapped to [0, 1]: (1 + tanh(x)) / 2.
    """

    arch = "johnson"
    num_styles = 1

    def __init__(self, width: int = 32, num_residual_blocks: int = 5, head: str = "none") -> None:
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"unknown model.head {head!r}; use one of {HEADS}")
        self.config = {"width": width, "num_residual_blocks": num_residual_blocks, "head": head}
        self.head = head
        w = width
        self.net = nn.Sequential(
            ConvLayer(3, w, 9),
            ConvLayer(w, 2 * w, 3, stride=2),
            ConvLayer(2 * w, 4 * w, 3, stride=2),
            *(ResidualBlock(4 * w) for _ in range(num_residual_blocks)),
            UpsampleConv(4 * w, 2 * w),
            UpsampleConv(2 * w, w),
            ConvLayer(w, 3, 9, norm=False, relu=False),
        )

    def forward(self, x: Tensor, style: Tensor | None = None) -> Tensor:
        """Stylize ``x``; ``style`` is unused here (one painting per network) and exists so that
        every transform network is called alike, ``model(x, style)``."""
        h, w = x.shape[-2:]
        pad_h, pad_w = max(8, h + -h % 4) - h, max(8, w + -w % 4) - w
        if pad_h or pad_w:
            mode = "reflect" if pad_h < h and pad_w < w else "replicate"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        y = self.net(x)[..., :h, :w]
        if self.head == "sigmoid":
            return torch.sigmoid(y)
        if self.head == "tanh":
            return (1 + torch.tanh(y)) / 2
        return y
