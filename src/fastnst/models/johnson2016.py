"""Johnson, Alahi & Fei-Fei's transform network exactly as their Torch7 code builds it.

Johnson, Alahi & Fei-Fei, "Perceptual Losses for Real-Time Style Transfer and Super-Resolution",
ECCV 2016; code and the ten published models: jcjohnson/fast-neural-style (``models.lua`` with
``train.lua``'s defaults ``c9s1-32,d64,d128,R128 x5,u64,u32,c9s1-3``, ``padding_type``
``reflect-start``, ``tanh_constant`` 150, ``preprocessing`` vgg). On our [0, 1] RGB images:

    x' = 255 flip(x) - m                           (preprocess.lua: RGB -> BGR, 0-255, minus mean)
    y' = 150 tanh(net(reflect_pad_40(x')))        (40 = 8 px per residual block)
    y  = flip((y' + m) / 255)                      (deprocess), m = (103.939, 116.779, 123.68) BGR

``net``: a 9x9 convolution (zero padding 4), two 3x3 stride-2 convolutions (zero padding 1),
residual blocks of two *unpadded* 3x3 convolutions whose skip is cropped by 2 px per side
(``ShaveImage``), two 3x3 transposed convolutions (stride 2, padding 1, output padding 1) and a
9x9 convolution (zero padding 4). Every convolution but the last is followed by a norm and a
ReLU, except the second of each residual block (norm only). The norm is a batch norm with its
running statistics in the ``eccv16`` models (``fast_neural_style.lua`` calls
``model:evaluate()``) and an instance norm (Ulyanov et al. 2016) in the ``instance_norm`` ones.
Unlike :class:`~fastnst.models.transformer.TransformerNet` (nearest upsampling, reflection at
every convolution, [0, 1] output) this is their network unchanged, so their weights load as
they are (BGR channel order included). Deliberate deviations, all outside what their code runs:

- A side that is not a multiple of 4 makes their network emit up to 3 extra rows or columns at
  the bottom and right, computed from the reflected border; they are cropped here, so the output
  has the input's size (the kept pixels are exactly theirs).
- Their 40 px reflection fails on images of 40 px or less; here the reflection repeats
  (mirroring back and forth), which is identical to theirs wherever theirs runs.
- ``median_filter`` k (their script's ``-median_filter``, default 3 there, 0 = off here) pads
  by replicating the border, so the size is kept; they filter only the interior and lose
  (k - 1) / 2 px per side. The interior is identical (a median commutes with the monotone
  deprocessing and with the final clamp to [0, 1]).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fastnst.errors import FastNSTError

VGG_MEAN_BGR = (103.939, 116.779, 123.68)  # preprocess.lua's vgg_mean
NORMS = ("batch", "instance")


def _norm(kind: str, channels: int, eps: float) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels, eps=eps)
    return nn.InstanceNorm2d(channels, eps=eps, affine=True)


class ShavedResidual(nn.Module):
    """norm(conv(ReLU(norm(conv(x))))) + x cropped by 2 px per side (unpadded 3x3 convs)."""

    def __init__(self, channels: int, norm: str, eps: float) -> None:
        super().__init__()
        c = channels
        self.block = nn.Sequential(
            nn.Conv2d(c, c, 3), _norm(norm, c, eps), nn.ReLU(),
            nn.Conv2d(c, c, 3), _norm(norm, c, eps),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x) + x[..., 2:-2, 2:-2]


def reflect_pad(x: Tensor, pad: int) -> Tensor:
    """Reflection padding by ``pad`` px per side that repeats when ``pad`` >= the side.

    Index i in [-pad, n + pad) reads row r(i) = min(j, P - j) with j = i mod P, P = 2 (n - 1):
    PyTorch's (and Torch7's) reflection when pad < n. Gathering keeps H, W symbolic in export.
    """
    for dim in (-2, -1):
        n = x.shape[dim]
        index = torch.arange(-pad, n + pad, device=x.device)
        period = index.new_ones(()) * torch.sym_max(2 * n - 2, 1)  # a tensor, for ONNX export
        index = index.remainder(period)
        x = x.index_select(dim, torch.minimum(index, period - index))
    return x


def median_filter(x: Tensor, size: int) -> Tensor:
    """The median of each ``size`` x ``size`` window, border replicated; (N, C, H, W) kept."""
    r = size // 2
    windows = F.pad(x, (r, r, r, r), mode="replicate").unfold(2, size, 1).unfold(3, size, 1)
    return windows.reshape(*x.shape, size * size).median(dim=-1).values  # (N, C, H, W)


class Johnson2016Net(nn.Module):
    """Their transform network (see module): RGB in [0, 1], (N, 3, H, W) -> (N, 3, H, W).

    Args:
        encoder: Channels of the three encoder convolutions (32, 64, 128 in ``eccv16``; 16, 32,
            64 in ``instance_norm``); the residual blocks have the last one's.
        decoder: Channels of the two transposed convolutions.
        num_residual_blocks: Residual blocks (5).
        norm: ``"batch"`` (running statistics) or ``"instance"``.
        eps: The norms' epsilon (Torch7's default 1e-5).
        tanh_scale: The constant after the tanh (``tanh_constant``, 150).
        median_filter: 0 (off) or the odd window of their script's median filter (3).
    """

    arch = "johnson2016"
    export_any_size = True  # reflect_pad gathers by index: export keeps H, W symbolic

    def __init__(
        self, encoder: Sequence[int] = (32, 64, 128), decoder: Sequence[int] = (64, 32),
        num_residual_blocks: int = 5, norm: str = "batch", eps: float = 1e-5,
        tanh_scale: float = 150.0, median_filter: int = 0,
    ) -> None:  # fmt: skip
        super().__init__()
        e, d = [int(c) for c in encoder], [int(c) for c in decoder]
        bad_filter = median_filter < 0 or (median_filter > 0 and median_filter % 2 == 0)
        if norm not in NORMS or len(e) != 3 or len(d) != 2 or bad_filter:
            raise FastNSTError(
                f"johnson2016 needs norm in {NORMS}, 3 encoder and 2 decoder widths and an odd "
                f"median_filter or 0; got {norm!r}, {e}, {d}, {median_filter}"
            )
        self.config = {
            "encoder": e, "decoder": d, "num_residual_blocks": num_residual_blocks,
            "norm": norm, "eps": eps, "tanh_scale": tanh_scale,
            "median_filter": median_filter,
        }  # fmt: skip
        self.pad = 8 * num_residual_blocks  # what each block's 16 px of unpadded convs take
        self.tanh_scale, self.median_filter = tanh_scale, median_filter
        self.num_styles = 1
        self.register_buffer("mean", torch.tensor(VGG_MEAN_BGR).view(1, 3, 1, 1), persistent=False)

        def stage(conv: nn.Module, cout: int) -> list[nn.Module]:
            return [conv, _norm(norm, cout, eps), nn.ReLU()]

        self.net = nn.Sequential(
            *stage(nn.Conv2d(3, e[0], 9, padding=4), e[0]),
            *stage(nn.Conv2d(e[0], e[1], 3, stride=2, padding=1), e[1]),
            *stage(nn.Conv2d(e[1], e[2], 3, stride=2, padding=1), e[2]),
            *(ShavedResidual(e[2], norm, eps) for _ in range(num_residual_blocks)),
            *stage(nn.ConvTranspose2d(e[2], d[0], 3, 2, padding=1, output_padding=1), d[0]),
            *stage(nn.ConvTranspose2d(d[0], d[1], 3, 2, padding=1, output_padding=1), d[1]),
            nn.Conv2d(d[1], 3, 9, padding=4),
        )

    def forward(self, x: Tensor, style: Tensor | None = None) -> Tensor:
        """Stylize ``x`` (B, 3, H, W); ``style`` is ignored (one style)."""
        h, w = x.shape[-2:]
        bgr = x.flip(1) * 255 - self.mean  # (B, 3, H, W), their input
        y = self.tanh_scale * torch.tanh(self.net(reflect_pad(bgr, self.pad)))
        out = ((y + self.mean) / 255).flip(1)[..., :h, :w]
        return median_filter(out, self.median_filter) if self.median_filter else out
