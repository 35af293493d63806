"""The Hydra configs of every command, shipped inside the package (``pkg://fastnst.configs``)."""
