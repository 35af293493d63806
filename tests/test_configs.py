"""Every option of every config group composes, resolves and builds its objects."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import CONFIGS
from hydra import compose, initialize_config_dir, initialize_config_module
from hydra.utils import instantiate
from omegaconf import OmegaConf

from fastnst.app.train import quiet_train_config

GROUPS = ["style", "model", "loss", "data", "trainer", "logger", "callbacks", "experiment"]
OPTIONS = [
    (group, path.stem) for group in GROUPS for path in sorted((CONFIGS / group).glob("*.yaml"))
]


def test_every_group_has_options() -> None:
    assert {group for group, _ in OPTIONS} == set(GROUPS)
    assert len([option for group, option in OPTIONS if group == "style"]) >= 12


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_composes_and_builds(make_cfg, group: str, option: str) -> None:
    root = make_cfg().data.root  # keep the tiny test folder whatever data= says
    overrides = {
        "style": [f"style={option}", f"style.image={make_cfg().style.image}"],
        "data": [f"data={option}", f"data.root={root}"],
    }.get(group, [f"{group}={option}"])
    cfg = make_cfg(*overrides)
    resolved = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    assert resolved["style"]["size"] > 0 and resolved["style"]["weight"] > 0
    model = instantiate(cfg.model)
    if model.arch in ("adain", "johnson_predicted"):  # arbitrary style: no width
        assert model.config["eps"] > 0
    else:
        assert model.config["width"] > 0
    assert instantiate(cfg.data).root == root
    if cfg.trainer.accelerator != "gpu" or torch.cuda.is_available():
        precision = cfg.trainer.precision  # "auto" is measured by app/train.py at run time
        precision = "32-true" if precision == "auto" else precision
        trainer = instantiate(cfg.trainer, logger=False, callbacks=[], precision=precision)
        assert trainer.max_steps == cfg.trainer.max_steps
    assert len([instantiate(c) for c in cfg.callbacks.values()]) == len(cfg.callbacks)
    if group == "loss":
        assert instantiate(cfg.loss).style_layers


def test_custom_style_demands_an_image(make_cfg) -> None:
    cfg = make_cfg("style=custom", "style.image=???")
    with pytest.raises(Exception, match="image"):
        OmegaConf.to_container(cfg.style, resolve=True, throw_on_missing=True)


def test_quiet_train_config_is_quiet_and_lets_overrides_win(tmp_path: Path) -> None:
    cfg = quiet_train_config(tmp_path, 5, ["experiment=smoke", "trainer.max_steps=9"])
    assert cfg.trainer.max_steps == 9  # the caller's override wins over the quiet default
    assert cfg.trainer.limit_val_batches == 0 and cfg.trainer.enable_progress_bar is False
    assert "logger" not in cfg and cfg.paths.output_dir == str(tmp_path)
    assert cfg.callbacks.model_checkpoint.every_n_train_steps == 5
    assert cfg.vgg.weights == "random"  # experiment=smoke was applied


def test_experiment_overrides_the_root_config() -> None:
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["experiment=smoke"])
    assert cfg.vgg.weights == "random"  # train.yaml says imagenet; the experiment wins
    assert cfg.trainer.max_steps == 600 and cfg.trainer.accelerator == "cpu"
    assert cfg.model.width == 16  # model=johnson_small


@pytest.mark.parametrize("root", ["train", "stylize", "optimize", "compare", "ablate"])
def test_root_configs_compose_from_the_package(root: str) -> None:
    """The commands read ``pkg://fastnst.configs``: the configs must be that package's data."""
    import fastnst.configs

    assert Path(fastnst.configs.__file__).parent.resolve() == CONFIGS.resolve()
    with initialize_config_module(config_module="fastnst.configs", version_base="1.3"):
        cfg = compose(config_name=root)
    on_disk = OmegaConf.load(CONFIGS / f"{root}.yaml")
    assert {k for k in on_disk if k not in ("defaults", "hydra")} <= set(cfg)
