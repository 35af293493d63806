"""fastnst: fast neural style transfer with PyTorch Lightning and Hydra."""

from __future__ import annotations

from fastnst.errors import FastNSTError

__version__ = "0.1.0"

__all__ = ["FastNSTError", "__version__"]
