"""Self-contained deployable models: TorchScript and ONNX, with dynamic batch, height and width.

Both formats hold ``ExportedStylizer``: (N, 3, H, W) RGB float32 in [0, 1] -> the same shape,
clamped to [0, 1], for any N and any H, W >= 5. The network pads its input to a multiple of 4
with a Python branch on the input shape, which tracing would freeze at the example's size, so
the wrapper always pads (possibly by 0 px) with the shape arithmetic traced, and crops back.

ONNX uses the ``torch.export``-based exporter (``dynamo=True``, needs ``onnxscript``), the one
PyTorch maintains; the TorchScript file comes from ``torch.jit.trace``, which PyTorch has
deprecated: prefer ONNX for new deployments.
"""

from __future__ import annotations

import copy
import tempfile
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fastnst.errors import FastNSTError
from fastnst.io.atomic import atomic_path

FORMATS = ("torchscript", "onnx")
INPUT_NAME, OUTPUT_NAME = "image", "stylized"
OPSET = 18


class ExportedStylizer(nn.Module):
    """The transform network with shape-independent padding and a [0, 1] clamp."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(self, image: Tensor) -> Tensor:
        h, w = image.shape[-2:]
        x = F.pad(image, (0, (4 - w % 4) % 4, 0, (4 - h % 4) % 4), mode="reflect")
        return self.model(x)[..., :h, :w].clamp(0, 1)


def export_model(model: nn.Module, path: str | Path, fmt: str, *, overwrite: bool = False) -> Path:
    """Write ``model`` (a transform network) to ``path`` as TorchScript or ONNX.

    Raises:
        FastNSTError: Unknown format, ``path`` exists without ``overwrite``, or the ONNX
            packages are missing.
    """
    path = Path(path)
    if fmt not in FORMATS:
        raise FastNSTError(f"unknown export={fmt}; use torchscript or onnx")
    wrapper = ExportedStylizer(model.cpu().float()).requires_grad_(False)
    example = torch.rand(1, 3, 64, 64)
    with atomic_path(path, overwrite=overwrite) as tmp:
        if fmt == "torchscript":
            _export_torchscript(wrapper, example, tmp)
        else:
            _export_onnx(wrapper, example, tmp)
    return path


def _export_torchscript(wrapper: nn.Module, example: Tensor, path: Path) -> None:
    """Trace; the tracer's warnings about shape arithmetic are expected (it is traced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(wrapper, example)
    traced.save(str(path))


def _export_onnx(wrapper: nn.Module, example: Tensor, path: Path) -> None:
    """``torch.onnx.export(dynamo=True)`` with symbolic batch, height and width."""
    try:
        import onnxscript  # noqa: F401 - required by the exporter
    except ImportError as err:
        raise FastNSTError("export=onnx needs onnx: pip install 'fastnst[export]'") from err
    batch = torch.export.Dim("N", min=1, max=1024)
    height, width = torch.export.Dim("H", min=5), torch.export.Dim("W", min=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper, (example,), str(path), dynamo=True, opset_version=OPSET,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_shapes=({0: batch, 2: height, 3: width},), verbose=False,
            external_data=False,  # one self-contained file, weights included
        )  # fmt: skip


def onnxruntime_session(model: nn.Module):
    """An ONNX Runtime CPU ``InferenceSession`` of ``model``'s ONNX export (made in a temp dir)."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as workdir:
        path = export_model(copy.deepcopy(model), Path(workdir) / "model.onnx", "onnx")
        return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
