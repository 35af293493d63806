"""fastnst: fast neural style transfer with PyTorch Lightning and Hydra."""

from __future__ import annotations

from fastnst.errors import FastNSTError
from fastnst.stylize import Stylizer
from fastnst.version import __version__

__all__ = ["FastNSTError", "Stylizer", "__version__"]
