"""The perceptual loss over a VGG: what every ``configs/loss/`` file (but ``adain``) builds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastnst.losses.perceptual import PerceptualLoss
from fastnst.vgg import VGGFeatures, layer_names


def vgg_perceptual_loss(
    *,
    arch: str,
    content_layers: Mapping[str, float | None],
    style_layers: Mapping[str, float | None],
    weights: str = "imagenet",
    input_norm: str = "auto",
    pooling: str = "max",
    seed: int = 0,
    style_weight: float = 1e5,
    style_weight_scale: float = 1.0,
    **loss_kwargs: Any,
) -> PerceptualLoss:
    """A :class:`PerceptualLoss` over a VGG cut after the deepest layer it needs.

    ``loss=johnson``: VGG16, content relu2_2, style relu1_2, relu2_2, relu3_3, relu4_3 (Johnson
    et al. 2016). ``loss=gatys``: VGG19, content relu4_2, style relu1_1 ... relu5_1 (Gatys et al.
    2016). The other files of ``configs/loss/`` are variants of these, or a reference's recipe
    term for term (``examples``, ``johnson2016``, ``magenta``, ``gatys2016``, ``tutorial``:
    docs/references.md). A layer whose weight is ``None`` is left out (a config variant drops
    a layer it inherits that way), and the layers are taken shallow to deep whatever the order
    they are listed in (the order a correlation chain links them in). ``loss_kwargs`` are the
    keyword options of :class:`PerceptualLoss`; its style weight is ``style_weight *
    style_weight_scale``, so a variant whose E_l has another scale (another normalization or
    statistic) keeps using the painting's ``style.weight``. ``weights``, ``input_norm``,
    ``pooling`` and ``seed`` are those of :class:`~fastnst.vgg.VGGFeatures` (``vgg.*``).
    """
    content_layers, style_layers = _by_depth(arch, content_layers), _by_depth(arch, style_layers)
    encoder = VGGFeatures(
        arch, [*content_layers, *style_layers], weights=weights, input_norm=input_norm,
        pooling=pooling, seed=seed,
    )  # fmt: skip
    return PerceptualLoss(
        encoder, content_layers, style_layers, style_weight=style_weight * style_weight_scale,
        **loss_kwargs,
    )  # fmt: skip


def _by_depth(arch: str, layers: Mapping[str, float | None]) -> dict[str, float]:
    """``layers`` without those of weight ``None``, shallow to deep (unknown names last, for
    :class:`~fastnst.vgg.VGGFeatures` to name)."""
    order = {name: index for index, name in enumerate(layer_names(arch))}
    kept = [(name, float(weight)) for name, weight in layers.items() if weight is not None]
    return dict(sorted(kept, key=lambda item: order.get(item[0], len(order))))
