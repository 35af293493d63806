"""Load the ONNX model zoo's fast neural style models onto our ``TransformerNet``, for any size.

``validated/vision/style_transfer/fast_neural_style/model/{mosaic,candy,rain-princess,udnie,
pointilism}-9.onnx`` are pytorch/examples' ``TransformerNet`` exported at opset 9 with a fixed
1x3x224x224 input named ``input1``, pixels 0-255 in and out. Their weights are the network's
whole content, so they are mapped back onto the state dict of pytorch/examples
(:mod:`fastnst.models.interop.examples`, which folds the 0-255 range into the first and last
convolutions): the graph's ``Conv`` nodes are, in order, ``conv1``, ``conv2``, ``conv3``,
``res1.conv1`` ... ``res5.conv2``, ``deconv1``, ``deconv2``, ``deconv3``, and its
``InstanceNormalization`` nodes ``in1`` ... ``in3``, ``res1.in1`` ... ``res5.in2``, ``in4``,
``in5`` (initializer names differ between exports and are not relied on). Every shape, stride
and the surrounding ops (reflection ``Pad``, two nearest ``Upsample``, five ``Add``) are checked.

Reading is protobuf (``onnx.load``): no code runs. The style is the file's stem without the
opset suffix (``rain-princess-9.onnx`` -> ``rain-princess``).

At 224 x 224, and at any size that is a multiple of 4, the result is the zoo graph's (measured:
3.5e-6 of the output's range apart from ONNX Runtime). At other sizes pytorch/examples' network
returns up to 3 extra rows and columns and sees the unpadded image, while ``TransformerNet``
pads by reflection to a multiple of 4, runs, and crops back to the input's size (its
convention for every network; its instance norms then see slightly different statistics).
"""

from __future__ import annotations

import math
import mmap
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from fastnst.errors import FastNSTError
from fastnst.models.interop import Published
from fastnst.models.interop.examples import from_examples_state_dict

SOURCE = "ONNX model zoo (pytorch/examples)"
INPUT_NAME = "input1"
FORMAT = (
    "expected an ONNX model zoo fast_neural_style model (pytorch/examples' TransformerNet at "
    "opset 9: 16 Conv, 15 InstanceNormalization, 2 Upsample, 5 Add)"
)
_CONVS = ["conv1", "conv2", "conv3"] + [f"res{b}.conv{i}" for b in range(1, 6) for i in (1, 2)]
_CONVS += ["deconv1", "deconv2", "deconv3"]
_NORMS = ["in1", "in2", "in3"] + [f"res{b}.in{i}" for b in range(1, 6) for i in (1, 2)]
_NORMS += ["in4", "in5"]
# (out, in, kernel, stride) of each Conv, and the channels of each InstanceNormalization
_CONV_SHAPES = [(32, 3, 9, 1), (64, 32, 3, 2), (128, 64, 3, 2)] + [(128, 128, 3, 1)] * 10
_CONV_SHAPES += [(64, 128, 3, 1), (32, 64, 3, 1), (3, 32, 9, 1)]
_NORM_CHANNELS = [32, 64, 128] + [128] * 10 + [64, 32]
_OPS = {"Conv": 16, "InstanceNormalization": 15, "Upsample|Resize": 2, "Add": 5}


def _varint(data: Any, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        value, pos, shift = value | (byte & 0x7F) << shift, pos + 1, shift + 7
        if byte < 0x80:
            return value, pos


def _fields(data: Any, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(field number, start, end) of each length-delimited field of a protobuf message,
    skipping the others without decoding them."""
    pos = start
    while pos < end:
        key, pos = _varint(data, pos)
        wire = key & 7
        if wire == 2:
            length, pos = _varint(data, pos)
            yield key >> 3, pos, pos + length
            pos += length
        elif wire == 0:
            pos = _varint(data, pos)[1]
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise ValueError("not an ONNX protobuf")


def graph_input_names(path: str | Path) -> list[str]:
    """The graph's input names (``ModelProto.graph`` field 7, ``GraphProto.input`` field 11,
    ``ValueInfoProto.name`` field 1), read by skipping over the weights, not parsing them."""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        names = []
        for number, start, end in _fields(data, 0, len(data)):
            if number != 7:
                continue
            for field, s, e in _fields(data, start, end):
                if field == 11:
                    names += [data[a:b].decode() for n, a, b in _fields(data, s, e) if n == 1]
        return names


def is_zoo_onnx(path: str | Path) -> bool:
    """Whether ``path`` is an ONNX file whose graph input is the model zoo's ``input1`` (fastnst's
    exports name theirs ``image``); cheap: the weights are skipped, not parsed. False for
    anything unreadable."""
    path = Path(path).expanduser()
    if path.suffix.lower() != ".onnx" or not path.is_file() or path.stat().st_size == 0:
        return False
    try:
        return INPUT_NAME in graph_input_names(path)
    except (ValueError, IndexError, UnicodeDecodeError, OSError):
        return False


def _read(path: Path) -> Any:
    try:
        import onnx
    except ImportError as err:
        raise FastNSTError(
            f"reading {path} (an ONNX model zoo file) needs onnx: pip install 'fastnst[published]'"
        ) from err
    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as err:  # noqa: BLE001 - protobuf's DecodeError and friends
        raise FastNSTError(f"cannot read {path} as an ONNX model ({err}); {FORMAT}") from err


def _values(model: Any) -> dict[str, torch.Tensor]:
    """Every constant tensor of the graph by name: initializers and ``Constant`` nodes."""
    from onnx import numpy_helper

    values = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return {name: torch.from_numpy(value.copy()) for name, value in values.items()}


def _attributes(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _check_ops(model: Any, path: Path) -> None:
    counts = Counter(node.op_type for node in model.graph.node)
    found = {ops: sum(counts[op] for op in ops.split("|")) for ops in _OPS}
    pads = [_attributes(n).get("mode", b"constant") for n in model.graph.node if n.op_type == "Pad"]
    if found != _OPS or any(mode != b"reflect" for mode in pads):
        ops = ", ".join(f"{count} {op}" for op, count in found.items())
        modes = ", ".join(sorted({m.decode() for m in pads})) or "none"
        raise FastNSTError(f"{path}: {FORMAT}, found {ops} and Pad modes {modes}")


def _state_dict(model: Any, path: Path) -> dict[str, torch.Tensor]:
    """pytorch/examples' state dict, from the Conv and InstanceNormalization nodes in order."""
    values, state = _values(model), {}
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    norms = [n for n in model.graph.node if n.op_type == "InstanceNormalization"]
    for node, name, (cout, cin, k, stride) in zip(convs, _CONVS, _CONV_SHAPES, strict=True):
        weight, bias = (values.get(i) for i in [*node.input[1:3], ""][:2])  # B is optional
        strides = _attributes(node).get("strides", [1, 1])
        if weight is None or bias is None or weight.shape != (cout, cin, k, k):
            found = "no constant weight and bias" if weight is None or bias is None else (
                f"weight {tuple(weight.shape)}")  # fmt: skip
            raise FastNSTError(f"{path}: Conv {node.name or name} ({name}) has {found}, expected "
                               f"({cout}, {cin}, {k}, {k}) and a bias; {FORMAT}")  # fmt: skip
        if list(strides) != [stride, stride] or _attributes(node).get("group", 1) != 1:
            raise FastNSTError(f"{path}: Conv {name} has strides {list(strides)}, expected "
                               f"{[stride, stride]}; {FORMAT}")  # fmt: skip
        state[f"{name}.conv2d.weight"], state[f"{name}.conv2d.bias"] = weight, bias
    for node, name, channels in zip(norms, _NORMS, _NORM_CHANNELS, strict=True):
        scale, bias = (values.get(i) for i in [*node.input[1:3], ""][:2])
        eps = _attributes(node).get("epsilon", 1e-5)
        shapes = [None if t is None else tuple(t.shape) for t in (scale, bias)]
        if shapes != [(channels,)] * 2 or not math.isclose(eps, 1e-5, rel_tol=1e-5):
            raise FastNSTError(f"{path}: InstanceNormalization {name} has scale and bias "
                               f"{shapes}, epsilon {eps:g}; expected ({channels},) and 1e-5; "
                               f"{FORMAT}")  # fmt: skip
        state[f"{name}.weight"], state[f"{name}.bias"] = scale, bias
    return state


def load_zoo_model(path: str | Path) -> Published:
    """The model zoo's ``.onnx`` as our ``TransformerNet`` (width 32, 5 blocks, no head).

    Raises:
        FastNSTError: Not a zoo fast_neural_style file (a fastnst export, another network,
            unreadable), naming what was found.
    """
    path = Path(path).expanduser()
    if not is_zoo_onnx(path):
        raise FastNSTError(
            f"{path} is not an ONNX model zoo fast_neural_style model (no graph input "
            f"'{INPUT_NAME}'); a fastnst export runs as it is: stylize.py ckpt={path.name}"
        )
    model = _read(path)
    _check_ops(model, path)
    network = from_examples_state_dict(_state_dict(model, path), path)
    return Published(network, [re.sub(r"-\d+$", "", path.stem)], SOURCE)
