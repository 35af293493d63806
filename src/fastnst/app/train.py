"""``train(cfg)``: build everything from a composed config, fit, return the final metrics."""

from __future__ import annotations

import logging
from pathlib import Path

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from fastnst.app.builders import build_loss, style_from_config
from fastnst.errors import FastNSTError
from fastnst.training.module import StyleTransferModule
from fastnst.training.speed import auto_precision

log = logging.getLogger(__name__)


def build_module(cfg: DictConfig) -> StyleTransferModule:
    """Transform network + perceptual loss (style targets set) wrapped in the LightningModule.

    The painting is passed on too, for the validation quality measures.
    """
    style = style_from_config(cfg.style, cfg.paths.cache_dir)
    return StyleTransferModule(
        instantiate(cfg.model),
        build_loss(cfg, style),
        lr=cfg.optim.lr,
        scheduler=cfg.optim.scheduler,
        style_names=[cfg.style.name],
        config=OmegaConf.to_container(cfg, resolve=True),
        sample_every_n_steps=cfg.samples.every_n_steps,
        num_samples=cfg.samples.count,
        channels_last=cfg.speed.channels_last,
        compile=cfg.speed.compile,
        style_images=[style],
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
    precision = cfg.trainer.get("precision")
    if precision == "auto":  # measured on this machine: see fastnst.training.speed
        precision = auto_precision(str(cfg.trainer.get("accelerator", "cpu")))
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=logger, precision=precision)
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    log.info("finished at step %d; outputs in %s", trainer.global_step, cfg.paths.output_dir)
    return metrics
