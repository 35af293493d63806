"""``train(cfg)``: build everything from a composed config, fit, return the final metrics;
``quiet_train_config``: the config of such a run as a step of a measuring script."""

from __future__ import annotations

import logging
from pathlib import Path

import pytorch_lightning as pl
from hydra import compose, initialize_config_module
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from fastnst.app.arbitrary import build_arbitrary_module, is_arbitrary
from fastnst.app.builders import build_loss, build_temporal, paintings_from_config
from fastnst.errors import FastNSTError
from fastnst.models.checkpoint import load_style_checkpoint
from fastnst.models.extend import extend_styles, train_only_styles
from fastnst.training.arbitrary import ArbitraryStyleModule
from fastnst.training.faults import AtomicCheckpointIO
from fastnst.training.module import StyleTransferModule
from fastnst.training.speed import auto_precision

log = logging.getLogger(__name__)


def build_transformer(cfg: DictConfig, names: list[str]) -> nn.Module:
    """The network of ``cfg.model`` for the paintings ``names``; ``model.num_styles`` is set to
    their number. With ``init_from``: that checkpoint's network grown to ``names``, only the
    new styles' norm rows trainable (:mod:`fastnst.models.extend`)."""
    if cfg.get("init_from") is not None:
        source = load_style_checkpoint(cfg.init_from)
        model, new = extend_styles(source.model, source.styles, names)
        train_only_styles(model, new)
        log.info("init_from %s: training styles %s only", cfg.init_from, names[new[0] :])
        return model
    if "num_styles" in cfg.model:
        return instantiate(cfg.model, num_styles=len(names))
    if len(names) > 1:
        raise FastNSTError(
            f"styles= lists {len(names)} paintings but this model holds one; add model=johnson_cin"
        )
    return instantiate(cfg.model)


def build_module(cfg: DictConfig) -> StyleTransferModule | ArbitraryStyleModule:
    """Transform network + perceptual loss (style targets set) wrapped in the LightningModule.

    The paintings (``style``, or the list ``styles``) are passed on too, for the validation
    quality measures, and the temporal stability loss of ``temporal`` when one is chosen.
    An arbitrary-style model (``model=adain``) gets its own module and loss instead
    (:func:`~fastnst.app.arbitrary.build_arbitrary_module`).
    """
    if is_arbitrary(cfg):
        return build_arbitrary_module(cfg)
    names, paintings = paintings_from_config(cfg)
    return StyleTransferModule(
        build_transformer(cfg, names),
        build_loss(cfg, paintings),
        lr=cfg.optim.lr,
        scheduler=cfg.optim.scheduler,
        style_names=names,
        config=OmegaConf.to_container(cfg, resolve=True),
        sample_every_n_steps=cfg.samples.every_n_steps,
        num_samples=cfg.samples.count,
        channels_last=cfg.speed.channels_last,
        compile=cfg.speed.compile,
        style_images=paintings,
        temporal=build_temporal(cfg),
    )


def quiet_train_config(run: Path, steps: int, overrides: list[str]) -> DictConfig:
    """``train.yaml`` composed with ``overrides`` for a run that a script measures: ``steps``
    steps, no validation, logger or progress bar, one checkpoint at the end, outputs and cache
    under ``run``. ``overrides`` come last, so they win."""
    quiet = [
        f"trainer.max_steps={steps}", "trainer.limit_val_batches=0",
        "trainer.num_sanity_val_steps=0", f"trainer.val_check_interval={steps}",
        f"samples.every_n_steps={10 * steps}", "+trainer.enable_progress_bar=false",
        "+trainer.enable_model_summary=false", "~logger", "~callbacks.lr_monitor",
        f"paths.output_dir={run}", f"paths.cache_dir={run / 'cache'}",
        f"callbacks.model_checkpoint.every_n_train_steps={steps}",
    ]  # fmt: skip
    with initialize_config_module(config_module="fastnst.configs", version_base="1.3"):
        return compose(config_name="train", overrides=[*quiet, *overrides])


def train(cfg: DictConfig) -> dict[str, float]:
    """Train one style network as configured; returns the last logged metrics.

    Resumes from ``cfg.ckpt_path`` (global step, optimizer and scheduler state) when it is set.
    Checkpoints are written atomically; a signal, a failed write or a non-finite loss ends the
    run with a one-line FastNSTError (:mod:`fastnst.training.faults`, docs/training-faults.md).
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
    trainer = instantiate(
        cfg.trainer, callbacks=callbacks, logger=logger, precision=precision,
        plugins=[AtomicCheckpointIO()],  # a kill mid-save leaves the previous file whole
    )  # fmt: skip
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    log.info("finished at step %d; outputs in %s", trainer.global_step, cfg.paths.output_dir)
    return metrics
