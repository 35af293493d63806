"""Gatys et al. optimization against the trainer's loss: one target image per content image.

python scripts/optimize.py style=starry_night content=photo.jpg iterations=500 output=out.png
python scripts/optimize.py content=photos/ output=targets/   # resumable; writes losses.json
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from fastnst import FastNSTError
from fastnst.solver_runs import run_optimize


@hydra.main(version_base="1.3", config_path="../configs", config_name="optimize")
def main(cfg: DictConfig) -> None:
    try:
        run_optimize(cfg)
    except FastNSTError as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
