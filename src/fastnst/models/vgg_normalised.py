"""pytorch-AdaIN's encoder ``vgg_normalised``: a normalised ImageNet VGG-19 with Caffe input.

The ``nn.Sequential`` of naoto0804/pytorch-AdaIN's ``net.py`` (``vgg``), rebuilt index for index
so its ``vgg_normalised.pth`` loads as it is:

- index 0: a 1x1 convolution 3 -> 3 applied to RGB in [0, 1]. In the published file it does the
  Caffe preprocessing (RGB -> BGR, x 255, minus the mean pixel); it is a layer, not a constant.
- every 3x3 convolution is preceded by ``ReflectionPad2d(1)`` (``padding=0`` itself);
- 2x2 max pooling with ``ceil_mode=True``, so any side >= 9 px reaches relu4_1 without padding.

The 3x3 weights are Gatys et al. 2016's normalised VGG-19 (each filter rescaled to mean
activation 1 over ImageNet), which is why feature scales differ from torchvision's VGG-19.
relu1_1, relu2_1, relu3_1, relu4_1 end at indices 3, 10, 17, 30; AdaIN cuts after 30 (31
modules; :class:`~fastnst.models.adain_encoders.VGGNormalisedEncoder`).
:func:`to_torchvision_layout` maps the file onto torchvision's indices for the loss network
(:class:`fastnst.vgg.VGGFeatures`). This module does not import torchvision.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor, nn

from fastnst.errors import FastNSTError

URL = "https://github.com/naoto0804/pytorch-AdaIN/releases/download/v0.0.0/vgg_normalised.pth"
FILE_FORMAT = "pytorch-AdaIN's vgg_normalised.pth (their net.vgg nn.Sequential's state dict)"
# VGG-19: output channels of each 3x3 conv, "M" for a ceil-mode 2x2 max pooling
_VGG19: list[int | str] = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
                           512, 512, 512, 512, "M", 512, 512, 512, 512]  # fmt: skip
ADAIN_DEPTH = 31  # modules up to relu4_1
TAPS = (3, 10, 17, 30)  # relu1_1, relu2_1, relu3_1, relu4_1
# The Caffe preprocessing the published index 0 does: BGR mean pixel, 0-255 scale
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)


def _layout() -> list[tuple[str, int, int]]:
    """Their ``net.vgg``, module by module: (kind, in, out channels); 53 entries."""
    layout, channels = [("conv1x1", 3, 3)], 3
    for item in _VGG19:
        if item == "M":
            layout.append(("pool", channels, channels))
        else:
            layout += [("pad", channels, channels), ("conv", channels, int(item))]
            layout.append(("relu", int(item), int(item)))
            channels = int(item)
    return layout


def vgg_normalised_modules(depth: int = 53) -> nn.Sequential:
    """Their ``net.vgg`` (53 modules), cut after ``depth`` modules; ReLUs not in place."""
    build = {
        "conv1x1": lambda cin, cout: nn.Conv2d(cin, cout, 1),
        "pad": lambda cin, cout: nn.ReflectionPad2d(1),
        "conv": lambda cin, cout: nn.Conv2d(cin, cout, 3),
        "relu": lambda cin, cout: nn.ReLU(),
        "pool": lambda cin, cout: nn.MaxPool2d(2, 2, 0, ceil_mode=True),
    }
    return nn.Sequential(*(build[kind](cin, cout) for kind, cin, cout in _layout()[:depth]))


def conv_shapes(depth: int = 53) -> dict[int, tuple[int, ...]]:
    """Index -> weight shape of every convolution among the first ``depth`` modules."""
    return {
        index: (cout, cin, 1, 1) if kind == "conv1x1" else (cout, cin, 3, 3)
        for index, (kind, cin, cout) in enumerate(_layout()[:depth])
        if kind in ("conv1x1", "conv")
    }


def is_vgg_normalised(state: object) -> bool:
    """Whether ``state`` has their layout: a (3, 3, 1, 1) input convolution at ``0.weight``."""
    first = state.get("0.weight") if isinstance(state, dict) else None
    return isinstance(first, Tensor) and tuple(first.shape) == (3, 3, 1, 1)


def check_state(state: dict[str, Tensor], source: str, depth: int) -> dict[str, Tensor]:
    """The weights and biases of the first ``depth`` modules, as float32; checked first.

    Raises:
        FastNSTError: One line naming ``source``, the format expected and what was found.
    """
    found = {key: tuple(value.shape) for key, value in state.items() if isinstance(value, Tensor)}
    out = {}
    for index, shape in conv_shapes(depth).items():
        for key, expected in ((f"{index}.weight", shape), (f"{index}.bias", shape[:1])):
            if found.get(key) != expected:
                got = "missing" if key not in found else f"of shape {found[key]}"
                raise FastNSTError(
                    f"{source} is not {FILE_FORMAT}: {key} should be of shape {expected}, "
                    f"found {got} (keys {', '.join(list(found)[:6])} ...); pass the file from {URL}"
                )
            out[key] = state[key].detach().float()
    return out


def random_state(seed: int, depth: int = 53) -> dict[str, Tensor]:
    """Seeded random weights in their layout: index 0 the exact Caffe preprocessing (RGB ->
    BGR, x 255, minus :data:`CAFFE_BGR_MEAN`), the 3x3 convolutions Kaiming-normal (fan-out,
    as torchvision's VGG) with zero biases. For tests and offline smoke runs."""
    generator = torch.Generator().manual_seed(seed)
    state = {
        "0.weight": (255.0 * torch.eye(3).flip(0)).view(3, 3, 1, 1),
        "0.bias": -torch.tensor(CAFFE_BGR_MEAN),
    }
    for index, shape in conv_shapes(depth).items():
        if index > 0:
            std = math.sqrt(2.0 / (shape[0] * shape[2] * shape[3]))
            state[f"{index}.weight"] = torch.randn(shape, generator=generator) * std
            state[f"{index}.bias"] = torch.zeros(shape[0])
    return state


def read_state(weights: str, *, seed: int = 0, depth: int = 53) -> dict[str, Tensor]:
    """Checked weights of the first ``depth`` modules from ``weights``.

    Args:
        weights: ``"random"`` (:func:`random_state`), ``"imagenet"`` (the published
            ``vgg_normalised.pth``, downloaded once into the torch hub cache) or its path.
        seed: Seed of ``"random"``.
    """
    if weights == "random":
        return random_state(seed, depth)
    if weights == "imagenet":
        try:
            state = torch.hub.load_state_dict_from_url(URL, map_location="cpu", weights_only=True)
        except OSError as err:  # URLError and friends: no network, proxy, DNS
            raise FastNSTError(
                f"cannot download vgg_normalised.pth ({err}); fetch {URL} on a machine with "
                "internet and pass vgg.weights=/path/to/vgg_normalised.pth"
            ) from err
        return check_state(state, URL, depth)
    path = Path(weights).expanduser()
    if not path.is_file():
        raise FastNSTError(
            f"vgg.weights={weights}: no such file; pass {FILE_FORMAT} (from {URL}), "
            "vgg.weights=imagenet to download it, or vgg.weights=random"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure is the file's fault
        raise FastNSTError(f"cannot read {path} as {FILE_FORMAT}: {err}") from err
    if not isinstance(state, dict):
        raise FastNSTError(f"{path} is not {FILE_FORMAT}: it holds a {type(state).__name__}")
    return check_state(state, str(path), depth)


def torchvision_indices() -> dict[int, int]:
    """Their index -> torchvision ``vgg19().features`` index, for every 3x3 convolution.

    Left out their input convolution and padding modules, the two sequences are the same
    (conv, ReLU, ..., pooling), so the n-th remaining module is torchvision's n-th.
    """
    layout = _layout()
    kept = [index for index, (kind, _, _) in enumerate(layout) if kind not in ("conv1x1", "pad")]
    return {theirs: ours for ours, theirs in enumerate(kept) if layout[theirs][0] == "conv"}


def to_torchvision_layout(
    state: dict[str, Tensor], source: str, arch: str, input_norm: str
) -> tuple[dict[str, Tensor], nn.Conv2d]:
    """Their file as torchvision-indexed 3x3 weights (``0.weight`` = conv1_1 ...) and the input
    convolution (their index 0, weights as non-persistent buffers), for the loss network.

    Every convolution up to the deepest the file holds is checked (:func:`check_state`).

    Raises:
        FastNSTError: ``arch`` is not vgg19, or ``input_norm`` is not auto (the file has its
            own), or the file's keys or shapes are not theirs.
    """
    if arch != "vgg19" or input_norm != "auto":
        raise FastNSTError(
            f"{source} is {FILE_FORMAT}, a VGG-19 with its own input convolution: use it with a "
            f"vgg19 loss and vgg.input_norm=auto (got {arch}, vgg.input_norm={input_norm})"
        )
    deepest = max((index for index in conv_shapes() if f"{index}.weight" in state), default=0)
    checked = check_state(state, source, deepest + 1)
    features = {
        f"{ours}.{name}": checked[f"{theirs}.{name}"]
        for theirs, ours in torchvision_indices().items() if theirs <= deepest
        for name in ("weight", "bias")
    }  # fmt: skip
    input_conv = nn.Conv2d(3, 3, 1)
    for name in ("weight", "bias"):  # frozen, and never in a checkpoint (as the loss VGG's)
        delattr(input_conv, name)
        input_conv.register_buffer(name, checked[f"0.{name}"], persistent=False)
    return features, input_conv
