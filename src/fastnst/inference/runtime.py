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
    PREDICTOR_METADATA,
    STYLE_IMAGE_NAME,
    STYLE_NAME,
    STYLE_VECTOR_NAME,
    STYLES_METADATA,
    export_model,
    is_predictor_file,
    predictor_path,
)

log = logging.getLogger(__name__)

EXPORT_REVISION = 6  # bump when the exported graph changes, so older cached exports are not reused


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
        path: An ONNX file written by fastnst's export: inputs ``image`` and, for multi-style
            networks, ``style`` (the style names, when known, in the metadata ``styles``), for
            AdaIN ``style_image`` (the painting), for a split style-prediction export
            ``style_vector`` (its predictor file, named in the metadata, is loaded too).

    Attributes:
        arbitrary: The painting is an input (``style_image``, or through ``style_vector``).
        predictor: The split export's predictor session (painting -> style vector), or None;
            ``predictor_file`` its file.

    Raises:
        FastNSTError: onnxruntime is missing, or the file (or its predictor) is missing,
            unreadable or not a fastnst export.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        if is_predictor_file(self.path):
            main = self.path.name.removesuffix(".style.onnx") + ".onnx"
            raise FastNSTError(
                f"{self.path} is the style predictor of a split export; pass ckpt={main}"
            )
        self.session = _session(self.path)
        inputs = {item.name: item.shape for item in self.session.get_inputs()}
        known = {INPUT_NAME, STYLE_NAME, STYLE_IMAGE_NAME, STYLE_VECTOR_NAME}
        if INPUT_NAME not in inputs or not set(inputs) <= known:
            raise FastNSTError(
                f"{self.path} was not exported by fastnst (its inputs are {', '.join(inputs)}); "
                "export the PyTorch checkpoint with export=onnx"
            )
        self.num_styles = int(inputs[STYLE_NAME][0]) if STYLE_NAME in inputs else 1
        metadata = self.session.get_modelmeta().custom_metadata_map
        self.predictor, self.predictor_file = None, None
        if STYLE_VECTOR_NAME in inputs:
            self.predictor_file = self._find_predictor(metadata.get(PREDICTOR_METADATA))
            self.predictor = _session(self.predictor_file)
        self.arbitrary = STYLE_IMAGE_NAME in inputs or self.predictor is not None
        names = metadata.get(STYLES_METADATA)
        self.styles: list[str] | None = json.loads(names) if names else None  # index order

    def __call__(
        self, image: Tensor, style: Tensor | None = None, style_image: Tensor | None = None,
        style_vector: Tensor | None = None,
    ) -> Tensor:  # fmt: skip
        """(N, 3, H, W) float RGB in [0, 1] -> stylized, same shape, clamped to [0, 1]; an
        arbitrary-style export also takes the painting, ``style_image`` (1, 3, H', W'), or
        (split export) its ``style_vector`` (1, D) from :meth:`style_statistics`."""
        feed = {INPUT_NAME: _array(image)}
        if style is not None:
            feed[STYLE_NAME] = _array(style)
        if style_image is not None:
            feed[STYLE_IMAGE_NAME] = _array(style_image)
        if style_vector is not None:
            feed[STYLE_VECTOR_NAME] = _array(style_vector)
        return torch.from_numpy(self.session.run(None, feed)[0])

    def _find_predictor(self, exported_name: str | None) -> Path:
        """The split export's predictor: ``x.style.onnx`` beside ``x.onnx``, else the name it
        was exported with (the pair renamed one-sidedly)."""
        candidates = [predictor_path(self.path)]
        if exported_name:
            candidates.append(self.path.with_name(Path(exported_name).name))
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        raise FastNSTError(
            f"the style predictor of {self.path} is missing: keep {candidates[0].name} beside "
            "it (export=onnx writes both files)"
        )

    def style_statistics(self, painting: Tensor) -> Tensor:
        """A split export's style vector (1, D) of one painting (1, 3, H', W'), by its predictor."""
        if self.predictor is None:
            raise FastNSTError(f"{self.path} has no style predictor (not a split export)")
        return torch.from_numpy(self.predictor.run(None, {STYLE_IMAGE_NAME: _array(painting)})[0])


def _session(path: Path):
    """An ONNX Runtime CPU session of ``path``, or a one-line FastNSTError."""
    ort = _import_onnxruntime()
    if not path.is_file():
        raise FastNSTError(f"ONNX model not found: {path}; pass ckpt= an existing file")
    try:
        return ort.InferenceSession(
            str(path), session_options(ort), providers=["CPUExecutionProvider"]
        )
    except Exception as err:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise FastNSTError(
            f"cannot load ONNX model {path}: it is corrupt or not an ONNX file; "
            "export it again with export=onnx"
        ) from err


def _array(tensor: Tensor):
    """A float32, contiguous CPU NumPy array of ``tensor``, as ONNX Runtime takes it."""
    return tensor.detach().float().cpu().contiguous().numpy()


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
