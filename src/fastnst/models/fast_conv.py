"""Convolutions of the transform network rewritten for speed: the same function, computed as
convolutions with many output channels and a pixel shuffle (Shi et al. 2016).

Two rewrites, both exact (up to float rounding) and applied together by
:func:`with_fast_convs`, for inference and export only (checkpoints keep the original layers):

**The blocked output convolution** (:class:`BlockedConv2d`).

The last layer of Johnson's network maps C channels to 3 with a 9x9 kernel at full resolution.
Convolution kernels (oneDNN, ONNX Runtime's MLAS) block the output channels by 8 or 16, so
three of them waste most of each block: on a 2-core Xeon it ran at about 40 GFLOP/s, a third
of the whole network's time, against 300 GFLOP/s for the residual blocks. Computing each s x s
block of output pixels at once turns it into a convolution with 3 s^2 outputs, a
(k + s - 1)-wide kernel and stride s, whose outputs ``pixel_shuffle`` (Shi et al. 2016) puts
back in place. With s = 4 and k = 9: 48 outputs, a 12x12 kernel, 1.8x the multiply-adds, run
about 3x faster; no input is copied or transposed (``scripts/benchmark_stylize.py`` times it).

For y = conv(x, W) (valid, stride 1) and output pixel (s a + p, s b + q),

    y[o, s a + p, s b + q] = sum_{c,u,v} W[o, c, u, v] x[c, s a + p + u, s b + q + v]
                           = sum_{c,i,j} W'[(o, p, q), c, i, j] x[c, s a + i, s b + j],
    W'[(o, p, q), c, i, j] = W[o, c, i - p, j - q]   (0 where i - p or j - q is outside [0, k))

a convolution with stride s and a (k + s - 1)^2 kernel, exact whenever s divides k - 1 and the
input's height and width. Inside ``TransformerNet`` they always do: the network pads its input
to a multiple of 4 and the output layer's reflection pad adds 4 pixels to each side.

**Sub-pixel upsampling** (:class:`SubpixelUpsampleConv`). Johnson's ``u`` stages upsample by
nearest neighbour, reflection-pad by 1 and apply a 3x3 convolution. Output pixel (2i + a,
2j + b) then sees the upsampled rows 2i + a - 1 .. 2i + a + 1, which are only two distinct
input rows: i - 1, i, i for a = 0 and i, i, i + 1 for a = 1. So each of the four phases (a, b)
is a 2x2 convolution of the *input*, whose taps are sums of the 3x3 taps:

    K_ab[r, s] = sum_{u in R_a[r], v in R_b[s]} W[u, v],   R_0 = ({0}, {1, 2}), R_1 = ({0, 1}, {2})
    y[2i + a, 2j + b] = sum_{r,s} K_ab[r, s] x_p[i + a + r, j + b + s]

with x_p the input replicate-padded by 1: at the border the reflection of the upsampled image
repeats the first (last) input row, which is what replication gives. All four phases are one
2x2 convolution with 4 C_out outputs on the padded input, sliced and pixel-shuffled: 16 instead
of 36 multiply-adds per input pixel, channel and output, and no 4x upsampled copy of the input.
On a 2-core Xeon the two ``u`` stages ran 2-3x faster at 512 px in eager PyTorch and the whole
Johnson network 5-32 % faster (``scripts/benchmark_fast_convs.py``). On ONNX Runtime runs
beside other jobs disagreed (-12 % to +18 %); on the idle machine the network ran 9-11 % faster
at 512 px and 1080p, so exports use it too.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fastnst.models.layers import ConditionalInstanceNorm2d
from fastnst.models.transformer import UpsampleConv

BLOCK = 4
MAX_OUT_CHANNELS = 4  # rewrite only convolutions this narrow ...
MIN_IN_CHANNELS = 16  # ... and this wide (narrow inputs are cheap as they are)


def blocked_weight(weight: Tensor, block: int) -> Tensor:
    """W' of the module docstring: (O, C, k, k) -> (O s^2, C, k + s - 1, k + s - 1), rows in
    ``pixel_shuffle`` order (o, p, q)."""
    out_ch, in_ch, k, k_w = weight.shape
    if k != k_w:
        raise ValueError(f"square kernels only, got {k}x{k_w}")
    size = k + block - 1
    blocked = weight.new_zeros(out_ch, block, block, in_ch, size, size)
    for p in range(block):
        for q in range(block):
            blocked[:, p, q, :, p : p + k, q : q + k] = weight
    return blocked.reshape(out_ch * block * block, in_ch, size, size)


class BlockedConv2d(nn.Module):
    """A stride-1, unpadded ``nn.Conv2d`` evaluated s x s output pixels at a time (same output).

    Shape:
        (N, C, H, W) with H and W multiples of ``block`` -> (N, O, H - k + 1, W - k + 1).
    """

    def __init__(self, conv: nn.Conv2d, block: int = BLOCK) -> None:
        super().__init__()
        if conv.stride != (1, 1) or conv.padding != (0, 0) or conv.groups != 1:
            raise ValueError("only stride-1, unpadded, ungrouped convolutions can be blocked")
        if (conv.kernel_size[0] - 1) % block:
            raise ValueError(f"block {block} must divide kernel size - 1 ({conv.kernel_size})")
        self.block = block
        weight = conv.weight.detach()
        bias = conv.bias.detach() if conv.bias is not None else weight.new_zeros(len(weight))
        self.register_buffer("weight", blocked_weight(weight, block))
        self.register_buffer("bias", bias.repeat_interleave(block * block))

    def forward(self, x: Tensor) -> Tensor:
        return F.pixel_shuffle(F.conv2d(x, self.weight, self.bias, stride=self.block), self.block)


PHASE_TAPS = (((0,), (1, 2)), ((0, 1), (2,)))  # R_a of the module docstring


def subpixel_weight(weight: Tensor) -> Tensor:
    """K of the module docstring: (O, C, 3, 3) -> (4 O, C, 2, 2), rows in ``pixel_shuffle``
    order (o, a, b)."""
    out_ch, in_ch = weight.shape[:2]
    if weight.shape[2:] != (3, 3):
        raise ValueError(f"sub-pixel upsampling needs a 3x3 kernel, got {tuple(weight.shape)}")
    phases = weight.new_zeros(out_ch, 2, 2, in_ch, 2, 2)
    for a, rows in enumerate(PHASE_TAPS):
        for b, cols in enumerate(PHASE_TAPS):
            for r, taps_r in enumerate(rows):
                for s, taps_s in enumerate(cols):
                    phases[:, a, b, :, r, s] = weight[:, :, list(taps_r)][..., list(taps_s)].sum(
                        (2, 3)
                    )
    return phases.reshape(out_ch * 4, in_ch, 2, 2)


class SubpixelUpsampleConv(nn.Module):
    """An ``UpsampleConv`` (nearest 2x, reflection pad 1, 3x3 convolution, norm, ReLU) with the
    upsampling and convolution computed at the input's resolution (same output).

    Shape:
        (N, C, H, W) -> (N, O, 2H, 2W), for any H, W >= 1.
    """

    def __init__(self, upsample: UpsampleConv) -> None:
        super().__init__()
        pad, conv, *rest = upsample.conv
        if not isinstance(pad, nn.ReflectionPad2d) or pad.padding != (1, 1, 1, 1):
            raise ValueError("sub-pixel upsampling needs a reflection pad of 1")
        if conv.kernel_size != (3, 3) or conv.stride != (1, 1) or conv.groups != 1:
            raise ValueError("sub-pixel upsampling needs an ungrouped 3x3, stride-1 convolution")
        bias = (
            conv.bias.detach() if conv.bias is not None else conv.weight.new_zeros(len(conv.weight))
        )
        self.register_buffer("weight", subpixel_weight(conv.weight.detach()))
        self.register_buffer("bias", bias.repeat_interleave(4))
        self.after = nn.ModuleList(rest)  # norm (plain or conditional) and ReLU, as they were

    def forward(self, x: Tensor, weights: Tensor | None = None) -> Tensor:
        h, w = x.shape[-2:]
        y = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), self.weight, self.bias)
        y = y.unflatten(1, (-1, 2, 2))  # (N, O, a, b, H + 1, W + 1)
        phases = [y[:, :, a, b, a : a + h, b : b + w] for a in range(2) for b in range(2)]
        y = F.pixel_shuffle(torch.stack(phases, 2).flatten(1, 2), 2)
        for layer in self.after:
            y = layer(y, weights) if isinstance(layer, ConditionalInstanceNorm2d) else layer(y)
        return y


def with_fast_convs(model: nn.Module, *, upsampling: bool = True) -> nn.Module:
    """A copy of ``model`` with the rewrites of the module docstring: its narrow, wide-input
    output convolution (``model.net[-1]``, at most 4 outputs from at least 16 inputs, kernel 9)
    a :class:`BlockedConv2d`, and with ``upsampling`` its ``UpsampleConv`` stages
    :class:`SubpixelUpsampleConv` s; ``model`` itself, unchanged, when nothing applies. For
    inference and export only: the copy's state dict differs, so it is never saved as a
    checkpoint."""
    net = getattr(model, "net", None)
    if not isinstance(net, nn.Sequential):
        return model
    found = [i for i, layer in enumerate(net) if isinstance(layer, UpsampleConv)]
    upsampling = found if upsampling else []
    last = net[-1]
    conv = last[1] if isinstance(last, nn.Sequential) and len(last) > 1 else None
    blockable = (
        isinstance(conv, nn.Conv2d) and conv.stride == (1, 1) and conv.groups == 1
        and conv.out_channels <= MAX_OUT_CHANNELS and conv.in_channels >= MIN_IN_CHANNELS
        and (conv.kernel_size[0] - 1) % BLOCK == 0
    )  # fmt: skip
    if not (blockable or upsampling):
        return model
    fast = copy.deepcopy(model)
    with torch.no_grad():
        if blockable:
            fast.net[-1][1] = BlockedConv2d(conv)
        for i in upsampling:
            fast.net[i] = SubpixelUpsampleConv(net[i])
    return fast
