"""Transform networks, ``build_model(arch, ...)`` and the checkpoint format (no Lightning here)."""

from __future__ import annotations

from typing import Any

from torch import nn

from fastnst.errors import FastNSTError
from fastnst.models.adain import AdaINNet
from fastnst.models.predicted import PredictedStyleNet
from fastnst.models.transformer import TransformerNet

ARCHS = ("johnson", "adain", "johnson_predicted")


def build_model(arch: str = "johnson", **kwargs: Any) -> nn.Module:
    """The transform network ``arch`` built with its constructor ``kwargs``.

    ``"johnson"``: :class:`TransformerNet` (Johnson et al. 2016 with instance norm).
    ``"adain"``: :class:`AdaINNet` (Huang & Belongie 2017, any painting as an input).
    ``"johnson_predicted"``: :class:`PredictedStyleNet` (Ghiasi et al. 2017, the same).
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
        return TransformerNet(**kwargs)
    except TypeError as err:
        raise FastNSTError(f"model.arch={arch} does not take these options: {err}") from err


__all__ = ["ARCHS", "AdaINNet", "PredictedStyleNet", "TransformerNet", "build_model"]
