"""A trained network vs the optimization solver: losses, loss parity N, wall time, speedup.

python scripts/compare.py ckpt=outputs/.../last.ckpt content_dir=photos/ iterations=[50,100,300,500]
"""

from __future__ import annotations

import logging

import hydra
from omegaconf import DictConfig

from fastnst.cli import exit_on_user_error
from fastnst.solver_runs import run_compare

log = logging.getLogger(__name__)


@hydra.main(version_base="1.3", config_path="../configs", config_name="compare")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    paths = run_compare(cfg)
    print(paths["md"].read_text())
    log.info("report in %s", paths["md"].parent)


if __name__ == "__main__":
    main()
