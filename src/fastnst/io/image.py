"""Reading, converting, resizing and writing images.

Every public boundary uses one representation so the rest of fastnst never has to think about
file formats: a float32 RGB tensor in [0, 1] of shape (N, 3, H, W), N=1 for a single image.
This module is the only place that knows about PIL modes, EXIF orientation, bit depths and
output formats.

Size limit: Pillow refuses images over ``2 * Image.MAX_IMAGE_PIXELS`` pixels (about 179
megapixels with its default) and warns above ``Image.MAX_IMAGE_PIXELS``. We keep that limit and
change no global state; we only silence the warning while opening, because an 8K (33 MP) or
16K UHD (15360x8640, 133 MP) photo is legitimate input here. Larger files fail with a
``FastNSTError``; a caller who really needs them can raise ``Image.MAX_IMAGE_PIXELS`` itself.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from fastnst.errors import FastNSTError
from fastnst.io.atomic import atomic_path, refuse_existing

IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm"}
)

# Output suffix -> (Pillow format, save options). WebP is lossy at the same quality as JPEG;
# JPEG keeps full-resolution chroma because stylized images are full of fine colour detail.
_SAVE_FORMATS: dict[str, tuple[str, dict[str, object]]] = {
    ".jpg": ("JPEG", {"quality": 95, "subsampling": 0}),
    ".jpeg": ("JPEG", {"quality": 95, "subsampling": 0}),
    ".png": ("PNG", {}),
    ".webp": ("WEBP", {"quality": 95}),
    ".bmp": ("BMP", {}),
    ".tif": ("TIFF", {}),
    ".tiff": ("TIFF", {}),
}
SAVE_SUFFIXES: frozenset[str] = frozenset(_SAVE_FORMATS)  # what save_image can write
_ALPHA_FORMATS = frozenset({"PNG", "WEBP", "TIFF"})
_EXIF_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "TIFF"})
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_EXIF_ORIENTATION = 0x0112


def open_rgb(path: str | Path) -> Image.Image:
    """Open any image file as an upright 8-bit RGB image.

    The file is fully decoded here, so truncated or corrupt files fail now rather than deep
    inside the model. EXIF orientation is applied, alpha is dropped (see ``open_alpha``), and
    high bit depths are rescaled rather than clipped (a 16-bit 65535 becomes 255).

    Args:
        path: The image file.

    Returns:
        A detached RGB image (the file is closed).

    Raises:
        FastNSTError: The file is missing, is not an image, is corrupt or is too large.
    """
    with _open_upright(path) as img:
        return _convert(path, img, _to_rgb)


def open_alpha(path: str | Path) -> Image.Image | None:
    """Return the alpha channel of an image file, if it has one.

    Stylization works on RGB only; callers use this to put a photo's transparency back on the
    result. The mask is EXIF-transposed exactly like ``open_rgb``'s image so the two line up.

    Args:
        path: The image file.

    Returns:
        The alpha channel as a mode "L" image, or None when the file has no transparency.

    Raises:
        FastNSTError: The file cannot be read.
    """
    if not _has_alpha(path):  # read from the header: most photos are never decoded twice
        return None
    with _open_upright(path) as img:
        return _convert(path, img, _alpha_channel)


def pil_to_tensor(img: Image.Image) -> torch.Tensor:
    """Convert a PIL image to a (1, 3, H, W) float32 tensor in [0, 1].

    Non-RGB images go through the same conversion as ``open_rgb`` so bit depth is never clipped.

    Args:
        img: The image, normally RGB.

    Returns:
        A contiguous CPU tensor.
    """
    rgb = img if img.mode == "RGB" else _to_rgb(img)
    array = np.array(rgb, dtype=np.uint8)
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous().float().div_(255)


def tensor_to_pil(t: torch.Tensor) -> Image.Image:
    """Convert a (1, 3, H, W) or (3, H, W) float tensor to an 8-bit RGB PIL image.

    Values are clamped to [0, 1] (NaN becomes 0) and rounded, so model output that overshoots
    slightly is still saved faithfully.

    Args:
        t: A floating-point tensor of any dtype, on any device.

    Returns:
        The RGB image.

    Raises:
        ValueError: The tensor is not floating point or does not have one of the two shapes.
    """
    if not t.is_floating_point():
        raise ValueError(f"expected a floating-point image tensor, got dtype {t.dtype}")
    if t.dim() == 4 and t.shape[0] == 1:
        t = t[0]
    if t.dim() != 3 or t.shape[0] != 3:
        shape = tuple(t.shape)
        raise ValueError(f"expected image shape (1, 3, H, W) or (3, H, W), got {shape}")
    pixels = torch.nan_to_num(t.detach().to("cpu", torch.float32), nan=0.0).clamp_(0, 1)
    array = pixels.mul_(255).round_().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(np.ascontiguousarray(array))


def resize_short_side(img: Image.Image, size: int) -> Image.Image:
    """Resize so the shorter side is ``size`` pixels, keeping the aspect ratio.

    Args:
        img: The image.
        size: Target length of the shorter side, at least 1.

    Returns:
        The resized image (a copy even when the size is unchanged).

    Raises:
        ValueError: ``size`` is below 1.
    """
    return _resize_side(img, size, min(img.size))


def resize_long_side(img: Image.Image, size: int) -> Image.Image:
    """Resize so the longer side is ``size`` pixels, keeping the aspect ratio.

    Args:
        img: The image.
        size: Target length of the longer side, at least 1.

    Returns:
        The resized image (a copy even when the size is unchanged).

    Raises:
        ValueError: ``size`` is below 1.
    """
    return _resize_side(img, size, max(img.size))


def load_image(
    path: str | Path, *, long_side: int | None = None, short_side: int | None = None
) -> torch.Tensor:
    """Read an image file into a (1, 3, H, W) float32 tensor in [0, 1], optionally resized.

    Args:
        path: The image file.
        long_side: If given, resize so the longer side has this length.
        short_side: If given, resize so the shorter side has this length.

    Returns:
        The image tensor.

    Raises:
        ValueError: Both ``long_side`` and ``short_side`` were given.
        FastNSTError: The file cannot be read.
    """
    if long_side is not None and short_side is not None:
        raise ValueError("pass at most one of long_side and short_side")
    img = open_rgb(path)
    if long_side is not None:
        img = resize_long_side(img, long_side)
    elif short_side is not None:
        img = resize_short_side(img, short_side)
    return pil_to_tensor(img)


def save_image(
    image: torch.Tensor | Image.Image,
    path: str | Path,
    *,
    overwrite: bool = False,
    alpha: Image.Image | None = None,
    exif: bytes | None = None,
) -> Path:
    """Write an image atomically, in the format its suffix names.

    The file is written to a hidden temporary file in the target directory and renamed into
    place, so a crash never leaves a half-written image behind. An EXIF Orientation tag in
    ``exif`` is reset to 1, because our pixels are already upright (``open_rgb`` applied it);
    EXIF that cannot be parsed is left out rather than failing the whole save.

    Args:
        image: An image tensor (see ``tensor_to_pil``) or a PIL image (converted to RGB).
        path: Output file; its suffix picks the format (.jpg/.jpeg at quality 95, .png, .webp,
            .bmp, .tif/.tiff). Missing parent directories are created.
        overwrite: Replace an existing file instead of refusing.
        alpha: Transparency to attach (any size; resized to the image). Dropped for formats
            that cannot hold it (JPEG, BMP).
        exif: Raw EXIF bytes to embed, for formats that accept them (all but BMP).

    Returns:
        The path written.

    Raises:
        FastNSTError: Unknown suffix, the file exists without ``overwrite``, or writing failed.
    """
    path = Path(path)
    fmt, options = _save_format(path)
    refuse_existing(path, overwrite)
    img = tensor_to_pil(image) if isinstance(image, torch.Tensor) else _to_rgb(image)
    if alpha is not None and fmt in _ALPHA_FORMATS:
        img = _with_alpha(img, alpha)
    options = dict(options)
    if exif is not None and fmt in _EXIF_FORMATS:
        upright = _upright_exif(exif)
        if upright is not None:
            options["exif"] = upright
    try:
        with atomic_path(path) as tmp:
            img.save(tmp, format=fmt, **options)
    except (OSError, ValueError) as exc:
        raise FastNSTError(f"cannot write image {path}: {_reason(exc)}") from exc
    return path


def list_images(root: str | Path) -> list[Path]:
    """List every image file under a directory, recursively, in sorted order.

    Hidden files and directories (names starting with ".") below ``root`` are skipped; suffixes
    are matched case-insensitively against ``IMAGE_SUFFIXES``.

    Args:
        root: The directory to search.

    Returns:
        The image paths, sorted.

    Raises:
        FastNSTError: ``root`` is not a directory (an empty result would hide a typo).
    """
    root = Path(root)
    if not root.is_dir():
        raise FastNSTError(f"not a directory: {root}")
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        found.extend(
            Path(dirpath, name)
            for name in filenames
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES
        )
    return sorted(found)


@contextlib.contextmanager
def _open_upright(path: str | Path) -> Iterator[Image.Image]:
    """Open, fully decode and EXIF-transpose an image, turning every failure into FastNSTError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                upright = ImageOps.exif_transpose(img)
    except Exception as exc:  # Pillow plugins raise many types on corrupt data.
        raise FastNSTError(f"cannot read image {path}: {_reason(exc)}") from exc
    with upright:
        yield upright


def _has_alpha(path: str | Path) -> bool:
    """Whether the file has transparency, from its header alone (no pixel decoding)."""
    try:
        with Image.open(path) as img:
            return img.mode in _ALPHA_MODES or "transparency" in img.info
    except Exception as exc:  # Pillow plugins raise many types on corrupt data.
        raise FastNSTError(f"cannot read image {path}: {_reason(exc)}") from exc


def _convert(
    path: str | Path, img: Image.Image, convert: Callable[[Image.Image], Image.Image]
) -> Image.Image:
    """Apply a mode conversion, reporting an unsupported mode as FastNSTError."""
    try:
        return convert(img)
    except (ValueError, OSError) as exc:
        raise FastNSTError(f"cannot read image {path}: {_reason(exc)}") from exc


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB, rescaling (not clipping) high bit depths."""
    if img.mode in _SIXTEEN_BIT_MODES:
        return _gray_to_rgb(np.asarray(img, dtype=np.float64) / 257.0)
    if img.mode == "F":
        return _gray_to_rgb(_float_to_8bit(np.asarray(img, dtype=np.float64)))
    if img.mode == "P":
        img = img.convert("RGBA")  # Resolves palette transparency; alpha is dropped below.
    return img.convert("RGB")


def _float_to_8bit(values: np.ndarray) -> np.ndarray:
    """Scale float pixels to 0..255.

    Float images are conventionally in [0, 1], so those are multiplied by 255. Anything else is
    stretched linearly onto 0..255 over the range [min(data, 0), max(data, 0)], which keeps 0 as
    black for non-negative data and never clips.
    """
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(values.min(initial=0.0)), float(values.max(initial=0.0))
    if low >= 0.0 and high <= 1.0:
        return values * 255.0
    return (values - low) * (255.0 / (high - low))


def _gray_to_rgb(gray: np.ndarray) -> Image.Image:
    """Round a 0..255 float grayscale array and replicate it into three RGB channels."""
    levels = np.clip(np.rint(gray), 0, 255).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(np.stack([levels] * 3, axis=-1)))


def _alpha_channel(img: Image.Image) -> Image.Image:
    """Extract transparency as an "L" image, whether it is a channel or a palette/key colour."""
    if img.mode in _ALPHA_MODES:
        return img.getchannel("A").convert("L")
    return img.convert("RGBA").getchannel("A")


def _resize_side(img: Image.Image, size: int, side: int) -> Image.Image:
    """Scale ``img`` uniformly so that ``side`` (one of its dimensions) becomes ``size``."""
    if size < 1:
        raise ValueError(f"target size must be at least 1 pixel, got {size}")
    scale = size / side
    width, height = (max(1, round(n * scale)) for n in img.size)
    return img.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)


def _save_format(path: Path) -> tuple[str, dict[str, object]]:
    """Look up the Pillow format and options for an output path's suffix."""
    try:
        return _SAVE_FORMATS[path.suffix.lower()]
    except KeyError:
        supported = ", ".join(sorted(_SAVE_FORMATS))
        message = f"unsupported suffix {path.suffix!r} (use one of {supported})"
        raise FastNSTError(f"cannot write image {path}: {message}") from None


def _with_alpha(img: Image.Image, alpha: Image.Image) -> Image.Image:
    """Return an RGBA copy of ``img`` carrying ``alpha``, resized to fit if needed."""
    mask = alpha.convert("L")
    if mask.size != img.size:
        mask = mask.resize(img.size, Image.Resampling.LANCZOS)
    rgba = img.convert("RGBA")
    rgba.putalpha(mask)
    return rgba


def _upright_exif(exif: bytes) -> bytes | None:
    """Return ``exif`` with Orientation reset to 1, or None if the bytes are not valid EXIF."""
    parsed = Image.Exif()
    try:
        parsed.load(exif)
    except (SyntaxError, ValueError, OSError, EOFError):
        return None
    if _EXIF_ORIENTATION in parsed:
        parsed[_EXIF_ORIENTATION] = 1
    return parsed.tobytes()


def _reason(exc: BaseException) -> str:
    """Describe an exception in one short line for a user-facing message."""
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, UnidentifiedImageError):
        return "not an image file Pillow can decode"
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
