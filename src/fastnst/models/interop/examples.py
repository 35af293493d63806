"""Load the pretrained models of pytorch/examples ``fast_neural_style`` (candy, mosaic, udnie,
rain_princess ``.pth``) into our ``TransformerNet``.

Those files are plain state dicts of its ``TransformerNet``, which is our network with
``width=32, num_residual_blocks=5, head="none"`` under other parameter names, working on pixels
in [0, 255] instead of [0, 1]. The range is folded into the weights exactly: the first
convolution sees x_255 = 255 x, so its weight is multiplied by 255; the last one outputs
y_255 = 255 y, so its weight and bias are divided by 255. Older files also hold instance norms'
``running_mean`` / ``running_var`` (and ``num_batches_tracked``), which their code deletes before
loading because it never uses them; so do we. With ``pixel_range=255`` nothing is folded: the
parameters stay exactly theirs and ``TransformerNet(pixel_range=255)`` does the scaling
(``loss=examples`` trains that network).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from torch import Tensor

from fastnst.errors import FastNSTError
from fastnst.models import TransformerNet

_FIRST_KEY = "conv1.conv2d.weight"
_RUNNING_STATS = re.compile(r"in\d+\.(running_mean|running_var|num_batches_tracked)$")
# pytorch/examples module prefix -> our module prefix (parameter suffixes .weight/.bias follow).
_PREFIXES = {
    "conv1.conv2d": "net.0.1", "in1": "net.0.2",
    "conv2.conv2d": "net.1.1", "in2": "net.1.2",
    "conv3.conv2d": "net.2.1", "in3": "net.2.2",
    "deconv1.conv2d": "net.8.conv.1", "in4": "net.8.conv.2",
    "deconv2.conv2d": "net.9.conv.1", "in5": "net.9.conv.2",
    "deconv3.conv2d": "net.10.1",
}  # fmt: skip
for _block in range(1, 6):
    for _theirs, _ours in (("conv1.conv2d", "0.1"), ("in1", "0.2"), ("conv2.conv2d", "1.1"),
                           ("in2", "1.2")):  # fmt: skip
        _PREFIXES[f"res{_block}.{_theirs}"] = f"net.{_block + 2}.block.{_ours}"


def is_examples_state_dict(obj: Any) -> bool:
    """Whether ``obj`` looks like a pytorch/examples ``TransformerNet`` state dict."""
    return isinstance(obj, dict) and isinstance(obj.get(_FIRST_KEY), Tensor)


def from_examples_state_dict(
    state: dict[str, Tensor], path: str | Path = "<state dict>", *, pixel_range: float = 1.0
) -> TransformerNet:
    """Our ``TransformerNet`` (in eval mode) computing the same function on [0, 1] pixels.

    ``pixel_range=255`` keeps their parameters as they are (a network that scales its input
    and output); 1 folds the 0-255 range into the first and last convolutions.

    Raises:
        FastNSTError: The state dict (read from ``path``) is not of that architecture.
    """
    ours: dict[str, Tensor] = {}
    for key, value in state.items():
        prefix, _, param = key.rpartition(".")
        if _RUNNING_STATS.search(key):
            continue
        if prefix not in _PREFIXES:
            raise FastNSTError(f"{path}: unexpected key {key!r} for a pytorch/examples model")
        ours[f"{_PREFIXES[prefix]}.{param}"] = value.float()
    if pixel_range == 1:
        ours["net.0.1.weight"] = ours["net.0.1.weight"] * 255
        ours["net.10.1.weight"] = ours["net.10.1.weight"] / 255
        ours["net.10.1.bias"] = ours["net.10.1.bias"] / 255
    elif pixel_range != 255:
        raise FastNSTError(f"{path}: pixel_range must be 1 or 255, got {pixel_range}")
    model = TransformerNet(width=32, num_residual_blocks=5, head="none", pixel_range=pixel_range)
    try:
        model.load_state_dict(ours)
    except RuntimeError as err:
        reason = str(err).splitlines()[0]
        raise FastNSTError(f"{path} is not a pytorch/examples TransformerNet: {reason}") from err
    return model.eval()
