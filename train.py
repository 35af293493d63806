"""Train a fast style transfer network: python train.py style=starry_night [key=value ...]"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from fastnst import FastNSTError
from fastnst.train import train


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> None:
    try:
        train(cfg)
    except FastNSTError as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
