"""The LightningModule that trains a transform network against the perceptual loss."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor, nn

from fastnst.losses import PerceptualLoss
from fastnst.models.checkpoint import CHECKPOINT_KEY, checkpoint_entry
from fastnst.quality import quality_measures
from fastnst.training.samples import SampleGrids

Batch = Tensor | tuple[Tensor, Tensor]


class StyleTransferModule(SampleGrids, pl.LightningModule):
    """Trains ``transformer`` so that ``loss(transformer(x), x)`` is small (Johnson et al. 2016).

    Only the transform network has parameters; the loss network is frozen and stores no state
    in checkpoints. Each checkpoint gets a ``"fastnst"`` entry
    (:func:`~fastnst.models.checkpoint.checkpoint_entry`: architecture, constructor args, style
    names, resolved run config, fastnst version), enough to rebuild the network from it alone.

    A batch is the content images (B, 3, H, W), or ``(content, style)`` with ``style`` the (B,)
    style index of every sample: the network gets it as ``transformer(x, style)`` and the loss
    compares each output with that painting's targets. Single-style data gives plain tensors.

    Many styles in one network (conditional instance norm, Dumoulin et al. 2017): when the
    loss holds S > 1 paintings and a training batch comes without style indices, sample i of
    step t gets style (t * B * R + r * B + i) mod S (R processes, r this one's rank). Cycling
    rather than drawing at random: every style is trained equally often in every window of S
    samples, and a run (or a resumed one) sees the same assignment, so a per-style comparison
    is not blurred by sampling noise; the data order is shuffled anyway, so photos and styles
    do not pair up. On logging steps the training loss of each style's samples is logged as
    ``train/<style name>/<term>``; validation stylizes every image in every style and logs
    ``val/<style name>/<term>`` (total, content, style); the sample grid has one column per
    style.

    Args:
        transformer: The network being trained; must expose ``config`` (its constructor kwargs).
        loss: Perceptual loss with its style targets already set.
        lr: Adam learning rate.
        scheduler: ``None`` (constant) or ``"cosine"`` (to 0 at ``trainer.max_steps``).
        style_names: Names of the paintings, in style-index order, stored in checkpoints.
        config: The resolved run config (plain containers), stored in checkpoints and hparams.
        sample_every_n_steps: Period of the (content | stylized) image grid in TensorBoard.
        num_samples: Fixed validation images shown in that grid.
        channels_last: Keep the transform network, the loss network and every batch in NHWC
            memory layout (faster convolutions with cuDNN tensor cores and oneDNN on CPUs).
        compile: ``torch.compile`` the transform network and the loss (``nn.Module.compile``,
            which compiles ``forward`` in place: state-dict keys, hence checkpoints, stay plain).
        style_images: The paintings, (1, 3, H_k, W_k) in style-index order. When given, each
            validation batch also logs :func:`~fastnst.quality.quality_measures` of the outputs
            (``val/color_swd``, ``val/texture_swd``, ``val/ssim``, ``val/edge_ssim``), every
            sample against its own painting. Not stored in checkpoints or hparams.
        temporal: A temporal stability loss (:mod:`fastnst.losses.temporal`), called as
            ``temporal(transformer, content, output, style)`` on training batches; it adds
            ``temporal.weight`` times its value to ``train/total`` and is logged as
            ``train/temporal``. ``None``: each image on its own. Not stored in hparams.
            ``temporal=flow`` ignores ``content`` and ``output`` and draws its own batch of
            video frame pairs (:class:`~fastnst.losses.temporal.FlowTemporalLoss`).
    """

    def __init__(
        self,
        transformer: nn.Module,
        loss: PerceptualLoss,
        *,
        lr: float = 1e-3,
        scheduler: str | None = None,
        style_names: list[str] | None = None,
        config: dict[str, Any] | None = None,
        sample_every_n_steps: int = 500,
        num_samples: int = 4,
        channels_last: bool = False,
        compile: bool = False,
        style_images: list[Tensor] | None = None,
        temporal: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if scheduler not in (None, "cosine"):
            raise ValueError(f"unknown optim.scheduler {scheduler!r}; use null or cosine")
        self.save_hyperparameters(ignore=["transformer", "loss", "style_images", "temporal"])
        self.transformer = transformer
        self.loss = loss
        self.style_images = list(style_images or [])  # a plain list: no state-dict entries
        self.temporal = temporal  # no parameters: no state-dict entries either
        self.samples: Tensor | None = None
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.transformer.to(memory_format=self.memory_format)
        self.loss.to(memory_format=self.memory_format)
        if compile:
            self.transformer.compile()
            self.loss.compile()

    def forward(self, x: Tensor, style: Tensor | None = None) -> Tensor:
        return self.transformer(x, style)

    @property
    def num_styles(self) -> int:
        """S, the paintings of the loss (and of the network)."""
        return self.loss.num_styles

    @property
    def style_names(self) -> list[str]:
        names = list(self.hparams.style_names or [])
        return names if len(names) == self.num_styles else [str(k) for k in range(self.num_styles)]

    def cycled_styles(self, batch: int) -> Tensor:
        """(B,) style indices of this training step: (t * B * R + r * B + i) mod S."""
        world = self.trainer.world_size if self._trainer is not None else 1
        first = (self.global_step * world + self.global_rank) * batch
        return (first + torch.arange(batch, device=self.device)) % self.num_styles

    def _step(self, batch: Batch, stage: str) -> Tensor | None:
        content, style = batch if isinstance(batch, (tuple, list)) else (batch, None)
        if content.numel() == 0:  # every file of the batch was unreadable
            return None
        content = content.contiguous(memory_format=self.memory_format)
        if style is None and self.num_styles > 1:
            if stage == "val":
                return self._validate_every_style(content)
            style = self.cycled_styles(content.shape[0])
        output = self.transformer(content, style)
        terms = self.loss(output, content, style)
        if stage == "train" and self.temporal is not None:
            terms["temporal"] = self.temporal(self.transformer, content, output, style)
            terms["total"] = terms["total"] + self.temporal.weight * terms["temporal"]
        self._log_terms(stage, terms, content.shape[0])
        if stage == "train" and self.num_styles > 1 and self._is_logging_step():
            self._log_train_styles(output.detach(), content, style)
        if stage == "val" and self.style_images:
            self._log_quality(output.detach().clamp(0, 1), content, style)
        return terms["total"]

    def _log_terms(self, stage: str, terms: dict[str, Tensor], batch: int) -> None:
        on_step = stage == "train"
        for name, value in terms.items():
            self.log(
                f"{stage}/{name}", value, prog_bar=name in ("total", "content", "style", "tv"),
                on_step=on_step, on_epoch=not on_step, batch_size=batch, sync_dist=not on_step,
            )  # fmt: skip

    def _is_logging_step(self) -> bool:
        """Whether Lightning writes this step's logs (the rule of its logger connector)."""
        every = self.trainer.log_every_n_steps if self._trainer is not None else 1
        return (self.global_step + 1) % max(1, every) == 0

    @torch.no_grad()
    def _log_train_styles(self, output: Tensor, content: Tensor, style: Tensor) -> None:
        """``train/<style name>/<term>`` (total, content, style) of this batch's samples of each
        style: the loss again on each style's subset, without gradients, on logging steps
        only (``trainer.log_every_n_steps``), so training costs no more."""
        for k in style.unique().tolist():
            chosen = (style == k).nonzero().squeeze(1)
            terms = self.loss(output[chosen], content[chosen], style[chosen])
            for term in ("total", "content", "style"):
                self.log(
                    f"train/{self.style_names[k]}/{term}", terms[term], on_step=True,
                    on_epoch=False, batch_size=len(chosen),
                )  # fmt: skip

    def _validate_every_style(self, content: Tensor) -> Tensor:
        """Each image in each style: ``val/<term>`` (mean over styles) and, per style k,
        ``val/<name_k>/<term>`` for total, content and style."""
        batch, per_style = content.shape[0], []
        for k, name in enumerate(self.style_names):
            style = torch.full((batch,), k, dtype=torch.long, device=content.device)
            output = self.transformer(content, style)
            terms = self.loss(output, content, style)
            per_style.append(terms)
            for term in ("total", "content", "style"):
                self.log(
                    f"val/{name}/{term}", terms[term], on_step=False, on_epoch=True,
                    batch_size=batch, sync_dist=True,
                )  # fmt: skip
            if self.style_images:
                self._log_quality(output.detach().clamp(0, 1), content, style)
        mean = {key: sum(t[key] for t in per_style) / len(per_style) for key in per_style[0]}
        self._log_terms("val", mean, batch)
        return mean["total"]

    @torch.no_grad()
    def _log_quality(self, output: Tensor, content: Tensor, style: Tensor | None) -> None:
        """``val/<measure>`` of :func:`~fastnst.quality.quality_measures`, batch means, each
        sample scored against its own painting (in float32, outside autocast)."""
        index = torch.zeros(len(content), dtype=torch.long) if style is None else style.cpu()
        totals: dict[str, float] = {}
        with torch.autocast(device_type=output.device.type, enabled=False):
            for k in index.unique().tolist():
                chosen = (index == k).nonzero().squeeze(1).to(output.device)
                painting = self.style_images[k].to(output.device)
                measures = quality_measures(output[chosen], content[chosen], painting)
                for name, value in measures.items():
                    totals[name] = totals.get(name, 0.0) + value * len(chosen)
        for name, total in totals.items():
            self.log(
                f"val/{name}", total / len(content), on_step=False, on_epoch=True,
                batch_size=len(content), sync_dist=True,
            )  # fmt: skip

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor | None:
        return self._step(batch, "train")

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._step(batch, "val")

    def configure_optimizers(self) -> Any:
        trainable = [p for p in self.transformer.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(trainable, lr=self.hparams.lr)
        if self.hparams.scheduler is None:
            return optimizer
        total = max(1, self.trainer.max_steps)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    sample_tag = "samples/content_stylized"

    def fetch_samples(self, datamodule: Any) -> Tensor | None:
        """Fixed validation images, (N, 3, H, W)."""
        sample = getattr(datamodule, "sample_images", None)
        return None if sample is None else sample(self.hparams.num_samples)

    def sample_columns(self) -> list[Tensor] | None:
        """(content | stylized in each style): one column per style."""
        if self.samples is None or self.samples.numel() == 0:
            return None
        content = self.samples.to(self.device)
        columns = [content]
        for k in range(self.num_styles):
            style = (
                None if self.num_styles == 1 else torch.full((len(content),), k, device=self.device)
            )
            columns.append(self.transformer(content, style).clamp(0, 1))
        return columns

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        styles = self.hparams.style_names or ["custom"]
        checkpoint[CHECKPOINT_KEY] = checkpoint_entry(self.transformer, styles, self.hparams.config)
