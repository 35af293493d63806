"""The ONNX model zoo's fast_neural_style files load onto our TransformerNet and run at any size.

The zoo file is made as the zoo's were: pytorch/examples' ``TransformerNet`` (copied below from
``fast_neural_style/neural_style/transformer_net.py``) exported by PyTorch's TorchScript-based
exporter at opset 9, fixed 1x3x224x224 input ``input1``, weights also listed as graph inputs
(as exports of that time did) and renamed to numbers, so the loader cannot lean on names.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from numerics import assert_close_fp32
from PIL import Image

from fastnst import FastNSTError, Stylizer
from fastnst.inference.command import run
from fastnst.inference.export import pad_like_network
from fastnst.inference.paintings import load_network
from fastnst.models import TransformerNet
from fastnst.models.checkpoint import load_style_checkpoint
from fastnst.models.interop.onnx_zoo import is_zoo_onnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
DEPTH = 16  # convolutions from input to output


class ConvLayer(torch.nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int):
        super().__init__()
        self.reflection_pad = torch.nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(self.reflection_pad(x))


class ResidualBlock(torch.nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, kernel_size=3, stride=1)
        self.in1 = torch.nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = ConvLayer(channels, channels, kernel_size=3, stride=1)
        self.in2 = torch.nn.InstanceNorm2d(channels, affine=True)
        self.relu = torch.nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.in2(self.conv2(self.relu(self.in1(self.conv1(x))))) + x


class UpsampleConvLayer(ConvLayer):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.interpolate(x, mode="nearest", scale_factor=2)
        return self.conv2d(self.reflection_pad(x))


class ExamplesTransformerNet(torch.nn.Module):
    """pytorch/examples' ``TransformerNet``: 0-255 in and out."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.in1 = ConvLayer(3, 32, 9, 1), torch.nn.InstanceNorm2d(32, affine=True)
        self.conv2, self.in2 = ConvLayer(32, 64, 3, 2), torch.nn.InstanceNorm2d(64, affine=True)
        self.conv3, self.in3 = ConvLayer(64, 128, 3, 2), torch.nn.InstanceNorm2d(128, affine=True)
        for index in range(1, 6):
            setattr(self, f"res{index}", ResidualBlock(128))
        self.deconv1 = UpsampleConvLayer(128, 64, 3, 1)
        self.in4 = torch.nn.InstanceNorm2d(64, affine=True)
        self.deconv2 = UpsampleConvLayer(64, 32, 3, 1)
        self.in5 = torch.nn.InstanceNorm2d(32, affine=True)
        self.deconv3 = ConvLayer(32, 3, 9, 1)
        self.relu = torch.nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.in1(self.conv1(x)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        for index in range(1, 6):
            y = getattr(self, f"res{index}")(y)
        y = self.relu(self.in4(self.deconv1(y)))
        y = self.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


def zoo_file(path: Path) -> ExamplesTransformerNet:
    """A zoo-format ``.onnx`` of a seeded reference network (returned)."""
    torch.manual_seed(0)
    reference = ExamplesTransformerNet().eval()
    with torch.no_grad():
        for name, value in reference.named_parameters():
            if ".in" in f".{name}":  # trained-like instance norm scales and shifts
                value.copy_(torch.randn_like(value) * 0.3 + name.endswith("weight"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # opset 9's Upsample warning: exact for 2x nearest
        torch.onnx.export(reference, (torch.rand(1, 3, 224, 224) * 255,), str(path),
                          dynamo=False, opset_version=9, input_names=["input1"],
                          output_names=["output1"], keep_initializers_as_inputs=True)  # fmt: skip
    model = onnx.load(str(path))
    renames = {t.name: str(100 + i) for i, t in enumerate(model.graph.initializer)}
    for item in [*model.graph.initializer, *model.graph.input]:
        item.name = renames.get(item.name, item.name)
    for node in model.graph.node:
        node.input[:] = [renames.get(name, name) for name in node.input]
    onnx.save(model, str(path))
    return reference


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ExamplesTransformerNet]:
    path = tmp_path_factory.mktemp("zoo") / "rain-princess-9.onnx"
    return path, zoo_file(path)


def test_zoo_file_has_the_zoo_format(zoo: tuple[Path, ExamplesTransformerNet]) -> None:
    model = onnx.load(str(zoo[0]))
    assert model.opset_import[0].version == 9 and model.graph.input[0].name == "input1"
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    names = [t.name for t in model.graph.initializer]
    assert dims == [1, 3, 224, 224] and all(name.isdigit() for name in names)


def test_loaded_network_matches_onnx_runtime_and_runs_at_any_size(
    zoo: tuple[Path, ExamplesTransformerNet],
) -> None:
    path, reference = zoo
    loaded = load_style_checkpoint(path)
    assert loaded.styles == ["rain-princess"] and isinstance(loaded.model, TransformerNet)
    image = torch.rand(1, 3, 224, 224)
    options = ort.SessionOptions()
    options.log_severity_level = 3  # not the warnings about weights listed as graph inputs
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    (theirs,) = session.run(None, {"input1": (image * 255).numpy()})
    with torch.no_grad():
        ours = loaded.model(image) * 255
        assert_close_fp32(ours, torch.from_numpy(theirs), depth=DEPTH, what="224 vs ONNX Runtime")
        odd = torch.rand(1, 3, 37, 53)  # our convention: reflect to 40 x 56, run, crop back
        expected = reference(pad_like_network(odd) * 255)[..., :37, :53]
        assert_close_fp32(loaded.model(odd) * 255, expected, depth=DEPTH, what="37 x 53")


def test_zoo_files_route_to_the_network_everywhere(
    zoo: tuple[Path, ExamplesTransformerNet], tmp_path: Path
) -> None:
    path, reference = zoo
    photo = np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    Image.fromarray(photo).save(tmp_path / "photo.png")
    report = run(ckpt=str(path), input=str(tmp_path / "photo.png"),
                 output=str(tmp_path / "out.png"), progress=False)  # fmt: skip
    written = torch.from_numpy(np.array(Image.open(report.written[0]))).permute(2, 0, 1)
    image = torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        expected = (reference(image * 255) / 255).clamp(0, 1)[0]
        stylized = Stylizer.from_checkpoint(path, device="cpu", backend="torch")(image)[0]
    assert (written.float() / 255 - expected).abs().max() <= 1 / 255 + 1e-4  # 8-bit rounding
    assert_close_fp32(stylized, expected, depth=DEPTH)
    assert isinstance(load_network(path), TransformerNet)


def _onnx_with_input(path: Path, name: str) -> Path:
    helper = onnx.helper
    info = [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [1, 3, 8, 8])
            for n in (name, "y")]  # fmt: skip
    graph = helper.make_graph([helper.make_node("Relu", [name], ["y"])], "g", info[:1], info[1:])
    onnx.save(helper.make_model(graph), str(path))
    return path


def test_zoo_detection_and_bad_files(
    zoo: tuple[Path, ExamplesTransformerNet], tmp_path: Path
) -> None:
    exported = _onnx_with_input(tmp_path / "export.onnx", "image")  # a fastnst export's input
    (tmp_path / "junk.onnx").write_bytes(b"\xff" * 64)
    assert is_zoo_onnx(zoo[0]) and not is_zoo_onnx(exported)
    assert not is_zoo_onnx(tmp_path / "junk.onnx")
    model = onnx.load(str(zoo[0]))
    norm = next(n for n in model.graph.node if n.op_type == "InstanceNormalization")
    model.graph.node.remove(norm)
    onnx.save(model, str(tmp_path / "short-9.onnx"))
    model = onnx.load(str(zoo[0]))
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    weight = next(t for t in model.graph.initializer if t.name == conv.input[1])
    weight.CopyFrom(onnx.numpy_helper.from_array(np.zeros((32, 3, 7, 7), np.float32), weight.name))
    onnx.save(model, str(tmp_path / "wide-9.onnx"))
    cases = {
        exported: "not an ONNX model zoo fast_neural_style model .* a fastnst export runs as it is",
        tmp_path / "short-9.onnx": "expected an ONNX model zoo .* found 16 Conv, 14 Instance",
        tmp_path / "wide-9.onnx": r"\(conv1\) has weight \(32, 3, 7, 7\), expected \(32, 3, 9, 9\)",
    }
    for path, message in cases.items():
        with pytest.raises(FastNSTError, match=message) as error:
            load_style_checkpoint(path)
        assert "\n" not in str(error.value) and str(path) in str(error.value)
