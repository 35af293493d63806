"""The composition root: the only code that imports Hydra or OmegaConf and calls ``instantiate``.

Each command (train, stylize, optimize, compare, ablate) composes a config here and calls the
plain, Hydra-free functions of the other wings.
"""
