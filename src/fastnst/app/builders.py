"""Config -> objects: the few ``instantiate`` calls every command shares."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf
from torch import Tensor, nn

from fastnst.errors import FastNSTError
from fastnst.losses import PerceptualLoss
from fastnst.losses.adain import AdaINLoss
from fastnst.styles import load_style

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


def style_from_config(style_cfg: DictConfig, cache_dir: str) -> Tensor:
    """The painting of a ``style`` config group entry, (1, 3, H, W)."""
    return load_style(
        style_cfg.name, image=style_cfg.image, url=style_cfg.url,
        sha256=style_cfg.get("sha256"), size=style_cfg.size, cache_dir=cache_dir,
    )  # fmt: skip


def _shipped(group: str) -> list[str]:
    """Option names of a config group shipped in ``fastnst.configs``."""
    folder = files("fastnst.configs").joinpath(group)
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def style_list(styles: str | list[str] | ListConfig) -> list[str]:
    """The entries of ``styles=``: a list as given, or a set's list from ``configs/style_sets/``."""
    if isinstance(styles, str):
        path = files("fastnst.configs").joinpath("style_sets", f"{styles}.yaml")
        if not path.is_file():
            sets = ", ".join(_shipped("style_sets"))
            raise FastNSTError(f"unknown styles={styles}; use a list [a,b,...] or a set: {sets}")
        styles = OmegaConf.create(path.read_text()).styles
    names = [str(entry) for entry in styles]
    if len(set(names)) != len(names) or not names:
        raise FastNSTError(f"styles={names} must list at least one painting, each once")
    return names


def painting_config(entry: str, size: int | None) -> DictConfig:
    """A ``style`` entry for ``entry``: a painting of ``configs/style/`` or an image file."""
    if entry.lower().endswith(IMAGE_SUFFIXES) or "/" in entry:
        if not Path(entry).expanduser().is_file():
            raise FastNSTError(f"styles entry {entry} is not an image file; fix styles=")
        stem = Path(entry).stem
        return OmegaConf.create({"name": stem, "image": entry, "url": None, "size": size})
    path = files("fastnst.configs").joinpath("style", f"{entry}.yaml")
    if not path.is_file() or entry == "custom":
        known = [name for name in _shipped("style") if name != "custom"]
        raise FastNSTError(
            f"unknown painting {entry!r} in styles=; use image paths or: {', '.join(known)}"
        )
    cfg = OmegaConf.create(path.read_text())
    cfg.size = size
    return cfg


def paintings_from_config(cfg: DictConfig) -> tuple[list[str], list[Tensor]]:
    """Names and images, (1, 3, H_k, W_k), of the paintings a training run learns.

    ``styles`` (a list of painting names and image paths, or the name of a set in
    ``configs/style_sets/``) when set, each at ``style.size``; else the one painting of ``style``.
    """
    if cfg.get("styles") is None:
        return [cfg.style.name], [style_from_config(cfg.style, cfg.paths.cache_dir)]
    entries = [painting_config(entry, cfg.style.size) for entry in style_list(cfg.styles)]
    names = [str(entry.name) for entry in entries]
    if len(set(names)) != len(names):
        raise FastNSTError(f"styles= gives two paintings the same name: {names}; rename a file")
    return names, [style_from_config(entry, cfg.paths.cache_dir) for entry in entries]


def build_temporal(cfg: DictConfig) -> nn.Module | None:
    """The temporal stability loss of ``cfg.temporal`` (:mod:`fastnst.losses.temporal`), or
    ``None`` for ``temporal=none`` (an option without ``_target_``) or no group at all."""
    temporal = cfg.get("temporal")
    if temporal is None or "_target_" not in temporal:
        return None
    if float(temporal.weight) < 0:
        raise FastNSTError(f"temporal.weight={temporal.weight} is negative; use a weight >= 0")
    try:
        return instantiate(temporal)
    except Exception as err:  # a mistyped option: one line naming the group
        if isinstance(err.__cause__, FastNSTError):  # the loss's own message (temporal=flow)
            raise err.__cause__ from err
        reason = str(err.__cause__ or err).strip().splitlines()[-1]
        raise FastNSTError(f"cannot build the temporal loss ({reason}); fix temporal.*") from err


ARBITRARY_LOSS = f"{AdaINLoss.__module__}.{AdaINLoss.__qualname__}"


def _is_arbitrary_loss(target: Any) -> bool:
    try:
        found = get_object(target) if isinstance(target, str) else None
    except Exception:  # noqa: BLE001 - instantiate() reports a target that does not import
        return False
    return isinstance(found, type) and issubclass(found, AdaINLoss)


def arbitrary_losses() -> list[str]:
    """The shipped ``loss=`` options of arbitrary-style training: those naming the AdaIN loss,
    and those inheriting one (read as text: nothing is imported)."""
    folder = files("fastnst.configs").joinpath("loss")
    configs = {
        path.name.removesuffix(".yaml"): OmegaConf.create(path.read_text())
        for path in folder.iterdir() if path.name.endswith(".yaml")
    }  # fmt: skip
    found = {name for name, cfg in configs.items() if ARBITRARY_LOSS in str(cfg)}
    for name, cfg in configs.items():
        if any(str(parent) in found for parent in cfg.get("defaults", [])):
            found.add(name)
    return sorted(found)


def _loss_choice(cfg: DictConfig) -> str:
    """``loss=NAME`` as the command line chose it, else the loss's class name."""
    if HydraConfig.initialized() and HydraConfig.get().runtime.choices.get("loss"):
        return f"loss={HydraConfig.get().runtime.choices['loss']}"
    return f"the loss {str(cfg.loss._target_).rsplit('.', 1)[-1]}"


def check_per_style_loss(cfg: DictConfig) -> None:
    """A one-line FastNSTError for a loss with no style target of its own.

    The AdaIN loss (``loss=adain``) compares a network's output with a target the network
    itself makes from a painting (Huang & Belongie 2017): it trains arbitrary-style networks,
    and neither a per-style network nor the solver has a target to descend with it.
    """
    if _is_arbitrary_loss(OmegaConf.select(cfg, "loss._target_")):
        raise FastNSTError(
            f"{_loss_choice(cfg)} trains arbitrary-style networks (train.py experiment=adain); "
            "per-style networks and the solver take a per-style loss, e.g. loss=gatys or "
            f"loss=johnson (any but {', '.join(arbitrary_losses())})"
        )


def build_loss(cfg: DictConfig, style: Tensor | list[Tensor] | None = None) -> PerceptualLoss:
    """The perceptual loss of ``cfg.loss`` with the style targets of ``cfg.style`` set.

    Shared by the trainer, the optimization solver and the comparison report, so all three
    evaluate exactly the same loss. ``style`` is the painting, or the list of paintings of a
    multi-style run, when the caller has loaded them already (they are then not read again).
    Arbitrary-style losses are refused (:func:`check_per_style_loss`).
    """
    check_per_style_loss(cfg)
    loss = instantiate(cfg.loss)
    loss.set_style(style_from_config(cfg.style, cfg.paths.cache_dir) if style is None else style)
    return loss
