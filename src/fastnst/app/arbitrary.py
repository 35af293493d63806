"""Config -> the LightningModule of an arbitrary-style run (``model=adain``)."""

from __future__ import annotations

from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, OmegaConf

from fastnst.errors import FastNSTError
from fastnst.losses.adain import AdaINLoss
from fastnst.models.adain import AdaINNet
from fastnst.models.predicted import PredictedStyleNet
from fastnst.training.arbitrary import ArbitraryStyleModule
from fastnst.training.pairs import PhotoPaintingDataModule

HINT = "use experiment=adain (or adain_smoke) or pass loss=adain data=pairs data.style_root=DIR"


def _is_subclass(cfg: DictConfig, key: str, cls: type) -> bool:
    target = OmegaConf.select(cfg, f"{key}._target_")
    if not isinstance(target, str):
        return False
    found = get_object(target)  # a class, or a factory function (loss=johnson)
    return isinstance(found, type) and issubclass(found, cls)


def is_arbitrary(cfg: DictConfig) -> bool:
    """Whether ``cfg.model`` is an arbitrary-style network (the painting is an input)."""
    return _is_subclass(cfg, "model", AdaINNet) or _is_subclass(cfg, "model", PredictedStyleNet)


def build_arbitrary_module(cfg: DictConfig) -> ArbitraryStyleModule:
    """Arbitrary-style network (encoder weights from ``cfg.vgg``) + its loss, in the module.

    Raises:
        FastNSTError: ``loss`` or ``data`` are not those of an arbitrary-style run.
    """
    if not _is_subclass(cfg, "loss", AdaINLoss):
        raise FastNSTError(f"this model trains with loss=adain, not {cfg.loss._target_}; {HINT}")
    if not _is_subclass(cfg, "data", PhotoPaintingDataModule):
        raise FastNSTError(f"this model trains on photo x painting pairs; {HINT}")
    from fastnst.vgg import INPUT_NORMS, resolve_input_norm

    mean, std = INPUT_NORMS[resolve_input_norm(cfg.vgg.weights, cfg.vgg.input_norm)]
    model = instantiate(cfg.model, mean=list(mean), std=list(std))
    model.encoder.load_vgg(cfg.vgg.weights, seed=cfg.vgg.seed)
    return ArbitraryStyleModule(
        model,
        instantiate(cfg.loss),
        lr=cfg.optim.lr,
        lr_decay=cfg.optim.get("lr_decay", 0.0),
        config=OmegaConf.to_container(cfg, resolve=True),
        sample_every_n_steps=cfg.samples.every_n_steps,
        num_samples=cfg.samples.count,
    )
