"""How close two fp32 computations of the same function must be: a bound from rounding, not a host.

Two correct fp32 programs for one network (eager and TorchScript, a convolution and its blocked
rewrite, ONNX Runtime and PyTorch) differ only by rounding, and how they round depends on the
kernel each host picks (oneDNN or MKL, AVX2, AVX-512 or AMX, the thread count). A bound measured on
one CPU is therefore not a bound; this one is derived from what is compared:

* One layer sums ``K`` products per output value. In fp32 (unit roundoff ``u = eps / 2``,
  ``eps = 2**-23``) the computed sum is off by at most ``lambda * sqrt(K) * u`` times
  ``sum |a_i b_i|``, except with probability ``2 K exp(-lambda**2 / 2)`` (Higham and Mary, "A new
  approach to probabilistic rounding error analysis", SIAM J. Sci. Comput. 41(5), 2019, sec. 3).
  With ``lambda = 8`` (a failure chance of 1e-10 per sum) and ``K <= 4096`` (3x3x256 = 2304, the
  9x9x32 = 2592 output layer; VGG's 3x3x512 = 4608 is within lambda's slack) that is
  ``8 * 64 * u = 256 eps``; two programs each round, so they may differ by ``LAYER_ROUNDING =
  512 eps = 6.1e-5`` per layer. The deterministic worst case (``K u``, Higham 2002, sec. 3.1) is
  what a sum in the worst order reaches; real kernels block their sums and stay far below.
  Where every sum is known to be short, pass its length as ``terms``.
* Errors add up layer by layer: ``depth`` is the number of layers (a convolution with its norm and
  activation; a matrix product) the compared values went through. Instance norm gives every layer
  unit-scale activations, so the error stays relative to that scale; its own mean and variance
  are pairwise sums, inside the layer's allowance.
* The exception is a constant map (a 1 x 1 photo, padded to 8 x 8): in exact arithmetic instance
  norm returns its beta there, in fp32 its rounding noise divided by ``sqrt(1e-5)``, not by the
  map's spread, so the terms' rounding reaches the output ``NORM_GAIN = 316`` times larger
  (:func:`photo_scale`). Only the range of the output bounds what later norms add to it, so at
  1 x 1 a comparison says that the program runs and gives a sensible image; parity is what the
  other sizes show. (Measured, largest over the kernels of docs/testing.md: 2.9e-4 at depth 8.)
* ``scale`` is the size of the values the sums were made of: the reference's largest magnitude
  by default (1 for images in [0, 1]); pass it when the compared values cancel (a small difference
  of large terms carries the rounding error of the large terms).

At depth 10 (Johnson's network with two residual blocks) and scale 1 the bound is 6.1e-4, while
real bugs (a wrong padding, a missing bias, a forgotten clamp) move outputs by more than 1e-2.
Identical code paths are no rounding question: compare them with ``torch.equal``.
"""

from __future__ import annotations

import torch
from torch import nn

FP32_EPS = torch.finfo(torch.float32).eps  # 2**-23 = 1.19e-7, twice the unit roundoff
LAMBDA = 8.0  # probabilistic bound's width: fails with chance 2 K exp(-32), 1e-10 at K = 4096
MAX_TERMS = 4096  # products per output value in one layer: 3x3x256, 9x9x32 and below
LAYER_ROUNDING = 2 * LAMBDA * MAX_TERMS**0.5 * (FP32_EPS / 2)  # = 512 eps: two programs, one layer
NORM_GAIN = 1e-5**-0.5  # 316: instance norm's 1 / sqrt(eps) on a constant map


def fp32_tolerance(depth: int, scale: float = 1.0, terms: int = MAX_TERMS) -> float:
    """The largest difference two fp32 programs for the same ``depth``-layer function may show
    on values of magnitude ``scale``: ``depth * 2 LAMBDA sqrt(terms) u * scale``, 512 eps per
    layer at the default ``terms``; pass fewer ``terms`` where every sum is known to be short."""
    if depth < 1 or terms < 1:
        raise ValueError(f"depth (layers) and terms (products) are at least 1: {depth}, {terms}")
    return depth * 2 * LAMBDA * terms**0.5 * (FP32_EPS / 2) * scale


def photo_scale(height: int, width: int) -> float:
    """The ``scale`` of a network's [0, 1] output for a photo of that size: 1, or
    ``NORM_GAIN`` for a 1 x 1 photo, whose padded map makes instance norm ill-conditioned."""
    return NORM_GAIN if height == width == 1 else 1.0


def layer_count(model: nn.Module) -> int:
    """The convolutions and linear layers of ``model``: its depth, or a bound on it where some
    layers run side by side (norms and AdaIN are inside their layer's allowance)."""
    return sum(isinstance(m, nn.Conv2d | nn.Linear) for m in model.modules())


def assert_close_fp32(
    actual: torch.Tensor,
    expected: torch.Tensor,
    *,
    depth: int,
    what: str = "",
    scale: float | None = None,
    terms: int = MAX_TERMS,
) -> None:
    """Assert ``actual`` and ``expected`` have one shape and differ by at most
    :func:`fp32_tolerance` (``depth``, ``scale``, ``terms``); ``scale`` defaults to
    ``max |expected|``."""
    actual, expected = torch.as_tensor(actual).double(), torch.as_tensor(expected).double()
    shapes = f"{what}: shape {tuple(actual.shape)} is not {tuple(expected.shape)}"
    assert actual.shape == expected.shape, shapes
    assert bool(torch.isfinite(actual).all()), f"{what}: non-finite values"
    if scale is None:
        scale = float(expected.abs().max()) if expected.numel() else 0.0
    error = float((actual - expected).abs().max()) if expected.numel() else 0.0
    bound = fp32_tolerance(depth, scale, terms)
    assert error <= bound, (
        f"{what}: max |actual - expected| = {error:.3g} > {bound:.3g}, "
        f"fp32 rounding through {depth} layers at scale {scale:.3g}"
    )
