"""The lean network family (model=johnson_fast) and the blocked output convolution."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from numerics import assert_close_fp32, photo_scale
from torch import nn

from fastnst.errors import FastNSTError
from fastnst.models import TransformerNet, build_model
from fastnst.models.fast_conv import (
    BlockedConv2d,
    SubpixelUpsampleConv,
    blocked_weight,
    subpixel_weight,
    with_fast_convs,
)
from fastnst.models.transformer import UpsampleConv


def _conv_shapes(model: nn.Module) -> list[tuple[int, int, int, int, int]]:
    return [
        (c.in_channels, c.out_channels, c.kernel_size[0], c.stride[0], c.groups)
        for c in model.modules()
        if isinstance(c, nn.Conv2d)
    ]


def test_johnson_fast_preset_has_the_lean_shape(make_cfg) -> None:
    model = instantiate(make_cfg("model=johnson_fast").model)
    shapes = _conv_shapes(model)
    assert shapes[:3] == [(3, 16, 9, 1, 1), (16, 32, 3, 2, 1), (32, 32, 3, 2, 1)]
    assert shapes[3:13] == [(32, 32, 3, 1, 1)] * 10
    assert shapes[13:] == [(32, 16, 3, 1, 1), (16, 8, 3, 1, 1), (8, 3, 9, 1, 1)]
    # 3*16*81+16 + 16*32*9+32 + 32*32*9+32 + 10*(32*32*9+32) + (32*16*9+16) + (16*8*9+8)
    # + (8*3*81+3) in convolutions, and 2 * (16 + 32 * 12 + 16 + 8) norm scales and shifts
    convs = 3904 + 4640 + 9248 + 10 * 9248 + 4624 + 1160 + 1947
    assert sum(p.numel() for p in model.parameters()) == convs + 2 * (16 + 32 * 12 + 16 + 8)


def test_lean_config_rebuilds_the_network_and_default_config_is_unchanged() -> None:
    assert TransformerNet().config == {"width": 32, "num_residual_blocks": 5, "head": "none"}
    model = TransformerNet(encoder=[8, 8, 16], decoder=[8, 4], separable=True, num_styles=3)
    assert model.config["encoder"] == [8, 8, 16] and model.config["separable"] is True
    clone = build_model("johnson", **model.config)
    clone.load_state_dict(model.state_dict())
    x = torch.rand(2, 3, 13, 21)
    style = torch.tensor([0, 2])
    assert torch.equal(model.eval()(x, style), clone.eval()(x, style))


def test_separable_residual_blocks_are_depthwise_then_pointwise() -> None:
    model = TransformerNet(encoder=[8, 16, 32], decoder=[16, 8], separable=True)
    residual = _conv_shapes(model)[3:23]
    assert residual == [(32, 32, 3, 1, 32), (32, 32, 1, 1, 1)] * 10
    plain = TransformerNet(encoder=[8, 16, 32], decoder=[16, 8])
    assert sum(p.numel() for p in model.parameters()) < sum(p.numel() for p in plain.parameters())


def test_bad_stage_widths_are_refused() -> None:
    with pytest.raises(FastNSTError, match="model.encoder"):
        TransformerNet(encoder=[32, 32])


@pytest.mark.parametrize(("kernel", "block", "size"), [(9, 4, 24), (5, 2, 10), (3, 2, 8)])
def test_blocked_conv_equals_the_convolution(kernel: int, block: int, size: int) -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(6, 3, kernel)
    x = torch.randn(2, 6, size, size)
    with torch.no_grad():  # random signs cancel: the rounding scales with sum |w x|
        scale = float(F.conv2d(x.abs(), conv.weight.abs(), conv.bias.abs()).max())
        assert_close_fp32(BlockedConv2d(conv, block)(x), conv(x), depth=1, scale=scale)


def test_blocked_weight_by_hand() -> None:
    """A 3x3 kernel blocked by s = 2: the output pixel at block offset (p, q) sees the kernel
    shifted by (p, q) inside a 4x4 window, so row (p, q) = (1, 1) is W in its lower right."""
    weight = torch.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    blocked = blocked_weight(weight, 2)  # (1 * 4, 1, 4, 4)
    assert blocked.shape == (4, 1, 4, 4)
    expected = torch.tensor([[0, 0, 0, 0], [0, 1, 2, 3], [0, 4, 5, 6], [0, 7, 8, 9.0]])
    assert torch.equal(blocked[3, 0], expected)
    assert torch.equal(blocked[0, 0, :3, :3], weight[0, 0]) and blocked[0, 0, 3].sum() == 0


def test_blocked_conv_refuses_kernels_it_cannot_block() -> None:
    with pytest.raises(ValueError, match="divide"):
        BlockedConv2d(nn.Conv2d(4, 3, 4), 4)


def test_subpixel_weight_by_hand() -> None:
    """Phase (a, b) = (0, 1) of a 3x3 kernel: rows {0} and {1, 2}, columns {0, 1} and {2}."""
    weight = torch.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    phases = subpixel_weight(weight)
    assert phases.shape == (4, 1, 2, 2)
    assert phases[1, 0].tolist() == [[1 + 2, 3], [4 + 5 + 7 + 8, 6 + 9]]
    assert phases[0, 0].tolist() == [[1, 2 + 3], [4 + 7, 5 + 6 + 8 + 9]]
    assert float(phases.sum()) == 4 * float(weight.sum())  # every phase uses every tap once


@pytest.mark.parametrize("size", [(1, 2), (2, 3), (5, 8), (17, 12)])
@pytest.mark.parametrize("num_styles", [1, 3])
def test_subpixel_upsampling_equals_upsample_then_conv(size, num_styles: int) -> None:
    torch.manual_seed(0)
    layer = UpsampleConv(6, 5, num_styles=num_styles).eval()
    for parameter in layer.parameters():  # norms away from their identity start
        parameter.data += 0.2 * torch.randn_like(parameter)
    x, style = torch.randn(2, 6, *size), torch.tensor([0.2, 0.3, 0.5])[:num_styles][None]
    weights = style / style.sum() if num_styles > 1 else None
    fast = SubpixelUpsampleConv(layer)
    assert fast(x, weights).shape == (2, 5, 2 * size[0], 2 * size[1])
    assert_close_fp32(fast(x, weights), layer(x, weights), depth=1, what="conv, norm, relu")


def test_subpixel_convolution_is_exact_down_to_one_pixel() -> None:
    """Before the norm (which a 1 x 1 input's constant 2 x 2 output makes ill-conditioned)."""
    torch.manual_seed(0)
    layer = UpsampleConv(4, 3)
    fast = SubpixelUpsampleConv(layer)
    fast.after = nn.ModuleList()
    for size in [(1, 1), (1, 3), (4, 1)]:
        x = torch.randn(1, 4, *size)
        expected = layer.conv[1](layer.conv[0](F.interpolate(x, scale_factor=2, mode="nearest")))
        assert_close_fp32(fast(x), expected, depth=1, what=str(size))


@pytest.mark.parametrize("size", [(1, 1), (7, 13), (33, 64)])
def test_fast_output_conv_keeps_the_network_function(size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    model = TransformerNet(width=16, num_residual_blocks=1).eval()
    fast = with_fast_convs(model)
    assert isinstance(fast.net[-1][1], BlockedConv2d)
    assert [type(layer) for layer in fast.net[-3:-1]] == [SubpixelUpsampleConv] * 2
    assert isinstance(model.net[-1][1], nn.Conv2d)  # the original is left alone
    assert not any(isinstance(layer, SubpixelUpsampleConv) for layer in model.net)
    x = torch.rand(2, 3, *size)
    expected = model(x)  # 3 + 2 + 2 + 1 layers; 1 x 1 is ill-conditioned (numerics.photo_scale)
    scale = photo_scale(*size) * float(expected.abs().max())
    assert_close_fp32(fast(x), expected, depth=8, scale=scale, what=str(size))


def test_fast_output_conv_keeps_multi_style_networks() -> None:
    model = TransformerNet(width=16, num_residual_blocks=1, num_styles=2).eval()
    fast = with_fast_convs(model)
    x, style = torch.rand(1, 3, 20, 20), torch.tensor([0.3, 0.7])
    assert_close_fp32(fast(x, style), model(x, style), depth=8)


def test_narrow_input_output_conv_is_left_as_it_is() -> None:
    model = TransformerNet(encoder=[8, 8, 8], decoder=[8, 4])  # 4 -> 3 channels: cheap already
    fast = with_fast_convs(model)
    assert isinstance(fast.net[-1][1], nn.Conv2d)  # only the upsampling is rewritten
    assert isinstance(fast.net[-2], SubpixelUpsampleConv)
    plain = nn.Conv2d(3, 3, 1)
    assert with_fast_convs(plain) is plain  # no ``net``: returned as it is
    assert with_fast_convs(model, upsampling=False) is model  # the benchmark's "blocked" form


def test_blocked_output_layer_has_48_outputs_and_a_12x12_kernel() -> None:
    """Johnson's 9x9, 32 -> 3 output layer becomes 48 outputs, a 12x12 kernel, stride 4."""
    fast = with_fast_convs(TransformerNet())
    weight = fast.net[-1][1].weight
    assert weight.shape == (48, 32, 12, 12)
    assert fast.net[-1][1](torch.rand(1, 32, 40, 40)).shape == (1, 3, 32, 32)


@pytest.mark.parametrize(
    "kwargs",
    [{"width": 16, "num_residual_blocks": 1}, {"encoder": [16, 16, 16], "decoder": [8, 4]}],
    ids=["folded-output-layer", "lean"],
)
def test_onnx_export_matches_pytorch_on_odd_sizes(tmp_path, kwargs: dict) -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from fastnst.inference.export import INPUT_NAME, export_model

    torch.manual_seed(0)
    model = TransformerNet(num_residual_blocks=kwargs.pop("num_residual_blocks", 2), **kwargs)
    path = export_model(model.eval(), tmp_path / "m.onnx", "onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    depth = len(_conv_shapes(model))  # 8 and 10 layers
    for h, w in [(1, 1), (7, 13), (33, 64)]:
        x = torch.rand(1, 3, h, w)
        (y,) = session.run(None, {INPUT_NAME: x.numpy()})
        with torch.no_grad():
            expected = model(x).clamp(0, 1)
        scale = photo_scale(h, w)
        assert_close_fp32(torch.from_numpy(y), expected, depth=depth, scale=scale, what=f"{h}x{w}")


@pytest.mark.slow  # Inductor compiles for about half a minute on 2 cores
def test_compile_backend_matches_the_torch_backend() -> None:
    from fastnst.inference.stylizer import Stylizer

    torch.manual_seed(0)
    model = TransformerNet(width=16, num_residual_blocks=1).eval()
    x = torch.rand(1, 3, 24, 20)
    compiled = Stylizer(model, device="cpu", backend="compile").stylize(x)
    plain = Stylizer(model, device="cpu", backend="torch").stylize(x)
    assert compiled.shape == plain.shape == (1, 3, 24, 20)
    assert_close_fp32(compiled, plain, depth=8, scale=1.0)
