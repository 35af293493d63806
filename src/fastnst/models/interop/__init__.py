"""Published weights of the reference implementations, loaded onto fastnst's networks.

One module per reference format; each maps that reference's exact keys and shapes and is proved
in ``tests/`` on random weights written in the real file format. Reading never runs code from
a file (``torch.load(weights_only=True)``, protobuf, a Torch7 parser).

=================  ======================================  ===================================
module             reference                               file
=================  ======================================  ===================================
``examples``       pytorch/examples ``fast_neural_style``  ``.pth`` state dict (candy, ...)
``onnx_zoo``       the ONNX model zoo's copies of those    ``.onnx``, opset 9, 1x3x224x224
``torch7``         jcjohnson/fast-neural-style             ``.t7`` Torch7 model
``adain``          naoto0804/pytorch-AdaIN                 ``decoder.pth`` + ``vgg_normalised.pth``
``magenta``        Magenta ``image_stylization``           TensorFlow ``.ckpt``, converted once
=================  ======================================  ===================================

:func:`~fastnst.models.checkpoint.load_style_checkpoint` dispatches here, so every published
file works wherever a fastnst checkpoint does.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass
class Published:
    """A network rebuilt from a reference's published file.

    Attributes:
        model: The fastnst network computing what the reference's computes, in eval mode.
        styles: The painting names it holds (one for single-style networks, none for AdaIN).
        source: Which reference the file came from, e.g. ``"pytorch/examples"``.
    """

    model: nn.Module
    styles: list[str]
    source: str
