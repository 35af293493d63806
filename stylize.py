"""Stylize an image, folder or video, or export a model: python stylize.py ckpt=... output=..."""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from fastnst.cli import exit_on_user_error
from fastnst.stylize_files import run


@hydra.main(version_base="1.3", config_path="configs", config_name="stylize")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    report = run(**OmegaConf.to_container(cfg, resolve=True))
    print(report, file=sys.stderr)


if __name__ == "__main__":
    main()
