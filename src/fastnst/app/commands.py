"""The Hydra mains of every command; ``train.py``, ``stylize.py``, ``scripts/*`` and the
``fastnst`` command call these. Configs ship inside the package (``pkg://fastnst.configs``), so
the commands work from any folder once fastnst is installed.

Each main first refuses, in one line, an override its root config lacks
(:func:`fastnst.app.overrides.check_overrides`), then lets Hydra compose. ``stylize.py``'s root
is composed from Hydra's config store instead of the configs folder: Hydra reads ``key=value``
as a choice of a config group whenever a group of that name is on its search path, and the
folder's ``style/`` group (the paintings training learns) would turn the documented
``style=great_wave`` (a style of a multi-style network) into "No match in the defaults list".
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from importlib.resources import files

import hydra
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from fastnst.app.cli import exit_on_user_error, finish_stylize, quiet_progress_logging
from fastnst.app.overrides import check_overrides
from fastnst.app.schemas import check_config
from fastnst.errors import FastNSTError

CONFIGS = "pkg://fastnst.configs"
STYLIZE_ROOT = "fastnst_stylize"  # configs/stylize.yaml, as stored in Hydra's config store


def entry_point(root: str, config_path: str | None = CONFIGS, config_name: str | None = None):
    """Decorate ``body(cfg)`` into a main: overrides checked, Hydra composes ``root``, the
    config's types checked, a FastNSTError anywhere one line on stderr."""

    def decorate(body: Callable[[DictConfig], None]) -> Callable[[], None]:
        @hydra.main(version_base="1.3", config_path=config_path, config_name=config_name or root)
        @exit_on_user_error
        @functools.wraps(body)
        def composed(cfg: DictConfig) -> None:
            check_config(cfg, root)  # before the imports: a typo never waits for Lightning
            body(cfg)

        @functools.wraps(body)
        def main() -> None:
            try:
                check_overrides(root, sys.argv)
            except FastNSTError as err:
                sys.exit(f"error: {err}")
            composed()

        return main

    return decorate


def store_stylize_root() -> None:
    """Put ``configs/stylize.yaml`` into Hydra's config store as :data:`STYLIZE_ROOT`."""
    text = files("fastnst.configs").joinpath("stylize.yaml").read_text()
    ConfigStore.instance().store(name=STYLIZE_ROOT, node=OmegaConf.create(text))


@entry_point("train")
def train_main(cfg: DictConfig) -> None:
    """``python train.py`` / ``fastnst train``: train a style network."""
    from fastnst.app.train import train

    with quiet_progress_logging():
        train(cfg)


@entry_point("stylize", config_path=None, config_name=STYLIZE_ROOT)
def _stylize(cfg: DictConfig) -> None:
    from fastnst.inference.command import run

    with quiet_progress_logging():
        report = run(**OmegaConf.to_container(cfg, resolve=True))
    finish_stylize(report)


def stylize_main() -> None:
    """``python stylize.py``: stylize an image, folder or video, or export the network."""
    store_stylize_root()
    _stylize()


@entry_point("optimize")
def optimize_main(cfg: DictConfig) -> None:
    """``scripts/optimize.py`` / ``fastnst optimize``: Gatys et al. optimization."""
    from fastnst.app.solver_runs import run_optimize

    with quiet_progress_logging():
        run_optimize(cfg)


@entry_point("compare")
def compare_main(cfg: DictConfig) -> None:
    """``scripts/compare.py`` / ``fastnst compare``: a network against the solver."""
    from fastnst.app.solver_runs import run_compare

    with quiet_progress_logging():
        paths = run_compare(cfg)
    print(paths["md"].read_text())


@entry_point("ablate")
def ablate_main(cfg: DictConfig) -> None:
    """``scripts/ablate.py`` / ``fastnst ablate``: the solver under each loss variant."""
    from fastnst.app.ablate import run_ablation

    with quiet_progress_logging():
        run_ablation(cfg)


@entry_point("video_consistency")
def video_consistency_main(cfg: DictConfig) -> None:
    """``scripts/video_consistency.py``: warping error and losses of networks on a clip."""
    from fastnst.app.video_consistency import run_video_consistency

    with quiet_progress_logging():
        paths = run_video_consistency(cfg)
    print(paths["md"].read_text())
