"""The optimization method of Gatys et al. 2016: the image itself is what gets optimized.

    y* = argmin_y L(y; x, s)    over y in [0, 1]^(3 x H x W)

where L is the very :class:`~fastnst.losses.PerceptualLoss` the trainer minimizes over a
network's weights (Johnson et al. 2016, eq. 5), so the solver's result is the yardstick a
trained network is measured against. Plain torch, no Hydra.

Deviations from Gatys et al. 2016: the pixel range is kept valid by *clamping* the image to
[0, 1] after every update (projected gradient; L-BFGS's curvature pairs still use the
unclamped step). One "iteration" is one optimizer update (scipy's ``maxiter``; ``history_size``
is its ``maxcor``); an L-BFGS line search may evaluate the loss more than once per iteration,
and the solver time counts every evaluation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor

from fastnst.color import transfer_luminance
from fastnst.device import synchronize
from fastnst.errors import FastNSTError
from fastnst.losses import PerceptualLoss

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise", "mix")
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}


@dataclass(frozen=True)
class SolverConfig:
    """How to optimize.

    Attributes:
        optimizer: ``"lbfgs"`` or ``"adam"``.
        iterations: Updates per pyramid level (L-BFGS: scipy's ``maxiter``).
        history_size: L-BFGS memory, the curvature pairs kept (scipy's ``maxcor``).
        lr: Adam's learning rate, L-BFGS's step scale; ``None`` takes :data:`DEFAULT_LR`.
        line_search: L-BFGS line search, ``"strong_wolfe"`` (default, as scipy's L-BFGS-B used
            by Gatys et al.) or ``None``: a fixed step ``lr`` and one evaluation per iteration,
            cheaper but erratic on badly scaled losses.
        init: ``"content"``, ``"noise"`` (uniform in [0, 1], Gatys et al.) or ``"mix"``:
            ``(1 - r) content + r noise`` with ``r = noise_ratio``.
        noise_ratio: ``r`` of ``init="mix"``.
        pyramid_levels: 1 for none; ``L`` optimizes at scales ``pyramid_scale^(L-1), ..., 1``
            of the content, each level starting from the previous result upsampled.
        pyramid_scale: Size ratio between consecutive levels, in (0, 1).
        preserve_color: ``False`` or ``"luminance"``: keep the final image's luminance Y and
            put the content's chroma I, Q back (Gatys et al. 2017, sec. 5.1).
        seed: Seed of the initial noise.
    """

    optimizer: str = "lbfgs"
    iterations: int = 500
    history_size: int = 100
    lr: float | None = None
    line_search: str | None = "strong_wolfe"
    init: str = "content"
    noise_ratio: float = 0.6
    pyramid_levels: int = 1
    pyramid_scale: float = 0.5
    preserve_color: str | bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        checks = {
            "optimizer": self.optimizer in OPTIMIZERS,
            "init": self.init in INITS,
            "iterations": self.iterations >= 0,
            "history_size": self.history_size >= 1,
            "noise_ratio": 0.0 <= self.noise_ratio <= 1.0,
            "pyramid_levels": self.pyramid_levels >= 1,
            "pyramid_scale": 0.0 < self.pyramid_scale < 1.0,
            "line_search": self.line_search in (None, "strong_wolfe"),
            "preserve_color": self.preserve_color in (False, None, "luminance"),
        }
        for name, ok in checks.items():
            if not ok:
                raise FastNSTError(
                    f"invalid solver.{name}={getattr(self, name)!r}; see fastnst.solver."
                    "SolverConfig for the accepted values"
                )


@dataclass(frozen=True)
class Progress:
    """The state after ``iteration`` updates, handed to every callback.

    Attributes:
        iteration: Updates done so far, counted over all pyramid levels.
        level: Pyramid level, 0 the coarsest.
        image: The current image, (1, 3, H_level, W_level); a live view, clone it to keep it.
        terms: Its loss terms (see :meth:`PerceptualLoss.forward`) as floats.
        seconds: Solver time spent to reach it, without the time spent in callbacks.
    """

    iteration: int
    level: int
    image: Tensor
    terms: dict[str, float]
    seconds: float


Callback = Callable[[Progress], None]


@dataclass
class SolverResult:
    """The optimized image, (1, 3, H, W) in [0, 1], its final terms and the loss history."""

    image: Tensor
    terms: dict[str, float]
    history: list[dict[str, float]]
    seconds: float


def initial_image(content: Tensor, init: str, noise_ratio: float = 0.6, seed: int = 0) -> Tensor:
    """The starting image: the content, uniform noise, or their mix (see :class:`SolverConfig`)."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.rand(content.shape, generator=generator).to(content.device, content.dtype)
    if init == "content":
        return content.clone()
    if init == "noise":
        return noise
    return (1 - noise_ratio) * content + noise_ratio * noise


def pyramid_sizes(size: tuple[int, int], levels: int, scale: float) -> list[tuple[int, int]]:
    """(H, W) of each level, coarsest first; the last one is ``size`` itself."""
    return [
        (max(1, round(size[0] * scale**k)), max(1, round(size[1] * scale**k)))
        for k in range(levels - 1, -1, -1)
    ]


def _resize(image: Tensor, size: tuple[int, int]) -> Tensor:
    if tuple(image.shape[-2:]) == size:
        return image
    return F.interpolate(image, size=size, mode="bilinear", antialias=True, align_corners=False)


def _optimizer(image: Tensor, config: SolverConfig) -> torch.optim.Optimizer:
    lr = DEFAULT_LR[config.optimizer] if config.lr is None else config.lr
    if config.optimizer == "adam":
        return torch.optim.Adam([image], lr=lr)
    # One L-BFGS iteration per step() call; the history persists across calls.
    return torch.optim.LBFGS(
        [image], lr=lr, max_iter=1, max_eval=25, history_size=config.history_size,
        line_search_fn=config.line_search,
    )  # fmt: skip


class _Recorder:
    """Loss history, callbacks, and solver time: wall time minus the time spent in callbacks."""

    def __init__(self, device: torch.device, callbacks: Sequence[Callback]) -> None:
        self.device = device
        self.callbacks = callbacks
        self.history: list[dict[str, float]] = []
        self.start = time.perf_counter()
        self.paused = 0.0

    def now(self) -> float:
        synchronize(self.device)
        return time.perf_counter() - self.start - self.paused

    def record(self, level: int, image: Tensor, terms: dict[str, Tensor], seconds: float) -> None:
        values = {name: float(value.detach()) for name, value in terms.items()}
        self.history.append(values)
        progress = Progress(len(self.history) - 1, level, image.detach(), values, seconds)
        begin = time.perf_counter()
        for callback in self.callbacks:
            callback(progress)
        self.paused += time.perf_counter() - begin


def _closure(
    optimizer: torch.optim.Optimizer,
    loss: PerceptualLoss,
    image: Tensor,
    content: Tensor,
    on_first: Callable[[dict[str, Tensor]], None],
) -> Callable[[], Tensor]:
    """The loss-and-gradient closure of one step; line searches call it more than once."""
    first = True

    def closure() -> Tensor:
        nonlocal first
        optimizer.zero_grad()
        terms = loss(image, content)
        terms["total"].backward()
        if first:
            first = False
            on_first(terms)
        return terms["total"]

    return closure


def optimize(
    loss: PerceptualLoss,
    content: Tensor,
    config: SolverConfig | None = None,
    *,
    init: Tensor | None = None,
    callbacks: Sequence[Callback] = (),
) -> SolverResult:
    """Minimize ``loss(y, content)`` over the image ``y``; the output has the content's size.

    Args:
        loss: The perceptual loss, style targets set, on the content's device.
        content: RGB in [0, 1], (1, 3, H, W).
        config: Optimizer, iterations, init, pyramid; defaults to :class:`SolverConfig()`.
        init: A starting image of any size (resized to the coarsest level), overriding
            ``config.init``; for example a network's output.
        callbacks: Called with a :class:`Progress` after every update and at the start.

    Returns:
        The image, its final terms, and ``history[i]``, the terms after ``i`` updates (with a
        pyramid, measured at the level's size; with ``preserve_color`` the last entry is the
        recombined image's).
    """
    config = config or SolverConfig()
    sizes = pyramid_sizes(tuple(content.shape[-2:]), config.pyramid_levels, config.pyramid_scale)
    if init is None:
        init = initial_image(content, config.init, config.noise_ratio, config.seed)
    image = _resize(init.detach().to(content), sizes[0]).clamp(0, 1)
    recorder = _Recorder(content.device, callbacks)
    for level, size in enumerate(sizes):
        image = _resize(image, size).clamp(0, 1).requires_grad_(True)
        target = _resize(content, size)
        optimizer = _optimizer(image, config)
        for _ in range(config.iterations):
            record = partial(recorder.record, level, image, seconds=recorder.now())
            optimizer.step(_closure(optimizer, loss, image, target, record))
            with torch.no_grad():
                image.clamp_(0, 1)
        image = image.detach()
    if config.preserve_color == "luminance":
        image = transfer_luminance(image, content)
    seconds = recorder.now()
    with torch.no_grad():
        recorder.record(len(sizes) - 1, image, loss(image, content), seconds)
    history = recorder.history
    return SolverResult(image=image, terms=history[-1], history=history, seconds=seconds)
