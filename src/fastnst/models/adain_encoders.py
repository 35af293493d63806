"""The encoders of :class:`~fastnst.models.adain.AdaINNet`: frozen VGG-19s up to relu4_1.

- :class:`VGG19Encoder` (``encoder="torchvision"``): torchvision's ``vgg19().features`` (zero
  padding, floor pooling) with the ImageNet mean/std inside; photos padded to a multiple of 8.
- :class:`VGGNormalisedEncoder` (``encoder="vgg_normalised"``): pytorch-AdaIN's encoder, their
  modules 0-30 index for index (:mod:`fastnst.models.vgg_normalised`); nothing padded.

Both take RGB in [0, 1], keep their weights as frozen parameters (stored in the checkpoint, so
stylizing needs no download) and return relu1_1, relu2_1, relu3_1, relu4_1. Each says how
:class:`~fastnst.models.adain.AdaINNet` pads what it is given (``multiple``, ``min_side`` for
photos, ``min_style_side`` for paintings). No import of :mod:`fastnst.vgg` here but inside
:meth:`VGG19Encoder.load_vgg` (training only): the inference wing must not import it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fastnst.errors import FastNSTError
from fastnst.models.vgg_normalised import (
    ADAIN_DEPTH,
    TAPS,
    is_vgg_normalised,
    read_state,
    vgg_normalised_modules,
)

# torchvision's vgg19().features up to relu4_1: index of each tap, channels of each conv
_VGG19_TO_RELU4_1: list[int | str] = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512]
_TAPS = (1, 6, 11, 20)  # features.1 = relu1_1, .6 = relu2_1, .11 = relu3_1, .20 = relu4_1
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's, as fastnst.vgg.IMAGENET_MEAN
IMAGENET_STD = (0.229, 0.224, 0.225)
MULTIPLE = 8  # three 2x poolings
MIN_SIDE = 16  # so relu4_1 is at least 2 px: the decoder's first reflection pad needs that


class VGG19Encoder(nn.Module):
    """Frozen VGG-19 ``features`` up to relu4_1, normalizing RGB [0, 1] inside.

    Indices follow torchvision (``features.0`` is conv1_1), so a torchvision VGG-19 state dict
    loads as it is. The weights are parameters with ``requires_grad=False`` (they are part of
    the checkpoint, see the module docstring); ``train()`` keeps eval mode.

    Args:
        mean: The input mean the weights were trained with, (x - mean) / std.
        std: The input standard deviation the weights were trained with.
    """

    multiple, min_side, min_style_side = MULTIPLE, MIN_SIDE, 1  # padding AdaINNet gives inputs

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        modules: list[nn.Module] = []
        channels = 3
        for item in _VGG19_TO_RELU4_1:
            if item == "M":
                modules.append(nn.MaxPool2d(2, 2))
            else:
                modules += [nn.Conv2d(channels, int(item), 3, padding=1), nn.ReLU()]
                channels = int(item)
        self.features = nn.Sequential(*modules).requires_grad_(False)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.eval()

    def load_vgg(self, weights: str, *, seed: int = 0) -> None:
        """Copy VGG-19 weights in: ``"imagenet"``, ``"random"`` (seeded) or a file path, as
        :func:`fastnst.vgg.load_vgg_state_dict` takes them (imported here, for training only)."""
        from fastnst.vgg import load_vgg_state_dict

        state = load_vgg_state_dict("vgg19", weights, seed=seed)
        if is_vgg_normalised(state):
            raise FastNSTError(
                f"vgg.weights={weights} is pytorch-AdaIN's vgg_normalised.pth, not a torchvision "
                "vgg19: use model.encoder=vgg_normalised (experiment=adain)"
            )
        own = self.features.state_dict()
        try:
            self.features.load_state_dict({key: state[key] for key in own})
        except (KeyError, RuntimeError) as err:
            raise FastNSTError(
                f"vgg.weights={weights} do not fit a VGG-19 up to relu4_1 ({err}); pass the "
                "weights of a torchvision vgg19"
            ) from err

    def train(self, mode: bool = True) -> VGG19Encoder:  # noqa: ARG002 - always frozen
        """Stay in eval mode whatever a parent module asks for."""
        return super().train(False)

    def forward(self, image: Tensor, *, deepest_only: bool = False) -> list[Tensor]:
        """relu1_1, relu2_1, relu3_1, relu4_1 of ``image`` (or only relu4_1).

        Shape:
            image: (N, 3, H, W), RGB in [0, 1]. Outputs: (N, C_l, H / 2^(l-1), W / 2^(l-1)).
        """
        x = (image - self.mean) / self.std
        outputs = []
        for index, module in enumerate(self.features):
            x = module(x)
            if index in _TAPS and (not deepest_only or index == _TAPS[-1]):
                outputs.append(x)
        return outputs


class VGGNormalisedEncoder(nn.Module):
    """Frozen ``vgg_normalised`` up to relu4_1 (their modules 0-30), RGB in [0, 1] in.

    ``features`` is their ``nn.Sequential`` cut at 31 modules, as pytorch-AdaIN's
    ``train.py``/``test.py`` cut it, so its state-dict keys are theirs (``0.weight``,
    ``2.weight``, ``5.weight``, ``9.weight`` ...). The weights are parameters with
    ``requires_grad=False``, stored in the checkpoint as those of
    :class:`VGG19Encoder`; ``train()`` keeps eval mode.
    """

    # padding AdaINNet gives inputs: none but to 9 px, where relu4_1 is 2 px (ceil(9 / 8)), the
    # least every reflection pad of this encoder and of the decoder takes
    multiple, min_side, min_style_side = 1, 9, 9

    def __init__(self) -> None:
        super().__init__()
        self.features = vgg_normalised_modules(ADAIN_DEPTH).requires_grad_(False)
        self.eval()

    def load_vgg(self, weights: str, *, seed: int = 0) -> None:
        """Copy weights in: ``"imagenet"``, ``"random"`` or a file path (:func:`read_state`)."""
        self.features.load_state_dict(read_state(weights, seed=seed, depth=ADAIN_DEPTH))

    def train(self, mode: bool = True) -> VGGNormalisedEncoder:  # noqa: ARG002 - always frozen
        """Stay in eval mode whatever a parent module asks for."""
        return super().train(False)

    def forward(self, image: Tensor, *, deepest_only: bool = False) -> list[Tensor]:
        """relu1_1, relu2_1, relu3_1, relu4_1 of ``image`` (or only relu4_1).

        Shape:
            image: (N, 3, H, W), RGB in [0, 1], H, W >= 9. Outputs: (N, C_l, ceil(H / 2^(l-1)),
            ceil(W / 2^(l-1))).
        """
        outputs = []
        for index, module in enumerate(self.features):
            image = module(image)
            if index in TAPS and (not deepest_only or index == TAPS[-1]):
                outputs.append(image)
        return outputs
