"""AdaIN (Huang & Belongie 2017): the function, the network, its encoder and its loss."""

from __future__ import annotations

import pytest
import torch
from numerics import assert_close_fp32

from fastnst.losses.adain import adain_loss
from fastnst.models import build_model
from fastnst.models.adain import (
    AdaINNet,
    adain,
    blend_statistics,
    feature_statistics,
    pad_to_multiple,
)


@pytest.fixture(scope="module")
def net() -> AdaINNet:
    torch.manual_seed(0)
    model = AdaINNet()
    model.encoder.load_vgg("random", seed=0)
    return model.eval()


def test_adain_matches_a_hand_computed_example() -> None:
    content = torch.tensor([[[[1.0, 3.0]], [[0.0, 4.0]]]])  # (1, 2, 1, 2): mu 2, 2; sigma 1, 2
    style = torch.tensor([[[[10.0, 14.0, 10.0, 14.0]], [[-1.0, -1.0, -1.0, -1.0]]]])
    # channel 0: mu 12, sigma 2 -> 2 (x - 2) / 1 + 12; channel 1: mu -1, sigma 0 -> -1
    expected = torch.tensor([[[[10.0, 14.0]], [[-1.0, -1.0]]]])
    torch.testing.assert_close(adain(content, style, eps=0.0), expected)


def test_adain_takes_statistics_and_gives_the_style_statistics() -> None:
    content, style = torch.randn(2, 4, 5, 6), torch.randn(1, 4, 7, 3) * 3 + 1
    out = adain(content, style)
    torch.testing.assert_close(adain(content, feature_statistics(style)), out)
    torch.testing.assert_close(
        feature_statistics(out), feature_statistics(style).expand(2, -1, -1), atol=1e-4, rtol=1e-4
    )


def test_blended_statistics_equal_the_blend_of_adain_outputs() -> None:
    content, styles = torch.randn(1, 4, 6, 6), torch.randn(3, 4, 5, 5) * 2
    weights = torch.tensor([0.5, 0.3, 0.2])
    explicit = sum(w * adain(content, s[None]) for w, s in zip(weights, styles, strict=True))
    blended = adain(content, blend_statistics(feature_statistics(styles), weights * 10))
    assert_close_fp32(blended, explicit, depth=2, what="statistics, then the normalization")
    with pytest.raises(ValueError, match="weights"):
        blend_statistics(feature_statistics(styles), torch.tensor([1.0, -1.0, 0.0]))


@pytest.mark.parametrize("size", [(37, 29), (5, 3), (64, 64)])
def test_the_network_keeps_any_size(net: AdaINNet, size: tuple[int, int]) -> None:
    content, style = torch.rand(2, 3, *size), torch.rand(1, 3, 40, 24)
    with torch.no_grad():
        out = net(content, style)
    assert out.shape == (2, 3, *size)
    assert pad_to_multiple(content).shape[-2:] == tuple(max(16, n + -n % 8) for n in size)


def test_statistics_alpha_and_style_images_agree(net: AdaINNet) -> None:
    content, style = torch.rand(1, 3, 32, 40), torch.rand(1, 3, 48, 48)
    with torch.no_grad():
        stats = net.style_statistics(style)
        full = net(content, style)
        own = net.decoder(net.encoder(content, deepest_only=True)[0])
        torch.testing.assert_close(net(content, style_stats=stats), full)
        torch.testing.assert_close(net(content, torch.rand(1, 3, 32, 32), alpha=0.0), own)
        half = net(content, style, alpha=0.5)
    assert stats.shape == (1, 2, 512)
    assert not torch.allclose(half, full) and not torch.allclose(half, own)


def test_encoder_is_torchvision_vgg19_and_frozen(net: AdaINNet) -> None:
    from fastnst.vgg import VGGFeatures

    reference = VGGFeatures("vgg19", ["relu1_1", "relu2_1", "relu3_1", "relu4_1"], weights="random")
    image = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        ours, theirs = net.encoder(image), reference(image)
    for name, tensor in zip(reference.layers, ours, strict=True):
        torch.testing.assert_close(tensor, theirs[name])
    net.train()
    assert not net.encoder.training and net.decoder.training
    assert not any(p.requires_grad for p in net.encoder.parameters())
    net.eval()


def test_build_model_rebuilds_from_config(net: AdaINNet) -> None:
    rebuilt = build_model("adain", **net.config)
    rebuilt.load_state_dict(net.state_dict())  # the encoder's weights are in the state dict
    assert any(key.startswith("encoder.features.") for key in net.state_dict())
    content, style = torch.rand(1, 3, 24, 24), torch.rand(1, 3, 24, 24)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(content, style), net(content, style))


def test_loss_is_zero_at_the_targets_and_scale_free() -> None:
    torch.manual_seed(0)
    style = [torch.rand(2, c, 8, 8) for c in (4, 6, 8, 10)]
    target = style[3]
    exact = adain_loss(style, target, style)
    assert float(exact["total"]) == pytest.approx(0.0, abs=1e-6)
    output = [torch.rand(2, c, 8, 8) for c in (4, 6, 8, 10)]
    target = torch.rand(2, 10, 8, 8)
    base = adain_loss(output, target, style)
    scaled = adain_loss([7 * f for f in output], 7 * target, [7 * f for f in style])
    assert float(base["total"]) > 0.01
    assert_close_fp32(scaled["total"], base["total"], depth=2, what="statistics, then the loss")
    assert set(base) == {"total", "content", "style", "style_relu1_1", "style_relu2_1",
                         "style_relu3_1", "style_relu4_1"}  # fmt: skip


def test_paper_loss_matches_a_hand_computed_example() -> None:
    output = [torch.zeros(1, 1, 2, 2)] * 4  # mu 0, sigma sqrt(eps)
    style = [torch.tensor([[[[1.0, 3.0], [1.0, 3.0]]]])] * 4  # mu 2, sigma 1 (eps aside)
    target = torch.full((1, 1, 2, 2), 0.5)
    terms = adain_loss(output, target, style, style_weight=10.0, normalization="paper")
    assert float(terms["content"]) == pytest.approx(0.25)
    per_layer = 2**2 + ((1 + 1e-5) ** 0.5 - 1e-5**0.5) ** 2  # (mu_y - mu_s)^2 + (sigma ...)^2
    assert float(terms["style"]) == pytest.approx(4 * per_layer, rel=1e-5)
    assert float(terms["total"]) == pytest.approx(0.25 + 10 * 4 * per_layer, rel=1e-5)
