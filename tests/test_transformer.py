"""The transform network: shapes, heads, sizes, architecture of Johnson et al."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fastnst.errors import FastNSTError
from fastnst.models import TransformerNet


@pytest.mark.parametrize("size", [(1, 1), (3, 5), (17, 31), (32, 32), (45, 64)])
def test_any_size_comes_out_at_its_size(size: tuple[int, int]) -> None:
    model = TransformerNet(width=4, num_residual_blocks=1).eval()
    out = model(torch.rand(2, 3, *size))
    assert out.shape == (2, 3, *size)


def test_paper_architecture_channels_and_kernels() -> None:
    model = TransformerNet()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    shapes = [(c.in_channels, c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs]
    assert shapes[:3] == [(3, 32, 9, 1), (32, 64, 3, 2), (64, 128, 3, 2)]
    assert shapes[3:13] == [(128, 128, 3, 1)] * 10  # 5 residual blocks of two convs
    assert shapes[13:] == [(128, 64, 3, 1), (64, 32, 3, 1), (32, 3, 9, 1)]
    norms = [m for m in model.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert len(norms) == 15 and all(n.affine for n in norms)
    assert sum(isinstance(m, nn.ReflectionPad2d) for m in model.modules()) == 16


@pytest.mark.parametrize(("head", "low", "high"), [("sigmoid", 0, 1), ("tanh", 0, 1)])
def test_bounded_heads_stay_in_range(head: str, low: float, high: float) -> None:
    model = TransformerNet(width=4, num_residual_blocks=1, head=head)
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.normal_(module.weight, std=3.0)
    out = model(torch.rand(1, 3, 16, 16))
    assert out.min() >= low and out.max() <= high
    assert out.max() - out.min() > 0.5


def test_width_blocks_and_config_rebuild_the_same_network() -> None:
    model = TransformerNet(width=8, num_residual_blocks=2, head="sigmoid")
    clone = TransformerNet(**model.config)
    clone.load_state_dict(model.state_dict())
    x = torch.rand(1, 3, 20, 24)
    assert torch.equal(model.eval()(x), clone.eval()(x))
    assert sum(p.numel() for p in model.parameters()) < sum(
        p.numel() for p in TransformerNet().parameters()
    )


def test_unknown_head_is_refused() -> None:
    with pytest.raises(FastNSTError, match="model.head"):
        TransformerNet(head="relu")
