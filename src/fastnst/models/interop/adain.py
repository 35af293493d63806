"""pytorch-AdaIN's published ``decoder.pth`` and ``vgg_normalised.pth`` as an AdaIN model.

(To be completed: see issue #22.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import Tensor

from fastnst.errors import FastNSTError
from fastnst.models.interop import Published

_FIRST_DECODER_KEY = "1.weight"  # conv 512 -> 256 after the first reflection pad


def is_adain_decoder_state_dict(obj: Any) -> bool:
    """Whether ``obj`` looks like pytorch-AdaIN's ``decoder.pth`` (an ``nn.Sequential``'s)."""
    first = obj.get(_FIRST_DECODER_KEY) if isinstance(obj, dict) else None
    return isinstance(first, Tensor) and tuple(first.shape) == (256, 512, 3, 3)


def load_adain_reference(path: Path, state: dict[str, Tensor]) -> Published:
    raise FastNSTError(f"{path}: pytorch-AdaIN decoders are not supported yet")
