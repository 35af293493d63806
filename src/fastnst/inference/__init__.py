"""Inference without the trainer: the Stylizer, tiles, video, export and the stylize command.

Importing this wing loads PyTorch and the transform networks, never Lightning or Hydra.
"""

from __future__ import annotations

from fastnst.inference.stylizer import Stylizer

__all__ = ["Stylizer"]
