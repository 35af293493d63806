"""Fast network vs optimization under one loss, in the form of Johnson et al. 2016 (sec. 4.1).

For each content image x: the network's output f(x) and the solver's image after N updates,
for every N asked for, are scored by the same :class:`~fastnst.losses.PerceptualLoss`. The
*loss parity N* is the smallest N with L(solver@N) < L(f(x)) (Johnson et al. report that
their network matches about 50 to 100 L-BFGS iterations), the *speedup* is
t(solver@N) / t(f(x)), both timed on the same device in the same run. Images are scored as
they are delivered: the network's output clamped to [0, 1]. Hydra-free.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from fastnst.device import synchronize
from fastnst.errors import FastNSTError
from fastnst.io.atomic import write_json
from fastnst.io.image import save_image, tensor_to_pil
from fastnst.losses import PerceptualLoss
from fastnst.solver.figures import image_grid, line_plot
from fastnst.solver.optimize import Callback, Progress, SolverConfig, optimize

TERMS = ("content", "style", "tv", "total")


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
        images: ``"content"``, ``"network"``, ``"solver@N"`` -> image, for the grid only.
    """

    name: str
    size: list[int]
    network: dict[str, float]
    network_seconds: float
    solver: dict[int, dict[str, float]]
    solver_seconds: dict[int, float]
    curve: list[float]
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
) -> ImageComparison:
    """Score the network and one solver run, snapshotted at every N of ``iterations``.

    ``callbacks`` (a progress bar, ...) are passed on to the solver; their time is not counted.
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
        images=images,
    )


def summarize(comparisons: Sequence[ImageComparison]) -> dict[str, Any]:
    """Means over the images of every term and time, and the parity N of the mean losses."""
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
    }


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def markdown_report(comparisons: Sequence[ImageComparison], summary: dict[str, Any]) -> str:
    """Two tables: mean terms per method, then total loss and parity per image."""
    lines = [_row(["method", *TERMS, "seconds", "speedup"]), _row(["---"] * (len(TERMS) + 3))]
    lines.append(_row(["network", *(f"{summary['network'][t]:.4g}" for t in TERMS),
                       f"{summary['network_seconds']:.4g}", "1"]))  # fmt: skip
    for n, terms in summary["solver"].items():
        cells = [f"{terms[t]:.4g}" for t in TERMS]
        seconds, speedup = summary["solver_seconds"][n], summary["speedup"][n]
        lines.append(_row([f"solver@{n}", *cells, f"{seconds:.4g}", f"{speedup:.3g}x"]))
    lines += ["", f"Loss parity N (mean losses): {summary['parity_n']}", ""]
    wanted = list(summary["solver"])
    header = [
        "image",
        "size",
        "network",
        *(f"solver@{n}" for n in wanted),
        "parity N",
        "first iteration below",
        "speedup@parity",
    ]
    lines += [_row(header), _row(["---"] * len(header))]
    for c in comparisons:
        n = c.parity_n
        speedup = "-" if n is None else f"{c.solver_seconds[n] / c.network_seconds:.3g}x"
        totals = [f"{c.solver[m]['total']:.4g}" for m in wanted]
        size = f"{c.size[1]}x{c.size[0]}"
        cells = [c.name, size, f"{c.network['total']:.4g}", *totals, n, c.parity_iteration]
        lines.append(_row([*cells, speedup]))
    return "\n".join(lines) + "\n"


def write_report(
    out_dir: str | Path,
    comparisons: Sequence[ImageComparison],
    style: Tensor,
    *,
    meta: dict[str, Any] | None = None,
    grid_height: int = 160,
) -> dict[str, Path]:
    """Write ``compare.md``, ``compare.json``, ``compare_loss.png`` and ``compare_grid.png``.

    Args:
        out_dir: Folder of the four files (created).
        comparisons: One per content image, all with the same iteration counts.
        style: The painting, (1, 3, H, W), last column of the grid.
        meta: Extra JSON fields (checkpoint, device, loss config, ...).
        grid_height: Row height of the grid, px.
    """
    out_dir = Path(out_dir)
    summary = summarize(comparisons)
    suffixes = {"md": ".md", "json": ".json", "plot": "_loss.png", "grid": "_grid.png"}
    paths = {kind: out_dir / f"compare{suffix}" for kind, suffix in suffixes.items()}
    images = [c.to_dict() for c in comparisons]
    write_json(paths["json"], {**(meta or {}), "mean": summary, "images": images})
    paths["md"].write_text(markdown_report(comparisons, summary))
    curves = {"solver (mean)": summary["curve"]}
    if len(comparisons) > 1:
        curves |= {f"solver: {c.name}": c.curve for c in comparisons[:4]}
    network = {"network (mean)": summary["network"]["total"]}
    plot = line_plot(curves, network, title="total loss vs solver iterations", ylabel="total")
    save_image(plot, paths["plot"], overwrite=True)
    header = ["content", "network", *(f"solver@{n}" for n in summary["solver"]), "style"]
    rows = [[tensor_to_pil(t) for t in (*c.images.values(), style)] for c in comparisons]
    save_image(image_grid(rows, header, height=grid_height), paths["grid"], overwrite=True)
    return paths
