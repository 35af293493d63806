"""A TensorBoard grid of fixed validation samples, shared by the training modules.

The grid is drawn when training starts, every ``hparams.sample_every_n_steps`` steps and when
it ends, on rank 0, with the network in eval mode. A module mixes :class:`SampleGrids` in
before ``pl.LightningModule`` and says what its samples are and which columns it draws.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torchvision.utils import make_grid


class SampleGrids:
    """Lightning hooks drawing ``sample_tag``: one row per sample, ``sample_columns()`` wide.

    Subclasses define ``sample_tag``, :meth:`fetch_samples` (from the data module) and
    :meth:`sample_columns` (the columns of the grid, images in [0, 1] on ``self.device``).
    """

    sample_tag = "samples"
    samples: Any = None

    def fetch_samples(self, datamodule: Any) -> Any:
        """The fixed samples the data module offers (None if it has none)."""
        raise NotImplementedError

    def sample_columns(self) -> list[Tensor] | None:
        """The grid's columns, each (N, 3, H, W); None when there is nothing to draw."""
        raise NotImplementedError

    def on_fit_start(self) -> None:
        datamodule = self.trainer.datamodule
        fetched = None if datamodule is None else self.fetch_samples(datamodule)
        if fetched is not None:
            self.samples = fetched
        self._log_samples()

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.global_step % self.hparams.sample_every_n_steps == 0:
            self._log_samples()

    def on_train_end(self) -> None:
        self._log_samples()

    @torch.no_grad()
    def _log_samples(self) -> None:
        experiment = getattr(self.logger, "experiment", None)
        if experiment is None or not hasattr(experiment, "add_image") or self.global_rank != 0:
            return
        was_training = self.transformer.training
        self.transformer.eval()
        try:
            columns = self.sample_columns()
        finally:
            self.transformer.train(was_training)
        if columns is None:
            return
        rows = torch.stack(columns, dim=1).flatten(0, 1)  # (N * columns, 3, H, W)
        grid = make_grid(rows.float().cpu(), nrow=len(columns), padding=2)
        experiment.add_image(self.sample_tag, grid, self.global_step)
