"""The LightningModule that trains an arbitrary-style network (AdaIN) on photo x painting pairs."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor

from fastnst.losses.adain import AdaINLoss
from fastnst.models.adain import AdaINNet, adain
from fastnst.models.checkpoint import CHECKPOINT_KEY, checkpoint_entry
from fastnst.models.predicted import PredictedStyleNet
from fastnst.training.samples import SampleGrids

Pair = tuple[Tensor, Tensor]
STAGES = ("val", "val_seen")  # validation loader 0: held-out paintings; 1: training paintings
ARBITRARY_STYLES = ["arbitrary"]  # the checkpoint's style list: the painting is an input


class ArbitraryStyleModule(SampleGrids, pl.LightningModule):
    """Trains ``model`` against ``loss`` (:class:`~fastnst.losses.adain.AdaINLoss`).

    ``model`` is an :class:`~fastnst.models.adain.AdaINNet` (its decoder trains) or a
    :class:`~fastnst.models.predicted.PredictedStyleNet` (its predictor, heads and transform
    network train). One encoder serves the network and the loss, as in Huang & Belongie 2017:
    its weights are frozen (Adam, lr / (1 + ``lr_decay`` * step) as in their code). A batch is
    (photos, paintings), both (B, 3, S, S). Logged per term: ``train/<term>``, ``val/<term>``
    on held-out paintings and ``val_seen/<term>`` on training paintings (the
    generalization gap is val/style over val_seen/style), and a TensorBoard grid of
    (photo | painting | output) rows on fixed held-out pairs. Checkpoints get the ``"fastnst"``
    entry (:func:`~fastnst.models.checkpoint.checkpoint_entry`), so ``load_style_checkpoint``
    rebuilds the network, encoder weights included, from the file alone.

    Args:
        model: The network; its encoder already holds the VGG weights.
        lr: Adam learning rate at step 0.
        loss: The loss; it is given the encoder's features, so it holds no network.
        lr_decay: d of lr / (1 + d t); 0 keeps it constant.
        config: The resolved run config (plain containers), stored in checkpoints and hparams.
        sample_every_n_steps: Period of the sample grid.
        num_samples: Fixed held-out (photo, painting) pairs in that grid.
    """

    def __init__(
        self,
        model: AdaINNet | PredictedStyleNet,
        loss: AdaINLoss,
        *,
        lr: float = 1e-4,
        lr_decay: float = 5e-5,
        config: dict[str, Any] | None = None,
        sample_every_n_steps: int = 500,
        num_samples: int = 4,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["model", "loss"])
        self.transformer = model  # the prefix load_style_checkpoint reads
        self.loss = loss
        self.samples: Pair | None = None

    def forward(self, content: Tensor, style: Tensor) -> Tensor:
        return self.transformer(content, style)

    def losses(self, content: Tensor, style: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        """The loss terms of stylizing ``content`` with ``style``, and the stylized images.

        AdaIN: the content target is t = AdaIN(f(c), f(s)), the decoder's input. Style
        prediction (:class:`~fastnst.models.predicted.PredictedStyleNet`): the photo's own
        relu4_1 features f(c), as in Ghiasi et al. 2017.
        """
        model, encoder = self.transformer, self.transformer.encoder
        with torch.no_grad():
            style_features = encoder(style)
            features = encoder(content, deepest_only=True)[0]
        if isinstance(model, AdaINNet):
            target = adain(features, style_features[-1], model.eps, unbiased=model.unbiased)
            output = model.decoder(target)
        else:  # the predictor trains: z from the painting's features, with gradient
            target = features
            output = model(content, style_stats=model.predict(style_features))
        terms = self.loss(encoder(output), target, style_features)  # its own statistics
        return terms, output

    def _step(self, batch: Pair, stage: str) -> Tensor | None:
        content, style = batch
        if content.numel() == 0:  # every pair of the batch was unreadable
            return None
        terms, _ = self.losses(content, style)
        on_step = stage == "train"
        for name, value in terms.items():
            shown = on_step and name in ("total", "content", "style")
            self.log(
                f"{stage}/{name}", value, prog_bar=shown,
                on_step=on_step, on_epoch=not on_step, batch_size=len(content),
                sync_dist=not on_step, add_dataloader_idx=False,
            )  # fmt: skip
        return terms["total"]

    def training_step(self, batch: Pair, batch_idx: int) -> Tensor | None:
        return self._step(batch, "train")

    def validation_step(self, batch: Pair, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._step(batch, STAGES[dataloader_idx])

    def configure_optimizers(self) -> Any:
        trainable = [p for p in self.transformer.parameters() if p.requires_grad]  # no encoder
        optimizer = torch.optim.Adam(trainable, lr=self.hparams.lr)
        decay = self.hparams.lr_decay
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 / (1 + decay * step))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    sample_tag = "samples/photo_painting_output"

    def fetch_samples(self, datamodule: Any) -> Pair | None:
        """Fixed held-out (photo, painting) pairs."""
        sample = getattr(datamodule, "sample_pairs", None)
        return None if sample is None else sample(self.hparams.num_samples)

    def sample_columns(self) -> list[Tensor] | None:
        """(photo | held-out painting | output) rows."""
        if self.samples is None or self.samples[0].numel() == 0:
            return None
        content, style = (t.to(self.device) for t in self.samples)
        return [content, style, self.transformer(content, style).clamp(0, 1)]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        entry = checkpoint_entry(self.transformer, ARBITRARY_STYLES, self.hparams.config or {})
        checkpoint[CHECKPOINT_KEY] = entry
