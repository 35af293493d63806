"""Load Johnson et al.'s Torch7 models (jcjohnson/fast-neural-style ``.t7``) as a Johnson2016Net.

The ten published files (``models/download_style_transfer_models.sh``: ``eccv16`` composition_vii,
la_muse, starry_night, the_wave; ``instance_norm`` candy, feathers, la_muse, mosaic,
the_scream, udnie) are what ``train.lua`` writes with ``torch.save``: a Lua table
``{model = nn.Sequential, opt = {...}}``, read back by ``fast_neural_style.lua`` as
``checkpoint.model``. They are parsed with ``torchfile`` (pure Python and numpy: a Lua function
in a file is kept as bytes and never run). The layers are walked in order and matched against
the network ``models.lua`` builds (:mod:`fastnst.models.johnson2016`); each Torch7 module type
has one mapping (``cudnn.``/``cunn.`` names, which ``cudnn.convert`` may leave, map as ``nn.``):

=============================  ==============================================================
``SpatialReflectionPadding``   the input padding: 8 px per residual block on every side
``SpatialConvolution(MM)``     ``nn.Conv2d`` (9x9 pad 4, 3x3 stride 2 pad 1, unpadded 3x3)
``SpatialFullConvolution``     ``nn.ConvTranspose2d`` (3x3, stride 2, pad 1, adj 1)
``SpatialBatchNormalization``  ``nn.BatchNorm2d`` with ``running_var``; older files store
                               ``running_std`` = 1 / sqrt(var + eps), so var = std^-2 - eps
``InstanceNormalization``      ``nn.InstanceNorm2d(affine=True)``
``ConcatTable`` + ``CAddTable``  a residual block: its convolution branch plus ``ShaveImage(2)``
``ReLU``, ``Tanh``             the same; ``MulConstant`` -> ``tanh_scale``
``TotalVariation``             nothing: a loss whose forward is the identity
``Sequential``                 its layers, in order
=============================  ==============================================================

Any other layer, or a layer where the network has another, is a one-line error naming it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fastnst.errors import FastNSTError
from fastnst.models.interop import Published
from fastnst.models.johnson2016 import Johnson2016Net

SOURCE = "jcjohnson/fast-neural-style"
FORMAT = "expected a jcjohnson/fast-neural-style .t7 model (eccv16 or instance_norm)"
MAPPED = (
    "Sequential", "ConcatTable", "CAddTable", "ShaveImage", "Identity", "SpatialReflectionPadding",
    "SpatialConvolution", "SpatialConvolutionMM", "SpatialFullConvolution",
    "SpatialBatchNormalization", "InstanceNormalization", "ReLU", "Tanh", "MulConstant",
    "TotalVariation",
)  # fmt: skip
_PREFIXES = ("nn.", "cudnn.", "cunn.")
_CONVS, _FULL = ("SpatialConvolution", "SpatialConvolutionMM"), ("SpatialFullConvolution",)
_byte_bounds = getattr(np.lib, "array_utils", np).byte_bounds  # numpy >= 2 moved it


@dataclass
class _Layer:
    kind: str  # the Torch7 class without its package, e.g. "SpatialConvolution"
    where: str  # its place in the printed model, e.g. "(4).(1).(1).(3)"
    fields: Any  # the torchfile object (fields by name)
    body: list[_Layer] = field(default_factory=list)  # a residual block's convolution branch
    shave: int = 0  # a residual block's skip crop

    def describe(self) -> str:
        return f"layer {self.where or '(model)'} nn.{self.kind}"


def _kind(obj: Any, where: str, path: Path) -> str:
    name = obj.torch_typename().decode("latin-1") if hasattr(obj, "torch_typename") else None
    if name is None:
        raise FastNSTError(f"{path}: layer {where} is not a Torch7 module; {FORMAT}")
    kind = next((name[len(p) :] for p in _PREFIXES if name.startswith(p)), name)
    if kind not in MAPPED:
        raise FastNSTError(
            f"{path}: layer {where} is {name}, a layer type fastnst does not map (it maps "
            f"{', '.join(MAPPED)})"
        )
    return kind


def _flatten(obj: Any, where: str, path: Path) -> list[_Layer]:
    """The leaves of ``obj`` in forward order, each ConcatTable + CAddTable as one residual."""
    kind = _kind(obj, where, path)
    if kind != "Sequential":
        return [_Layer(kind, where, obj)]
    children = obj["modules"] or []
    layers: list[_Layer] = []
    i = 0
    while i < len(children):
        here = f"{where}.({i + 1})".lstrip(".")
        child_kind = _kind(children[i], here, path)
        if child_kind == "ConcatTable":
            layers.append(_residual(children[i], children[i + 1 : i + 2], here, path))
            i += 2
        else:
            layers += _flatten(children[i], here, path)
            i += 1
    return layers


def _residual(concat: Any, after: list, where: str, path: Path) -> _Layer:
    branches = concat["modules"] or []
    kinds = [_kind(b, f"{where}.({j + 1})", path) for j, b in enumerate(branches)]
    skip = next((j for j, k in enumerate(kinds) if k in ("ShaveImage", "Identity")), None)
    added = bool(after) and _kind(after[0], where, path) == "CAddTable"
    if len(branches) != 2 or skip is None or not added:
        raise FastNSTError(
            f"{path}: layer {where} nn.ConcatTable is not a residual block (a convolution branch "
            f"and a ShaveImage, then nn.CAddTable); {FORMAT}"
        )
    body = _flatten(branches[1 - skip], f"{where}.({2 - skip})", path)
    shave = int(branches[skip]["size"] or 0) if kinds[skip] == "ShaveImage" else 0
    return _Layer("residual block", where, concat, body, shave)


def _inside_storage(value: np.ndarray) -> bool:
    """Whether torchfile's strided view stays inside its storage (a corrupt file can say not)."""
    storage = getattr(getattr(value, "base", None), "base", None)  # as_strided's source
    if not isinstance(storage, np.ndarray):
        return True
    (low, high), (start, end) = _byte_bounds(value), _byte_bounds(storage)
    return start <= low and high <= end


def _array(layer: _Layer, name: str, path: Path) -> torch.Tensor | None:
    value = layer.fields[name]
    if value is None or (isinstance(value, np.ndarray) and value.size == 0):
        return None
    if not isinstance(value, np.ndarray) or not _inside_storage(value):
        raise FastNSTError(f"{path}: {layer.describe()} has a corrupt {name} tensor; {FORMAT}")
    return torch.from_numpy(np.array(value, dtype=np.float32))


class _Walk:
    """A cursor over the layers, checking each against what the network has there."""

    def __init__(self, layers: list[_Layer], path: Path, end: str = "the end of the network"):
        self.layers, self.path, self.end, self.i = layers, path, end, 0
        self.params: list[tuple[_Layer, dict[str, torch.Tensor]]] = []

    def peek(self) -> _Layer | None:
        return self.layers[self.i] if self.i < len(self.layers) else None

    def take(self, expected: str, *kinds: str) -> _Layer:
        layer = self.peek()
        if layer is None or layer.kind not in kinds:
            found = self.end if layer is None else layer.describe()
            raise FastNSTError(f"{self.path}: expected {expected}, found {found}; {FORMAT}")
        self.i += 1
        return layer

    def conv(self, kernel: int, stride: int, pad: int, *, full: bool = False) -> int:
        """Take a convolution with this geometry; its output channels."""
        transposed = "transposed " if full else ""
        what = f"a {kernel}x{kernel} {transposed}convolution, stride {stride}, pad {pad}"
        layer = self.take(what, *(_FULL if full else _CONVS))
        f = layer.fields
        geometry = (f["kW"], f["kH"], f["dW"], f["dH"], f["padW"] or 0, f["padH"] or 0)
        adjust = (f["adjW"] or 0, f["adjH"] or 0) if full else (stride - 1, stride - 1)
        if geometry != (kernel, kernel, stride, stride, pad, pad) or adjust != (stride - 1,) * 2:
            raise FastNSTError(f"{self.path}: expected {what}, found {layer.describe()} {geometry}")
        weight = _array(layer, "weight", self.path)
        if weight is not None and layer.kind == "SpatialConvolutionMM" and weight.dim() == 2:
            weight = weight.reshape(weight.shape[0], -1, kernel, kernel)  # (out, in*k*k) rows
        tensors = {"weight": weight, "bias": _array(layer, "bias", self.path)}
        self.params.append((layer, tensors))
        return int(f["nOutputPlane"])

    def norm_relu(self, relu: bool = True) -> None:
        layer = self.take("a normalization", "SpatialBatchNormalization", "InstanceNormalization")
        tensors = {name: _array(layer, name, self.path) for name in ("weight", "bias")}
        if layer.kind == "SpatialBatchNormalization":
            tensors["running_mean"] = _array(layer, "running_mean", self.path)
            tensors["running_var"] = _array(layer, "running_var", self.path)
            std = _array(layer, "running_std", self.path)
            if tensors["running_var"] is None and std is not None:  # nn before mid-2016
                tensors["running_var"] = (std.double() ** -2 - layer.fields["eps"]).float()
        self.params.append((layer, tensors))
        if relu:
            self.take("a ReLU", "ReLU")


def _read(path: Path) -> Any:
    try:
        import torchfile
    except ImportError as err:
        raise FastNSTError(
            f"reading {path} (a Torch7 .t7 file) needs torchfile: pip install 'fastnst[published]'"
        ) from err
    try:
        root = torchfile.load(str(path))
    except Exception as err:  # noqa: BLE001 - truncated or foreign files fail in many ways
        raise FastNSTError(f"cannot read {path} as a Torch7 file ({err}); {FORMAT}") from err
    opt = root.get(b"opt") if isinstance(root, dict) else None
    preprocessing = opt.get(b"preprocessing", b"vgg") if isinstance(opt, dict) else b"vgg"
    if preprocessing != b"vgg":
        raise FastNSTError(f"{path}: preprocessing={preprocessing!r}; fastnst maps 'vgg' only")
    model = root.get(b"model") if isinstance(root, dict) else root
    if model is None:
        raise FastNSTError(f"{path} is a Torch7 table without a 'model' entry; {FORMAT}")
    return model


def _parse(layers: list[_Layer], path: Path, median_filter: int) -> Johnson2016Net:
    walk = _Walk(layers, path)
    padding = walk.take("the input's nn.SpatialReflectionPadding", "SpatialReflectionPadding")
    pads = {padding.fields[k] for k in ("pad_l", "pad_r", "pad_t", "pad_b")}
    encoder = []
    for kernel, stride, pad in ((9, 1, 4), (3, 2, 1), (3, 2, 1)):
        encoder.append(walk.conv(kernel, stride, pad))
        walk.norm_relu()
    blocks = 0
    while (layer := walk.peek()) is not None and layer.kind == "residual block":
        walk.i += 1
        inner = _Walk(layer.body, path, f"the end of residual block {layer.where}")
        inner.params = walk.params  # one list, in forward order
        inner.conv(3, 1, 0)
        inner.norm_relu()
        inner.conv(3, 1, 0)
        inner.norm_relu(relu=False)
        if inner.peek() is not None or layer.shave != 2:
            raise FastNSTError(f"{path}: residual block {layer.where} is not their two-conv "
                               f"block with a 2 px ShaveImage; {FORMAT}")  # fmt: skip
        blocks += 1
    decoder = []
    for _ in range(2):
        decoder.append(walk.conv(3, 2, 1, full=True))
        walk.norm_relu()
    walk.conv(9, 1, 4)
    walk.take("nn.Tanh", "Tanh")
    scale = walk.take("nn.MulConstant", "MulConstant").fields["constant_scalar"]
    if (layer := walk.peek()) is not None and layer.kind == "TotalVariation":
        walk.i += 1
    if (layer := walk.peek()) is not None:
        raise FastNSTError(f"{path}: expected the end of the network, found {layer.describe()}")
    norms = [layer for layer, _ in walk.params if "Normalization" in layer.kind]
    kinds, eps = {n.kind for n in norms}, {float(n.fields["eps"] or 1e-5) for n in norms}
    if pads != {8 * blocks} or len(kinds) != 1 or len(eps) != 1:
        raise FastNSTError(
            f"{path}: padding {pads}, norms {kinds}, eps {eps}: expected 8 px per residual block "
            f"({8 * blocks}) on every side, one norm type and one eps; {FORMAT}"
        )
    norm = "batch" if kinds == {"SpatialBatchNormalization"} else "instance"
    model = Johnson2016Net(encoder, decoder, blocks, norm, eps.pop(), float(scale), median_filter)
    _load(model, walk.params, path)
    return model.eval()


def _load(model: nn.Module, params: list, path: Path) -> None:
    """Copy each Torch7 layer's tensors into the matching module, checking every shape."""
    types = (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d, nn.InstanceNorm2d)
    targets = [m for m in model.modules() if isinstance(m, types)]  # forward order
    with torch.no_grad():
        for (layer, tensors), module in zip(params, targets, strict=True):
            for name, value in tensors.items():
                target = getattr(module, name)
                affine_free = name == "weight" and "Normalization" in layer.kind
                if value is None and (name == "bias" or affine_free):  # Torch7's noBias/affine
                    value = torch.zeros_like(target) if name == "bias" else torch.ones_like(target)
                if value is None:
                    raise FastNSTError(f"{path}: {layer.describe()} has no {name}; {FORMAT}")
                if value.shape != target.shape:
                    raise FastNSTError(
                        f"{path}: {layer.describe()} {name} has shape {tuple(value.shape)}, the "
                        f"network there needs {tuple(target.shape)}; {FORMAT}"
                    )
                target.copy_(value)


def load_torch7_model(path: str | Path, *, median_filter: int = 0) -> Published:
    """Johnson et al.'s ``.t7`` model as a :class:`Johnson2016Net` in eval mode.

    Args:
        path: A ``.t7`` file of jcjohnson/fast-neural-style; its stem names the style.
        median_filter: Their script's ``-median_filter`` (3 there; 0, off, here).

    Raises:
        FastNSTError: Not readable, a layer type not mapped, or another network.
    """
    path = Path(path).expanduser()
    root = _read(path)
    try:
        model = _parse(_flatten(root, "", path), path, median_filter)
    except (TypeError, KeyError, AttributeError, ValueError) as err:  # fields of other types
        raise FastNSTError(f"{path}: unexpected module fields ({err}); {FORMAT}") from err
    return Published(model, [path.stem], SOURCE)
