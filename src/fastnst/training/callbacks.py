"""Training callbacks of our own: checkpoints at wall-clock marks, for quality-vs-time curves;
``last.ckpt`` at the final step."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint

from fastnst.training.faults import AtomicCheckpointIO

log = logging.getLogger(__name__)


class ElapsedCheckpoints(pl.Callback):
    """Save ``<dirpath>/min<M>.ckpt`` when the run's wall-clock time first passes M minutes.

    Time counts from the start of ``fit`` and includes everything a user waits for (compilation,
    data loading, validation), so the checkpoints answer "what do I get after N minutes on this
    machine?". With ``stop_after_last`` the run ends at the last mark.

    Args:
        minutes: The marks, in minutes of wall-clock time.
        dirpath: Folder of the checkpoints.
        stop_after_last: Stop training once the last mark is saved.
    """

    def __init__(
        self, minutes: Sequence[float], dirpath: str | Path, *, stop_after_last: bool = True
    ) -> None:
        self.marks = sorted(float(m) for m in minutes)
        self.dirpath = Path(dirpath)
        self.stop_after_last = stop_after_last
        self.start: float | None = None
        self.saved: list[float] = []

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.start = time.perf_counter()

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
        batch_idx: int,
    ) -> None:  # fmt: skip
        if self.start is None:  # not fitting (e.g. a validation-only run)
            return
        elapsed = (time.perf_counter() - self.start) / 60
        due = [m for m in self.marks if m <= elapsed and m not in self.saved]
        for mark in due:
            path = self.dirpath / f"min{mark:g}.ckpt"
            trainer.save_checkpoint(path)
            self.saved.append(mark)
            log.info("saved %s at step %d (%.1f min)", path, trainer.global_step, elapsed)
        if self.stop_after_last and len(self.saved) == len(self.marks):
            trainer.should_stop = True


class LastAtEnd(pl.Callback):
    """When ``fit`` ends, ``last.ckpt`` (of the ModelCheckpoint with ``save_last``) holds the
    final step.

    Lightning's ModelCheckpoint (2.6) refreshes ``last.ckpt`` at the end of training only when it
    saved nothing during the run, so with ``trainer.max_steps`` not a multiple of
    ``every_n_train_steps`` the steps after the last periodic checkpoint were in no file. Not
    rewritten when the last write (:class:`~fastnst.training.faults.AtomicCheckpointIO`, on
    rank 0, which writes) was that file at that step already.
    """

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        checkpoints = trainer.checkpoint_callback
        if not isinstance(checkpoints, ModelCheckpoint) or not checkpoints.save_last:
            return
        path = Path(checkpoints.last_model_path or Path(str(checkpoints.dirpath)) / "last.ckpt")
        io, step = trainer.strategy.checkpoint_io, trainer.global_step
        written = isinstance(io, AtomicCheckpointIO) and io.last_saved == (path, step)
        if trainer.strategy.broadcast(written, src=0):  # rank 0 writes: its answer holds for all
            return
        trainer.save_checkpoint(path, weights_only=False)
        log.info("saved %s at the final step %d", path, trainer.global_step)
