"""The fp32 tolerance helper: it passes what only rounding tells apart and fails real bugs."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from numerics import (
    FP32_EPS,
    LAYER_ROUNDING,
    NORM_GAIN,
    assert_close_fp32,
    fp32_tolerance,
    photo_scale,
)
from torch import nn

from fastnst.models import TransformerNet


def test_the_bound_is_512_eps_per_layer_and_below_real_bugs() -> None:
    assert FP32_EPS == 2.0**-23 and LAYER_ROUNDING == 512 * FP32_EPS
    assert fp32_tolerance(10) == pytest.approx(6.1035e-4, rel=1e-4)
    assert fp32_tolerance(3, scale=4.0) == 12 * LAYER_ROUNDING
    assert fp32_tolerance(18) < 1e-2 / 4  # a VGG encoder and decoder: still 4x below a bug
    assert fp32_tolerance(1, terms=16) == 32 * FP32_EPS  # 2 lambda sqrt(16) u: a short sum
    with pytest.raises(ValueError, match="depth"):
        fp32_tolerance(0)


def test_summation_orders_pass_at_depth_one() -> None:
    """One dot product of 4096 terms: sequential (the worst order), blocked (BLAS), in fp64."""
    torch.manual_seed(0)
    a, b = torch.randn(4096), torch.randn(4096)
    products = a * b
    sequential = products.cumsum(0)[-1]
    exact = (a.double() * b.double()).sum().float()
    scale = float(products.abs().sum())  # the sum cancels: its terms set the rounding
    for value in (a @ b, products.flip(0).cumsum(0)[-1], products.view(64, 64).sum(0).sum()):
        assert_close_fp32(value, sequential, depth=1, scale=scale, what="reordered sum")
    assert_close_fp32(sequential, exact, depth=1, scale=scale, what="fp32 against fp64")


def _conv_by_unfold(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """The naive convolution: every 3x3 window as a column, one matrix product."""
    n, _, h, w = x.shape
    columns = F.unfold(F.pad(x, (1, 1, 1, 1), mode="reflect"), conv.kernel_size)
    out = conv.weight.flatten(1) @ columns + conv.bias[:, None]
    return out.view(n, -1, h, w)


def _three_layers(conv: nn.Conv2d, x: torch.Tensor, by_unfold: bool) -> torch.Tensor:
    """conv-norm-relu twice, then the conv alone (an output layer: no norm to absorb its bias)."""
    for layer in range(3):
        y = _conv_by_unfold(x, conv) if by_unfold else conv(F.pad(x, (1, 1, 1, 1), mode="reflect"))
        x = F.relu(F.instance_norm(y)) if layer < 2 else y
    return x


def test_a_convolution_by_unfold_and_matmul_passes_and_a_wrong_bias_fails() -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(16, 16, 3)
    x = torch.rand(2, 16, 21, 17)
    with torch.no_grad():
        expected = _three_layers(conv, x, by_unfold=False)
        assert_close_fp32(_three_layers(conv, x, True), expected, depth=3, what="unfold")
        channels_last = x.contiguous(memory_format=torch.channels_last)
        assert_close_fp32(_three_layers(conv, channels_last, False), expected, depth=3)
        conv.bias[3] += 0.05  # a wrong bias in one channel: a bug, not rounding
        with pytest.raises(AssertionError, match="fp32 rounding through 3 layers"):
            assert_close_fp32(_three_layers(conv, x, True), expected, depth=3, what="wrong bias")


def test_the_network_in_fp32_is_within_the_bound_of_fp64_down_to_one_pixel() -> None:
    """Ten layers; 1 x 1 is the ill-conditioned case (instance norm of a constant map)."""
    assert photo_scale(1, 1) == NORM_GAIN == pytest.approx(316.2, abs=0.1)
    assert photo_scale(1, 2) == 1.0
    torch.manual_seed(0)
    model = TransformerNet(width=8, num_residual_blocks=2, head="tanh").eval()
    exact = copy.deepcopy(model).double()
    with torch.no_grad():
        for size in [(1, 1), (5, 7), (37, 50)]:
            x = torch.rand(1, 3, *size)
            scale = photo_scale(*size)
            assert_close_fp32(model(x), exact(x.double()), depth=10, scale=scale, what=str(size))
        model.net[0][0] = nn.ZeroPad2d(4)  # zero padding instead of reflection: a bug
        with pytest.raises(AssertionError, match="through 10 layers"):
            assert_close_fp32(model(x), exact(x.double()), depth=10, scale=1.0)
