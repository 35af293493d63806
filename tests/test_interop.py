"""pytorch/examples fast_neural_style checkpoints load into our network and compute the same."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from numerics import assert_close_fp32
from torch import nn

from fastnst import FastNSTError, Stylizer
from fastnst.models.checkpoint import load_style_checkpoint


class ExamplesConv(nn.Module):
    """pytorch/examples ``ConvLayer`` (optionally with its 2x nearest upsampling first)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, upsample: bool = False):
        super().__init__()
        self.upsample = upsample
        self.reflection_pad = nn.ReflectionPad2d(kernel // 2)
        self.conv2d = nn.Conv2d(cin, cout, kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = nn.functional.interpolate(x, mode="nearest", scale_factor=2)
        return self.conv2d(self.reflection_pad(x))


class ExamplesResidual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1, self.in1 = (
            ExamplesConv(channels, channels, 3),
            nn.InstanceNorm2d(channels, affine=True),
        )
        self.conv2, self.in2 = (
            ExamplesConv(channels, channels, 3),
            nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.in2(self.conv2(torch.relu(self.in1(self.conv1(x)))))


class ExamplesTransformerNet(nn.Module):
    """The pytorch/examples ``TransformerNet``, written out independently: 0-255 in and out."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.in1 = ExamplesConv(3, 32, 9), nn.InstanceNorm2d(32, affine=True)
        self.conv2, self.in2 = ExamplesConv(32, 64, 3, 2), nn.InstanceNorm2d(64, affine=True)
        self.conv3, self.in3 = ExamplesConv(64, 128, 3, 2), nn.InstanceNorm2d(128, affine=True)
        for index in range(1, 6):
            setattr(self, f"res{index}", ExamplesResidual(128))
        self.deconv1, self.in4 = (
            ExamplesConv(128, 64, 3, upsample=True),
            nn.InstanceNorm2d(64, affine=True),
        )
        self.deconv2, self.in5 = (
            ExamplesConv(64, 32, 3, upsample=True),
            nn.InstanceNorm2d(32, affine=True),
        )
        self.deconv3 = ExamplesConv(32, 3, 9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.in1(self.conv1(x)))
        y = torch.relu(self.in2(self.conv2(y)))
        y = torch.relu(self.in3(self.conv3(y)))
        for index in range(1, 6):
            y = getattr(self, f"res{index}")(y)
        y = torch.relu(self.in4(self.deconv1(y)))
        y = torch.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


def examples_checkpoint(path: Path, *, old_keys: bool = True) -> ExamplesTransformerNet:
    torch.manual_seed(0)
    reference = ExamplesTransformerNet().eval()
    state = reference.state_dict()
    for key in list(state):
        if key.startswith("in") or ".in" in key:
            state[key] = torch.randn_like(state[key]) * 0.3 + (1 if key.endswith("weight") else 0)
    reference.load_state_dict(state)
    if old_keys:  # what pre-0.4 InstanceNorm2d saved; the example deletes them before loading
        for index in range(1, 6):
            state[f"in{index}.running_mean"] = torch.zeros_like(state[f"in{index}.weight"])
            state[f"in{index}.running_var"] = torch.ones_like(state[f"in{index}.weight"])
    torch.save(state, path)
    return reference


def test_examples_state_dict_loads_and_gives_the_same_output(tmp_path: Path) -> None:
    reference = examples_checkpoint(tmp_path / "candy.pth")
    checkpoint = load_style_checkpoint(tmp_path / "candy.pth")
    assert checkpoint.style == "candy"
    x = torch.rand(1, 3, 48, 64)
    with torch.no_grad():
        expected = reference(x * 255) / 255
        ours = checkpoint.model(x)
    # 16 layers (3 down, 5 residual blocks of 2, 2 up, 1 out); the 255 scale folded into the
    # first and last convolutions: relative rounding, so at the reference's own scale
    assert_close_fp32(ours, expected, depth=16, what="folded 255 scale")
    styled = Stylizer.from_checkpoint(tmp_path / "candy.pth", device="cpu")(x)
    assert_close_fp32(styled, expected.clamp(0, 1), depth=16, what="the Stylizer")


def test_foreign_keys_are_a_one_line_error(tmp_path: Path) -> None:
    torch.save(
        {"conv1.conv2d.weight": torch.zeros(32, 3, 9, 9), "fc.weight": torch.zeros(2)},
        tmp_path / "x.pth",
    )
    with pytest.raises(FastNSTError, match="unexpected key 'fc.weight'"):
        load_style_checkpoint(tmp_path / "x.pth")
