"""A trained network vs the optimization solver: losses, loss parity N, wall time, speedup.

python scripts/compare.py ckpt=outputs/.../last.ckpt content_dir=photos/ iterations=[50,100,300,500]
"""

from __future__ import annotations

import logging
import sys

import hydra
from omegaconf import DictConfig

from fastnst import FastNSTError
from fastnst.solver_runs import run_compare

log = logging.getLogger(__name__)


@hydra.main(version_base="1.3", config_path="../configs", config_name="compare")
def main(cfg: DictConfig) -> None:
    try:
        paths = run_compare(cfg)
    except FastNSTError as err:
        sys.exit(f"error: {err}")
    print(paths["md"].read_text())
    log.info("report in %s", paths["md"].parent)


if __name__ == "__main__":
    main()
