"""The image transform network of Johnson et al. 2016 with instance norm (Ulyanov et al. 2016).

Architecture (Johnson et al. 2016, supplementary Table 1, with the two changes everyone adopted):
c9s1-32, d64, d128, 5 residual blocks of 128, u64, u32, c9s1-3, where ``u`` is a nearest-neighbour
2x upsampling followed by a 3x3 convolution (instead of a fractionally strided convolution, to
avoid checkerboard artefacts, Odena et al. 2016) and every batch norm is an instance norm
(Ulyanov et al. 2016). Padding is by reflection. ``width`` scales every channel count.

The lean family (for real time on a CPU) keeps that shape but sets each stage's width:
``encoder`` (the three downsampling convolutions; the residual blocks have the last one's
width), ``decoder`` (the two upsampling convolutions) and ``separable`` residual blocks, whose
3x3 convolutions are depthwise-separable (a depthwise 3x3 then a pointwise 1x1, Howard et al.
2017, MobileNets). ``model=johnson_fast`` is c9s1-16, d32, d32, 5 residual blocks of 32, u16,
u8, c9s1-3: about 10x fewer FLOPs than Johnson's network.

With ``num_styles`` S > 1 every instance norm is a conditional one (Dumoulin, Shlens & Kudlur
2017, :class:`~fastnst.models.layers.ConditionalInstanceNorm2d`), and, as in their code, so is
the output of the last convolution: 16 norms, 2 (32 + 64 + 128 + 10 * 128 + 64 + 32 + 3) =
3,206 parameters per style at width 32, everything else shared. S = 1 builds exactly the
single-style network (same modules, same state-dict keys).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fastnst.errors import FastNSTError
from fastnst.models.layers import ConditionalInstanceNorm2d, style_weights

HEADS = ("none", "sigmoid", "tanh")


class ConvLayer(nn.Sequential):
    """Reflection-padded convolution, optionally followed by instance norm and ReLU.

    With ``num_styles`` > 1 the norm is conditional and ``forward(x, weights)`` hands the
    (B, S) style weights to it; the children keep their indices (0 pad, 1 conv, 2 norm, 3 ReLU).
    """

    def __init__(
        self, cin: int, cout: int, kernel: int, stride: int = 1, *, norm: bool = True,
        relu: bool = True, num_styles: int = 1, separable: bool = False,
    ) -> None:  # fmt: skip
        conv: nn.Module = nn.Conv2d(cin, cout, kernel, stride)
        if separable:  # depthwise k x k, then pointwise 1 x 1
            conv = nn.Sequential(nn.Conv2d(cin, cin, kernel, stride, groups=cin),
                                 nn.Conv2d(cin, cout, 1))  # fmt: skip
        layers: list[nn.Module] = [nn.ReflectionPad2d(kernel // 2), conv]
        if norm and num_styles > 1:
            layers.append(ConditionalInstanceNorm2d(cout, num_styles))
        elif norm:
            layers.append(nn.InstanceNorm2d(cout, affine=True))
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)

    def forward(self, x: Tensor, weights: Tensor | None = None) -> Tensor:
        for layer in self:
            x = layer(x, weights) if isinstance(layer, ConditionalInstanceNorm2d) else layer(x)
        return x


class ResidualBlock(nn.Module):
    """x + IN(conv(ReLU(IN(conv(x))))), the residual block of Gross & Wilber used by Johnson;
    ``separable`` makes both convolutions depthwise-separable."""

    def __init__(self, channels: int, num_styles: int = 1, separable: bool = False) -> None:
        super().__init__()
        c, s = channels, num_styles
        self.block = nn.Sequential(
            ConvLayer(c, c, 3, num_styles=s, separable=separable),
            ConvLayer(c, c, 3, relu=False, num_styles=s, separable=separable),
        )

    def forward(self, x: Tensor, weights: Tensor | None = None) -> Tensor:
        return x + self.block[1](self.block[0](x, weights), weights)


class UpsampleConv(nn.Module):
    """Nearest-neighbour 2x upsampling, then a padded convolution, instance norm and ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, num_styles: int = 1) -> None:
        super().__init__()
        self.conv = ConvLayer(cin, cout, kernel, num_styles=num_styles)

    def forward(self, x: Tensor, weights: Tensor | None = None) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"), weights)


class TransformerNet(nn.Module):
    """Feed-forward stylizer: RGB in [0, 1], (N, 3, H, W) -> (N, 3, H, W) for any H, W.

    The input is padded to a multiple of 4 (the two stride-2 stages), and to at least 8 px so
    every reflection pad fits, and the output is cropped back: any size comes out as it went in.

    Args:
        width: Channels of the first layer (32 in the paper); the others are 2x and 4x it.
        num_residual_blocks: Residual blocks at the bottleneck (5 in the paper).
        encoder: Channels of the three encoder convolutions, overriding ``width``'s
            (w, 2w, 4w); the residual blocks have the last one's.
        decoder: Channels of the two upsampling convolutions, overriding (2w, w).
        separable: Depthwise-separable 3x3 convolutions in the residual blocks.
        head: Output non-linearity: ``"none"`` (raw, clamp for display), ``"sigmoid"``, or
            ``"tanh"``, Johnson's scaled tanh mapped to [0, 1]: (1 + tanh(x)) / 2.
        num_styles: S, paintings held by the network through conditional instance norms
            (Dumoulin et al. 2017); 1 is the plain single-style network.
        pixel_range: r, the pixel scale the layers work in: the input enters as r x and the
            last convolution's output is divided by r before the head, y = head(net(r x) / r).
            255 is the parameterization of pytorch/examples ``fast_neural_style`` (0-255 in and
            out, no head): with the same parameters our network computes their function on
            [0, 1] pixels, and Adam trains it alike. 1 (the default, fastnst <= 0.3) is
            recorded nowhere, so older checkpoints load unchanged.
    """

    arch = "johnson"

    def __init__(
        self, width: int = 32, num_residual_blocks: int = 5, head: str = "none",
        num_styles: int = 1, *, encoder: Sequence[int] | None = None,
        decoder: Sequence[int] | None = None, separable: bool = False, pixel_range: float = 1.0,
    ) -> None:  # fmt: skip
        super().__init__()
        if head not in HEADS:
            raise FastNSTError(f"unknown model.head={head}; use one of {', '.join(HEADS)}")
        if num_styles < 1:
            raise FastNSTError(f"model.num_styles must be at least 1, got {num_styles}")
        e = [int(c) for c in encoder] if encoder is not None else [width, 2 * width, 4 * width]
        d = [int(c) for c in decoder] if decoder is not None else [2 * width, width]
        if len(e) != 3 or len(d) != 2 or min(e + d) < 1:
            raise FastNSTError(f"model.encoder needs 3 and model.decoder 2 widths, got {e}, {d}")
        self.config = {"width": width, "num_residual_blocks": num_residual_blocks, "head": head}
        # only what differs from fastnst 0.2's network is recorded, so its configs stay as written
        lean = {"encoder": encoder and e, "decoder": decoder and d, "separable": separable}
        self.config.update({key: value for key, value in lean.items() if value})
        if num_styles > 1:
            self.config["num_styles"] = num_styles
        if pixel_range <= 0:
            raise FastNSTError(f"model.pixel_range must be positive, got {pixel_range}")
        if pixel_range != 1:
            self.config["pixel_range"] = float(pixel_range)
        self.head, self.num_styles, self.pixel_range = head, num_styles, float(pixel_range)
        s = num_styles
        self.net = nn.Sequential(
            ConvLayer(3, e[0], 9, num_styles=s),
            ConvLayer(e[0], e[1], 3, stride=2, num_styles=s),
            ConvLayer(e[1], e[2], 3, stride=2, num_styles=s),
            *(ResidualBlock(e[2], s, separable) for _ in range(num_residual_blocks)),
            UpsampleConv(e[2], d[0], num_styles=s),
            UpsampleConv(d[0], d[1], num_styles=s),
            ConvLayer(d[1], 3, 9, norm=s > 1, relu=False, num_styles=s),
        )

    def forward(self, x: Tensor, style: Tensor | None = None) -> Tensor:
        """Stylize ``x`` (B, 3, H, W) in the style ``style``.

        ``style`` is what :func:`~fastnst.models.layers.style_weights` takes: ``None`` for a
        single-style network (it is ignored there), (B,) style indices, (S,) or (B, S) weights.
        """
        weights = None
        if self.num_styles > 1:  # x.shape[0], not len(x): export keeps the batch symbolic
            weights = style_weights(style, self.num_styles, x.shape[0])
        h, w = x.shape[-2:]
        pad_h, pad_w = max(8, h + -h % 4) - h, max(8, w + -w % 4) - w
        if pad_h or pad_w:
            mode = "reflect" if pad_h < h and pad_w < w else "replicate"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        y = x * self.pixel_range if self.pixel_range != 1 else x
        for layer in self.net:
            y = layer(y, weights)
        y = y[..., :h, :w]
        if self.pixel_range != 1:
            y = y / self.pixel_range
        if self.head == "sigmoid":
            return torch.sigmoid(y)
        if self.head == "tanh":
            return (1 + torch.tanh(y)) / 2
        return y
