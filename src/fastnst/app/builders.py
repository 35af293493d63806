"""Config -> objects: the few ``instantiate`` calls every command shares."""

from __future__ import annotations

from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import Tensor

from fastnst.losses import PerceptualLoss
from fastnst.styles import load_style


def style_from_config(style_cfg: DictConfig, cache_dir: str) -> Tensor:
    """The painting of a ``style`` config group entry, (1, 3, H, W)."""
    return load_style(
        style_cfg.name, image=style_cfg.image, url=style_cfg.url,
        sha256=style_cfg.get("sha256"), size=style_cfg.size, cache_dir=cache_dir,
    )  # fmt: skip


def build_loss(cfg: DictConfig, style: Tensor | None = None) -> PerceptualLoss:
    """The perceptual loss of ``cfg.loss`` with the style targets of ``cfg.style`` set.

    Shared by the trainer, the optimization solver and the comparison report, so all three
    evaluate exactly the same loss. ``style`` is the painting when the caller has loaded it
    already (it is then not read again).
    """
    loss = instantiate(cfg.loss)
    loss.set_style(style_from_config(cfg.style, cfg.paths.cache_dir) if style is None else style)
    return loss
