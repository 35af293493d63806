"""fastnst: fast neural style transfer with PyTorch Lightning and Hydra.

The package face is lazy: ``import fastnst`` loads nothing heavy, and ``fastnst.Stylizer``
imports the inference wing (PyTorch, no Lightning, no Hydra) on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastnst.errors import FastNSTError
from fastnst.version import __version__

if TYPE_CHECKING:
    from fastnst.inference import Stylizer

__all__ = ["FastNSTError", "Stylizer", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Stylizer":
        from fastnst.inference import Stylizer

        return Stylizer
    raise AttributeError(f"module 'fastnst' has no attribute {name!r}")
