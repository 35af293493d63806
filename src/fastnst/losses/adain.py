"""The loss of arbitrary-style networks (Huang & Belongie 2017, sec. 6.2), plain or scale-free.

With f_l the encoder's layer l (relu1_1 ... relu4_1), t = AdaIN(f(c), f(s)) the decoder's input
and y = g(t) its output:

    L         = w_c L_content + w_s L_style
    L_content = E(f_relu4_1(y), t)                  (t, not the photo's features: their eq. 2)
    L_style   = agg_l [ E(mu(f_l(y)), mu(f_l(s))) + E(sigma(f_l(y)), sigma(f_l(s))) ]  (eq. 3)

``normalization="paper"``: E is the mean squared error and agg_l the sum over the four layers,
as in the reference code (pytorch-AdaIN's ``Net.forward``; its ``train.py`` weighs style 10,
content 1). Its sigma is ``torch.var`` (unbiased, over HW - 1) + eps, then sqrt: pass
``unbiased=True`` for that; the paper's (and the default) is over HW. ``style_weight=10`` is the
reference's only with its encoder (``model.encoder=vgg_normalised`` holding its
``vgg_normalised.pth``, as ``experiment=adain``): its feature scales differ from torchvision's
VGG-19, and for a random VGG no weight means anything. ``"target"``, the scale-free form of
``loss.style_normalization=target`` (:mod:`fastnst.losses.functional`): each E is divided per
image by the mean square of its own target, the style term is [mu, sigma] compared as one
statistic, and agg_l is the mean over layers, so every term starts near 1 for any encoder,
ImageNet or random VGG, and ``style_weight=1`` means "as much style as content". Ours, not the
paper's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fastnst.errors import FastNSTError
from fastnst.losses.functional import content_loss, style_distance
from fastnst.models.adain import ENCODER_LAYERS, feature_statistics

ADAIN_NORMALIZATIONS = ("target", "paper")


def _style_layer(output: Tensor, style: Tensor, normalization: str, unbiased: bool) -> Tensor:
    """One layer's mean/std distance; ``style`` is features or (B, 2, C) statistics."""
    stats = feature_statistics(output, unbiased=unbiased)  # (B, 2, C)
    target = style if style.dim() == 3 else feature_statistics(style, unbiased=unbiased)
    target = target.expand_as(stats)
    if normalization == "paper":
        return F.mse_loss(stats[:, 0], target[:, 0]) + F.mse_loss(stats[:, 1], target[:, 1])
    return style_distance(stats, target, "target")


def adain_loss(
    output_features: list[Tensor],
    target: Tensor,
    style_features: list[Tensor],
    *,
    content_weight: float = 1.0,
    style_weight: float = 1.0,
    normalization: str = "target",
    unbiased: bool = False,
) -> dict[str, Tensor]:
    """The terms of L (see module): ``total``, ``content``, ``style`` and ``style_<layer>``.

    Args:
        output_features: f_l(y) for relu1_1 ... relu4_1, each (B, C_l, H_l, W_l).
        target: t, the AdaIN output the decoder was given, (B, 512, H_4, W_4).
        style_features: f_l(s) per layer, (B or 1, C_l, H'_l, W'_l), or their
            (B or 1, 2, C_l) statistics.
        content_weight: w_c.
        style_weight: w_s.
        normalization: ``"target"`` (scale-free) or ``"paper"``.
        unbiased: Standard deviations over HW - 1, as the reference code (of features only:
            statistics passed in are used as they are).
    """
    if normalization not in ADAIN_NORMALIZATIONS:
        raise ValueError(f"unknown normalization {normalization!r}; use target or paper")
    deepest = output_features[-1]
    if normalization == "paper":
        content = F.mse_loss(deepest.float(), target.float())
    else:
        content = content_loss(deepest, target, relative=True)
    layers = {
        f"style_{name}": _style_layer(out, style, normalization, unbiased)
        for name, out, style in zip(ENCODER_LAYERS, output_features, style_features, strict=True)
    }
    stacked = torch.stack(list(layers.values()))
    style = stacked.sum() if normalization == "paper" else stacked.mean()
    total = content_weight * content + style_weight * style
    return {"total": total, "content": content, "style": style, **layers}


class AdaINLoss(nn.Module):
    """:func:`adain_loss` with its weights fixed, as ``loss=adain`` builds it.

    Args:
        content_weight: w_c.
        style_weight: w_s.
        normalization: ``"target"`` (scale-free, for any VGG) or ``"paper"`` (the reference
            with ``style_weight=10``, ``unbiased=True`` and the ``vgg_normalised`` encoder).
        unbiased: See :func:`adain_loss`.
    """

    style_layers = ENCODER_LAYERS

    def __init__(
        self,
        content_weight: float = 1.0,
        style_weight: float = 1.0,
        normalization: str = "target",
        unbiased: bool = False,
    ) -> None:
        super().__init__()
        if normalization not in ADAIN_NORMALIZATIONS:
            raise FastNSTError(f"unknown loss.normalization={normalization}; use target or paper")
        self.content_weight, self.style_weight = content_weight, style_weight
        self.normalization, self.unbiased = normalization, unbiased

    def forward(
        self, output_features: list[Tensor], target: Tensor, style_features: list[Tensor]
    ) -> dict[str, Tensor]:
        return adain_loss(
            output_features, target, style_features, content_weight=self.content_weight,
            style_weight=self.style_weight, normalization=self.normalization,
            unbiased=self.unbiased,
        )  # fmt: skip
