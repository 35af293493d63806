"""Callbacks of :func:`fastnst.solver.optimize`: progress bar, snapshots and GIF, TensorBoard.

Each is called with a :class:`~fastnst.solver.Progress` and has a ``close()``.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from fastnst.io.atomic import atomic_path
from fastnst.io.image import resize_long_side, save_image, tensor_to_pil
from fastnst.solver.optimize import Progress

BAR_TERMS = ("total", "content", "style", "tv")


class ProgressBar:
    """A tqdm bar over ``total`` iterations showing the main loss terms."""

    def __init__(self, total: int, desc: str = "optimize", *, disable: bool = False) -> None:
        self.bar = tqdm(total=total, desc=desc, disable=disable, dynamic_ncols=True)

    def __call__(self, progress: Progress) -> None:
        self.bar.n = progress.iteration
        self.bar.set_postfix({name: f"{progress.terms[name]:.4g}" for name in BAR_TERMS})

    def close(self) -> None:
        self.bar.close()


class SnapshotWriter:
    """Saves the image every ``every`` iterations (and the last) and optionally a GIF of them.

    Args:
        folder: Where ``iter_00050.png`` ... are written (replacing older ones).
        every: Period in iterations; 0 for the final image only.
        gif: Path of an animated GIF of the snapshots, written on ``close()``; ``None`` for none.
        gif_size: Long side of the GIF frames, px.
        frame_ms: Display time of a GIF frame.
    """

    def __init__(
        self,
        folder: str | Path | None,
        every: int,
        *,
        gif: str | Path | None = None,
        gif_size: int = 256,
        frame_ms: int = 120,
    ) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.every = every
        self.gif = Path(gif) if gif is not None else None
        self.gif_size = gif_size
        self.frame_ms = frame_ms
        self.frames: list[Image.Image] = []
        self.last: Progress | None = None

    def __call__(self, progress: Progress) -> None:
        self.last = progress
        if self.every > 0 and progress.iteration % self.every == 0:
            self._snapshot(progress)

    def _snapshot(self, progress: Progress) -> None:
        if self.folder is not None:
            path = self.folder / f"iter_{progress.iteration:05d}.png"
            save_image(progress.image, path, overwrite=True)
        if self.gif is not None:
            self.frames.append(resize_long_side(tensor_to_pil(progress.image), self.gif_size))

    def close(self) -> None:
        """Save the final image as a snapshot too, then write the GIF (atomically)."""
        if self.last is not None and (self.every <= 0 or self.last.iteration % self.every):
            self._snapshot(self.last)
        if self.gif is None or not self.frames:
            return
        size = self.frames[-1].size  # pyramid levels differ in size: show all at the last
        frames = [frame.resize(size, Image.Resampling.BICUBIC) for frame in self.frames]
        with atomic_path(self.gif) as tmp:
            frames[0].save(
                tmp, save_all=True, append_images=frames[1:], duration=self.frame_ms, loop=0
            )


class TensorBoardLogger:
    """Every loss term as a scalar ``<prefix>/<term>`` against the iteration."""

    def __init__(self, log_dir: str | Path, prefix: str = "solver") -> None:
        self.writer = SummaryWriter(str(log_dir))
        self.prefix = prefix

    def __call__(self, progress: Progress) -> None:
        for name, value in progress.terms.items():
            self.writer.add_scalar(f"{self.prefix}/{name}", value, progress.iteration)

    def close(self) -> None:
        self.writer.close()
