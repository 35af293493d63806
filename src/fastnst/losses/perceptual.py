"""The perceptual loss shared by the trainer and the optimization solver."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from fastnst.losses.functional import content_loss, total_variation
from fastnst.losses.style import GramStyleLoss
from fastnst.vgg import VGGFeatures


class PerceptualLoss(nn.Module):
    """Content + style + total variation loss over one encoder pass (Johnson et al. 2016, eq. 5).

        L(y; x, s) = w_c sum_l a_l E_content,l(y, x) + w_s sum_l b_l E_style,l(y, s) + w_tv TV(y)

    with the per-term normalization of :mod:`fastnst.losses.functional`. ``forward`` returns
    every term (unweighted, per style layer too) so trainers and solvers can log them.

    Args:
        encoder: Returns ``{layer name: features}`` for ``encoder(image, layers)``; a
            :class:`~fastnst.vgg.VGGFeatures` in practice, a tiny network in tests.
        content_layers: Layer name -> weight a_l.
        style_layers: Layer name -> weight b_l.
        content_weight: w_c.
        style_weight: w_s.
        tv_weight: w_tv.
        tv_p: 2 for squared total variation, 1 for L1.
    """

    def __init__(
        self,
        encoder: nn.Module,
        content_layers: Mapping[str, float],
        style_layers: Mapping[str, float],
        *,
        content_weight: float = 1.0,
        style_weight: float = 1e5,
        tv_weight: float = 0.0,
        tv_p: int = 2,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.content_layers = {name: float(w) for name, w in content_layers.items()}
        self.style_layers = {name: float(w) for name, w in style_layers.items()}
        self.style_losses = nn.ModuleDict({name: GramStyleLoss() for name in self.style_layers})
        self.content_weight = content_weight
        self.style_weight = style_weight
        self.tv_weight = tv_weight
        self.tv_p = tv_p

    @torch.no_grad()
    def set_style(self, style: Tensor) -> None:
        """Compute the style targets once from the style image(s), RGB in [0, 1], (N, 3, H, W)."""
        features = self.encoder(style, list(self.style_layers))
        for name, loss in self.style_losses.items():
            loss.set_target(features[name])

    def forward(self, output: Tensor, content: Tensor) -> dict[str, Tensor]:
        """All loss terms of ``output`` for the content images ``content``.

        Returns:
            ``total``, ``content``, ``style``, ``tv`` and ``style_<layer>`` (unweighted E_l).
        """
        with torch.no_grad():
            targets = self.encoder(content, list(self.content_layers))
        features = self.encoder(output, list(self.content_layers | self.style_layers))
        terms = {
            f"style_{name}": loss(features[name]) for name, loss in self.style_losses.items()
        }
        style = sum(self.style_layers[name] * terms[f"style_{name}"] for name in self.style_layers)
        content = sum(
            weight * content_loss(features[name], targets[name])
            for name, weight in self.content_layers.items()
        )
        tv = total_variation(output, self.tv_p)
        total = self.content_weight * content + self.style_weight * style + self.tv_weight * tv
        return {"total": total, "content": content, "style": style, "tv": tv, **terms}


def vgg_perceptual_loss(
    *,
    arch: str,
    content_layers: Mapping[str, float],
    style_layers: Mapping[str, float],
    weights: str = "imagenet",
    pooling: str = "max",
    seed: int = 0,
    **loss_kwargs: float,
) -> PerceptualLoss:
    """A :class:`PerceptualLoss` over a VGG cut after the deepest layer it needs.

    ``loss=johnson``: VGG16, content relu2_2, style relu1_2, relu2_2, relu3_3, relu4_3 (Johnson
    et al. 2016). ``loss=gatys``: VGG19, content relu4_2, style relu1_1 ... relu5_1 (Gatys et al.
    2016). ``loss_kwargs`` are the weights of :class:`PerceptualLoss`.
    """
    encoder = VGGFeatures(
        arch, [*content_layers, *style_layers], weights=weights, pooling=pooling, seed=seed
    )
    return PerceptualLoss(encoder, content_layers, style_layers, **loss_kwargs)
