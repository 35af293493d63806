"""``train(cfg)``: build everything from a composed config, fit, return the final metrics."""

from __future__ import annotations

import logging
from pathlib import Path

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import Tensor

from fastnst.download import ensure_style_image
from fastnst.errors import FastNSTError
from fastnst.image import load_image
from fastnst.lit_module import StyleTransferModule
from fastnst.losses import PerceptualLoss

log = logging.getLogger(__name__)


def load_style(style_cfg: DictConfig, cache_dir: str) -> Tensor:
    """The painting of ``style_cfg`` at ``style.size`` px on its long side, (1, 3, H, W)."""
    path = ensure_style_image(
        style_cfg.name, style_cfg.image, style_cfg.url, style_cfg.get("sha256"),
        Path(cache_dir).expanduser(),
    )  # fmt: skip
    return load_image(path, long_side=style_cfg.size)


def build_loss(cfg: DictConfig) -> PerceptualLoss:
    """The perceptual loss of ``cfg.loss`` with the style targets of ``cfg.style`` set.

    Shared by the trainer, the optimization solver and the comparison report, so all three
    evaluate exactly the same loss.
    """
    loss = instantiate(cfg.loss)
    loss.set_style(load_style(cfg.style, cfg.paths.cache_dir))
    return loss


def build_module(cfg: DictConfig) -> StyleTransferModule:
    """Transform network + perceptual loss (style targets set) wrapped in the LightningModule."""
    return StyleTransferModule(
        instantiate(cfg.model),
        build_loss(cfg),
        lr=cfg.optim.lr,
        scheduler=cfg.optim.scheduler,
        style_name=cfg.style.name,
        config=OmegaConf.to_container(cfg, resolve=True),
        sample_every_n_steps=cfg.samples.every_n_steps,
        num_samples=cfg.samples.count,
        channels_last=cfg.speed.channels_last,
        compile=cfg.speed.compile,
    )


def train(cfg: DictConfig) -> dict[str, float]:
    """Train one style network as configured; returns the last logged metrics.

    Resumes from ``cfg.ckpt_path`` (global step, optimizer and scheduler state) when it is set.
    """
    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path is not None and not Path(ckpt_path).expanduser().is_file():
        raise FastNSTError(f"checkpoint to resume from not found: {ckpt_path}; fix ckpt_path=")
    pl.seed_everything(cfg.seed, workers=True)
    module = build_module(cfg)
    datamodule = instantiate(cfg.data)
    callbacks = [instantiate(c) for c in cfg.get("callbacks", {}).values()]
    logger = instantiate(cfg.logger) if cfg.get("logger") else False
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=logger)
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    log.info("finished at step %d; outputs in %s", trainer.global_step, cfg.paths.output_dir)
    return metrics
