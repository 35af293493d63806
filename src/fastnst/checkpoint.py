"""Rebuild a trained transform network from a training checkpoint alone, safely."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from fastnst.errors import FastNSTError
from fastnst.interop import from_examples_state_dict, is_examples_state_dict
from fastnst.lit_module import CHECKPOINT_KEY
from fastnst.models import TransformerNet

PREFIX = "transformer."


@dataclass
class StyleCheckpoint:
    """What a fastnst checkpoint says about its network.

    Attributes:
        model: The transform network, weights loaded, in eval mode.
        style: Name of the painting it was trained on.
        config: The resolved training config (plain containers), empty if unknown.
        version: fastnst version that wrote the checkpoint.
        global_step: Training step at which it was saved.
    """

    model: TransformerNet
    style: str
    config: dict[str, Any] = field(default_factory=dict)
    version: str = "unknown"
    global_step: int = 0


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """``torch.load`` with ``weights_only=True``: a checkpoint can never run code."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FastNSTError(f"checkpoint not found: {path}; pass ckpt=/path/to/last.ckpt")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - corrupt, truncated or code-carrying pickles
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise FastNSTError(f"cannot load checkpoint {path}: {reason}") from err


def load_style_checkpoint(path: str | Path) -> StyleCheckpoint:
    """The transform network of a checkpoint written by ``train.py``."""
    checkpoint = read_checkpoint(path)
    if is_examples_state_dict(checkpoint):  # a pytorch/examples fast_neural_style .pth
        model = from_examples_state_dict(checkpoint, path)
        return StyleCheckpoint(model=model, style=Path(path).stem, version="pytorch/examples")
    meta = checkpoint.get(CHECKPOINT_KEY) if isinstance(checkpoint, dict) else None
    if not isinstance(meta, dict) or "model_args" not in meta:
        raise FastNSTError(f"{path} is not a fastnst checkpoint (no '{CHECKPOINT_KEY}' entry)")
    state = {
        key.removeprefix(PREFIX): value
        for key, value in checkpoint["state_dict"].items()
        if key.startswith(PREFIX)
    }
    model = TransformerNet(**meta["model_args"])
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise FastNSTError(f"checkpoint {path} does not match its model args: {err}") from err
    return StyleCheckpoint(
        model=model.eval(),
        style=str(meta.get("style", "unknown")),
        config=meta.get("config") or {},
        version=str(meta.get("version", "unknown")),
        global_step=int(checkpoint.get("global_step", 0)),
    )
