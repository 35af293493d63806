"""Train a fast style transfer network: python train.py style=starry_night [key=value ...]"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from fastnst.cli import exit_on_user_error
from fastnst.train import train


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    train(cfg)


if __name__ == "__main__":
    main()
