"""The fastnst checkpoint format: what a training checkpoint says about its network, read safely.

A checkpoint written by ``train.py`` is Lightning's dict (``state_dict`` with the transform
network under ``transformer.``, ``global_step``, optimizer state ...) plus one ``"fastnst"``
entry that makes it self-describing (as nanoGPT's checkpoints are)::

    {"version": "0.2.0", "arch": "johnson", "model_args": {...}, "styles": ["starry_night"],
     "style": "starry_night", "config": {... the resolved run config ...}}

Checkpoints of fastnst 0.1 have no ``arch`` (it was always ``johnson``) and one ``style``; they
load unchanged. Reading never runs code: ``torch.load(weights_only=True)``, and a file that
needs more than tensors and plain containers is refused.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fastnst.errors import FastNSTError
from fastnst.models import build_model
from fastnst.models.interop import Published
from fastnst.models.interop.adain import is_adain_decoder_state_dict, load_adain_reference
from fastnst.models.interop.examples import from_examples_state_dict, is_examples_state_dict
from fastnst.version import __version__

CHECKPOINT_KEY = "fastnst"
PREFIX = "transformer."
_PICKLE_PROTOCOL_BYTE = b"\x80"
_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format since PyTorch 1.6
_TF_TABLE_MAGIC = bytes.fromhex("57fb808b247547db")  # the footer of TensorFlow's tables
_FILE_KINDS = {  # leading bytes -> what the file is, for a clearer error
    b"\xff\xd8\xff": "a JPEG image",
    b"\x89PNG": "a PNG image",
    b"GIF8": "a GIF image",
    b"RIFF": "a RIFF file (WebP, WAV, AVI)",
    b"\x08": "an ONNX model (protobuf)",
}


@dataclass
class StyleCheckpoint:
    """What a fastnst checkpoint says about its network.

    Attributes:
        model: The transform network, weights loaded, in eval mode.
        styles: Names of the paintings it was trained on, in style-index order.
        arch: The architecture name ``build_model`` takes.
        config: The resolved training config (plain containers), empty if unknown.
        version: fastnst version that wrote the checkpoint.
        global_step: Training step at which it was saved.
    """

    model: nn.Module
    styles: list[str]
    arch: str = "johnson"
    config: dict[str, Any] = field(default_factory=dict)
    version: str = "unknown"
    global_step: int = 0

    @property
    def style(self) -> str:
        """The first (for single-style networks: the only) painting's name."""
        return self.styles[0] if self.styles else "unknown"


def checkpoint_entry(model: nn.Module, styles: list[str], config: dict[str, Any]) -> dict:
    """The ``"fastnst"`` entry that makes a checkpoint of ``model`` self-describing."""
    return {
        "version": __version__,
        "arch": getattr(model, "arch", "johnson"),
        "model_args": dict(model.config),
        "styles": list(styles),
        "style": styles[0] if styles else "unknown",
        "config": config,
    }


def _describe_foreign(path: Path) -> str | None:
    """What ``path`` is when it cannot be a PyTorch checkpoint, from its first and last bytes."""
    data = path.read_bytes() if path.stat().st_size else b""
    head = data[:8]
    if not head:
        return "an empty file"
    if head.startswith((_ZIP_MAGIC, _PICKLE_PROTOCOL_BYTE)):
        return None  # torch's zip format, or a legacy pickle: let torch.load decide
    if path.suffix.lower() == ".onnx":
        return "an ONNX model"
    for magic, kind in _FILE_KINDS.items():
        if head.startswith(magic):
            return kind
    if data.endswith(_TF_TABLE_MAGIC):  # a TF V1 checkpoint, or a V2 checkpoint's .index
        return "a TensorFlow checkpoint; convert Magenta's with: fastnst convert-magenta IN OUT"
    return "not a file torch.save writes"


def read_checkpoint(path: str | Path) -> Any:
    """``torch.load(weights_only=True)`` with one-line errors for every way a file can be wrong.

    Raises:
        FastNSTError: Missing file, not a PyTorch checkpoint, corrupt, or holding pickled
            objects (refused: unpickling them could run arbitrary code).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FastNSTError(f"checkpoint not found: {path}; pass ckpt=/path/to/last.ckpt")
    foreign = _describe_foreign(path)
    if foreign is not None:
        raise FastNSTError(
            f"{path} is not a PyTorch checkpoint ({foreign}); pass ckpt= a train.py .ckpt, a "
            "pytorch/examples .pth or an exported .onnx model"
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "weights_only" in str(err) or "Unsupported global" in str(err):
            raise FastNSTError(
                f"refusing {path}: it stores pickled Python objects besides tensors, and loading "
                "those could run arbitrary code; fastnst only loads weights-only checkpoints"
            ) from err
        raise FastNSTError(f"cannot load checkpoint {path}: the file is corrupt") from err
    except Exception as err:  # noqa: BLE001 - truncated zips, bad records, ...
        raise FastNSTError(
            f"cannot load checkpoint {path}: the file is corrupt or truncated"
        ) from err


def _from_published(published: Published) -> StyleCheckpoint:
    published.model.style_names = list(published.styles)  # for Stylizer(model, style="name")
    return StyleCheckpoint(
        model=published.model.eval(),
        styles=list(published.styles),
        arch=getattr(published.model, "arch", "johnson"),
        version=published.source,
    )


def load_style_checkpoint(path: str | Path) -> StyleCheckpoint:
    """The network of a ``train.py`` checkpoint or of a reference's published file.

    Published files (see :mod:`fastnst.models.interop`): a pytorch/examples ``.pth``, an ONNX
    model-zoo ``.onnx``, a Johnson et al. Torch7 ``.t7``, a pytorch-AdaIN ``decoder.pth``.
    """
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix == ".t7" and path.is_file():
        from fastnst.models.interop.torch7 import load_torch7_model

        return _from_published(load_torch7_model(path))
    if suffix == ".onnx" and path.is_file():
        from fastnst.models.interop.onnx_zoo import load_zoo_model

        return _from_published(load_zoo_model(path))
    checkpoint = read_checkpoint(path)
    if is_examples_state_dict(checkpoint):  # a pytorch/examples fast_neural_style .pth
        model = from_examples_state_dict(checkpoint, path)
        return _from_published(Published(model, [path.stem], "pytorch/examples"))
    if is_adain_decoder_state_dict(checkpoint):  # pytorch-AdaIN's decoder.pth
        return _from_published(load_adain_reference(path, checkpoint))
    meta = checkpoint.get(CHECKPOINT_KEY) if isinstance(checkpoint, dict) else None
    if not isinstance(meta, dict) or "model_args" not in meta:
        raise FastNSTError(
            f"{path} is a PyTorch file but not a fastnst checkpoint (no '{CHECKPOINT_KEY}' entry); "
            "pass ckpt= a checkpoint written by train.py"
        )
    state = {
        key.removeprefix(PREFIX): value
        for key, value in checkpoint["state_dict"].items()
        if key.startswith(PREFIX)
    }
    arch = str(meta.get("arch", "johnson"))  # fastnst 0.1 wrote no arch: always johnson
    model = build_model(arch, **meta["model_args"])
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise FastNSTError(f"checkpoint {path} does not match its model args: {err}") from err
    styles = meta.get("styles") or [str(meta.get("style", "unknown"))]
    model.style_names = [str(name) for name in styles]  # for Stylizer(model, style="name")
    return StyleCheckpoint(
        model=model.eval(),
        styles=[str(name) for name in styles],
        arch=arch,
        config=meta.get("config") or {},
        version=str(meta.get("version", "unknown")),
        global_step=int(checkpoint.get("global_step", 0)),
    )
