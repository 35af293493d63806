"""``run_optimize(cfg)`` and ``run_compare(cfg)``: the config-level entry functions of
``scripts/optimize.py`` and ``scripts/compare.py`` (tests call these with composed configs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from fastnst.app.builders import build_loss, style_from_config
from fastnst.device import describe_device, resolve_device
from fastnst.errors import FastNSTError
from fastnst.inference.arbitrary import is_arbitrary
from fastnst.io.image import list_images, load_image
from fastnst.models.checkpoint import StyleCheckpoint, load_style_checkpoint
from fastnst.solver.callbacks import ProgressBar, SnapshotWriter, TensorBoardLogger
from fastnst.solver.compare import compare_image
from fastnst.solver.optimize import Callback, SolverConfig
from fastnst.solver.report import write_report
from fastnst.solver.targets import make_targets, target_jobs

GIF_FRAMES = 50  # frames of the progress GIF when no snapshot period is given


def solver_config(cfg: DictConfig, iterations: int, **overrides: Any) -> SolverConfig:
    """The :class:`SolverConfig` of the ``solver`` config group."""
    return SolverConfig(iterations=iterations, **OmegaConf.to_container(cfg.solver), **overrides)


def _callbacks(cfg: DictConfig, total: int) -> Any:
    def make(output: Path) -> list[Callback]:
        callbacks: list[Callback] = [ProgressBar(total, output.name, disable=not cfg.progress)]
        if cfg.snapshot_every or cfg.gif:
            folder = output.with_name(f"{output.stem}_progress") if cfg.snapshot_every else None
            gif = output.with_name(f"{output.stem}_progress.gif") if cfg.gif else None
            every = cfg.snapshot_every or max(1, total // GIF_FRAMES)
            callbacks.append(SnapshotWriter(folder, every, gif=gif))
        if cfg.tensorboard:
            log_dir = Path(cfg.paths.output_dir) / "tensorboard" / output.stem
            callbacks.append(TensorBoardLogger(log_dir))
        return callbacks

    return make


def run_optimize(cfg: DictConfig) -> dict[str, Any]:
    """Optimize ``cfg.content`` (file or folder) into ``cfg.output``; returns losses.json."""
    device = resolve_device(cfg.device)
    loss = build_loss(cfg).to(device)
    config = solver_config(cfg, cfg.iterations, preserve_color=cfg.preserve_color or False)
    jobs = target_jobs(cfg.content, cfg.output)
    folder = Path(cfg.output) if Path(cfg.content).is_dir() else jobs[0][1].parent
    luminance_only = bool(getattr(loss, "luminance_only", False))
    return make_targets(
        loss, jobs, config,
        losses_json=folder / "losses.json",
        style=style_from_config(cfg.style, cfg.paths.cache_dir) if luminance_only else None,
        size=cfg.size,
        overwrite=cfg.overwrite,
        callbacks=_callbacks(cfg, config.iterations * config.pyramid_levels),
    )  # fmt: skip


def loss_config(cfg: DictConfig, checkpoint: StyleCheckpoint) -> DictConfig:
    """The loss, style and vgg settings to compare under: the checkpoint's or ``cfg``'s own."""
    if cfg.loss_from == "config":
        return cfg
    if cfg.loss_from != "ckpt":
        raise FastNSTError(f"unknown loss_from={cfg.loss_from}; use ckpt or config")
    trained = checkpoint.config
    if not all(key in trained for key in ("loss", "style", "vgg")):
        raise FastNSTError(f"{cfg.ckpt} stores no training config; pass loss_from=config")
    sections = {key: trained[key] for key in ("loss", "style", "vgg")}
    return OmegaConf.create({**sections, "paths": {"cache_dir": cfg.paths.cache_dir}})


def run_compare(cfg: DictConfig) -> dict[str, Path]:
    """Network of ``cfg.ckpt`` vs the solver on ``cfg.content_dir``; returns the report files."""
    device = resolve_device(cfg.device)
    checkpoint = load_style_checkpoint(cfg.ckpt)
    if is_arbitrary(checkpoint.model):
        raise FastNSTError(
            f"ckpt={cfg.ckpt} is an arbitrary-style network (it takes a painting); compare takes "
            "per-style and multi-style networks: use scripts/compare_arbitrary.py --ckpt for it"
        )
    loss_cfg = loss_config(cfg, checkpoint)
    style = style_from_config(loss_cfg.style, cfg.paths.cache_dir)
    loss = build_loss(loss_cfg, style).to(device)
    model = checkpoint.model.to(device)
    iterations = sorted({int(n) for n in cfg.iterations})
    if not iterations or iterations[0] < 0:
        raise FastNSTError(f"iterations={list(cfg.iterations)}: give counts >= 0, e.g. [50,100]")
    config = solver_config(cfg, iterations[-1])
    files = list_images(cfg.content_dir)[: cfg.max_images]
    comparisons = []
    for path in files:
        content = load_image(path, long_side=cfg.size).to(device)
        bar = ProgressBar(iterations[-1], path.name, disable=not cfg.progress)
        comparisons.append(
            compare_image(
                path.name,
                model,
                loss,
                content,
                iterations,
                config,
                warmup=cfg.warmup,
                repeats=cfg.repeats,
                callbacks=[bar],
                style=style,
            )  # fmt: skip
        )
        bar.close()
    meta = {
        "checkpoint": str(cfg.ckpt),
        "device": describe_device(device),
        "loss": OmegaConf.to_container(loss_cfg.loss),
        "style": loss_cfg.style.name,
        "solver": OmegaConf.to_container(cfg.solver),
        "iterations": iterations,
        "size": cfg.size,
        "torch": torch.__version__,
    }
    return write_report(cfg.output_dir, comparisons, style, meta=meta, grid_height=cfg.grid_height)
