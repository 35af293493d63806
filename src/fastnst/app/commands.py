"""The Hydra mains of every command; ``train.py``, ``stylize.py``, ``scripts/*`` and the
``fastnst`` command call these. Configs ship inside the package (``pkg://fastnst.configs``), so
the commands work from any folder once fastnst is installed.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig, OmegaConf

from fastnst.app.cli import exit_on_user_error, finish_stylize, quiet_progress_logging
from fastnst.app.schemas import check_config

CONFIGS = "pkg://fastnst.configs"


@hydra.main(version_base="1.3", config_path=CONFIGS, config_name="train")
@exit_on_user_error
def train_main(cfg: DictConfig) -> None:
    """``python train.py`` / ``fastnst train``: train a style network."""
    check_config(cfg, "train")  # before the imports: a typo never waits for Lightning
    from fastnst.app.train import train

    with quiet_progress_logging():
        train(cfg)


@hydra.main(version_base="1.3", config_path=CONFIGS, config_name="stylize")
@exit_on_user_error
def stylize_main(cfg: DictConfig) -> None:
    """``python stylize.py``: stylize an image, folder or video, or export the network."""
    check_config(cfg, "stylize")
    from fastnst.inference.command import run

    with quiet_progress_logging():
        report = run(**OmegaConf.to_container(cfg, resolve=True))
    finish_stylize(report)


@hydra.main(version_base="1.3", config_path=CONFIGS, config_name="optimize")
@exit_on_user_error
def optimize_main(cfg: DictConfig) -> None:
    """``scripts/optimize.py`` / ``fastnst optimize``: Gatys et al. optimization."""
    check_config(cfg, "optimize")
    from fastnst.app.solver_runs import run_optimize

    with quiet_progress_logging():
        run_optimize(cfg)


@hydra.main(version_base="1.3", config_path=CONFIGS, config_name="compare")
@exit_on_user_error
def compare_main(cfg: DictConfig) -> None:
    """``scripts/compare.py`` / ``fastnst compare``: a network against the solver."""
    check_config(cfg, "compare")
    from fastnst.app.solver_runs import run_compare

    with quiet_progress_logging():
        paths = run_compare(cfg)
    print(paths["md"].read_text())


@hydra.main(version_base="1.3", config_path=CONFIGS, config_name="ablate")
@exit_on_user_error
def ablate_main(cfg: DictConfig) -> None:
    """``scripts/ablate.py`` / ``fastnst ablate``: the solver under each loss variant."""
    check_config(cfg, "ablate")
    from fastnst.app.ablate import run_ablation

    with quiet_progress_logging():
        run_ablation(cfg)


@hydra.main(version_base="1.3", config_path=CONFIGS, config_name="video_consistency")
@exit_on_user_error
def video_consistency_main(cfg: DictConfig) -> None:
    """``scripts/video_consistency.py``: warping error and losses of networks on a clip."""
    check_config(cfg, "video_consistency")
    from fastnst.app.video_consistency import run_video_consistency

    with quiet_progress_logging():
        paths = run_video_consistency(cfg)
    print(paths["md"].read_text())
