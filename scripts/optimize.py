"""Gatys et al. optimization against the trainer's loss: one target image per content image.

python scripts/optimize.py style=starry_night content=photo.jpg iterations=500 output=out.png
python scripts/optimize.py content=photos/ output=targets/   # resumable; writes losses.json
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from fastnst.cli import exit_on_user_error
from fastnst.solver_runs import run_optimize


@hydra.main(version_base="1.3", config_path="../configs", config_name="optimize")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    run_optimize(cfg)


if __name__ == "__main__":
    main()
