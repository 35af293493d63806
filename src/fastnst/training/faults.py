"""Training that fails safely: a signal, a full disk, a crash mid-save or a non-finite loss
costs at most the current step, never a checkpoint, and ends in one line (docs/training-faults.md).

- :class:`AtomicCheckpointIO` writes every checkpoint beside its target, fsyncs it and renames it
  over the target, so a kill at any moment leaves the previous file whole; a failed write
  (no space left, read-only disk) is a one-line :class:`~fastnst.errors.FastNSTError`.
- :class:`GracefulStop`: SIGINT (Ctrl-C) or SIGTERM finishes the current step, saves
  ``interrupted.ckpt`` and stops; ``ckpt_path=`` that file continues from that step.
- :class:`FiniteLoss`: a NaN or infinite loss stops the run before it reaches the weights,
  naming the step and the last checkpoint written.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import pytorch_lightning as pl
import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from pytorch_lightning.callbacks import TQDMProgressBar

from fastnst.errors import FastNSTError, find_cause
from fastnst.io.atomic import atomic_path


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's :class:`TorchCheckpointIO`, writing local checkpoints atomically.

    Lightning (2.6) writes into the system temporary folder and then moves the file; when that
    folder is on another disk, the move copies into the target itself, so a kill mid-copy
    leaves a truncated ``last.ckpt``, and nothing is fsynced. Here the bytes go to a hidden
    ``.<name>.<random>.tmp.ckpt`` in the target's folder, are fsynced, and ``os.replace``
    puts them in place (atomic on one filesystem); the folder is fsynced after. A kill
    (SIGKILL, power loss) leaves the previous file whole, and at worst a stale temporary
    file. Remote paths (``s3://``, ...) go to Lightning's own writer.

    ``last_saved``: the path and global step of the last checkpoint written, for error messages.
    """

    def __init__(self) -> None:
        super().__init__()
        self.last_saved: tuple[Path, int] | None = None

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        if "://" in str(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        path = Path(path)
        try:
            with atomic_path(path) as tmp, open(tmp, "wb") as file:
                torch.save(checkpoint, file)
                file.flush()
                os.fsync(file.fileno())
            fsync_directory(path.parent)
        except (OSError, RuntimeError) as error:
            cause = find_cause(error, OSError)
            if cause is None:
                raise
            raise FastNSTError(self.write_error(path, cause)) from error
        self.last_saved = (path, int(checkpoint.get("global_step", 0)))

    def write_error(self, path: Path, error: OSError) -> str:
        """The one line for a failed write: the file, the reason, what is left, what to do."""
        reason = "no space left on device" if error.errno == errno.ENOSPC else error.strerror
        return (
            f"cannot write checkpoint {path}: {reason}; training stopped, {self.resume_hint()} "
            "once the disk has room (or with paths.output_dir= elsewhere)"
        )

    def resume_hint(self) -> str:
        """``"last good checkpoint PATH (step N), intact: continue with ckpt_path=PATH"``."""
        if self.last_saved is None:
            return "no checkpoint written by this run yet: start again"
        path, step = self.last_saved
        return f"last good checkpoint {path} (step {step}), intact: continue with ckpt_path={path}"


def fsync_directory(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    if os.name != "posix":
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def resume_hint(trainer: pl.Trainer) -> str:
    """What :meth:`AtomicCheckpointIO.resume_hint` says, or names the checkpoint resumed from."""
    io = trainer.strategy.checkpoint_io
    if isinstance(io, AtomicCheckpointIO) and io.last_saved is not None:
        return io.resume_hint()
    if trainer.ckpt_path:
        path = trainer.ckpt_path
        return f"last good checkpoint {path} (resumed from): continue with ckpt_path={path}"
    return "no checkpoint written by this run yet: start again"


def close_progress_bars(trainer: pl.Trainer) -> None:
    """Close Lightning's tqdm bars (it leaves them open when ``fit`` raises)."""
    bar = trainer.progress_bar_callback
    if not isinstance(bar, TQDMProgressBar):
        return
    for name in ("val_progress_bar", "train_progress_bar"):
        with contextlib.suppress(TypeError):  # not started
            getattr(bar, name).close()


class GracefulStop(pl.Callback):
    """SIGINT or SIGTERM: finish the current step, save ``<dirpath>/<filename>``, stop.

    The run then ends with a :class:`~fastnst.errors.FastNSTError` (one line, exit status 1)
    naming the file; ``ckpt_path=`` that file continues at its global step, with the optimizer
    and schedule. A second signal stops at once, without saving (the previous checkpoints are
    whole: :class:`AtomicCheckpointIO`).

    The handlers replace Lightning's SIGTERM handler, which would only stop at the end of an
    epoch (or mid-validation with exit status 0 and nothing saved). They are set before the
    DataLoader workers start, which inherit them and ignore the signal (the main process decides
    when to stop, so a Ctrl-C reaching the whole process group kills no worker). After ``fit``
    the previous handlers are back, or, when ``fit`` raised, are called in their place.

    Args:
        dirpath: Folder of the checkpoint.
        filename: Its name; not ``last.ckpt``, which the periodic checkpoints own.
    """

    signals = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, dirpath: str | Path, filename: str = "interrupted.ckpt") -> None:
        self.path = Path(dirpath) / filename
        self.received: str | None = None
        self.fitting = False
        self.pid = os.getpid()
        self.previous: dict[int, Any] = {}
        self.trainer: pl.Trainer | None = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.received, self.fitting, self.pid, self.trainer = None, True, os.getpid(), trainer
        self.install()

    def on_sanity_check_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.install()  # Lightning has set its own SIGTERM handler since on_fit_start

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.install()

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.fitting = False
        self.restore()

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        self.fitting = False  # Lightning's teardown, next, sets our handlers back: they delegate
        close_progress_bars(trainer)  # any error's one line then starts on a line of its own

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for number in self.signals:
            current = signal.getsignal(number)
            if number not in self.previous:
                self.previous[number] = current
            if current != self.handle:
                signal.signal(number, self.handle)

    def restore(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        self.previous = {}

    def handle(self, number: int, frame: FrameType | None) -> None:
        if os.getpid() != self.pid:  # a DataLoader worker: the main process decides
            return
        if not self.fitting:  # fit is over: act as the handler we replaced
            self.restore()
            signal.raise_signal(number)
            return
        name = signal.Signals(number).name
        if self.received is not None and self.trainer is not None:
            raise FastNSTError(
                f"stopped at once by a second {name}, {self.path.name} not written; "
                f"{resume_hint(self.trainer)}"
            )
        self.received = name

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
        batch_idx: int,
    ) -> None:  # fmt: skip
        if not trainer.strategy.reduce_boolean_decision(self.received is not None, all=False):
            return
        trainer.save_checkpoint(self.path, weights_only=False)  # with the optimizer state
        raise FastNSTError(
            f"stopped by {self.received or 'a signal to another process'} at step "
            f"{trainer.global_step}: saved {self.path}; continue with ckpt_path={self.path}"
        )


class FiniteLoss(pl.Callback):
    """A NaN or infinite training loss stops the run before its backward pass.

    The weights never see the bad gradients and no checkpoint holds them; the one line names
    the step (1-based, as the checkpoint names count) and the last checkpoint written, to
    resume from with a lower ``optim.lr`` (or ``trainer.gradient_clip_val``). Stopping rather
    than skipping the batch: in these losses a non-finite value comes from diverging weights
    (the images are finite by construction), so skipping would only repeat it. All processes
    of a DDP run agree before any stops, so none waits forever in the all-reduce.
    """

    def on_before_backward(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: torch.Tensor
    ) -> None:
        finite = bool(torch.isfinite(loss.detach()).all())
        if trainer.strategy.reduce_boolean_decision(finite, all=True):
            return
        what = "another process's loss" if finite else f"the loss is {loss.detach().item()}"
        raise FastNSTError(
            f"non-finite training loss at step {trainer.global_step + 1} ({what}): training "
            f"stopped before the weights changed; {resume_hint(trainer)}, with a lower "
            "optim.lr or trainer.gradient_clip_val=1.0"
        )
