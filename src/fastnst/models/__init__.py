"""Transform networks."""

from __future__ import annotations

from fastnst.models.transformer import TransformerNet

__all__ = ["TransformerNet"]
