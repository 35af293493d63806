"""The stylize command without Hydra: ``run(ckpt=..., input=..., output=...)``.

What ``python stylize.py`` and ``fastnst stylize`` run: one image, a folder tree of images
(:mod:`fastnst.inference.files`), a video (:mod:`fastnst.inference.video`), every photo in every
painting of a folder for an arbitrary-style network (:mod:`fastnst.inference.paintings`), or
an export of the network. ``ckpt`` may also be an exported ``.onnx`` model, run by ONNX Runtime
on the CPU. A multi-style network takes ``style`` (a name or a blend), or makes a labelled
contact sheet of one photo in every style (``sheet``) or a strip blending two styles
(``strip``, ``strip_steps`` columns). ``flow_blend=0.5`` stylizes a video, or a folder of
frames in sorted order, as a sequence: each output is blended with the previous one along the
input's optical flow (:mod:`fastnst.inference.flow_blend`).
"""

from __future__ import annotations

from pathlib import Path

from fastnst.errors import FastNSTError
from fastnst.inference.applicable import check_export_options, check_strip
from fastnst.inference.export import export_model, predictor_path
from fastnst.inference.files import Report, output_path, stylize_folder, stylize_image
from fastnst.inference.flow_blend import FlowBlend
from fastnst.inference.paintings import painting_files, painting_sheet, stylize_each_painting
from fastnst.inference.sheets import interpolation_strip, style_sheet
from fastnst.inference.stylizer import Stylizer
from fastnst.inference.video import VIDEO_SUFFIXES, stylize_video
from fastnst.io.atomic import refuse_existing
from fastnst.io.image import SAVE_SUFFIXES, list_images, open_rgb, pil_to_tensor, save_image
from fastnst.io.pretrained import resolve_model
from fastnst.models.checkpoint import load_style_checkpoint
from fastnst.models.interop.onnx_zoo import is_zoo_onnx


def run(
    *, ckpt: str, output: str, input: str | None = None, export: str | None = None,
    overwrite: bool = False, progress: bool = True, sheet: bool = False,
    strip: list[str] | None = None, strip_steps: int = 5, flow_blend: float | None = None,
    accept_license: bool = False, **options,
) -> Report:  # fmt: skip
    """Stylize ``input`` (image, folder or video) into ``output``, or export the network.

    Args:
        ckpt: A ``train.py`` checkpoint, a pytorch/examples ``.pth``, or an exported ``.onnx``
            model (run by ONNX Runtime on the CPU; no ``tile``, ``export`` or torch backend),
            or a catalogue name (``candy``; fetched once, :mod:`fastnst.io.pretrained`).
        output: Output file or folder (the model file with ``export``).
        input: Image file, folder of images, or video file.
        export: None, ``"torchscript"`` or ``"onnx"``.
        overwrite: Replace existing outputs.
        progress: Show a progress bar for folders and videos.
        sheet: Write a labelled grid of the input image in every style of the network.
        strip: Two style names: write the input image blended from one to the other.
        strip_steps: Columns of the strip, both pure styles included.
        flow_blend: None or 0 (each frame on its own), or a weight in (0, 1) for videos and
            folders of frames: blend each output with the previous one along the input's
            optical flow (:class:`~fastnst.inference.flow_blend.FlowBlend`).
        accept_license: Accept a catalogue model's no-commercial-use licence (once).
        **options: Keyword arguments of ``Stylizer`` (device, strength, size, tile, style, ...).
    """
    ckpt = str(resolve_model(ckpt, accept_license=accept_license))
    report = Report()
    is_onnx = Path(ckpt).suffix.lower() == ".onnx" and not is_zoo_onnx(ckpt)  # zoo: a network
    if export is not None and is_onnx:
        raise FastNSTError(
            f"ckpt={ckpt} is already an exported model; export= needs its PyTorch checkpoint"
        )
    if export is not None:
        check_export_options({"input": input, "sheet": sheet, "strip": strip,
                              "flow_blend": flow_blend, **options})  # fmt: skip
        loaded = load_style_checkpoint(ckpt)
        written = export_model(loaded.model, output, export, overwrite=overwrite)
        report.written.append(written)
        if predictor_path(written).is_file() and getattr(loaded.model, "split_export", False):
            report.written.append(predictor_path(written))  # the split export's style half
        return report
    if input is None:
        raise FastNSTError("no input: pass input=photo.jpg, input=folder/ or input=clip.mp4")
    src, dst = Path(input).expanduser(), Path(output).expanduser()
    if not src.exists():
        raise FastNSTError(f"input not found: {src}")
    is_video = src.suffix.lower() in VIDEO_SUFFIXES
    if options.get("backend", "auto") == "auto" and not (is_onnx or is_video or src.is_dir()):
        options["backend"] = "torch"  # one image does not repay the seconds of ONNX export
    if sheet or strip:
        return _grid(ckpt, src, dst, sheet, strip, strip_steps, overwrite, options)
    painting = options.get("style_image")
    if isinstance(painting, (str, Path)) and Path(painting).expanduser().is_dir():
        return stylize_each_painting(
            ckpt, src, dst, overwrite=overwrite, progress=progress, **options
        )
    blend = _flow_blend(flow_blend, src, is_video)
    stylizer = Stylizer.from_checkpoint(ckpt, **options)
    if src.is_dir():
        if dst.suffix.lower() in SAVE_SUFFIXES | VIDEO_SUFFIXES:
            raise FastNSTError(f"input {src} is a folder, so output={dst} must be a folder too")
        report = stylize_folder(
            stylizer, src, dst, overwrite=overwrite, progress=progress, blend=blend
        )
        report.precision = str(stylizer.precision_choice)
        return report
    if dst.is_dir():
        dst = dst / src.name if is_video else output_path(src, src.parent, dst)
    refuse_existing(dst, overwrite)
    if is_video:
        result = stylize_video(
            stylizer, src, dst, overwrite=overwrite, progress=progress, blend=blend
        )
        report.skipped_frames = result.skipped
    else:
        stylize_image(stylizer, src, dst, overwrite=overwrite)
    report.written.append(dst)
    report.precision = str(stylizer.precision_choice)
    return report


def _flow_blend(strength: float | None, src: Path, is_video: bool) -> FlowBlend | None:
    """The :class:`FlowBlend` of ``flow_blend=`` (videos and folders only), or None."""
    if not strength:
        return None
    if not (is_video or src.is_dir()):
        raise FastNSTError(f"flow_blend= needs a video or a folder of frames, not {src}")
    return FlowBlend(strength)


def _grid(
    ckpt: str, src: Path, dst: Path, sheet: bool, strip: list[str] | None, steps: int,
    overwrite: bool, options: dict,
) -> Report:  # fmt: skip
    """``sheet`` / ``strip`` of one image ``src`` into the image file ``dst``."""
    if sheet and strip:
        raise FastNSTError("sheet=true and strip= each write one image: pass one of them")
    if src.suffix.lower() in VIDEO_SUFFIXES or (src.is_dir() and not options.get("style_image")):
        raise FastNSTError(f"sheet= and strip= take one image as input, not {src}")
    if dst.is_dir() or dst.suffix.lower() not in SAVE_SUFFIXES:
        raise FastNSTError(f"sheet= and strip= write one image: pass output=sheet.png, not {dst}")
    painting = options.pop("style_image", None)
    if strip:
        check_strip(painting)
    if sheet and painting is not None:  # an arbitrary-style network: photos x paintings
        photos = list_images(src) if src.is_dir() else [src]
        paintings = painting_files(painting, options)
        image = painting_sheet(ckpt, photos, paintings, **options)
        save_image(image, dst, overwrite=overwrite)
        return Report(written=[dst])
    options.pop("style", None)  # every style, or the two of the strip
    stylizer = Stylizer.from_checkpoint(ckpt, **options)
    content = pil_to_tensor(open_rgb(src))
    if strip:
        image = interpolation_strip(stylizer, content, list(strip), steps)
    else:
        image = style_sheet(stylizer, content)
    save_image(image, dst, overwrite=overwrite)
    return Report(written=[dst])
