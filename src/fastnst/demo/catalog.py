"""The models of one folder, addressed by file name only, loaded lazily and cached with a bound.

A request names a model; the name is looked up among the files the folder lists (no path from
the request ever reaches the file system, so ``../x`` or ``/etc/passwd`` is simply unknown).
Checkpoints are read with the weights-only loader of :mod:`fastnst.models.checkpoint`; exported
``.onnx`` files run with ONNX Runtime (the ``x.style.onnx`` predictor of a split export is part
of ``x.onnx``, not a model of its own). Arbitrary-style models (AdaIN, style prediction) take
a painting, see :mod:`fastnst.demo.paintings`. Loaded networks and ``Stylizer`` s (one per model and
options) live in small LRU caches keyed by the file's size and mtime, so a replaced file reloads.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image
from torch import nn

from fastnst.errors import FastNSTError
from fastnst.inference import Stylizer
from fastnst.inference.arbitrary import is_arbitrary
from fastnst.inference.export import is_predictor_file
from fastnst.inference.runtime import OnnxModel, cached_onnx_model
from fastnst.models.checkpoint import load_style_checkpoint
from fastnst.models.interop.onnx_zoo import is_zoo_onnx

MODEL_SUFFIXES = (".ckpt", ".pth", ".pt", ".onnx", ".t7")
PARTS = ("model", "style")  # of an ONNX file for the browser: the network, a split's predictor


class UnknownModel(LookupError):
    """A model name the folder does not list (a request never names a path)."""


@dataclass
class ModelInfo:
    """What the page shows about one model file.

    Attributes:
        name: The file name, the model's only address.
        kind: ``"single"``, ``"multi"`` (blendable ``styles``), ``"arbitrary"`` or ``"broken"``.
        styles: Style names in style-index order (``0``, ``1``... for an ONNX file without
            names in its metadata).
        format: ``"checkpoint"`` or ``"onnx"``.
        error: One line saying why a broken model cannot load.
    """

    name: str
    kind: str
    styles: list[str] = field(default_factory=list)
    format: str = "checkpoint"
    error: str | None = None


class LRU:
    """A dict of at most ``size`` entries that forgets the least recently used one."""

    def __init__(self, size: int) -> None:
        self.size, self.items = max(1, size), OrderedDict()

    def touch(self, key: Any) -> bool:
        """Whether ``key`` is cached; a hit counts as a use."""
        if key in self.items:
            self.items.move_to_end(key)
            return True
        return False

    def get(self, key: Any, make: Callable[[], Any]) -> Any:
        """The cached value for ``key``, made (and cached) on a miss."""
        if self.touch(key):
            return self.items[key]
        value = self.items[key] = make()
        while len(self.items) > self.size:
            self.items.popitem(last=False)
        return value


class ModelCatalog:
    """The model files of ``folder`` (not recursive), described, loaded and cached.

    Args:
        folder: Where the checkpoints and ONNX files are.
        max_models: Loaded networks kept in memory.
        max_stylizers: ``Stylizer`` s (model x options) kept in memory.
        max_size: Cap on the long side of a stylized image in px (larger photos are reduced).
        backend: ``"auto"`` (ONNX Runtime for per-style networks when installed) or
            ``"torch"`` (eager PyTorch: no export on first use). ONNX files always use ONNX
            Runtime; arbitrary-style checkpoints run in PyTorch (the painting's statistics
            cached, where their two-input ONNX graph would encode it on every call).
        style_size: Short side of the painting an arbitrary-style model encodes, px.
    """

    def __init__(
        self, folder: str | Path, *, max_models: int = 4, max_stylizers: int = 8,
        max_size: int = 1536, backend: str = "auto", style_size: int = 512,
    ) -> None:  # fmt: skip
        self.folder = Path(folder).expanduser()
        if not self.folder.is_dir():
            raise FastNSTError(f"model folder not found: {self.folder}; pass --models a folder")
        if backend not in ("auto", "torch"):
            raise FastNSTError(f"unknown demo backend={backend}; use auto or torch")
        self.max_size, self.backend, self.style_size = max_size, backend, style_size
        self._lock = threading.Lock()
        self._infos: dict[tuple, ModelInfo] = {}
        self._models, self._stylizers = LRU(max_models), LRU(max_stylizers)

    def files(self) -> dict[str, Path]:
        """Model file name -> path, for the visible model files directly in the folder."""
        return {
            path.name: path
            for path in sorted(self.folder.iterdir())
            if path.suffix.lower() in MODEL_SUFFIXES and not path.name.startswith(".")
            and path.is_file() and not is_predictor_file(path)
        }  # fmt: skip

    def path(self, name: str) -> Path:
        """The file of the model ``name``; UnknownModel for a name the folder does not list."""
        files = self.files()
        if name not in files:
            shown = name if len(name) <= 80 and name.isprintable() else name[:80].encode()
            raise UnknownModel(f"unknown model {shown!r}; pick one of the listed models")
        return files[name]

    def list(self) -> list[ModelInfo]:
        """Every model file of the folder, described (a broken file gets kind ``"broken"``)."""
        return [self.describe(name) for name in self.files()]

    def describe(self, name: str) -> ModelInfo:
        """What model ``name`` is, read once per file version."""
        key = _version(self.path(name))
        with self._lock:
            if key not in self._infos:
                try:
                    self._infos[key] = _describe(name, self._load(name, key))
                except FastNSTError as err:
                    message = str(err).replace(f"{self.folder}{os.sep}", "")  # no server paths
                    fmt = "onnx" if name.lower().endswith(".onnx") else "checkpoint"
                    self._infos[key] = ModelInfo(name, "broken", format=fmt, error=message)
            return self._infos[key]

    def stylizer(
        self, name: str, *, strength: float = 1.0, preserve_color: str | None = None,
        style: str | dict[str, float] | None = None,
        painting: tuple[str, Image.Image] | None = None,
    ) -> Stylizer:  # fmt: skip
        """A ``Stylizer`` of model ``name`` with these options, cached.

        Args:
            painting: (id, image) of the painting, for an arbitrary-style model.

        Raises:
            UnknownModel: No such model. FastNSTError: It cannot load, refuses the options,
                or is an arbitrary-style model without a painting.
        """
        info = self.describe(name)
        if info.kind == "broken":
            raise FastNSTError(info.error or f"{name} cannot load")
        common = {"strength": strength, "preserve_color": preserve_color, "max_size": self.max_size}
        if info.kind == "arbitrary":
            if painting is None:
                raise FastNSTError(f"{name} paints any painting: choose or upload a painting")
            common |= {"style_image": painting[1], "style_size": self.style_size}
        version = _version(self.path(name))
        key = (version, strength, preserve_color, _style_key(style), painting and painting[0])
        with self._lock:
            network = self._runnable(name, version)
            return self._stylizers.get(key, lambda: _make_stylizer(network, info, style, common))

    def onnx_path(self, name: str, part: str = "model") -> Path:
        """An ONNX file of model ``name`` for the browser: the file itself, or the cached export
        of a checkpoint (exported once, see :func:`fastnst.inference.runtime.cached_onnx_model`);
        ``part="style"``: the predictor of a split (style-prediction) export."""
        info = self.describe(name)
        if info.kind == "broken":
            raise FastNSTError(info.error or f"{name} cannot load")
        if part not in PARTS:
            raise FastNSTError(f"unknown part={part[:20]!r}; use model or style")
        if not _onnx_available():
            raise FastNSTError("exporting for the browser needs pip install 'fastnst[export]'")
        with self._lock:
            exported = self._exported(name, _version(self.path(name)))
        if part == "model":
            return exported.path
        if exported.predictor is None:
            raise FastNSTError(f"{name} has no style predictor (it is not a split export)")
        return exported.predictor_file

    def _load(self, name: str, key: tuple) -> Any:
        """The loaded file (``StyleCheckpoint`` or ``OnnxModel``); call with the lock held."""
        path = self.path(name)
        if path.suffix.lower() == ".onnx" and not is_zoo_onnx(path):  # the zoo's: a network
            return self._models.get(key, lambda: OnnxModel(path))
        return self._models.get(key, lambda: load_style_checkpoint(path))

    def _exported(self, name: str, key: tuple) -> OnnxModel:
        """Model ``name`` as ONNX Runtime runs it: the file, or its cached export."""
        loaded = self._load(name, key)
        if isinstance(loaded, OnnxModel):
            return loaded
        path = self.path(name)
        return self._models.get((*key, "onnx"), lambda: cached_onnx_model(loaded.model, path))

    def _runnable(self, name: str, key: tuple) -> Any:
        """What the server runs: ONNX Runtime when it is installed (1.5-2.3x faster than eager
        PyTorch on a CPU; multi-style networks take their style weights as a second input),
        else the PyTorch network."""
        loaded = self._load(name, key)
        if isinstance(loaded, OnnxModel):
            return loaded
        if self.backend == "auto" and _onnx_available() and not is_arbitrary(loaded.model):
            return self._exported(name, key)
        return loaded.model


def _make_stylizer(network: Any, info: ModelInfo, style: Any, common: dict[str, Any]) -> Stylizer:
    """A Stylizer over an already loaded network; a multi-style one gets its style names and a
    style choice (the first style unless ``style`` says otherwise)."""
    if isinstance(network, nn.Module):
        common = {**common, "device": "cpu", "backend": "torch"}
    if info.kind != "multi":
        return Stylizer(network, **common)
    try:
        return Stylizer(network, style=style or info.styles[0], styles=info.styles, **common)
    except TypeError as err:  # a fastnst without multi-style inference
        raise FastNSTError("this fastnst cannot choose or blend styles yet") from err


def _onnx_available() -> bool:
    """Whether ONNX Runtime and the exporter are installed."""
    return all(importlib.util.find_spec(m) for m in ("onnxruntime", "onnxscript"))


def _describe(name: str, loaded: Any) -> ModelInfo:
    """A ModelInfo from a loaded ``StyleCheckpoint`` or ``OnnxModel``."""
    if isinstance(loaded, OnnxModel):
        if loaded.arbitrary:
            return ModelInfo(name, "arbitrary", [], "onnx")
        styles = getattr(loaded, "styles", None) or [str(i) for i in range(loaded.num_styles)]
        return ModelInfo(name, "multi" if loaded.num_styles > 1 else "single", styles, "onnx")
    if is_arbitrary(loaded.model):
        return ModelInfo(name, "arbitrary", [])
    return ModelInfo(name, "multi" if len(loaded.styles) > 1 else "single", list(loaded.styles))


def _version(path: Path) -> tuple:
    """A cache key that changes when the file is replaced or edited."""
    stat = path.stat()
    return (path.name, stat.st_size, stat.st_mtime_ns)


def _style_key(style: str | dict[str, float] | None) -> Any:
    """A hashable form of a style choice."""
    return tuple(sorted(style.items())) if isinstance(style, dict) else style
