"""Style loss terms: a statistic of a layer's features matched to the style image's."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from fastnst.losses.functional import gram_loss, gram_matrix


class GramStyleLoss(nn.Module):
    """E_l = ||G_l(y) - G_l(s)||_F^2 / C^2 with G = F F^T / (C H W) (Gatys et al. 2016, eq. 4).

    The style target G_l(s) is computed once by :meth:`set_target` under ``no_grad`` and kept as a
    non-persistent buffer: it moves with the module between devices but never enters a checkpoint
    (it is recomputed from the style image).

    Args:
        statistic: Maps features (B, C, H, W) to the matrices compared, (B, C', C').
    """

    def __init__(self, statistic: Callable[[Tensor], Tensor] = gram_matrix) -> None:
        super().__init__()
        self.statistic = statistic
        self.register_buffer("target", torch.empty(0), persistent=False)

    @torch.no_grad()
    def set_target(self, features: Tensor) -> None:
        """Store the statistic of the style features, averaged over style images."""
        self.target = self.statistic(features).mean(dim=0, keepdim=True)

    def forward(self, features: Tensor) -> Tensor:
        if self.target.numel() == 0:
            raise RuntimeError("no style target: call PerceptualLoss.set_style(style_image) first")
        return gram_loss(self.statistic(features), self.target)
