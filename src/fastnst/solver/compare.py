"""Fast network vs optimization under one loss, in the form of Johnson et al. 2016 (sec. 4.1).

For each content image x: the network's output f(x) and the solver's image after N updates,
for every N asked for, are scored by the same :class:`~fastnst.losses.PerceptualLoss`. The
*loss parity N* is the smallest N with L(solver@N) < L(f(x)) (Johnson et al. report that
their network matches about 50 to 100 L-BFGS iterations), the *speedup* is
t(solver@N) / t(f(x)), both timed on the same device in the same run. Images are scored as
they are delivered: the network's output clamped to [0, 1]. Hydra-free.

Next to the loss, every image (the photo itself as the "no style" reference, the network's
output, the solver's at every N) gets the weight-free measures of :mod:`fastnst.quality`:
colour and texture sliced Wasserstein distances to the painting, SSIM to the photo.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch
from torch import Tensor, nn

from fastnst.device import synchronize
from fastnst.errors import FastNSTError
from fastnst.losses import PerceptualLoss
from fastnst.quality import quality_measures
from fastnst.solver.optimize import Callback, Progress, SolverConfig, optimize

log = logging.getLogger(__name__)

TERMS = ("content", "style", "tv", "total")
QUALITY = {  # measure -> column of the markdown table
    "color_swd": "colour SWD to painting",
    "texture_swd": "texture SWD to painting",
    "ssim": "SSIM to photo",
    "edge_ssim": "edge SSIM to photo",
}


@dataclass
class ImageComparison:
    """Network vs solver on one content image.

    Attributes:
        name: The image's file name.
        size: [H, W] at which both ran.
        network: Loss terms of the network's output; ``network_seconds`` its forward time.
        solver: N -> loss terms of the solver's image after N updates.
        solver_seconds: N -> solver time to reach it.
        curve: Solver total loss after i updates, i = 0 ... max N.
        quality: ``"photo"``, ``"network"``, ``"solver@N"`` -> :func:`measure_quality`'s
            measures (empty until a painting was given).
        images: ``"content"``, ``"network"``, ``"solver@N"`` -> image, for the grid only.
    """

    name: str
    size: list[int]
    network: dict[str, float]
    network_seconds: float
    solver: dict[int, dict[str, float]]
    solver_seconds: dict[int, float]
    curve: list[float]
    quality: dict[str, dict[str, float]] = field(default_factory=dict)
    images: dict[str, Tensor] = field(default_factory=dict, repr=False)

    @property
    def parity_n(self) -> int | None:
        return parity_n(
            {n: terms["total"] for n, terms in self.solver.items()}, self.network["total"]
        )

    @property
    def parity_iteration(self) -> int | None:
        """The first iteration of the curve below the network (finer than ``parity_n``)."""
        return parity_n(dict(enumerate(self.curve)), self.network["total"])

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "images"}
        data["parity_n"] = self.parity_n
        data["parity_iteration"] = self.parity_iteration
        data["speedup"] = {n: t / self.network_seconds for n, t in self.solver_seconds.items()}
        return data


def parity_n(solver_totals: dict[int, float], network_total: float) -> int | None:
    """The smallest N whose solver total is below the network's, ``None`` if there is none."""
    beaten = [n for n, total in solver_totals.items() if total < network_total]
    return min(beaten) if beaten else None


@torch.no_grad()
def time_network(
    model: nn.Module, content: Tensor, *, warmup: int = 2, repeats: int = 5
) -> tuple[Tensor, float]:
    """The network's output, clamped to [0, 1], and the median time of one forward pass.

    ``warmup`` untimed passes first (allocator, cuDNN autotuning), then ``repeats`` timed
    passes, each ended by a device synchronize.
    """
    for _ in range(warmup):
        model(content)
    times = []
    for _ in range(max(1, repeats)):
        synchronize(content.device)
        start = time.perf_counter()
        output = model(content)
        synchronize(content.device)
        times.append(time.perf_counter() - start)
    return output.clamp(0, 1), statistics.median(times)


def measure_quality(images: dict[str, Tensor], style: Tensor) -> dict[str, dict[str, float]]:
    """:func:`~fastnst.quality.quality_measures` of every image of a comparison.

    Args:
        images: ``"content"`` (the photo), ``"network"``, ``"solver@N"`` -> (1, 3, H, W).
        style: The painting, (1, 3, H', W'), at any size.

    Returns:
        ``"photo"`` (the photo scored as its own output: the "no style" reference),
        ``"network"``, ``"solver@N"`` -> ``color_swd``, ``texture_swd``, ``ssim``, ``edge_ssim``.
    """
    content = images["content"]
    style = style.to(content.device)
    return {
        "photo" if key == "content" else key: quality_measures(image, content, style)
        for key, image in images.items()
    }


def compare_image(
    name: str,
    model: nn.Module,
    loss: PerceptualLoss,
    content: Tensor,
    iterations: Sequence[int],
    config: SolverConfig,
    *,
    warmup: int = 2,
    repeats: int = 5,
    callbacks: Sequence[Callback] = (),
    style: Tensor | None = None,
) -> ImageComparison:
    """Score the network and one solver run, snapshotted at every N of ``iterations``.

    ``callbacks`` (a progress bar, ...) are passed on to the solver; their time is not counted.
    With the painting ``style`` (1, 3, H', W'), the images also get :func:`measure_quality`
    (after the timings).
    """
    if config.pyramid_levels != 1:
        raise FastNSTError("compare.py times single-scale runs; set solver.pyramid_levels=1")
    wanted = sorted(set(iterations))
    output, network_seconds = time_network(model, content, warmup=warmup, repeats=repeats)
    with torch.no_grad():
        network = {k: float(v) for k, v in loss(output, content).items()}
    snapshots: dict[int, Progress] = {}

    def keep(progress: Progress) -> None:
        if progress.iteration in wanted:
            snapshots[progress.iteration] = replace(progress, image=progress.image.clone())

    loss(content.clone().requires_grad_(True), content)["total"].backward()  # warm up the solver
    result = optimize(
        loss, content, replace(config, iterations=wanted[-1]), callbacks=[keep, *callbacks]
    )
    images = {"content": content, "network": output}
    images |= {f"solver@{n}": snapshots[n].image for n in wanted}
    return ImageComparison(
        name=name,
        size=list(content.shape[-2:]),
        network=network,
        network_seconds=network_seconds,
        solver={n: snapshots[n].terms for n in wanted},
        solver_seconds={n: snapshots[n].seconds for n in wanted},
        curve=[terms["total"] for terms in result.history],
        quality={} if style is None else measure_quality(images, style),
        images=images,
    )


def _mean_quality(comparisons: Sequence[ImageComparison]) -> dict[str, dict[str, float]]:
    """Method -> measure -> mean over the images; empty unless every image was measured."""
    if not all(c.quality for c in comparisons):
        return {}
    methods = comparisons[0].quality
    return {
        method: {m: statistics.fmean(c.quality[method][m] for c in comparisons) for m in measures}
        for method, measures in methods.items()
    }


def summarize(comparisons: Sequence[ImageComparison]) -> dict[str, Any]:
    """Means over the images of every term, time and quality measure; parity N of the means."""
    if not comparisons:
        raise FastNSTError("no images to compare; check content_dir")
    wanted = list(comparisons[0].solver)
    network = {t: statistics.fmean(c.network[t] for c in comparisons) for t in TERMS}
    network_seconds = statistics.fmean(c.network_seconds for c in comparisons)
    solver = {
        n: {t: statistics.fmean(c.solver[n][t] for c in comparisons) for t in TERMS} for n in wanted
    }
    seconds = {n: statistics.fmean(c.solver_seconds[n] for c in comparisons) for n in wanted}
    parity = parity_n({n: terms["total"] for n, terms in solver.items()}, network["total"])
    return {
        "network": network,
        "network_seconds": network_seconds,
        "solver": solver,
        "solver_seconds": seconds,
        "speedup": {n: s / network_seconds for n, s in seconds.items()},
        "parity_n": parity,
        "speedup_at_parity": None if parity is None else seconds[parity] / network_seconds,
        "curve": [statistics.fmean(v) for v in zip(*(c.curve for c in comparisons), strict=True)],
        "quality": _mean_quality(comparisons),
    }
