"""Our reference recipes beside their references' objectives (:mod:`reference_objectives`).

:func:`compare` builds our loss from the real config (``loss=<recipe>`` with
``vgg.weights=random``) and the reference's objective on the same weights, and puts them side
by side: each weighted term's ratio ours / theirs and the cosine between the gradients of that
term on the pixels. Used by tests/test_reference_recipes.py and
scripts/reference_equivalence.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from reference_objectives import (
    Terms,
    examples_reference,
    gatys_reference,
    johnson_preprocess,
    johnson_reference,
    johnson_tv_grad,
    magenta_reference,
    tutorial_reference,
)
from torch import Tensor, nn

from fastnst.vgg import load_vgg_state_dict

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


REFERENCES: dict[str, tuple[str, str, Callable[..., Terms], int, bool]] = {
    # recipe: (root config, arch, reference, batch, painting of the photo's size)
    "examples": ("train", "vgg16", examples_reference, 2, False),
    "johnson2016": ("train", "vgg16", johnson_reference, 2, False),
    "magenta": ("train", "vgg16", magenta_reference, 2, False),
    "gatys2016": ("optimize", "vgg19", gatys_reference, 1, True),
    "tutorial": ("optimize", "vgg19", tutorial_reference, 1, True),
}
PIXEL_SPACE: dict[str, Callable[[Tensor], Tensor]] = {  # their pixels from ours, for gradients
    "johnson2016": johnson_preprocess,
}


def our_loss(recipe: str, seed: int) -> nn.Module:
    """``loss=<recipe>`` composed from the real configs with a random VGG of ``seed``."""
    root = REFERENCES[recipe][0]
    overrides = [f"loss={recipe}", "vgg.weights=random", f"vgg.seed={seed}"]
    if root == "optimize":
        overrides.append("content=unused.jpg")
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(config_name=root, overrides=overrides)
    return instantiate(cfg.loss)


def weighted_terms(loss: nn.Module, y: Tensor, x: Tensor) -> Terms:
    """Our loss's terms as they enter the total: w_c E_c, w_s b_l E_l, w_tv TV."""
    raw = loss(y, x)
    terms = {"content": loss.content_weight * raw["content"]}
    for key, weight in loss.style_term_weights.items():
        terms[f"style_{key}"] = loss.style_weight * weight * raw[f"style_{key}"]
    if loss.tv_weight:
        terms["tv"] = loss.tv_weight * raw["tv"]
    terms["total"] = raw["total"]
    return terms


def _images(recipe: str, size: tuple[int, int], seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """Output y, photos x (the recipe's batch) and a painting s, smooth random images."""
    _, _, _, batch, same_size = REFERENCES[recipe]
    generator = torch.Generator().manual_seed(seed)
    h, w = size
    style_size = size if same_size else (h + 8, w - 4)

    def smooth(n: int, hw: tuple[int, int]) -> Tensor:
        low = torch.rand(n, 3, 6, 6, generator=generator)
        detail = torch.rand(n, 3, *hw, generator=generator)
        return 0.8 * F.interpolate(low, size=hw, mode="bilinear") + 0.2 * detail

    return smooth(batch, size), smooth(batch, size), smooth(1, style_size)


def _grad(term: Tensor, image: Tensor) -> Tensor:
    return torch.autograd.grad(term, image, retain_graph=True)[0]


def _cosine(a: Tensor, b: Tensor) -> float:
    a, b = a.double().flatten(), b.double().flatten()
    return float(a @ b / (a.norm() * b.norm()))


def compare(
    recipe: str, size: tuple[int, int], seed: int = 0, dtype: torch.dtype = torch.float64
) -> list[dict[str, object]]:
    """Every term of ``recipe``: ours, theirs, ratio and gradient cosine (one row each).

    Both sides run their VGG in ``dtype``. float64 by default: in float32 a max-pooling or
    ReLU decision near a tie can go the other way in one program than in the other (their
    0-255 arithmetic rounds differently from ours), which moves that unit's gradient to a
    neighbouring pixel, a change of the objective's kinks, not of its formula (seen once at
    32x40: a cosine of 0.999996). Our Grams and means still reduce in float32, as in training.
    """
    _, arch, reference, _, _ = REFERENCES[recipe]
    loss = our_loss(recipe, seed).to(dtype)
    y, x, s = (t.to(dtype) for t in _images(recipe, size, seed))
    loss.set_style(s)
    state = {k: v.to(dtype) for k, v in load_vgg_state_dict(arch, "random", seed=seed).items()}
    y_ours = y.clone().requires_grad_(True)
    ours = weighted_terms(loss, y_ours, x)
    to_theirs = PIXEL_SPACE.get(recipe, lambda t: t)
    y_theirs = y.clone().requires_grad_(True)
    theirs = reference(state, y_theirs, x, s)
    theirs["total"] = sum(theirs.values())
    if set(ours) != set(theirs):
        raise AssertionError(f"{recipe}: terms {sorted(ours)} vs the reference's {sorted(theirs)}")
    rows = []
    for term in ours:
        grad_ours = _grad(ours[term], y_ours)
        if recipe == "johnson2016" and term in ("tv", "total"):  # their TV gradient, by hand
            tv = _tv_pixel_grad(y, to_theirs)
            rest = sum(theirs[t] for t in theirs if t not in ("tv", "total"))
            grad_theirs = tv if term == "tv" else tv + _grad(rest, y_theirs)
        else:
            grad_theirs = _grad(theirs[term], y_theirs)
        rows.append({
            "reference": recipe, "size": f"{size[0]}x{size[1]}", "term": term,
            "ours": ours[term].item(), "theirs": theirs[term].item(),
            "ratio": (ours[term].double() / theirs[term].double()).item(),
            "cosine": _cosine(grad_ours, grad_theirs),
        })  # fmt: skip
    return rows


def _tv_pixel_grad(y: Tensor, to_theirs: Callable[[Tensor], Tensor]) -> Tensor:
    """TotalVariation.lua's gradient in their pixel space, carried back to ours (chain rule)."""
    y = y.clone().requires_grad_(True)
    theirs = to_theirs(y)
    grad = johnson_tv_grad(theirs.detach(), 1e-6)
    return torch.autograd.grad(theirs, y, grad_outputs=grad)[0]


def worst(rows: list[dict[str, object]]) -> tuple[float, float]:
    """The largest |ratio - 1| and the smallest cosine over ``rows``."""
    ratio = max(abs(float(r["ratio"]) - 1) for r in rows)
    cosine = min(float(r["cosine"]) for r in rows)
    return ratio, cosine if not math.isnan(cosine) else -1.0
