"""The output convolution rewritten for speed: the same function, computed as a strided
convolution with many output channels and a pixel shuffle, instead of a 9x9 one with three.

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
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

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


def with_fast_output_conv(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose narrow, wide-input output convolution (``model.net[-1]``, at
    most 4 outputs from at least 16 inputs, kernel 9) is a :class:`BlockedConv2d`; ``model``
    itself, unchanged, when it has none. For inference and export only: the copy's state dict
    differs, so it is never saved as a checkpoint."""
    net = getattr(model, "net", None)
    last = net[-1] if isinstance(net, nn.Sequential) else None
    conv = last[1] if isinstance(last, nn.Sequential) and len(last) > 1 else None
    if not isinstance(conv, nn.Conv2d) or conv.stride != (1, 1) or conv.groups != 1:
        return model
    narrow = conv.out_channels <= MAX_OUT_CHANNELS and conv.in_channels >= MIN_IN_CHANNELS
    if not narrow or (conv.kernel_size[0] - 1) % BLOCK:
        return model
    fast = copy.deepcopy(model)
    with torch.no_grad():
        fast.net[-1][1] = BlockedConv2d(conv)
    return fast
