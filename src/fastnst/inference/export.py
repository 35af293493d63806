"""Self-contained deployable models: TorchScript and ONNX, with dynamic batch, height and width.

Both formats hold ``ExportedStylizer``: (N, 3, H, W) RGB float32 in [0, 1] -> the same shape,
clamped to [0, 1], for any N and any H, W >= 1. A multi-style network (``num_styles > 1``) gets
a second input, ``style``: its (S,) style weights, passed on as ``model(x, style)``; its style
names go along as JSON, in the ONNX ``metadata_props`` entry ``styles`` and in the TorchScript
file's extra file ``styles.json``.

The network pads its input (to a multiple of 4 and at least 8 px) with a Python branch on the
shape, which export would freeze at the example's size. So the wrapper pads first, exactly as
the network would, by gathering rows and columns with index arithmetic that export keeps
symbolic (``pad_like_network``); the network then never pads, and the wrapper crops back.

ONNX uses the ``torch.export``-based exporter (``dynamo=True``, needs ``onnxscript``), the one
PyTorch maintains; the TorchScript file comes from ``torch.jit.trace``, which PyTorch has
deprecated: prefer ONNX for new deployments. ``fastnst.inference.runtime`` runs ONNX files.
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import SymInt, Tensor, nn

from fastnst.errors import FastNSTError
from fastnst.inference.arbitrary import is_arbitrary
from fastnst.io.atomic import atomic_path
from fastnst.models.fast_conv import with_fast_convs

FORMATS = ("torchscript", "onnx")
INPUT_NAME, STYLE_NAME, OUTPUT_NAME = "image", "style", "stylized"
STYLE_IMAGE_NAME = "style_image"  # the painting input of an arbitrary-style network
STYLE_VECTOR_NAME = "style_vector"  # the style vector between a split export's two graphs
STYLES_METADATA = "styles"  # ONNX metadata key (and TorchScript extra file stem) of the names
PREDICTOR_METADATA = "style_predictor"  # a split export's predictor file, next to it
PREDICTOR_SUFFIX = ".style.onnx"  # x.onnx's predictor is x.style.onnx
OPSET = 18
MIN_SIDE = 8  # TransformerNet pads every side to at least this, and to a multiple of 4


def _padded_length(n: int | SymInt | Tensor) -> int | SymInt | Tensor:
    """max(8, ``n`` rounded up to a multiple of 4), for an int, a SymInt (``torch.export``) or
    a traced 0-dim tensor (``torch.jit.trace`` records sizes as tensors)."""
    m = n + (-n) % 4
    if isinstance(m, Tensor):
        return m.clamp(min=MIN_SIDE)
    return torch.sym_max(MIN_SIDE, m)


def _pad_indices(n: int | SymInt | Tensor, device: torch.device) -> tuple[Tensor, Tensor]:
    """Source rows of a side of ``n`` px padded at the end: (reflecting, replicating)."""
    index = torch.arange(_padded_length(n), device=device)
    return torch.where(index < n, index, 2 * (n - 1) - index), index.clamp(max=n - 1)


def pad_like_network(image: Tensor) -> Tensor:
    """Pad (N, C, H, W) at the bottom and right as ``TransformerNet.forward`` does, branch-free.

    Each side grows to max(8, a multiple of 4); the padding reflects when both pads are shorter
    than their sides and replicates otherwise (a reflection needs pad < side). A negative
    reflected index marks a pad too long to reflect, so the choice is a tensor, not a branch.
    """
    h, w = image.shape[-2:]
    (rows, rows_edge), (cols, cols_edge) = (_pad_indices(n, image.device) for n in (h, w))
    reflect = (rows.min() >= 0) & (cols.min() >= 0)
    rows, cols = torch.where(reflect, rows, rows_edge), torch.where(reflect, cols, cols_edge)
    return image.index_select(-2, rows).index_select(-1, cols)


class ExportedStylizer(nn.Module):
    """The transform network with shape-independent padding and a [0, 1] clamp."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model.eval()
        # a network whose own padding export keeps symbolic (``export_any_size``, e.g. Johnson
        # et al.'s Torch7 network) gets the image as it is: padding it first would change it
        self.pad_first = not getattr(model, "export_any_size", False)

    def forward(self, image: Tensor, style: Tensor | None = None) -> Tensor:
        h, w = image.shape[-2:]
        x = pad_like_network(image) if self.pad_first else image
        y = self.model(x) if style is None else self.model(x, style)
        return y[..., :h, :w].clamp(0, 1)


class ExportedArbitrary(nn.Module):
    """An arbitrary-style network (AdaIN) as (photo, painting) -> stylized, clamped to [0, 1].

    The network pads the photo itself, branch-free (:func:`~fastnst.models.adain.pad_to_multiple`),
    so H and W stay symbolic; the painting (1, 3, H', W'), any size of at least 8 px, only
    gives its statistics.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(self, image: Tensor, style_image: Tensor) -> Tensor:
        return self.model(image, style_image).clamp(0, 1)


class ExportedTransform(nn.Module):
    """The transform half of a split arbitrary-style network: (photo, style vector) -> stylized.

    ``style_vector`` is (1, D), for every photo of the batch, as :class:`ExportedPredictor`
    computed it from a painting (strength: lerp it with the photo's own vector first, Ghiasi
    et al. 2017, sec. 5).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(self, image: Tensor, style_vector: Tensor) -> Tensor:
        return self.model(image, style_stats=style_vector).clamp(0, 1)


class ExportedPredictor(nn.Module):
    """The style half of a split arbitrary-style network: (1, 3, H', W') painting -> (1, D)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(self, style_image: Tensor) -> Tensor:
        return self.model.style_statistics(style_image)


def predictor_path(path: str | Path) -> Path:
    """Where a split export's predictor lives: ``x.onnx`` -> ``x.style.onnx``."""
    path = Path(path)
    return path.with_name(path.name.removesuffix(path.suffix) + PREDICTOR_SUFFIX)


def is_predictor_file(path: str | Path) -> bool:
    """Whether ``path`` names the style half of a split export (not a model on its own)."""
    return Path(path).name.lower().endswith(PREDICTOR_SUFFIX)


def example_inputs(model: nn.Module) -> tuple[Tensor, ...]:
    """What export traces with: an image, plus uniform style weights for a multi-style network
    or a painting for an arbitrary-style one."""
    if is_arbitrary(model):
        return torch.rand(1, 3, 64, 64), torch.rand(1, 3, 72, 56)
    num_styles = getattr(model, "num_styles", 1)
    image = torch.rand(1, 3, 64, 64)
    return (image,) if num_styles <= 1 else (image, torch.full((num_styles,), 1 / num_styles))


def export_model(
    model: nn.Module, path: str | Path, fmt: str, *, overwrite: bool = False,
    styles: Sequence[str] | None = None,
) -> Path:  # fmt: skip
    """Write ``model`` (a transform network; left unchanged) to ``path`` as TorchScript or ONNX.

    ``styles`` (default: ``model.style_names``, set by ``load_style_checkpoint``) are stored
    in the file when given.

    A network with ``split_export`` (style prediction, ``model=johnson_predicted``) becomes two
    graphs, so that a client computes a painting's style vector once: ``path`` (inputs
    ``image`` and ``style_vector``) and its predictor :func:`predictor_path` (input
    ``style_image``, output ``style_vector``), named in ``path``'s metadata.

    Raises:
        FastNSTError: Unknown format, ``path`` (or the predictor) exists without ``overwrite``,
            or the ONNX packages are missing.
    """
    path = Path(path)
    if fmt not in FORMATS:
        raise FastNSTError(f"unknown export={fmt}; use torchscript or onnx")
    arbitrary = is_arbitrary(model)
    if arbitrary and fmt == "torchscript":
        raise FastNSTError("an arbitrary-style network exports to ONNX only: pass export=onnx")
    # the same function, faster (blocked output layer, sub-pixel upsampling: fast_conv docstring)
    network = with_fast_convs(copy.deepcopy(model).cpu().float())
    if getattr(model, "split_export", False):
        return _export_split(network, path, overwrite)
    wrapper = (ExportedArbitrary if arbitrary else ExportedStylizer)(network).requires_grad_(False)
    examples = example_inputs(model)
    names = styles if styles is not None else getattr(model, "style_names", None)
    metadata = {} if names is None else {STYLES_METADATA: json.dumps([str(n) for n in names])}
    with atomic_path(path, overwrite=overwrite) as tmp:
        if fmt == "torchscript":
            _export_torchscript(wrapper, examples, tmp, metadata)
        else:
            _export_onnx(wrapper, examples, tmp)
            if metadata:
                _add_onnx_metadata(tmp, metadata)
    return path


def _export_split(network: nn.Module, path: Path, overwrite: bool) -> Path:
    """The transform graph at ``path`` and the predictor next to it (both or neither kept)."""
    style_path = predictor_path(path)
    painting, image = torch.rand(1, 3, 72, 56), torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        vector = network.style_statistics(painting)
    with (
        atomic_path(path, overwrite=overwrite) as tmp,
        atomic_path(style_path, overwrite=overwrite) as style_tmp,
    ):
        _export_onnx(
            ExportedPredictor(network).requires_grad_(False), (painting,), style_tmp,
            names=[STYLE_IMAGE_NAME], output=STYLE_VECTOR_NAME,
            shapes=(_painting_shapes(),),
        )  # fmt: skip
        _export_onnx(
            ExportedTransform(network).requires_grad_(False),
            (image, vector),
            tmp,
            names=[INPUT_NAME, STYLE_VECTOR_NAME],
            shapes=(_image_shapes(), None),
        )
        _add_onnx_metadata(tmp, {PREDICTOR_METADATA: style_path.name})
    return path


def _image_shapes() -> dict[int, torch.export.Dim]:
    """Symbolic batch, height and width of the ``image`` input."""
    batch = torch.export.Dim("N", min=1, max=1024)
    return {0: batch, 2: torch.export.Dim("H", min=1), 3: torch.export.Dim("W", min=1)}


def _painting_shapes() -> dict[int, torch.export.Dim]:
    """Symbolic height and width (at least 8 px) of one painting, the ``style_image`` input."""
    return {2: torch.export.Dim("H_style", min=8), 3: torch.export.Dim("W_style", min=8)}


def _add_onnx_metadata(path: Path, metadata: dict[str, str]) -> None:
    """Store ``metadata`` in the ONNX file's ``metadata_props`` (read back by ONNX Runtime's
    ``get_modelmeta().custom_metadata_map``)."""
    import onnx

    proto = onnx.load(str(path))
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))


def _export_torchscript(
    wrapper: nn.Module, examples: tuple[Tensor, ...], path: Path, metadata: dict[str, str]
) -> None:
    """Trace; the tracer's warnings about the network's own (never taken) pad branch are
    expected: the wrapper has already padded, with its shape arithmetic traced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(wrapper, examples)
    traced.save(str(path), _extra_files={f"{k}.json": v for k, v in metadata.items()})


def _export_onnx(
    wrapper: nn.Module, examples: tuple[Tensor, ...], path: Path, *,
    names: list[str] | None = None, shapes: tuple | None = None, output: str = OUTPUT_NAME,
) -> None:  # fmt: skip
    """``torch.onnx.export(dynamo=True)`` with symbolic batch, height and width (by default
    the inputs of a one-file export: ``image`` and ``style`` or ``style_image``)."""
    try:
        import onnxscript  # noqa: F401 - required by the exporter
    except ImportError as err:
        raise FastNSTError("export=onnx needs onnx: pip install 'fastnst[export]'") from err
    if names is None:
        names = [INPUT_NAME, STYLE_NAME][: len(examples)]
        shapes = (_image_shapes(), *[None] * (len(examples) - 1))  # style: (S,)
    if isinstance(wrapper, ExportedArbitrary):  # the painting: one, of any size
        names = [INPUT_NAME, STYLE_IMAGE_NAME]
        shapes = (shapes[0], _painting_shapes())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper, examples, str(path), dynamo=True, opset_version=OPSET,
            input_names=names, output_names=[output],
            dynamic_shapes=shapes, verbose=False,
            external_data=False,  # one self-contained file, weights included
        )  # fmt: skip
