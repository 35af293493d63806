"""Every photo in every painting of a folder, with an arbitrary-style network.

``run(..., style_image="paintings/")`` (``stylize.py style_image=paintings/``) stylizes the
input, one image or a folder tree, once per painting under ``paintings/`` (recursive), into
``output/<painting>/``: ``<painting>`` is the painting's path below the folder without its
suffix, so paintings of the same name in two subfolders do not collide. Each painting is
encoded once for all the photos. Existing outputs are left alone unless ``overwrite``.

``sheet=true`` makes one labelled grid image instead (:func:`painting_sheet`): a row of the
paintings, then one row per photo, the photo and its stylization in each painting.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from fastnst.errors import FastNSTError
from fastnst.inference.files import Report, output_path, stylize_folder, stylize_image
from fastnst.inference.runtime import OnnxModel
from fastnst.inference.stylizer import Stylizer
from fastnst.io.atomic import refuse_existing
from fastnst.io.grid import image_grid
from fastnst.io.image import SAVE_SUFFIXES, list_images, open_rgb
from fastnst.models.checkpoint import load_style_checkpoint
from fastnst.models.interop.onnx_zoo import is_zoo_onnx

MAX_SHEET_PHOTOS = 12  # rows of a sheet: more photos make an image nobody can read


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
    paintings = painting_files(folder, options)
    if dst.suffix.lower() in SAVE_SUFFIXES:
        raise FastNSTError(f"style_image={folder} is a folder, so output={dst} must be a folder")
    model = load_network(ckpt)  # once, for every painting
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


def painting_files(paintings: str | Path | Sequence[str | Path], options: dict) -> list[Path]:
    """The paintings of ``style_image=``: a folder's (recursive), a list, or one file.

    Raises:
        FastNSTError: No paintings, or ``style_image_weights`` given (each painting is used
            alone here).
    """
    if isinstance(paintings, (str, Path)) and Path(paintings).expanduser().is_dir():
        found = list_images(Path(paintings).expanduser())
    elif isinstance(paintings, (str, Path)):
        found = [Path(paintings).expanduser()]
    else:
        found = [Path(p).expanduser() for p in paintings]
    if not found:
        raise FastNSTError(f"no paintings in style_image={paintings}; pass a folder of jpg/png")
    if options.get("style_image_weights") is not None:
        raise FastNSTError("each painting is used alone here: drop style_image_weights=")
    return found


def load_network(ckpt: str | Path) -> object:
    """The network of an arbitrary-style checkpoint, or its ONNX export, to bind paintings to."""
    if Path(ckpt).suffix.lower() == ".onnx" and not is_zoo_onnx(ckpt):
        return OnnxModel(ckpt)
    return load_style_checkpoint(ckpt).model


def painting_sheet(
    ckpt: str | Path, photos: Sequence[Path], paintings: Sequence[Path], *, height: int = 192,
    **options,
) -> Image.Image:  # fmt: skip
    """Every photo in every painting on one labelled grid.

    The first row shows the paintings under their names, each next row a photo and its
    stylizations; every cell is scaled to ``height`` px. Each painting is encoded once.

    Args:
        ckpt: An arbitrary-style checkpoint (or its ONNX export).
        photos: At most :data:`MAX_SHEET_PHOTOS` photos.
        paintings: The paintings, one column each.
        height: Cell height in px.
        **options: Keyword arguments of ``Stylizer`` (``size``, ``alpha``, ...).

    Raises:
        FastNSTError: Too many photos.
    """
    if len(photos) > MAX_SHEET_PHOTOS:
        raise FastNSTError(
            f"sheet=true takes at most {MAX_SHEET_PHOTOS} photos, got {len(photos)}: pass a "
            "smaller folder, or drop sheet= to write one file per photo and painting"
        )
    model = load_network(ckpt)
    images = [open_rgb(photo) for photo in photos]
    columns = []
    for painting in paintings:
        stylizer = Stylizer(model, style_image=painting, **options)
        columns.append([stylizer(image) for image in images])
    blank = Image.new("RGB", (max(1, height // 2), height), "white")
    rows = [[blank, *(open_rgb(p) for p in paintings)]]
    rows += [[image, *(column[i] for column in columns)] for i, image in enumerate(images)]
    return image_grid(rows, ["photo", *(p.stem for p in paintings)], height=height)
