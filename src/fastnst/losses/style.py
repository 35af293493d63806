"""Style loss terms: a statistic of a layer's features matched to the style image's."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from fastnst.losses.functional import gram_matrix, style_distance


class StyleLoss(nn.Module):
    """E_l = d(S(F_l(y)), S(F_l(s))): a style statistic S compared by a distance d.

    With the defaults, S = :func:`~fastnst.losses.functional.gram_matrix` and d the mean
    squared difference: E_l = ||G_l(y) - G_l(s)||_F^2 / C^2 with G = F F^T / (C H W) (Gatys et
    al. 2016, eq. 4). Other statistics live in :mod:`fastnst.losses.statistics`, other
    distances in :func:`~fastnst.losses.functional.style_distance`.

    The style targets S(F_l(s_k)), one per painting k (shape (S, ...)), are computed once by
    :meth:`set_target` under ``no_grad`` and kept as a non-persistent buffer: it moves with the
    module between devices but never enters a checkpoint (it is recomputed from the paintings).
    ``forward`` compares each sample with the target of its own painting (``style``), or with a
    per-batch ``target`` computed elsewhere (arbitrary-style training).

    Args:
        statistic: Maps the features of one layer (or of two, for a cross-layer statistic) to
            the per-image tensor compared, (B, ...).
        normalization: ``"elements"``, ``"gatys"``, ``"frobenius"`` or ``"target"``; see
            ``style_distance``. With ``"target"`` each sample's E_l is divided by the mean
            square of its own target: the stored painting's it is compared with (selected by
            ``style`` like the target), or that of the per-batch ``target`` row.
    """

    def __init__(
        self, statistic: Callable[..., Tensor] = gram_matrix, normalization: str = "elements"
    ) -> None:
        super().__init__()
        self.statistic = statistic
        self.normalization = normalization
        self.register_buffer("target", torch.empty(0), persistent=False)

    @torch.no_grad()
    def set_target(self, *features: Sequence[Tensor]) -> None:
        """Store one target per painting; ``features[i][k]`` is input i of painting k, (1, ...).

        Paintings may differ in size, so each is passed as its own tensor.
        """
        per_painting = zip(*features, strict=True)
        self.target = torch.cat([self.statistic(*inputs) for inputs in per_painting])  # (S, ...)

    def select(self, style: Tensor | None, batch: int) -> Tensor:
        """The targets of a batch: ``target[style]`` (B, ...), or the only one (1, ...)."""
        if self.target.numel() == 0:
            raise RuntimeError("no style target: call PerceptualLoss.set_style(style_image) first")
        if style is not None:
            return self.target[style.to(self.target.device)]
        if self.target.shape[0] != 1:
            raise ValueError(
                f"this loss holds {self.target.shape[0]} paintings: pass style= (B,) indices"
            )
        return self.target

    def forward(
        self, *features: Tensor, style: Tensor | None = None, target: Tensor | None = None
    ) -> Tensor:
        """E_l of a batch, averaged over it.

        Args:
            features: The layer(s) of the output, (B, C, H, W) each.
            style: (B,) painting index of each sample; ``None`` with a single painting.
            target: (B, ...) or (1, ...) statistics to compare with instead of the stored ones.
        """
        if target is None:
            target = self.select(style, features[0].shape[0])
        return style_distance(self.statistic(*features), target, self.normalization)
