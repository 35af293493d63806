"""Every photo in every painting of a folder, with an arbitrary-style network.

``run(..., style_image="paintings/")`` (``stylize.py style_image=paintings/``) stylizes the
input, one image or a folder tree, once per painting under ``paintings/`` (recursive), into
``output/<painting>/``: ``<painting>`` is the painting's path below the folder without its
suffix, so paintings of the same name in two subfolders do not collide. Each painting is
encoded once for all the photos. Existing outputs are left alone unless ``overwrite``.
"""

from __future__ import annotations

from pathlib import Path

from fastnst.errors import FastNSTError
from fastnst.inference.files import Report, output_path, stylize_folder, stylize_image
from fastnst.inference.runtime import OnnxModel
from fastnst.inference.stylizer import Stylizer
from fastnst.io.atomic import refuse_existing
from fastnst.io.image import SAVE_SUFFIXES, list_images
from fastnst.models.checkpoint import load_style_checkpoint


def stylize_each_painting(
    ckpt: str, src: Path, dst: Path, *, overwrite: bool = False, progress: bool = True,
    **options,
) -> Report:  # fmt: skip
    """Stylize ``src`` in the style of every painting under ``options["style_image"]``.

    Args:
        ckpt: An arbitrary-style checkpoint (or its ONNX export).
        src: A photo or a folder of photos.
        dst: The output folder; ``dst/<painting>/`` gets one painting's results.
        overwrite: Replace existing outputs.
        progress: Progress bars for folders.
        **options: Keyword arguments of ``Stylizer``; ``style_image`` is the painting folder.

    Raises:
        FastNSTError: No paintings in the folder, weights given, or ``dst`` is a file name.
    """
    folder = Path(options.pop("style_image")).expanduser()
    paintings = list_images(folder)
    if not paintings:
        raise FastNSTError(f"no paintings in style_image={folder}; pass a folder of jpg/png")
    if options.get("style_image_weights") is not None:
        raise FastNSTError("style_image= a folder paints each painting alone: drop the weights")
    if dst.suffix.lower() in SAVE_SUFFIXES:
        raise FastNSTError(f"style_image={folder} is a folder, so output={dst} must be a folder")
    is_onnx = Path(ckpt).suffix.lower() == ".onnx"
    model = OnnxModel(ckpt) if is_onnx else load_style_checkpoint(ckpt).model  # loaded once
    report = Report()
    for painting in paintings:
        stylizer = Stylizer(model, style_image=painting, **options)
        target = dst / painting.relative_to(folder).with_suffix("")
        if src.is_dir():
            done = stylize_folder(stylizer, src, target, overwrite=overwrite, progress=progress)
            for name in ("written", "existing", "unreadable", "failed"):
                getattr(report, name).extend(getattr(done, name))
            continue
        out = output_path(src, src.parent, target)
        refuse_existing(out, overwrite)
        report.written.append(stylize_image(stylizer, src, out, overwrite=overwrite))
    return report
