"""Pure tensor functions behind the loss modules.

Normalization convention (one for every term, so that weights do not change with image size):
every loss is a *mean* over the elements it compares, and a Gram matrix is divided by the
number of elements of the feature map it came from. With F_l the (C, H*W) features of layer l,

    G_l = F_l F_l^T / (C H W)                      (Johnson et al. 2016, eq. 3)
    E_content = ||F_l(y) - F_l(x)||^2 / (C H W)    (Johnson et al. 2016, eq. 2; mean squared error)
    E_style,l = ||G_l(y) - G_l(s)||_F^2 / C^2      (Gatys et al. 2016, eq. 4, with G as above)
    TV(y) = mean |y[i+1, j] - y[i, j]|^p + mean |y[i, j+1] - y[i, j]|^p

Gatys et al. use sums with a 1 / (4 N^2 M^2) factor instead; the means above differ from
theirs by constants per layer, which the layer weights absorb. :func:`style_distance` offers
their form (``"gatys"``), Magenta's (``"magenta"``) and two scale-free ones (``"frobenius"``,
``"target"``) as alternatives to the mean (``"elements"``); :func:`half_squared_error` and
:func:`johnson_total_variation` are the content and TV terms of Gatys et al. and of Johnson
et al.'s code, for the reference recipes (docs/references.md).

Scale-free form (``loss.style_normalization=target``): each term is divided by the size of
what it is compared with, so it reads "error relative to the reference itself":

    E_style,l = mean((S_l(y) - S_l(s))^2) / mean(S_l(s)^2)      (per painting s)
    E_content = mean((F_l(y) - F_l(x))^2) / mean(F_l(x)^2)      (per content image x)
    TV_rel(y) = TV(y) / TV(x)                                   (``loss.tv_normalization``)

A constant factor on a layer's activations, the network's weights, the layer or the image
size no longer sets the scale of a term, so a style weight of 1 means "as much style as
content" for any encoder (ImageNet or random VGG). Our addition, in no paper. All reductions
run in fp32.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

NORMALIZATIONS = ("elements", "gatys", "magenta", "frobenius", "target")
CONTENT_NORMALIZATIONS = ("elements", "gatys")
TV_NORMALIZATIONS = ("absolute", "content", "johnson")
CONTENT_FEATURES = ("raw", "normalized")
EPS = torch.finfo(torch.float32).tiny  # floor of a feature denominator: only guards against 0
TV_EPS = 1e-6  # floor of TV(x): far below any photo's, so a flat frame does not blow up


def gram_matrix(features: Tensor, shift: float = 0.0) -> Tensor:
    """Channel correlations G = (F + s)(F + s)^T / (C H W) of each image.

    ``shift`` s = 0 is the plain Gram matrix (Gatys et al. 2016). s = -1 is the activation shift
    of Novak & Nikulin 2016: ReLU outputs are >= 0, so without it a zero activation
    adds nothing to G and G cannot tell sparse features from absent ones.

    Shape:
        features: (B, C, H, W). Returns: (B, C, C), fp32.
    """
    b, c, h, w = features.shape
    flat = features.float().reshape(b, c, h * w) + shift  # (B, C, H*W)
    with torch.autocast(flat.device.type, enabled=False):  # AMP would run bmm in bf16/fp16
        return torch.bmm(flat, flat.transpose(1, 2)) / (c * h * w)


def half_squared_error(features: Tensor, target: Tensor) -> Tensor:
    """Gatys et al. 2016, eq. 1: E = 1/2 sum_ij (F_ij - P_ij)^2 per image, averaged over the batch.

    The content term of ``loss.content_normalization=gatys``; the sum makes it grow with the
    image's size (N M elements), unlike the mean of :func:`content_loss`.

    Shape:
        features, target: (B, C, H, W).
    """
    diff = (features.float() - target.float()) ** 2
    return diff.flatten(1).sum(dim=1).mean() / 2


def content_loss(features: Tensor, target: Tensor, relative: bool = False) -> Tensor:
    """Mean squared feature difference ||F(y) - F(x)||^2 / (B C H W) (Johnson et al. 2016).

    ``relative=True`` (``loss.style_normalization=target``) divides per image by the
    content's own mean square and averages over the batch:

        E = 1/B sum_b mean_chw((F_b(y) - F_b(x))^2) / mean_chw(F_b(x)^2)

    Shape:
        features, target: (B, C, H, W).
    """
    diff = (features.float() - target.float()) ** 2
    if not relative:
        return torch.mean(diff)
    power = (target.float() ** 2).flatten(1).mean(dim=1)  # (B,)
    return (diff.flatten(1).mean(dim=1) / power.clamp_min(EPS)).mean()


def style_distance(statistic: Tensor, target: Tensor, normalization: str = "elements") -> Tensor:
    """Distance E_l between the style statistic of the output and the style target.

    With S the statistic of the output and A the target's (per image, any trailing shape):

    - ``"elements"``: E = ||S - A||^2 / (number of entries), the mean (module convention).
    - ``"gatys"``: E = ||S - A||^2 / 4. For S = F F^T / (N M) (:func:`gram_matrix`) this is
      Gatys et al. 2016, eq. 4, E = 1 / (4 N^2 M^2) sum_ij (F F^T - F_s F_s^T)_ij^2, N channels,
      M positions. Deviation: each Gram is divided by its own M, which equals their form when
      both images have the same size and stays meaningful when they do not. Compared with
      ``"elements"`` it weights a layer by C^2 / 4, so deep (wide) layers dominate.
    - ``"magenta"``: E = ||S - A||^2, the sum. For S = F F^T / (N M) this is Magenta's
      (Dumoulin et al. 2017, ``learning.py``) E = mean_ij (G_hw(y) - G_hw(s))_ij^2 with their
      Gram G_hw = F F^T / M = N S: the mean over N^2 entries of N^2 times our squares. It
      weights a layer by C^2 against ``"elements"``, 4 times ``"gatys"``.
    - ``"frobenius"``: E = ||S / ||S||_F - A / ||A||_F||^2, scale free: invariant to the image
      size and to the magnitude of a layer's activations, so every layer counts alike.
    - ``"target"``: E = mean((S - A)^2) / mean(A^2), the error relative to the target's own
      mean square, per image (so per painting: each sample is divided by its own target's).
      Scale free like ``"frobenius"``, but it keeps the magnitude of S: a statistic twice too
      large costs E = 1, as much as a zero one.

    The result is averaged over the batch.

    Shape:
        statistic: (B, ...). target: (1, ...) or (B, ...), broadcast over the batch.
    """
    if normalization == "elements":
        return torch.mean((statistic - target) ** 2)
    if normalization in ("gatys", "magenta"):
        summed = ((statistic - target) ** 2).flatten(1).sum(dim=1).mean()
        return summed / 4 if normalization == "gatys" else summed
    if normalization == "frobenius":
        return ((_unit(statistic) - _unit(target)) ** 2).sum(dim=1).mean()
    if normalization == "target":
        power = (target**2).flatten(1).mean(dim=1).clamp_min(EPS)  # (B,) or (1,)
        return (((statistic - target) ** 2).flatten(1).mean(dim=1) / power).mean()
    raise ValueError(f"unknown style normalization {normalization!r}; use one of {NORMALIZATIONS}")


def _unit(statistic: Tensor) -> Tensor:
    """Each image's statistic flattened and divided by its Frobenius norm, (B, K)."""
    flat = statistic.flatten(1)
    return flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12)


def combine_layers(
    terms: Mapping[str, Tensor], weights: Mapping[str, float], log_alpha: float | None = None
) -> Tensor:
    """Weighted sum of per-layer losses, plain or log-balanced.

    ``log_alpha=None``: L = sum_l w_l E_l. Otherwise L = sum_l w_l log(alpha + E_l) with alpha > 1
    (so every term is positive): dL/dE_l = w_l / (alpha + E_l), so a layer whose loss is k times
    larger gets a gradient about k times smaller per unit of E_l and the layers' gradient
    magnitudes even out during optimization. It only acts where E_l is comparable to alpha or
    larger; for E_l << alpha it is the plain sum divided by alpha (plus a constant).
    """
    if log_alpha is None:
        return sum(weights[name] * terms[name] for name in weights)
    if log_alpha <= 1:
        raise ValueError(f"log_alpha must be > 1, got {log_alpha}")
    return sum(weights[name] * torch.log(log_alpha + terms[name]) for name in weights)


def total_variation(image: Tensor, p: int = 2) -> Tensor:
    """Total variation: mean |vertical differences|^p + mean |horizontal differences|^p.

    p=2 is the squared form (Mahendran & Vedaldi 2015, used by Johnson et al. 2016); p=1 is the
    anisotropic L1 form, which keeps edges sharper.

    Shape:
        image: (B, C, H, W) with H, W >= 2.
    """
    return _total_variation_per_image(image, p).mean()


def relative_total_variation(image: Tensor, reference: Tensor, p: int = 2) -> Tensor:
    """Total variation relative to a reference's, 1/B sum_b TV(y_b) / TV(x_b).

    With x the content photo (``loss.tv_normalization=content``), 1 means "as much variation
    as the photo has", whatever its size or texture. TV(x) is floored at 1e-6 (a flat
    photo; real ones are above 1e-4) so a blank frame gives a large but finite loss.

    Shape:
        image, reference: (B, C, H, W), or reference (1, C, H, W) for all of the batch.
    """
    reference_tv = _total_variation_per_image(reference, p).clamp_min(TV_EPS)
    return (_total_variation_per_image(image, p) / reference_tv).mean()


def johnson_total_variation(image: Tensor) -> Tensor:
    """The total variation of Johnson et al.'s ``TotalVariation.lua``, summed over the batch:

        TV(y) = 1/2 sum_{b, c, i < H-1, j < W-1} (y[i, j+1] - y[i, j])^2 + (y[i+1, j] - y[i, j])^2

    Their module only has a backward pass, whose gradient is that of this sum (so the last row's
    horizontal and the last column's vertical differences are left out). It acts on their
    network's output, Caffe-preprocessed 0-255 pixels: on [0, 1] pixels it is 255^2 times
    smaller, which ``loss=johnson2016`` folds into its weight (their 1e-6 -> 1e-6 * 255^2).

    Shape:
        image: (B, C, H, W) with H, W >= 2.
    """
    image = image.float()
    corner = image[:, :, :-1, :-1]
    dx = image[:, :, :-1, 1:] - corner
    dy = image[:, :, 1:, :-1] - corner
    return (dx**2 + dy**2).sum() / 2


def _total_variation_per_image(image: Tensor, p: int) -> Tensor:
    """TV of each image of the batch, (B,)."""
    if p not in (1, 2):
        raise ValueError(f"total_variation supports p=1 or p=2, got {p}")
    image = image.float()
    dy = (image[:, :, 1:, :] - image[:, :, :-1, :]).abs() ** p
    dx = (image[:, :, :, 1:] - image[:, :, :, :-1]).abs() ** p
    return dy.flatten(1).mean(dim=1) + dx.flatten(1).mean(dim=1)
