"""Inference: a trained transform network as a callable on PIL images and tensors.

``Stylizer.from_checkpoint(path)(image)`` is the whole API. Options, applied in this order:

1. ``size`` / ``max_size``: resize the content (short side to ``size``, then long side capped at
   ``max_size``); the output has the resized size. Without them the output keeps the input size.
2. The network, whole or in ``tile`` px tiles (see :mod:`fastnst.inference.tiling`),
   ``batch_size`` images at a time.
3. ``preserve_color``: ``"luminance"`` keeps the content's YIQ chroma and takes only the
   stylized luminance (Gatys et al. 2017, sec. 5.1); ``"histogram"`` matches each RGB channel's
   histogram to the content's (Gatys et al. 2017, sec. 5.2, applied to the output).
4. ``strength`` s in [0, 1]: out = s * stylized + (1 - s) * content, so s = 0 returns the content.

A multi-style network (conditional instance norm, Dumoulin et al. 2017) also takes ``style``: a
painting's name, or a blend ``{"starry_night": 0.7, "great_wave": 0.3}`` (see
:mod:`fastnst.inference.blend`); it can be changed between calls (``stylizer.style = ...``).
"""

from __future__ import annotations

import copy
import importlib.util
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torch import Tensor, nn

from fastnst.color import match_histograms, transfer_luminance
from fastnst.device import resolve_device
from fastnst.errors import FastNSTError
from fastnst.inference.applicable import check_choice_options
from fastnst.inference.arbitrary import (
    Painting,
    bind_onnx_painting,
    bind_paintings,
    check_arbitrary_options,
    is_arbitrary,
)
from fastnst.inference.blend import StyleChoice, style_vector
from fastnst.inference.precision import PrecisionChoice, check_precision, choose_precision
from fastnst.inference.runtime import OnnxModel, cached_onnx_model
from fastnst.inference.tiling import stylize_tiled
from fastnst.io.image import pil_to_tensor, tensor_to_pil
from fastnst.models.checkpoint import load_style_checkpoint
from fastnst.models.fast_conv import with_fast_convs
from fastnst.models.interop.onnx_zoo import is_zoo_onnx

COLOR_METHODS = ("luminance", "histogram")
BACKENDS = ("auto", "torch", "onnxruntime", "compile")


def target_size(height: int, width: int, size: int | None, max_size: int | None) -> tuple[int, int]:
    """(H, W) after scaling the short side to ``size`` and capping the long side at ``max_size``."""
    scale = 1.0 if size is None else size / min(height, width)
    if max_size is not None and max(height, width) * scale > max_size:
        scale = max_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


class Stylizer:
    """A transform network ready for inference.

    Args:
        model: The transform network (e.g. ``StyleCheckpoint.model``); input RGB in [0, 1].
            It is put in eval mode and moved to ``device`` (in place, like ``Module.to``); on
            a CPU the stylizer runs a copy whose output layer and upsampling stages are
            rewritten for speed (:func:`~fastnst.models.fast_conv.with_fast_convs`, the same
            function).
            Or an exported ``OnnxModel``, which runs with ONNX Runtime on the CPU and takes
            neither ``tile``, ``channels_last`` nor another device or backend.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        strength: Blend with the content in [0, 1]; 1 is the full style.
        preserve_color: None, ``"luminance"`` or ``"histogram"``.
        size: Short side of the output in px; None keeps the input size.
        max_size: Upper bound on the long side of the output in px.
        tile: Tile side in px for huge images; None stylizes the whole image at once.
        tile_overlap: Overlap between tiles in px.
        batch_size: Images per forward pass in ``stylize``.
        channels_last: Run PyTorch's convolutions in channels-last memory format (not faster
            than the default on our 2-core CPU benchmark; try it on a GPU).
        backend: ``"torch"``, ``"onnxruntime"`` (CPU only: on first use the model is exported
            to ONNX, a few seconds, or loaded from the export cache, see
            :mod:`fastnst.inference.runtime`; it then runs 1.5-2.3x faster than eager PyTorch
            on our CPU in ``scripts/benchmark_stylize.py``), ``"compile"`` (``torch.compile``
            with Inductor's weight freezing, channels-last: the fastest path on our 2-core CPU,
            0.9-1.3x ONNX Runtime in fp32 and 2.0-2.7x in bf16 (``precision``), but it
            compiles for tens of seconds at every new image size, so it pays for long runs
            of one size: a video, a webcam), or ``"auto"``:
            onnxruntime on the CPU when it is installed (torch when ``precision`` is
            ``"bf16"`` or ``"fp16"``), else torch. Tiles always run in PyTorch (they need its
            hooks).
        precision: ``"fp32"``, ``"bf16"`` / ``"fp16"`` (the torch and compile backends, untiled
            transform networks: autocast, checked once against fp32 by a probe,
            :mod:`fastnst.inference.precision`) or ``"auto"``: on those backends the reduced
            type of the device where the probe finds it accurate and faster, else fp32
            (ONNX Runtime, the default for folders and videos on a CPU, runs fp32).
            ``precision_choice`` says what runs and why.
        checkpoint: The file ``model`` was loaded from, if any: its sha256 names the cached
            ONNX export (without it, the weights are hashed).
        style: For a multi-style network (required there before stylizing): a style name, an
            index, or a blend ``{name: weight}`` (normalised to sum to 1). ``None`` for a
            single-style network. An unknown name is an error that lists the styles.
        styles: The network's style names in style-index order; by default those
            ``load_style_checkpoint`` or the ONNX file's metadata give (``model.style_names``,
            ``OnnxModel.styles``), else ``"0"``, ``"1"``, ...
        style_image: For an arbitrary-style network (``model=adain``, required there): the
            painting, an image file, PIL image or (3, H, W) tensor, or a list of them to blend.
            Its statistics are computed once, here (:mod:`fastnst.inference.arbitrary`);
            such a network runs in PyTorch, untiled.
        style_image_weights: One weight per ``style_image`` (normalised); ``None``: equal.
        alpha: Arbitrary-style networks: AdaIN's content-style trade-off in feature space,
            in [0, 1] (``strength`` blends pixels, after it).
        style_size: Short side the paintings are resized to; ``None`` keeps their size.
    """

    def __init__(
        self,
        model: nn.Module | OnnxModel,
        *,
        device: str | torch.device = "auto",
        strength: float = 1.0,
        preserve_color: str | None = None,
        size: int | None = None,
        max_size: int | None = None,
        tile: int | None = None,
        tile_overlap: int = 64,
        batch_size: int = 4,
        channels_last: bool = False,
        backend: str = "auto",
        checkpoint: str | Path | None = None,
        style: StyleChoice = None,
        styles: Sequence[str] | None = None,
        style_image: Painting | Sequence[Painting] | None = None,
        style_image_weights: Sequence[float] | None = None,
        alpha: float = 1.0,
        style_size: int | None = 512,
        precision: str = "fp32",
    ) -> None:
        _check_options(strength, preserve_color, size, max_size, tile, tile_overlap)
        onnx = isinstance(model, OnnxModel)
        arbitrary = bool(model.arbitrary) if onnx else is_arbitrary(model)
        check_choice_options(
            arbitrary, style=style, style_image=style_image, weights=style_image_weights
        )
        check_precision(precision)
        self.strength, self.preserve_color = strength, preserve_color
        self.size, self.max_size = size, max_size
        self.tile, self.tile_overlap = tile, tile_overlap
        self.batch_size = max(1, batch_size)
        self.channels_last = channels_last
        self.checkpoint = checkpoint
        # ONNX Runtime's model: given, or for the onnxruntime backend made on first use
        self._onnx = model if isinstance(model, OnnxModel) else None
        self.styles = _style_names(model, styles)
        self.style = style
        self.precision_choice = PrecisionChoice("fp32", reason="asked for")
        self._reduced: nn.Module | None = None  # the network in bf16 / fp16, if that runs
        if self._onnx is not None:
            _check_onnx_options(model, device, tile, channels_last, backend, precision)
            if getattr(model, "arbitrary", False) or style_image is not None or alpha != 1.0:
                self._onnx = model = bind_onnx_painting(
                    model, style_image, style_image_weights, alpha=alpha, size=style_size
                )
            self.device, self.backend, self.model = torch.device("cpu"), "onnxruntime", model
            return
        self.device = resolve_device(device)
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        model = model.eval().requires_grad_(False)
        if self.device.type == "cpu":  # the same function, a 3x faster last layer on a CPU
            model = with_fast_convs(model)
        self.model = model.to(self.device, memory_format=fmt)
        self.backend = _resolve_backend(backend, self.device)
        self._compiled_model: nn.Module | None = None  # backend=compile: made on first use
        if is_arbitrary(self.model) or style_image is not None or alpha != 1.0:
            check_arbitrary_options(self.model, tile=tile, backend=backend)
            self.model = bind_paintings(
                self.model, style_image, style_image_weights, alpha=alpha, size=style_size
            )
            self.backend = "torch"
        if precision != "fp32":
            self._choose_precision(precision, backend)

    def _choose_precision(self, precision: str, backend: str) -> None:
        """Probe the reduced-precision network (explicit ``bf16`` / ``fp16`` also moves
        ``backend=auto`` from ONNX Runtime to PyTorch)."""
        where = None
        if self.tile is not None:
            where = "tiled"
        elif self.backend == "onnxruntime" and (backend != "auto" or precision == "auto"):
            where = "onnxruntime"
        if where is not None:
            if precision != "auto":
                raise FastNSTError(
                    f"precision={precision} runs untiled on the torch and compile backends, not "
                    f"{where}; use precision=fp32 or auto there"
                )
            self.precision_choice = PrecisionChoice("fp32", reason=f"{where} runs fp32")
            return
        reduced, choice = choose_precision(self.model, precision, self.device)
        if self.backend == "onnxruntime":
            self.backend = "torch"
        self.precision_choice = choice
        if choice.precision != "fp32":
            self._reduced = reduced.to(memory_format=torch.channels_last)

    @property
    def style(self) -> StyleChoice:
        """The style choice; setting it checks it against ``styles``."""
        return self._style

    @style.setter
    def style(self, style: StyleChoice) -> None:
        multi = len(self.styles) > 1
        self.style_weights = None if style is None else style_vector(style, self.styles)
        self._style = style if multi or style is None else None

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto", **options) -> Stylizer:
        """Load a ``train.py`` checkpoint or a pytorch/examples ``.pth`` (with
        ``weights_only=True``), or an exported ``.onnx`` model (run by ONNX Runtime on the
        CPU); ``options`` are the keyword arguments of ``Stylizer``."""
        path = Path(path).expanduser()
        if path.suffix.lower() == ".onnx" and not is_zoo_onnx(path):  # the zoo's: a network
            return cls(OnnxModel(path), device=device, **options)
        loaded = load_style_checkpoint(path)
        options.setdefault("styles", loaded.styles)
        return cls(loaded.model, device=device, checkpoint=path, **options)

    @classmethod
    def from_pretrained(
        cls, name: str, device: str = "auto", *, accept_license: bool = False, **options
    ) -> Stylizer:
        """A catalogue model (``"candy"``, ``"adain"`` with ``style_image=``, ``"magenta_monet"``
        with ``style=``; ``fastnst models`` lists them), downloaded once into the cache and
        checked on each use (:mod:`fastnst.io.pretrained`), or a checkpoint path."""
        from fastnst.io.pretrained import resolve_model

        path = resolve_model(name, accept_license=accept_license)
        return cls.from_checkpoint(path, device=device, **options)

    def __call__(self, image: Image.Image | Tensor) -> Image.Image | Tensor:
        """Stylize a PIL image (returns RGB PIL, upright: its EXIF orientation is applied) or a
        (3, H, W) / (N, 3, H, W) [0, 1] tensor."""
        if isinstance(image, Image.Image):
            return tensor_to_pil(self.stylize(pil_to_tensor(ImageOps.exif_transpose(image))))
        if image.dim() == 3:
            return self.stylize(image[None])[0]
        return self.stylize(image)

    @torch.no_grad()
    def stylize(self, content: Tensor) -> Tensor:
        """(N, 3, H, W) content in [0, 1] -> (N, 3, H', W') stylized in [0, 1], on the CPU."""
        if content.dim() != 4 or content.shape[1] != 3:
            raise ValueError(f"expected content of shape (N, 3, H, W), got {tuple(content.shape)}")
        if len(self.styles) > 1 and self.style_weights is None:
            style_vector(None, self.styles)  # raises: which style?
        content = content.float().cpu()
        h, w = target_size(*content.shape[-2:], self.size, self.max_size)
        resized = content
        if (h, w) != content.shape[-2:]:
            resized = F.interpolate(content, size=(h, w), mode="bicubic", antialias=True)
            resized = resized.clamp_(0, 1)
        out = _cat([self._forward(batch) for batch in resized.split(self.batch_size)]).clamp_(0, 1)
        if self.preserve_color == "luminance":
            out = transfer_luminance(out, content)
        elif self.preserve_color == "histogram":
            out = match_histograms(out, content).clamp_(0, 1)
        if self.strength < 1.0:
            out = torch.lerp(resized, out, self.strength)
        return out

    def _forward(self, batch: Tensor) -> Tensor:
        """The network on one batch, whole or tiled; returns a float32 CPU tensor."""
        weights = self.style_weights
        if self.tile is not None and max(batch.shape[-2:]) > self.tile:
            return _cat([
                stylize_tiled(
                    self.model, image[None], tile=self.tile, overlap=self.tile_overlap,
                    device=self.device, style=weights,
                ) for image in batch
            ])  # fmt: skip
        if self.backend == "onnxruntime":
            self._onnx = self._onnx or cached_onnx_model(self.model, self.checkpoint)
            return self._onnx(batch, weights)
        model, fmt = self.model, torch.channels_last if self.channels_last else None
        if self._reduced is not None:
            model, fmt = self._reduced, torch.channels_last
        if self.backend == "compile":
            model, fmt = self._compiled(), torch.channels_last
        x = batch.to(self.device).contiguous(memory_format=fmt or torch.contiguous_format)
        y = model(x) if weights is None else model(x, weights.to(self.device))
        return y.float().cpu().contiguous()

    def _compiled(self) -> nn.Module:
        """The network compiled once (channels-last, weights frozen into the graph); each new
        input size compiles a graph of its own (``dynamic=False``: the fastest kernels)."""
        if self._compiled_model is None:
            network = self._reduced if self._reduced is not None else self.model
            network = copy.deepcopy(network).to(memory_format=torch.channels_last)
            self._compiled_model = torch.compile(network, dynamic=False, options={"freezing": True})
        return self._compiled_model


def _check_options(
    strength: float, preserve_color: str | None, size: int | None, max_size: int | None,
    tile: int | None, tile_overlap: int,
) -> None:  # fmt: skip
    """One-line errors for option values no network can use."""
    if not 0.0 <= strength <= 1.0:
        raise FastNSTError(f"strength={strength} is outside [0, 1]; 1 is the full style")
    if preserve_color not in (None, *COLOR_METHODS):
        raise FastNSTError(
            f"unknown preserve_color={preserve_color}; use null, luminance or histogram"
        )
    for name, value in (("size", size), ("max_size", max_size), ("tile", tile)):
        if value is not None and value < 8:
            raise FastNSTError(f"{name}={value} is too small; use at least 8 px or null")
    if tile is not None and not 0 <= tile_overlap < tile:
        raise FastNSTError(f"tile_overlap={tile_overlap} must be in [0, tile={tile})")


def _check_onnx_options(
    model: OnnxModel, device: str | torch.device, tile: int | None, channels_last: bool,
    backend: str, precision: str,
) -> None:  # fmt: skip
    """An exported model runs with ONNX Runtime on the CPU: refuse the PyTorch-only options."""
    refused = [
        f"{name}={value}"
        for name, value, allowed in (
            ("device", device, str(device) in ("auto", "cpu")),
            ("tile", tile, tile is None),
            ("channels_last", channels_last, not channels_last),
            ("backend", backend, backend in ("auto", "onnxruntime")),
            ("precision", precision, precision in ("auto", "fp32")),
        )
        if not allowed
    ]
    if refused:
        raise FastNSTError(
            f"ckpt={model.path} is an exported ONNX model, run by ONNX Runtime on the CPU: it "
            f"takes no {', '.join(refused)}; drop those options or pass ckpt= its PyTorch "
            "checkpoint"
        )


def _cat(tensors: list[Tensor]) -> Tensor:
    """``torch.cat`` that does not copy a single tensor (an 8K image is 400 MB as float32)."""
    return tensors[0] if len(tensors) == 1 else torch.cat(tensors)


def _style_names(model: nn.Module | OnnxModel, styles: Sequence[str] | None) -> list[str]:
    """The style names of ``model``: ``styles``, else what the checkpoint or the ONNX metadata
    said, else ``"0"``, ``"1"``, ...

    Raises:
        FastNSTError: ``styles`` does not have one name per style of the network.
    """
    count = int(getattr(model, "num_styles", 1))
    names = styles or getattr(model, "style_names", None) or getattr(model, "styles", None)
    if names is None or (styles is None and len(names) != count):
        names = [str(k) for k in range(count)]
    if len(names) != count:
        raise FastNSTError(f"styles= names {len(names)} styles but the network holds {count}")
    return [str(name) for name in names]


def _resolve_backend(backend: str, device: torch.device) -> str:
    """``"auto"`` -> onnxruntime on the CPU when it and the ONNX exporter are installed (the
    style weights of a multi-style network are the export's second input), else torch."""
    if backend not in BACKENDS:
        raise FastNSTError(f"unknown backend={backend}; use one of {', '.join(BACKENDS)}")
    available = all(importlib.util.find_spec(name) for name in ("onnxruntime", "onnxscript"))
    if backend == "onnxruntime" and (device.type != "cpu" or not available):
        raise FastNSTError("backend=onnxruntime needs device=cpu and pip install 'fastnst[export]'")
    if backend == "auto":
        return "onnxruntime" if device.type == "cpu" and available else "torch"
    return backend
