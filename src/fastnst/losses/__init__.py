"""Loss terms: pure functions in ``functional`` and ``statistics``, small modules built on them."""

from __future__ import annotations

from fastnst.losses.functional import (
    combine_layers,
    content_loss,
    gram_matrix,
    relative_total_variation,
    style_distance,
    total_variation,
)
from fastnst.losses.perceptual import PerceptualLoss
from fastnst.losses.statistics import (
    cross_gram,
    feature_gradient_gram,
    mean_std,
    normalized_content_loss,
)
from fastnst.losses.style import StyleLoss
from fastnst.losses.vgg_loss import vgg_perceptual_loss

__all__ = [
    "PerceptualLoss",
    "StyleLoss",
    "combine_layers",
    "content_loss",
    "cross_gram",
    "feature_gradient_gram",
    "gram_matrix",
    "mean_std",
    "normalized_content_loss",
    "relative_total_variation",
    "style_distance",
    "total_variation",
    "vgg_perceptual_loss",
]
