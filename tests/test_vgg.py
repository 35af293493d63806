"""The VGG loss network: layer names, truncation, weight loading, freezing."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from fastnst.errors import FastNSTError
from fastnst.vgg import IMAGENET_MEAN, IMAGENET_STD, VGGFeatures, layer_names, load_vgg_state_dict


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
    assert torch.allclose(outputs["relu3_1"], reference, atol=1e-5)


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
