"""The frozen VGG loss network: named layers, ImageNet normalization inside, one pass.

Layers are named as in pystiche: ``conv{block}_{i}``, ``relu{block}_{i}`` and ``pool{block}``,
so ``relu2_2`` is the ReLU after the second convolution of the second block. The network is
built in torchvision's order (``features.0`` is ``conv1_1``), so torchvision state dicts load
as they are, and it is cut after the deepest layer a caller asks for.

Three input conventions (``vgg.input_norm``), each applied inside to RGB in [0, 1]:

- ``torchvision``: (x - mean) / std with the ImageNet mean and std (``vgg.weights=imagenet``).
- ``caffe``: 255 x - (123.0, 117.0, 104.0), the mean pixel of the original Caffe VGG16 (in RGB
  order), no scaling by a std: the convention of the Caffe VGG16 Johnson et al. 2016 used,
  which torchvision ships as ``VGG16_Weights.IMAGENET1K_FEATURES``
  (``vgg.weights=imagenet_features``); mean and std are read from that enum's transforms.
- ``caffe_exact``: 255 x - (123.68, 116.779, 103.939), the same Caffe convention with the mean
  pixel unrounded, as Johnson et al.'s ``preprocess.lua`` and Magenta's ``vgg.py`` subtract it
  (``loss=johnson2016``, ``loss=magenta``); it fits ``imagenet_features`` as ``caffe`` does.

A file of pytorch-AdaIN's ``vgg_normalised.pth`` (a normalised ImageNet VGG-19, detected by its
(3, 3, 1, 1) input convolution at ``0.weight``) brings its own: that convolution replaces the
normalization, and the network becomes theirs, reflection padding before every 3x3 convolution
and ceil-mode pooling (:mod:`fastnst.models.vgg_normalised`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import Tensor, nn
from torchvision.models import VGG16_Weights, VGG19_Weights

from fastnst.errors import FastNSTError
from fastnst.models.vgg_normalised import is_vgg_normalised, to_torchvision_layout

log = logging.getLogger(__name__)

# Output channels of each conv, "M" for a 2x2 pooling: torchvision's configs "D" and "E".
VGG_CONFIGS: dict[str, list[int | str]] = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
              512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
              512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}  # fmt: skip
IMAGENET_WEIGHTS = {"vgg16": VGG16_Weights.IMAGENET1K_V1, "vgg19": VGG19_Weights.IMAGENET1K_V1}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_WEIGHTS = VGG16_Weights.IMAGENET1K_FEATURES  # Caffe VGG16, features only, vgg16 only
_CAFFE_PRESET = CAFFE_WEIGHTS.transforms()
CAFFE_MEAN = tuple(float(v) for v in _CAFFE_PRESET.mean)  # (123, 117, 104) / 255, RGB
CAFFE_STD = tuple(float(v) for v in _CAFFE_PRESET.std)  # 1 / 255: the net sees 0-255 pixels
# The VGG authors' mean pixel unrounded (RGB), as Johnson's preprocess.lua and Magenta's vgg.py
# subtract it; torchvision's "caffe" preset above rounds it to whole numbers.
CAFFE_EXACT_MEAN = tuple(v / 255 for v in (123.68, 116.779, 103.939))
INPUT_NORMS = {
    "torchvision": (IMAGENET_MEAN, IMAGENET_STD),
    "caffe": (CAFFE_MEAN, CAFFE_STD),
    "caffe_exact": (CAFFE_EXACT_MEAN, CAFFE_STD),
}


def layer_names(arch: str) -> list[str]:
    """Names of the modules of ``torchvision.models.<arch>().features``, in order."""
    if arch not in VGG_CONFIGS:
        raise FastNSTError(f"unknown VGG arch {arch!r}; use one of {sorted(VGG_CONFIGS)}")
    names, block, conv = [], 1, 0
    for item in VGG_CONFIGS[arch]:
        if item == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 0
        else:
            conv += 1
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
    return names


def _build_features(arch: str, depth: int, pooling: str, reflect: bool = False) -> nn.Sequential:
    """The first ``depth`` modules of the VGG feature extractor (ReLUs not in place).

    ``reflect``: reflection padding and ceil-mode pooling (pytorch-AdaIN's ``vgg_normalised``).
    """
    if pooling not in ("max", "avg"):
        raise FastNSTError(f"unknown vgg.pooling {pooling!r}; use 'max' or 'avg'")
    pool = nn.MaxPool2d if pooling == "max" else nn.AvgPool2d
    modules: list[nn.Module] = []
    in_channels = 3
    for item in VGG_CONFIGS[arch]:
        if item == "M":
            modules.append(pool(kernel_size=2, stride=2, ceil_mode=reflect))
        else:
            mode = "reflect" if reflect else "zeros"
            conv = nn.Conv2d(in_channels, int(item), 3, padding=1, padding_mode=mode)
            modules += [conv, nn.ReLU()]
            in_channels = int(item)
    return nn.Sequential(*modules[:depth])


def _random_state_dict(features: nn.Sequential, seed: int) -> dict[str, Tensor]:
    """Kaiming-normal conv weights (fan-out, as torchvision initializes VGG), zero biases."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for index, module in enumerate(features):
        if isinstance(module, nn.Conv2d):
            out_channels, _, kh, kw = module.weight.shape
            std = math.sqrt(2.0 / (out_channels * kh * kw))
            state[f"{index}.weight"] = torch.randn(module.weight.shape, generator=generator) * std
            state[f"{index}.bias"] = torch.zeros(out_channels)
    return state


CAFFE_FAMILY = {"caffe", "caffe_exact"}  # one Caffe network, two roundings of its mean pixel


def resolve_input_norm(weights: str, input_norm: str) -> str:
    """The input convention of ``weights``: ``"caffe"`` or ``"torchvision"`` (see module doc).

    ``"auto"`` picks ``"caffe"`` for ``imagenet_features`` and ``"torchvision"`` otherwise
    (random weights and files included: a local Caffe file needs ``vgg.input_norm=caffe``).
    """
    if input_norm not in ("auto", *INPUT_NORMS):
        raise FastNSTError(
            f"unknown vgg.input_norm {input_norm!r}; use auto, torchvision, caffe or caffe_exact"
        )
    native = {"imagenet": "torchvision", "imagenet_features": "caffe"}.get(weights)
    if input_norm == "auto":
        return native or "torchvision"
    if native is not None and input_norm != native and {input_norm, native} != CAFFE_FAMILY:
        raise FastNSTError(
            f"vgg.input_norm={input_norm} does not fit vgg.weights={weights} (trained on "
            f"{native} inputs); leave vgg.input_norm=auto"
        )
    return input_norm


def _download_state_dict(arch: str, weights: str) -> dict[str, Tensor]:
    """``imagenet`` or ``imagenet_features`` through torchvision's weights enum."""
    if weights == "imagenet_features" and arch != "vgg16":
        raise FastNSTError(
            f"vgg.weights=imagenet_features exists for vgg16 only, not {arch}: use a vgg16 loss "
            "(loss=johnson) or vgg.weights=imagenet"
        )
    enum = CAFFE_WEIGHTS if weights == "imagenet_features" else IMAGENET_WEIGHTS[arch]
    norm = " vgg.input_norm=caffe" if weights == "imagenet_features" else ""
    try:
        return enum.get_state_dict(progress=True)
    except OSError as err:  # URLError and friends: no network, proxy, DNS
        raise FastNSTError(
            f"cannot download the {arch} vgg.weights={weights} ({err}); fetch {enum.url} on a "
            f"machine with internet and pass vgg.weights=/path/to/{Path(enum.url).name}{norm}"
        ) from err


def _file_state_dict(path: Path) -> dict[str, Tensor]:
    if not path.is_file():
        raise FastNSTError(
            f"VGG weights file not found: {path}; pass vgg.weights=imagenet, imagenet_features, "
            "random or the path of a torchvision VGG state dict"
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure is the file's fault
        raise FastNSTError(f"cannot read VGG weights file {path}: {err}") from err


def load_vgg_state_dict(arch: str, weights: str, *, seed: int = 0) -> dict[str, Tensor]:
    """The weights of the VGG feature extractor, keyed as ``features`` (``"0.weight"``, ...).

    Args:
        arch: ``"vgg16"`` or ``"vgg19"``.
        weights: ``"imagenet"`` (torchvision's weights enum, downloaded once into the torch hub
            cache), ``"imagenet_features"`` (the Caffe VGG16 of Johnson et al. 2016,
            ``VGG16_Weights.IMAGENET1K_FEATURES``, vgg16 only, downloaded alike), ``"random"``
            (seeded Kaiming init, for tests and offline smoke runs only; logged as a warning) or
            the path of a file holding a full torchvision VGG state dict (``features.*`` and
            ``classifier.*``) or a features-only one (``0.weight``, ...).
            A file of Caffe weights needs the Caffe input convention: ``input_norm="caffe"``
            of :class:`VGGFeatures`.
        seed: Seed of the random weights.
    """
    if weights == "random":
        log.warning(
            "vgg.weights=random: the loss network has RANDOM weights (seed %d). With a scale-free "
            "loss (loss=johnson_scalefree) colours and texture still move toward the painting, "
            "but strokes that follow objects need ImageNet weights: use this for tests, smoke "
            "runs and benchmarks only.",
            seed,
        )
        return _random_state_dict(_build_features(arch, len(layer_names(arch)), "max"), seed)
    if weights in ("imagenet", "imagenet_features"):
        state = _download_state_dict(arch, weights)
    else:
        state = _file_state_dict(Path(weights))
    if any(key.startswith("features.") for key in state):
        prefix = "features."
        state = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
    return state


class VGGFeatures(nn.Module):
    """Frozen VGG16/VGG19 encoder returning the named layers asked for, in one forward pass.

    Input contract: RGB in [0, 1], shape (N, 3, H, W); the normalization the weights were
    trained with happens inside, (x - mean) / std with the mean and std of ``input_norm``.
    The network is cut after the deepest of ``layers``. Its weights are non-persistent buffers,
    not parameters: nothing can train them and they never enter a checkpoint. ``train()`` is a
    no-op, so a parent's ``.train()`` cannot switch it out of eval mode.

    Args:
        arch: ``"vgg16"`` or ``"vgg19"``.
        layers: Names of the layers ``forward`` returns by default (for example ``relu2_2``).
        weights: See :func:`load_vgg_state_dict`.
        input_norm: ``"auto"`` (``"caffe"`` for ``imagenet_features``, else ``"torchvision"``),
            ``"torchvision"`` or ``"caffe"`` (for a local file of Caffe weights); see the
            module docstring.
        pooling: ``"max"`` (torchvision) or ``"avg"`` (recommended by Gatys et al. 2016).
        seed: Seed of ``weights="random"``.
    """

    def __init__(
        self,
        arch: str = "vgg16",
        layers: Iterable[str] = ("relu1_2", "relu2_2", "relu3_3", "relu4_3"),
        *,
        weights: str = "imagenet",
        input_norm: str = "auto",
        pooling: str = "max",
        seed: int = 0,
    ) -> None:
        super().__init__()
        names = layer_names(arch)
        self.input_norm = resolve_input_norm(weights, input_norm)
        self.arch = arch
        self.layers = list(dict.fromkeys(layers))
        unknown = [name for name in self.layers if name not in names]
        if unknown:
            raise FastNSTError(f"unknown {arch} layers {unknown}; valid names are {names}")
        depth = 1 + max(names.index(name) for name in self.layers)
        self.names = names[:depth]
        state = load_vgg_state_dict(arch, weights, seed=seed)
        self.input_conv: nn.Module = nn.Identity()  # vgg_normalised.pth: its 1x1 input conv
        normalised = is_vgg_normalised(state)
        if normalised:
            state, self.input_conv = to_torchvision_layout(state, weights, arch, input_norm)
        self.features = _build_features(arch, depth, pooling, reflect=normalised)
        self._load(state, weights)
        norm = ((0.0,) * 3, (1.0,) * 3) if normalised else INPUT_NORMS[self.input_norm]
        mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in norm)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        self.eval()

    def _load(self, state: dict[str, Tensor], source: str) -> None:
        """Copy conv weights from ``state`` and turn them into non-persistent buffers."""
        for index, module in enumerate(self.features):
            if not isinstance(module, nn.Conv2d):
                continue
            tensors = {}
            for name in ("weight", "bias"):
                key = f"{index}.{name}"
                expected = getattr(module, name).shape
                if key not in state or state[key].shape != expected:
                    raise FastNSTError(
                        f"VGG weights {source} do not fit {self.arch}: {key} is missing or not "
                        f"of shape {tuple(expected)}; pass weights of a torchvision {self.arch}"
                    )
                tensors[name] = state[key].detach().float()
            for name, tensor in tensors.items():
                delattr(module, name)
                module.register_buffer(name, tensor, persistent=False)

    def train(self, mode: bool = True) -> VGGFeatures:  # noqa: ARG002 - always frozen
        """Stay in eval mode whatever a parent module asks for."""
        return super().train(False)

    def forward(self, image: Tensor, layers: Iterable[str] | None = None) -> dict[str, Tensor]:
        """Run the network once, stopping after the deepest requested layer.

        Shape:
            image: (N, 3, H, W), RGB in [0, 1]. Each output: (N, C_l, H_l, W_l).
        """
        wanted = set(self.layers if layers is None else layers)
        missing = wanted - set(self.names)
        if missing:
            raise ValueError(f"layers {sorted(missing)} are beyond this encoder's cut")
        x = self.input_conv((image - self.mean) / self.std)
        outputs: dict[str, Tensor] = {}
        for name, module in zip(self.names, self.features, strict=True):
            x = module(x)
            if name in wanted:
                outputs[name] = x
                if len(outputs) == len(wanted):
                    break
        return outputs
