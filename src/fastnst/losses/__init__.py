"""Loss terms: pure functions in ``functional``, small modules built on them."""

from __future__ import annotations

from fastnst.losses.functional import content_loss, gram_loss, gram_matrix, total_variation
from fastnst.losses.perceptual import PerceptualLoss, vgg_perceptual_loss
from fastnst.losses.style import GramStyleLoss

__all__ = [
    "GramStyleLoss",
    "PerceptualLoss",
    "content_loss",
    "gram_loss",
    "gram_matrix",
    "total_variation",
    "vgg_perceptual_loss",
]
