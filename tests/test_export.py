"""TorchScript and ONNX export: dynamic batch/height/width, parity with PyTorch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fastnst import FastNSTError, Stylizer
from fastnst.inference.export import INPUT_NAME, export_model
from fastnst.models import TransformerNet

SIZES = [(1, 37, 50), (3, 64, 81), (1, 5, 9), (2, 101, 33)]


def tiny_model() -> TransformerNet:
    torch.manual_seed(0)
    return TransformerNet(width=8, num_residual_blocks=2, head="tanh").eval()


def test_torchscript_matches_pytorch_on_random_sizes(tmp_path: Path) -> None:
    model = tiny_model()
    path = export_model(model, tmp_path / "m.pt", "torchscript")
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]
    with pytest.warns(FutureWarning):  # torch.jit.load is deprecated upstream
        loaded = torch.jit.load(str(path))
    for n, h, w in SIZES:
        x = torch.rand(n, 3, h, w)
        with torch.no_grad():
            assert (loaded(x) - model(x).clamp(0, 1)).abs().max() < 1e-5


@pytest.mark.slow
def test_onnx_matches_pytorch_on_random_sizes(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    model = tiny_model()
    path = export_model(model, tmp_path / "m.onnx", "onnx")
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]  # self-contained: no .data file
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for n, h, w in SIZES:
        x = torch.rand(n, 3, h, w)
        (y,) = session.run(None, {INPUT_NAME: x.numpy()})
        with torch.no_grad():
            diff = (torch.from_numpy(y) - model(x).clamp(0, 1)).abs().max()
        assert y.shape == (n, 3, h, w)
        assert diff < 1e-4  # measured: about 2e-6 (float32 reassociation only)


def test_export_refuses_to_overwrite_and_unknown_formats(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    with pytest.raises(FastNSTError, match="overwrite=true"):
        export_model(tiny_model(), path, "onnx")
    with pytest.raises(FastNSTError, match="torchscript or onnx"):
        export_model(tiny_model(), tmp_path / "m.x", "tflite")
    assert path.read_bytes() == b"old"


def test_onnxruntime_backend_matches_the_torch_backend() -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    content = torch.rand(3, 3, 29, 42)
    fast = Stylizer(tiny_model(), backend="onnxruntime", batch_size=2)(content)
    plain = Stylizer(tiny_model(), backend="torch")(content)
    assert fast.shape == plain.shape and (fast - plain).abs().max() < 1e-4
