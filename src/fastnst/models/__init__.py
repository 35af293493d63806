"""Transform networks, ``build_model(arch, ...)`` and the checkpoint format (no Lightning here)."""

from __future__ import annotations

from typing import Any

from torch import nn

from fastnst.errors import FastNSTError
from fastnst.models.adain import AdaINNet
from fastnst.models.johnson2016 import Johnson2016Net
from fastnst.models.predicted import PredictedStyleNet
from fastnst.models.transformer import TransformerNet

ARCHS = ("johnson", "adain", "johnson_predicted", "johnson2016")


def build_model(arch: str = "johnson", **kwargs: Any) -> nn.Module:
    """The transform network ``arch`` built with its constructor ``kwargs``.

    ``"johnson"``: :class:`TransformerNet` (Johnson et al. 2016 with instance norm).
    ``"adain"``: :class:`AdaINNet` (Huang & Belongie 2017, any painting as an input).
    ``"johnson_predicted"``: :class:`PredictedStyleNet` (Ghiasi et al. 2017, the same).
    ``"johnson2016"``: :class:`Johnson2016Net` (Johnson et al.'s own Torch7 network, for their
    published models).
    Every network has ``arch`` and ``config`` (its kwargs) attributes, so a checkpoint can
    rebuild it.

    Raises:
        FastNSTError: Unknown ``arch``, or arguments it does not take.
    """
    if arch not in ARCHS:
        raise FastNSTError(f"unknown model.arch={arch!r}; use one of {', '.join(ARCHS)}")
    try:
        if arch == "adain":
            return AdaINNet(**kwargs)
        if arch == "johnson_predicted":
            return PredictedStyleNet(**kwargs)
        if arch == "johnson2016":
            return Johnson2016Net(**kwargs)
        return TransformerNet(**kwargs)
    except TypeError as err:
        raise FastNSTError(f"model.arch={arch} does not take these options: {err}") from err


__all__ = [
    "ARCHS", "AdaINNet", "Johnson2016Net", "PredictedStyleNet", "TransformerNet", "build_model",
]  # fmt: skip
