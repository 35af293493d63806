"""Arbitrary-style networks at inference: the paintings bound once, then a one-input network.

An arbitrary-style network (:class:`~fastnst.models.adain.AdaINNet`) takes the painting as an
input, but only through its statistics (2 x 512 numbers at relu4_1). :func:`bind_paintings`
encodes the painting(s) once, blends several with weights (Huang & Belongie 2017, eq. 14),
and returns a module called like a per-style network, ``bound(content)``, so a folder of
photos or a video pays for the painting once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torch import Tensor, nn

from fastnst.errors import FastNSTError
from fastnst.io.image import open_rgb, pil_to_tensor, resize_short_side
from fastnst.models.adain import blend_statistics

Painting = str | Path | Image.Image | Tensor
MIN_STYLE_SIDE = 8  # relu4_1 is 1/8 of the painting


def is_arbitrary(model: object) -> bool:
    """Whether ``model`` takes its painting as an input (it has ``style_statistics``)."""
    return callable(getattr(model, "style_statistics", None))


def load_painting(painting: Painting, size: int | None = None) -> Tensor:
    """A painting as (1, 3, H, W) RGB in [0, 1], its short side resized to ``size`` if given.

    Args:
        painting: An image file, a PIL image (its EXIF orientation applied) or a (3, H, W) /
            (1, 3, H, W) tensor in [0, 1].
        size: Short side in px; ``None`` keeps the painting's size.
    """
    if isinstance(painting, Tensor):
        image = painting[None] if painting.dim() == 3 else painting
        if size is not None and min(image.shape[-2:]) != size:
            scale = size / min(image.shape[-2:])
            h, w = (max(1, round(n * scale)) for n in image.shape[-2:])
            image = F.interpolate(image.float(), (h, w), mode="bicubic", antialias=True)
        image = image.float().clamp(0, 1)
    else:
        if isinstance(painting, (str, Path)):
            pil = open_rgb(painting)  # upright already
        else:
            pil = ImageOps.exif_transpose(painting).convert("RGB")
        image = pil_to_tensor(resize_short_side(pil, size) if size is not None else pil)
    if image.dim() != 4 or image.shape[:2] != (1, 3) or min(image.shape[-2:]) < MIN_STYLE_SIDE:
        raise FastNSTError(
            f"style_image of shape {tuple(image.shape)} is not one RGB painting of at least "
            f"{MIN_STYLE_SIDE} px; pass an image file or a (3, H, W) tensor (style_size=)"
        )
    return image


def check_arbitrary_options(model: nn.Module, *, tile: int | None, backend: str) -> None:
    """Refuse what an arbitrary-style network cannot do, before its painting is encoded.

    Raises:
        FastNSTError: ``model`` has its paintings built in (``style_image`` / ``alpha`` make
            no sense), or tiles or ONNX Runtime were asked for.
    """
    if not is_arbitrary(model):
        raise FastNSTError(
            "style_image= and alpha= need an arbitrary-style checkpoint (train.py "
            "experiment=adain); this network has its paintings built in: drop them"
        )
    if tile is not None or backend == "onnxruntime":
        raise FastNSTError(
            "an arbitrary-style network runs whole and in PyTorch: drop tile= and "
            "backend=onnxruntime (export=onnx writes a two-input model instead)"
        )


class BoundStyle(nn.Module):
    """An arbitrary-style network with fixed painting statistics: ``forward(content)``.

    Args:
        model: The network (``forward(content, alpha=, style_stats=)`` and
            ``style_statistics(paintings)``).
        stats: (1, 2, C) painting statistics, kept as a buffer (moves with ``.to``).
        alpha: 0 decodes the photo's own features, 1 the full painting's.
    """

    def __init__(self, model: nn.Module, stats: Tensor, alpha: float = 1.0) -> None:
        super().__init__()
        self.model, self.alpha = model, alpha
        self.register_buffer("stats", stats)

    def forward(self, content: Tensor) -> Tensor:
        return self.model(content, alpha=self.alpha, style_stats=self.stats)


@torch.no_grad()
def bind_paintings(
    model: nn.Module,
    paintings: Painting | Sequence[Painting] | None,
    weights: Sequence[float] | None = None,
    *,
    alpha: float = 1.0,
    size: int | None = 512,
) -> BoundStyle:
    """``model`` with the (blended) statistics of ``paintings`` computed once.

    Args:
        model: An arbitrary-style network, on the device it will run on.
        paintings: One painting or several (see :func:`load_painting`).
        weights: One per painting (normalised to sum to 1); ``None``: equal weights.
        alpha: Content-style trade-off in [0, 1] (Huang & Belongie 2017, eq. 13).
        size: Short side the paintings are resized to; ``None`` keeps their size.

    Raises:
        FastNSTError: ``model`` has its style built in, no painting, bad weights or alpha.
    """
    if not is_arbitrary(model):
        raise FastNSTError("style_image= needs an arbitrary-style checkpoint (experiment=adain)")
    device = next(model.parameters()).device

    def encode(painting: Tensor) -> Tensor:
        return model.style_statistics(painting.to(device))

    return BoundStyle(model, _painting_statistics(encode, paintings, weights, alpha, size), alpha)


def _painting_statistics(
    encode: Callable[[Tensor], Tensor], paintings: Painting | Sequence[Painting] | None,
    weights: Sequence[float] | None, alpha: float, size: int | None,
) -> Tensor:  # fmt: skip
    """The blended statistics ``encode`` gives the paintings, after checking the options."""
    if paintings is None:
        raise FastNSTError("this network paints any painting: pass style_image=painting.jpg")
    if not 0.0 <= alpha <= 1.0:
        raise FastNSTError(f"alpha={alpha} is outside [0, 1]; 1 is the full style")
    items = list(paintings) if isinstance(paintings, (list, tuple)) else [paintings]
    bad = weights is not None and len(weights) != len(items)
    if weights is not None and (bad or min(weights) < 0 or sum(weights) <= 0):
        raise FastNSTError(
            f"style_image_weights={list(weights)} must be {len(items)} non-negative numbers, "
            "one per style_image, not all 0"
        )
    stats = torch.cat([encode(load_painting(p, size)) for p in items])
    blend = None if weights is None else torch.tensor([float(w) for w in weights])
    return blend_statistics(stats, blend)


class OnnxBoundStyle:
    """An arbitrary-style export (:class:`~fastnst.inference.runtime.OnnxModel`) with its
    painting fixed, called like a one-input export: ``bound(image)``.

    A two-input AdaIN export encodes the painting again on every call (it has no statistics
    input); a split style-prediction export takes the painting's style vector, computed once
    here, lerped with each photo's own vector when ``alpha`` < 1 (Ghiasi et al. 2017, sec. 5).
    """

    def __init__(
        self, onnx: object, *, painting: Tensor | None = None,
        style_vector: Tensor | None = None, alpha: float = 1.0,
    ) -> None:  # fmt: skip
        self.onnx, self.painting, self.alpha = onnx, painting, alpha
        self.style_vector = style_vector
        self.path, self.styles, self.num_styles = onnx.path, None, 1

    def __call__(self, image: Tensor, style: Tensor | None = None) -> Tensor:
        if self.style_vector is None:
            return self.onnx(image, style_image=self.painting)
        if self.alpha == 1.0:
            return self.onnx(image, style_vector=self.style_vector)
        return torch.cat([
            self.onnx(photo[None], style_vector=torch.lerp(
                self.onnx.style_statistics(photo[None]), self.style_vector, self.alpha
            )) for photo in image
        ])  # fmt: skip


def bind_onnx_painting(
    onnx: object, painting: Painting | Sequence[Painting] | None, weights: object, *,
    alpha: float, size: int | None,
) -> OnnxBoundStyle:  # fmt: skip
    """``onnx`` (an arbitrary-style export) with its painting(s) bound.

    A split export (style prediction) takes several paintings with weights and any ``alpha``,
    like the checkpoint; a two-input AdaIN export one painting at ``alpha`` 1.

    Raises:
        FastNSTError: No painting; for a two-input export several, weights or an alpha below 1
            (use the checkpoint for blends and alpha); or ``onnx`` is a per-style export.
    """
    if not getattr(onnx, "arbitrary", False):
        raise FastNSTError(
            f"ckpt={onnx.path} is an exported model with its paintings built in: drop "
            "style_image= and alpha="
        )
    if getattr(onnx, "predictor", None) is not None:
        vectors = _painting_statistics(onnx.style_statistics, painting, weights, alpha, size)
        return OnnxBoundStyle(onnx, style_vector=vectors, alpha=alpha)
    if painting is None or isinstance(painting, (list, tuple)) or weights is not None:
        raise FastNSTError(
            f"ckpt={onnx.path} takes one style_image= (no list, no style_image_weights=); blend "
            "paintings with the PyTorch checkpoint"
        )
    if alpha != 1.0:
        raise FastNSTError(f"ckpt={onnx.path} paints at alpha=1 only; use the checkpoint")
    return OnnxBoundStyle(onnx, painting=load_painting(painting, size))
