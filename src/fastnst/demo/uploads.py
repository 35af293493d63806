"""Uploaded photos, decoded safely: bounded bytes, bounded pixels, image types only.

The pixel count is read from the header (``Image.open`` is lazy) and checked before any pixel
is decoded, so a small file that inflates to gigabytes (a decompression bomb) is refused
cheaply; Pillow's own bomb error is caught too.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF")
DEFAULT_MAX_BYTES = 16 * 2**20
DEFAULT_MAX_PIXELS = 24_000_000  # a 24-megapixel photo; larger ones are refused, not decoded


class UploadError(Exception):
    """An upload the server refuses: ``status`` is the HTTP code, the message one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """``data`` as an upright RGB image.

    Raises:
        UploadError: 415 for a file that is not a JPEG/PNG/WebP/BMP/GIF image, 413 for one over
            ``max_pixels``, 400 for a truncated or corrupt image.
    """
    if not data:
        raise UploadError(400, "the upload is empty; choose a photo")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except (UnidentifiedImageError, OSError) as err:
        raise UploadError(415, f"not an image: use {', '.join(ALLOWED_FORMATS)}") from err
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise UploadError(413, f"the image has too many pixels (limit {max_pixels})") from err
    width, height = image.size
    if width * height > max_pixels:
        raise UploadError(
            413, f"the image is {width}x{height}, over the limit of {max_pixels} pixels"
        )
    try:
        image.load()
        return ImageOps.exif_transpose(image).convert("RGB")
    except (OSError, SyntaxError, ValueError) as err:
        raise UploadError(400, f"the {image.format} image is truncated or corrupt") from err


def encode_image(image: Image.Image, fmt: str = "png") -> tuple[bytes, str]:
    """``image`` as PNG (lossless) or JPEG (quality 90, for webcam frames); (bytes, MIME type)."""
    buffer = io.BytesIO()
    if fmt == "jpeg":
        image.save(buffer, "JPEG", quality=90)
        return buffer.getvalue(), "image/jpeg"
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue(), "image/png"
