"""Core loss math against naive loops and hand-computed values, on a tiny encoder (not VGG)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from numerics import assert_close_fp32
from torch import Tensor, nn

from fastnst.errors import FastNSTError
from fastnst.losses import (
    PerceptualLoss,
    StyleLoss,
    content_loss,
    gram_matrix,
    normalized_content_loss,
    relative_total_variation,
    style_distance,
    total_variation,
)


class TinyEncoder(nn.Module):
    """conv ``c1`` (3->4) -> ReLU ``r1`` -> 2x2 avg pool -> conv ``c2`` (4->6) -> ReLU ``r2``."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1)
        for param in self.parameters():
            param.data = torch.randn(param.shape, generator=generator) * 0.5
            param.requires_grad_(False)

    def forward(self, image: Tensor, layers: list[str]) -> dict[str, Tensor]:
        out = {"c1": self.conv1(image)}
        out["r1"] = F.relu(out["c1"])
        out["c2"] = self.conv2(F.avg_pool2d(out["r1"], 2))
        out["r2"] = F.relu(out["c2"])
        return {name: out[name] for name in layers}


def smooth_images(count: int, size: int = 16, seed: int = 0) -> Tensor:
    """``count`` smooth random RGB images in [0, 1], (count, 3, size, size)."""
    low = torch.rand(count, 3, 4, 4, generator=torch.Generator().manual_seed(seed))
    return F.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)


def naive_gram(features: Tensor) -> Tensor:
    b, c, h, w = features.shape
    gram = torch.zeros(b, c, c, dtype=torch.float64)
    for n in range(b):
        for i in range(c):
            for j in range(c):
                gram[n, i, j] = sum(
                    float(features[n, i, y, x]) * float(features[n, j, y, x])
                    for y in range(h)
                    for x in range(w)
                )
    return gram / (c * h * w)


def test_gram_matrix_matches_naive_loop() -> None:
    features = torch.randn(2, 3, 4, 5, generator=torch.Generator().manual_seed(1))
    # fp32 against fp64: sums of H W = 20 products
    assert_close_fp32(gram_matrix(features).double(), naive_gram(features), depth=1, terms=20)


def test_gram_matrix_hand_computed() -> None:
    features = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 1, 2)  # C=2, H=1, W=2
    expected = torch.tensor([[[5.0, 11.0], [11.0, 25.0]]]) / 4  # F F^T / (C H W)
    torch.testing.assert_close(gram_matrix(features), expected)


def test_content_and_style_distance_hand_computed() -> None:
    a = torch.tensor([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 2, 2)
    b = torch.tensor([1.0, 0.0, 3.0, 1.0]).reshape(1, 1, 2, 2)
    assert content_loss(a, b).item() == pytest.approx((0 + 4 + 0 + 9) / 4)
    gram, target = (
        torch.tensor([[[1.0, 2.0], [2.0, 5.0]]]),
        torch.tensor([[[0.0, 2.0], [2.0, 3.0]]]),
    )
    assert style_distance(gram, target).item() == pytest.approx((1 + 0 + 0 + 4) / 4)


def test_total_variation_hand_computed() -> None:
    image = torch.tensor([[0.0, 1.0], [2.0, 4.0]]).reshape(1, 1, 2, 2)
    # vertical differences 2, 3; horizontal differences 1, 2
    assert total_variation(image, p=2).item() == pytest.approx((4 + 9) / 2 + (1 + 4) / 2)
    assert total_variation(image, p=1).item() == pytest.approx((2 + 3) / 2 + (1 + 2) / 2)


def tiny_loss(style_layers: dict[str, float] | None = None, **kwargs: object) -> PerceptualLoss:
    """Content c2, style r1 (weight 1) and r2 (weight 3), w_c=2, w_s=10, w_tv=0.5 unless given."""
    options = {"content_weight": 2.0, "style_weight": 10.0, "tv_weight": 0.5} | kwargs
    layers = {"r1": 1.0, "r2": 3.0} if style_layers is None else style_layers
    return PerceptualLoss(TinyEncoder(), {"c2": 1.0}, layers, **options)


def test_perceptual_loss_terms_compose_as_documented() -> None:
    output, content, style = (
        smooth_images(2, seed=1),
        smooth_images(2, seed=2),
        smooth_images(1, seed=3),
    )
    loss = tiny_loss()
    loss.set_style(style)
    terms = loss(output, content)
    enc = TinyEncoder()
    out, ref, sty = enc(output, ["c2", "r1", "r2"]), enc(content, ["c2"]), enc(style, ["r1", "r2"])
    e1 = torch.mean((gram_matrix(out["r1"]) - gram_matrix(sty["r1"])) ** 2)
    e2 = torch.mean((gram_matrix(out["r2"]) - gram_matrix(sty["r2"])) ** 2)
    content_term = torch.mean((out["c2"] - ref["c2"]) ** 2)
    tv = total_variation(output)
    torch.testing.assert_close(terms["style_r1"], e1)
    torch.testing.assert_close(terms["style_r2"], e2)
    torch.testing.assert_close(terms["content"], content_term)
    torch.testing.assert_close(terms["total"], 2 * content_term + 10 * (e1 + 3 * e2) + 0.5 * tv)


def test_one_style_target_per_painting_non_persistent_buffer() -> None:
    styles = smooth_images(2, seed=4)
    loss = tiny_loss()
    with pytest.raises(RuntimeError, match="set_style"):
        loss(styles[:1], styles[:1])
    loss.set_style([styles[:1], styles[1:, :, :24, :20]])  # paintings of different sizes
    encoder = TinyEncoder()
    expected = torch.cat(
        [gram_matrix(encoder(styles[:1], ["r1"])["r1"]),
         gram_matrix(encoder(styles[1:, :, :24, :20], ["r1"])["r1"])]
    )  # fmt: skip
    torch.testing.assert_close(loss.style_losses["r1"].target, expected)
    assert loss.num_styles == 2
    assert not any(key.endswith("target") for key in loss.state_dict())


def test_each_sample_is_compared_with_its_own_painting() -> None:
    styles, outputs = smooth_images(2, seed=8), smooth_images(2, seed=9)
    both = tiny_loss()
    both.set_style(styles)
    index = torch.tensor([1, 0])
    mixed = both(outputs, outputs, index)["style_r1"]
    singles = []
    for k in (1, 0):
        one = tiny_loss()
        one.set_style(styles[k : k + 1])
        singles.append(one(outputs[len(singles) : len(singles) + 1], outputs[:1])["style_r1"])
    torch.testing.assert_close(mixed, (singles[0] + singles[1]) / 2)
    with pytest.raises(ValueError, match="style="):
        both(outputs, outputs)


def test_gradient_reaches_the_output_only() -> None:
    loss = tiny_loss()
    loss.set_style(smooth_images(1, seed=5))
    output = smooth_images(1, seed=6).requires_grad_(True)
    loss(output, smooth_images(1, seed=7))["total"].backward()
    assert output.grad is not None and output.grad.abs().sum() > 0
    assert all(param.grad is None for param in loss.encoder.parameters())


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"style_statistic": "histogram"}, "loss.style_statistic"),
        ({"style_normalization": "l1"}, "loss.style_normalization"),
        ({"correlation_chain": True, "style_statistic": "mean_std"}, "loss.correlation_chain"),
        ({"log_alpha": 0.5}, "loss.log_alpha"),
        ({"tv_p": 3}, "loss.tv_p"),
        ({"tv_normalization": "photo"}, "loss.tv_normalization"),
        ({"content_features": "whitened"}, "loss.content_features"),
        ({"correlation_chain": True, "style_layers": {"r1": 1.0}}, "at least 2"),
    ],
)
def test_bad_options_name_the_config_key(option: dict[str, object], message: str) -> None:
    with pytest.raises(FastNSTError, match=message):
        tiny_loss(**option)


# The scale-free loss: loss.style_normalization=target, loss.tv_normalization=content.


def test_target_normalization_hand_computed_per_sample() -> None:
    statistic = torch.tensor([[[1.0, 2.0], [2.0, 5.0]], [[1.0, 1.0], [1.0, 1.0]]])
    target = torch.tensor([[[0.0, 2.0], [2.0, 3.0]], [[2.0, 2.0], [2.0, 2.0]]])
    # sample 0: mean diff^2 = (1 + 0 + 0 + 4) / 4, mean target^2 = (0 + 4 + 4 + 9) / 4 -> 5 / 17
    # sample 1: mean diff^2 = 1, mean target^2 = 4 -> 1 / 4; the batch mean of the two ratios
    expected = (5 / 17 + 1 / 4) / 2
    assert style_distance(statistic, target, "target").item() == pytest.approx(expected)
    # a (1, ...) target broadcasts, and so does its denominator
    both = style_distance(statistic, target[:1], "target").item()
    assert both == pytest.approx((5 / 17 + ((1 + 1 + 1 + 4) / 4) / (17 / 4)) / 2)


def test_relative_content_loss_hand_computed_per_image() -> None:
    a = torch.tensor([1.0, 2.0, 3.0, 4.0, 1.0, 1.0, 1.0, 1.0]).reshape(2, 1, 2, 2)
    b = torch.tensor([1.0, 0.0, 3.0, 1.0, 2.0, 2.0, 2.0, 2.0]).reshape(2, 1, 2, 2)
    # image 0: (0 + 4 + 0 + 9) / 4 over (1 + 0 + 9 + 1) / 4 = 13 / 11; image 1: 1 / 4
    assert content_loss(a, b, relative=True).item() == pytest.approx((13 / 11 + 1 / 4) / 2)
    assert content_loss(a, b).item() == pytest.approx((13 + 4) / 8)  # absolute: unchanged


def test_normalized_content_loss_hand_computed() -> None:
    # channel 0: [0, 2] -> (mean 1, std 1) -> [-1, 1]; channel 1 flat -> [0, 0]
    output = torch.tensor([0.0, 2.0, 5.0, 5.0]).reshape(1, 2, 1, 2)
    # channel 0: [3, 1] -> [1, -1]; channel 1: [1, 5] -> (mean 3, std 2) -> [-1, 1]
    target = torch.tensor([3.0, 1.0, 1.0, 5.0]).reshape(1, 2, 1, 2)
    expected = ((-2) ** 2 + 2**2 + 1 + 1) / 4
    assert normalized_content_loss(output, target).item() == pytest.approx(expected, rel=1e-4)


def test_normalized_content_loss_ignores_each_channels_mean_and_scale() -> None:
    features, target = torch.randn(2, 3, 5, 7), torch.randn(2, 3, 5, 7)
    scale, shift = torch.tensor([0.5, 3.0, 20.0]).view(1, 3, 1, 1), torch.randn(2, 3, 1, 1)
    moved = normalized_content_loss(features * scale + shift, target)
    assert moved.item() == pytest.approx(normalized_content_loss(features, target).item(), rel=1e-4)
    assert normalized_content_loss(target, target).item() == pytest.approx(0.0, abs=1e-10)
    assert normalized_content_loss(features, target).item() > 0.5  # unrelated maps differ


def test_normalized_content_features_enter_the_perceptual_loss() -> None:
    output, content = smooth_images(2, seed=1), smooth_images(2, seed=2)
    loss = tiny_loss(content_features="normalized")
    loss.set_style(smooth_images(1, seed=3))
    enc = TinyEncoder()
    expected = normalized_content_loss(enc(output, ["c2"])["c2"], enc(content, ["c2"])["c2"])
    assert loss(output, content)["content"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_relative_total_variation_hand_computed() -> None:
    image = torch.tensor([[0.0, 1.0], [2.0, 4.0]]).reshape(1, 1, 2, 2)  # TV2 = 6.5 + 2.5 = 9
    photo = torch.tensor([[0.0, 1.0], [0.0, 1.0]]).reshape(1, 1, 2, 2)  # TV2 = 0 + 1 = 1
    assert relative_total_variation(image, photo, p=2).item() == pytest.approx(9.0)
    # TV1: image (2 + 3) / 2 + (1 + 2) / 2 = 4, photo 0 + 1 = 1
    assert relative_total_variation(image, photo, p=1).item() == pytest.approx(4.0)
    assert relative_total_variation(photo, photo).item() == pytest.approx(1.0)


def test_style_loss_target_divides_by_each_paintings_own_power() -> None:
    loss = StyleLoss(normalization="target")
    paintings = [torch.rand(1, 3, 5, 5, generator=torch.Generator().manual_seed(k)) for k in (0, 1)]
    loss.set_target([paintings[0] * 3, paintings[1]])  # paintings of very different power
    output = torch.rand(2, 3, 5, 5, generator=torch.Generator().manual_seed(2))
    targets = [gram_matrix(paintings[0] * 3), gram_matrix(paintings[1])]
    index = torch.tensor([1, 0])

    def naive(n: int, target: Tensor) -> float:
        diff = gram_matrix(output[n : n + 1]) - target
        return float((diff**2).mean() / (target**2).mean())

    expected = (naive(0, targets[1]) + naive(1, targets[0])) / 2
    assert loss(output, style=index).item() == pytest.approx(expected, rel=1e-5)
    per_batch = torch.cat([targets[1], targets[0]])  # the same targets passed per batch
    assert loss(output, target=per_batch).item() == pytest.approx(expected, rel=1e-5)


class ScaledEncoder(nn.Module):
    """TinyEncoder with every feature map multiplied by a constant ``k``."""

    def __init__(self, k: float) -> None:
        super().__init__()
        self.inner, self.k = TinyEncoder(), k

    def forward(self, image: Tensor, layers: list[str]) -> dict[str, Tensor]:
        return {name: self.k * f for name, f in self.inner(image, layers).items()}


def scalefree_terms(encoder: nn.Module, normalization: str = "target") -> dict[str, Tensor]:
    loss = PerceptualLoss(
        encoder, {"c2": 1.0}, {"r1": 1.0, "r2": 3.0}, content_weight=2.0, style_weight=10.0,
        tv_weight=0.5, style_normalization=normalization, tv_normalization="content",
    )  # fmt: skip
    loss.set_style(smooth_images(2, seed=3))
    return loss(smooth_images(2, seed=1), smooth_images(2, seed=2), torch.tensor([1, 0]))


def test_scalefree_perceptual_loss_hand_composed() -> None:
    output, content, styles = (
        smooth_images(2, seed=1),
        smooth_images(2, seed=2),
        smooth_images(2, seed=3),
    )
    terms = scalefree_terms(TinyEncoder())
    enc = TinyEncoder()
    out, ref = enc(output, ["c2", "r1", "r2"]), enc(content, ["c2"])
    expected = {}
    for layer in ("r1", "r2"):
        per_sample = []
        for n, k in enumerate((1, 0)):  # sample n is compared with painting k
            g = gram_matrix(out[layer][n : n + 1])
            a = gram_matrix(enc(styles[k : k + 1], [layer])[layer])
            per_sample.append(((g - a) ** 2).mean() / (a**2).mean())
        expected[layer] = sum(per_sample) / 2
    content_term = (
        sum(
            ((out["c2"][n] - ref["c2"][n]) ** 2).mean() / (ref["c2"][n] ** 2).mean() for n in (0, 1)
        )
        / 2
    )
    tv = (
        sum(
            total_variation(output[n : n + 1]) / total_variation(content[n : n + 1]) for n in (0, 1)
        )
        / 2
    )
    torch.testing.assert_close(terms["style_r1"], expected["r1"])
    torch.testing.assert_close(terms["style_r2"], expected["r2"])
    torch.testing.assert_close(terms["content"], content_term)
    torch.testing.assert_close(terms["tv"], tv)
    total = 2 * content_term + 10 * (expected["r1"] + 3 * expected["r2"]) + 0.5 * tv
    torch.testing.assert_close(terms["total"], total)


@pytest.mark.parametrize("k", [1e-3, 7.0, 1e4])
def test_scalefree_terms_are_invariant_to_scaling_the_features(k: float) -> None:
    reference = scalefree_terms(TinyEncoder())
    scaled = scalefree_terms(ScaledEncoder(k))
    for name, value in reference.items():
        torch.testing.assert_close(scaled[name], value, rtol=1e-4, atol=0.0)
    # the papers' mean is not: its style term moves by k^4 (Gram ~ k^2, squared)
    plain, plain_scaled = (
        scalefree_terms(TinyEncoder(), "elements"),
        scalefree_terms(ScaledEncoder(k), "elements"),
    )
    assert plain_scaled["style_r1"].item() == pytest.approx(
        k**4 * plain["style_r1"].item(), rel=1e-3
    )
