"""Write Torch7 binary files (``torch.save`` of Lua Torch) for tests, and Johnson et al.'s model.

The format, as torch7's ``File.lua`` (``writeObject``) and ``generic/Tensor.c`` / ``Storage.c``
write it on a little-endian machine with 8-byte longs::

    object  := int type, then by type
      0 nil | 1 number: double | 2 string: int length, bytes | 5 boolean: int 0 or 1
      3 table: int index, int pairs, (object key, object value) x pairs
      4 torch object: int index, string "V <version>", string class name, then
          a Tensor:  int ndim, long size[ndim], long stride[ndim], long offset + 1, object storage
          a Storage: long size, its elements raw
          a module:  object (the table of its fields)
    An object written before (same index) is written again as its type and index only.

``johnson_model`` builds, with random weights, the ``nn.Sequential`` that jcjohnson/
fast-neural-style's ``models.lua`` builds with ``train.lua``'s defaults, after ``train.lua``
inserted its ``nn.SpatialReflectionPadding`` (8 px per residual block: 40) and saved it
``clearState``'d (empty ``output`` / ``gradInput``), with every field its Lua classes set.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

_TENSOR_CLASSES = {np.dtype(np.float32): "Float", np.dtype(np.float64): "Double"}


@dataclass(eq=False)
class T7Object:
    """A Torch7 class instance: its class name and its Lua fields."""

    cls: str
    fields: dict[str, Any] = field(default_factory=dict)


class T7Writer:
    """Serializes Python values as Torch7 objects (see module) to a binary file."""

    def __init__(self, f: BinaryIO) -> None:
        self.f, self.count = f, 0
        self.indices: dict[int, tuple[int, Any]] = {}  # id -> (index, the object, kept alive)

    def _pack(self, fmt: str, *values: Any) -> None:
        self.f.write(struct.pack("<" + fmt, *values))

    def _string(self, text: str) -> None:
        data = text.encode()
        self._pack("i", len(data))
        self.f.write(data)

    def _reference(self, value: Any, type_id: int) -> bool:
        """Write type and index; True if the object was written before."""
        seen = id(value) in self.indices
        if not seen:
            self.count += 1
            self.indices[id(value)] = (self.count, value)
        self._pack("ii", type_id, self.indices[id(value)][0])
        return seen

    def write(self, value: Any) -> None:
        if value is None:
            self._pack("i", 0)
        elif isinstance(value, bool):
            self._pack("ii", 5, int(value))
        elif isinstance(value, (int, float)):
            self._pack("id", 1, float(value))
        elif isinstance(value, str):
            self._pack("i", 2)
            self._string(value)
        elif isinstance(value, (dict, list)):
            if not self._reference(value, 3):
                items = value.items() if isinstance(value, dict) else enumerate(value, start=1)
                self._pack("i", len(value))
                for key, item in items:
                    self.write(key)
                    self.write(item)
        elif isinstance(value, np.ndarray):
            self._tensor(value)
        elif isinstance(value, T7Object) and not self._reference(value, 4):
            self._string("V 1")
            self._string(value.cls)
            self.write(value.fields)

    def _tensor(self, array: np.ndarray) -> None:
        kind = _TENSOR_CLASSES[array.dtype]
        if self._reference(array, 4):
            return
        self._string("V 1")
        self._string(f"torch.{kind}Tensor")
        if array.size == 0:  # an empty tensor without storage (what clearState leaves)
            self._pack("iq", 0, 1)
            self._pack("i", 0)
            return
        array = np.ascontiguousarray(array)
        strides = [s // array.itemsize for s in array.strides]
        self._pack(f"i{array.ndim}q{array.ndim}qq", array.ndim, *array.shape, *strides, 1)
        self.count += 1
        self._pack("ii", 4, self.count)  # its storage, a new object
        self._string("V 1")
        self._string(f"torch.{kind}Storage")
        self._pack("q", array.size)
        self.f.write(array.astype(array.dtype.newbyteorder("<")).tobytes())


def save_t7(path: Path, value: Any) -> None:
    """``torch.save(path, value)`` in Lua Torch's binary format."""
    with open(path, "wb") as f:
        T7Writer(f).write(value)


def module(cls: str, dtype: Any = np.float32, **fields: Any) -> T7Object:
    """An ``nn`` module as saved after ``clearState``: its fields plus the base ones."""
    empty = np.zeros(0, dtype)
    base = {"output": empty, "gradInput": np.zeros(0, dtype), "train": True,
            "_type": f"torch.{_TENSOR_CLASSES[np.dtype(dtype)]}Tensor"}  # fmt: skip
    return T7Object(cls, {**base, **fields})


class _Random:
    """Random parameters of each layer type, with every field its Lua class sets."""

    def __init__(self, seed: int, dtype: Any) -> None:
        self.rng, self.dtype = np.random.default_rng(seed), dtype

    def normal(self, shape: tuple[int, ...], std: float, mean: float = 0.0) -> np.ndarray:
        return (mean + std * self.rng.standard_normal(shape)).astype(self.dtype)

    def _params(self, weight: np.ndarray, cout: int) -> dict[str, np.ndarray]:
        bias = self.normal((cout,), 0.1)
        return {"weight": weight, "bias": bias, "gradWeight": np.zeros_like(weight),
                "gradBias": np.zeros_like(bias)}  # fmt: skip

    def conv(self, cin: int, cout: int, k: int, s: int, p: int, gain: float = 2.0) -> T7Object:
        w = self.normal((cout, cin, k, k), (gain / (cin * k * k)) ** 0.5)
        empty = {"finput": np.zeros(0, self.dtype), "fgradInput": np.zeros(0, self.dtype)}
        return module("nn.SpatialConvolution", self.dtype, nInputPlane=cin, nOutputPlane=cout,
                      kW=k, kH=k, dW=s, dH=s, padW=p, padH=p, **self._params(w, cout),
                      **empty)  # fmt: skip

    def full_conv(self, cin: int, cout: int) -> T7Object:
        w = self.normal((cin, cout, 3, 3), (2.0 / (cin * 9 / 4)) ** 0.5)  # (in, out, kH, kW)
        return module("nn.SpatialFullConvolution", self.dtype, nInputPlane=cin, nOutputPlane=cout,
                      kW=3, kH=3, dW=2, dH=2, padW=1, padH=1, adjW=1, adjH=1,
                      **self._params(w, cout))  # fmt: skip

    def norm(self, kind: str, c: int, running_std: bool, scale: float = 1.0) -> T7Object:
        affine = self._params(self.normal((c,), 0.2 * scale, scale), c)
        if kind == "instance":  # InstanceNormalization.lua, with the bn it made on forward
            bn = module("nn.SpatialBatchNormalization", self.dtype, eps=1e-5, momentum=0.1,
                        affine=True, nDim=4, weight=np.tile(affine["weight"], 2),
                        bias=np.tile(affine["bias"], 2), running_mean=np.zeros(2 * c, self.dtype),
                        running_var=np.ones(2 * c, self.dtype))  # fmt: skip
            return module("nn.InstanceNormalization", self.dtype, eps=1e-5, nOutput=c, prev_N=2,
                          bn=bn, **affine)  # fmt: skip
        var = self.rng.uniform(0.5, 2.0, c).astype(self.dtype)
        stats = {"running_var": var}
        if running_std:  # nn before mid-2016 kept 1 / sqrt(var + eps)
            stats = {"running_std": (1 / np.sqrt(var + 1e-5)).astype(self.dtype)}
        return module("nn.SpatialBatchNormalization", self.dtype, eps=1e-5, momentum=0.1,
                      affine=True, nDim=4, running_mean=self.normal((c,), 0.3), **stats,
                      **affine)  # fmt: skip

    def relu(self) -> T7Object:
        return module("nn.ReLU", self.dtype, threshold=0, val=0, inplace=True)


def johnson_model(
    norm: str, widths: tuple[int, int, int], *, blocks: int = 5, seed: int = 0,
    dtype: Any = np.float64, running_std: bool = False,
) -> T7Object:  # fmt: skip
    """Their ``nn.Sequential`` (``models.lua``, ``padding_type=reflect-start``), random weights.

    The first convolution's weights are scaled by 1/128 for the mean-subtracted 0-255 input, the
    residual branches' last norms by 0.3 so the sums do not grow, and the last convolution's
    for a tanh input of about unit size, so no layer saturates.
    """
    r, (a, b, c) = _Random(seed, dtype), widths
    pad = 8 * blocks  # train.lua's lazily inserted padding: 40 px for 5 blocks
    layers = [module("nn.SpatialReflectionPadding", dtype, pad_l=pad, pad_r=pad, pad_t=pad,
                     pad_b=pad)]  # fmt: skip
    for conv, cout in ((r.conv(3, a, 9, 1, 4, gain=2 / 128**2), a), (r.conv(a, b, 3, 2, 1), b),
                       (r.conv(b, c, 3, 2, 1), c)):  # fmt: skip
        layers += [conv, r.norm(norm, cout, running_std), r.relu()]
    for _ in range(blocks):
        body = [r.conv(c, c, 3, 1, 0), r.norm(norm, c, running_std), r.relu(),
                r.conv(c, c, 3, 1, 0), r.norm(norm, c, running_std, scale=0.3)]  # fmt: skip
        branches = [module("nn.Sequential", dtype, modules=body),
                    module("nn.ShaveImage", dtype, size=2)]  # fmt: skip
        add = module("nn.CAddTable", dtype, inplace=False)
        concat = module("nn.ConcatTable", dtype, modules=branches)
        layers.append(module("nn.Sequential", dtype, modules=[concat, add]))
    for cin, cout in ((c, b), (b, a)):
        layers += [r.full_conv(cin, cout), r.norm(norm, cout, running_std), r.relu()]
    tv = {"strength": 1e-6, "x_diff": np.zeros(0, dtype), "y_diff": np.zeros(0, dtype)}
    layers += [r.conv(a, 3, 9, 1, 4, gain=1.0), module("nn.Tanh", dtype),
               module("nn.MulConstant", dtype, constant_scalar=150, inplace=False),
               module("nn.TotalVariation", dtype, **tv)]  # fmt: skip
    return module("nn.Sequential", dtype, modules=layers)


def checkpoint(model: T7Object, norm: str) -> dict[str, Any]:
    """What ``train.lua`` saves: ``{model = ..., opt = {...}}`` (the options that matter)."""
    opt = {"arch": "c9s1-32,d64,d128,R128,R128,R128,R128,R128,u64,u32,c9s1-3",
           "use_instance_norm": int(norm == "instance"), "padding_type": "reflect-start",
           "tanh_constant": 150, "preprocessing": "vgg"}  # fmt: skip
    return {"model": model, "opt": opt}
