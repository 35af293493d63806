"""Run exported ONNX stylizers with ONNX Runtime on the CPU, and cache the exports.

``OnnxModel(path)`` runs a file written by ``export_model(..., "onnx")`` (``stylize.py
export=onnx``), so ``ckpt=starry.onnx`` needs neither the checkpoint nor the network's code.
``cached_onnx_model(model)`` exports a network once and keeps the file in
``$FASTNST_CACHE/onnx/`` (default ``~/.cache/fastnst/onnx/``), named by the sha256 of the
checkpoint file it came from (or of its weights, architecture and config), so that the next
``Stylizer`` of the same network loads it in a fraction of a second instead of exporting again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import torch
from torch import Tensor, nn

from fastnst.errors import FastNSTError
from fastnst.inference.export import (
    INPUT_NAME,
    OPSET,
    STYLE_IMAGE_NAME,
    STYLE_NAME,
    STYLES_METADATA,
    export_model,
)

log = logging.getLogger(__name__)

EXPORT_REVISION = 5  # bump when ExportedStylizer changes, so older cached exports are not reused


def cache_dir() -> Path:
    """Where cached ONNX exports live: ``$FASTNST_CACHE/onnx`` or ``~/.cache/fastnst/onnx``."""
    return Path(os.environ.get("FASTNST_CACHE") or "~/.cache/fastnst").expanduser() / "onnx"


def file_digest(path: str | Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()


def network_digest(model: nn.Module) -> str:
    """sha256 of a network's class, architecture, config and every state_dict entry's bytes."""
    config = getattr(model, "config", {})
    header = f"{type(model).__qualname__}:{getattr(model, 'arch', '')}:{json.dumps(config)}"
    digest = hashlib.sha256(header.encode())
    for name, value in model.state_dict().items():
        digest.update(f"{name}:{value.dtype}:{tuple(value.shape)}".encode())
        digest.update(value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def _import_onnxruntime():
    try:
        import onnxruntime
    except ImportError as err:
        raise FastNSTError("ONNX models need onnxruntime: pip install 'fastnst[export]'") from err
    return onnxruntime


def session_options(ort):
    """Every graph optimization (constant folding, conv + activation fusion, the blocked
    NCHWc convolution layout of MLAS) and as many intra-op threads as PyTorch uses here (the
    physical cores, or what ``OMP_NUM_THREADS`` / ``torch.set_num_threads`` chose), so both
    runtimes share the machine the same way."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = torch.get_num_threads()
    return options


class OnnxModel:
    """An exported stylizer file run by ONNX Runtime on the CPU, called like the network.

    Args:
        path: An ONNX file written by fastnst's export (inputs ``image`` and, for multi-style
            networks, ``style``; the style names, when known, in the metadata ``styles``).

    Raises:
        FastNSTError: onnxruntime is missing, or the file is missing, unreadable or not a
            fastnst export.
    """

    def __init__(self, path: str | Path) -> None:
        ort = _import_onnxruntime()
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise FastNSTError(f"ONNX model not found: {self.path}; pass ckpt= an existing file")
        try:
            self.session = ort.InferenceSession(
                str(self.path), session_options(ort), providers=["CPUExecutionProvider"]
            )
        except Exception as err:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise FastNSTError(
                f"cannot load ONNX model {self.path}: it is corrupt or not an ONNX file; "
                "export it again with export=onnx"
            ) from err
        inputs = {item.name: item.shape for item in self.session.get_inputs()}
        known = {INPUT_NAME, STYLE_NAME, STYLE_IMAGE_NAME}
        if INPUT_NAME not in inputs or not set(inputs) <= known:
            raise FastNSTError(
                f"{self.path} was not exported by fastnst (its inputs are {', '.join(inputs)}); "
                "export the PyTorch checkpoint with export=onnx"
            )
        self.num_styles = int(inputs[STYLE_NAME][0]) if STYLE_NAME in inputs else 1
        self.arbitrary = STYLE_IMAGE_NAME in inputs  # AdaIN: the painting is an input
        names = self.session.get_modelmeta().custom_metadata_map.get(STYLES_METADATA)
        self.styles: list[str] | None = json.loads(names) if names else None  # index order

    def __call__(
        self, image: Tensor, style: Tensor | None = None, style_image: Tensor | None = None
    ) -> Tensor:
        """(N, 3, H, W) float RGB in [0, 1] -> stylized, same shape, clamped to [0, 1]; an
        arbitrary-style export also takes the painting, ``style_image`` (1, 3, H', W')."""
        feed = {INPUT_NAME: image.detach().float().cpu().contiguous().numpy()}
        if style is not None:
            feed[STYLE_NAME] = style.detach().float().cpu().numpy()
        if style_image is not None:
            feed[STYLE_IMAGE_NAME] = style_image.detach().float().cpu().contiguous().numpy()
        return torch.from_numpy(self.session.run(None, feed)[0])


def cached_onnx_model(model: nn.Module, checkpoint: str | Path | None = None) -> OnnxModel:
    """``model`` exported to ONNX once and run by ONNX Runtime; later calls load the cached file.

    Args:
        model: The transform network (left unchanged).
        checkpoint: The file ``model`` was loaded from: its sha256 names the cached export.
            None hashes the weights, architecture and config instead.
    """
    source = file_digest(checkpoint) if checkpoint is not None else network_digest(model)
    key = hashlib.sha256(f"fastnst-onnx:{EXPORT_REVISION}:{OPSET}:{source}".encode())
    path = cache_dir() / f"{key.hexdigest()}.onnx"
    if path.is_file():
        try:
            return OnnxModel(path)
        except FastNSTError as err:  # damaged by hand or by a full disk: export it again
            log.warning("re-exporting a damaged cached model: %s", err)
    log.info("exporting the network to ONNX once, cached in %s", path)
    # Concurrent runs may both export; each writes atomically the same network, the last wins.
    return OnnxModel(export_model(model, path, "onnx", overwrite=True))
