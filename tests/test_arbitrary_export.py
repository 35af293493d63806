"""ONNX export of an arbitrary-style network: two inputs (photo, painting), parity with PyTorch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import write_images
from numerics import assert_close_fp32, layer_count
from test_arbitrary_stylize import save_adain_checkpoint
from torch import nn

from fastnst import FastNSTError, Stylizer
from fastnst.inference.command import run
from fastnst.inference.export import INPUT_NAME, STYLE_IMAGE_NAME, export_model
from fastnst.models.adain import AdaINNet

# (photo N, H, W), (painting H', W'): odd sizes, sides below 8 px for the photo
SIZES = [((1, 37, 29), (45, 31)), ((2, 5, 3), (8, 9)), ((1, 64, 81), (100, 57))]


def lively_adain() -> AdaINNet:
    """A network whose outputs spread over [0, 1] (an untrained decoder gives a flat grey)."""
    torch.manual_seed(0)
    model = AdaINNet()
    model.encoder.load_vgg("random", seed=1)
    convs = [m for m in model.decoder if isinstance(m, nn.Conv2d)]
    for conv in convs:
        nn.init.kaiming_normal_(conv.weight)
    nn.init.constant_(convs[-1].bias, 0.5)
    return model.eval()


@pytest.fixture(scope="module")
def lively() -> AdaINNet:
    return lively_adain()


@pytest.fixture(scope="module")
def onnx_file(lively: AdaINNet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_model(lively, tmp_path_factory.mktemp("onnx") / "adain.onnx", "onnx")


@pytest.mark.slow
@pytest.mark.parametrize(("photo", "painting"), SIZES)
def test_onnx_matches_pytorch_on_odd_sizes(
    lively: AdaINNet, onnx_file: Path, photo: tuple[int, ...], painting: tuple[int, int]
) -> None:
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == [INPUT_NAME, STYLE_IMAGE_NAME]
    content, style = torch.rand(*photo[:1], 3, *photo[1:]), torch.rand(1, 3, *painting)
    with torch.no_grad():
        expected = lively(content, style).clamp(0, 1)
    feed = {INPUT_NAME: content.numpy(), STYLE_IMAGE_NAME: style.numpy()}
    out = torch.from_numpy(session.run(None, feed)[0])
    assert out.shape == content.shape and expected.std() > 0.01  # a real comparison
    # 18 layers: the encoder's 9 convolutions to relu4_1, AdaIN, the decoder's 9
    assert_close_fp32(out, expected, depth=layer_count(lively), scale=1.0)


@pytest.mark.slow
def test_stylize_exports_and_runs_the_onnx_model(lively: AdaINNet, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    ckpt = save_adain_checkpoint(tmp_path / "adain.ckpt", lively)
    onnx = tmp_path / "adain.onnx"
    run(ckpt=str(ckpt), output=str(onnx), export="onnx")
    painting = write_images(tmp_path / "paintings", 1, size=(50, 41), seed=4)[0]
    content = torch.rand(1, 3, 27, 35)
    options = {"style_image": painting, "style_size": 40}
    ours = Stylizer.from_checkpoint(onnx, **options).stylize(content)
    theirs = Stylizer.from_checkpoint(ckpt, **options).stylize(content)
    assert_close_fp32(ours, theirs, depth=layer_count(lively), scale=1.0)
    with pytest.raises(FastNSTError, match="alpha=1 only"):
        Stylizer.from_checkpoint(onnx, alpha=0.5, **options)
    with pytest.raises(FastNSTError, match="one style_image"):
        Stylizer.from_checkpoint(onnx)


def test_torchscript_is_refused_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(FastNSTError, match="export=onnx"):
        export_model(AdaINNet(), tmp_path / "adain.pt", "torchscript")
    assert not (tmp_path / "adain.pt").exists()
