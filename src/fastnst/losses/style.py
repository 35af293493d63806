"""Style loss terms: a statistic of a layer's features matched to the style image's."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from fastnst.losses.functional import gram_matrix, style_distance


class StyleLoss(nn.Module):
    """E_l = d(S(F_l(y)), S(F_l(s))): a style statistic S compared by a distance d.

    With the defaults, S = :func:`~fastnst.losses.functional.gram_matrix` and d the mean
    squared difference: E_l = ||G_l(y) - G_l(s)||_F^2 / C^2 with G = F F^T / (C H W) (Gatys et
    al. 2016, eq. 4). Other statistics live in :mod:`fastnst.losses.statistics`, other
    distances in :func:`~fastnst.losses.functional.style_distance`.

    The style target S(F_l(s)) is computed once by :meth:`set_target` under ``no_grad`` and kept
    as a non-persistent buffer: it moves with the module between devices but never enters a
    checkpoint (it is recomputed from the style image).

    Args:
        statistic: Maps the features of one layer (or of two, for a cross-layer statistic) to
            the per-image tensor compared, (B, ...).
        normalization: ``"elements"``, ``"gatys"`` or ``"frobenius"``; see ``style_distance``.
    """

    def __init__(
        self, statistic: Callable[..., Tensor] = gram_matrix, normalization: str = "elements"
    ) -> None:
        super().__init__()
        self.statistic = statistic
        self.normalization = normalization
        self.register_buffer("target", torch.empty(0), persistent=False)

    @torch.no_grad()
    def set_target(self, *features: Tensor) -> None:
        """Store the statistic of the style features, averaged over style images."""
        self.target = self.statistic(*features).mean(dim=0, keepdim=True)

    def forward(self, *features: Tensor) -> Tensor:
        if self.target.numel() == 0:
            raise RuntimeError("no style target: call PerceptualLoss.set_style(style_image) first")
        return style_distance(self.statistic(*features), self.target, self.normalization)
