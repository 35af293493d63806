"""The VGG loss network: layer names, truncation, weight loading, freezing."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision
from numerics import assert_close_fp32
from torch import Tensor, nn

from fastnst.errors import FastNSTError
from fastnst.vgg import (
    CAFFE_MEAN,
    CAFFE_STD,
    IMAGENET_MEAN,
    IMAGENET_STD,
    VGGFeatures,
    layer_names,
    load_vgg_state_dict,
)


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
def test_layer_names_follow_torchvision_order(arch: str) -> None:
    features = getattr(torchvision.models, arch)(weights=None).features
    names = layer_names(arch)
    assert len(names) == len(features)
    kinds = {nn.Conv2d: "conv", nn.ReLU: "relu", nn.MaxPool2d: "pool"}
    assert [kinds[type(m)] for m in features] == [n.rstrip("_0123456789") for n in names]
    assert names.index("conv1_1") == 0
    assert names.index("relu2_2") == 8
    assert names.index("pool5") == len(features) - 1
    expected = {"vgg16": {"relu4_3": 22, "relu5_3": 29}, "vgg19": {"relu4_2": 22, "relu5_4": 35}}
    assert all(names.index(name) == index for name, index in expected[arch].items())


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
def test_truncated_encoder_matches_full_torchvision(arch: str, tmp_path: Path) -> None:
    full = getattr(torchvision.models, arch)(weights=None).eval()
    path = tmp_path / f"{arch}.pth"
    torch.save(full.state_dict(), path)  # the full state dict, classifier included
    encoder = VGGFeatures(arch, ["relu1_2", "relu3_1"], weights=str(path))
    assert len(encoder.features) == layer_names(arch).index("relu3_1") + 1
    image = torch.rand(1, 3, 40, 36)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        reference = full.features[:12]((image - mean) / std)
        outputs = encoder(image)
    assert set(outputs) == {"relu1_2", "relu3_1"}
    # relu3_1: 5 convolutions (conv1_1, conv1_2, conv2_1, conv2_2, conv3_1)
    assert_close_fp32(outputs["relu3_1"], reference, depth=5)


def test_features_only_state_dict_loads(tmp_path: Path) -> None:
    features = torchvision.models.vgg16(weights=None).features
    path = tmp_path / "features.pth"
    torch.save(features.state_dict(), path)  # keys "0.weight", ...
    encoder = VGGFeatures("vgg16", ["conv1_1"], weights=str(path))
    assert torch.equal(encoder.features[0].weight, features[0].weight.detach())


def test_pre_relu_output_is_not_clobbered_by_relu() -> None:
    encoder = VGGFeatures("vgg16", ["conv1_1", "relu1_1"], weights="random")
    outputs = encoder(torch.rand(1, 3, 16, 16))
    assert (outputs["conv1_1"] < 0).any()
    assert torch.equal(outputs["relu1_1"], outputs["conv1_1"].clamp(min=0))


def test_encoder_is_frozen_and_never_in_state_dict() -> None:
    encoder = VGGFeatures("vgg16", ["relu2_2"], weights="random")
    assert list(encoder.parameters()) == []
    assert encoder.state_dict() == {}
    parent = nn.Sequential(encoder).train()
    assert not encoder.training and not parent[0].training


def test_random_weights_are_seeded_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    a = load_vgg_state_dict("vgg16", "random", seed=1)
    b = load_vgg_state_dict("vgg16", "random", seed=1)
    c = load_vgg_state_dict("vgg16", "random", seed=2)
    assert torch.equal(a["0.weight"], b["0.weight"])
    assert not torch.equal(a["0.weight"], c["0.weight"])
    assert "RANDOM weights" in caplog.text


def test_avg_pooling_changes_deep_features() -> None:
    image = torch.rand(1, 3, 16, 16)
    max_out = VGGFeatures("vgg16", ["relu2_1"], weights="random", pooling="max")(image)
    avg_out = VGGFeatures("vgg16", ["relu2_1"], weights="random", pooling="avg")(image)
    assert not torch.allclose(max_out["relu2_1"], avg_out["relu2_1"])


def test_bad_inputs_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(FastNSTError, match="unknown vgg16 layers"):
        VGGFeatures("vgg16", ["relu9_9"], weights="random")
    with pytest.raises(FastNSTError, match="vgg.weights"):
        VGGFeatures("vgg16", ["relu1_1"], weights=str(tmp_path / "missing.pth"))
    wrong = tmp_path / "wrong.pth"
    torch.save({"0.weight": torch.zeros(1)}, wrong)
    with pytest.raises(FastNSTError, match="do not fit vgg16"):
        VGGFeatures("vgg16", ["relu1_1"], weights=str(wrong))


def test_imagenet_without_network_says_how_to_pass_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(self, *args, **kwargs):  # noqa: ANN001, ARG001
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(torchvision.models.VGG16_Weights, "get_state_dict", offline)
    with pytest.raises(FastNSTError) as info:
        VGGFeatures("vgg16", ["relu1_1"], weights="imagenet")
    message = str(info.value)
    assert "\n" not in message
    assert "vgg.weights=/path/to/vgg16-397923af.pth" in message


# vgg.weights=imagenet_features: the Caffe VGG16 (torchvision's VGG16_Weights.IMAGENET1K_FEATURES)


def test_caffe_convention_is_0_255_minus_the_caffe_mean_pixel() -> None:
    # Caffe's BGR mean pixel (104, 117, 123) in RGB order, no std: the net sees 0-255 pixels
    assert [255 * m for m in CAFFE_MEAN] == pytest.approx([123.0, 117.0, 104.0], abs=0.01)
    assert list(CAFFE_STD) == pytest.approx([1 / 255] * 3)


def conv1_1_weights(seed: int) -> tuple[Tensor, Tensor]:
    """Random weight (64, 3, 3, 3) and bias (64,) of a VGG16 conv1_1."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(64, 3, 3, 3, generator=generator) * 0.1, torch.randn(64, generator=generator)


def caffe_conv1_1(image: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """Naive reference: conv1_1 of the 0-255 image minus the mean pixel, channel by channel."""
    pixels = image * 255
    for channel, mean in enumerate(CAFFE_MEAN):
        pixels[:, channel] -= 255 * mean
    return F.conv2d(pixels, weight, bias, padding=1)


def caffe_scale(weight: Tensor, bias: Tensor) -> float:
    """sum |w x| + |b| for 0-255 pixels: the terms whose rounding the two ways of computing conv1_1
    differ by (the mean pixel subtracted, or folded into the bias): depth 2."""
    return float(255 * weight.abs().sum(dim=(1, 2, 3)).max() + bias.abs().max())


def test_local_caffe_file_gets_the_caffe_input_transform(tmp_path: Path) -> None:
    weight, bias = conv1_1_weights(seed=0)
    path = tmp_path / "vgg16_features-caffe.pth"
    torch.save({"0.weight": weight, "0.bias": bias}, path)  # features-only, cut at conv1_1
    image = torch.rand(2, 3, 12, 10, generator=torch.Generator().manual_seed(0))
    caffe = VGGFeatures("vgg16", ["conv1_1"], weights=str(path), input_norm="caffe")
    with torch.no_grad():
        got = caffe(image)["conv1_1"]
        expected = caffe_conv1_1(image.clone(), weight, bias)
    assert_close_fp32(got, expected, depth=2, scale=caffe_scale(weight, bias))
    plain = VGGFeatures("vgg16", ["conv1_1"], weights=str(path))  # auto: torchvision inputs
    assert not torch.allclose(plain(image)["conv1_1"], got, atol=1.0)


def test_imagenet_features_downloads_through_the_enum_and_uses_caffe_inputs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    weight, bias = conv1_1_weights(seed=1)
    asked = []

    def fake_download(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ARG001
        asked.append(self)  # keys "features.*" and "classifier.*", as the enum returns them
        return {"features.0.weight": weight, "features.0.bias": bias, "classifier.0.bias": bias}

    monkeypatch.setattr(torchvision.models.VGG16_Weights, "get_state_dict", fake_download)
    encoder = VGGFeatures("vgg16", ["conv1_1"], weights="imagenet_features")
    assert asked == [torchvision.models.VGG16_Weights.IMAGENET1K_FEATURES]
    assert encoder.input_norm == "caffe"
    image = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = caffe_conv1_1(image.clone(), weight, bias)
        got = encoder(image)["conv1_1"]
    assert_close_fp32(got, expected, depth=2, scale=caffe_scale(weight, bias))


def test_imagenet_features_errors_are_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ARG001
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(torchvision.models.VGG16_Weights, "get_state_dict", offline)
    with pytest.raises(FastNSTError) as info:
        VGGFeatures("vgg16", ["relu1_1"], weights="imagenet_features")
    message = str(info.value)
    assert "\n" not in message
    assert "vgg.weights=/path/to/vgg16_features-amdegroot-88682ab5.pth vgg.input_norm=caffe" in (
        message
    )
    bad = [
        ({"arch": "vgg19", "weights": "imagenet_features"}, "vgg16 only"),
        ({"weights": "imagenet_features", "input_norm": "torchvision"}, "vgg.input_norm"),
        ({"weights": "random", "input_norm": "bgr"}, "unknown vgg.input_norm"),
    ]
    for options, message in bad:
        with pytest.raises(FastNSTError, match=message) as info:
            VGGFeatures(layers=["relu1_1"], **options)
        assert "\n" not in str(info.value)
